"""Layers 3 and 4 without a network: a top-N snapshot feed (Binance depth20 through the feed driver)
and the BBO aggregator."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dragonfly._core.merge import merge_levels
from dragonfly.aggregators import AggregatorConfig, BboAggregator
from dragonfly.clients.base import ClientStats
from dragonfly.errors import ConfigError
from dragonfly.listeners import FeedDriver
from dragonfly.model import BookUpdate, VenueStatus, WorldView
from dragonfly.queues import Broadcast
from dragonfly.services.embedded import EmbeddedService, filter_view
from dragonfly.venues import create_feed, get_venue

LIVE, STALE, SYNCING = VenueStatus.LIVE, VenueStatus.STALE, VenueStatus.SYNCING


def frame(seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    side = lambda lv: "[" + ",".join(f'["{p}","{q}"]' for p, q in lv) + "]"  # noqa: E731
    data = f'{{"lastUpdateId":{seq},"bids":{side(bids)},"asks":{side(asks)}}}'
    return f'{{"stream":"ethbtc@depth20@100ms","data":{data}}}'


class ListSink:
    def __init__(self) -> None:
        self.items: list[BookUpdate] = []

    def publish(self, item: BookUpdate) -> None:
        self.items.append(item)


class NoClient:
    """A layer-1 stand-in: these tests hand frames to the driver themselves."""

    def __init__(self) -> None:
        self.stats = ClientStats()
        self.on_connect = self.on_disconnect = self.on_gap = None


class Listener:
    """The Binance depth20 feed of one instrument, driven frame by frame."""

    def __init__(self, sink: ListSink, depth: int, keepalive_s: float) -> None:
        self.feed: FeedDriver = create_feed(get_venue("binance"), instruments=["ETH-BTC"], depth=depth, sink=sink,
                                            keepalive_s=keepalive_s, client=NoClient())
        (self.keeper,) = self.feed.keepers.values()
        self.stats = self.keeper.stats

    def on_frame(self, text: str, receive_ns: int) -> None:
        self.feed.on_frame(text, receive_ns)

    @property
    def status(self) -> VenueStatus:
        return self.keeper.status


def make_listener(sink: ListSink, depth: int = 2, keepalive_s: float = 3600.0) -> Listener:
    return Listener(sink, depth, keepalive_s)


B = [("0.05", "1"), ("0.049", "2"), ("0.048", "3")]
A = [("0.051", "1"), ("0.052", "2"), ("0.053", "3")]


def test_listener_forwards_only_when_top_n_changed() -> None:
    sink = ListSink()
    lst = make_listener(sink)
    lst.on_frame(frame(1, B, A), 100)
    lst.on_frame(frame(2, B, A), 200)  # same top 2
    lst.on_frame(frame(3, [*B[:2], ("0.01", "9")], A), 300)  # change below the top 2: not forwarded
    lst.on_frame(frame(4, [("0.05", "1.5"), *B[1:]], A), 400)
    assert [u.receive_ts_ns for u in sink.items] == [100, 400]
    first, second = sink.items
    assert first.status is LIVE
    assert first.bids == ((0.05, 1.0), (0.049, 2.0)) and first.asks == ((0.051, 1.0), (0.052, 2.0))
    assert second.bids[0] == (0.05, 1.5)
    assert first.exchange_ts_ns == 0  # depth20 carries no event time
    assert lst.feed.stats.frames == 4 and lst.stats.forwarded == 2 and lst.stats.unchanged == 2


def test_listener_keepalive_repeats_the_same_objects() -> None:
    sink = ListSink()
    lst = make_listener(sink, keepalive_s=1.0)
    lst.on_frame(frame(1, B, A), 1_000_000_000)
    lst.on_frame(frame(1, B, A), 1_500_000_000)  # within keepalive: nothing
    lst.on_frame(frame(1, B, A), 2_100_000_000)  # unchanged, but due: liveness update
    assert len(sink.items) == 2
    assert sink.items[1].bids is sink.items[0].bids and lst.stats.keepalives == 1


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"stream":"ethbtc@depth20@100ms","data":{"lastUpdateId":5,"bids":[["0.05","x"]],"asks":[]}}', "ExtractError"),
        ('{"stream":"ethbtc@depth20@100ms","data":{"lastUpdateId":5,"bids":[["0.05","1"', "ExtractError"),
        (frame(5, [("0.06", "1")], [("0.05", "1")]), "crossed"),
        (frame(5, [("0.04", "1"), ("0.05", "1")], A), "bids not"),
        (frame(5, B, [("0.06", "1"), ("0.055", "1")]), "asks not"),
        ('{"stream":"ethbtc@depth20@100ms","data":{"bids":[],"asks":[]}}', "lastUpdateId"),
    ],
)
def test_bad_frame_counted_flagged_then_resync(bad: str, why: str, caplog: pytest.LogCaptureFixture) -> None:
    sink = ListSink()
    lst = make_listener(sink)
    lst.on_frame(frame(1, B, A), 1)
    with caplog.at_level(logging.WARNING):
        lst.on_frame(bad, 2)
        lst.on_frame(bad, 3)
    st = lst.stats
    assert st.bad_frames + st.crossed + st.invalid == 2 and st.resyncs == 2  # each bad frame counted once
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1  # logged once, with context
    assert "binance ETH-BTC" in caplog.records[0].getMessage()
    flagged = sink.items[1]
    assert flagged.status is STALE and flagged.bids == () and flagged.asks == ()
    assert why in flagged.reason
    assert len(sink.items) == 2  # the second bad frame does not republish the same status
    # the same good book as before the bad frame is forwarded again: the extractor was reset
    lst.on_frame(frame(6, B, A), 4)
    assert sink.items[-1].status is LIVE and sink.items[-1].bids == sink.items[0].bids
    assert lst.status is LIVE


def test_out_of_order_frames_are_dropped() -> None:
    sink = ListSink()
    lst = make_listener(sink)
    lst.on_frame(frame(10, B, A), 1)
    lst.on_frame(frame(9, [("0.0501", "1"), *B], A), 2)
    assert lst.stats.skipped == 1 and len(sink.items) == 1
    lst.keeper.connected()  # a new connection may restart sequences
    assert lst.keeper.emit(3).status is SYNCING  # type: ignore[union-attr]
    lst.on_frame(frame(3, B, A), 4)
    assert sink.items[-1].status is LIVE


def upd(venue: str, bids, asks, status: VenueStatus = LIVE, recv: int = 1, reason: str = "") -> BookUpdate:  # type: ignore[no-untyped-def]
    return BookUpdate(venue, "ETH-BTC", tuple(bids), tuple(asks), status, 0, recv, reason)


BIN = ([(0.05, 1.0), (0.049, 2.0)], [(0.051, 1.0), (0.052, 1.0)])
BTS = ([(0.0505, 0.5), (0.049, 3.0)], [(0.0512, 2.0)])


async def next_view(sub, timeout: float = 5.0) -> WorldView:  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(sub.get(), timeout)


async def test_aggregator_merges_live_venues_and_flags_others() -> None:
    agg = BboAggregator.build(instrument="ethbtc", venues=("binance", "bitstamp"), depth=3, staleness_s=60)
    sub = agg.views.subscribe(maxsize=16)
    liq = agg.liquidity.subscribe(maxsize=16)
    agg.start()
    try:
        agg.input.publish(upd("binance", *BIN, recv=5))
        agg.input.publish(upd("bitstamp", *BTS, recv=7))
        v = await next_view(sub)
        want = merge_levels({"binance": BIN, "bitstamp": BTS}, 3)
        assert (list(v.bids), list(v.asks)) == want
        assert v.spread == v.asks[0][1] - v.bids[0][1]
        assert v.seq == 1 and v.receive_ts_ns == 7  # one computation for the drained batch
        assert {k: h.status for k, h in v.venues.items()} == {"binance": LIVE, "bitstamp": LIVE}
        lv = await next_view(liq)
        assert lv.seq == v.seq
        assert lv.bids[1] == (0.05, 1.0, {"binance": 1.0})
        assert lv.bids[2][0] == 0.049 and lv.bids[2][1] == 5.0
        agg.input.publish(upd("bitstamp", (), (), STALE, reason="disconnected: closed by peer"))
        v2 = await next_view(sub)
        assert all(lvl[0] == "binance" for lvl in v2.bids + v2.asks)
        assert v2.venues["bitstamp"].status is STALE and "disconnected" in v2.venues["bitstamp"].reason
        assert agg.health()["bitstamp"].status is STALE
        agg.input.publish(upd("okx", *BIN))  # not configured
        agg.input.publish(BookUpdate("binance", "BTC-USDT", (), (), LIVE))  # another instrument
        agg.input.publish(upd("bitstamp", *BTS))
        v3 = await next_view(sub)
        assert (list(v3.bids), list(v3.asks)) == want and v3.seq == 3
        assert agg.stats.ignored == 2
    finally:
        await agg.stop()
    assert agg.views.closed


async def test_staleness_is_timer_based() -> None:
    agg = BboAggregator(
        AggregatorConfig(
            instrument="ETH-BTC", venues=("binance", "bitstamp"), staleness_s=60, staleness={"bitstamp": 0.05}
        )
    )
    sub = agg.views.subscribe(maxsize=16)
    agg.start()
    try:
        agg.input.publish(upd("binance", *BIN))
        agg.input.publish(upd("bitstamp", *BTS))
        v = await next_view(sub)
        assert v.venues["bitstamp"].status is LIVE
        # nothing else arrives: only the timer can notice
        v2 = await next_view(sub)
        assert v2.venues["bitstamp"].status is STALE and v2.venues["bitstamp"].reason == "no data for 0.05 s"
        assert v2.venues["binance"].status is LIVE
        assert all(lvl[0] == "binance" for lvl in v2.bids + v2.asks)
        assert agg.stats.stale_timeouts == 1
        agg.input.publish(upd("bitstamp", *BTS))
        v3 = await next_view(sub)
        assert v3.venues["bitstamp"].status is LIVE
    finally:
        await agg.stop()


async def test_keepalive_refreshes_without_publishing() -> None:
    agg = BboAggregator.build(instrument="ETH-BTC", venues=("binance",), staleness_s=60)
    sub = agg.views.subscribe(maxsize=16)
    agg.start()
    try:
        u = upd("binance", *BIN)
        agg.input.publish(u)
        await next_view(sub)
        agg.input.publish(BookUpdate("binance", "ETH-BTC", u.bids, u.asks, LIVE, 0, 99))
        # a keepalive publishes nothing by design, so there is no event: yield until the counter moves
        while agg.stats.keepalives == 0:  # noqa: ASYNC110 - sleep(0) only yields (no timer involved)
            await asyncio.sleep(0)
        assert len(sub) == 0 and agg.views.latest.seq == 1  # liveness only: no new view
        agg.input.publish(upd("binance", [(0.0501, 1.0)], [(0.051, 1.0)]))
        v = await next_view(sub)
        assert v.bids[0][1] == 0.0501 and v.seq == 2
    finally:
        await agg.stop()


async def test_liquidity_aggregator_publishes_only_summed_liquidity() -> None:
    """views=False: a liquidity aggregator. The summed book and the health come out; no world view is computed."""
    agg = BboAggregator.build(instrument="ETH-BTC", venues=("binance", "bitstamp"), depth=3, staleness_s=60,
                              views=False)
    views = agg.views.subscribe(maxsize=16)
    liq = agg.liquidity.subscribe(maxsize=16)
    agg.start()
    try:
        agg.input.publish(upd("binance", *BIN))
        agg.input.publish(upd("bitstamp", *BTS))
        lv = await next_view(liq)
        assert lv.seq == 1 and lv.bids[1] == (0.05, 1.0, {"binance": 1.0})
        assert {k: h.status for k, h in lv.venues.items()} == {"binance": LIVE, "bitstamp": LIVE}
        agg.input.publish(upd("bitstamp", (), (), STALE, reason="gone"))
        lv2 = await next_view(liq)
        assert lv2.seq == 2 and all(set(level[2]) == {"binance"} for level in lv2.bids + lv2.asks)
        assert len(views) == 0 and agg.views.latest is None and agg.stats.views == 0
    finally:
        await agg.stop()
    assert agg.views.closed and agg.liquidity.closed


async def test_venue_last_update_moves_with_every_update_of_that_venue() -> None:
    """``venues[v].last_update_ns`` is the receive time of v's latest update, in every view (issue 12: it stayed
    at the time the venue became LIVE)."""
    agg = BboAggregator.build(instrument="ETH-BTC", venues=("binance", "bitstamp"), staleness_s=60)
    sub = agg.views.subscribe(maxsize=16)
    agg.start()
    try:
        agg.input.publish(upd("binance", *BIN, recv=5))
        agg.input.publish(upd("bitstamp", *BTS, recv=7))
        v1 = await next_view(sub)
        assert {v: h.last_update_ns for v, h in v1.venues.items()} == {"binance": 5, "bitstamp": 7}
        agg.input.publish(upd("binance", [(0.0501, 1.0)], [(0.051, 1.0)], recv=20))
        v2 = await next_view(sub)
        assert {v: h.last_update_ns for v, h in v2.venues.items()} == {"binance": 20, "bitstamp": 7}
        # a keepalive (the same top) publishes nothing, but the next view carries its time
        same = agg._books["bitstamp"]
        agg.input.publish(BookUpdate("bitstamp", "ETH-BTC", same[0], same[1], LIVE, 0, 30))
        while agg.stats.keepalives == 0:  # noqa: ASYNC110 - sleep(0) only yields (no timer involved)
            await asyncio.sleep(0)
        assert agg.health()["bitstamp"].last_update_ns == 30
        agg.input.publish(upd("binance", [(0.0502, 1.0)], [(0.051, 1.0)], recv=40))
        v3 = await next_view(sub)
        assert {v: h.last_update_ns for v, h in v3.venues.items()} == {"binance": 40, "bitstamp": 30}
        assert all(h.status is LIVE for h in v3.venues.values())
        assert v1.venues["binance"].last_update_ns == 5  # a published view never changes afterwards
    finally:
        await agg.stop()


def test_aggregator_config_checks() -> None:
    with pytest.raises(ConfigError):
        AggregatorConfig(instrument="ETH-BTC", venues=())
    with pytest.raises(ConfigError):
        AggregatorConfig(instrument="ETH-BTC", venues=("a", "a"))
    with pytest.raises(ConfigError):
        AggregatorConfig(instrument="ETH-BTC", venues=("a",), depth=0)
    with pytest.raises(ConfigError):
        AggregatorConfig(instrument="ETH-BTC", venues=("a",), staleness={"b": 1.0})
    with pytest.raises(ConfigError, match="views, liquidity or both"):
        AggregatorConfig(instrument="ETH-BTC", venues=("a",), views=False, liquidity=False)
    assert AggregatorConfig(instrument="eth-btc", venues=("a",)).with_depth(3).depth == 3


def test_filter_view_by_venue_remerges_and_cuts_depth() -> None:
    books = {"binance": (tuple(BIN[0]), tuple(BIN[1])), "bitstamp": (tuple(BTS[0]), tuple(BTS[1]))}
    bids, asks = merge_levels(books, 4)
    view = WorldView("ETH-BTC", 1, tuple(bids), tuple(asks), asks[0][1] - bids[0][1], {}, books=books)
    only = filter_view(view, depth=1, venues=frozenset({"binance"}))
    assert only.bids == (("binance", 0.05, 1.0),) and only.asks == (("binance", 0.051, 1.0),)
    assert only.spread == 0.051 - 0.05
    cut = filter_view(view, depth=1)
    assert cut.bids == (("bitstamp", 0.0505, 0.5),) and cut.spread == 0.051 - 0.0505
    svc = EmbeddedService(Broadcast())
    assert svc.latest() is None
    with pytest.raises(ValueError):
        svc.stream(depth=0)
