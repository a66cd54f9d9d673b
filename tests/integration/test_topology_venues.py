"""Every kind of venue in one Pipeline: snapshot WebSocket venues, the FIX venue and the diff venues,
each started by ``PipelineConfig(simulate=True)`` on 127.0.0.1 and merged into one world view.

Every wait is on an event (a view arriving) with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dragonfly._core.merge import merge_levels
from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.errors import ConfigError
from dragonfly.model import BookUpdate, VenueStatus, WorldView
from dragonfly.sim import SimulatedDiffVenue, SimulatedFixVenue, SimulatedVenues, create_simulator, simulator_class
from dragonfly.topology import FeedSpec, Pipeline, PipelineConfig
from dragonfly.venues.registry import get_venue

DEPTH = 10
TIMEOUT = 10.0
WS = WebSocketConfig(url="ws://127.0.0.1:1", heartbeat_s=5.0, no_data_timeout_s=30.0,
                     backoff=Backoff(initial_s=0.02, max_s=0.2))


def config(venues: tuple[str, ...], **kw: object) -> PipelineConfig:
    return PipelineConfig(instrument="ethbtc", venues=venues, depth=DEPTH, simulate=True, staleness_s=2.0, ws=WS,
                          sim_options={"seed": 7, "interval_s": 0.02}, **kw)  # type: ignore[arg-type]


async def wait_view(p: Pipeline, pred: Callable[[WorldView], bool]) -> WorldView:
    """The first view (from the current one on) satisfying ``pred``."""

    async def _loop() -> WorldView:
        with p.stream(maxsize=64) as s:
            async for view in s:
                if pred(view):
                    return view
        raise AssertionError("view stream ended")

    return await asyncio.wait_for(_loop(), TIMEOUT)


def live(*venues: str) -> Callable[[WorldView], bool]:
    return lambda v: all(v.venues[x].status is VenueStatus.LIVE for x in venues)


def last_sent_merge(sim: SimulatedVenues, venues: tuple[str, ...]) -> tuple[list, list]:
    books = {}
    for v in venues:
        b = sim.last_sent(v)
        assert b is not None, v
        books[v] = (b.bids, b.asks)
    return merge_levels(books, DEPTH)


def as_lists(view: WorldView) -> tuple[list, list]:
    return list(view.bids), list(view.asks)


# -- configuration ------------------------------------------------------------------------------


def test_fix_base_urls_are_validated_per_protocol() -> None:
    assert get_venue("fixsim").protocol == "fix" and get_venue("binance").protocol == "ws"
    assert FeedSpec.build(venue="fixsim", instruments="ethbtc", base_url="fix://127.0.0.1:9878").base_url
    assert FeedSpec.build(venue="fixsim", instruments="ethbtc", base_url="fixs://fix.example:443").base_url
    with pytest.raises(ConfigError, match="FIX URL"):
        FeedSpec.build(venue="fixsim", instruments="ethbtc", base_url="ws://127.0.0.1:9878")
    with pytest.raises(ConfigError, match="FIX URL"):
        FeedSpec.build(venue="fixsim", instruments="ethbtc", base_url="fix://127.0.0.1")  # no port
    with pytest.raises(ConfigError):
        FeedSpec.build(venue="binance", instruments="ethbtc", base_url="fix://127.0.0.1:9878")
    cfg = PipelineConfig(instrument="ethbtc", venues=("binance", "fixsim"),
                         base_urls={"fixsim": "fix://127.0.0.1:9878", "binance": "ws://127.0.0.1:1"})
    assert cfg.base_urls["fixsim"] == "fix://127.0.0.1:9878"
    with pytest.raises(ConfigError, match="FIX URL"):
        PipelineConfig(instrument="ethbtc", venues=("binance", "fixsim"), base_urls={"fixsim": "http://x:1"})
    with pytest.raises(ConfigError):
        PipelineConfig(instrument="ethbtc", venues=("binance", "fixsim"), base_urls={"binance": "fix://x:1"})


def test_every_venue_has_a_simulator() -> None:
    assert simulator_class("fixsim") is SimulatedFixVenue
    for v in ("kraken", "okx", "bybit", "coinbase", "binance-diff", "bitstamp-diff"):
        assert simulator_class(v) is SimulatedDiffVenue
        assert create_simulator(v, instruments=["ETH-BTC"]).venue == v
    with pytest.raises(ConfigError, match="replay"):
        SimulatedVenues(venues=("kraken",), instrument="ETH-BTC", replay={"kraken": object()})  # type: ignore[dict-item]


def test_every_feed_publishes_under_its_registry_name() -> None:
    got: list[BookUpdate] = []

    class Sink:
        def publish(self, u: BookUpdate) -> None:
            got.append(u)

    mine = Sink()
    for name in ("kraken", "binance-diff", "bitstamp", "fixsim"):
        feed = FeedSpec.build(venue=name, instruments="ethbtc").create(mine)
        assert feed.sink is mine and feed.venue == name  # no relabelling layer: the keepers say it
        (keeper,) = feed.keepers.values()
        feed._handle(keeper, keeper.connected(), 7)
    assert [(u.venue, u.instrument, u.status) for u in got] == [
        (name, "ETH-BTC", VenueStatus.SYNCING) for name in ("kraken", "binance-diff", "bitstamp", "fixsim")
    ]


# -- FIX beside WebSocket -----------------------------------------------------------------------


async def test_fix_venue_joins_the_world_view() -> None:
    venues = ("binance", "bitstamp", "fixsim")
    async with Pipeline(config(venues)) as p:
        sim = p.sim
        assert sim is not None and sim.base_urls["fixsim"].startswith("fix://127.0.0.1:")
        view = await wait_view(p, live(*venues))
        fix_tops = {(b.bids[:DEPTH], b.asks[:DEPTH]) for b in sim["fixsim"].history["ETH-BTC"]}
        assert view.books["fixsim"] in fix_tops  # a book the FIX venue really sent
        assert as_lists(view) == merge_levels(view.books, DEPTH)
        # Freeze every venue: the view converges to the merge of what the three simulators sent last.
        sim.pause()
        want = last_sent_merge(sim, venues)
        final = await wait_view(p, lambda v: live(*venues)(v) and as_lists(v) == want)
        fix = sim.last_sent("fixsim")
        assert final.books["fixsim"] == (fix.bids[:DEPTH], fix.asks[:DEPTH])
        fix_levels = [(price, size) for venue, price, size in final.bids if venue == "fixsim"]
        assert fix_levels == [lvl for lvl in fix.bids[:DEPTH] if ("fixsim", *lvl) in final.bids]
        assert {lvl[0] for lvl in final.bids + final.asks} <= set(venues)
        # The FIX venue moves again (an incremental): the view follows.
        await sim.step("fixsim")
        fix2 = sim.last_sent("fixsim")
        assert (fix2.bids, fix2.asks) != (fix.bids, fix.asks)
        want2 = last_sent_merge(sim, venues)
        want_fix = (fix2.bids[:DEPTH], fix2.asks[:DEPTH])
        await wait_view(p, lambda v: as_lists(v) == want2 and v.books["fixsim"] == want_fix)
        assert p.feeds["fixsim"].keepers["ETH-BTC"].stats.applied >= 1  # 35=X incrementals
        assert p.counters()["fixsim"]["instruments"]["ETH-BTC"]["applied"] >= 1
        assert p.feeds["fixsim"].stats.bad_frames == p.feeds["fixsim"].stats.faults == 0
    assert all(k.status is VenueStatus.STALE for k in p.feeds["fixsim"].keepers.values())


async def test_fix_venue_disconnect_leaves_and_comes_back() -> None:
    venues = ("binance", "fixsim")
    async with Pipeline(config(venues)) as p:
        await wait_view(p, live(*venues))
        assert await p.sim.disconnect("fixsim") == 1
        out = await wait_view(p, lambda v: v.venues["fixsim"].status is not VenueStatus.LIVE)
        assert not [lvl for lvl in out.bids + out.asks if lvl[0] == "fixsim"]
        assert out.venues["binance"].status is VenueStatus.LIVE
        await wait_view(p, live(*venues))  # the FIX client logs on again and resubscribes


# -- diff venues --------------------------------------------------------------------------------


async def test_kraken_and_binance_diff_in_one_world_view() -> None:
    venues = ("kraken", "binance-diff")
    async with Pipeline(config(venues)) as p:
        sim = p.sim
        assert sim["kraken"].base_url.startswith("ws://127.0.0.1:")
        view = await wait_view(p, live(*venues))
        assert as_lists(view) == merge_levels(view.books, DEPTH)
        sim.pause()
        want = last_sent_merge(sim, venues)
        final = await wait_view(p, lambda v: live(*venues)(v) and as_lists(v) == want)
        for v in venues:
            b = sim.last_sent(v)
            assert final.books[v] == (b.bids[:DEPTH], b.asks[:DEPTH])  # the venue's true top
        assert {lvl[0] for lvl in final.bids + final.asks} == set(venues)
        # Kraken deltas touch random levels of 30: step until the merged top moves.
        want2 = want
        for _ in range(100):
            await sim.step("kraken")
            want2 = last_sent_merge(sim, venues)
            if want2 != want:
                break
        assert want2 != want
        await wait_view(p, lambda v: as_lists(v) == want2)
        stats = p.counters()
        assert stats["aggregator"]["ignored"] == 0  # every update was labelled with its registry name
        assert stats["kraken"]["faults"] == 0  # every Kraken checksum matched
        assert stats["kraken"]["instruments"]["ETH-BTC"]["checksums_ok"] >= 1


@pytest.mark.parametrize("venue", ["okx", "bybit", "coinbase", "bitstamp-diff"])
async def test_each_diff_venue_serves_its_true_top(venue: str) -> None:
    venues = ("binance", venue)
    async with Pipeline(config(venues)) as p:
        await wait_view(p, live(*venues))
        p.sim.pause()
        b = p.sim.last_sent(venue)
        view = await wait_view(p, lambda v: v.books.get(venue) == (b.bids[:DEPTH], b.asks[:DEPTH]))
        assert view.books[venue][0][0][0] < view.books[venue][1][0][0]
        assert p.counters()["aggregator"]["ignored"] == 0
