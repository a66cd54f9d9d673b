"""Every venue setup's feed, built by ``create_feed`` from its registry spec and configuration,
works against its simulator (built from the same spec and configuration: ``create_simulator``),
whatever its engine (top-N snapshots, diff stream, FIX); and URL overrides go where the venue
needs them.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.errors import ConfigError
from dragonfly.instruments import parse_instrument
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim import create_simulator
from dragonfly.venues import create_feed

from .cases import Case

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


async def test_feed_follows_its_simulator(any_case: Case) -> None:
    case = any_case
    sink = Sink()
    sim = create_simulator(case.spec, config=case.config, instruments=INSTRUMENTS, seed=3, interval_s=0.02)
    async with sim:
        feed = create_feed(
            case.spec,
            instruments=list(INSTRUMENTS),
            depth=DEPTH,
            sink=sink,
            config=case.config,
            base_url=sim.base_url,
            # policy only
            ws=WebSocketConfig.build(url="ws://127.0.0.1:1", backoff=Backoff(initial_s=0.01, max_s=0.05)),
        )
        feed.start()
        try:
            assert feed.instruments == INSTRUMENTS  # normalised names

            def live() -> bool:
                return set(sink.last) == set(INSTRUMENTS) and all(
                    u.status is VenueStatus.LIVE for u in sink.last.values()
                )

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


def test_url_overrides(any_case: Case) -> None:
    """``base_url`` moves the REST snapshot URL with it (same host and port); an explicit
    ``rest_url`` wins; a venue whose configuration has no REST base refuses ``rest_url``."""
    spec, config = any_case.spec, any_case.config
    insts = [parse_instrument("BTC-USD")]
    base = "fix://127.0.0.1:9" if spec.protocol == "fix" else "ws://127.0.0.1:9/ws"
    feed = create_feed(spec, instruments=insts, depth=5, sink=Sink(), base_url=base, config=config)
    cfg = feed.adapter.config
    assert cfg.base_url == base
    has_rest_url = "rest_url" in {f.name for f in dataclasses.fields(cfg)}
    assert has_rest_url or feed.adapter.snapshot_source != "rest"  # REST snapshots need a REST base
    if has_rest_url:
        assert cfg.rest_url == "http://127.0.0.1:9/ws"
        feed = create_feed(spec, instruments=insts, depth=5, sink=Sink(), rest_url="http://127.0.0.1:8/", config=config)
        assert feed.adapter.config.rest_url == "http://127.0.0.1:8/"
        assert feed.adapter.config.base_url == config.base_url
    else:
        with pytest.raises(ConfigError, match="rest_url"):
            create_feed(spec, instruments=insts, depth=5, sink=Sink(), rest_url="http://127.0.0.1:8/", config=config)
