"""Heap-based k-way merge of K venues' top N, and the summed-liquidity merge.

Selects :mod:`dragonfly._core.merge_c` or its twin :mod:`~dragonfly._core.merge_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .merge_py import merge_levels, merge_liquidity
else:
    _impl = select("merge")
    merge_levels = _impl.merge_levels
    merge_liquidity = _impl.merge_liquidity

__all__ = ("merge_levels", "merge_liquidity")
