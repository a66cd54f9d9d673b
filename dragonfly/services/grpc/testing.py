"""Synthetic world views for tests and benchmarks of the service layer.

:func:`synthetic_view` builds a deterministic, valid :class:`~dragonfly.model.WorldView`
(per-venue tops merged by the core), and :class:`ViewPump` publishes them into a
:class:`~dragonfly.queues.Broadcast` at a set rate or as fast as the loop allows.
They exercise the gRPC fan-out without venue simulators; end-to-end tests use
:mod:`dragonfly.sim` instead.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..._core.merge import merge_levels
from ..._lifecycle import cancel_and_wait
from ...model import Side, VenueHealth, VenueStatus, WorldView
from ...queues import Broadcast

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("ViewPump", "synthetic_view")


def synthetic_view(
    seq: int,
    *,
    instrument: str = "ETH-BTC",
    venues: Sequence[str] = ("venue-a", "venue-b"),
    depth: int = 10,
    mid: float = 0.05,
    tick: float = 1e-5,
    receive_ts_ns: int | None = None,
) -> WorldView:
    """A valid consolidated view: each venue quotes ``depth`` levels around a moving mid.

    The same ``seq`` always gives the same levels; the timestamps are now
    unless ``receive_ts_ns`` is given.
    """
    rng = random.Random(seq)
    center = mid + tick * rng.randint(-50, 50)
    books: dict[str, tuple[Side, Side]] = {}
    for k, venue in enumerate(venues):
        off = rng.randint(1, 3)
        bids = tuple((round(center - tick * (off + i + k), 10), round(rng.uniform(0.1, 20.0), 6)) for i in range(depth))
        asks = tuple((round(center + tick * (off + i + k), 10), round(rng.uniform(0.1, 20.0), 6)) for i in range(depth))
        books[venue] = (bids, asks)
    b, a = merge_levels(books, depth)
    now = time.time_ns() if receive_ts_ns is None else receive_ts_ns
    spread = a[0][1] - b[0][1] if a and b else 0.0
    health = {v: VenueHealth(v, VenueStatus.LIVE, now) for v in venues}
    return WorldView(
        instrument,
        seq,
        tuple(b),
        tuple(a),
        spread,
        health,
        exchange_ts_ns=now,
        receive_ts_ns=now,
        publish_ts_ns=time.time_ns(),
        books=books,
    )


class ViewPump:
    """Publish :func:`synthetic_view`\\ s into ``views``.

    Parameters
    ----------
    views : Broadcast[WorldView]
        Where to publish.
    rate : float or None
        Views per second; None publishes as fast as the loop allows (yielding
        to it after every view).
    count : int or None
        Stop after this many views (None: until :meth:`stop`).
    """

    def __init__(
        self,
        views: Broadcast[WorldView],
        *,
        rate: float | None = None,
        count: int | None = None,
        instrument: str = "ETH-BTC",
        venues: Sequence[str] = ("venue-a", "venue-b"),
        depth: int = 10,
        pool: int = 256,
    ) -> None:
        self.views = views
        self.rate = rate
        self.count = count
        self.published = 0
        # views are prebuilt (pool of shapes, fresh seq/timestamps per publish) so the
        # pump's own cost stays small next to what it measures
        self._shapes = [synthetic_view(i + 1, instrument=instrument, venues=venues, depth=depth) for i in range(pool)]
        self._task: asyncio.Task[None] | None = None

    def next_view(self) -> WorldView:
        self.published += 1
        s = self._shapes[self.published % len(self._shapes)]
        now = time.time_ns()
        return WorldView(
            s.instrument,
            self.published,
            s.bids,
            s.asks,
            s.spread,
            s.venues,
            exchange_ts_ns=now,
            receive_ts_ns=now,
            publish_ts_ns=now,
            books=s.books,
        )

    async def run(self) -> None:
        period = None if not self.rate else 1.0 / self.rate
        loop = asyncio.get_running_loop()
        start = loop.time()
        while self.count is None or self.published < self.count:
            self.views.publish(self.next_view())
            if period is None:
                await asyncio.sleep(0)
            else:
                delay = start + self.published * period - loop.time()
                await asyncio.sleep(max(0, delay))

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="view-pump")
        return self._task

    async def stop(self) -> None:
        t, self._task = self._task, None
        await cancel_and_wait(t)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
