"""The captures replayed over a real socket through the venues' feeds (through the ``captures`` fixture)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from conftest import core_module

from dragonfly.clients.ws import WebSocketConfig
from dragonfly.listeners.driver import FeedDriver
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim.diff.recordings import read_cryptofeed
from dragonfly.sim.diff.replay import ReplaySim
from dragonfly.venues import create_feed, get_venue
from dragonfly.venues.binance.config import BinanceDiffConfig
from dragonfly.venues.kraken.config import KrakenConfig

LIVE = VenueStatus.LIVE


class Sink:
    def __init__(self) -> None:
        self.updates: list[BookUpdate] = []
        self.event = asyncio.Event()

    def publish(self, update: BookUpdate) -> None:
        self.updates.append(update)
        self.event.set()


def probed_feed(venue: str, sim: ReplaySim, instruments: list[str], sink: Sink, impl: str, config: Any) -> FeedDriver:
    """The venue's feed on the replay, waking ``sink.event`` after every frame it reads."""
    feed = create_feed(
        get_venue(venue),
        instruments=instruments,
        depth=10,
        sink=sink,
        config=config,
        base_url=sim.ws_url,
        ws=WebSocketConfig.build(url=sim.ws_url, heartbeat_s=None),
        book_type=core_module("book", impl).Book,
    )
    on_frame = feed.on_frame

    def probed(frame: Any, receive_ns: int = 0) -> None:
        on_frame(frame, receive_ns)
        sink.event.set()

    feed.on_frame = probed  # type: ignore[method-assign]
    return feed


@contextlib.asynccontextmanager
async def running(feed: FeedDriver) -> AsyncIterator[None]:
    feed.start()
    try:
        yield
    finally:
        await feed.stop()
    assert feed.error is None


async def until(sink: Sink, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for ``predicate``, re-checked after every frame and every published update."""

    async def _wait() -> None:
        while not predicate():
            sink.event.clear()
            await sink.event.wait()

    await asyncio.wait_for(_wait(), timeout)


async def test_kraken_capture_over_socket_every_checksum(captures: Path, core_impl: str) -> None:
    path = captures / "kraken" / "cryptofeed__KRAKEN-c197c0.0"
    recs = list(read_cryptofeed(path))
    frames = [r.body for r in recs if r.kind == "recv"]
    pairs = next(json.loads(r.body)["pair"] for r in recs if r.kind == "sent")
    sink = Sink()
    async with ReplaySim(frames=frames) as sim:
        feed = probed_feed("kraken", sim, pairs, sink, core_impl, KrakenConfig(depth=1000))
        assert sorted(feed.keepers) == sorted(pairs)  # the capture's pairs are the adapter's symbols
        async with running(feed):
            await until(sink, lambda: feed.stats.frames == len(frames))
            keepers = list(feed.keepers.values())
            assert all(k.status is LIVE for k in keepers)
    assert sum(k.stats.checksums_ok for k in keepers) == 14_496
    assert feed.stats.faults == 0 and feed.stats.bad_frames == 0
    live = [u for u in sink.updates if u.status is LIVE]
    assert live and all(not u.bids or not u.asks or u.bids[0][0] < u.asks[0][0] for u in live)
    assert {u.instrument for u in live} == {k.instrument for k in keepers}


async def test_binance_capture_over_socket_with_rest_snapshots(captures: Path, core_impl: str) -> None:
    path = captures / "binance" / "cryptofeed__BINANCE-ee25be.0"
    recs = list(read_cryptofeed(path))
    frames = [r.body for r in recs if r.kind == "recv"]
    rest = {parse_qs(urlsplit(r.url).query)["symbol"][0]: r.body for r in recs if r.kind == "http"}
    sink = Sink()
    async with ReplaySim(frames=frames, rest=rest, release_after=3, wait_subscribe=False) as sim:
        feed = probed_feed("binance-diff", sim, sorted(rest), sink, core_impl, BinanceDiffConfig())
        assert sorted(feed.keepers) == sorted(rest)
        async with running(feed):
            keepers = list(feed.keepers.values())
            # the snapshots may land after the last frame was read
            await until(sink, lambda: feed.stats.frames == len(frames) and all(k.status is LIVE for k in keepers))
            for k in keepers:
                assert k.book is not None and not k.book.is_crossed()
                assert k.stats.snapshots == 1 and k.stats.gaps == 0 and k.stats.buffered >= 1
    assert sim.snapshot_requests == 3
    assert sum(k.stats.applied + k.stats.skipped for k in keepers) == 2688
    assert feed.stats.faults == 0
