"""The venue registry: venue name -> :class:`VenueSpec` (imported lazily)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConfigError

__all__ = ("VenueSpec", "register_venue", "get_venue", "venue_names")


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueSpec:
    """What the generic layers need to know about a venue.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"binance"``.
    kind : str
        ``"snapshot"`` (top-N snapshots) or ``"diff"`` (L2 deltas).
    default_base_url : str
        Production endpoint (only a default: every feed takes a base-URL override).
    max_depth : int
        Most levels per side the feed can deliver.
    create_feed : callable
        ``create_feed(*, instruments, depth, sink, base_url=None, ws=None, keepalive_s=...) -> feed``;
        the feed has ``start()``, ``stop()``, ``run()``, ``listeners`` and ``stats``.
    simulator : str
        ``"module:Class"`` of its :mod:`dragonfly.sim` server ("" if none). For
        :class:`dragonfly.sim.SimulatedVenues`, the class is built as
        ``cls(instruments=..., seed=..., mids=..., interval_s=..., replay=..., speed=..., **options)``
        and offers ``start()``, ``stop()``, ``base_url`` and ``last_sent``.
    protocol : str
        ``"ws"`` (WebSocket, base URLs ``ws://``/``wss://``) or ``"fix"`` (FIX 4.4,
        base URLs ``fix://host:port``/``fixs://host:port``).
    """

    name: str
    kind: str
    default_base_url: str
    max_depth: int
    create_feed: Callable[..., Any]
    simulator: str = ""
    protocol: str = "ws"

    def __post_init__(self) -> None:
        if self.protocol not in ("ws", "fix"):
            raise ConfigError(f"{self.name}: protocol must be 'ws' or 'fix', got {self.protocol!r}")

    def check_base_url(self, url: str) -> str:
        """Validate a base-URL override for this venue's protocol and return it.

        Raises
        ------
        ConfigError
            Not a ``ws://``/``wss://`` URL (WebSocket venues) or a ``fix://``/``fixs://`` one (FIX venues).
        """
        if self.protocol == "fix":
            from .fixsim.config import parse_fix_url

            parse_fix_url(url)
        else:
            from ..clients.ws import WebSocketConfig

            WebSocketConfig(url=url)
        return url


#: Built-in venues: name -> module defining ``VENUE_SPEC`` (imported on first use).
_BUILTIN: dict[str, str] = {
    # snapshot feeds (top N per frame)
    "binance": "dragonfly.venues.binance.factories",
    "bitstamp": "dragonfly.venues.bitstamp.factories",
    # diff feeds (full-depth L2 books)
    "binance-diff": "dragonfly.venues.binance.diff",
    "bitstamp-diff": "dragonfly.venues.bitstamp.diff",
    "bybit": "dragonfly.venues.bybit.factories",
    "coinbase": "dragonfly.venues.coinbase.factories",
    "kraken": "dragonfly.venues.kraken.factories",
    "okx": "dragonfly.venues.okx.factories",
    # FIX 4.4 market data (local FIX venue simulator)
    "fixsim": "dragonfly.venues.fixsim.factories",
}
_SPECS: dict[str, VenueSpec] = {}
#: Simulators of built-in venues whose spec names none (the diff venues' :mod:`dragonfly.sim.diff` servers).
_BUILTIN_SIMULATORS: dict[str, str] = {
    v: f"dragonfly.sim.diff.venues:{cls}"
    for v, cls in (
        ("binance-diff", "BinanceDiffSimulator"),
        ("bitstamp-diff", "BitstampDiffSimulator"),
        ("bybit", "BybitSimulator"),
        ("coinbase", "CoinbaseSimulator"),
        ("kraken", "KrakenSimulator"),
        ("okx", "OkxSimulator"),
    )
}


def register_venue(spec: VenueSpec | str, module: str | None = None) -> None:
    """Register a venue: a :class:`VenueSpec`, or a name and the module that defines ``VENUE_SPEC``."""
    if isinstance(spec, VenueSpec):
        _SPECS[spec.name] = spec
    elif isinstance(spec, str) and module:
        _BUILTIN[spec] = module
        _SPECS.pop(spec, None)
    else:
        raise TypeError("register_venue(VenueSpec) or register_venue(name, module)")


def get_venue(name: str) -> VenueSpec:
    """Return the spec of ``name`` (case-insensitive).

    Raises
    ------
    ConfigError
        Unknown venue.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    spec = _SPECS.get(key)
    if spec is not None:
        return spec
    mod = _BUILTIN.get(key)
    if mod is None:
        raise ConfigError(f"unknown venue {name!r}; known: {', '.join(venue_names())}")
    spec = importlib.import_module(mod).VENUE_SPEC
    if not spec.simulator and key in _BUILTIN_SIMULATORS:
        spec = replace(spec, simulator=_BUILTIN_SIMULATORS[key])
    _SPECS[key] = spec
    return spec


def venue_names() -> tuple[str, ...]:
    return tuple(sorted(set(_BUILTIN) | set(_SPECS)))
