"""Layer 3 for diff feeds: full-depth books kept exactly right, per instrument.

Two parts:

* :class:`InstrumentSync` -- the sans-IO state machine of one (venue,
  instrument): a :class:`~dragonfly._core.book.Book`, the venue's
  :class:`SequenceRule`, its checksum, and the SYNCING / LIVE / STALE states.
  It takes parsed :class:`Snapshot` and :class:`Delta` events and says what
  to do (publish, request a snapshot). Conformance tests replay the captures
  through it; the listener drives it from a socket.
* :class:`DiffListener` -- the asyncio driver: reads frames from a layer-1
  :class:`~dragonfly.clients.base.Client`, parses them with a venue's
  :class:`DiffVenue` adapter, runs every instrument's sync, publishes
  :class:`~dragonfly.model.BookUpdate` to a sink (``.publish``) only when the
  top N changed (or to show liveness), and fetches snapshots -- by REST or by
  re-subscribing -- through a shared :class:`SnapshotLimiter`.

Integrity
---------
A sequence gap, a checksum mismatch, a crossed book or a level that cannot be
applied puts **that instrument only** into resync: its book is cleared, a
STALE update (no levels) takes it out of the world view, the incident is
counted and logged once with context, a snapshot is requested, deltas that
arrive meanwhile are buffered (REST-snapshot venues, bounded) or dropped
(venues whose snapshot comes on the stream after re-subscribing), and the
instrument is LIVE again only once the snapshot and the buffered deltas that
follow it were applied consistently. Other instruments keep flowing.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._core.book import Book
from ..clients.base import FeedTask
from ..errors import ConfigError, DragonflyError, InvalidLevelError, VenueError
from ..model import BookUpdate, Side, VenueStatus

__all__ = (
    "Delta",
    "Snapshot",
    "Verdict",
    "SequenceRule",
    "NoSequence",
    "UpdateIdRange",
    "Contiguous",
    "PrevId",
    "Timestamp",
    "SyncStats",
    "Step",
    "InstrumentSync",
    "DiffVenue",
    "SnapshotLimiter",
    "DiffListener",
    "create_diff_feed",
    "rest_url_for",
)

log = logging.getLogger(__name__)

_LIVE = VenueStatus.LIVE
_STALE = VenueStatus.STALE
_SYNCING = VenueStatus.SYNCING


# ---------------------------------------------------------------------------------------------------
# Parsed events


@dataclass(slots=True, kw_only=True)
class Delta:
    """One incremental update of one instrument, venue-neutral.

    Not frozen, for speed (one is built per frame); treat it as immutable.

    Attributes
    ----------
    symbol : str
        The venue's own instrument name.
    bids, asks : sequence of ``(price, qty, ...)``
        As the venue sent them (strings kept for checksums); qty 0 deletes.
    first, last, prev : int
        Sequence fields, -1 when the venue has none: ``first``/``last`` update
        ids covered (Binance ``U``/``u``; OKX ``seqId`` and Bybit ``u`` in
        ``last``; Bitstamp's microtimestamp in ``last``), ``prev`` the id this
        update follows (OKX ``prevSeqId``).
    checksum : int or None
        The venue's checksum of the book after this update.
    exchange_ts_ns : int
        Exchange time, 0 when unknown.
    """

    symbol: str
    bids: Sequence[Sequence[Any]] = ()
    asks: Sequence[Sequence[Any]] = ()
    first: int = -1
    last: int = -1
    prev: int = -1
    checksum: int | None = None
    exchange_ts_ns: int = 0


@dataclass(slots=True, kw_only=True)
class Snapshot:
    """A full book (or the venue's subscribed depth) of one instrument.

    ``last`` is the sequence position it reflects (Binance ``lastUpdateId``,
    Bitstamp microtimestamp, OKX ``seqId``, Bybit ``u``), -1 when none.
    """

    symbol: str
    bids: Sequence[Sequence[Any]] = ()
    asks: Sequence[Sequence[Any]] = ()
    last: int = -1
    checksum: int | None = None
    exchange_ts_ns: int = 0


# ---------------------------------------------------------------------------------------------------
# Sequence rules


class Verdict(enum.Enum):
    APPLY = "apply"
    SKIP = "skip"  # already contained in the book (older than the snapshot or a duplicate)
    GAP = "gap"  # something is missing between the book and this delta


class SequenceRule(Protocol):
    """How a venue's deltas chain onto a snapshot and onto each other."""

    #: Can this rule notice a lost delta (a gap)? If not, the listener resyncs
    #: the instrument on anything that might have lost one (malformed frame).
    detects_loss: bool

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        """Decide for ``d`` given the sequence position ``last`` of the book."""
        ...


class NoSequence:
    """Every delta applies (Kraken v1, Coinbase Exchange): loss is only seen
    through a checksum or a crossed book."""

    detects_loss = False

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        return Verdict.APPLY


class UpdateIdRange:
    """Binance diff depth: drop ``u <= lastUpdateId``; the first applied
    event must straddle (``U <= lastUpdateId + 1 <= u``); afterwards each
    ``U == previous u + 1``."""

    detects_loss = True

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if d.last <= last:
            return Verdict.SKIP
        if first_after_snapshot:
            return Verdict.APPLY if d.first <= last + 1 else Verdict.GAP
        return Verdict.APPLY if d.first == last + 1 else Verdict.GAP


class Contiguous:
    """Bybit ``u``: each delta's id is the previous one plus one."""

    detects_loss = True

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if d.last <= last:
            return Verdict.SKIP
        return Verdict.APPLY if d.last == last + 1 else Verdict.GAP


class PrevId:
    """OKX ``seqId``/``prevSeqId``: a delta names the id it follows. Deltas
    without sequence fields (older captures) always apply; the checksum
    still guards them."""

    detects_loss = True

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if d.prev < 0 or last < 0:
            return Verdict.APPLY
        if d.prev == last:
            return Verdict.APPLY
        if d.last <= last:
            return Verdict.SKIP
        return Verdict.GAP


class Timestamp:
    """Bitstamp: deltas keyed on microtimestamp. Until the first one is
    applied after a snapshot, those not newer than the snapshot are dropped;
    afterwards a delta older than the previous one arrived out of order and
    counts as a gap. A lost delta cannot be seen (no sequence numbers)."""

    detects_loss = False

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if first_after_snapshot:
            return Verdict.SKIP if d.last <= last else Verdict.APPLY
        return Verdict.GAP if d.last < last else Verdict.APPLY


# ---------------------------------------------------------------------------------------------------
# Per-instrument state machine


@dataclass(slots=True)
class SyncStats:
    """Counters of one instrument (read at any time)."""

    snapshots: int = 0  #: snapshots loaded
    applied: int = 0  #: deltas applied
    skipped: int = 0  #: deltas dropped as already in the book
    dropped: int = 0  #: deltas dropped while waiting for a stream snapshot
    buffered: int = 0  #: deltas buffered while a REST snapshot loaded
    buffer_overflows: int = 0  #: buffered deltas lost because the buffer was full
    checksums_ok: int = 0  #: venue checksums verified
    gaps: int = 0
    checksum_errors: int = 0
    crossed: int = 0
    invalid: int = 0  #: deltas/snapshots with a level that cannot be applied
    stale_snapshots: int = 0  #: snapshots older than the buffered deltas (fetched again)
    resyncs: int = 0  #: resyncs started after a fault (gap, checksum, crossed, invalid, bad frame)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Step:
    """What an event did: ``publish`` when the status or the book changed,
    ``need_snapshot`` when a snapshot must be requested, ``fault`` the kind
    of fault detected ("" when none) with ``detail``."""

    publish: bool = False
    need_snapshot: bool = False
    fault: str = ""
    detail: str = ""


_NOTHING = Step()
_CHANGED = Step(publish=True)


class InstrumentSync:
    """Sans-IO book keeper of one (venue, instrument); see the module notes.

    Parameters
    ----------
    venue, instrument, symbol : str
        Labels: normalised instrument name and the venue's own.
    rule : SequenceRule
    checksum : {"kraken", "okx"} or None
        Verify the venue's checksum whenever an event carries one.
    max_depth : int
        The book's depth cap (the subscribed depth on venues that truncate).
    buffer_deltas : bool
        True for venues whose snapshot comes by REST: deltas are buffered while
        it loads. False when the snapshot comes on the stream after
        (re)subscribing: deltas before it are dropped.
    buffer_limit : int
        Deltas kept while a snapshot loads; the oldest are dropped beyond it.
    book_type : callable, optional
        Book class to use (default: the selected core twin); tests pass each twin.
    """

    __slots__ = (
        "venue",
        "instrument",
        "symbol",
        "rule",
        "checksum_kind",
        "buffer_deltas",
        "book",
        "status",
        "reason",
        "last",
        "stats",
        "exchange_ts_ns",
        "_first",
        "_buffer",
        "_awaiting",
    )

    def __init__(
        self,
        *,
        venue: str,
        instrument: str,
        symbol: str,
        rule: SequenceRule,
        checksum: str | None = None,
        max_depth: int = 5000,
        buffer_deltas: bool = True,
        buffer_limit: int = 10_000,
        book_type: Callable[..., Book] | None = None,
    ) -> None:
        if checksum not in (None, "kraken", "okx"):
            raise ValueError(f"unknown checksum kind {checksum!r}")
        if not isinstance(buffer_limit, int) or buffer_limit < 1:
            raise ValueError("buffer_limit must be a positive int")
        self.venue = venue
        self.instrument = instrument
        self.symbol = symbol
        self.rule = rule
        self.checksum_kind = checksum
        self.buffer_deltas = buffer_deltas
        self.book = (book_type or Book)(max_depth=max_depth)
        self.status = _SYNCING
        self.reason = "waiting for a snapshot"
        self.last = -1
        self.stats = SyncStats()
        self.exchange_ts_ns = 0
        self._first = True
        self._buffer: deque[Delta] = deque(maxlen=buffer_limit)
        self._awaiting = True

    @property
    def awaiting_snapshot(self) -> bool:
        return self._awaiting

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # -- events ---------------------------------------------------------------------------------------

    def on_delta(self, d: Delta) -> Step:
        """Feed one delta."""
        if self._awaiting:
            if self.buffer_deltas:
                buf = self._buffer
                if len(buf) == buf.maxlen:
                    self.stats.buffer_overflows += 1
                buf.append(d)
                self.stats.buffered += 1
            else:
                self.stats.dropped += 1
            return _NOTHING
        return self._chain(d)

    def on_snapshot(self, s: Snapshot) -> Step:
        """Load a snapshot, then the buffered deltas that follow it."""
        book = self.book
        book.clear()
        try:
            book.apply(s.bids, s.asks)
        except (InvalidLevelError, TypeError, ValueError) as exc:  # e.g. a side that is not a list
            self._buffer.clear()
            return self._fault("invalid", f"snapshot: {exc}")
        self.stats.snapshots += 1
        self.last = s.last
        self._first = True
        self._awaiting = False
        if s.exchange_ts_ns:
            self.exchange_ts_ns = s.exchange_ts_ns
        if s.checksum is not None and self.checksum_kind is not None:
            step = self._verify(s.checksum, "snapshot")
            if step is not None:
                self._buffer.clear()
                return step
        if book.is_crossed():
            self._buffer.clear()
            return self._fault("crossed", f"snapshot crossed: {book.best_bid()} >= {book.best_ask()}")
        buf = self._buffer
        while buf:
            d = buf[0]
            if self._first and self.rule.verdict(self.last, True, d) is Verdict.GAP:
                # the snapshot is older than what we buffered: keep the deltas, fetch again
                self.stats.stale_snapshots += 1
                self._awaiting = True
                book.clear()
                self.status = _SYNCING
                self.reason = f"snapshot {s.last} older than buffered deltas ({d.first}..{d.last})"
                return Step(publish=False, need_snapshot=True)
            buf.popleft()
            step = self._chain(d)
            if step.fault:
                return step
        self.status = _LIVE
        self.reason = ""
        return _CHANGED

    def fail(self, kind: str, detail: str) -> Step:
        """A fault seen outside the book (e.g. a malformed frame that may
        have carried this instrument's delta): resync."""
        self._buffer.clear()
        return self._fault(kind, detail)

    def disconnected(self, reason: str) -> Step:
        """The connection dropped: STALE until a new snapshot (no fault count)."""
        self.book.clear()
        self._buffer.clear()
        self._awaiting = True
        changed = self.status is not _STALE or self.reason != reason
        self.status = _STALE
        self.reason = reason
        return _CHANGED if changed else _NOTHING

    def subscribing(self) -> None:
        """Connected again; waiting for the snapshot (status SYNCING)."""
        self._awaiting = True
        self.status = _SYNCING
        self.reason = "waiting for a snapshot"

    # -- views ----------------------------------------------------------------------------------------

    def top(self, depth: int) -> tuple[Side, Side]:
        """Top ``depth`` of the book while LIVE, else empty sides."""
        if self.status is not _LIVE:
            return (), ()
        return self.book.top(depth)

    # -- internals ------------------------------------------------------------------------------------

    def _chain(self, d: Delta) -> Step:
        verdict = self.rule.verdict(self.last, self._first, d)
        if verdict is Verdict.SKIP:
            self.stats.skipped += 1
            return _NOTHING
        if verdict is Verdict.GAP:
            self._buffer.clear()
            if self._first:
                detail = f"first delta {d.first}..{d.last} (prev {d.prev}) does not follow snapshot {self.last}"
            else:
                detail = f"after {self.last} got {d.first}..{d.last} (prev {d.prev})"
            return self._fault("gap", detail)
        book = self.book
        try:
            book.apply(d.bids, d.asks)
        except (InvalidLevelError, TypeError, ValueError) as exc:  # e.g. a side that is not a list
            self._buffer.clear()
            return self._fault("invalid", str(exc))
        self.stats.applied += 1
        if d.last >= 0:
            self.last = d.last
        self._first = False
        if d.exchange_ts_ns:
            self.exchange_ts_ns = d.exchange_ts_ns
        if d.checksum is not None and self.checksum_kind is not None:
            step = self._verify(d.checksum, f"delta {d.last}")
            if step is not None:
                self._buffer.clear()
                return step
        if book.is_crossed():
            self._buffer.clear()
            return self._fault("crossed", f"best bid {book.best_bid()} >= best ask {book.best_ask()}")
        return _CHANGED

    def _verify(self, expected: int, what: str) -> Step | None:
        got = self.book.checksum(self.checksum_kind)  # type: ignore[arg-type]
        if got == expected:
            self.stats.checksums_ok += 1
            return None
        return self._fault("checksum", f"{what}: venue {expected}, local {got}")

    def _fault(self, kind: str, detail: str) -> Step:
        stats = self.stats
        if kind == "gap":
            stats.gaps += 1
        elif kind == "checksum":
            stats.checksum_errors += 1
        elif kind == "crossed":
            stats.crossed += 1
        elif kind == "invalid":
            stats.invalid += 1
        stats.resyncs += 1
        self.book.clear()
        self._awaiting = True
        self._first = True
        self.status = _STALE
        self.reason = f"resync after {kind}: {detail}"[:200]
        return Step(publish=True, need_snapshot=True, fault=kind, detail=detail)

    def __repr__(self) -> str:
        return f"<InstrumentSync {self.venue} {self.symbol} {self.status.value} last={self.last}>"


# ---------------------------------------------------------------------------------------------------
# Venue adapters


class DiffVenue(Protocol):
    """Everything venue-specific about a diff feed (one object per venue,
    in ``dragonfly/venues/<venue>/``).

    Attributes
    ----------
    name : str
    rule : SequenceRule
    checksum : str or None
        ``"kraken"``, ``"okx"`` or None.
    snapshot_by_rest : bool
        True: snapshots come from :meth:`snapshot_url` and deltas are buffered
        meanwhile. False: the snapshot comes on the stream after
        :meth:`resubscribe_frames`.
    """

    name: str
    rule: SequenceRule
    checksum: str | None
    snapshot_by_rest: bool

    def key(self, symbol: str) -> str:
        """The venue's spelling of ``symbol`` as it appears in its messages."""
        ...

    def book_depth(self, symbol: str) -> int:
        """Depth cap of the book of ``symbol`` (the subscribed depth where the venue truncates)."""
        ...

    def ws_url(self, symbols: Sequence[str]) -> str: ...

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]: ...

    def resubscribe_frames(self, symbol: str) -> list[str]:
        """Frames that make the venue send a fresh snapshot of ``symbol``."""
        ...

    def snapshot_url(self, symbol: str) -> str: ...

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot: ...

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        """Events in a frame (``[]`` for control frames); raises ``ValueError``,
        ``KeyError``, ``TypeError``, ``IndexError`` or a
        :class:`~dragonfly.errors.DragonflyError` on a malformed frame."""
        ...


def int_or(value: object, default: int = -1) -> int:
    """``int(value)`` for ints and digit strings, ``default`` for None."""
    if value is None:
        return default
    return int(value)  # type: ignore[call-overload,no-any-return]


# ---------------------------------------------------------------------------------------------------
# Snapshot rate limiting


class SnapshotLimiter:
    """Spaces snapshot requests: at most ``max_concurrent`` in flight and at
    least ``min_interval_s`` between two starts. Share one limiter between
    the listeners of a venue so many instruments resyncing at once do not
    hammer its REST endpoint (or its subscribe rate limit).

    Attributes
    ----------
    started : int
        Requests started so far.
    """

    def __init__(self, *, min_interval_s: float = 0.1, max_concurrent: int = 2) -> None:
        if not min_interval_s >= 0:
            raise ValueError("min_interval_s must be >= 0")
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError("max_concurrent must be a positive int")
        self.min_interval_s = float(min_interval_s)
        self.max_concurrent = max_concurrent
        self.started = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._sem: asyncio.Semaphore | None = None
        self._lock: asyncio.Lock | None = None
        self._next = 0.0

    async def __aenter__(self) -> SnapshotLimiter:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_concurrent)
            self._lock = asyncio.Lock()
        await self._sem.acquire()
        try:
            assert self._lock is not None
            async with self._lock:
                loop = asyncio.get_running_loop()
                now = loop.time()
                if now < self._next:
                    await asyncio.sleep(self._next - now)  # the rate limit itself, not a test wait
                self._next = loop.time() + self.min_interval_s
        except BaseException:
            self._sem.release()
            raise
        self.started += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.in_flight -= 1
        assert self._sem is not None
        self._sem.release()


# ---------------------------------------------------------------------------------------------------
# The asyncio listener


class DiffListenerStats:
    """Counters of one diff listener (one connection, many instruments)."""

    __slots__ = (
        "frames",
        "bad_frames",
        "unroutable",
        "published",
        "faults",
        "snapshot_requests",
        "snapshot_failures",
        "resubscribes",
        "disconnects",
    )

    def __init__(self) -> None:
        self.frames = 0
        self.bad_frames = 0  #: frames that could not be parsed
        self.unroutable = 0  #: events for an instrument not subscribed here
        self.published = 0  #: BookUpdates published
        self.faults = 0  #: gap/checksum/crossed/invalid/bad-frame incidents (each resyncs one instrument)
        self.snapshot_requests = 0  #: REST snapshot requests sent
        self.snapshot_failures = 0  #: REST snapshot requests that failed (retried)
        self.resubscribes = 0  #: re-subscriptions sent to get a stream snapshot
        self.disconnects = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


def _make_client(venue: DiffVenue, symbols: Sequence[str], ws: Any, session: Any) -> Any:
    from ..clients.ws import WebSocketClient, WebSocketConfig

    class _VenueClient(WebSocketClient):
        def build_url(self) -> str:
            return venue.ws_url(symbols)

        def subscribe_frames(self) -> Sequence[str]:
            return venue.subscribe_frames(symbols)

    url = venue.ws_url(symbols)
    config = (
        ws.with_url(url) if ws is not None else WebSocketConfig.build(url=url, name=venue.name, no_data_timeout_s=30.0)
    )
    return _VenueClient(config, session=session)


class DiffListener(FeedTask):
    """Diff-feed listener of one connection: many instruments of one venue.

    Parameters
    ----------
    venue : DiffVenue
        The venue adapter (e.g. :class:`dragonfly.venues.kraken.KrakenBookVenue`).
    symbols : sequence of str or mapping of str to str
        Venue symbols to subscribe; a mapping gives the normalised instrument
        name of each (default: :func:`dragonfly.venues.symbols.normalize_instrument`,
        or the venue's key when it cannot be normalised).
    sink : Sink[BookUpdate]
        Where updates go (``.publish(update)``; usually the aggregator's queue).
    depth : int
        Levels per side published.
    client : Client, optional
        Layer-1 client; by default a WebSocket client on ``venue.ws_url``.
    ws : WebSocketConfig, optional
        Heartbeat/watchdog/backoff for the default client (its URL is replaced).
    session : aiohttp.ClientSession, optional
        For REST snapshots (and the default client); created when needed.
    limiter : SnapshotLimiter, optional
        Shared snapshot rate limit (default: one per listener).
    keepalive_s : float
        Publish an unchanged LIVE update at most this often to show liveness.
    buffer_limit : int
        Deltas buffered per instrument while its REST snapshot loads.
    snapshot_timeout_s : float
        Bound on one REST snapshot request, and on waiting for a stream
        snapshot after re-subscribing, before trying again.
    """

    def __init__(
        self,
        *,
        venue: DiffVenue,
        symbols: Sequence[str] | dict[str, str],
        sink: Any,
        depth: int = 10,
        client: Any = None,
        ws: Any = None,
        session: Any = None,
        limiter: SnapshotLimiter | None = None,
        keepalive_s: float = 1.0,
        buffer_limit: int = 10_000,
        snapshot_timeout_s: float = 10.0,
        book_type: Callable[..., Book] | None = None,
    ) -> None:
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        if not hasattr(sink, "publish"):
            raise TypeError("sink must have a publish() method")
        if not symbols:
            raise ValueError("at least one symbol is required")
        if not keepalive_s > 0 or not snapshot_timeout_s > 0:
            raise ValueError("keepalive_s and snapshot_timeout_s must be > 0")
        from ..venues.symbols import normalize_instrument

        names: dict[str, str] = {}
        for sym in symbols:
            key = venue.key(sym)
            if isinstance(symbols, dict):
                names[key] = symbols[sym]
            else:
                try:
                    names[key] = normalize_instrument(sym)
                except (DragonflyError, ValueError, TypeError):
                    names[key] = key
        self.venue = venue
        self.sink = sink
        self.depth = depth
        self.stats = DiffListenerStats()
        self.limiter = limiter or SnapshotLimiter()
        self._session = session
        self._own_session = False
        self._keepalive_ns = int(keepalive_s * 1e9)
        self._snapshot_timeout_s = float(snapshot_timeout_s)
        self.syncs: dict[str, InstrumentSync] = {
            key: InstrumentSync(
                venue=venue.name,
                instrument=name,
                symbol=key,
                rule=venue.rule,
                checksum=venue.checksum,
                max_depth=venue.book_depth(key),
                buffer_deltas=venue.snapshot_by_rest,
                buffer_limit=buffer_limit,
                book_type=book_type,
            )
            for key, name in names.items()
        }
        self.client = client if client is not None else _make_client(venue, list(self.syncs), ws, session)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._published: dict[str, tuple[VenueStatus, str, Side, Side, int]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._snap_events: dict[str, asyncio.Event] = {}
        self._generation = 0
        self._connected = False
        self._bad_logged = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.task_name = f"diff:{self.venue.name}"
        self.error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    @property
    def listeners(self) -> dict[str, InstrumentSync]:
        """Venue key -> per-instrument sync (the feed interface of :mod:`dragonfly.topology`)."""
        return self.syncs

    def listener_stats(self) -> dict[str, dict[str, int]]:
        """Instrument -> its counters."""
        return {s.instrument: s.stats.as_dict() for s in self.syncs.values()}


    async def run(self) -> None:
        """Read frames until :meth:`close` (reconnecting as the client does)."""
        try:
            async for frame in self.client.frames():
                self.on_frame(frame)
        finally:
            self._cancel_tasks()

    async def close(self) -> None:
        """Stop: close the client, cancel snapshot requests."""
        self._closed = True
        self._cancel_tasks()
        await self.client.close()
        if self._own_session and self._session is not None:
            s, self._session = self._session, None
            await s.close()

    def _cancel_tasks(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        self._tasks.clear()

    async def _on_connect(self, client: Any) -> None:
        self._generation += 1
        self._connected = True
        reset = getattr(self.venue, "reset", None)
        if reset is not None:
            reset()
        now = time.time_ns()
        for key, sync in self.syncs.items():
            sync.disconnected("subscribing")
            sync.subscribing()
            self._publish(sync, now)
            if self.venue.snapshot_by_rest:
                self._request(key)

    def _on_disconnect(self, client: Any, reason: str) -> None:
        self._connected = False
        self._generation += 1
        self.stats.disconnects += 1
        self._cancel_tasks()
        now = time.time_ns()
        for sync in self.syncs.values():
            sync.disconnected(f"disconnected: {reason}")
            self._publish(sync, now)

    # -- hot path --------------------------------------------------------------------------------------

    def on_frame(self, frame: str | bytes, receive_ns: int = 0) -> None:
        """Process one raw frame (never raises on bad input)."""
        stats = self.stats
        stats.frames += 1
        if not receive_ns:
            receive_ns = time.time_ns()
        try:
            events = self.venue.parse(frame)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, DragonflyError) as exc:
            self._bad_frame(frame, exc, receive_ns)
            return
        syncs = self.syncs
        for ev in events:
            sync = syncs.get(ev.symbol)
            if sync is None:
                stats.unroutable += 1
                continue
            try:
                if isinstance(ev, Snapshot):
                    step = sync.on_snapshot(ev)
                    event = self._snap_events.get(ev.symbol)
                    if event is not None:
                        event.set()
                else:
                    step = sync.on_delta(ev)
            except Exception as exc:  # a bug must not take the other instruments down
                log.exception("%s %s: unexpected error on %r", self.venue.name, sync.symbol, ev)
                step = sync.fail("internal", f"{type(exc).__name__}: {exc}"[:160])
            if step.fault:
                self._fault(sync, step)
            if step.need_snapshot:
                self._request(sync.symbol)
            if step.publish:
                self._publish(sync, receive_ns)

    def _publish(self, sync: InstrumentSync, receive_ns: int) -> None:
        prev = self._published.get(sync.symbol)
        status = sync.status
        if status is _LIVE:
            bids, asks = sync.book.top(self.depth)
            if (
                prev is not None
                and prev[0] is _LIVE
                and prev[2] == bids
                and prev[3] == asks
                and receive_ns - prev[4] < self._keepalive_ns
            ):
                return
            update = BookUpdate(
                self.venue.name, sync.instrument, bids, asks, _LIVE, sync.exchange_ts_ns, receive_ns
            )
        else:
            if prev is not None and prev[0] is status and prev[1] == sync.reason:
                return
            bids = asks = ()
            update = BookUpdate(self.venue.name, sync.instrument, (), (), status, 0, receive_ns, sync.reason)
        self._published[sync.symbol] = (status, sync.reason, bids, asks, receive_ns)
        self.stats.published += 1
        self.sink.publish(update)

    def _fault(self, sync: InstrumentSync, step: Step) -> None:
        self.stats.faults += 1
        s = sync.stats
        log.warning(
            "%s %s: %s (%s); resync #%d, instrument out of the world view until consistent "
            "[applied=%d gaps=%d checksum_errors=%d crossed=%d invalid=%d]",
            self.venue.name,
            sync.symbol,
            step.fault,
            step.detail,
            s.resyncs,
            s.applied,
            s.gaps,
            s.checksum_errors,
            s.crossed,
            s.invalid,
        )

    def _bad_frame(self, frame: str | bytes, exc: BaseException, receive_ns: int) -> None:
        self.stats.bad_frames += 1
        if not self._bad_logged:
            self._bad_logged = True
            log.warning(
                "%s: malformed frame #%d skipped (%s: %s); frame starts %r",
                self.venue.name,
                self.stats.bad_frames,
                type(exc).__name__,
                exc,
                frame[:160],
            )
        else:
            log.debug("%s: malformed frame skipped: %s", self.venue.name, exc)
        # the frame may have carried any instrument's delta: instruments whose rule
        # would notice a lost delta wait for that; the others resync now
        detects_loss = self.venue.rule.detects_loss or self.venue.checksum is not None
        if detects_loss and not isinstance(exc, DragonflyError):
            return
        for key, sync in self.syncs.items():
            if sync.awaiting_snapshot:
                continue
            step = sync.fail("bad frame", f"{type(exc).__name__}: {exc}"[:160])
            self._fault(sync, step)
            self._request(key)
            self._publish(sync, receive_ns)

    # -- snapshots -------------------------------------------------------------------------------------

    def _request(self, key: str) -> None:
        if self._closed or not self._connected:
            return  # on (re)connect every instrument is resynced
        task = self._tasks.get(key)
        if task is not None and not task.done():
            return
        coro = self._fetch(key) if self.venue.snapshot_by_rest else self._resubscribe(key)
        self._tasks[key] = asyncio.get_running_loop().create_task(coro)

    async def _fetch(self, key: str) -> None:
        import aiohttp

        sync = self.syncs[key]
        generation = self._generation
        delay = 0.05
        while not self._closed and generation == self._generation and sync.awaiting_snapshot:
            if self._session is None:
                self._session = aiohttp.ClientSession()
                self._own_session = True
            url = self.venue.snapshot_url(key)
            try:
                async with self.limiter:
                    self.stats.snapshot_requests += 1
                    timeout = aiohttp.ClientTimeout(total=self._snapshot_timeout_s)
                    async with self._session.get(url, timeout=timeout) as resp:
                        body = await resp.read()
                        if resp.status != 200:
                            raise VenueError(
                                f"{self.venue.name}: snapshot {url} -> HTTP {resp.status}",
                                venue=self.venue.name,
                                code=resp.status,
                                payload=body[:200],
                            )
                snap = self.venue.parse_snapshot(key, body)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError, KeyError, TypeError, DragonflyError) as exc:
                self.stats.snapshot_failures += 1
                log.warning("%s %s: snapshot request failed (%s); retrying in %.2fs", self.venue.name, key, exc, delay)
                await asyncio.sleep(delay)  # retry backoff
                delay = min(delay * 2, 5.0)
                continue
            if generation != self._generation:
                return  # the connection changed meanwhile: the new one resyncs
            step = sync.on_snapshot(snap)
            now = time.time_ns()
            if step.fault:
                self._fault(sync, step)
            self._publish(sync, now)
            if not step.need_snapshot:
                return
            # a fault while replaying, or the snapshot was older than the buffer: go again

    async def _resubscribe(self, key: str) -> None:
        sync = self.syncs[key]
        generation = self._generation
        event = self._snap_events.setdefault(key, asyncio.Event())
        while not self._closed and generation == self._generation and sync.awaiting_snapshot:
            event.clear()
            try:
                async with self.limiter:
                    self.stats.resubscribes += 1
                    for f in self.venue.resubscribe_frames(key):
                        await self.client.send(f)
            except DragonflyError as exc:  # not connected: the reconnect resyncs
                log.info("%s %s: re-subscribe failed: %s", self.venue.name, key, exc)
                return
            try:
                await asyncio.wait_for(event.wait(), self._snapshot_timeout_s)
            except asyncio.TimeoutError:
                log.warning("%s %s: no snapshot %.3gs after re-subscribing; again", self.venue.name, key, self._snapshot_timeout_s)

    def __repr__(self) -> str:
        live = sum(s.status is _LIVE for s in self.syncs.values())
        return f"<DiffListener {self.venue.name} {live}/{len(self.syncs)} live>"


def create_diff_feed(
    venue: DiffVenue,
    *,
    instruments: Sequence[Any],
    depth: int,
    sink: Any,
    ws: Any = None,
    keepalive_s: float = 1.0,
    **kwargs: Any,
) -> DiffListener:
    """Shared body of the venues' ``create_feed``: ``instruments`` are
    :class:`~dragonfly.venues.symbols.Instrument` objects (or venue symbols);
    each maps to the venue's spelling, keeping the normalised name."""
    names: dict[str, str] = {}
    for inst in instruments:
        if hasattr(inst, "base") and hasattr(inst, "quote"):
            names[venue.key(f"{inst.base}-{inst.quote}")] = inst.name
        else:
            names[venue.key(str(inst))] = str(inst)
    return DiffListener(venue=venue, symbols=names, sink=sink, depth=depth, ws=ws, keepalive_s=keepalive_s, **kwargs)


def diff_venue_spec(
    *, name: str, venue_cls: Callable[[Any], DiffVenue], config_cls: Callable[[], Any], default_base_url: str, max_depth: int
) -> Any:
    """The :class:`~dragonfly.venues.registry.VenueSpec` of a diff-stream venue.

    Its ``create_feed(*, instruments, depth, sink, base_url=None, rest_url=None,
    ws=None, keepalive_s=1.0, config=None, **kwargs)`` opens one connection
    carrying the book of every instrument. ``base_url`` overrides the WebSocket
    URL (simulators); for venues that load snapshots over REST (a config with a
    ``rest_url`` field) the REST URL follows it (same host and port, http/https)
    unless ``rest_url`` is given.
    """
    from dataclasses import fields, replace

    from ..venues.registry import VenueSpec

    has_rest = any(f.name == "rest_url" for f in fields(config_cls))  # type: ignore[arg-type]

    def create_feed(
        *,
        instruments: Sequence[Any],
        depth: int,
        sink: Any,
        base_url: str | None = None,
        rest_url: str | None = None,
        ws: Any = None,
        keepalive_s: float = 1.0,
        config: Any = None,
        **kwargs: Any,
    ) -> DiffListener:
        cfg = config or config_cls()
        changes: dict[str, str] = {}
        if base_url is not None:
            changes["base_url"] = base_url
        if rest_url is not None and not has_rest:
            raise ConfigError(f"{name} loads no REST snapshot: rest_url does not apply")
        if has_rest and (rest_url is not None or base_url is not None):
            changes["rest_url"] = rest_url or rest_url_for(base_url or "")
        if changes:
            cfg = replace(cfg, **changes)
        return create_diff_feed(venue_cls(cfg), instruments=instruments, depth=depth, sink=sink, ws=ws, keepalive_s=keepalive_s, **kwargs)

    create_feed.__doc__ = diff_venue_spec.__doc__
    return VenueSpec(name=name, kind="diff", default_base_url=default_base_url, max_depth=max_depth, create_feed=create_feed)


def rest_url_for(base_url: str) -> str:
    """The HTTP base matching a WebSocket base (a simulator serves both on one port)."""
    if base_url.startswith("wss://"):
        return "https://" + base_url[6:]
    if base_url.startswith("ws://"):
        return "http://" + base_url[5:]
    return base_url
