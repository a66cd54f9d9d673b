"""Every registered venue's feed, built by ``create_feed`` from its registry spec, works against
its simulator (built from the same spec: ``create_simulator``), whatever its engine (top-N
snapshots, diff stream, FIX); and URL overrides go where the venue needs them.
"""

from __future__ import annotations

import asyncio

import pytest

from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.errors import ConfigError
from dragonfly.instruments import parse_instrument
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim import create_simulator
from dragonfly.venues import create_feed, get_venue

INSTRUMENTS = ("ETH-BTC", "BTC-USDT")
DEPTH = 5
TIMEOUT = 10.0


class Sink:
    def __init__(self) -> None:
        self.last: dict[str, BookUpdate] = {}
        self.event = asyncio.Event()

    def publish(self, update: BookUpdate) -> None:
        self.last[update.instrument] = update
        self.event.set()

    async def until(self, predicate: object) -> None:
        async def _wait() -> None:
            while not predicate():  # type: ignore[operator]
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(_wait(), TIMEOUT)


async def test_feed_follows_its_simulator(venue: str) -> None:
    spec = get_venue(venue)
    sink = Sink()
    sim = create_simulator(venue, instruments=INSTRUMENTS, seed=3, interval_s=0.02)
    async with sim:
        feed = create_feed(
            spec,
            instruments=list(INSTRUMENTS),
            depth=DEPTH,
            sink=sink,
            base_url=sim.base_url,
            ws=WebSocketConfig.build(url="ws://127.0.0.1:1", backoff=Backoff(initial_s=0.01, max_s=0.05)),  # policy only
        )
        feed.start()
        try:
            assert feed.instruments == INSTRUMENTS  # normalised names

            def live() -> bool:
                return set(sink.last) == set(INSTRUMENTS) and all(u.status is VenueStatus.LIVE for u in sink.last.values())

            await sink.until(live)
            sim.pause()  # frozen: the feed converges to what the simulator sent last

            def caught_up() -> bool:
                return live() and all(
                    (u.bids, u.asks) == (sim.last_sent[i].bids[:DEPTH], sim.last_sent[i].asks[:DEPTH])
                    for i, u in sink.last.items()
                )

            await sink.until(caught_up)
            assert feed.stats.faults == 0 and feed.stats.bad_frames == 0
            assert set(feed.stats.instruments) == set(INSTRUMENTS)
        finally:
            await feed.stop()
        assert feed.error is None
        assert all(k.status is VenueStatus.STALE for k in feed.keepers.values())


def test_url_overrides(venue: str) -> None:
    """``base_url`` moves the REST snapshot URL with it (same host and port); an explicit
    ``rest_url`` wins; a venue without REST snapshots refuses ``rest_url``."""
    spec = get_venue(venue)
    insts = [parse_instrument("BTC-USD")]
    base = "fix://127.0.0.1:9" if spec.protocol == "fix" else "ws://127.0.0.1:9/ws"
    feed = create_feed(spec, instruments=insts, depth=5, sink=Sink(), base_url=base)
    cfg = feed.adapter.config
    assert cfg.base_url == base
    if feed.adapter.snapshot_source == "rest":
        assert cfg.rest_url == "http://127.0.0.1:9/ws"
        feed = create_feed(spec, instruments=insts, depth=5, sink=Sink(), rest_url="http://127.0.0.1:8/")
        assert feed.adapter.config.rest_url == "http://127.0.0.1:8/"
        assert feed.adapter.config.base_url == spec.default_base_url
    else:
        with pytest.raises(ConfigError, match="rest_url"):
            create_feed(spec, instruments=insts, depth=5, sink=Sink(), rest_url="http://127.0.0.1:8/")
