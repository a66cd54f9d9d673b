"""Partial-frame JSON extraction of the top N ``[price, qty]`` levels.

Selects :mod:`dragonfly._core.extract_c` or its twin :mod:`~dragonfly._core.extract_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .extract_py import TopExtractor, extract_levels
else:
    _impl = select("extract")
    extract_levels = _impl.extract_levels
    TopExtractor = _impl.TopExtractor

__all__ = ("extract_levels", "TopExtractor")
