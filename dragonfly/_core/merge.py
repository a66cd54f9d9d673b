"""Heap-based k-way merge of K venues' top N, and the summed-liquidity merge.

Selects :mod:`dragonfly._core.merge_c` or its twin :mod:`~dragonfly._core.merge_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .merge_py import check_top, merge_levels, merge_liquidity, merge_top
else:
    _impl = select("merge")
    merge_levels = _impl.merge_levels
    merge_liquidity = _impl.merge_liquidity
    merge_top = _impl.merge_top
    check_top = _impl.check_top

__all__ = ("merge_levels", "merge_liquidity", "merge_top", "check_top")
