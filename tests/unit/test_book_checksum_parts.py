"""OKX-style checksum parts (``':' price ':' quantity``) of every length around the compiled
book's boundaries: texts inside the level read 16 bytes at a time (each text up to 16 bytes,
a part up to 32), and the slower paths past them (longer texts, numbers given as floats)."""

from __future__ import annotations

import zlib

import pytest
from conftest import core_module

LENGTHS = [1, 2, 3, 7, 8, 9, 13, 14, 15, 16, 17, 18, 24]


def _text(n: int, lead: int) -> str:
    """A decimal text of exactly ``n`` characters starting with digit ``lead``."""
    if n <= 2:
        return str(lead) * n
    return f"{lead}.{'123456789' * 3}"[:n]


def _interleaved(tb, ta) -> bytes:
    """The checksum's text from ``top_text`` (equal depths on both sides here)."""
    assert len(tb) == len(ta) == 3
    return b":".join(b"%s:%s:%s:%s" % (b[0], b[1], a[0], a[1]) for b, a in zip(tb, ta, strict=True))


def _signed(crc: int) -> int:
    return crc - 2**32 if crc >= 2**31 else crc


@pytest.mark.parametrize("pn", LENGTHS)
def test_okx_checksum_parts_of_every_length(core_impl: str, pn: int) -> None:
    Book = core_module("book", core_impl).Book
    for qn in LENGTHS:
        book = Book()
        bids = [(_text(pn, 9 - i), _text(qn, 1 + i)) for i in range(3)]
        asks = [(f"1{_text(pn, i + 1)}", _text(qn, 5 + i)) for i in range(3)]
        book.apply(bids, asks)
        tb, ta = book.top_text(25)
        assert book.checksum("crc32_top25_interleaved") == _signed(zlib.crc32(_interleaved(tb, ta)))
        # a quantity changed (the level's part is made again) and one given as a float (slow path)
        book.apply([(bids[0][0], _text(qn, 3))], [(asks[1][0], 2.5)])
        tb, ta = book.top_text(25)
        assert book.checksum("crc32_top25_interleaved") == _signed(zlib.crc32(_interleaved(tb, ta)))
