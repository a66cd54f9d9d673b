"""TopPath (dragonfly._core.topn): a top-N feed's frame in one call, both twins.

The routine frame (accepted by ``TopReader.take``) updates the keeper, the feed's counter and the item's receive
time, and marks the item in its queue as ``KeyedQueue.publish_lazy`` would (only a count while it waits there);
every other frame goes to the general path with its receive time. The objects it writes may be slotted (the
compiled twin writes their slots), plain, or guard their attributes (then their own ``__setattr__`` runs).
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly.queues import KeyedQueue, Lazy

LEVELS = '"bids":[["1.5","2"],["1.4","1"]],"asks":[["1.6","3"]]'


def frame(seq: int, key: str = "eth@depth") -> str:
    return f'{{"stream":"{key}","data":{{"lastUpdateId":{seq},{LEVELS}}}}}'


@pytest.fixture
def topn(core_impl: str) -> ModuleType:
    return core_module("topn", core_impl)


class SlotStats:
    __slots__ = ("frames", "snapshots")

    def __init__(self) -> None:
        self.frames = 0
        self.snapshots = 0


class SlotKeeper:
    __slots__ = ("exchange_ts_ns", "last", "stats")

    def __init__(self) -> None:
        self.last = -1
        self.stats = SlotStats()
        self.exchange_ts_ns = 0


class DictStats:
    def __init__(self) -> None:
        self.frames = 0
        self.snapshots = 0


class DictKeeper:
    def __init__(self) -> None:
        self.last = -1
        self.stats = DictStats()
        self.exchange_ts_ns = 0


WRITES: list[str] = []


class GuardedStats(SlotStats):
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        WRITES.append(name)
        object.__setattr__(self, name, value)


class GuardedKeeper(SlotKeeper):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.stats = GuardedStats()

    def __setattr__(self, name: str, value: Any) -> None:
        WRITES.append(name)
        object.__setattr__(self, name, value)


class Item(Lazy[tuple[str, int]]):
    __slots__ = ("instrument", "materialized", "receive_ns", "venue")

    def __init__(self) -> None:
        self.venue, self.instrument = "v", "i"
        self.receive_ns = 0
        self.materialized = 0

    def materialize(self) -> tuple[str, int]:
        self.materialized += 1
        return ("built", self.receive_ns)


KINDS = {"slots": (SlotStats, SlotKeeper), "plain": (DictStats, DictKeeper), "guarded": (GuardedStats, GuardedKeeper)}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seq_ts_ns", [0, 1000, 2**70])
def test_routine_frames_and_the_rest(topn: ModuleType, kind: str, seq_ts_ns: int) -> None:
    stats_type, keeper_type = KINDS[kind]
    feed_stats, keeper, item = stats_type(), keeper_type(), Item()
    queue: KeyedQueue[tuple[str, str], Any] = KeyedQueue(lambda u: (u.venue, u.instrument))
    general: list[tuple[str, int]] = []
    reader = topn.TopReader("data.bids", "data.asks", 2, seq_key="lastUpdateId", route_head='{"stream":"')
    path = reader.path(feed_stats, lambda f, ns: general.append((f, ns)), queue.publish_lazy, seq_ts_ns=seq_ts_ns)
    assert type(path) is topn.TopPath
    state = topn.TopState()
    path.bind("eth@depth", state, keeper, item)
    WRITES.clear()

    path(frame(160), 5)  # no top held: the general path (which would accept it)
    assert general == [(frame(160), 5)] and feed_stats.frames == 1 and path.last_receive_ns == 5
    assert (keeper.last, keeper.stats.snapshots, len(queue)) == (-1, 0, 0)
    reader.read(frame(160))
    state.accept(reader.top, 160)

    path.on_frame(frame(161), 7)  # routine, nothing waiting: queued (publish_lazy)
    exchange = 161 * seq_ts_ns
    assert (keeper.last, keeper.stats.snapshots, keeper.exchange_ts_ns, item.receive_ns) == (161, 1, exchange, 7)
    assert (feed_stats.frames, len(general), state.seq) == (2, 1, 161)
    assert (len(queue), queue.published, queue.conflated, item.queued_in) == (1, 1, 0, queue)

    path(frame(170), 9)  # routine, still waiting: only counted
    assert (keeper.last, keeper.stats.snapshots, item.receive_ns, feed_stats.frames) == (170, 2, 9, 3)
    assert (len(queue), queue.published, queue.conflated) == (1, 2, 1)
    assert queue.drain() == {("v", "i"): ("built", 9)} and item.queued_in is None

    before = time.time_ns()
    path(frame(171))  # drained: queued again; the receive time from the clock
    after = time.time_ns()
    assert before <= item.receive_ns == path.last_receive_ns <= after
    assert (len(queue), queue.published, queue.conflated, item.queued_in) == (1, 3, 1, queue)

    path(frame(150), 13)  # older: the general path
    path(frame(172).replace('"1.6"', '"1.45"'), 15)  # crossed: the general path
    assert general[1:] == [(frame(150), 13), (frame(172).replace('"1.6"', '"1.45"'), 15)]
    assert (keeper.last, keeper.stats.snapshots, feed_stats.frames) == (171, 3, 6)

    keeper.stats = DictStats()  # another stats object (and type): counted there
    queue.close()
    path(frame(180), 17)  # a closed queue: publish_lazy (which ignores it), nothing counted
    assert (keeper.last, keeper.stats.snapshots, item.receive_ns, feed_stats.frames) == (180, 1, 17, 7)
    assert (len(queue), queue.published, queue.conflated, item.queued_in) == (1, 3, 1, None)
    assert queue.drain() == {("v", "i"): ("built", 17)}
    if kind == "guarded":  # their own __setattr__ ran for every write
        assert WRITES.count("last") == 4 and WRITES.count("snapshots") == 3 and WRITES.count("frames") == 7
    else:
        assert not WRITES


def test_a_full_queue_drops_the_mark(topn: ModuleType) -> None:
    queue: KeyedQueue[tuple[str, str], Any] = KeyedQueue(lambda u: (u.venue, u.instrument), max_keys=1)
    other = Item()
    other.instrument = "other"
    queue.publish_lazy(other)  # the one key the queue may hold
    reader = topn.TopReader("data.bids", "data.asks", 2, seq_key="lastUpdateId", route_head='{"stream":"')
    keeper, item, state = SlotKeeper(), Item(), topn.TopState()
    path = reader.path(SlotStats(), lambda f, ns: None, queue.publish_lazy)
    path.bind("eth@depth", state, keeper, item)
    reader.read(frame(1))
    state.accept(reader.top, 1)
    for seq in (2, 3):
        path(frame(seq), seq)
        assert (keeper.last, item.receive_ns, getattr(item, "queued_in", None)) == (seq, seq, None)
        assert (len(queue), queue.published, queue.conflated, queue.dropped) == (1, 1, 0, seq - 1)


def test_arguments_are_checked(topn: ModuleType) -> None:
    reader = topn.TopReader("data.bids", "data.asks", 2, seq_key="lastUpdateId", route_head='{"stream":"')
    with pytest.raises(TypeError):
        topn.TopPath(reader, SlotStats(), None, print)
    with pytest.raises(ValueError):
        topn.TopPath(reader, SlotStats(), print, print, seq_ts_ns=-1)
    with pytest.raises(TypeError):
        topn.TopPath(object(), SlotStats(), print, print)
