"""The five-layer pipeline against the Binance and Bitstamp simulators, over real sockets on 127.0.0.1.

Every wait is on an event (a view arriving) with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from dragonfly._core.merge import merge_levels
from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.model import VenueStatus, WorldView
from dragonfly.services.embedded import ViewStream
from dragonfly.sim import SimulatedVenues
from dragonfly.topology import Pipeline, PipelineConfig

VENUES = ("binance", "bitstamp")
DEPTH = 10
STALENESS = 0.5
TIMEOUT = 10.0

# Fast reconnects, watchdog far above the staleness limit so staleness is what a stall shows.
WS = WebSocketConfig(
    url="ws://127.0.0.1:1",
    heartbeat_s=5.0,
    no_data_timeout_s=30.0,
    backoff=Backoff(initial_s=0.02, max_s=0.2),
)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedVenues]:
    async with SimulatedVenues(venues=VENUES, instrument="ETH-BTC", seed=7, interval_s=0.02) as s:
        yield s


@pytest.fixture
async def pipeline(sim: SimulatedVenues) -> AsyncIterator[Pipeline]:
    cfg = PipelineConfig(
        instrument="ethbtc", venues=VENUES, depth=DEPTH, base_urls=sim.base_urls, staleness_s=STALENESS, ws=WS
    )
    async with Pipeline(cfg) as p:
        yield p


async def wait_view(stream: ViewStream, pred: Callable[[WorldView], bool], timeout: float = TIMEOUT) -> WorldView:
    """Read views until one satisfies ``pred``; fail after ``timeout`` seconds."""

    async def _loop() -> WorldView:
        async for view in stream:
            if pred(view):
                return view
        raise AssertionError("view stream ended")

    return await asyncio.wait_for(_loop(), timeout)


async def converge(pipeline: Pipeline, pred: Callable[[WorldView], bool], **kw: object) -> WorldView:
    """Wait until the pipeline's current view satisfies ``pred`` (a fresh stream starts at the latest view)."""
    with pipeline.stream(maxsize=64, **kw) as s:  # type: ignore[arg-type]
        return await wait_view(s, pred)


def all_live(view: WorldView) -> bool:
    return all(view.venues[v].status is VenueStatus.LIVE for v in VENUES)


def expected(sim: SimulatedVenues, venues: tuple[str, ...] = VENUES) -> tuple[list, list]:
    books = {}
    for v in venues:
        b = sim.last_sent(v)
        assert b is not None
        books[v] = (b.bids, b.asks)
    return merge_levels(books, DEPTH)


def as_lists(view: WorldView) -> tuple[list, list]:
    return list(view.bids), list(view.asks)


def venue_levels(view: WorldView, venue: str) -> list:
    return [lvl for lvl in view.bids + view.asks if lvl[0] == venue]


async def test_consolidated_top10_equals_merge_of_last_sent(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    with pipeline.stream(maxsize=256) as stream:
        await wait_view(stream, all_live)
        # Every view the bot sees while the market moves is the merge of books the simulators really sent.
        seen = 0
        while seen < 30:
            view = await asyncio.wait_for(stream.get(), TIMEOUT)
            if not all_live(view):
                continue
            seen += 1
            # each venue's top in the view is the top of a book that venue really sent ...
            for v in VENUES:
                sent = {(h.bids[:DEPTH], h.asks[:DEPTH]) for h in sim[v].history["ETH-BTC"]}
                assert view.books[v] in sent, f"view {view.seq}: {v} top was never sent"
            # ... and the consolidated levels are exactly their merge
            assert as_lists(view) == merge_levels(view.books, DEPTH)
            assert [lvl[1] for lvl in view.bids] == sorted((lvl[1] for lvl in view.bids), reverse=True)
            assert [lvl[1] for lvl in view.asks] == sorted(lvl[1] for lvl in view.asks)
            assert view.spread == view.asks[0][1] - view.bids[0][1]
            assert view.receive_ts_ns > 0 and view.publish_ts_ns >= view.receive_ts_ns
        # Freeze the market: the view converges to exactly the merge of what was sent last.
        sim.pause()
        want = expected(sim)
        final = await converge(pipeline, lambda v: as_lists(v) == want)
        assert len(final.bids) == DEPTH and len(final.asks) == DEPTH
        assert {lvl[0] for lvl in final.bids + final.asks} <= set(VENUES)
        # Bitstamp sends a microtimestamp: the exchange time is stamped; Binance depth20 has none.
        assert final.exchange_ts_ns > 0
        # One more book from each venue: the view follows it.
        for v in VENUES:
            await sim.step(v)
        want2 = expected(sim)
        assert want2 != want
        await converge(pipeline, lambda v: as_lists(v) == want2)
    assert pipeline.aggregator.stats.merge_errors == 0
    for v in VENUES:
        feed = pipeline.feeds[v]
        assert feed.stats.bad_frames == feed.stats.faults == 0
        assert all(k.stats.resyncs == 0 for k in feed.keepers.values())


async def test_liquidity_view_sums_venues(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    from dragonfly._core.merge import merge_liquidity

    with pipeline.liquidity_stream(maxsize=1024) as liq_stream, pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, all_live)
        sim.pause()
        want = expected(sim)
        view = await converge(pipeline, lambda v: as_lists(v) == want)

        async def same_seq() -> object:
            async for lv in liq_stream:
                if lv.seq == view.seq:
                    return lv
            raise AssertionError("liquidity stream ended")

        liq = await asyncio.wait_for(same_seq(), TIMEOUT)
    books = {v: (sim.last_sent(v).bids, sim.last_sent(v).asks) for v in VENUES}  # type: ignore[union-attr]
    lb, la = merge_liquidity(books, DEPTH)
    assert list(liq.bids) == lb and list(liq.asks) == la  # type: ignore[attr-defined]
    for _price, total, per_venue in liq.bids:  # type: ignore[attr-defined]
        assert set(per_venue) <= set(VENUES) and total == pytest.approx(sum(per_venue.values()))
    assert [lvl[0] for lvl in liq.bids] == sorted((lvl[0] for lvl in liq.bids), reverse=True)  # type: ignore[attr-defined]


async def test_liquidity_computed_on_subscribe(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    with pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, all_live)
    assert pipeline.liquidity.subscriber_count == 0
    with pipeline.liquidity_stream() as ls:  # nobody listened so far: the current state is computed now
        liq = await asyncio.wait_for(ls.get(), TIMEOUT)
    assert liq.seq >= 1 and liq.bids and liq.asks


async def test_venue_filter_and_depth(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    with pipeline.stream(depth=3, venues=("binance",), maxsize=64) as stream:
        await wait_view(stream, lambda v: v.venues["binance"].status is VenueStatus.LIVE and len(v.bids) == 3)
        sim.pause()
        b = sim.last_sent("binance")
        assert b is not None
        want = merge_levels({"binance": (b.bids, b.asks)}, 3)
        view = await converge(pipeline, lambda v: as_lists(v) == want, depth=3, venues=("binance",))
        assert set(view.venues) == {"binance"}
        assert all(lvl[0] == "binance" for lvl in view.bids + view.asks)


@pytest.mark.parametrize("abrupt", [False, True], ids=["clean_close", "tcp_abort"])
async def test_disconnect_leaves_and_comes_back(sim: SimulatedVenues, pipeline: Pipeline, abrupt: bool) -> None:
    client = pipeline.feeds["binance"].client
    with pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, lambda v: all_live(v) and bool(venue_levels(v, "binance")))
        closed = await sim.disconnect("binance", refuse=True, abrupt=abrupt)
        assert closed == 1
        out = await wait_view(stream, lambda v: v.venues["binance"].status is not VenueStatus.LIVE)
        assert venue_levels(out, "binance") == []
        assert "disconnected" in out.venues["binance"].reason
        assert out.venues["bitstamp"].status is VenueStatus.LIVE  # the other venue is unaffected
        # While refused, the client retries with backoff and binance stays out of every view.
        while client.stats.failed_connects < 2:
            v = await asyncio.wait_for(stream.get(), TIMEOUT)
            assert venue_levels(v, "binance") == []
        sim.accept("binance")
        await wait_view(stream, lambda v: v.venues["binance"].status is VenueStatus.LIVE)
        sim.pause()
        want = expected(sim)
        await converge(pipeline, lambda v: as_lists(v) == want)
    assert client.stats.reconnects >= 1 and client.stats.disconnects >= 1


async def test_stalled_venue_is_flagged_stale(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    with pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, all_live)
        sim.stall("bitstamp")  # connection stays open, nothing is sent
        stale = await wait_view(stream, lambda v: v.venues["bitstamp"].status is VenueStatus.STALE)
        assert "no data" in stale.venues["bitstamp"].reason
        assert venue_levels(stale, "bitstamp") == []
        assert stale.venues["binance"].status is VenueStatus.LIVE
        assert pipeline.health()["bitstamp"].status is VenueStatus.STALE
        assert pipeline.aggregator.stats.stale_timeouts >= 1
        assert pipeline.feeds["bitstamp"].client.stats.disconnects == 0  # stale, not disconnected
        sim.resume("bitstamp")
        await wait_view(
            stream, lambda v: v.venues["bitstamp"].status is VenueStatus.LIVE and bool(venue_levels(v, "bitstamp"))
        )


@pytest.mark.parametrize("venue", VENUES)
async def test_malformed_frame_counted_skipped_resync(sim: SimulatedVenues, pipeline: Pipeline, venue: str) -> None:
    (listener,) = pipeline.feeds[venue].keepers.values()
    with pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, all_live)
        sim.pause()
        good = expected(sim)
        await converge(pipeline, lambda v: as_lists(v) == good)
        await sim.send_malformed(venue)
        bad = await wait_view(stream, lambda v: v.venues[venue].status is VenueStatus.STALE)
        assert "resync after bad frame" in bad.venues[venue].reason
        assert venue_levels(bad, venue) == []
        assert listener.stats.bad_frames == 1
        # the next good frame resyncs the venue
        await sim.step(venue)
        want = expected(sim)
        back = await converge(pipeline, lambda v: as_lists(v) == want)
        assert back.venues[venue].status is VenueStatus.LIVE
        # not JSON at all / truncated: counted and skipped, the feed keeps running
        await sim.send_malformed(venue, kind="garbage")
        await sim.send_malformed(venue, kind="truncated")
        await sim.step(venue)
        want = expected(sim)
        await converge(pipeline, lambda v: as_lists(v) == want and all_live(v))
    feed = pipeline.feeds[venue]
    assert feed.stats.bad_frames + listener.stats.bad_frames >= 3
    assert feed.error is None


@pytest.mark.parametrize("venue", VENUES)
async def test_out_of_order_frame_dropped(sim: SimulatedVenues, pipeline: Pipeline, venue: str) -> None:
    (listener,) = pipeline.feeds[venue].keepers.values()
    with pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, all_live)
        sim.pause()
        await sim.step(venue)
        await sim.step(venue)
        current = expected(sim)
        await converge(pipeline, lambda v: as_lists(v) == current)
        older = list(sim[venue].history["ETH-BTC"])[-2]
        assert await sim.send_out_of_order(venue) == 1
        await sim.step(venue)  # frames on one connection are processed in order
        want = expected(sim)
        seen: list[WorldView] = []

        def record(v: WorldView) -> bool:
            seen.append(v)
            return as_lists(v) == want

        await wait_view(stream, record)
    assert listener.stats.skipped == 1
    other = next(v for v in VENUES if v != venue)
    o = sim.last_sent(other)
    assert o is not None
    stale_view = merge_levels({venue: (older.bids, older.asks), other: (o.bids, o.asks)}, DEPTH)
    assert all(as_lists(v) != stale_view for v in seen)  # the old book was never served again


async def test_slow_consumer_bounded_gets_newest_others_not_slowed(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    fast = pipeline.stream(maxsize=1024)
    slow = pipeline.stream(maxsize=1)
    fast_seen: list[int] = []

    async def read_fast(n: int) -> None:
        async for v in fast:
            fast_seen.append(v.seq)
            if len(fast_seen) >= n:
                return

    try:
        first = await asyncio.wait_for(slow.get(), TIMEOUT)
        # The slow reader now sleeps on its work while the fast one reads 40 views.
        await asyncio.wait_for(read_fast(40), TIMEOUT)
        assert len(slow) == 1  # bounded: one slot, whatever was published meanwhile
        assert slow.skipped > 0
        newest = await slow.get()
        assert newest.seq == pipeline.views.latest.seq  # the newest view, not a backlog
        assert newest.seq - first.seq > 1
        # the fast reader was not slowed: it saw every view in order, none skipped
        assert fast.skipped == 0
        assert fast_seen == list(range(fast_seen[0], fast_seen[0] + len(fast_seen)))
    finally:
        fast.close()
        slow.close()


async def test_bitstamp_request_reconnect(sim: SimulatedVenues, pipeline: Pipeline) -> None:
    feed = pipeline.feeds["bitstamp"]
    with pipeline.stream(maxsize=64) as stream:
        await wait_view(stream, all_live)
        before = feed.client.stats.connects
        await sim["bitstamp"].request_reconnect()
        await wait_view(stream, lambda v: v.venues["bitstamp"].status is not VenueStatus.LIVE)
        await wait_view(stream, lambda v: v.venues["bitstamp"].status is VenueStatus.LIVE)
    assert feed.stats.reconnect_requests == 1
    assert feed.client.stats.connects == before + 1


async def test_simulate_true_starts_its_own_venues() -> None:
    cfg = PipelineConfig(instrument="eth_btc", simulate=True, sim_options={"seed": 3, "interval_s": 0.02})
    async with Pipeline(cfg) as p:
        assert p.sim is not None
        assert set(p.sim.base_urls) == set(VENUES)
        with p.stream(maxsize=8) as stream:
            view = await wait_view(stream, lambda v: all_live(v) and len(v.bids) == DEPTH)
        assert view.instrument == "ETH-BTC"
    assert p.sim is None


async def test_two_symbols_on_one_binance_connection() -> None:
    from dragonfly.aggregators import BboAggregator
    from dragonfly.topology import FeedSpec, Topology

    sim_venues = SimulatedVenues(venues=("binance",), instruments=("ETH-BTC", "BTC-USDT"), seed=2, interval_s=0.02)
    async with sim_venues as sim:
        aggs = [BboAggregator.build(instrument=i, venues=("binance",), depth=5) for i in ("ETH-BTC", "BTC-USDT")]
        from dragonfly.queues import Tee

        feed = FeedSpec.build(
            venue="binance", instruments=("ethbtc", "BTCUSDT"), depth=5, base_url=sim.base_urls["binance"]
        ).create(Tee(*(a.input for a in aggs)))
        async with Topology(feeds=[feed], aggregators=aggs):
            subs = [a.views.subscribe(maxsize=64) for a in aggs]
            try:
                await sim.wait_subscribed()
                sim.pause()
                await sim.step("binance")
                for agg, sub, inst in zip(aggs, subs, ("ETH-BTC", "BTC-USDT"), strict=True):
                    b = sim["binance"].last_sent[inst]
                    want = merge_levels({"binance": (b.bids, b.asks)}, 5)

                    async def until(sub=sub, want=want) -> None:  # type: ignore[no-untyped-def]
                        async for v in sub:
                            if (list(v.bids), list(v.asks)) == want:
                                return

                    await asyncio.wait_for(until(), TIMEOUT)
                    assert agg.stats.ignored > 0  # the other symbol's updates, not mixed in
            finally:
                for s in subs:
                    s.close()
        assert feed.client.stats.connects == 1
        assert sim["binance"].connections_accepted == 1


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)


async def test_unreachable_venue_is_reported_and_others_flow(sim: SimulatedVenues) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{s.getsockname()[1]}"
    cfg = PipelineConfig(
        instrument="ETH-BTC",
        base_urls={"binance": dead, "bitstamp": sim.base_urls["bitstamp"]},
        staleness_s=STALENESS,
        ws=WS,
    )
    async with Pipeline(cfg) as p:
        with p.stream(maxsize=64) as stream:
            view = await wait_view(
                stream,
                lambda v: v.venues["bitstamp"].status is VenueStatus.LIVE
                and "connect failed" in v.venues["binance"].reason,
            )
        assert view.venues["binance"].status is VenueStatus.STALE
        assert view.bids and all(lvl[0] == "bitstamp" for lvl in view.bids + view.asks)
