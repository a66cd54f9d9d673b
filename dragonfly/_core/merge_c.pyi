# Stub of the compiled twin of dragonfly._core.merge_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from collections.abc import Mapping, Sequence
from typing import TypeAlias

__all__ = ("merge_levels", "merge_liquidity", "merge_top", "check_top")

_MergedLevel: TypeAlias = tuple[str, float, float]
_LiquidityLevel: TypeAlias = tuple[float, float, dict[str, float]]
_VenueBook: TypeAlias = tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]]

def merge_levels(books: Mapping[str, _VenueBook], depth: int) -> tuple[list[_MergedLevel], list[_MergedLevel]]: ...
def merge_liquidity(
    books: Mapping[str, _VenueBook], depth: int
) -> tuple[list[_LiquidityLevel], list[_LiquidityLevel]]: ...
def merge_top(
    books: Mapping[str, _VenueBook], depth: int
) -> tuple[tuple[_MergedLevel, ...], tuple[_MergedLevel, ...]]: ...
def check_top(bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]]) -> str: ...
