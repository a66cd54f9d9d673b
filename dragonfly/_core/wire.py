"""Direct protobuf encoding of ``orderbook.Summary`` and ``dragonfly.v1.BookUpdate``.

Selects :mod:`dragonfly._core.wire_c` or its twin :mod:`~dragonfly._core.wire_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .wire_py import encode_book_update, encode_summary
else:
    _impl = select("wire")
    encode_summary = _impl.encode_summary
    encode_book_update = _impl.encode_book_update

__all__ = ("encode_book_update", "encode_summary")
