"""The driver's fast path for top-N frames against the general path (``adapter.parse`` ->
``BookKeeper.on_snapshot``), on both core twins: with a latest-wins sink the core's ``TopPath`` (the callable
the pump gets: the whole routine frame in the core), with an eager sink ``TopReader.take`` into the keeper's top.

Two feeds of the same venue read the same frames: one whose driver uses the fast path, one whose adapter's
reader was claimed before its driver was built (so every frame takes the general path). After every frame,
connection event and drain, both must agree on everything observable: feed and keeper counters, statuses,
reasons, sequence positions, exchange times, tops, what the sinks hold and deliver, and the log lines.
"""

from __future__ import annotations

import logging
import random
import time
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly.clients.base import ClientStats
from dragonfly.listeners import BookKeeper, FeedDriver
from dragonfly.listeners import driver as driver_module
from dragonfly.listeners import keeper as keeper_module
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.queues import KeyedQueue
from dragonfly.venues import base as base_module
from dragonfly.venues import create_feed, get_venue

LIVE = VenueStatus.LIVE
INSTRUMENTS = ("ETH-BTC", "BTC-USDT")


class FakeClient:
    def __init__(self) -> None:
        self.stats = ClientStats()
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        self.on_gap: Any = None
        self.reconnects: list[str] = []
        self.sent: list[Any] = []

    async def send(self, data: Any) -> None:
        self.sent.append(data)

    def request_reconnect(self, reason: str = "") -> None:
        self.reconnects.append(reason)


class ListSink:
    def __init__(self) -> None:
        self.items: list[BookUpdate] = []

    def publish(self, u: BookUpdate) -> None:
        self.items.append(u)


class Clock:
    """The driver's ``time`` in these tests: connection events at the step's time in both feeds."""

    now = 0

    @classmethod
    def time_ns(cls) -> int:
        return cls.now


def _key(u: BookUpdate) -> tuple[str, str]:
    return (u.venue, u.instrument)


@pytest.fixture
def twin(core_impl: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Feeds built in the test use the ``core_impl`` twin of the reader, the extractor and the keeper's top."""
    topn: ModuleType = core_module("topn", core_impl)
    extract: ModuleType = core_module("extract", core_impl)
    monkeypatch.setattr(base_module, "TopReader", topn.TopReader)
    monkeypatch.setattr(base_module, "TopExtractor", extract.TopExtractor)
    monkeypatch.setattr(keeper_module, "TopState", topn.TopState)
    return core_impl


def _levels(levels: list[tuple[float, float]]) -> str:
    return ",".join(f'["{p:.2f}","{q:g}"]' for p, q in levels)


class Frames:
    """Frames of one venue for the random runs: good tops, and every kind of trouble."""

    def __init__(self, venue: str, symbols: list[str]) -> None:
        self.venue = venue
        self.symbols = symbols
        self.seq = dict.fromkeys(symbols, 1000)
        self.last_top: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {}

    def frame(self, symbol: str, seq: int | str, bids: list[tuple[float, float]],
              asks: list[tuple[float, float]]) -> str:
        if self.venue == "binance":
            return (f'{{"stream":"{symbol}","data":{{"lastUpdateId":{seq},"bids":[{_levels(bids)}],'
                    f'"asks":[{_levels(asks)}]}}}}')
        return (f'{{"data":{{"timestamp":"1","microtimestamp":"{seq}","bids":[{_levels(bids)}],'
                f'"asks":[{_levels(asks)}]}},"channel":"{symbol}","event":"data"}}')

    def top(self, rng: random.Random) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        mid = rng.choice([100.0, 100.5, 101.0])
        bids = [(mid - 0.25 * (i + 1), float(rng.randint(1, 3))) for i in range(4)]
        asks = [(mid + 0.25 * (i + 1), float(rng.randint(1, 3))) for i in range(4)]
        return bids, asks

    def make(self, kind: str, rng: random.Random) -> str:
        symbol = rng.choice(self.symbols)
        bids, asks = self.top(rng)
        if kind == "good":
            self.seq[symbol] += rng.randint(1, 3)
        elif kind == "same_top":
            self.seq[symbol] += 1
            bids, asks = self.last_top.get(symbol, (bids, asks))
        elif kind == "zero":
            self.seq[symbol] = 0
        elif kind == "huge":  # 19 digits: the reader declines it, the keeper keeps it (later frames are older)
            return self.frame(symbol, 10**18 + rng.randint(0, 9), bids, asks)
        seq = self.seq[symbol]
        if kind in ("good", "same_top", "zero", "equal"):
            self.last_top[symbol] = (bids, asks)
            return self.frame(symbol, seq, bids, asks)
        if kind == "stale":
            return self.frame(symbol, max(seq - rng.randint(1, 5), 0), bids, asks)
        seq = self.seq[symbol] = seq + 1
        if kind == "crossed":
            return self.frame(symbol, seq, [(asks[0][0] + 0.5, 1.0), *bids[1:]], asks)
        if kind == "unsorted":
            return self.frame(symbol, seq, [bids[1], bids[0], *bids[2:]], asks)
        if kind == "malformed":
            return self.frame(symbol, seq, bids, asks).replace('"1"]', '"x"]', 1).replace('"2"]', '"x"]', 1)
        if kind == "loose":  # valid JSON in another spelling: the adapter's general route
            text = self.frame(symbol, seq, bids, asks)
            return text.replace('{"stream"', '{ "stream"') if self.venue == "binance" else text[:-1] + " }"
        if kind == "other":
            return self.frame("btceur@depth20@100ms" if self.venue == "binance" else "order_book_btceur", seq, bids,
                              asks)
        if kind == "control":
            if self.venue == "binance":
                return '{"result":null,"id":1}'
            return rng.choice(['{"event":"bts:subscription_succeeded","channel":"order_book_ethbtc","data":{}}',
                               '{"event":"bts:request_reconnect","channel":"","data":""}'])
        if kind == "garbage":
            return rng.choice(["not json", '{"stream":"', "[1,2"])
        raise AssertionError(kind)


KINDS = {
    "good": 50, "same_top": 8, "equal": 4, "stale": 5, "zero": 1, "huge": 1, "crossed": 4, "unsorted": 3,
    "malformed": 4, "loose": 5, "other": 3, "control": 3, "garbage": 2, "disconnect": 2, "connect": 2, "drain": 10,
}


def _state(feed: Any, sink: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"feed": {k: v for k, v in feed.stats.as_dict().items() if k != "client"}}
    for symbol, k in feed.keepers.items():
        out[symbol] = (k.status, k.reason, k.last, k.exchange_ts_ns, k.awaiting_snapshot, k.top(),
                       k.last_update_ns, k.stats.as_dict())
    if isinstance(sink, KeyedQueue):
        out["queue"] = (len(sink), sink.published, sink.conflated, sink.dropped)
    else:
        out["queue"] = list(sink.items)
    return out


def _invariant(feed: Any) -> None:
    """The keeper's core top holds a top exactly while LIVE, at the keeper's sequence position."""
    for k in feed.keepers.values():
        top = k.reader_top
        assert top is not None
        assert top.held == (k.status is LIVE)
        if top.held:
            assert top.seq == k.last


def _feeds(venue: str, lazy: bool, max_keys: int = 1024) -> tuple[list[Any], list[Any], list[FakeClient]]:
    """The same feed twice: its own driver (fast path), and a driver built on an adapter whose reader another
    driver claimed first (general path only)."""
    feeds, sinks, clients = [], [], []
    for fast in (True, False):
        sink: Any = KeyedQueue(_key, max_keys=max_keys) if lazy else ListSink()
        client = FakeClient()
        feed = create_feed(get_venue(venue), instruments=list(INSTRUMENTS), depth=3, sink=sink, keepalive_s=3600.0,
                           client=client)
        if not fast:
            feed = FeedDriver(venue=feed.venue, adapter=feed.adapter, client=client,
                              keepers=list(feed.keepers.values()), sink=sink, keepalive_s=3600.0)
        feeds.append(feed)
        sinks.append(sink)
        clients.append(client)
    return feeds, sinks, clients


#: sink modes: eager (a list: TopReader.take and the driver's Python), and latest-wins queues (the core's TopPath):
#: roomy, at its key bound from the second instrument on, or closed halfway through the run
SINKS = ("eager", "latest-wins", "bound", "closing")


@pytest.fixture
def general_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any, int]]:
    """Every call of ``FeedDriver._general`` (the frames the fast path left to Python): (driver, frame, receive_ns)."""
    calls: list[tuple[Any, Any, int]] = []
    real = FeedDriver._general

    def spy(self: FeedDriver, frame: Any, receive_ns: int) -> None:
        calls.append((self, frame, receive_ns))
        real(self, frame, receive_ns)

    monkeypatch.setattr(FeedDriver, "_general", spy)
    return calls


@pytest.mark.parametrize("venue", ["binance", "bitstamp"])
@pytest.mark.parametrize("mode", SINKS)
@pytest.mark.parametrize("seed", range(4))
async def test_fast_path_leaves_what_the_general_path_leaves(
    twin: str, venue: str, mode: str, seed: int, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
    general_calls: list[tuple[Any, Any, int]],
) -> None:
    monkeypatch.setattr(driver_module.log, "disabled", False)  # a logging configuration elsewhere may disable it
    monkeypatch.setattr(driver_module, "time", Clock)
    caplog.set_level(logging.DEBUG, logger="dragonfly")
    lazy = mode != "eager"
    (fast, general), (fast_sink, general_sink), (fast_client, general_client) = _feeds(
        venue, lazy, max_keys=1 if mode == "bound" else 1024
    )
    assert fast._take is not None and general._take is None and general._fast is None
    taken = 0
    if lazy:  # the core's TopPath does the whole frame
        path = fast._path
        assert type(path) is core_module("topn", twin).TopPath and fast._fast == path.on_frame
    else:  # TopReader.take, then the driver's Python
        assert fast._fast is None
        take = fast._take

        def counting_take(frame: Any) -> Any:
            nonlocal taken
            got = take(frame)
            taken += got is not None
            return got

        fast._take = counting_take
    rng = random.Random(seed)
    frames = Frames(venue, list(fast.keepers))
    kinds, weights = list(KINDS), list(KINDS.values())
    handed = 0
    for step in range(600):
        kind = "connect" if step == 0 else rng.choices(kinds, weights)[0]
        if mode == "closing" and step == 300:
            kind = "close"
        text = "" if kind in ("disconnect", "connect", "drain", "close") else frames.make(kind, rng)
        Clock.now = 1_000 * (step + 1)
        # how the fast feed gets the frame: the path with the receive time, without it (the core reads the clock),
        # or FeedDriver.on_frame (which hands it to the path)
        how = rng.choice(("path", "path-clock", "method", "on_frame")) if lazy else "on_frame"
        logs = []
        results = []
        for feed, sink, client in ((fast, fast_sink, fast_client), (general, general_sink, general_client)):
            caplog.clear()
            if kind == "disconnect":
                feed._on_disconnect(client, "test")
            elif kind == "connect":
                await feed._on_connect(client)
            elif kind == "drain":
                results.append(sink.drain() if lazy else None)
            elif kind == "close":
                sink.close()
            elif feed is general:
                if how == "path-clock":
                    general.on_frame(text)  # at the fast one's receive time (Clock.now, set below)
                else:
                    general.on_frame(text, Clock.now)
            elif how == "path-clock":
                before = time.time_ns()
                path(text)
                after = time.time_ns()
                assert before <= path.last_receive_ns <= after  # CLOCK_REALTIME, as time.time_ns()
                Clock.now = path.last_receive_ns
                handed += 1
            elif how == "path":
                path(text, Clock.now)
                assert path.last_receive_ns == Clock.now
                handed += 1
            elif how == "method":  # what the pump gets
                fast._fast(text, Clock.now)
                handed += 1
            else:
                feed.on_frame(text, Clock.now)
                handed += 1
            logs.append([(r.levelno, r.getMessage()) for r in caplog.records])
            results.append(_state(feed, sink))
            _invariant(feed)
        half = len(results) // 2
        assert results[:half] == results[half:], (step, kind, how, text)
        assert logs[0] == logs[1], (step, kind, how, text)
    assert fast_client.reconnects == general_client.reconnects
    left = [c for c in general_calls if c[0] is fast]
    assert all(receive_ns > 0 for _, _, receive_ns in left)  # the general path always gets the receive time
    if lazy:
        taken = handed - len(left)
    assert taken > 100  # the fast path took its share of the routine frames
    assert fast.stats.faults > 0 and fast.stats.bad_frames > 0  # and the general path its share of trouble
    assert sum(k.stats.skipped for k in fast.keepers.values()) > 0
    if mode == "bound":
        assert fast_sink.dropped > 0  # the second instrument found the queue at its bound
    if lazy:
        assert fast_sink.conflated > 50  # the routine mark: the Lazy still waiting


async def test_a_second_driver_on_the_same_adapter_takes_the_general_path(twin: str) -> None:
    q: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(_key)
    first = create_feed(get_venue("binance"), instruments=["ETH-BTC"], depth=3, sink=q, client=FakeClient())
    (k1,) = first.keepers.values()
    k2 = BookKeeper(venue="other", instrument="ETH-BTC", symbol=k1.symbol, depth=3, rule=first.adapter.rule,
                    full_book=False)
    second = FeedDriver(venue="other", adapter=first.adapter, client=FakeClient(), keepers=[k2], sink=q)
    assert first._take is not None and second._take is None  # the reader stays bound to the first one's keepers
    frames = Frames("binance", [k1.symbol])
    rng = random.Random(1)
    for i in range(20):  # the two feeds' frames interleave
        feed, keeper = (first, k1) if i % 2 else (second, k2)
        feed.on_frame(frames.make("good", rng), i + 1)
        assert keeper.status is LIVE and keeper.last == frames.seq[k1.symbol]
    assert k1.stats.snapshots == k2.stats.snapshots == 10 and first.stats.frames == second.stats.frames == 10
    assert {u.venue: u.status for u in q.drain().values()} == {"binance": LIVE, "other": LIVE}


async def test_the_pump_gets_the_core_path(twin: str, general_calls: list[tuple[Any, Any, int]]) -> None:
    """``FeedDriver.run`` hands a pump the core's callable, which takes every routine frame without the driver."""
    rng = random.Random(3)
    frames = Frames("binance", ["ethbtc@depth20@100ms"])
    texts = [frames.make("good", rng) for _ in range(5)]

    class PumpClient(FakeClient):
        got: Any = None

        async def pump(self, on_frame: Any) -> None:
            self.got = on_frame
            for text in texts:
                on_frame(text)

    q: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(_key)
    client = PumpClient()
    feed = create_feed(get_venue("binance"), instruments=["ETH-BTC"], depth=3, sink=q, client=client)
    await feed._on_connect(client)
    before = time.time_ns()
    await feed.run()
    (k,) = feed.keepers.values()
    assert client.got == feed._path.on_frame and type(feed._path) is core_module("topn", twin).TopPath
    assert [c[1] for c in general_calls] == texts[:1]  # the first top only: the rest went the core's way
    assert before <= general_calls[0][2] <= time.time_ns()
    assert (feed.stats.frames, k.stats.snapshots, k.stats.resyncs) == (5, 5, 0)
    # marked once (the connect), then counted: the first top, four routine frames, the stop; the update is built
    # at the drain
    assert (len(q), q.published, q.conflated) == (1, 7, 6)
    update = q.drain()[("binance", "ETH-BTC")]
    assert (update.status, update.reason) == (VenueStatus.STALE, "feed stopped")
