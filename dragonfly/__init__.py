"""dragonflybot: consolidated multi-venue order books for trading bots.

The core functions (``extract_levels``, ``merge_levels``, ``merge_liquidity``,
``encode_summary``, ``Book``) are imported eagerly; the pipeline
(``Pipeline``, ``PipelineConfig``, ``SimulatedVenues``) on first use, so that
``import dragonfly`` stays cheap for code that only needs the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._core._select import implementation as _implementation
from ._core.book import Book
from ._core.extract import TopExtractor, extract_levels
from ._core.merge import merge_levels, merge_liquidity
from ._core.wire import encode_summary

if TYPE_CHECKING:
    from .sim import SimulatedVenues
    from .topology import Pipeline, PipelineConfig

__version__ = "0.1.0"

__all__ = (
    "__version__",
    "core_implementation",
    "extract_levels",
    "TopExtractor",
    "merge_levels",
    "merge_liquidity",
    "encode_summary",
    "Book",
    "Pipeline",
    "PipelineConfig",
    "SimulatedVenues",
)

_LAZY = {"Pipeline": "topology", "PipelineConfig": "topology", "SimulatedVenues": "sim"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dragonfly' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"dragonfly.{module}"), name)
    globals()[name] = value
    return value


def core_implementation() -> str:
    """``"cython"`` when the compiled core is in use, ``"python"`` for the pure twins
    (``DRAGONFLY_NO_EXTENSIONS=1``, a pure wheel, or a non-CPython interpreter)."""
    return _implementation()
