"""The captures replayed over a real socket through the diff listener (through the ``captures`` fixture)."""

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
from dragonfly.listeners.diff import DiffListener
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim.diff.recordings import read_cryptofeed
from dragonfly.sim.diff.replay import ReplaySim
from dragonfly.venues.binance.diff import BinanceDiffConfig, BinanceDiffVenue
from dragonfly.venues.kraken import KrakenBookConfig, KrakenBookVenue


class Sink:
    def __init__(self) -> None:
        self.updates: list[BookUpdate] = []
        self.event = asyncio.Event()

    def publish(self, update: BookUpdate) -> None:
        self.updates.append(update)
        self.event.set()


class Probed(DiffListener):
    def on_frame(self, frame: str | bytes, receive_ns: int = 0) -> None:
        super().on_frame(frame, receive_ns)
        self.sink.event.set()


@contextlib.asynccontextmanager
async def running(listener: Probed) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(listener.run())
    try:
        yield
    finally:
        await listener.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(listener: Probed, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for ``predicate``, re-checked after every frame and every published update."""

    async def _wait() -> None:
        while not predicate():
            listener.sink.event.clear()
            await listener.sink.event.wait()

    await asyncio.wait_for(_wait(), timeout)


async def test_kraken_capture_over_socket_every_checksum(captures: Path, core_impl: str) -> None:
    path = captures / "kraken" / "cryptofeed__KRAKEN-c197c0.0"
    recs = list(read_cryptofeed(path))
    frames = [r.body for r in recs if r.kind == "recv"]
    pairs = next(json.loads(r.body)["pair"] for r in recs if r.kind == "sent")
    sink = Sink()
    async with ReplaySim(frames=frames) as sim:
        venue = KrakenBookVenue(KrakenBookConfig(base_url=sim.ws_url, depth=1000))
        listener = Probed(venue=venue, symbols=pairs, sink=sink, ws=WebSocketConfig.build(url=sim.ws_url, heartbeat_s=None),
                          book_type=core_module("book", core_impl).Book)
        async with running(listener):
            await until(listener, lambda: listener.stats.frames == len(frames))
            syncs = listener.syncs.values()
            assert all(s.status is VenueStatus.LIVE for s in syncs)
    assert sum(s.stats.checksums_ok for s in syncs) == 14_496
    assert listener.stats.faults == 0 and listener.stats.bad_frames == 0
    live = [u for u in sink.updates if u.status is VenueStatus.LIVE]
    assert live and all(not u.bids or not u.asks or u.bids[0][0] < u.asks[0][0] for u in live)
    assert {u.instrument for u in live} == {s.instrument for s in syncs}


async def test_binance_capture_over_socket_with_rest_snapshots(captures: Path, core_impl: str) -> None:
    path = captures / "binance" / "cryptofeed__BINANCE-ee25be.0"
    recs = list(read_cryptofeed(path))
    frames = [r.body for r in recs if r.kind == "recv"]
    rest = {parse_qs(urlsplit(r.url).query)["symbol"][0]: r.body for r in recs if r.kind == "http"}
    sink = Sink()
    async with ReplaySim(frames=frames, rest=rest, release_after=3, wait_subscribe=False) as sim:
        venue = BinanceDiffVenue(BinanceDiffConfig(base_url=sim.ws_url, rest_url=sim.rest_url))
        listener = Probed(venue=venue, symbols=sorted(rest), sink=sink, ws=WebSocketConfig.build(url=sim.ws_url, heartbeat_s=None),
                          book_type=core_module("book", core_impl).Book)
        async with running(listener):
            syncs: Any = listener.syncs
            # the snapshots may land after the last frame was read
            await until(
                listener,
                lambda: listener.stats.frames == len(frames) and all(s.status is VenueStatus.LIVE for s in syncs.values()),
            )
            for s in syncs.values():
                assert not s.book.is_crossed()
                assert s.stats.snapshots == 1 and s.stats.gaps == 0 and s.stats.buffered >= 1
    assert sim.snapshot_requests == 3
    assert sum(s.stats.applied for s in syncs.values()) + sum(s.stats.skipped for s in syncs.values()) == 2688
    assert listener.stats.faults == 0
