"""The venue registry: venue name -> :class:`~dragonfly.venues.base.VenueSpec`.

Venues register themselves; nothing here names one. On first use the registry

1. imports every package under ``dragonfly/venues/`` whose name does not start with ``_``
   and takes the specs in its ``VENUES`` tuple (the built-in venues);
2. loads the entry points of the group ``dragonfly.venues``: each names a
   :class:`~dragonfly.venues.base.VenueSpec`, an iterable of them, or a module with a
   ``VENUES`` tuple. A third-party package adds a venue without touching this
   repository, e.g. in its ``pyproject.toml``::

       [project.entry-points."dragonfly.venues"]
       myvenue = "mypackage.myvenue"        # a module defining VENUES = (VenueSpec(...),)

   A plugin that fails to load is logged and skipped; it cannot replace a built-in venue.

:func:`register_venue` adds a spec at run time (applications, tests).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from ..errors import ConfigError
from .base import VenueSpec

__all__ = ("ENTRY_POINT_GROUP", "default_venues", "get_venue", "register_venue", "venue_names")

log = logging.getLogger(__name__)

#: Entry-point group through which other packages add venues.
ENTRY_POINT_GROUP = "dragonfly.venues"

_SPECS: dict[str, VenueSpec] = {}
_BUILTIN: set[str] = set()
_loaded = False


def _specs_of(obj: Any, origin: str) -> list[VenueSpec]:
    if isinstance(obj, VenueSpec):
        return [obj]
    if isinstance(obj, ModuleType):
        obj = getattr(obj, "VENUES", None)
        if obj is None:
            raise ConfigError(f"{origin} defines no VENUES")
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes)):
        specs = list(obj)
        if all(isinstance(s, VenueSpec) for s in specs):
            return specs
    raise ConfigError(f"{origin} is not a VenueSpec, an iterable of them, or a module with VENUES")


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from .. import venues as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        name = f"{package.__name__}.{info.name}"
        for spec in _specs_of(importlib.import_module(name), name):
            if spec.name in _SPECS:
                raise ConfigError(f"venue {spec.name!r} registered twice ({name})")
            _SPECS[spec.name] = spec
            _BUILTIN.add(spec.name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name!r} ({ep.value})"
        try:
            specs = _specs_of(ep.load(), origin)
        except Exception as exc:  # a broken plugin must not take the process down
            log.warning("venue plugin %s not loaded: %s: %s", origin, type(exc).__name__, exc)
            continue
        for spec in specs:
            if spec.name in _BUILTIN:
                log.warning("venue plugin %s cannot replace the built-in venue %r; skipped", origin, spec.name)
                continue
            _SPECS[spec.name] = spec


def register_venue(spec: VenueSpec, *, replace: bool = False) -> None:
    """Add ``spec`` to the registry (``replace=True`` to overwrite an entry of that name).

    Raises
    ------
    ConfigError
        The name is taken and ``replace`` is false.
    """
    if not isinstance(spec, VenueSpec):
        raise TypeError("register_venue takes a VenueSpec")
    _load()
    if spec.name in _SPECS and not replace:
        raise ConfigError(f"venue {spec.name!r} is already registered")
    _SPECS[spec.name] = spec


def get_venue(name: str) -> VenueSpec:
    """The spec of ``name`` (case-insensitive).

    Raises
    ------
    ConfigError
        Unknown venue (the message lists the known ones).
    """
    _load()
    key = name.strip().lower() if isinstance(name, str) else name
    spec = _SPECS.get(key)
    if spec is None:
        raise ConfigError(f"unknown venue {name!r}; known: {', '.join(venue_names())}")
    return spec


def venue_names() -> tuple[str, ...]:
    """Every registered venue, sorted."""
    _load()
    return tuple(sorted(_SPECS))


def default_venues() -> tuple[str, ...]:
    """The venues used when none are named (those whose spec says ``default``), sorted."""
    _load()
    return tuple(sorted(name for name, spec in _SPECS.items() if spec.default))
