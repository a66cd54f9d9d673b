"""Bounded queues that join the layers.

Three shapes, none of which can grow without limit:

* :class:`Broadcast` -- single producer, many consumers (aggregator -> services).
  Every subscriber has its own bounded slot; a slow subscriber is conflated (it
  loses the oldest items, keeps the newest, and counts what it skipped) and never
  slows the producer or the other subscribers.
* :class:`KeyedQueue` -- many producers, one consumer (listeners -> aggregator).
  Keeps only the latest item per key; the consumer :meth:`~KeyedQueue.drain`\\ s
  everything waiting and computes once. A producer may also hand it a :class:`Lazy`
  (:meth:`~KeyedQueue.publish_lazy`): the item is built only when drained, so a key
  replaced a hundred times between two drains costs one item, not a hundred.
* :class:`Transformer` -- a function between two queues, run as a task.

All of them are for one asyncio event loop; ``publish`` is synchronous, never
blocks and never allocates per waiting item beyond the fixed slots.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Generic, Protocol, TypeVar

from ._lifecycle import cancel_and_wait
from .errors import QueueClosedError

__all__ = (
    "Sink",
    "Lazy",
    "Broadcast",
    "Subscription",
    "KeyedQueue",
    "Tee",
    "Transformer",
    "QueueClosedError",
)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)
_NONE: Any = object()  # no item waiting under a key


class Sink(Protocol[T_contra]):
    """Anything a producer can hand items to without waiting."""

    def publish(self, item: T_contra, /) -> None: ...


class Lazy(Generic[T_co]):
    """An item a producer has not built yet: :meth:`materialize` builds it when the consumer takes it.

    Hand one to :meth:`KeyedQueue.publish_lazy` (the queue keys it like an item, so it must have the
    attributes the key function reads). ``materialize`` runs in the consumer's :meth:`KeyedQueue.drain`;
    it returns the item as of then (the producer's latest state), or None when there is nothing to
    deliver. A producer publishes one Lazy to one queue only: materializing it may change the
    producer's state (what it last delivered).

    Attributes
    ----------
    queued_in : KeyedQueue or None
        The queue it waits in, set and cleared by that queue only: set when it is queued, cleared when
        it is drained, replaced under its key by another item, or the queue is closed (None, or unset,
        when it waits nowhere). While ``lazy.queued_in is q``, ``q.publish_lazy(lazy)`` does exactly
        ``q.conflated += 1`` (latest wins: the Lazy waiting there builds the newest item anyway), so a
        producer that holds the Lazy may do that count itself instead of the call (the core's
        :class:`~dragonfly._core.topn.TopPath` does, in C). Anything else goes through ``publish_lazy``.
    """

    __slots__ = ("queued_in",)
    queued_in: KeyedQueue[Any, Any] | None

    def materialize(self) -> T_co | None:  # pragma: no cover - abstract
        raise NotImplementedError


class Subscription(Generic[T]):
    """One consumer's bounded slot on a :class:`Broadcast`.

    Iterate with ``async for`` or call :meth:`get`. When the slot is full, a new
    item replaces the oldest one and :attr:`skipped` grows by one.
    :meth:`close` (or leaving the ``with``/``async with`` block) unsubscribes.

    Attributes
    ----------
    maxsize : int
        Capacity of the slot.
    skipped : int
        Items dropped because the consumer was too slow.
    received : int
        Items handed to the consumer.
    """

    __slots__ = ("_broadcast", "_buf", "_waiter", "_closed", "maxsize", "skipped", "received", "__weakref__")

    def __init__(self, broadcast: Broadcast[T], maxsize: int) -> None:
        self._broadcast: Broadcast[T] | None = broadcast
        self._buf: deque[T] = deque(maxlen=maxsize)
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.maxsize = maxsize
        self.skipped = 0
        self.received = 0

    # -- producer side ---------------------------------------------------------
    def _put(self, item: T) -> None:
        buf = self._buf
        if len(buf) == self.maxsize:
            self.skipped += 1
        buf.append(item)  # deque(maxlen) drops the oldest
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _end(self) -> None:
        self._closed = True
        self._broadcast = None
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # -- consumer side ---------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once unsubscribed or the broadcast closed (items still buffered can be read)."""
        return self._closed

    def __len__(self) -> int:
        return len(self._buf)

    def get_nowait(self) -> T:
        """Return the oldest buffered item; raise :class:`asyncio.QueueEmpty` if none
        (or :class:`QueueClosedError` when closed and empty)."""
        if self._buf:
            self.received += 1
            return self._buf.popleft()
        if self._closed:
            raise QueueClosedError("subscription closed")
        raise asyncio.QueueEmpty

    async def get(self) -> T:
        """Wait for and return the next item.

        Raises
        ------
        QueueClosedError
            When the subscription or its broadcast is closed and nothing is left
            (it is also a :class:`StopAsyncIteration`).
        """
        buf = self._buf
        while not buf:
            if self._closed:
                raise QueueClosedError("subscription closed")
            loop = asyncio.get_running_loop()
            self._waiter = w = loop.create_future()
            try:
                await w
            finally:
                self._waiter = None
        self.received += 1
        return buf.popleft()

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except QueueClosedError:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Unsubscribe; a pending :meth:`get` ends with :class:`QueueClosedError`."""
        b = self._broadcast
        if b is not None:
            b._subs.pop(self, None)
        self._end()

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Broadcast(Generic[T]):
    """Single-producer, multi-consumer broadcast with per-subscriber conflation.

    Parameters
    ----------
    name : str
        For logs and ``repr``.
    on_subscribe : callable, optional
        See :attr:`on_subscribe`.

    Examples
    --------
    >>> views: Broadcast[int] = Broadcast()
    >>> sub = views.subscribe(maxsize=1)
    >>> views.publish(1); views.publish(2)
    >>> sub.get_nowait(), sub.skipped
    (2, 1)
    """

    __slots__ = ("name", "_subs", "_latest", "_closed", "published", "on_subscribe")

    def __init__(self, name: str = "", *, on_subscribe: Callable[[], None] | None = None) -> None:
        self.name = name
        #: Called by :meth:`subscribe` before the new subscription is filled with
        #: :attr:`latest`: a producer that skips work while nobody listens can
        #: publish the current state here.
        self.on_subscribe = on_subscribe
        # dict as an insertion-ordered set (deterministic delivery order)
        self._subs: dict[Subscription[T], None] = {}
        self._latest: T | None = None
        self._closed = False
        #: Items published so far.
        self.published = 0

    @property
    def latest(self) -> T | None:
        """The newest published item, or None before the first."""
        return self._latest

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def publish(self, item: T) -> None:
        """Hand ``item`` to every subscriber; never blocks, never grows memory (no-op once closed)."""
        if self._closed:
            return
        self._latest = item
        self.published += 1
        for sub in self._subs:
            sub._put(item)

    def subscribe(self, *, maxsize: int = 1) -> Subscription[T]:
        """Return a new subscription holding at most ``maxsize`` items.

        If something was already published, the subscription starts with
        :attr:`latest`, so a new consumer begins from the current state.
        """
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError(f"maxsize must be an int, got {type(maxsize).__name__}")
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        sub: Subscription[T] = Subscription(self, maxsize)
        if self._closed:
            sub._end()
            return sub
        if self.on_subscribe is not None:
            self.on_subscribe()
        if self._latest is not None:
            sub._buf.append(self._latest)
        self._subs[sub] = None
        return sub

    def close(self) -> None:
        """End every subscriber's iteration (after what they still hold)."""
        self._closed = True
        subs = list(self._subs)
        self._subs.clear()
        for sub in subs:
            sub._end()

    def __repr__(self) -> str:
        return f"<Broadcast {self.name!r} subscribers={len(self._subs)} published={self.published}>"


class KeyedQueue(Generic[K, T]):
    """Many-producer, single-consumer queue that keeps the latest item per key.

    ``publish`` replaces a waiting item with the same key (counted in
    :attr:`conflated`); the consumer awaits :meth:`wait` and takes everything
    with :meth:`drain`, so it computes once on the latest state.

    Parameters
    ----------
    key : callable
        Maps an item to its key (e.g. ``lambda u: (u.venue, u.instrument)``).
    max_keys : int
        Bound on distinct keys waiting at once. An item with a new key beyond it
        is dropped and counted in :attr:`dropped` (and logged once).
    name : str
        For logs.

    Attributes
    ----------
    published : int
        Items accepted (each publish that was not dropped).
    conflated : int
        Of those, the ones that replaced a waiting item of their key (or found their Lazy waiting).
    dropped : int
        Items with a new key dropped at the bound, and Lazy items whose building failed.
    """

    __slots__ = (
        "_key", "max_keys", "name", "_items", "_waiter", "_closed", "_fresh", "conflated", "dropped", "_warned",
        "_lazy",
    )

    def __init__(self, key: Callable[[T], K], *, max_keys: int = 1024, name: str = "") -> None:
        if not callable(key):
            raise TypeError("key must be callable")
        if not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be a positive int, got {max_keys!r}")
        self._key = key
        self.max_keys = max_keys
        self.name = name
        self._items: dict[K, T] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._fresh = 0  # items published under a key with nothing waiting
        self.conflated = 0
        self.dropped = 0
        self._warned = False
        self._lazy = False  # a Lazy is waiting (drain materializes)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def published(self) -> int:
        """Items accepted (each publish that was not dropped)."""
        return self._fresh + self.conflated

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, item: T) -> None:
        """Queue ``item``, replacing a waiting one with the same key. Never blocks."""
        if self._closed:
            return
        self._put(self._key(item), item)

    def publish_lazy(self, item: Lazy[T]) -> None:
        """Queue a :class:`Lazy` under the key of ``item`` (as :meth:`publish` would); it is
        materialized by :meth:`drain`. Publishing the same Lazy again before the drain only counts
        (it is still waiting). Never blocks."""
        if getattr(item, "queued_in", None) is self:  # unset: a Lazy whose __init__ did not set it, never queued
            self.conflated += 1  # latest wins: the Lazy waiting here builds the newest item anyway
            return
        if self._closed:
            return
        self._lazy = True
        if self._put(self._key(item), item):  # type: ignore[arg-type]  # the Lazy has the attributes the key reads
            item.queued_in = self

    def _put(self, k: K, item: Any) -> bool:
        """``item`` under ``k``, replacing a waiting one; False when dropped at the bound."""
        items: dict[K, Any] = self._items
        old = items.get(k, _NONE)
        if old is not _NONE:  # not the first item since the last drain: any waiter was already woken
            if old is not item and isinstance(old, Lazy):
                old.queued_in = None  # replaced: publishing it again queues it again
            self.conflated += 1
            items[k] = item
            return True
        if len(items) >= self.max_keys:
            self.dropped += 1
            if not self._warned:
                self._warned = True
                log.warning("KeyedQueue %r full (%d keys); dropping new key %r", self.name, self.max_keys, k)
            return False
        items[k] = item
        self._fresh += 1
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        return True

    def drain(self) -> dict[K, T]:
        """Take everything waiting (insertion order), leaving the queue empty; :class:`Lazy` items
        are materialized now (those that give None are left out; one that raises is logged, counted in
        :attr:`dropped` and left out)."""
        items = self._items
        self._items = {}
        if self._lazy:
            self._lazy = False
            for k, v in list(items.items()):
                if isinstance(v, Lazy):
                    v.queued_in = None
                    try:
                        got = v.materialize()
                    except Exception:  # a producer's bug must not take the consumer (and every other key) down
                        log.exception("KeyedQueue %r: building the item of %r failed; dropped", self.name, k)
                        self.dropped += 1
                        got = None
                    if got is None:
                        del items[k]
                    else:
                        items[k] = got
        return items

    def wake(self) -> None:
        """Wake a pending :meth:`wait` without an item (used for timers)."""
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def wait(self) -> None:
        """Return when something is waiting, :meth:`wake` was called, or the queue closed."""
        if self._items or self._closed:
            return
        self._waiter = w = asyncio.get_running_loop().create_future()
        try:
            await w
        finally:
            self._waiter = None

    async def get_batch(self) -> dict[K, T]:
        """Wait, then :meth:`drain`. Raises :class:`QueueClosedError` when closed and empty."""
        while not self._items:
            if self._closed:
                raise QueueClosedError(f"queue {self.name!r} closed")
            await self.wait()
        return self.drain()

    def close(self) -> None:
        """Stop taking items (what waits is still drained); a pending :meth:`wait` returns."""
        self._closed = True
        if self._lazy:
            for v in self._items.values():
                if isinstance(v, Lazy):
                    v.queued_in = None  # publishing it to a closed queue is not counted
        self.wake()

    def __aiter__(self) -> AsyncIterator[T]:
        """Every item, batch after batch (latest per key), until the queue is closed and empty: a
        :class:`Transformer` can read a KeyedQueue without a backlog per key."""
        return self._items_until_closed()

    async def _items_until_closed(self) -> AsyncIterator[T]:
        while True:
            try:
                batch = await self.get_batch()
            except QueueClosedError:
                return
            for item in batch.values():
                yield item


class Tee(Generic[T]):
    """A sink that hands each item to several sinks (one listener, several aggregators)."""

    __slots__ = ("sinks",)

    def __init__(self, *sinks: Sink[T]) -> None:
        self.sinks: tuple[Sink[T], ...] = sinks

    def publish(self, item: T) -> None:
        for s in self.sinks:
            s.publish(item)


class Transformer(Generic[T, U]):
    """Run ``fn`` on every item of ``source`` and publish non-None results to ``sink``.

    ``fn`` may be a plain function or a coroutine function. An exception from
    ``fn`` is counted in :attr:`errors`, logged once, and the item skipped.

    Examples
    --------
    >>> # encode = Transformer(views.subscribe(), encode_view, encoded)  # doctest: +SKIP
    >>> # async with encode: ...
    """

    def __init__(
        self,
        source: AsyncIterable[T],
        fn: Callable[[T], U | None] | Callable[[T], Awaitable[U | None]],
        sink: Sink[U],
        *,
        name: str = "",
    ) -> None:
        if not callable(fn):
            raise TypeError("fn must be callable")
        if not hasattr(sink, "publish"):
            raise TypeError("sink must have a publish() method")
        self.source = source
        self.fn = fn
        self.sink = sink
        self.name = name
        self.processed = 0
        self.errors = 0
        self._is_coro = asyncio.iscoroutinefunction(fn)
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Pump until the source ends."""
        fn: Any = self.fn
        logged = False
        async for item in self.source:
            try:
                out = await fn(item) if self._is_coro else fn(item)
            except Exception:
                self.errors += 1
                if not logged:
                    logged = True
                    log.exception("transformer %r failed on an item; skipping (logged once)", self.name)
                continue
            self.processed += 1
            if out is not None:
                self.sink.publish(out)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"transformer:{self.name}")
        return self._task

    async def stop(self) -> None:
        close = getattr(self.source, "close", None)
        if callable(close):
            r = close()
            if asyncio.iscoroutine(r):
                await r
        t, self._task = self._task, None
        await cancel_and_wait(t)

    async def __aenter__(self) -> Transformer[T, U]:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
