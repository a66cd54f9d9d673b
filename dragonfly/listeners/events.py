"""The events a venue adapter turns frames into (layer 2 -> layer 3), venue-neutral.

A venue's adapter (:mod:`dragonfly.venues`) parses each raw frame into zero or
more of these; the per-instrument :class:`~dragonfly.listeners.keeper.BookKeeper`
consumes them. ``symbol`` is always the venue's own spelling of the instrument
(the routing key of the connection).

* :class:`Snapshot` -- a whole book (or, for a top-N feed such as Binance
  ``depth20``, the whole top N: such feeds send nothing else); :class:`TopSnapshot`
  is one whose levels are still in the core extractor that read the frame;
* :class:`Delta` -- changes to apply on the book (absolute quantities; 0 deletes),
  with the venue's sequence fields and checksum;
* :class:`Heartbeat` -- the venue says a channel (or the connection) is alive and
  unchanged;
* :class:`Rejected` -- the venue refused or ended a subscription;
* :class:`Reconnect` -- the venue asks the client to reconnect (maintenance);
* :class:`Reply` -- the venue asked for an answer on the connection (a heartbeat test request).

Events are mutable slotted objects (one is built per frame); treat them as
immutable once built. Their level sides are sequences of ``(price, qty, ...)``; an
adapter that parsed the frame with the core's :class:`~dragonfly._core.doc.Doc` passes
:class:`DocSide` views instead, which the keeper applies straight from the parsed
frame (:meth:`~dragonfly._core.book.Book.apply_doc`, no Python object per level).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._core.doc import Doc

__all__ = (
    "Delta", "DocSide", "Event", "Heartbeat", "Reconnect", "Rejected", "Reply", "Snapshot", "TopSnapshot", "doc_sides"
)


class DocSide(Sequence[Any]):
    """One side of levels still inside a parsed frame: the array at ``handle`` of ``doc``.

    As a sequence it reads like the venue's list (``[price_text, qty_text, ...]`` entries,
    numbers as their source text); the keeper applies it with ``Book.apply_doc`` instead.
    """

    __slots__ = ("_items", "doc", "handle")

    def __init__(self, doc: Doc, handle: int) -> None:
        self.doc = doc
        self.handle = handle
        self._items: list[Any] | None = None

    def _list(self) -> list[Any]:
        if self._items is None:
            value = self.doc.value(self.handle, text_numbers=True) if self.handle >= 0 else []
            self._items = value if isinstance(value, list) else [value]
        return self._items

    def __len__(self) -> int:
        return len(self._list())

    def __getitem__(self, i: Any) -> Any:
        return self._list()[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DocSide):
            return self._list() == other._list()
        return self._list() == other

    __hash__ = None  # type: ignore[assignment]  # unhashable, like the list it equals

    def __repr__(self) -> str:
        return f"DocSide({self._list()!r})"


def doc_sides(doc: Doc, bids: int, asks: int) -> tuple[DocSide | tuple[()], DocSide | tuple[()]]:
    """The two sides at ``bids``/``asks`` (-1: absent, an empty side)."""
    return (DocSide(doc, bids) if bids >= 0 else ()), (DocSide(doc, asks) if asks >= 0 else ())


@dataclass(slots=True, kw_only=True)
class Snapshot:
    """A full book of one instrument (a top-N feed: its whole top N).

    Attributes
    ----------
    symbol : str
        The venue's instrument name.
    bids, asks : sequence of ``(price, qty, ...)``
        Best first or in any order (diff venues); numbers or their text (text is
        kept for checksums). A top-N feed passes finite ``(float, float)`` pairs best first.
    last : int
        Sequence position the snapshot reflects (Binance ``lastUpdateId``, Bitstamp
        microtimestamp, OKX ``seqId``, ...), -1 when the venue has none.
    checksum : int or None
        The venue's checksum of this book, when it sends one.
    exchange_ts_ns : int
        Exchange time, 0 when unknown.
    """

    symbol: str
    bids: Sequence[Any] = ()
    asks: Sequence[Any] = ()
    last: int = -1
    checksum: int | None = None
    exchange_ts_ns: int = 0


class TopSnapshot(Snapshot):
    """A top-N feed's snapshot whose levels are still in the core
    :class:`~dragonfly._core.extract.TopExtractor` that has just read the frame (``top``).

    The keeper checks and copies them from the extractor's C arrays (no Python object per
    level); ``bids``/``asks`` read them as tuples of ``(price, qty)`` floats, best first. Valid
    until the extractor's next ``update``: the driver hands the event on before reading the next
    frame (an adapter may refill one TopSnapshot per stream for that reason).
    """

    __slots__ = ("top",)

    def __init__(self, *, symbol: str, top: Any, last: int = -1, exchange_ts_ns: int = 0) -> None:
        self.symbol = symbol
        self.top = top
        self.last = last
        self.checksum = None
        self.exchange_ts_ns = exchange_ts_ns

    @property
    def bids(self) -> Sequence[Any]:  # type: ignore[override]  # read from the extractor, never set
        return self.top.bids

    @property
    def asks(self) -> Sequence[Any]:  # type: ignore[override]
        return self.top.asks


@dataclass(slots=True, kw_only=True)
class Delta:
    """Changes to one instrument's book.

    Attributes
    ----------
    symbol : str
    bids, asks : sequence of ``(price, qty, ...)``
        Absolute quantities; 0 deletes the level. Extra elements are ignored.
    first, last, prev : int
        Sequence fields, -1 when the venue has none: the first and last update ids the
        delta covers (Binance ``U``/``u``; a single id goes in ``last``) and the id it
        follows (OKX ``prevSeqId``, Deribit ``prev_change_id``).
    checksum : int or None
        The venue's checksum of the book after this delta. A delta with no levels and a
        checksum is a checksum message (Bitfinex ``cs``).
    exchange_ts_ns : int
    strict : bool
        The venue says which levels exist: a delete (qty 0) of a level the book does not
        have is an integrity fault, not a no-op (FIX 35=X, Deribit ``change``/``delete``).
    """

    symbol: str
    bids: Sequence[Any] = ()
    asks: Sequence[Any] = ()
    first: int = -1
    last: int = -1
    prev: int = -1
    checksum: int | None = None
    exchange_ts_ns: int = 0
    strict: bool = False


@dataclass(slots=True, kw_only=True)
class Heartbeat:
    """The venue says ``symbol`` (None: every instrument of the connection) is alive and unchanged."""

    symbol: str | None = None


@dataclass(slots=True, kw_only=True)
class Rejected:
    """The venue refused (or ended) the subscription of ``symbol``: STALE with ``reason`` until resubscribed."""

    symbol: str
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class Reconnect:
    """The venue asks for a new connection (e.g. Bitstamp ``bts:request_reconnect``)."""

    reason: str = ""


@dataclass(slots=True, kw_only=True)
class Reply:
    """Send ``data`` on the connection (what the venue's request asks for, e.g. Deribit's
    ``test_request`` heartbeat answered with ``public/test``)."""

    data: Any


Event = Snapshot | TopSnapshot | Delta | Heartbeat | Rejected | Reconnect | Reply
