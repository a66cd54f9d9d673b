"""The FIX market-data feed: subscribe with 35=V, keep books from 35=W / 35=X, forward the top N.

One :class:`FixBookListener` per instrument keeps a price-level book (price ->
size per side) from the snapshot and the incrementals, and publishes a
:class:`~dragonfly.model.BookUpdate` when its top N changed. Bad data (a
malformed group, a negative size, a crossed book, an incremental for a level
the book never had) puts only that instrument back to SYNCING and re-requests
its snapshot; a sequence gap the venue gap-filled, a reject (35=Y) or a
disconnect make the instruments SYNCING/STALE until a new snapshot arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from ..._core.fix import FixMessage, MarketData, market_data
from ...clients.base import Client, FeedTask
from ...clients.fix import FixClient
from ...errors import FixParseError
from ...model import BookUpdate, Side, VenueStatus
from ...queues import Sink

__all__ = ("FixBookListener", "FixFeedStats", "FixMarketDataFeed")

log = logging.getLogger(__name__)


class FixFeedStats:
    """Counters of one FIX feed."""

    __slots__ = (
        "bad_messages",
        "incrementals",
        "messages",
        "other",
        "rejects",
        "resubscribes",
        "snapshots",
        "unroutable",
    )

    def __init__(self) -> None:
        self.messages = 0
        self.snapshots = 0  #: 35=W
        self.incrementals = 0  #: 35=X
        self.rejects = 0  #: 35=Y
        self.bad_messages = 0  #: market data that failed to decode
        self.unroutable = 0  #: entries for symbols or requests we did not ask for
        self.resubscribes = 0
        self.other = 0  #: other application messages

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class _ListenerStats:
    __slots__ = ("bad_frames", "forwarded", "incrementals", "keepalives", "snapshots", "status_changes", "unchanged")

    def __init__(self) -> None:
        self.keepalives = 0
        self.snapshots = 0
        self.incrementals = 0
        self.forwarded = 0
        self.unchanged = 0
        self.bad_frames = 0
        self.status_changes = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class FixBookListener:
    """Book of one instrument on one FIX venue (layer 3)."""

    def __init__(self, *, venue: str, instrument: str, symbol: str, depth: int, sink: Sink[BookUpdate]) -> None:
        if not hasattr(sink, "publish"):
            raise TypeError("sink must have a publish() method")
        self.venue = venue
        self.instrument = instrument
        self.symbol = symbol
        self.depth = depth
        self.sink = sink
        self.stats = _ListenerStats()
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.req_id = ""
        self.synced = False
        self.status = VenueStatus.SYNCING
        self.last_publish = 0.0  # monotonic time of the last LIVE update published
        self._last: tuple[Side, Side] | None = None

    def set_status(self, status: VenueStatus, reason: str) -> None:
        if status is not VenueStatus.LIVE:
            self.synced = False
            self._last = None
        if status is self.status and status is not VenueStatus.LIVE:
            return
        self.status = status
        self.stats.status_changes += 1
        self.sink.publish(BookUpdate(self.venue, self.instrument, (), (), status, 0, time.time_ns(), reason))

    def snapshot(self, md: MarketData, idx: list[int], receive_ns: int) -> str:
        """Replace the book with entries ``idx`` of a 35=W; return "" or why it is bad."""
        bids: dict[float, float] = {}
        asks: dict[float, float] = {}
        for i in idx:
            p = md.price(i)
            q = md.size(i)
            if not (p > 0 and q > 0):
                return f"snapshot level {p!r} x {q!r} is not positive"
            (bids if md.side(i) == 0 else asks)[p] = q
        self.bids, self.asks = bids, asks
        self.synced = True
        self.stats.snapshots += 1
        return self._publish(receive_ns)

    def incremental(self, md: MarketData, idx: list[int], receive_ns: int) -> str:
        """Apply entries ``idx`` of a 35=X; return "" or why it is bad."""
        if not self.synced:
            return ""  # waiting for the snapshot
        for i in idx:
            book = self.bids if md.side(i) == 0 else self.asks
            p = md.price(i)
            act = md.action(i)
            if act == 2:
                if book.pop(p, None) is None:
                    return f"delete of unknown level {p!r}"
                continue
            q = md.size(i)
            if not (p > 0 and q >= 0):
                return f"level {p!r} x {q!r} is negative"
            if act == 1 and p not in book:
                return f"change of unknown level {p!r}"
            if q == 0:
                book.pop(p, None)
            else:
                book[p] = q
        self.stats.incrementals += 1
        return self._publish(receive_ns)

    def _publish(self, receive_ns: int) -> str:
        d = self.depth
        bids = tuple(sorted(self.bids.items(), reverse=True)[:d])
        asks = tuple(sorted(self.asks.items())[:d])
        if bids and asks and bids[0][0] >= asks[0][0]:
            return f"crossed book: bid {bids[0][0]!r} >= ask {asks[0][0]!r}"
        top = (bids, asks)
        if top == self._last and self.status is VenueStatus.LIVE:
            self.stats.unchanged += 1
            return ""
        self._last = top
        self.status = VenueStatus.LIVE
        self.stats.forwarded += 1
        self.last_publish = time.monotonic()
        self.sink.publish(BookUpdate(self.venue, self.instrument, bids, asks, VenueStatus.LIVE, 0, receive_ns))
        return ""

    def keepalive(self, now: float, period: float) -> None:
        """Re-publish an unchanged LIVE book when nothing was published for ``period`` seconds
        (the session's heartbeats prove the venue is alive; the aggregator needs an update)."""
        last = self._last
        if self.status is VenueStatus.LIVE and last is not None and now - self.last_publish >= period:
            self.last_publish = now
            self.stats.keepalives += 1
            self.sink.publish(BookUpdate(self.venue, self.instrument, last[0], last[1], VenueStatus.LIVE, 0,
                                         time.time_ns()))


class FixMarketDataFeed(FeedTask):
    """Subscribe a :class:`~dragonfly.clients.fix.FixClient` to top-N books and feed the listeners.

    Parameters
    ----------
    venue : str
    client : FixClient
        Its ``on_connect``/``on_disconnect``/``on_gap`` hooks are taken over.
    listeners : Mapping[str, FixBookListener]
        Wire symbol (55) -> listener.
    depth : int
        MarketDepth (264) asked for.
    incremental : bool
        MDUpdateType (265): 1 (35=X after the snapshot) or 0 (35=W each time).
    """

    def __init__(self, *, venue: str, client: FixClient, listeners: Mapping[str, FixBookListener], depth: int,
                 incremental: bool = True, keepalive_s: float | None = 1.0) -> None:
        self.venue = venue
        self.client = client
        self.listeners: dict[str, FixBookListener] = dict(listeners)
        self.depth = depth
        self.incremental = incremental
        self.keepalive_s = keepalive_s
        self.stats = FixFeedStats()
        self.error: BaseException | None = None
        self._by_req: dict[str, FixBookListener] = {}
        self._req_n = 0
        self._task: asyncio.Task[None] | None = None
        self.task_name = f"feed:{self.venue}"
        self._resync: set[str] = set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_gap = self._on_gap

    # -- subscriptions -------------------------------------------------------------------------
    def _request(self, lst: FixBookListener) -> list[tuple[int, object]]:
        self._req_n += 1
        old = lst.req_id
        if old:
            self._by_req.pop(old, None)
        lst.req_id = f"{lst.symbol}:{self._req_n}"
        self._by_req[lst.req_id] = lst
        return [(262, lst.req_id), (263, 1), (264, self.depth), (265, 1 if self.incremental else 0),
                (267, 2), (269, 0), (269, 1), (146, 1), (55, lst.symbol)]

    async def _subscribe(self, lst: FixBookListener) -> None:
        old = lst.req_id
        if old and self.client.connected:
            await self.client.send_message("V", [(262, old), (263, 2), (264, self.depth), (267, 2), (269, 0),
                                                 (269, 1), (146, 1), (55, lst.symbol)])
        await self.client.send_message("V", self._request(lst))

    async def _on_connect(self, client: Client) -> None:
        for lst in self.listeners.values():
            lst.req_id = ""
            lst.set_status(VenueStatus.SYNCING, "logged on, waiting for the snapshot")
            await self._subscribe(lst)

    def _on_disconnect(self, client: Client, reason: str) -> None:
        for lst in self.listeners.values():
            lst.set_status(VenueStatus.STALE, f"disconnected: {reason}")

    def _on_gap(self, client: FixClient, first: int, last: int) -> None:
        # the venue skipped messages instead of resending them: books may have missed incrementals
        if not self.incremental:
            return
        for lst in self.listeners.values():
            self._resync_later(lst, f"sequence numbers {first}..{last} were gap-filled")

    def _resync_later(self, lst: FixBookListener, reason: str) -> None:
        log.warning("%s %s: resync: %s", self.venue, lst.instrument, reason)
        lst.set_status(VenueStatus.SYNCING, reason)
        self._resync.add(lst.symbol)

    async def _flush_resync(self) -> None:
        todo, self._resync = self._resync, set()
        for sym in todo:
            lst = self.listeners.get(sym)
            if lst is not None and self.client.connected:
                self.stats.resubscribes += 1
                await self._subscribe(lst)

    # -- messages --------------------------------------------------------------------------------
    def on_message(self, msg: FixMessage, receive_ns: int) -> None:
        """Route one application message (public for tests and replays)."""
        stats = self.stats
        stats.messages += 1
        mt = msg.msg_type
        if mt == "W" or mt == "X":
            try:
                md = market_data(msg)
            except FixParseError as exc:
                stats.bad_messages += 1
                lst = self._by_req.get(msg.get_str(262)) or self.listeners.get(msg.get_str(55))
                log.warning("%s: bad 35=%s dropped (%s, tag %d): %s", self.venue, mt, exc.reason, exc.tag, exc)
                if lst is not None:
                    self._resync_later(lst, f"bad market data: {exc.reason}")
                return
            if mt == "W":
                stats.snapshots += 1
                lst = self._by_req.get(md.md_req_id) if md.md_req_id else self.listeners.get(md.symbol)
                if lst is None or (md.symbol and md.symbol != lst.symbol):
                    stats.unroutable += 1
                    return
                err = lst.snapshot(md, list(range(len(md))), receive_ns)
                if err:
                    lst.stats.bad_frames += 1
                    self._resync_later(lst, err)
                return
            stats.incrementals += 1
            groups: dict[str, list[int]] = {}
            for i in range(len(md)):
                groups.setdefault(md.entry_symbol(i), []).append(i)
            req_lst = self._by_req.get(md.md_req_id) if md.md_req_id else None
            if md.md_req_id and req_lst is None:
                stats.unroutable += 1  # an old subscription's tail
                return
            for sym, idx in groups.items():
                lst = self.listeners.get(sym) if sym else req_lst
                if lst is None:
                    stats.unroutable += 1
                    continue
                err = lst.incremental(md, idx, receive_ns)
                if err:
                    lst.stats.bad_frames += 1
                    self._resync_later(lst, err)
            return
        if mt == "Y":
            stats.rejects += 1
            lst = self._by_req.get(msg.get_str(262))
            text = msg.get_str(58) or f"reason {msg.get_str(281)}"
            log.warning("%s: MarketDataRequest %s rejected: %s", self.venue, msg.get_str(262), text)
            if lst is not None:
                lst.set_status(VenueStatus.STALE, f"request rejected: {text}")
            return
        stats.other += 1

    async def run(self) -> None:
        """Consume the client's messages until it is closed."""
        time_ns = time.time_ns
        ticker = None
        if self.keepalive_s:
            ticker = asyncio.get_running_loop().create_task(self._keepalive(self.keepalive_s))
        try:
            async for msg in self.client.messages():
                self.on_message(msg, time_ns())
                if self._resync:
                    await self._flush_resync()
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            for lst in self.listeners.values():
                lst.set_status(VenueStatus.STALE, "feed stopped")

    async def _keepalive(self, period: float) -> None:
        while True:
            await asyncio.sleep(period / 2)
            session = self.client.session
            # only while the venue is heard from (its heartbeats count): a silent venue is not kept alive
            if session is not None and not session.closed and session.silent_for <= session.heartbeat_s * 1.2:
                now = time.monotonic()
                for lst in self.listeners.values():
                    lst.keepalive(now, period)

    async def close(self) -> None:
        """Log out and close; every instrument goes STALE."""
        await self.client.close()

    def listener_stats(self) -> dict[str, dict[str, int]]:
        return {lst.instrument: lst.stats.as_dict() for lst in self.listeners.values()}

    def __repr__(self) -> str:
        return f"<FixMarketDataFeed {self.venue} instruments={[lst.instrument for lst in self.listeners.values()]}>"
