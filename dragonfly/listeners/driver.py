"""The one driver that runs every feed: a venue adapter and its book keepers over a layer-1 client.

:class:`FeedDriver` reads the frames of any :class:`~dragonfly.clients.base.Client`
(WebSocket, FIX, ...), hands each to the venue adapter's ``parse`` (frames to
events, :mod:`dragonfly.listeners.events`), routes the events to the per-instrument
:class:`~dragonfly.listeners.keeper.BookKeeper` by symbol (one dict lookup), and
publishes what the keepers emit. It does the I/O the keepers ask for: subscribe
on every (re)connect, fetch a snapshot by REST or by re-subscribing, a keepalive
timer on transports whose session proves liveness. Connection events become
keeper states: a drop makes every instrument of the connection STALE, a
(re)connect SYNCING until its snapshot.

A top-N feed whose adapter has a core reader (:meth:`~dragonfly.venues.base.TopNAdapter.claim_reader`)
takes a shorter way for the routine frame of a LIVE instrument: one core call
(:meth:`~dragonfly._core.topn.TopReader.take`) routes it, checks its sequence number against the
keeper's, reads and checks its top and keeps it in the keeper's core top; the driver then counts it as
the keeper would and marks the instrument for the aggregator. With a latest-wins sink
(``publish_lazy``) all of that is one core callable, :class:`~dragonfly._core.topn.TopPath`, which the
client's pump calls instead of :meth:`FeedDriver.on_frame` (which delegates to it): a routine frame
runs no Python code of ours. Every other frame (the first top, an older one, a malformed or crossed one,
another spelling, control messages) goes the general way above, which leaves the same state, counters
and logs.

Every feed, whatever its venue or protocol, is a :class:`FeedDriver` and
satisfies :class:`Feed`: ``start()``/``stop()``/``run()``, ``health()`` and one
typed stats object (:class:`FeedStats`, with the client's and every keeper's
counters inside).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..clients.base import Client, ClientStats, FeedTask, Frame
from ..errors import DragonflyError, ExtractError, FrameError, VenueError
from ..model import BookUpdate, VenueHealth, VenueStatus
from ..queues import Lazy
from .events import Delta, Heartbeat, Reconnect, Rejected, Reply, Snapshot, TopSnapshot
from .keeper import CHANGED, BookKeeper, Fault, KeeperStats, Step

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("Feed", "FeedDriver", "FeedStats", "SnapshotLimiter", "SnapshotSource")

log = logging.getLogger(__name__)

_LIVE = VenueStatus.LIVE
_PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, DragonflyError)


class SnapshotSource:
    """Where a venue's snapshots come from (``VenueAdapter.snapshot_source``)."""

    REST = "rest"  #: an HTTP request (deltas are buffered meanwhile)
    RESUBSCRIBE = "resubscribe"  #: unsubscribe + subscribe; the snapshot comes on the stream
    STREAM = "stream"  #: every message is a snapshot (top-N feeds): just wait for the next one


@dataclass(slots=True)
class FeedStats:
    """Counters of one feed: its connection, and every instrument's keeper.

    Attributes
    ----------
    client : ClientStats
        The layer-1 client's counters (connects, messages, bytes, ...).
    instruments : dict[str, KeeperStats]
        Normalised instrument name -> its keeper's counters.
    """

    client: ClientStats
    instruments: dict[str, KeeperStats] = field(default_factory=dict)
    frames: int = 0  #: frames received
    control_frames: int = 0  #: frames that carried no book event (acks, other channels, ...)
    bad_frames: int = 0  #: frames the adapter could not parse
    unroutable: int = 0  #: events for a symbol this feed does not keep
    published: int = 0  #: BookUpdates published
    faults: int = 0  #: gap/checksum/crossed/invalid/bad-frame incidents (each resyncs one instrument)
    snapshot_requests: int = 0  #: REST snapshot requests sent
    snapshot_failures: int = 0  #: REST snapshot requests that failed (retried)
    resubscribes: int = 0  #: re-subscriptions sent to get a snapshot on the stream
    data_losses: int = 0  #: times the transport reported lost data (every instrument resynced)
    reconnect_requests: int = 0  #: times the venue asked for a new connection

    def as_dict(self) -> dict[str, Any]:
        """Plain nested dict: the feed's counters, ``client`` and ``instruments``."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _FEED_COUNTERS}
        out["client"] = {f.name: getattr(self.client, f.name) for f in fields(self.client)}
        out["instruments"] = {name: s.as_dict() for name, s in self.instruments.items()}
        return out


_FEED_COUNTERS = tuple(f.name for f in fields(FeedStats) if f.name not in ("client", "instruments"))


@runtime_checkable
class Feed(Protocol):
    """What the topology runs for one venue connection (layers 1-3): every feed is one."""

    venue: str
    stats: FeedStats

    def start(self) -> asyncio.Task[None]: ...

    async def stop(self) -> None: ...

    async def run(self) -> None: ...

    def health(self) -> dict[str, VenueHealth]: ...


class SnapshotLimiter:
    """Spaces snapshot requests: at most ``max_concurrent`` in flight and at least
    ``min_interval_s`` between two starts. Share one between the feeds of a venue so many
    instruments resyncing at once do not hammer its REST endpoint (or its subscribe rate limit).

    Attributes
    ----------
    started : int
        Requests started so far.
    in_flight, max_in_flight : int
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

    async def __aenter__(self) -> Self:
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
                    await asyncio.sleep(self._next - now)  # the rate limit itself
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


class _Pending(Lazy[BookUpdate]):
    """One instrument's place in a latest-wins sink (``publish_lazy``): its update is built when the
    consumer drains, from the keeper's state then, so the frames replaced in between cost nothing."""

    __slots__ = ("driver", "keeper", "venue", "instrument", "receive_ns")

    def __init__(self, driver: FeedDriver, keeper: BookKeeper) -> None:
        self.driver = driver
        self.keeper = keeper
        self.venue = driver.venue  # the attributes a BookUpdate key reads
        self.instrument = keeper.instrument
        self.receive_ns = 0
        self.queued_in = None

    def materialize(self) -> BookUpdate | None:
        return self.driver._emit(self.keeper, self.receive_ns)


class FeedDriver(FeedTask):
    """Runs one venue adapter and its keepers over one layer-1 client (see the module notes).

    Parameters
    ----------
    venue : str
        The venue's name in the world view (its registry name).
    adapter : VenueAdapter
        The venue's sans-IO adapter (:class:`dragonfly.venues.base.VenueAdapter`).
    client : Client
        The layer-1 client; its ``on_connect``/``on_disconnect``/``on_gap`` hooks are taken over.
    keepers : sequence of BookKeeper
        One per instrument, keyed by their ``symbol`` (the venue's spelling, as events carry it).
    sink : Sink[BookUpdate]
        Where updates go (``.publish(update)``; usually the aggregator's queue). A sink with
        ``publish_lazy`` (:class:`~dragonfly.queues.KeyedQueue`) gets one
        :class:`~dragonfly.queues.Lazy` per instrument instead: the update is built from the
        keeper's latest state when the consumer drains (latest wins, as it would anyway).
    http : HttpClient, optional
        Layer-1 HTTP client for REST snapshots (created on first use when the venue needs one).
    limiter : SnapshotLimiter, optional
        Shared snapshot rate limit (default: one per feed).
    snapshot_timeout_s : float
        How long to wait for a snapshot on the stream after re-subscribing before trying again.
    keepalive_s : float or None
        With an adapter whose session proves liveness (``session_heartbeats``: FIX), re-emit
        unchanged LIVE books this often while the session is heard from.
    """

    def __init__(
        self,
        *,
        venue: str,
        adapter: Any,
        client: Client,
        keepers: Sequence[BookKeeper],
        sink: Any,
        http: Any = None,
        limiter: SnapshotLimiter | None = None,
        snapshot_timeout_s: float = 10.0,
        keepalive_s: float | None = 1.0,
    ) -> None:
        if not keepers:
            raise ValueError("a feed needs at least one instrument")
        if not hasattr(sink, "publish"):
            raise TypeError("sink must have a publish() method")
        if not snapshot_timeout_s > 0:
            raise ValueError("snapshot_timeout_s must be > 0")
        self.venue = venue
        self.adapter = adapter
        self.client = client
        self.sink = sink
        self._publish_lazy = getattr(sink, "publish_lazy", None)
        self.keepers: dict[str, BookKeeper] = {}
        for k in keepers:
            if k.symbol in self.keepers:
                raise ValueError(f"{venue}: instrument symbol {k.symbol!r} twice")
            self.keepers[k.symbol] = k
        self.stats = FeedStats(client=client.stats, instruments={k.instrument: k.stats for k in keepers})
        self._pending = {k.symbol: _Pending(self, k) for k in keepers}
        # the core's one-call path for a routine top-N frame (see on_frame): the adapter's reader accepts
        # the frames of a LIVE instrument straight into its keeper's top and answers its _Pending; with a
        # latest-wins sink, the core's TopPath does the whole frame (the pump calls it, not on_frame)
        self._take: Any = None
        self._path: Any = None  # the TopPath
        self._fast: Any = None  # its on_frame
        self._reader: Any = None
        self._seq_ts_ns = 0
        claim = getattr(adapter, "claim_reader", None)
        reader = claim(self) if claim is not None and adapter.snapshot_source == SnapshotSource.STREAM else None
        if reader is not None:
            self._seq_ts_ns = int(adapter.seq_ts_ns)
            path = None
            if self._publish_lazy is not None:
                path = reader.path(self.stats, self._general, self._publish_lazy, seq_ts_ns=self._seq_ts_ns)
            for k in keepers:
                top = k.reader_top
                if top is not None:
                    if path is not None:
                        path.bind(k.symbol, top, k, self._pending[k.symbol])
                        self._path = path
                        self._fast = path.on_frame
                    else:
                        reader.bind(k.symbol, top, self._pending[k.symbol])
                    self._take = reader.take
            self._reader = reader
        self.http = http
        self._own_http = False
        self.limiter = limiter or SnapshotLimiter()
        self.task_name = f"feed:{venue}"
        self._snapshot_timeout_s = float(snapshot_timeout_s)
        self._keepalive_s = keepalive_s
        self._source: str = adapter.snapshot_source
        self._loses_data = adapter.full_book  # a top-N feed loses nothing with a dropped frame
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._snap_events: dict[str, asyncio.Event] = {}
        self._generation = 0
        self._connected = False
        self._closed = False
        self._bad_logged = False
        self._troubled: set[str] = set()  # symbols whose fault was logged, until LIVE again
        self._pinger: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_gap = self._on_gap
        if adapter.connect_request(list(self.keepers)) is not None:
            if not hasattr(client, "resolve_url"):
                raise TypeError(
                    f"{venue}: the venue needs a connect request, which {type(client).__name__} cannot make"
                )
            client.resolve_url = self._resolve_url

    # -- the Feed interface -----------------------------------------------------------------------

    @property
    def instruments(self) -> tuple[str, ...]:
        return tuple(k.instrument for k in self.keepers.values())

    def health(self) -> dict[str, VenueHealth]:
        """Instrument -> this venue's health for it (as the keeper sees it)."""
        return {
            k.instrument: VenueHealth(self.venue, k.status, k.last_update_ns, k.reason)
            for k in self.keepers.values()
        }

    async def run(self) -> None:
        """Read frames until :meth:`close` (reconnecting as the client does)."""
        ticker = None
        if self.adapter.session_heartbeats and self._keepalive_s:
            ticker = asyncio.get_running_loop().create_task(self._keepalive(self._keepalive_s))
        on_frame = self._fast or self.on_frame  # the core's TopPath: no Python frame for a routine top
        # the pump (one call per frame) where it reads what frames() yields: a client that maps its
        # payloads in frames() has its own pump (FixClient), others keep frames()
        pump = getattr(self.client, "pump", None)
        if pump is not None and getattr(type(self.client), "frames", None) is not Client.frames:
            pump = None if getattr(type(self.client), "_receive_into", None) is Client._receive_into else pump
        try:
            if pump is not None:
                await pump(on_frame)  # one call per frame, no async generator between
            else:
                time_ns = time.time_ns
                async for frame in self.client.frames():
                    on_frame(frame, time_ns())
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            self._cancel_tasks()
            now = time.time_ns()
            for k in self.keepers.values():
                self._handle(k, k.disconnected("feed stopped"), now)

    async def close(self) -> None:
        """Stop: close the client (every instrument goes STALE), cancel snapshot requests."""
        self._closed = True
        self._cancel_tasks()
        self._stop_pinger()
        await self.client.close()
        if self._own_http and self.http is not None:
            http, self.http = self.http, None
            await http.close()

    # -- frames -----------------------------------------------------------------------------------

    def on_frame(self, frame: Frame, receive_ns: int = 0) -> None:
        """Process one raw frame received at ``receive_ns`` (0: now, ``time.time_ns()``); never raises on bad
        input."""
        fast = self._fast
        if fast is not None:  # the core's TopPath: the routine top in C, anything else to _general
            fast(frame, receive_ns)
            return
        self.stats.frames += 1
        if not receive_ns:
            receive_ns = time.time_ns()
        take = self._take
        if take is not None:  # an eager sink
            pending = take(frame)
            if pending is not None:
                # a routine top of a LIVE instrument, newer than its last and sound, accepted by the core
                # into the keeper's top (TopReader.take): the rest of what BookKeeper.on_snapshot does then
                k = pending.keeper
                k.last = seq = self._reader.seq
                k.stats.snapshots += 1
                if self._seq_ts_ns:
                    ts = seq * self._seq_ts_ns
                    if ts:
                        k.exchange_ts_ns = ts
                self._handle(k, CHANGED, receive_ns)
                return
            # anything else (first top, older, malformed, crossed, other messages): the general path
        self._general(frame, receive_ns)

    def _general(self, frame: Frame, receive_ns: int) -> None:
        """A frame (counted in ``stats.frames``) the core did not take: parse it and hand its events to the
        keepers."""
        stats = self.stats
        try:
            events = self.adapter.parse(frame)
        except FrameError as exc:
            self._bad_frame(frame, exc, exc.symbol, receive_ns)
            return
        except _PARSE_ERRORS as exc:
            self._bad_frame(frame, exc, None, receive_ns)
            return
        if not events:
            stats.control_frames += 1
            return
        keepers = self.keepers
        for ev in events:
            t = type(ev)
            if t is TopSnapshot or t is Delta or t is Snapshot:  # book events first: most frames carry one
                k = keepers.get(ev.symbol)
                if k is None:
                    stats.unroutable += 1
                    continue
                try:
                    if t is Delta:
                        step = k.on_delta(ev)
                    else:
                        step = k.on_snapshot(ev)
                        if self._snap_events:
                            event = self._snap_events.get(k.symbol)
                            if event is not None:
                                event.set()
                except Exception as exc:  # a bug must not take the other instruments down
                    log.exception("%s %s: unexpected error on %s", self.venue, k.instrument, t.__name__)
                    step = k.fail(Fault.INTERNAL, f"{type(exc).__name__}: {exc}"[:160])
                lazy = self._publish_lazy
                if step is CHANGED and lazy is not None:  # the usual outcome: mark the instrument, latest wins
                    pending = self._pending[k.symbol]
                    pending.receive_ns = receive_ns
                    lazy(pending)
                else:
                    self._handle(k, step, receive_ns)
                continue
            if type(ev) is Heartbeat:
                targets = (
                    keepers.values() if ev.symbol is None else [keepers[ev.symbol]] if ev.symbol in keepers else ()
                )
                for k in targets:
                    self._handle(k, k.on_heartbeat(), receive_ns)
                continue
            if type(ev) is Reconnect:
                stats.reconnect_requests += 1
                self.client.request_reconnect(ev.reason or "requested by the venue")
                continue
            if type(ev) is Reply:
                self._send_soon(ev.data)
                continue
            found = keepers.get(ev.symbol)
            if found is None:
                stats.unroutable += 1
                continue
            k = found
            try:
                if type(ev) is Delta:
                    step = k.on_delta(ev)
                elif type(ev) is TopSnapshot or type(ev) is Snapshot:
                    step = k.on_snapshot(ev)
                    event = self._snap_events.get(k.symbol)
                    if event is not None:
                        event.set()
                elif type(ev) is Rejected:
                    log.warning("%s %s: subscription rejected: %s", self.venue, k.instrument, ev.reason)
                    step = k.on_rejected(ev.reason)
                else:
                    raise TypeError(f"not a feed event: {ev!r}")
            except Exception as exc:  # a bug must not take the other instruments down
                log.exception("%s %s: unexpected error on %s", self.venue, k.instrument, type(ev).__name__)
                step = k.fail(Fault.INTERNAL, f"{type(exc).__name__}: {exc}"[:160])
            self._handle(k, step, receive_ns)

    def _handle(self, k: BookKeeper, step: Step, receive_ns: int) -> None:
        if step.fault:
            self._log_fault(k, step)
        if step.publish:
            lazy = self._publish_lazy
            if lazy is not None:
                pending = self._pending[k.symbol]
                pending.receive_ns = receive_ns
                lazy(pending)
            else:
                update = self._emit(k, receive_ns)
                if update is not None:
                    self.sink.publish(update)
        if step.need_snapshot:
            self._request(k)

    def _emit(self, k: BookKeeper, receive_ns: int) -> BookUpdate | None:
        """The keeper's update now (None: nothing new for the aggregator), counted."""
        update = k.emit(receive_ns)
        if update is not None:
            self.stats.published += 1
            if update.status is _LIVE and k.symbol in self._troubled:
                self._troubled.discard(k.symbol)
                log.info("%s %s: live again", self.venue, k.instrument)
        return update

    def _log_fault(self, k: BookKeeper, step: Step) -> None:
        """A warning for the first fault of an episode (until the instrument is LIVE again), then debug."""
        self.stats.faults += 1
        s = k.stats
        first = k.symbol not in self._troubled
        self._troubled.add(k.symbol)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s %s: %s (%s); resync #%d, out of the world view until consistent "
            "[symbol=%s applied=%d gaps=%d checksum_errors=%d crossed=%d invalid=%d bad_frames=%d]",
            self.venue,
            k.instrument,
            step.fault.value if step.fault else "",
            step.detail,
            s.resyncs,
            k.symbol,
            s.applied,
            s.gaps,
            s.checksum_errors,
            s.crossed,
            s.invalid,
            s.bad_frames,
        )

    def _bad_frame(self, frame: Frame, exc: BaseException, symbol: str | None, receive_ns: int) -> None:
        self.stats.bad_frames += 1
        detail = f"{type(exc).__name__}: {exc}"[:160]
        k = self.keepers.get(symbol) if symbol else None
        if k is not None:  # the fault is logged with the instrument
            self._handle(k, k.fail(Fault.BAD_FRAME, f"{detail}; frame starts {frame[:80]!r}"), receive_ns)
            return
        if not self._bad_logged:
            self._bad_logged = True
            log.warning("%s: malformed frame #%d skipped (%s); frame starts %r (logged once per connection)",
                        self.venue, self.stats.bad_frames, detail, frame[:160])
        else:
            log.debug("%s: malformed frame skipped: %s", self.venue, detail)
        if not self._loses_data:
            return  # a top-N feed: the next snapshot repairs whatever the frame carried
        # the frame may have carried any instrument's delta: instruments whose rule would notice
        # a lost delta wait for that; the others resync now
        if self.adapter.rule.detects_loss or self.adapter.checksum is not None:
            if not isinstance(exc, DragonflyError) or isinstance(exc, (FrameError, ExtractError)):
                return  # a malformed frame (a connection-wide loss, e.g. SequenceGapError, resyncs all)
        for k in self.keepers.values():
            if not k.awaiting_snapshot:
                self._handle(k, k.fail(Fault.BAD_FRAME, detail), receive_ns)

    # -- connection events ------------------------------------------------------------------------

    async def _on_connect(self, client: Client) -> None:
        self._generation += 1
        self._connected = True
        self._bad_logged = False
        self.adapter.connected()
        for out in self.adapter.subscribe(list(self.keepers)):
            await client.send(out)
        interval = self.adapter.ping_interval_s
        if interval:
            self._stop_pinger()
            self._pinger = asyncio.get_running_loop().create_task(self._ping(interval), name=f"ping:{self.venue}")
        now = time.time_ns()
        for k in self.keepers.values():
            self._handle(k, k.connected(), now)

    def _on_disconnect(self, client: Client, reason: str) -> None:
        self._connected = False
        self._generation += 1
        self._cancel_tasks()
        self._stop_pinger()
        now = time.time_ns()
        for k in self.keepers.values():
            self._handle(k, k.disconnected(f"disconnected: {reason}"), now)

    def _on_gap(self, client: Client, reason: str) -> None:
        """The transport lost application data it will not resend: every book may be wrong."""
        self.stats.data_losses += 1
        if not self.adapter.gap_sensitive:
            return
        now = time.time_ns()
        for k in self.keepers.values():
            if not k.awaiting_snapshot:
                self._handle(k, k.fail(Fault.GAP, f"transport lost data: {reason}"), now)

    async def _keepalive(self, period: float) -> None:
        while True:
            await asyncio.sleep(period / 2)  # a timer: the period itself
            if self.client.alive:  # only while the venue is heard from: a silent one is not kept alive
                now = time.time_ns()
                for k in self.keepers.values():
                    self._handle(k, k.on_heartbeat(), now)

    # -- what the venue needs besides subscriptions ------------------------------------------------

    async def _resolve_url(self) -> str:
        """The connect request (e.g. a token for this connection), then the URL from its answer."""
        symbols = list(self.keepers)
        req = self.adapter.connect_request(symbols)
        resp = await self._http().request(req.method, req.url, json=req.json)
        if resp.status != 200:
            raise VenueError(f"{self.venue}: connect request -> HTTP {resp.status}", venue=self.venue, code=resp.status)
        return str(self.adapter.connect_url(symbols, resp.body))

    async def _ping(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)  # a timer: the venue's ping period
            try:
                await self.client.send(self.adapter.ping())
            except DragonflyError as exc:  # not connected: the reconnect restarts the pings
                log.debug("%s: ping not sent: %s", self.venue, exc)
                return

    def _stop_pinger(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            self._pinger = None

    def _send_soon(self, data: Any) -> None:
        """Send a reply the venue asked for (from the frame loop, which cannot await)."""

        async def send() -> None:
            try:
                await self.client.send(data)
            except DragonflyError as exc:
                log.info("%s: reply not sent: %s", self.venue, exc)

        task = asyncio.get_running_loop().create_task(send())
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    # -- snapshots --------------------------------------------------------------------------------

    def _request(self, k: BookKeeper) -> None:
        if self._closed or not self._connected or self._source == SnapshotSource.STREAM:
            return  # on (re)connect every instrument is resynced; a top-N feed's next message is one
        task = self._tasks.get(k.symbol)
        if task is not None and not task.done():
            return
        coro = self._fetch(k) if self._source == SnapshotSource.REST else self._resubscribe(k)
        self._tasks[k.symbol] = asyncio.get_running_loop().create_task(coro, name=f"snapshot:{self.venue}:{k.symbol}")

    def _cancel_tasks(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        self._tasks.clear()

    async def _fetch(self, k: BookKeeper) -> None:
        generation = self._generation
        delay = 0.05
        while not self._closed and generation == self._generation and k.awaiting_snapshot:
            http = self._http()
            try:
                async with self.limiter:
                    self.stats.snapshot_requests += 1
                    resp = await http.get(self.adapter.snapshot_url(k.symbol))
                if resp.status != 200:
                    raise VenueError(
                        f"{self.venue}: snapshot of {k.symbol} -> HTTP {resp.status}",
                        venue=self.venue,
                        code=resp.status,
                    )
                snap = self.adapter.parse_snapshot(k.symbol, resp.body)
            except asyncio.CancelledError:
                raise
            except (OSError, asyncio.TimeoutError, *_PARSE_ERRORS) as exc:
                self.stats.snapshot_failures += 1
                text = f"{type(exc).__name__}: {exc}"
                redact = getattr(http, "redact", None)  # an answer may echo the request's API key
                log.warning("%s %s: snapshot request failed (%s); retrying in %.2fs", self.venue, k.symbol,
                            (redact(text) if redact is not None else text)[:200], delay)
                await asyncio.sleep(delay)  # retry backoff
                delay = min(delay * 2, 5.0)
                continue
            if generation != self._generation:
                return  # the connection changed meanwhile: the new one resyncs
            step = k.on_snapshot(snap)
            self._handle(k, step, time.time_ns())  # (a new request from here is this very task)
            if not step.need_snapshot:
                return
            # a fault while replaying the buffer, or a snapshot older than it: go again

    async def _resubscribe(self, k: BookKeeper) -> None:
        generation = self._generation
        event = self._snap_events.setdefault(k.symbol, asyncio.Event())
        while not self._closed and generation == self._generation and k.awaiting_snapshot:
            event.clear()
            try:
                async with self.limiter:
                    self.stats.resubscribes += 1
                    for out in self.adapter.resubscribe(k.symbol):
                        await self.client.send(out)
            except DragonflyError as exc:  # not connected: the reconnect resyncs
                log.info("%s %s: re-subscribe failed: %s", self.venue, k.symbol, exc)
                return
            try:
                await asyncio.wait_for(event.wait(), self._snapshot_timeout_s)
            except asyncio.TimeoutError:
                log.warning("%s %s: no snapshot %.3gs after re-subscribing; again", self.venue, k.symbol,
                            self._snapshot_timeout_s)

    def _http(self) -> Any:
        if self.http is None:
            from ..clients.http import HttpClient

            self.http = HttpClient()
            self._own_http = True
        return self.http

    def __repr__(self) -> str:
        live = sum(k.status is _LIVE for k in self.keepers.values())
        return f"<FeedDriver {self.venue} {live}/{len(self.keepers)} live>"

