"""Latest-wins publishing: a feed hands its aggregator's queue one Lazy per instrument, and the
update is built when the queue is drained, from the keeper's state then.

What must hold: the drained update is what an eager feed would have delivered last (the newest
top, the newest status); a crossed or malformed frame is never served (the instrument is out until
a good frame); nothing is built for frames replaced before the drain; the queue stays bounded.
"""

from __future__ import annotations

import pytest

from dragonfly.clients.base import ClientStats
from dragonfly.listeners import FeedDriver
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.queues import KeyedQueue, Lazy
from dragonfly.venues import create_feed, get_venue

LIVE, STALE = VenueStatus.LIVE, VenueStatus.STALE


def frame(seq: int, bid: str, ask: str = "0.051", stream: str = "ethbtc@depth20@100ms") -> str:
    data = f'{{"lastUpdateId":{seq},"bids":[["{bid}","1"],["0.001","2"]],"asks":[["{ask}","1"],["99999","2"]]}}'
    return f'{{"stream":"{stream}","data":{data}}}'


class NoClient:
    def __init__(self) -> None:
        self.stats = ClientStats()
        self.on_connect = self.on_disconnect = self.on_gap = None


def key(u: BookUpdate) -> tuple[str, str]:
    return (u.venue, u.instrument)


def feed_into(sink: object, instruments: tuple[str, ...] = ("ETH-BTC",)) -> FeedDriver:
    return create_feed(get_venue("binance"), instruments=list(instruments), depth=2, sink=sink,
                       keepalive_s=3600.0, client=NoClient())


class Counted(Lazy[str]):
    def __init__(self, venue: str, instrument: str, value: str | None) -> None:
        self.venue, self.instrument, self.value, self.calls = venue, instrument, value, 0

    def materialize(self) -> str | None:
        self.calls += 1
        return self.value


def test_queue_materializes_on_drain_latest_wins_and_bounded() -> None:
    q: KeyedQueue[tuple[str, str], object] = KeyedQueue(key, max_keys=2)  # type: ignore[arg-type]
    a, b, c = Counted("x", "I", "A"), Counted("y", "I", None), Counted("z", "I", "C")
    for _ in range(100):
        q.publish_lazy(a)
    q.publish_lazy(b)
    q.publish_lazy(c)  # a third key: over the bound, dropped and counted
    assert (len(q), q.dropped, q.conflated, q.published) == (2, 1, 99, 101)
    assert a.calls == 0  # nothing built before the drain
    assert q.drain() == {("x", "I"): "A"}  # b gave None: left out
    assert (a.calls, b.calls, c.calls) == (1, 1, 0)
    assert q.drain() == {}  # nothing left, nothing built again
    assert a.calls == 1


class Item:
    def __init__(self, venue: str, instrument: str) -> None:
        self.venue, self.instrument = venue, instrument


def test_queue_mixes_eager_and_lazy_items_of_a_key() -> None:
    q: KeyedQueue[tuple[str, str], object] = KeyedQueue(key)  # type: ignore[arg-type]
    lazy = Counted("x", "I", "lazy")
    eager = Item("x", "I")
    q.publish_lazy(lazy)
    q.publish(eager)  # an eager item replaces the waiting Lazy ...
    assert q.drain() == {("x", "I"): eager} and lazy.calls == 0
    q.publish(eager)
    q.publish_lazy(lazy)  # ... and a Lazy replaces a waiting item
    assert q.drain() == {("x", "I"): "lazy"}


def test_a_lazy_published_again_while_waiting_is_counted_and_queued_again_once_replaced() -> None:
    q: KeyedQueue[tuple[str, str], object] = KeyedQueue(key)  # type: ignore[arg-type]
    lazy, other = Counted("x", "I", "lazy"), Counted("x", "I", "other")
    q.publish_lazy(lazy)
    q.publish_lazy(lazy)  # still waiting: only counted
    assert (len(q), q.published, q.conflated) == (1, 2, 1)
    q.publish(Item("x", "I"))  # an eager item replaces it ...
    q.publish_lazy(lazy)  # ... so publishing it again queues it again
    assert q.drain() == {("x", "I"): "lazy"} and (q.published, q.conflated) == (4, 3)
    q.publish_lazy(lazy)  # drained: queued again, as a new key
    q.publish_lazy(other)  # another Lazy of the key replaces it ...
    q.publish_lazy(lazy)  # ... and it comes back
    assert q.drain() == {("x", "I"): "lazy"} and other.calls == 0 and (q.published, q.conflated) == (7, 5)
    q.publish_lazy(lazy)
    q.close()
    q.publish_lazy(lazy)  # closed: nothing counted, what waits is still delivered
    assert q.published == 8 and q.drain() == {("x", "I"): "lazy"}


def test_a_lazy_dropped_at_the_bound_is_not_taken_for_waiting() -> None:
    q: KeyedQueue[tuple[str, str], object] = KeyedQueue(key, max_keys=1)  # type: ignore[arg-type]
    a, b = Counted("a", "I", "A"), Counted("b", "I", "B")
    q.publish_lazy(a)
    q.publish_lazy(b)  # over the bound: dropped
    q.publish_lazy(b)  # still not waiting: dropped again, not counted as published
    assert (len(q), q.published, q.dropped) == (1, 1, 2)
    assert q.drain() == {("a", "I"): "A"}
    q.publish_lazy(b)
    assert q.drain() == {("b", "I"): "B"} and q.published == 2


def test_feed_builds_one_update_per_drain_from_the_newest_frame() -> None:
    q: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(key)
    feed = feed_into(q)
    (k,) = feed.keepers.values()
    for i in range(1, 101):
        feed.on_frame(frame(i, f"0.0{i + 100}"[:7], ask="0.9"), i)
    assert k.stats.snapshots == 100 and feed.stats.published == 0  # checked, nothing built yet
    (u,) = q.drain().values()
    assert (u.status, u.receive_ts_ns, u.bids[0], u.asks[0]) == (LIVE, 100, (float("0.0200"), 1.0), (0.9, 1.0))
    assert feed.stats.published == 1 and k.stats.forwarded == 1
    feed.on_frame(frame(101, "0.0200", ask="0.9"), 101)  # the same top as delivered: nothing to deliver
    assert q.drain() == {} and k.stats.unchanged == 1


@pytest.mark.parametrize(
    "bad",
    [
        frame(50, "0.06", ask="0.05"),  # crossed
        frame(50, "0.05").replace('"1"]', '"x"]', 1),  # malformed level
        frame(50, "0.05").replace('["0.001"', '["0.07"', 1),  # bids not best first
    ],
)
def test_a_bad_frame_before_the_drain_is_never_served(bad: str) -> None:
    q: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(key)
    feed = feed_into(q)
    feed.on_frame(frame(1, "0.04"), 1)
    feed.on_frame(bad, 2)
    (u,) = q.drain().values()
    assert u.status is STALE and u.bids == () and u.asks == () and "resync" in u.reason
    feed.on_frame(frame(51, "0.045"), 3)  # the next good top brings it back
    (u,) = q.drain().values()
    assert u.status is LIVE and u.bids[0] == (0.045, 1.0)


def test_older_frame_skipped_keeps_the_accepted_top() -> None:
    q: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(key)
    feed = feed_into(q)
    (k,) = feed.keepers.values()
    feed.on_frame(frame(10, "0.04"), 1)
    feed.on_frame(frame(9, "0.03"), 2)  # older: skipped, although the extractor read it
    (u,) = q.drain().values()
    assert u.bids[0] == (0.04, 1.0) and k.stats.skipped == 1


def test_instruments_of_a_feed_are_independent() -> None:
    q: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(key)
    feed = feed_into(q, ("ETH-BTC", "BTC-USDT"))
    feed.on_frame(frame(1, "0.04"), 1)
    feed.on_frame(frame(1, "20000", ask="20001", stream="btcusdt@depth20@100ms"), 2)
    feed.on_frame(frame(2, "0.06", ask="0.05"), 3)  # crossed: only ETH-BTC resyncs
    got = {u.instrument: u for u in q.drain().values()}
    assert got["ETH-BTC"].status is STALE
    assert got["BTC-USDT"].status is LIVE and got["BTC-USDT"].bids[0] == (20000.0, 1.0)


def test_a_sink_without_publish_lazy_gets_every_update_at_once() -> None:
    items: list[BookUpdate] = []

    class ListSink:
        def publish(self, u: BookUpdate) -> None:
            items.append(u)

    feed = feed_into(ListSink())
    feed.on_frame(frame(1, "0.04"), 1)
    feed.on_frame(frame(2, "0.045"), 2)
    assert [u.bids[0][0] for u in items] == [0.04, 0.045]


def test_a_lazy_that_fails_is_dropped_and_counted(caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from dragonfly import queues

    monkeypatch.setattr(queues.log, "disabled", False)  # a logging configuration elsewhere in the run may disable it
    caplog.set_level(logging.ERROR, logger="dragonfly.queues")

    class Broken(Counted):
        def materialize(self) -> str | None:
            raise RuntimeError("bug")

    q: KeyedQueue[tuple[str, str], object] = KeyedQueue(key, name="q")  # type: ignore[arg-type]
    q.publish_lazy(Broken("x", "I", None))
    q.publish_lazy(Counted("y", "I", "ok"))
    assert q.drain() == {("y", "I"): "ok"}  # the other keys still delivered
    assert q.dropped == 1 and "building the item of ('x', 'I') failed" in caplog.text
