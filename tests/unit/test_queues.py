"""Bounded queues: Broadcast (SPMC, per-subscriber conflation), KeyedQueue (MPSC), Tee, Transformer."""

from __future__ import annotations

import asyncio

import pytest

from dragonfly.errors import DragonflyError, QueueClosedError
from dragonfly.queues import Broadcast, KeyedQueue, Tee, Transformer


async def test_subscriber_gets_items_in_order_within_its_slot() -> None:
    b: Broadcast[int] = Broadcast("t")
    sub = b.subscribe(maxsize=3)
    for i in range(3):
        b.publish(i)
    assert [await sub.get() for _ in range(3)] == [0, 1, 2]
    assert sub.skipped == 0 and sub.received == 3


async def test_slow_subscriber_conflates_keeps_newest_and_counts() -> None:
    b: Broadcast[int] = Broadcast()
    slow = b.subscribe(maxsize=1)
    fast = b.subscribe(maxsize=100)
    for i in range(50):
        b.publish(i)
    assert len(slow) == 1  # bounded memory
    assert await slow.get() == 49
    assert slow.skipped == 49
    assert [fast.get_nowait() for _ in range(50)] == list(range(50))
    assert fast.skipped == 0


async def test_new_subscriber_starts_from_latest() -> None:
    b: Broadcast[str] = Broadcast()
    assert b.latest is None
    assert len(b.subscribe()) == 0
    b.publish("a")
    b.publish("b")
    sub = b.subscribe(maxsize=2)
    assert b.latest == "b"
    assert sub.get_nowait() == "b"
    with pytest.raises(asyncio.QueueEmpty):
        sub.get_nowait()


async def test_waiting_get_wakes_on_publish() -> None:
    b: Broadcast[int] = Broadcast()
    sub = b.subscribe()
    task = asyncio.get_running_loop().create_task(sub.get())
    await asyncio.sleep(0)  # let the task block on get()
    assert not task.done()
    b.publish(7)
    assert await asyncio.wait_for(task, 5) == 7


async def test_close_ends_iteration_for_every_subscriber() -> None:
    b: Broadcast[int] = Broadcast()
    subs = [b.subscribe(maxsize=4) for _ in range(3)]
    b.publish(1)

    async def collect(s):  # type: ignore[no-untyped-def]
        return [x async for x in s]

    tasks = [asyncio.get_running_loop().create_task(collect(s)) for s in subs]
    await asyncio.sleep(0)
    b.close()
    assert await asyncio.wait_for(asyncio.gather(*tasks), 5) == [[1], [1], [1]]
    with pytest.raises(QueueClosedError):
        await subs[0].get()
    b.publish(2)  # publishing after close is a no-op, never an error for the producer
    assert b.subscriber_count == 0
    late = b.subscribe()
    assert late.closed
    assert [x async for x in late] == []


async def test_queue_closed_error_is_typed() -> None:
    assert issubclass(QueueClosedError, DragonflyError)
    assert issubclass(QueueClosedError, StopAsyncIteration)


async def test_unsubscribe_with_context_manager() -> None:
    b: Broadcast[int] = Broadcast()
    with b.subscribe() as sub:
        assert b.subscriber_count == 1
    assert b.subscriber_count == 0 and sub.closed
    async with b.subscribe() as sub2:
        b.publish(3)
        assert await sub2.get() == 3
    assert b.subscriber_count == 0


def test_subscribe_checks_maxsize() -> None:
    b: Broadcast[int] = Broadcast()
    with pytest.raises(ValueError):
        b.subscribe(maxsize=0)
    with pytest.raises(TypeError):
        b.subscribe(maxsize=1.5)  # type: ignore[arg-type]


async def test_keyed_queue_keeps_latest_per_key_and_drains_all() -> None:
    q: KeyedQueue[str, tuple[str, int]] = KeyedQueue(lambda x: x[0], max_keys=2)
    q.publish(("a", 1))
    q.publish(("b", 1))
    q.publish(("a", 2))
    q.publish(("c", 1))  # a third key beyond max_keys: dropped and counted
    assert q.conflated == 1 and q.dropped == 1
    assert q.drain() == {"a": ("a", 2), "b": ("b", 1)}
    assert len(q) == 0 and q.drain() == {}


async def test_keyed_queue_wait_wake_and_close() -> None:
    q: KeyedQueue[int, int] = KeyedQueue(lambda x: x)
    waiter = asyncio.get_running_loop().create_task(q.get_batch())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.publish(5)
    assert await asyncio.wait_for(waiter, 5) == {5: 5}
    w2 = asyncio.get_running_loop().create_task(q.wait())
    await asyncio.sleep(0)
    q.wake()
    await asyncio.wait_for(w2, 5)
    q.close()
    with pytest.raises(QueueClosedError):
        await q.get_batch()
    q.publish(1)
    assert len(q) == 0


async def test_tee_and_transformer() -> None:
    src: Broadcast[int] = Broadcast()
    a: Broadcast[str] = Broadcast()
    b: Broadcast[str] = Broadcast()
    out_a = a.subscribe(maxsize=10)
    out_b = b.subscribe(maxsize=10)

    def fn(x: int) -> str | None:
        if x == 2:
            return None  # filtered
        if x == 3:
            raise RuntimeError("boom")  # counted, skipped
        return f"v{x}"

    t = Transformer(src.subscribe(maxsize=10), fn, Tee(a, b), name="t")
    async with t:
        for i in range(5):
            src.publish(i)
        got = [await asyncio.wait_for(out_a.get(), 5) for _ in range(3)]
    assert got == ["v0", "v1", "v4"]
    assert [out_b.get_nowait() for _ in range(3)] == got
    assert t.errors == 1 and t.processed == 4


async def test_async_transformer() -> None:
    src: Broadcast[int] = Broadcast()
    dst: Broadcast[int] = Broadcast()
    out = dst.subscribe(maxsize=4)

    async def double(x: int) -> int:
        return 2 * x

    async with Transformer(src.subscribe(maxsize=4), double, dst):
        src.publish(21)
        assert await asyncio.wait_for(out.get(), 5) == 42
    with pytest.raises(TypeError):
        Transformer(src.subscribe(), 3, dst)  # type: ignore[arg-type]


async def test_transformer_reads_a_keyed_queue_latest_per_key_until_closed() -> None:
    src: KeyedQueue[str, tuple[str, int]] = KeyedQueue(lambda item: item[0], max_keys=4)
    dst: Broadcast[tuple[str, int]] = Broadcast()
    out = dst.subscribe(maxsize=16)
    for item in (("a", 1), ("b", 1), ("a", 2)):  # before the transformer runs: "a" conflates to its latest
        src.publish(item)
    t = Transformer(src, lambda item: (item[0], item[1] * 10), dst, name="keyed")
    task = t.start()
    got = [await asyncio.wait_for(out.get(), 5) for _ in range(2)]
    assert got == [("a", 20), ("b", 10)] and src.conflated == 1
    src.publish(("c", 3))
    assert await asyncio.wait_for(out.get(), 5) == ("c", 30)
    src.close()  # the iteration ends by itself once the queue is closed and empty
    await asyncio.wait_for(task, 5)
    assert t.processed == 3
    await t.stop()
