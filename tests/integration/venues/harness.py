"""A diff venue's simulator and its feed over real sockets on 127.0.0.1, and what tests ask of them.

:func:`harness` starts a :class:`~dragonfly.sim.diff.server.DiffSim` speaking the case's
encoder and the venue's feed (``create_feed`` with the case's configuration pointed at the
simulator), waits until every instrument is LIVE, and yields a :class:`Harness`: the feed's
keepers (``feed.keepers[symbol]``), every update published, and waits that re-check a
predicate after every frame the feed reads and every update it publishes (never sleeps).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from conftest import core_module

from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.listeners.driver import FeedDriver, SnapshotLimiter
from dragonfly.listeners.keeper import BookKeeper
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim.diff.server import DiffSim, DiffSimConfig
from dragonfly.venues import create_feed

from .cases import Case

__all__ = (
    "INSTRUMENTS",
    "LIVE",
    "NO_FAULTS",
    "STALE",
    "TIMEOUT",
    "Harness",
    "fault_counts",
    "fault_then_recover",
    "harness",
)

LIVE = VenueStatus.LIVE
STALE = VenueStatus.STALE
TIMEOUT = 10.0
#: The instruments every case's feed keeps (the simulator serves them under the venue's symbols).
INSTRUMENTS = ("BTC-USD", "ETH-USD")
NO_FAULTS = {"gaps": 0, "checksum_errors": 0, "crossed": 0, "resyncs": 0}


class Harness:
    """A simulator, the venue's feed on it, and a recording sink."""

    def __init__(self, case: Case, sim: DiffSim, symbols: list[str]) -> None:
        self.case = case
        self.sim = sim
        self.symbols = symbols  # the feed's instruments, as the venue spells them
        self.feed: FeedDriver = None  # type: ignore[assignment]
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

    def key(self, i: int = 0) -> str:
        return self.symbols[i]

    def keeper(self, i: int = 0) -> BookKeeper:
        return self.feed.keepers[self.symbols[i]]

    def all_live(self) -> bool:
        return all(k.status is LIVE for k in self.feed.keepers.values())

    def matches_truth(self, i: int = 0) -> bool:
        k = self.keeper(i)
        truth = self.sim.symbols[self.key(i)].book
        return (
            k.status is LIVE and k.book is not None and k.book.bids() == truth.bids() and k.book.asks() == truth.asks()
        )

    async def settle(self, steps: int = 5) -> None:
        """Send more deltas and wait until every book equals the true book."""
        await self.sim.step(steps, self.symbols)
        await self.until(lambda: all(self.matches_truth(i) for i in range(len(self.symbols))))

    def live_updates(self, i: int) -> list[BookUpdate]:
        name = self.keeper(i).instrument
        return [u for u in self.updates if u.instrument == name and u.status is LIVE]

    def statuses(self, i: int) -> list[VenueStatus]:
        name = self.keeper(i).instrument
        return [u.status for u in self.updates if u.instrument == name]

    def resyncs(self) -> list[int]:
        return [self.keeper(i).stats.resyncs for i in range(len(self.symbols))]

    def assert_never_wrong(self, i: int = 0) -> None:
        """No LIVE update of instrument ``i`` carried a top the venue's true book never had."""
        tops = self.sim.truth_tops(self.key(i))
        for u in self.live_updates(i):
            assert (u.bids, u.asks) in tops, "a LIVE update carried a book the venue never had"
            assert not u.bids or not u.asks or u.bids[0][0] < u.asks[0][0]


def fault_counts(h: Harness, i: int) -> dict[str, int]:
    s = h.keeper(i).stats
    return {"gaps": s.gaps, "checksum_errors": s.checksum_errors, "crossed": s.crossed, "resyncs": s.resyncs}


async def fault_then_recover(h: Harness, inject: Callable[[], None], kind: str, *, exact: bool = True) -> None:
    """Inject a fault on instrument 0; it is counted as ``kind``, only instrument 0 resyncs (once),
    goes out of the world view and comes back with exactly the true book; instrument 1 never
    leaves LIVE. ``exact``: no LIVE update was ever wrong (where the venue can know)."""
    other_before = len(h.statuses(1))
    inject()
    await h.sim.step(3, h.symbols)
    await h.until(lambda: getattr(h.keeper(0).stats, kind) >= 1)
    await h.settle()
    f = fault_counts(h, 0)
    assert f[kind] == 1 and f["resyncs"] == 1, f
    assert fault_counts(h, 1) == NO_FAULTS
    assert all(s is LIVE for s in h.statuses(1)[other_before:])
    st = h.statuses(0)
    assert STALE in st and st[-1] is LIVE
    if exact:
        h.assert_never_wrong(0)
    h.assert_never_wrong(1)


@contextlib.asynccontextmanager
async def harness(
    case: Case,
    impl: str,
    *,
    levels: int = 10,
    limiter: SnapshotLimiter | None = None,
    instruments: tuple[str, ...] = INSTRUMENTS,
    extra: tuple[str, ...] = (),
    hold: bool = False,
    seed: int = 7,
) -> AsyncIterator[Harness]:
    """``case``'s simulator (serving ``instruments`` and ``extra``) and its feed over ``instruments``
    (core Book twin ``impl``); every instrument LIVE on entry unless ``hold`` (REST snapshots held)."""
    encoder = case.encoder()
    symbols = [case.symbol(i) for i in instruments]
    served = tuple(symbols) + tuple(case.symbol(i) for i in extra)
    async with DiffSim(encoder, DiffSimConfig(symbols=served, seed=seed, levels=levels)) as sim:
        sim.hold_snapshots = hold
        await sim.step(3)  # some history before anyone connects
        h = Harness(case, sim, symbols)
        feed = create_feed(
            case.spec,
            instruments=list(instruments),
            depth=10,
            sink=h,
            config=case.config,
            base_url=sim.ws_url,
            ws=WebSocketConfig.build(url=sim.ws_url, backoff=Backoff(initial_s=0.01, max_s=0.05), heartbeat_s=None),
            limiter=limiter or SnapshotLimiter(min_interval_s=0.0, max_concurrent=2),
            snapshot_timeout_s=2.0,
            book_type=core_module("book", impl).Book,
        )
        # the simulator spells every instrument as the venue's adapter does
        assert sorted(feed.keepers) == sorted(symbols), (sorted(feed.keepers), symbols)
        h.feed = feed
        on_frame = feed.on_frame

        def probed(frame: Any, receive_ns: int = 0) -> None:
            on_frame(frame, receive_ns)
            h.poke()

        feed.on_frame = probed  # type: ignore[method-assign]
        feed.start()
        try:
            if not hold:
                await h.until(h.all_live)
            yield h
        finally:
            await feed.stop()
        assert feed.error is None
