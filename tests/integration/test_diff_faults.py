"""Venue-specific faults of diff feeds against their simulators, over real sockets on 127.0.0.1.

What every diff venue must do is the shared contract (``tests/integration/venues``); here are
the behaviours only some venues have: REST snapshots that are older or newer than the buffered
deltas, the snapshot rate limit, Coinbase Advanced Trade's connection-wide sequence, and
Bitstamp's timestamps, which cannot show a reorder before the book was wrong.
"""

from __future__ import annotations

import pytest
from venues.cases import Case
from venues.harness import LIVE, STALE, TIMEOUT, fault_then_recover, harness

from dragonfly.listeners.driver import SnapshotLimiter
from dragonfly.venues.coinbase.config import CoinbaseConfig
from dragonfly.venues.registry import get_venue


def case(venue: str, config: object = None) -> Case:
    spec = get_venue(venue)
    return Case(venue, spec, config if config is not None else spec.config())


# -- snapshots older / newer than the buffered deltas ------------------------------------------------


async def test_snapshot_older_than_buffered_deltas_is_fetched_again(core_impl: str) -> None:
    async with harness(case("binance-diff"), core_impl, hold=True) as h:
        await h.sim.wait_for(lambda: h.sim.snapshot_requests >= 2, TIMEOUT)
        await h.sim.step(4)
        await h.until(lambda: all(k.buffered >= 4 for k in h.feed.keepers.values()))
        h.sim.stale_snapshots = 1  # the first answer is from before the buffered deltas
        h.sim.release_snapshots()
        await h.until(h.all_live)
        await h.settle()
        keepers = h.feed.keepers.values()
        assert sorted(k.stats.stale_snapshots for k in keepers) == [0, 1]
        assert all(k.stats.gaps == 0 and k.stats.resyncs == 0 for k in keepers)
        assert h.sim.snapshot_requests == 3 == h.feed.stats.snapshot_requests
        h.assert_never_wrong(0)
        h.assert_never_wrong(1)


@pytest.mark.parametrize("venue", ["binance-diff", "bitstamp-diff"])
async def test_snapshot_newer_than_buffered_deltas_skips_them(venue: str, core_impl: str) -> None:
    async with harness(case(venue), core_impl, hold=True) as h:
        await h.sim.wait_for(lambda: h.sim.snapshot_requests >= 2, TIMEOUT)
        await h.sim.step(4)
        await h.until(lambda: all(k.buffered >= 4 for k in h.feed.keepers.values()))
        assert not any(u.status is LIVE for u in h.updates)  # nothing served while syncing
        h.sim.release_snapshots()  # answers with the current book: newer than every buffered delta
        await h.until(h.all_live)
        await h.settle()
        for k in h.feed.keepers.values():
            assert k.stats.skipped == 4 and k.stats.resyncs == 0, k.stats
        h.assert_never_wrong(0)
        h.assert_never_wrong(1)


async def test_snapshot_requests_are_rate_limited(core_impl: str) -> None:
    instruments = tuple(f"C{i}-USDT" for i in range(6))
    limiter = SnapshotLimiter(min_interval_s=0.0, max_concurrent=1)
    async with harness(case("binance-diff"), core_impl, instruments=instruments, limiter=limiter, hold=True) as h:
        await h.sim.wait_for(lambda: h.sim.snapshot_requests >= 1, TIMEOUT)
        h.sim.release_snapshots()
        await h.until(h.all_live)
        assert limiter.started == 6 and limiter.max_in_flight == 1
        assert h.sim.snapshot_requests == 6


# -- sequences that only some venues have ------------------------------------------------------------


async def test_lost_message_on_coinbase_advanced_resyncs_every_product(core_impl: str) -> None:
    # the connection-wide sequence_num jumps; the lost message cannot be attributed to a product
    async with harness(case("coinbase", CoinbaseConfig(api="advanced")), core_impl) as h:
        h.sim.drop_next(h.key(0))
        await h.sim.step(2)
        await h.until(lambda: h.feed.stats.bad_frames == 1)
        await h.settle()
        assert h.resyncs() == [1, 1]
        assert [k.stats.bad_frames for k in h.feed.keepers.values()] == [1, 1]
        assert h.feed.stats.client.disconnects == 0  # a re-subscription, not a reconnect
        for i in range(2):
            st = h.statuses(i)
            assert STALE in st and st[-1] is LIVE
            h.assert_never_wrong(i)


async def test_reordered_deltas_on_bitstamp_are_detected(core_impl: str) -> None:
    # Bitstamp has no sequence numbers: the newer delta is applied before the older
    # one shows the reorder, so the book is wrong for one message (not knowable sooner)
    async with harness(case("bitstamp-diff"), core_impl) as h:
        await fault_then_recover(h, lambda: h.sim.reorder_next(h.key(0)), "gaps", exact=False)
