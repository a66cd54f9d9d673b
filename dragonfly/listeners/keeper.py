"""The book keeper: the sans-IO state machine of one (venue, instrument).

One :class:`BookKeeper` per instrument of a feed. It takes the events a venue
adapter parsed (:mod:`dragonfly.listeners.events`) and the connection's life
(:meth:`~BookKeeper.connected`, :meth:`~BookKeeper.disconnected`), keeps the book
(the core :class:`~dragonfly._core.book.Book`, or for a top-N snapshot feed the
last top N), checks the venue's sequence rule and checksum, and answers every
call with a :class:`Step`: whether something may need publishing, and whether a
snapshot must be requested. :meth:`~BookKeeper.emit` then gives the
:class:`~dragonfly.model.BookUpdate` to publish, or None when nothing changed
for the aggregator (same status and same top N within the keepalive period).

It does no I/O: the driver (:class:`~dragonfly.listeners.driver.FeedDriver`)
reads frames, fetches snapshots and publishes; tests and capture replays feed
events directly.

States
------
``SYNCING`` (connected, waiting for a snapshot), ``LIVE`` (book consistent, in
the world view), ``STALE`` (disconnected, rejected, or resyncing after a fault).

Integrity
---------
A sequence gap, a checksum mismatch, a crossed book, a level that cannot be
applied, a strict delete of a level the book does not have, or a malformed
frame that may have carried this instrument's delta (:meth:`BookKeeper.fail`)
puts **this instrument** into resync: the book is cleared, the status is STALE
with the reason, the fault is counted, and a snapshot is requested. Until it
arrives, deltas are buffered (bounded; venues whose snapshot comes by REST) or
dropped (venues whose snapshot comes on the stream). A snapshot is accepted only
if it covers every delta the buffer had to drop, and the instrument is LIVE
again only once the snapshot and the buffered deltas that follow it applied
consistently.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .._core.book import CHECKSUM_KINDS, Book
from .._core.topn import TopState
from ..errors import InvalidLevelError
from ..model import BookUpdate, Side, VenueStatus
from .events import Delta, DocSide, Snapshot, TopSnapshot
from .rules import Monotonic, SequenceRule, Verdict

__all__ = ("BookKeeper", "Fault", "KeeperStats", "Step")

log = logging.getLogger(__name__)

_LIVE = VenueStatus.LIVE
_STALE = VenueStatus.STALE
_SYNCING = VenueStatus.SYNCING
_SKIP = Verdict.SKIP
_GAP = Verdict.GAP
_make_update = BookUpdate._make


@dataclass(slots=True)
class KeeperStats:
    """Counters of one instrument (read them at any time)."""

    snapshots: int = 0  #: snapshots applied
    applied: int = 0  #: deltas applied
    skipped: int = 0  #: events already contained in the book (old, duplicate, out of order)
    dropped: int = 0  #: deltas dropped while waiting for a snapshot that comes on the stream
    buffered: int = 0  #: deltas buffered while a REST snapshot loaded
    buffer_overflows: int = 0  #: buffered deltas dropped because the buffer was full
    stale_snapshots: int = 0  #: snapshots refused as older than what was buffered or dropped (fetched again)
    checksums_ok: int = 0  #: venue checksums verified
    gaps: int = 0
    checksum_errors: int = 0
    crossed: int = 0
    invalid: int = 0  #: events with a level that cannot be applied (or an unknown level in a strict delta)
    bad_frames: int = 0  #: malformed frames blamed on this instrument
    rejects: int = 0  #: subscriptions the venue refused
    resyncs: int = 0  #: resyncs started after a fault
    forwarded: int = 0  #: LIVE updates emitted with a new top N
    unchanged: int = 0  #: events after which the top N was the same (nothing emitted)
    keepalives: int = 0  #: unchanged LIVE updates emitted to show liveness
    status_changes: int = 0  #: non-LIVE updates emitted

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Fault(str, enum.Enum):
    """What put an instrument into resync (its value reads well in a reason: "resync after gap")."""

    GAP = "gap"  #: a missing update (sequence rule), or data the transport lost
    CHECKSUM = "checksum"  #: the venue's checksum disagrees with the book
    CROSSED = "crossed"  #: best bid at or above best ask
    INVALID = "invalid"  #: a level that cannot be applied, or a strict change of an unknown level
    BAD_FRAME = "bad frame"  #: a malformed frame that may have carried this instrument's update
    INTERNAL = "internal"  #: a bug while handling an event (logged with its traceback)


_FAULT_COUNTER = {
    Fault.GAP: "gaps",
    Fault.CHECKSUM: "checksum_errors",
    Fault.CROSSED: "crossed",
    Fault.INVALID: "invalid",
    Fault.BAD_FRAME: "bad_frames",
}


@dataclass(frozen=True, slots=True)
class Step:
    """What an event did.

    Attributes
    ----------
    publish : bool
        The status or the book may have changed: call :meth:`BookKeeper.emit`.
    need_snapshot : bool
        A snapshot must be requested (by REST, or by re-subscribing).
    fault : Fault or None
        The fault detected, None when none.
    detail : str
        What exactly was wrong (for the log line).
    """

    publish: bool = False
    need_snapshot: bool = False
    fault: Fault | None = None
    detail: str = ""


NOTHING = Step()
CHANGED = Step(publish=True)
_REFETCH = Step(need_snapshot=True)
_CHANGED_REFETCH = Step(publish=True, need_snapshot=True)
_ACTIONS_NEEDING_A_LEVEL = ("change", "delete")


class BookKeeper:
    """Book keeper of one (venue, instrument); see the module notes.

    Parameters
    ----------
    venue, instrument, symbol : str
        Labels: the venue's name in the world view, the normalised instrument name, the
        venue's own symbol (the ``symbol`` of the events).
    depth : int
        Levels per side in the updates emitted.
    rule : SequenceRule
    checksum : str or None
        A checksum kind of the core Book (``Book.checksum``), verified whenever an event carries one.
    full_book : bool
        True: a :class:`~dragonfly._core.book.Book` fed with snapshots and deltas. False: a
        top-N snapshot feed, every event a complete top N (finite ``(price, qty)`` pairs best
        first; a :class:`~dragonfly.listeners.events.TopSnapshot` leaves them in the extractor), checked (order, sign,
        crossing) and kept in a core :class:`~dragonfly._core.topn.TopState`, whose level
        tuples are built only when an update is emitted.
    max_depth : int
        The book's depth cap (the subscribed depth on venues that truncate).
    buffer_deltas : bool
        True for venues whose snapshot comes by REST: deltas are buffered while it loads.
        False: the snapshot comes on the stream; deltas before it are dropped.
    buffer_limit : int
        Deltas buffered while a snapshot loads. Beyond it the oldest is dropped, and a
        snapshot older than a dropped delta is refused (and fetched again).
    keepalive_s : float
        Emit an unchanged LIVE top at most this often, so the aggregator sees the venue alive.
    book_type : callable, optional
        Book class (default: the selected core twin); tests pass each twin.
    """

    __slots__ = (
        "venue",
        "instrument",
        "symbol",
        "depth",
        "rule",
        "checksum_kind",
        "full_book",
        "buffer_deltas",
        "book",
        "status",
        "reason",
        "last",
        "stats",
        "exchange_ts_ns",
        "_keepalive_ns",
        "_first",
        "_awaiting",
        "_buffer",
        "_lost",
        "_top",
        "_pub_status",
        "_pub_reason",
        "_pub_bids",
        "_pub_asks",
        "_pub_ns",
    )

    def __init__(
        self,
        *,
        venue: str,
        instrument: str,
        symbol: str,
        depth: int,
        rule: SequenceRule,
        checksum: str | None = None,
        full_book: bool = True,
        max_depth: int = 5000,
        buffer_deltas: bool = False,
        buffer_limit: int = 10_000,
        keepalive_s: float = 1.0,
        book_type: Callable[..., Any] | None = None,
    ) -> None:
        if checksum is not None and checksum not in CHECKSUM_KINDS:
            raise ValueError(f"unknown checksum kind {checksum!r}; known: {', '.join(CHECKSUM_KINDS)}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        if not isinstance(buffer_limit, int) or buffer_limit < 1:
            raise ValueError("buffer_limit must be a positive int")
        if not keepalive_s > 0:
            raise ValueError("keepalive_s must be > 0")
        self.venue = venue
        self.instrument = instrument
        self.symbol = symbol
        self.depth = depth
        self.rule = rule
        self.checksum_kind = checksum
        self.full_book = full_book
        self.buffer_deltas = buffer_deltas
        self.book = (book_type or Book)(max_depth=max_depth) if full_book else None
        self.status = _SYNCING
        self.reason = "waiting for a snapshot"
        self.last = -1
        self.stats = KeeperStats()
        self.exchange_ts_ns = 0
        self._keepalive_ns = int(keepalive_s * 1e9)
        self._first = True
        self._awaiting = True
        self._buffer: deque[Delta] = deque(maxlen=buffer_limit)
        self._lost = -1  # the newest sequence position a buffer overflow dropped (-1: none)
        self._top = TopState() if not full_book else None  # a top-N feed's checked top, tuples built when read
        self._pub_status: VenueStatus | None = None
        self._pub_reason = ""
        self._pub_bids: Side = ()
        self._pub_asks: Side = ()
        self._pub_ns = 0

    # -- state ------------------------------------------------------------------------------------

    @property
    def awaiting_snapshot(self) -> bool:
        """True until a snapshot made the book consistent (after a connect or a fault)."""
        return self._awaiting

    @property
    def last_update_ns(self) -> int:
        """Receive time of the last update emitted (0: none yet)."""
        return self._pub_ns

    @property
    def buffered(self) -> int:
        """Deltas waiting for the snapshot."""
        return len(self._buffer)

    @property
    def reader_top(self) -> TopState | None:
        """The core top a :class:`~dragonfly._core.topn.TopReader` may accept this instrument's routine
        frames into (:meth:`~dragonfly._core.topn.TopReader.bind`), or None when the keeper is not a top-N
        keeper under a :class:`~dragonfly.listeners.rules.Monotonic` rule without checksum.

        It holds a top exactly while the instrument is LIVE, and its ``seq`` is then :attr:`last`; the reader
        accepts a frame only when it is not older than that and its top is sound. The caller then does the
        rest of what :meth:`on_snapshot` does with such a snapshot: ``last`` becomes the frame's sequence
        number, ``stats.snapshots`` grows by one, a nonzero exchange time is kept; status and reason stay.
        """
        if self._top is None or type(self.rule) is not Monotonic or self.checksum_kind is not None:
            return None
        return self._top

    def top(self, depth: int | None = None) -> tuple[Side, Side]:
        """The top ``depth`` (default: :attr:`depth`) while LIVE, else empty sides."""
        if self.status is not _LIVE:
            return (), ()
        d = self.depth if depth is None else depth
        if self.book is not None:
            return self.book.top(d)
        top = self._top
        assert top is not None
        bids, asks = top.bids, top.asks
        return (bids if len(bids) <= d else bids[:d]), (asks if len(asks) <= d else asks[:d])

    # -- events -----------------------------------------------------------------------------------

    def on_snapshot(self, s: Snapshot) -> Step:
        """A complete book (or top N): load it, then the buffered deltas that follow it."""
        if not self._awaiting and self.rule.snapshot_verdict(self.last, s.last) is _SKIP:
            self.stats.skipped += 1
            return NOTHING
        if self.book is None:
            return self._top_snapshot(s)
        if self._lost >= 0 and s.last < self._lost:
            # the buffer dropped a delta newer than this snapshot: it cannot be rebuilt from here
            self.stats.stale_snapshots += 1
            self._refuse_snapshot(f"snapshot {s.last} older than delta {self._lost} lost to a full buffer")
            return _CHANGED_REFETCH
        book = self.book
        book.clear()
        try:
            _apply(book, s.bids, s.asks)
        except (InvalidLevelError, TypeError, ValueError) as exc:  # e.g. a side that is not a list
            return self._fault(Fault.INVALID, f"snapshot: {exc}")
        self.stats.snapshots += 1
        self.last = s.last
        self._first = True
        self._awaiting = False
        self._lost = -1
        if s.exchange_ts_ns:
            self.exchange_ts_ns = s.exchange_ts_ns
        if s.checksum is not None and self.checksum_kind is not None:
            step = self._verify(s.checksum, "snapshot")
            if step is not None:
                return step
        if book.is_crossed():
            return self._fault(Fault.CROSSED, f"snapshot crossed: {book.best_bid()} >= {book.best_ask()}")
        buf = self._buffer
        while buf:
            d = buf[0]
            if self._first and self.rule.verdict(self.last, True, d) is _GAP:
                # the snapshot is older than what was buffered: keep the deltas, fetch again
                self.stats.stale_snapshots += 1
                self._refuse_snapshot(f"snapshot {s.last} older than buffered deltas ({d.first}..{d.last})")
                return _CHANGED_REFETCH
            buf.popleft()
            step = self._chain(d)
            if step.fault:
                return step
        self.status = _LIVE
        self.reason = ""
        return CHANGED

    def on_delta(self, d: Delta) -> Step:
        """Changes to the book (buffered or dropped while a snapshot is awaited)."""
        if self._awaiting:
            if self.buffer_deltas:
                buf = self._buffer
                if len(buf) == buf.maxlen:
                    self.stats.buffer_overflows += 1
                    oldest = buf[0]
                    # unknown position: no snapshot can be trusted to cover it, except a newer fetch
                    self._lost = max(self._lost, oldest.last if oldest.last >= 0 else (1 << 62))
                buf.append(d)
                self.stats.buffered += 1
            else:
                self.stats.dropped += 1
            return NOTHING
        if self.book is None:
            self.stats.skipped += 1  # a top-N feed has nothing to apply a delta to
            return NOTHING
        return self._chain(d)

    def on_heartbeat(self) -> Step:
        """The venue says the instrument is alive and unchanged: a LIVE top may be re-emitted."""
        return CHANGED if self.status is _LIVE else NOTHING

    def on_rejected(self, reason: str) -> Step:
        """The venue refused the subscription: STALE with its reason until a new connection."""
        self.stats.rejects += 1
        self._reset_book()
        self._awaiting = True
        self.status = _STALE
        self.reason = f"subscription rejected: {reason}"[:200] if reason else "subscription rejected"
        return CHANGED

    def fail(self, kind: Fault, detail: str) -> Step:
        """A fault seen outside the book (a malformed frame that may have carried this
        instrument's event, a transport that lost data): resync."""
        return self._fault(kind, detail)

    def connected(self) -> Step:
        """A new connection: SYNCING until the snapshot (requested now if it comes by REST)."""
        self._await_snapshot(_SYNCING, "subscribing, waiting for a snapshot")
        return _CHANGED_REFETCH if self.buffer_deltas else CHANGED

    def disconnected(self, reason: str) -> Step:
        """The connection dropped: STALE until a new snapshot (not a fault)."""
        self._await_snapshot(_STALE, reason)
        return CHANGED

    # -- output -----------------------------------------------------------------------------------

    def emit(self, receive_ns: int) -> BookUpdate | None:
        """The update to publish after a step with ``publish``, or None if the aggregator
        would learn nothing (same status and reason; or LIVE with the same top N, unless the
        last emitted one is ``keepalive_s`` old)."""
        stats = self.stats
        status = self.status
        if status is _LIVE:
            bids, asks = self.top()
            if (
                self._pub_status is _LIVE
                and (bids is self._pub_bids or bids == self._pub_bids)
                and (asks is self._pub_asks or asks == self._pub_asks)
            ):
                if receive_ns - self._pub_ns < self._keepalive_ns:
                    stats.unchanged += 1
                    return None
                stats.keepalives += 1
            else:
                stats.forwarded += 1
            self._pub_status = _LIVE
            self._pub_bids = bids
            self._pub_asks = asks
            self._pub_ns = receive_ns
            return _make_update(
                (self.venue, self.instrument, bids, asks, _LIVE, self.exchange_ts_ns, receive_ns, "")
            )
        if self._pub_status is status and self._pub_reason == self.reason:
            return None
        stats.status_changes += 1
        self._pub_status = status
        self._pub_reason = self.reason
        self._pub_bids = self._pub_asks = ()
        self._pub_ns = receive_ns
        return _make_update((self.venue, self.instrument, (), (), status, 0, receive_ns, self.reason))

    # -- internals --------------------------------------------------------------------------------

    def _top_snapshot(self, s: Snapshot) -> Step:
        # the extractor the adapter read the frame with (its C arrays, no tuples), or the event's own sides
        top = self._top
        assert top is not None
        try:
            problem = top.accept(s.top if type(s) is TopSnapshot else s, s.last)
        except (TypeError, ValueError, IndexError) as exc:  # sides that are not (price, qty) numbers
            return self._fault(Fault.INVALID, f"snapshot: {type(exc).__name__}: {exc}")
        if problem:
            return self._fault(Fault.CROSSED if problem.startswith("crossed") else Fault.INVALID, problem)
        self.stats.snapshots += 1
        self.last = s.last
        self._awaiting = False
        if s.exchange_ts_ns:
            self.exchange_ts_ns = s.exchange_ts_ns
        if self.status is not _LIVE:
            self.status = _LIVE
            self.reason = ""
        return CHANGED

    def _refuse_snapshot(self, reason: str) -> None:
        self._reset_book()
        self._lost = -1
        self._awaiting = True
        self.status = _SYNCING
        self.reason = reason[:200]

    def _chain(self, d: Delta) -> Step:
        verdict = self.rule.verdict(self.last, self._first, d)
        if verdict is _SKIP:
            self.stats.skipped += 1
            return NOTHING
        if verdict is _GAP:
            if self._first:
                detail = f"first delta {d.first}..{d.last} (prev {d.prev}) does not follow snapshot {self.last}"
            else:
                detail = f"after {self.last} got {d.first}..{d.last} (prev {d.prev})"
            return self._fault(Fault.GAP, detail)
        if self._first:
            d = self.rule.trim(self.last, d)
        book = self.book
        assert book is not None
        if d.strict:
            problem = _strict_problem(book, d)
            if problem:
                return self._fault(Fault.INVALID, problem)
        try:
            _apply(book, d.bids, d.asks)
        except (InvalidLevelError, TypeError, ValueError) as exc:  # e.g. a side that is not a list
            return self._fault(Fault.INVALID, str(exc))
        self.stats.applied += 1
        if d.last >= 0:
            self.last = d.last
        self._first = False
        if d.exchange_ts_ns:
            self.exchange_ts_ns = d.exchange_ts_ns
        if d.checksum is not None and self.checksum_kind is not None:
            step = self._verify(d.checksum, f"delta {d.last}" if d.last >= 0 else "delta")
            if step is not None:
                return step
        if book.is_crossed():
            return self._fault(Fault.CROSSED, f"best bid {book.best_bid()} >= best ask {book.best_ask()}")
        return CHANGED

    def _verify(self, expected: int, what: str) -> Step | None:
        assert self.book is not None and self.checksum_kind is not None
        got = self.book.checksum(self.checksum_kind)
        if got == expected:
            self.stats.checksums_ok += 1
            return None
        return self._fault(Fault.CHECKSUM, f"{what}: venue {expected}, local {got}")

    def _fault(self, kind: Fault, detail: str) -> Step:
        stats = self.stats
        counter = _FAULT_COUNTER.get(kind)
        if counter is not None:
            setattr(stats, counter, getattr(stats, counter) + 1)
        stats.resyncs += 1
        self._await_snapshot(_STALE, f"resync after {kind.value}: {detail}"[:200])
        self._first = True
        return Step(publish=True, need_snapshot=True, fault=kind, detail=detail)

    def _await_snapshot(self, status: VenueStatus, reason: str) -> None:
        """Forget the book and what was buffered for it; ``status`` with ``reason`` until a snapshot."""
        self._reset_book()
        self._buffer.clear()
        self._lost = -1
        self._awaiting = True
        self.status = status
        self.reason = reason

    def _reset_book(self) -> None:
        if self.book is not None:
            self.book.clear()
        if self._top is not None:
            self._top.clear()
        self.last = -1

    def __repr__(self) -> str:
        return f"<BookKeeper {self.venue} {self.symbol} {self.status.value} last={self.last}>"


def _apply(book: Any, bids: Any, asks: Any) -> None:
    """``book.apply(bids, asks)``; sides still in a parsed frame go straight from it (``apply_doc``)."""
    tb, ta = type(bids), type(asks)
    if tb is DocSide or ta is DocSide:
        doc = bids.doc if tb is DocSide else asks.doc
        if (tb is DocSide or not bids) and (ta is DocSide or not asks) and (ta is not DocSide or asks.doc is doc):
            book.apply_doc(doc, bids.handle if tb is DocSide else -1, asks.handle if ta is DocSide else -1)
            return
    book.apply(bids, asks)


def _strict_problem(book: Any, d: Delta) -> str:
    """For a strict delta: the first entry that changes or deletes a level the book does not have
    (entries apply in order, so a level added earlier in the same delta counts). A side at the
    book's depth cap drops its worst levels, so an unknown level beyond the worst kept one is not
    a fault: the venue still has it."""
    cap = book.max_depth
    for side_name, entries, levels, is_bid in (("bid", d.bids, book.bids, True), ("ask", d.asks, book.asks, False)):
        if not entries:
            continue
        kept = levels()
        present = {p for p, _ in kept}
        worst = kept[-1][0] if len(kept) >= cap else None
        for entry in entries:
            action = entry[2] if len(entry) > 2 else None
            try:
                qty = float(entry[1])
                price = float(entry[0])
            except (TypeError, ValueError, IndexError):
                return ""  # Book.apply reports it with the entry
            removes = action == "delete" or qty == 0.0
            if (removes or action in _ACTIONS_NEEDING_A_LEVEL) and price not in present:
                beyond_cap = worst is not None and (price < worst if is_bid else price > worst)
                if not beyond_cap:
                    return f"{'delete' if removes else 'change'} of unknown {side_name} level {price!r}"
            if removes:
                present.discard(price)
            else:
                present.add(price)
    return ""
