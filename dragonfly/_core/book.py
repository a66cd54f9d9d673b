"""L2 price-level order book for diff feeds (deltas, top N, depth cap, venue checksums).

Selects :mod:`dragonfly._core.book_c` or its twin :mod:`~dragonfly._core.book_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .book_py import CHECKSUM_KINDS, DEFAULT_MAX_DEPTH, MAX_MAX_DEPTH, Book
else:
    _impl = select("book")
    Book = _impl.Book
    CHECKSUM_KINDS = _impl.CHECKSUM_KINDS
    DEFAULT_MAX_DEPTH = _impl.DEFAULT_MAX_DEPTH
    MAX_MAX_DEPTH = _impl.MAX_MAX_DEPTH

__all__ = ("Book", "CHECKSUM_KINDS", "DEFAULT_MAX_DEPTH", "MAX_MAX_DEPTH")
