"""Sequence rules and the book keeper (the sans-IO state machine of one instrument), on self-written events;
venue adapters parse self-written frames in test_venue_adapters.py."""

from __future__ import annotations

import zlib

import pytest

from dragonfly.listeners.events import Delta, Heartbeat, Snapshot
from dragonfly.listeners.keeper import BookKeeper
from dragonfly.listeners.rules import Contiguous, Monotonic, NoSequence, PrevId, Timestamp, UpdateIdRange, Verdict
from dragonfly.model import VenueStatus

A, S, G = Verdict.APPLY, Verdict.SKIP, Verdict.GAP


def d(first: int = -1, last: int = -1, prev: int = -1, **kw: object) -> Delta:
    return Delta(symbol="X", first=first, last=last, prev=prev, **kw)  # type: ignore[arg-type]


# -- rules -------------------------------------------------------------------------------------------


def test_update_id_range_rule() -> None:
    r = UpdateIdRange()
    assert r.verdict(100, True, d(90, 100)) is S  # u <= lastUpdateId
    assert r.verdict(100, True, d(95, 105)) is A  # straddles
    assert r.verdict(100, True, d(101, 105)) is A
    assert r.verdict(100, True, d(102, 105)) is G  # snapshot too old
    assert r.verdict(105, False, d(106, 110)) is A
    assert r.verdict(105, False, d(107, 110)) is G
    assert r.verdict(105, False, d(100, 105)) is S


def test_contiguous_prev_id_timestamp_rules() -> None:
    assert Contiguous().verdict(10, False, d(last=11)) is A
    assert Contiguous().verdict(10, False, d(last=12)) is G
    assert Contiguous().verdict(10, True, d(last=10)) is S
    assert PrevId().verdict(10, False, d(last=15, prev=10)) is A
    assert PrevId().verdict(10, False, d(last=15, prev=9)) is G
    assert PrevId().verdict(10, False, d(last=9, prev=8)) is S
    assert PrevId().verdict(10, False, d(last=-1, prev=-1)) is A  # feeds without seqId
    assert Timestamp().verdict(100, True, d(last=100)) is S
    assert Timestamp().verdict(100, True, d(last=101)) is A
    assert Timestamp().verdict(100, False, d(last=99)) is G  # out of order after the first
    assert Timestamp().verdict(100, False, d(last=100)) is A
    assert NoSequence().verdict(5, False, d()) is A


# -- the sync state machine --------------------------------------------------------------------------


def make_sync(rule: object = None, **kw: object) -> BookKeeper:
    kw.setdefault("buffer_deltas", True)
    return BookKeeper(venue="v", instrument="X-Y", symbol="X", depth=10, rule=rule or UpdateIdRange(), **kw)  # type: ignore[arg-type]


def test_sync_buffers_until_snapshot_then_goes_live() -> None:
    s = make_sync()
    assert s.status is VenueStatus.SYNCING and s.top(5) == ((), ())
    s.on_delta(d(95, 100, bids=[("1", "1")]))
    s.on_delta(d(101, 103, bids=[("2", "1")], asks=[("5", "1")]))
    assert s.buffered == 2
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("6", "1")], last=100))
    assert step.publish and not step.fault
    assert s.status is VenueStatus.LIVE
    assert s.book.top(5) == (((2.0, 1.0), (1.0, 3.0)), ((5.0, 1.0), (6.0, 1.0)))
    assert (s.stats.skipped, s.stats.applied, s.last) == (1, 1, 103)


def test_sync_stale_snapshot_keeps_buffer_and_asks_again() -> None:
    s = make_sync()
    s.on_delta(d(110, 112, bids=[("1", "1")]))
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], last=100))
    assert step.need_snapshot and not step.fault and s.stats.stale_snapshots == 1
    assert s.status is VenueStatus.SYNCING and s.buffered == 1
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("2", "1")], last=110))
    assert s.status is VenueStatus.LIVE and s.book.bids() == ((1.0, 1.0),)


@pytest.mark.parametrize(
    ("delta", "fault"),
    [
        (d(105, 106, bids=[("1", "1")]), "gap"),
        (d(101, 101, bids=[("9", "1")]), "crossed"),
        (d(101, 101, bids=[("x", "1")]), "invalid"),
    ],
)
def test_sync_faults_resync(delta: Delta, fault: str) -> None:
    s = make_sync()
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("2", "1")], last=100))
    step = s.on_delta(delta)
    assert step.fault == fault and step.need_snapshot and step.publish
    assert s.status is VenueStatus.STALE and fault in s.reason
    assert len(s.book) == 0 and s.top(1) == ((), ())
    assert s.stats.resyncs == 1
    s.on_delta(d(101, 101))  # buffered while the new snapshot loads
    assert s.buffered == 1


def test_sync_checksum_verified_and_mismatch() -> None:
    s = make_sync(NoSequence(), checksum="crc32_top10_digits", buffer_deltas=False)
    s.on_delta(d(bids=[("1.0", "1.0")]))  # before the snapshot: dropped
    assert s.stats.dropped == 1
    s.on_snapshot(Snapshot(symbol="X", bids=[("1.0", "1.0")], asks=[("2.0", "1.0")]))
    good = zlib.crc32(b"20" + b"10" + b"10" + b"20")
    assert not s.on_delta(d(bids=[("1.0", "2.0")], checksum=good)).fault
    assert s.stats.checksums_ok == 1
    step = s.on_delta(d(bids=[("1.0", "3.0")], checksum=good))
    assert step.fault == "checksum" and s.stats.checksum_errors == 1


def test_sync_disconnect_is_stale_without_fault() -> None:
    s = make_sync()
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], last=100))
    assert s.disconnected("gone").publish
    assert s.status is VenueStatus.STALE and s.stats.resyncs == 0 and s.awaiting_snapshot
    assert s.emit(1) is not None
    assert s.disconnected("gone").publish and s.emit(2) is None  # unchanged: nothing new to publish


def test_sync_buffer_is_bounded() -> None:
    s = make_sync(buffer_limit=3)
    for i in range(5):
        s.on_delta(d(i, i))
    assert s.buffered == 3 and s.stats.buffer_overflows == 2


def test_sync_arguments_checked() -> None:
    with pytest.raises(ValueError):
        make_sync(checksum="binance")
    with pytest.raises(ValueError):
        make_sync(buffer_limit=0)


def test_sync_side_that_is_not_a_list_is_invalid_not_a_crash() -> None:
    s = make_sync()
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("2", "1")], last=100))
    step = s.on_delta(Delta(symbol="X", bids=None, asks=[], first=101, last=101))  # type: ignore[arg-type]
    assert step.fault == "invalid" and s.status is VenueStatus.STALE
    step = s.on_snapshot(Snapshot(symbol="X", bids=5, last=200))  # type: ignore[arg-type]
    assert step.fault == "invalid" and s.awaiting_snapshot


# -- buffer overflow: a snapshot must cover every delta the buffer dropped ---------------------------


def test_overflow_then_snapshot_older_than_a_dropped_delta_resyncs() -> None:
    # Bitstamp cannot see a lost delta (microtimestamps, no sequence numbers): buffer_limit=1,
    # two deltas newer than the snapshot arrive while it loads, the first is dropped
    s = make_sync(Timestamp(), buffer_limit=1)
    s.on_delta(d(last=110, bids=[("1", "1")]))
    s.on_delta(d(last=120, bids=[("2", "1")]))
    assert s.stats.buffer_overflows == 1 and s.buffered == 1
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("5", "1")], last=100))
    assert step.need_snapshot and not step.fault
    assert s.status is not VenueStatus.LIVE and s.stats.stale_snapshots == 1
    u = s.emit(1)
    assert u is not None and u.status is VenueStatus.SYNCING and not u.bids and "older than delta 110" in u.reason
    # a snapshot that covers the dropped delta is good; the buffered one newer than it applies
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("5", "1")], last=115))
    assert s.status is VenueStatus.LIVE and not step.need_snapshot
    assert s.book.bids() == ((2.0, 1.0), (1.0, 3.0))


def test_overflow_with_a_sequenced_rule_needs_a_snapshot_past_the_dropped_ids() -> None:
    s = make_sync(buffer_limit=2)
    for first in (101, 103, 105):  # 101..102 is dropped
        s.on_delta(d(first, first + 1, bids=[(str(first), "1")]))
    assert s.stats.buffer_overflows == 1
    assert s.on_snapshot(Snapshot(symbol="X", asks=[("500", "1")], last=100)).need_snapshot
    assert s.status is not VenueStatus.LIVE
    s.on_delta(d(107, 108, bids=[("107", "1")]))  # still buffering meanwhile (103..104 now dropped)
    step = s.on_snapshot(Snapshot(symbol="X", asks=[("500", "1")], last=104))
    assert s.status is VenueStatus.LIVE and not step.fault
    assert [p for p, _ in s.book.bids()] == [107.0, 105.0] and s.last == 108


def test_snapshot_newer_than_every_dropped_delta_is_used() -> None:
    s = make_sync(buffer_limit=1)
    s.on_delta(d(101, 102, bids=[("1", "1")]))
    s.on_delta(d(103, 104, bids=[("2", "1")]))
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "1")], asks=[("9", "1")], last=104))
    assert s.status is VenueStatus.LIVE and not step.need_snapshot
    assert s.stats.skipped == 1 and s.stats.stale_snapshots == 0


def test_connected_requests_a_rest_snapshot_only_when_deltas_are_buffered() -> None:
    assert make_sync(buffer_deltas=True).connected().need_snapshot
    assert not make_sync(buffer_deltas=False).connected().need_snapshot


# -- top-N snapshot feeds (every message is the whole top N) -----------------------------------------


def make_top(**kw: object) -> BookKeeper:
    return BookKeeper(venue="binance", instrument="ETH-BTC", symbol="ethbtc@depth20@100ms", depth=2,
                      rule=Monotonic(), full_book=False, keepalive_s=1.0, **kw)  # type: ignore[arg-type]


def top(n: float, last: int) -> Snapshot:
    return Snapshot(symbol="ethbtc@depth20@100ms", bids=((n, 1.0), (n - 1, 2.0), (n - 2, 3.0)),
                    asks=((n + 1, 1.0), (n + 2, 1.0)), last=last)


def test_top_feed_publishes_changes_and_keepalives_only() -> None:
    k = make_top()
    assert k.book is None
    assert k.on_snapshot(top(10, 5)).publish
    u = k.emit(1_000)
    assert u is not None and u.status is VenueStatus.LIVE
    assert u.bids == ((10, 1.0), (9, 2.0)) and u.asks == ((11, 1.0), (12, 1.0))  # cut to depth 2
    k.on_snapshot(top(10, 6))  # same top
    assert k.emit(2_000) is None and k.stats.unchanged == 1
    k.on_snapshot(top(10, 7))
    u = k.emit(1_000 + 1_000_000_000)  # a second later: re-emitted to show liveness
    assert u is not None and k.stats.keepalives == 1 and k.last_update_ns == 1_000 + 1_000_000_000
    k.on_snapshot(top(20, 8))
    assert k.emit(1_000_000_001_001) is not None and k.stats.forwarded == 2


def test_top_feed_drops_an_older_snapshot() -> None:
    k = make_top()
    k.on_snapshot(top(10, 5))
    assert not k.on_snapshot(top(30, 4)).publish
    assert k.stats.skipped == 1 and k.top()[0][0] == (10, 1.0)


@pytest.mark.parametrize(
    ("bids", "asks", "fault"),
    [
        (((10.0, 1.0),), ((9.0, 1.0),), "crossed"),
        (((9.0, 1.0), (10.0, 1.0)), ((11.0, 1.0),), "invalid"),  # not best first
        (((10.0, -1.0),), ((11.0, 1.0),), "invalid"),
    ],
)
def test_top_feed_bad_top_is_stale_until_the_next_good_one(bids: tuple, asks: tuple, fault: str) -> None:
    k = make_top()
    k.on_snapshot(top(10, 5))
    step = k.on_snapshot(Snapshot(symbol=k.symbol, bids=bids, asks=asks, last=6))
    assert step.fault == fault and k.status is VenueStatus.STALE and k.top() == ((), ())
    assert k.emit(1).status is VenueStatus.STALE  # type: ignore[union-attr]
    assert k.on_snapshot(top(10, 2)).publish  # after a fault any snapshot is taken (the sequence restarts)
    assert k.status is VenueStatus.LIVE


# -- strict deltas (the venue says which levels exist) ------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "problem"),
    [
        ([("7", "0", "delete")], "delete of unknown bid level 7.0"),
        ([("7", "2", "change")], "change of unknown bid level 7.0"),
        ([("7", "0")], "delete of unknown bid level 7.0"),
    ],
)
def test_strict_delta_of_an_unknown_level_resyncs(bids: list, problem: str) -> None:
    s = make_sync(NoSequence(), buffer_deltas=False)
    s.on_snapshot(Snapshot(symbol="X", bids=[("10", "1")], asks=[("11", "1")]))
    step = s.on_delta(Delta(symbol="X", bids=bids, strict=True))
    assert step.fault == "invalid" and problem in s.reason and s.stats.invalid == 1


def test_strict_delta_may_add_then_change_a_level() -> None:
    s = make_sync(NoSequence(), buffer_deltas=False)
    s.on_snapshot(Snapshot(symbol="X", bids=[("10", "1")], asks=[("11", "1")]))
    bids = [("9", "1", "new"), ("9", "2", "change"), ("10", "0", "delete")]
    step = s.on_delta(Delta(symbol="X", bids=bids, strict=True))
    assert not step.fault and s.book.bids() == ((9.0, 2.0),)
    # the same delete without strict is a no-op, as most venues want
    assert not s.on_delta(Delta(symbol="X", bids=[("7", "0")])).fault


# -- heartbeats, rejects, checksum-only messages, snapshots while live -------------------------------


def test_heartbeat_re_emits_a_live_book_only_after_the_keepalive() -> None:
    k = make_top()
    assert not k.on_heartbeat().publish  # not LIVE yet
    k.on_snapshot(top(10, 1))
    k.emit(0)
    assert k.on_heartbeat().publish and k.emit(10) is None
    assert k.emit(2_000_000_000) is not None and k.stats.keepalives == 1


def test_rejected_subscription_is_stale_with_the_reason() -> None:
    s = make_sync(NoSequence(), buffer_deltas=False)
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "1")], asks=[("2", "1")]))
    assert s.on_rejected("unknown symbol").publish
    u = s.emit(5)
    assert u is not None and u.status is VenueStatus.STALE and u.reason == "subscription rejected: unknown symbol"
    assert s.stats.rejects == 1 and s.awaiting_snapshot and s.top() == ((), ())


def test_checksum_only_message_verifies_the_book() -> None:
    # Bitfinex sends its checksum as a message of its own: a delta with no levels
    s = make_sync(NoSequence(), checksum="crc32_top10_digits", buffer_deltas=False)
    s.on_snapshot(Snapshot(symbol="X", bids=[("1.0", "1.0")], asks=[("2.0", "1.0")]))
    good = zlib.crc32(b"20" + b"10" + b"10" + b"10")
    assert not s.on_delta(Delta(symbol="X", checksum=good)).fault and s.stats.checksums_ok == 1
    assert s.on_delta(Delta(symbol="X", checksum=good + 1)).fault == "checksum"


def test_snapshot_while_live_replaces_the_book() -> None:
    s = make_sync(Contiguous(), buffer_deltas=False)
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "1")], asks=[("5", "1")], last=10))
    s.on_delta(d(last=11, bids=[("2", "1")]))
    assert s.on_snapshot(Snapshot(symbol="X", bids=[("3", "1")], asks=[("4", "1")], last=50)).publish
    assert s.book.bids() == ((3.0, 1.0),) and s.last == 50 and s.status is VenueStatus.LIVE
    assert s.stats.resyncs == 0


def test_status_updates_are_emitted_once_per_change() -> None:
    s = make_sync(NoSequence(), buffer_deltas=False)
    assert s.emit(1).status is VenueStatus.SYNCING  # type: ignore[union-attr]
    assert s.emit(2) is None
    s.connected()
    assert s.emit(3).reason == "subscribing, waiting for a snapshot"  # type: ignore[union-attr]
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "1")], asks=[("2", "1")]))
    u = s.emit(4)
    assert u.status is VenueStatus.LIVE and u.bids == ((1.0, 1.0),) and u.receive_ts_ns == 4  # type: ignore[union-attr]
    assert s.stats.status_changes == 2 and s.stats.forwarded == 1


def test_monotonic_and_heartbeat_events_are_plain_data() -> None:
    assert Monotonic().snapshot_verdict(10, 9) is S and Monotonic().snapshot_verdict(10, 10) is A
    assert Monotonic().snapshot_verdict(-1, 3) is A and UpdateIdRange().snapshot_verdict(10, 1) is S
    assert UpdateIdRange().snapshot_verdict(10, 10) is A
    assert Contiguous().snapshot_verdict(10, 1) is A  # Bybit may restart its ids with a new snapshot
    assert Heartbeat().symbol is None


def test_strict_change_beyond_the_depth_cap_is_not_a_fault() -> None:
    # the book keeps 2 levels a side: the venue's third bid exists, the book dropped it
    s = make_sync(NoSequence(), buffer_deltas=False, max_depth=2)
    s.on_snapshot(Snapshot(symbol="X", bids=[("10", "1"), ("9", "1"), ("8", "1")], asks=[("11", "1")]))
    assert s.book.bids() == ((10.0, 1.0), (9.0, 1.0))
    assert not s.on_delta(Delta(symbol="X", bids=[("8", "5", "change"), ("7", "0", "delete")], strict=True)).fault
    # inside the kept depth an unknown level still is one
    assert s.on_delta(Delta(symbol="X", bids=[("9.5", "1", "change")], strict=True)).fault == "invalid"
