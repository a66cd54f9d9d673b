"""L2 price-level order book for diff feeds: the pure-Python reference twin.

:mod:`dragonfly._core.book_c` is the compiled twin; both behave identically
(same results, same errors, same counters). Use :mod:`dragonfly._core.book`,
which selects one of them.

Levels
------
A delta is an entry ``(price, qty, ...)`` (a list or tuple; further elements,
such as Kraken's timestamp and ``"r"`` flag or OKX's order counts, are
ignored). ``price`` and ``qty`` may be ``str`` or ``bytes`` as the venue sent
them, or ``int``/``float``. The book is keyed on ``float(price)``, so
``"5541.2"`` and ``"5541.20000"`` are the same level. A quantity of zero
deletes the level (a delete of an absent level is ignored); any other
quantity replaces the level's quantity (deltas carry absolute sizes).

When price and quantity are given as text, the book keeps the text of the
last delta that set the level: the Kraken and OKX checksums are defined over
the venue's own string representation, so they cannot be computed from
floats. A level set from numbers is rendered with ``repr(float)``.

Depth cap
---------
``max_depth`` bounds the number of levels kept per side (memory is
``O(max_depth)`` per book). After each :meth:`Book.apply` batch, a side that
holds more than ``max_depth`` levels loses its worst levels (lowest bids,
highest asks); :attr:`Book.truncated` counts them. This is exactly what
venues that serve a fixed subscribed depth require (Kraken: "after each
update, truncate the book to the subscribed depth, you will not receive a
delete for levels that fall out of scope"; the venue re-publishes a level
when it comes back into scope), so set ``max_depth`` to the subscribed depth
there. For full-depth streams (Binance, Bitstamp, Coinbase) a cap below the
venue's depth means that a level dropped here and not updated since is
missing; the top ``n`` stays exact while more than ``n`` levels on that
side are better than the best level ever dropped. Checksums cover only the
top 10 (Kraken) or 25 (OKX, Bitfinex) levels, so a cap of at least 25 never
affects them.
"""

from __future__ import annotations

import math
import operator
import sys
import zlib
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import InvalidLevelError

__all__ = ("Book", "CHECKSUM_KINDS", "DEFAULT_MAX_DEPTH", "MAX_MAX_DEPTH")

#: Default per-side level cap.
DEFAULT_MAX_DEPTH = 5000
#: Largest accepted ``max_depth``.
MAX_MAX_DEPTH = 1_000_000
#: Checksum kinds understood by :meth:`Book.checksum`.
CHECKSUM_KINDS = ("crc32_top10_digits", "crc32_top25_interleaved", "crc32_top25_signed_amounts")

Level = tuple[float, float]


def _to_float(value: object, entry: object) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidLevelError(f"not a number: {value!r}", entry=entry) from None
    if not math.isfinite(x):
        raise InvalidLevelError(f"not a finite number: {value!r}", entry=entry)
    return x


def _handle(h: object) -> int:
    """A document handle as the compiled twin's ``Py_ssize_t`` argument takes it."""
    i = operator.index(h)  # type: ignore[arg-type]
    if not -sys.maxsize - 1 <= i <= sys.maxsize:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return i


def _text(value: object, number: float) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    return repr(number).encode()


class _Side:
    """One side: a dict ``price -> [qty, price_text, qty_text]`` and the keys
    sorted best first (``-price`` for bids, ``price`` for asks)."""

    __slots__ = ("levels", "keys", "sign")

    def __init__(self, is_bid: bool) -> None:
        self.levels: dict[float, list[Any]] = {}
        self.keys: list[float] = []
        self.sign = -1.0 if is_bid else 1.0

    def set(self, price: float, qty: float, ptext: object, qtext: object) -> None:
        level = self.levels.get(price)
        if qty == 0.0:
            if level is not None:
                del self.levels[price]
                keys = self.keys
                del keys[bisect_left(keys, self.sign * price + 0.0)]
            return
        if level is None:
            self.levels[price] = [qty, ptext, qtext]
            insort(self.keys, self.sign * price + 0.0)
        else:
            level[0] = qty
            level[1] = ptext
            level[2] = qtext

    def put(self, price: float, qty: float, ptext: object, qtext: object) -> None:
        """Like :meth:`set` but leaves :attr:`keys` stale (bulk load; call :meth:`rebuild`)."""
        if qty == 0.0:
            self.levels.pop(price, None)
        else:
            self.levels[price] = [qty, ptext, qtext]

    def rebuild(self) -> None:
        sign = self.sign
        self.keys = sorted(sign * p + 0.0 for p in self.levels)

    def truncate(self, max_depth: int) -> int:
        extra = len(self.keys) - max_depth
        if extra <= 0:
            return 0
        sign = self.sign
        levels = self.levels
        for key in self.keys[max_depth:]:
            del levels[sign * key + 0.0]
        del self.keys[max_depth:]
        return extra

    def top(self, depth: int) -> tuple[Level, ...]:
        sign = self.sign
        levels = self.levels
        out = []
        for key in self.keys[:depth]:
            price = sign * key + 0.0
            out.append((price, levels[price][0]))
        return tuple(out)

    def top_text(self, depth: int) -> list[tuple[bytes, bytes]]:
        sign = self.sign
        levels = self.levels
        out = []
        for key in self.keys[:depth]:
            price = sign * key + 0.0
            qty, ptext, qtext = levels[price]
            out.append((_text(ptext, price), _text(qtext, qty)))
        return out


class Book:
    """An L2 price-level book of one instrument, fed by deltas.

    Parameters
    ----------
    max_depth : int
        Levels kept per side after each :meth:`apply` (see the module notes);
        1 to 1,000,000, default 5000.

    Examples
    --------
    >>> book = Book(max_depth=1000)
    >>> book.apply([("100.5", "2")], [("101.0", "1"), ("101.5", "3")])
    >>> book.top(1)
    (((100.5, 2.0),), ((101.0, 1.0),))
    >>> book.apply([], [("101.0", "0")])  # qty 0 deletes
    >>> book.best_ask()
    (101.5, 3.0)
    """

    __slots__ = ("_bids", "_asks", "_max_depth", "_truncated")

    def __init__(self, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        if isinstance(max_depth, bool) or not isinstance(max_depth, int):
            raise TypeError(f"max_depth must be an int, not {type(max_depth).__name__}")
        if not 1 <= max_depth <= MAX_MAX_DEPTH:
            raise ValueError(f"max_depth must be in [1, {MAX_MAX_DEPTH}], got {max_depth}")
        self._max_depth = max_depth
        self._bids = _Side(True)
        self._asks = _Side(False)
        self._truncated = 0

    # -- properties -------------------------------------------------------------------------------

    @property
    def max_depth(self) -> int:
        """Levels kept per side."""
        return self._max_depth

    @property
    def truncated(self) -> int:
        """Levels dropped by the depth cap since the book was created."""
        return self._truncated

    @property
    def bid_count(self) -> int:
        """Number of bid levels."""
        return len(self._bids.keys)

    @property
    def ask_count(self) -> int:
        """Number of ask levels."""
        return len(self._asks.keys)

    def __len__(self) -> int:
        return len(self._bids.keys) + len(self._asks.keys)

    def __repr__(self) -> str:
        return f"<Book bids={self.bid_count} asks={self.ask_count} best={self.best_bid()}/{self.best_ask()}>"

    # -- updates ----------------------------------------------------------------------------------

    def clear(self) -> None:
        """Remove every level (before loading a snapshot)."""
        self._bids = _Side(True)
        self._asks = _Side(False)

    def apply(self, bids: Iterable[Sequence[Any]], asks: Iterable[Sequence[Any]]) -> None:
        """Apply a batch of deltas, bids first, each side in the given order,
        then enforce the depth cap.

        Parameters
        ----------
        bids, asks : iterable of ``(price, qty, ...)``
            Prices and quantities as ``str``/``bytes`` (kept for checksums) or
            numbers. ``qty == 0`` deletes the level.

        Raises
        ------
        InvalidLevelError
            An entry is not a list or tuple of at least two items, or a price or
            quantity is not a finite number, or a quantity is negative. The
            entries before it are applied: resync the book.
        """
        self._apply_side(self._bids, bids)
        self._apply_side(self._asks, asks)
        cap = self._max_depth
        self._truncated += self._bids.truncate(cap) + self._asks.truncate(cap)

    def apply_doc(self, doc: Any, bids: int, asks: int) -> None:
        """Apply the level arrays of a parsed document: exactly
        ``apply(doc.value(bids, text_numbers=True), doc.value(asks, text_numbers=True))``.

        Parameters
        ----------
        doc : dragonfly._core.doc.Doc
            The parsed frame (either twin).
        bids, asks : int
            Handles of the two level arrays in ``doc``; ``-1`` leaves that side
            unchanged. Each entry is an array whose first two elements are the
            price and the quantity (JSON numbers or numeric strings; further
            elements are ignored). The book keeps each number's source text, so
            :meth:`top_text` and the checksums are those of :meth:`apply`.

        Raises
        ------
        IndexError
            A handle (other than -1) is not in the document; raised before
            anything changes.
        InvalidLevelError
            As :meth:`apply`, for the same bad entries.

        Notes
        -----
        The compiled twin reads the document's tape and buffer directly and
        creates no Python object per level other than the two texts it keeps.
        """
        bids = _handle(bids)
        asks = _handle(asks)
        if bids != -1:
            doc.kind(bids)
        if asks != -1:
            doc.kind(asks)
        if bids != -1:
            self._apply_side(self._bids, doc.value(bids, text_numbers=True))
        if asks != -1:
            self._apply_side(self._asks, doc.value(asks, text_numbers=True))
        cap = self._max_depth
        self._truncated += self._bids.truncate(cap) + self._asks.truncate(cap)

    def _apply_side(self, side: _Side, entries: Iterable[Sequence[Any]]) -> None:
        if side.keys:
            self._apply_entries(side, entries, side.set)
            return
        # an empty side (a snapshot): fill the dict, sort once
        try:
            self._apply_entries(side, entries, side.put)
        finally:
            side.rebuild()

    @staticmethod
    def _apply_entries(side: _Side, entries: Iterable[Sequence[Any]], setter: Any) -> None:
        for entry in entries:
            if not isinstance(entry, (list, tuple)):
                raise InvalidLevelError(f"a level must be a list or tuple: {entry!r}", entry=entry)
            if len(entry) < 2:
                raise InvalidLevelError(f"a level needs a price and a quantity: {entry!r}", entry=entry)
            ptext = entry[0]
            qtext = entry[1]
            price = _to_float(ptext, entry) + 0.0
            qty = _to_float(qtext, entry) + 0.0
            if qty < 0.0:
                raise InvalidLevelError(f"negative quantity: {qtext!r}", entry=entry)
            setter(price, qty, ptext, qtext)

    # -- views ------------------------------------------------------------------------------------

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best ``depth`` levels of each side, best first: ``(bids, asks)``,
        each a tuple of ``(price, qty)`` floats."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        return self._bids.top(depth), self._asks.top(depth)

    def bids(self) -> tuple[Level, ...]:
        """Every bid level, best (highest) first."""
        return self._bids.top(len(self._bids.keys))

    def asks(self) -> tuple[Level, ...]:
        """Every ask level, best (lowest) first."""
        return self._asks.top(len(self._asks.keys))

    def best_bid(self) -> Level | None:
        """``(price, qty)`` of the best bid, or None."""
        top = self._bids.top(1)
        return top[0] if top else None

    def best_ask(self) -> Level | None:
        """``(price, qty)`` of the best ask, or None."""
        top = self._asks.top(1)
        return top[0] if top else None

    def is_crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask."""
        if not self._bids.keys or not self._asks.keys:
            return False
        return -self._bids.keys[0] >= self._asks.keys[0]

    def top_text(self, depth: int) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
        """The best ``depth`` levels as the text the checksums use (UTF-8
        bytes of the venue's text, or ``repr(float)`` for numeric input)."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        return self._bids.top_text(depth), self._asks.top_text(depth)

    # -- checksums --------------------------------------------------------------------------------

    def checksum(self, kind: str) -> int:
        """A checksum of the current book, computed over the levels' own text as venues define
        theirs (a venue adapter names the kind its venue uses).

        Parameters
        ----------
        kind : {"crc32_top10_digits", "crc32_top25_interleaved", "crc32_top25_signed_amounts"}
            ``"crc32_top10_digits"`` (Kraken's): CRC32 (unsigned) of the top 10 asks (lowest
            first) then the top 10 bids (highest first), each price then quantity text with
            ``.`` removed and leading zeros stripped, concatenated.
            ``"crc32_top25_interleaved"`` (OKX's): CRC32 as a signed 32-bit int of the top 25
            levels interleaved ``bidPx:bidSz:askPx:askSz:...`` (a side that has run out
            contributes nothing), joined with ``:``.
            ``"crc32_top25_signed_amounts"`` (Bitfinex's): CRC32 as a signed 32-bit int of the
            top 25 bids and top 25 asks interleaved ``bidPx:bidAmt:askPx:-askAmt:...`` (a side
            that has run out contributes nothing), joined with ``:``: bid amounts positive and
            ask amounts negative, so the ask's quantity text gets a ``-`` in front unless it
            already starts with one (Bitfinex "WebSocket Checksum", P-precision books).
        """
        if kind == "crc32_top10_digits":
            bids, asks = self.top_text(10)
            parts: list[bytes] = []
            for ptext, qtext in asks:
                parts.append(ptext.replace(b".", b"").lstrip(b"0"))
                parts.append(qtext.replace(b".", b"").lstrip(b"0"))
            for ptext, qtext in bids:
                parts.append(ptext.replace(b".", b"").lstrip(b"0"))
                parts.append(qtext.replace(b".", b"").lstrip(b"0"))
            return zlib.crc32(b"".join(parts))
        if kind == "crc32_top25_interleaved":
            bids, asks = self.top_text(25)
            items: list[bytes] = []
            for i in range(max(len(bids), len(asks))):
                if i < len(bids):
                    items.extend(bids[i])
                if i < len(asks):
                    items.extend(asks[i])
            crc = zlib.crc32(b":".join(items))
            return crc - (1 << 32) if crc >= (1 << 31) else crc
        if kind == "crc32_top25_signed_amounts":
            bids, asks = self.top_text(25)
            items = []
            for i in range(max(len(bids), len(asks))):
                if i < len(bids):
                    items.extend(bids[i])
                if i < len(asks):
                    ptext, qtext = asks[i]
                    items.append(ptext)
                    items.append(qtext if qtext.startswith(b"-") else b"-" + qtext)
            crc = zlib.crc32(b":".join(items))
            return crc - (1 << 32) if crc >= (1 << 31) else crc
        raise ValueError(f"unknown checksum kind {kind!r}; expected one of {CHECKSUM_KINDS}")
