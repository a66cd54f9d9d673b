"""The contract every diff-feed venue passes: its feed against its simulator, over real sockets.

Each test runs once per case of the registry (see ``conftest.py``) and per core Book twin.
Every fault the simulator injects is seen (as the venue's protocol allows: a gap, a checksum
mismatch, a crossed book, a jump of the connection's numbering), only the instruments the
fault can touch resync, the books are exactly the true books afterwards, and no LIVE update
ever carries a top the true book never had.
"""

from __future__ import annotations

import pytest

from .cases import Case
from .harness import LIVE, NO_FAULTS, STALE, TIMEOUT, fault_counts, fault_then_recover, harness


async def test_books_follow_the_truth(case: Case, core_impl: str) -> None:
    async with harness(case, core_impl, levels=20) as h:
        await h.settle(40)
        for i in range(2):
            assert h.keeper(i).stats.applied >= 40
            h.assert_never_wrong(i)
            assert h.live_updates(i)
        assert h.feed.stats.faults == 0 and h.feed.stats.bad_frames == 0
        if case.checksum is not None:
            assert all(h.keeper(i).stats.checksums_ok >= 40 for i in range(2))


async def test_lost_delta_is_detected(loss_case: Case, core_impl: str) -> None:
    case = loss_case
    async with harness(case, core_impl) as h:  # every level inside the checksummed top 10
        if case.loss_signal != "connection":
            await fault_then_recover(h, lambda: h.sim.drop_next(h.key(0)), case.loss_signal or "")
            return
        # the connection's numbering jumps: the lost frame cannot be attributed to an instrument
        h.sim.drop_next(h.key(0))
        await h.sim.step(2, h.symbols)
        await h.until(lambda: h.feed.stats.bad_frames == 1)
        await h.settle()
        assert h.resyncs() == [1, 1]
        for i in range(2):
            st = h.statuses(i)
            assert STALE in st and st[-1] is LIVE
            h.assert_never_wrong(i)


async def test_reordered_deltas_are_a_gap(sequenced_case: Case, core_impl: str) -> None:
    async with harness(sequenced_case, core_impl) as h:
        await fault_then_recover(h, lambda: h.sim.reorder_next(h.key(0)), "gaps")


async def test_corrupted_level_is_a_checksum_mismatch(checksum_case: Case, core_impl: str) -> None:
    async with harness(checksum_case, core_impl) as h:
        await fault_then_recover(h, lambda: h.sim.corrupt_next(h.key(0)), "checksum_errors")


async def test_crossing_level_is_detected(case: Case, core_impl: str) -> None:
    # a venue with a checksum sees the level the true book does not have first
    kind = "checksum_errors" if case.checksum is not None else "crossed"
    async with harness(case, core_impl) as h:
        await fault_then_recover(h, lambda: h.sim.cross_next(h.key(0)), kind)


async def test_disconnect_during_resync(case: Case, core_impl: str) -> None:
    async with harness(case, core_impl) as h:
        sim = h.sim
        connections = sim.connections
        sim.disconnect_on_snapshot = 1  # the snapshot request (REST) or the re-subscribe drops the connection
        sim.cross_next(h.key(0))  # a fault every venue sees on that instrument
        await sim.step(3, h.symbols)
        await sim.wait_for(lambda: sim.connections > connections and sim.connected == 1, TIMEOUT)
        await h.until(h.all_live)
        await h.settle()
        assert sim.disconnect_on_snapshot == 0
        assert h.feed.stats.client.disconnects == 1
        assert h.resyncs() == [1, 0]
        # the connection-wide drop took both out of the world view, then back
        for i in range(2):
            st = h.statuses(i)
            assert STALE in st and st[-1] is LIVE
            h.assert_never_wrong(i)


@pytest.mark.parametrize("mode", ["clean", "abrupt", "refuse"])
async def test_disconnect_resyncs_everything_without_a_fault(case: Case, core_impl: str, mode: str) -> None:
    async with harness(case, core_impl) as h:
        sim = h.sim
        assert await sim.disconnect(abrupt=mode == "abrupt", refuse=mode == "refuse") == 1
        if mode == "refuse":
            await sim.wait_for(lambda: sim.refused >= 1, TIMEOUT)  # the venue is down for a while
            assert sim.connections == 1
            sim.accept()
        await sim.wait_for(lambda: sim.connections == 2, TIMEOUT)
        await h.until(h.all_live)
        await h.settle()
        stats = h.feed.stats
        assert stats.client.disconnects == 1 and stats.client.connects == 2
        assert stats.faults == 0
        for i in range(2):
            k = h.keeper(i)
            assert k.stats.snapshots == 2 and fault_counts(h, i) == NO_FAULTS
            st = h.statuses(i)
            assert STALE in st and st[-1] is LIVE
            h.assert_never_wrong(i)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad_number"])
async def test_malformed_frame(case: Case, core_impl: str, kind: str) -> None:
    async with harness(case, core_impl) as h:
        await h.sim.send_malformed(h.key(0), kind=kind)  # the true book does not change
        k0, k1 = h.keeper(0).stats, h.keeper(1).stats
        await h.until(lambda: h.feed.stats.bad_frames + k0.invalid == 1)
        await h.settle()
        if k0.invalid == 0 and k0.bad_frames == k1.bad_frames:
            # nobody knows whose delta the frame carried: venues that would see a lost delta
            # wait for that; the others resync every instrument of the connection
            assert h.feed.stats.bad_frames == 1
            waits = case.detects_loss or case.checksum is not None
            assert h.resyncs() == [k0.bad_frames, k1.bad_frames] == ([0, 0] if waits else [1, 1])
        else:
            # the frame named its instrument (or its level could not be applied): only that one resynced
            assert kind == "bad_number", "a frame that is not JSON was attributed to an instrument"
            assert k0.invalid + k0.bad_frames == 1 and k1.invalid == k1.bad_frames == 0
            assert h.resyncs() == [1, 0]
        assert h.feed.stats.client.disconnects == 0
        h.assert_never_wrong(0)
        h.assert_never_wrong(1)


async def test_heartbeats_keep_books_live(heartbeat_case: Case, core_impl: str) -> None:
    async with harness(heartbeat_case, core_impl) as h:
        stats = h.feed.stats
        frames, control = stats.frames, stats.control_frames
        assert await h.sim.send_heartbeat() == 1
        await h.until(lambda: stats.frames == frames + 1)
        # the adapter read it as a heartbeat event: not a fault, not a frame without an event
        assert stats.bad_frames == 0 and stats.faults == 0 and stats.control_frames == control
        assert h.all_live()
        await h.settle()
        assert h.resyncs() == [0, 0]


async def test_other_instruments_are_counted_not_applied(case: Case, core_impl: str) -> None:
    async with harness(case, core_impl, extra=("SOL-USD",)) as h:
        other = case.symbol("SOL-USD")
        await h.sim.step(1, [other], everyone=True)  # a delta the feed never subscribed to
        await h.until(lambda: h.feed.stats.unroutable == 1)
        await h.settle()
        assert h.feed.stats.faults == 0 and h.feed.stats.bad_frames == 0
        assert h.resyncs() == [0, 0]
