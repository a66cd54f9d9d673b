"""Diff-stream listeners against the venue simulators, over real sockets on 127.0.0.1.

Every fault the simulator can inject is detected, only the affected instrument
resyncs (unless the fault is connection-wide), the book is exactly the true
book afterwards, and no LIVE update ever carries a top that the true book
did not have (where the venue's protocol makes that knowable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conftest import core_module

from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.listeners.diff import DiffListener, SnapshotLimiter
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim.diff.server import DiffSim, DiffSimConfig
from dragonfly.venues.binance.diff import BinanceDiffConfig, BinanceDiffVenue
from dragonfly.venues.bitstamp.diff import BitstampDiffConfig, BitstampDiffVenue
from dragonfly.venues.bybit import BybitBookConfig, BybitBookVenue
from dragonfly.venues.coinbase import CoinbaseBookConfig, CoinbaseBookVenue
from dragonfly.venues.kraken import KrakenBookConfig, KrakenBookVenue
from dragonfly.venues.okx import OkxBookConfig, OkxBookVenue

LIVE = VenueStatus.LIVE
TIMEOUT = 10.0

SYMBOLS = {
    "binance": ("BTCUSDT", "ETHUSDT"),
    "bitstamp": ("btcusd", "ethusd"),
    "coinbase": ("BTC-USD", "ETH-USD"),
    "coinbase-adv": ("BTC-USD", "ETH-USD"),
    "kraken": ("XBT/USD", "ETH/USD"),
    "kraken2": ("BTC/USD", "ETH/USD"),
    "okx": ("BTC-USDT", "ETH-USDT"),
    "bybit": ("BTCUSDT", "ETHUSDT"),
}


def make_venue(name: str, sim: DiffSim) -> Any:
    if name == "binance":
        return BinanceDiffVenue(BinanceDiffConfig(base_url=sim.ws_url, rest_url=sim.rest_url))
    if name == "bitstamp":
        return BitstampDiffVenue(BitstampDiffConfig(base_url=sim.ws_url, rest_url=sim.rest_url))
    if name == "coinbase":
        return CoinbaseBookVenue(CoinbaseBookConfig(base_url=sim.ws_url))
    if name == "coinbase-adv":
        return CoinbaseBookVenue(CoinbaseBookConfig(base_url=sim.ws_url, api="advanced"))
    if name == "kraken":
        return KrakenBookVenue(KrakenBookConfig(base_url=sim.ws_url, depth=100))
    if name == "kraken2":
        return KrakenBookVenue(KrakenBookConfig(base_url=sim.ws_url + "/v2", version=2, depth=100))
    if name == "okx":
        return OkxBookVenue(OkxBookConfig(base_url=sim.ws_url))
    return BybitBookVenue(BybitBookConfig(base_url=sim.ws_url, depth=50))


class Harness:
    """A simulator, a listener on it, and a recording sink."""

    def __init__(self, venue: str, sim: DiffSim, listener: DiffListener) -> None:
        self.venue = venue
        self.sim = sim
        self.listener = listener
        self.updates: list[BookUpdate] = []
        self._event = asyncio.Event()

    # the sink
    def publish(self, update: BookUpdate) -> None:
        self.updates.append(update)
        self.poke()

    def poke(self) -> None:
        self._event.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Wait for ``predicate``, re-checked after every frame and every publish."""

        async def _wait() -> None:
            while not predicate():
                self._event.clear()
                await self._event.wait()

        await asyncio.wait_for(_wait(), timeout)

    def sync(self, i: int = 0) -> Any:
        return self.listener.syncs[self.listener.venue.key(SYMBOLS[self.venue][i])]

    def key(self, i: int = 0) -> str:
        return SYMBOLS[self.venue][i]

    def all_live(self) -> bool:
        return all(s.status is LIVE for s in self.listener.syncs.values())

    def matches_truth(self, i: int = 0) -> bool:
        s = self.sync(i)
        truth = self.sim.symbols[self.key(i)].book
        return s.status is LIVE and s.book.bids() == truth.bids() and s.book.asks() == truth.asks()

    async def settle(self, steps: int = 5) -> None:
        """Send more deltas and wait until every book equals the true book."""
        await self.sim.step(steps)
        await self.until(lambda: all(self.matches_truth(i) for i in range(len(SYMBOLS[self.venue]))))

    def live_updates(self, i: int) -> list[BookUpdate]:
        name = self.sync(i).instrument
        return [u for u in self.updates if u.instrument == name and u.status is LIVE]

    def statuses(self, i: int) -> list[VenueStatus]:
        name = self.sync(i).instrument
        return [u.status for u in self.updates if u.instrument == name]

    def assert_never_wrong(self, i: int = 0) -> None:
        tops = self.sim.truth_tops(self.key(i))
        for u in self.live_updates(i):
            assert (u.bids, u.asks) in tops, "a LIVE update carried a book the venue never had"
            assert not u.bids or not u.asks or u.bids[0][0] < u.asks[0][0]


class _ProbedListener(DiffListener):
    probe: Callable[[], None] = staticmethod(lambda: None)

    def on_frame(self, frame: str | bytes, receive_ns: int = 0) -> None:
        super().on_frame(frame, receive_ns)
        self.probe()


@contextlib.asynccontextmanager
async def harness(venue: str, impl: str, *, levels: int = 10, limiter: SnapshotLimiter | None = None,
                  symbols: tuple[str, ...] | None = None, hold: bool = False) -> AsyncIterator[Harness]:
    syms = symbols or SYMBOLS[venue]
    config = DiffSimConfig(venue=venue, symbols=syms, seed=7, levels=levels, depth=50 if venue == "bybit" else 100)
    async with DiffSim(config) as sim:
        sim.hold_snapshots = hold
        await sim.step(3)  # some history before anyone connects
        ws = WebSocketConfig.build(url=sim.ws_url, backoff=Backoff(initial_s=0.01, max_s=0.05), heartbeat_s=None)
        h: Harness
        listener = _ProbedListener(
            venue=make_venue(venue, sim),
            symbols=list(syms),
            sink=_Forward(),
            depth=10,
            ws=ws,
            limiter=limiter or SnapshotLimiter(min_interval_s=0.0, max_concurrent=2),
            snapshot_timeout_s=2.0,
            book_type=core_module("book", impl).Book,
        )
        h = Harness(venue, sim, listener)
        listener.sink.target = h  # type: ignore[attr-defined]
        listener.probe = h.poke  # type: ignore[method-assign]
        task = asyncio.get_running_loop().create_task(listener.run())
        try:
            if not hold:
                await h.until(h.all_live)
            yield h
        finally:
            await listener.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Forward:
    target: Any = None

    def publish(self, update: BookUpdate) -> None:
        self.target.publish(update)


def _faults(h: Harness, i: int) -> dict[str, int]:
    s = h.sync(i).stats
    return {"gaps": s.gaps, "checksum_errors": s.checksum_errors, "crossed": s.crossed, "resyncs": s.resyncs}


async def _fault_then_recover(h: Harness, inject: Callable[[], None], kind: str, *, exact: bool = True) -> None:
    other_live_before = len(h.statuses(1))
    inject()
    await h.sim.step(3)
    await h.until(lambda: getattr(h.sync(0).stats, kind) >= 1)
    await h.settle()
    f = _faults(h, 0)
    assert f[kind] == 1 and f["resyncs"] == 1, f
    # only that instrument resynced; the other never left LIVE
    assert _faults(h, 1) == {"gaps": 0, "checksum_errors": 0, "crossed": 0, "resyncs": 0}
    assert all(s is LIVE for s in h.statuses(1)[other_live_before:])
    # it went out of the world view, and came back
    st = h.statuses(0)
    assert VenueStatus.STALE in st and st[-1] is LIVE
    if exact:
        h.assert_never_wrong(0)
    h.assert_never_wrong(1)


# -- the happy path on every venue ----------------------------------------------------------------


@pytest.mark.parametrize("venue", list(SYMBOLS))
async def test_books_follow_the_truth(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl, levels=20) as h:
        await h.settle(40)
        for i in range(2):
            assert h.sync(i).stats.applied >= 40
            h.assert_never_wrong(i)
            assert h.live_updates(i)
        assert h.listener.stats.faults == 0
        if venue in ("kraken", "kraken2", "okx"):
            assert h.sync(0).stats.checksums_ok >= 40


# -- gaps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", ["binance", "okx", "bybit"])
async def test_dropped_delta_is_a_gap(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl) as h:
        await _fault_then_recover(h, lambda: h.sim.drop_next(h.key(0)), "gaps")


@pytest.mark.parametrize("venue", ["kraken", "kraken2"])
async def test_dropped_delta_on_kraken_is_a_checksum_mismatch(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl, levels=10) as h:  # every level inside the checksummed top 10
        await _fault_then_recover(h, lambda: h.sim.drop_next(h.key(0)), "checksum_errors")


# -- corrupted level ---------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", ["kraken", "kraken2", "okx"])
async def test_corrupted_level_is_a_checksum_mismatch(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl) as h:
        await _fault_then_recover(h, lambda: h.sim.corrupt_next(h.key(0)), "checksum_errors")


@pytest.mark.parametrize("venue", ["binance", "bitstamp", "coinbase", "coinbase-adv", "bybit"])
async def test_crossing_level_is_detected(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl) as h:
        await _fault_then_recover(h, lambda: h.sim.cross_next(h.key(0)), "crossed")


# -- reordered messages ------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", ["binance", "okx", "bybit"])
async def test_reordered_deltas_are_a_gap(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl) as h:
        await _fault_then_recover(h, lambda: h.sim.reorder_next(h.key(0)), "gaps")


async def test_lost_message_on_coinbase_advanced_resyncs_every_product(core_impl: str) -> None:
    # the connection-wide sequence_num jumps; the lost message cannot be attributed to a product
    async with harness("coinbase-adv", core_impl) as h:
        h.sim.drop_next(h.key(0))
        await h.sim.step(2)
        await h.until(lambda: h.listener.stats.bad_frames == 1)
        await h.settle()
        assert [s.stats.resyncs for s in h.listener.syncs.values()] == [1, 1]
        for i in range(2):
            st = h.statuses(i)
            assert VenueStatus.STALE in st and st[-1] is LIVE
            h.assert_never_wrong(i)


async def test_reordered_deltas_on_bitstamp_are_detected(core_impl: str) -> None:
    # Bitstamp has no sequence numbers: the newer delta is applied before the older
    # one shows the reorder, so the book is wrong for one message (not knowable sooner)
    async with harness("bitstamp", core_impl) as h:
        await _fault_then_recover(h, lambda: h.sim.reorder_next(h.key(0)), "gaps", exact=False)


# -- snapshots older / newer than the buffered deltas ------------------------------------------------


async def test_snapshot_older_than_buffered_deltas_is_fetched_again(core_impl: str) -> None:
    async with harness("binance", core_impl, hold=True) as h:
        await h.sim.wait_for(lambda: h.sim.snapshot_requests >= 2, TIMEOUT)
        await h.sim.step(4)
        await h.until(lambda: all(s.buffered >= 4 for s in h.listener.syncs.values()))
        h.sim.stale_snapshots = 1  # the first answer is from before the buffered deltas
        h.sim.release_snapshots()
        await h.until(h.all_live)
        await h.settle()
        stale = [s.stats.stale_snapshots for s in h.listener.syncs.values()]
        assert sorted(stale) == [0, 1]
        assert all(s.stats.gaps == 0 and s.stats.resyncs == 0 for s in h.listener.syncs.values())
        assert h.sim.snapshot_requests == 3
        h.assert_never_wrong(0)
        h.assert_never_wrong(1)


@pytest.mark.parametrize("venue", ["binance", "bitstamp"])
async def test_snapshot_newer_than_buffered_deltas_skips_them(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl, hold=True) as h:
        await h.sim.wait_for(lambda: h.sim.snapshot_requests >= 2, TIMEOUT)
        await h.sim.step(4)
        await h.until(lambda: all(s.buffered >= 4 for s in h.listener.syncs.values()))
        assert not any(u.status is LIVE for u in h.updates)  # nothing served while syncing
        h.sim.release_snapshots()  # answers with the current book: newer than every buffered delta
        await h.until(h.all_live)
        await h.settle()
        for s in h.listener.syncs.values():
            assert s.stats.skipped == 4 and s.stats.resyncs == 0
        h.assert_never_wrong(0)


# -- disconnect during resync ------------------------------------------------------------------------


@pytest.mark.parametrize("venue", list(SYMBOLS))
async def test_disconnect_during_resync(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl) as h:
        connections = h.sim.connections
        h.sim.disconnect_on_snapshot = 1
        if venue in ("kraken", "kraken2", "okx"):
            h.sim.corrupt_next(h.key(0))
        elif venue in ("binance", "bybit"):
            h.sim.drop_next(h.key(0))
        else:
            h.sim.cross_next(h.key(0))
        await h.sim.step(3)
        await h.sim.wait_for(lambda: h.sim.connections > connections and h.sim.connected == 1, TIMEOUT)
        await h.until(h.all_live)
        await h.settle()
        assert h.listener.stats.disconnects == 1
        assert h.sync(0).stats.resyncs == 1 and h.sync(1).stats.resyncs == 0
        # the connection-wide drop took both out of the world view, then back
        for i in range(2):
            st = h.statuses(i)
            assert VenueStatus.STALE in st and st[-1] is LIVE
            h.assert_never_wrong(i) if venue != "bitstamp" else None


# -- malformed frames, plain disconnects, rate limits ------------------------------------------------


@pytest.mark.parametrize("venue", ["binance", "coinbase"])
async def test_malformed_frame(venue: str, core_impl: str) -> None:
    async with harness(venue, core_impl) as h:
        await h.sim.send_raw('{"stream": "x", "data": [1, 2')
        await h.until(lambda: h.listener.stats.bad_frames == 1)
        await h.settle()
        resyncs = [s.stats.resyncs for s in h.listener.syncs.values()]
        if venue == "binance":
            assert resyncs == [0, 0]  # a lost delta would show as a gap: nothing to do yet
        else:
            assert resyncs == [1, 1]  # no sequence numbers: every product resyncs
        h.assert_never_wrong(0)


async def test_plain_disconnect_resyncs_everything(core_impl: str) -> None:
    async with harness("okx", core_impl) as h:
        await h.sim.disconnect()
        await h.sim.wait_for(lambda: h.sim.connections == 2 and h.sim.subscribes >= 4, TIMEOUT)
        await h.until(h.all_live)
        await h.settle()
        assert h.listener.stats.disconnects == 1
        assert all(s.stats.snapshots == 2 and s.stats.resyncs == 0 for s in h.listener.syncs.values())


async def test_snapshot_requests_are_rate_limited(core_impl: str) -> None:
    symbols = tuple(f"C{i}USDT" for i in range(6))
    limiter = SnapshotLimiter(min_interval_s=0.0, max_concurrent=1)
    async with harness("binance", core_impl, symbols=symbols, limiter=limiter, hold=True) as h:
        await h.sim.wait_for(lambda: h.sim.snapshot_requests >= 1, TIMEOUT)
        h.sim.release_snapshots()
        await h.until(h.all_live)
        assert limiter.started == 6 and limiter.max_in_flight == 1
        assert h.sim.snapshot_requests == 6


async def test_unknown_instrument_events_are_counted_not_applied(core_impl: str) -> None:
    async with harness("binance", core_impl) as h:
        frame = {"stream": "x@depth@100ms", "data": {"e": "depthUpdate", "E": 1, "s": "XUSDT", "U": 1, "u": 2, "b": [], "a": []}}
        await h.sim.send_raw(json.dumps(frame))
        await h.until(lambda: h.listener.stats.unroutable == 1)
        assert h.listener.stats.faults == 0
