"""Pick the compiled or the pure-Python twin of a core module."""

from __future__ import annotations

import importlib
from types import ModuleType

from .._env import NO_EXTENSIONS

__all__ = ("select", "implementation")

_state = {"fallback": False}


def select(name: str) -> ModuleType:
    """Return ``dragonfly._core.<name>_c``, or ``<name>_py`` when extensions are
    disabled or the compiled module cannot be imported."""
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module(f"dragonfly._core.{name}_c")
        except ImportError:
            _state["fallback"] = True
    return importlib.import_module(f"dragonfly._core.{name}_py")


def implementation() -> str:
    """``"cython"`` when every core module in use is compiled, else ``"python"``."""
    if NO_EXTENSIONS or _state["fallback"]:
        return "python"
    return "cython"
