"""Layer 4: the BBO world view over K venues, summed liquidity, venue health.

The aggregator consumes :class:`~dragonfly.model.BookUpdate` from a bounded
MPSC :class:`~dragonfly.queues.KeyedQueue` (latest update per venue wins),
drains everything waiting, and computes once on the latest state:

* :attr:`BboAggregator.views` -- :class:`~dragonfly.model.WorldView`: the
  consolidated top N (``(venue, price, qty)`` levels, best first, by the core's
  heap merge, :func:`~dragonfly._core.merge.merge_top`), the spread, a sequence
  number and every venue's health;
* :attr:`BboAggregator.liquidity` -- :class:`~dragonfly.model.LiquidityView`:
  the same state with sizes summed per price (computed only while someone is
  subscribed; a new subscriber first gets the view of the current state, so
  ``liquidity.latest`` may lag while nobody listens).

Only LIVE venues contribute levels. A venue leaves the world view (and is
flagged in ``venues``) when its listener reports it disconnected, syncing or
bad, and when it has sent nothing within its staleness limit; the latter is
checked by a timer, not only when messages arrive. It comes back with its next
LIVE update.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from .._core.merge import merge_liquidity, merge_top
from ..errors import ConfigError
from ..instruments import normalize_instrument
from ..model import BookUpdate, LiquidityView, Side, VenueHealth, VenueStatus, WorldView
from ..queues import Broadcast, KeyedQueue, Lazy

__all__ = ("AggregatorConfig", "BboAggregator", "AggregatorStats")

log = logging.getLogger(__name__)

_LIVE = VenueStatus.LIVE
_STALE = VenueStatus.STALE
_SYNCING = VenueStatus.SYNCING


#: ``update -> (venue, instrument)``, the input queue's key (C-level: one call per update).
_update_key: Callable[[BookUpdate], tuple[str, str]] = attrgetter("venue", "instrument")


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregatorConfig:
    """What one aggregator consolidates.

    Parameters
    ----------
    instrument : str
        Any accepted spelling; normalised (``"ETH-BTC"``).
    venues : tuple of str
        Venues expected (others' updates are ignored and counted).
    depth : int
        Levels per side in the world view.
    staleness_s : float
        A LIVE venue that sent nothing for this long is STALE.
    staleness : Mapping[str, float]
        Per-venue overrides of ``staleness_s``.
    liquidity : bool
        Also compute and publish the summed-liquidity view (only while someone is subscribed).
    views : bool
        Compute and publish the consolidated per-venue world view. False makes a liquidity
        aggregator: only :attr:`BboAggregator.liquidity` is published (``views`` stays silent).
    """

    instrument: str
    venues: tuple[str, ...]
    depth: int = 10
    staleness_s: float = 10.0
    staleness: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    liquidity: bool = True
    views: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "instrument", normalize_instrument(self.instrument))
        if not (self.views or self.liquidity):
            raise ConfigError("an aggregator publishes views, liquidity or both")
        if isinstance(self.venues, str) or not self.venues:
            raise ConfigError("venues must be a non-empty tuple of venue names")
        vs = tuple(v.strip().lower() for v in self.venues)
        if len(set(vs)) != len(vs):
            raise ConfigError(f"duplicate venue in {self.venues!r}")
        object.__setattr__(self, "venues", vs)
        if not isinstance(self.depth, int) or isinstance(self.depth, bool) or self.depth < 1:
            raise ConfigError(f"depth must be a positive int, got {self.depth!r}")
        if not (isinstance(self.staleness_s, (int, float)) and self.staleness_s > 0):
            raise ConfigError(f"staleness_s must be > 0, got {self.staleness_s!r}")
        for v, s in self.staleness.items():
            if v not in vs or not (isinstance(s, (int, float)) and s > 0):
                raise ConfigError(f"bad staleness override {v!r}: {s!r}")
        object.__setattr__(self, "staleness", MappingProxyType(dict(self.staleness)))

    @classmethod
    def build(cls, *, instrument: str, venues: tuple[str, ...] | list[str], **kwargs: Any) -> AggregatorConfig:
        return cls(instrument=instrument, venues=tuple(venues), **kwargs)

    def with_depth(self, depth: int) -> AggregatorConfig:
        return replace(self, depth=depth)

    def staleness_of(self, venue: str) -> float:
        return float(self.staleness.get(venue, self.staleness_s))


class AggregatorStats:
    __slots__ = ("updates", "batches", "views", "keepalives", "ignored", "stale_timeouts", "merge_errors")

    def __init__(self) -> None:
        self.updates = 0  #: updates consumed (after conflation)
        self.batches = 0  #: drains
        self.views = 0  #: world views published
        self.keepalives = 0  #: updates that only refreshed liveness
        self.ignored = 0  #: updates for another instrument or an unexpected venue
        self.stale_timeouts = 0  #: venues turned STALE by the staleness timer
        self.merge_errors = 0  #: states the merge refused (never served)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class _Venue:
    __slots__ = ("name", "staleness", "status", "reason", "deadline", "last_update_ns", "exchange_ts_ns")

    def __init__(self, name: str, staleness: float) -> None:
        self.name = name
        self.staleness = staleness
        self.status = _SYNCING
        self.reason = "no data yet"
        self.deadline = 0.0
        self.last_update_ns = 0
        self.exchange_ts_ns = 0

    def health(self) -> VenueHealth:
        return VenueHealth(self.name, self.status, self.last_update_ns, self.reason)


class BboAggregator:
    """Consolidates K venues' top N for one instrument (see the module docstring).

    Parameters
    ----------
    config : AggregatorConfig
    max_keys : int
        Bound of the input queue (distinct (venue, instrument) keys waiting).
    """

    def __init__(self, config: AggregatorConfig, *, max_keys: int = 256) -> None:
        if not isinstance(config, AggregatorConfig):
            raise TypeError("config must be an AggregatorConfig")
        self.config = config
        self.instrument = config.instrument
        self.depth = config.depth
        self.input: KeyedQueue[tuple[str, str], BookUpdate] = KeyedQueue(
            _update_key, max_keys=max_keys, name=f"aggregator:{config.instrument}"
        )
        self.views: Broadcast[WorldView] = Broadcast(f"views:{config.instrument}")
        self.liquidity: Broadcast[LiquidityView] = Broadcast(
            f"liquidity:{config.instrument}", on_subscribe=self._liquidity_wanted
        )
        self.stats = AggregatorStats()
        self.seq = 0
        self._venues = {v: _Venue(v, config.staleness_of(v)) for v in config.venues}
        self._books: dict[str, tuple[Side, Side]] = {}
        self._health: dict[str, VenueHealth] = {v: s.health() for v, s in self._venues.items()}
        self._health_dirty = False  # a status or reason changed: rebuild every venue's health
        self._fresh: set[str] = set()  # venues whose last_update_ns moved since the last view
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._timer_fired = False
        self._task: asyncio.Task[None] | None = None
        self._merge_logged = False
        self._liq_pending: tuple[dict[str, tuple[Side, Side]], dict[str, VenueHealth], int, int, int, int] | None = None

    @classmethod
    def build(cls, *, instrument: str, venues: tuple[str, ...] | list[str], **kwargs: object) -> BboAggregator:
        """``BboAggregator(AggregatorConfig.build(...))``."""
        return cls(AggregatorConfig.build(instrument=instrument, venues=venues, **kwargs))

    # -- public state -----------------------------------------------------------------------
    def health(self) -> dict[str, VenueHealth]:
        """Current health of every configured venue."""
        if self._health_dirty or self._fresh:
            return {v: s.health() for v, s in self._venues.items()}
        return dict(self._health)

    def publish(self, update: BookUpdate) -> None:
        """Sink interface: same as ``self.input.publish(update)``."""
        self.input.publish(update)

    def publish_lazy(self, update: Lazy[BookUpdate]) -> None:
        """Sink interface: same as ``self.input.publish_lazy(update)`` (built when drained)."""
        self.input.publish_lazy(update)

    # -- loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Consume the input until it is closed; then close the output broadcasts."""
        inp = self.input
        loop = asyncio.get_running_loop()
        stats = self.stats
        try:
            while True:
                await inp.wait()
                batch = inp.drain()
                if not batch and inp.closed:
                    break
                now = loop.time()
                changed = False
                recv = 0
                if batch:
                    stats.batches += 1
                    for upd in batch.values():
                        if self._apply(upd, now, loop):
                            changed = True
                        if upd.receive_ts_ns > recv:
                            recv = upd.receive_ts_ns
                if self._timer_fired:
                    self._timer_fired = False
                    if self._check_staleness(now):
                        changed = True
                    self._arm(loop)
                if changed:
                    self._publish(recv)
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.views.close()
            self.liquidity.close()

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"aggregator:{self.instrument}")
        return self._task

    async def stop(self) -> None:
        """Close the input; the loop ends and the output broadcasts close (ending every subscriber)."""
        self.input.close()
        t, self._task = self._task, None
        if t is not None:
            await t
        else:
            self.views.close()
            self.liquidity.close()

    # -- internals ----------------------------------------------------------------------------
    def _apply(self, upd: BookUpdate, now: float, loop: asyncio.AbstractEventLoop) -> bool:
        self.stats.updates += 1
        st = self._venues.get(upd.venue)
        if st is None or upd.instrument != self.instrument:
            self.stats.ignored += 1
            return False
        if upd.status is _LIVE:
            st.deadline = now + st.staleness
            if st.last_update_ns != upd.receive_ts_ns:
                st.last_update_ns = upd.receive_ts_ns
                self._fresh.add(upd.venue)
            if st.status is _LIVE:
                prev = self._books.get(upd.venue)
                if prev is not None and prev[0] is upd.bids and prev[1] is upd.asks:
                    self.stats.keepalives += 1
                    return False
            else:
                st.status = _LIVE
                st.reason = ""
                self._health_dirty = True
                if self._timer is None or self._timer_at > st.deadline:
                    self._arm(loop)
            self._books[upd.venue] = (upd.bids, upd.asks)
            st.exchange_ts_ns = upd.exchange_ts_ns
            return True
        removed = self._books.pop(upd.venue, None) is not None
        if st.status is not upd.status or st.reason != upd.reason:
            if st.status is _LIVE:
                log.info(
                    "%s %s: out of the world view (%s)", upd.venue, self.instrument, upd.reason or upd.status.value
                )
            st.status = upd.status
            st.reason = upd.reason
            self._health_dirty = True
            return True
        return removed

    def _check_staleness(self, now: float) -> bool:
        changed = False
        for st in self._venues.values():
            if st.status is _LIVE and now >= st.deadline:
                st.status = _STALE
                st.reason = f"no data for {st.staleness:g} s"
                self._books.pop(st.name, None)
                self._health_dirty = True
                self.stats.stale_timeouts += 1
                log.warning("%s %s: stale, out of the world view (%s)", st.name, self.instrument, st.reason)
                changed = True
        return changed

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadlines = [st.deadline for st in self._venues.values() if st.status is _LIVE]
        if deadlines:
            self._timer_at = min(deadlines)
            self._timer = loop.call_at(self._timer_at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_fired = True
        self.input.wake()

    def _publish(self, receive_ns: int) -> None:
        books = self._books
        views = self.config.views
        if views:
            try:
                bids, asks = merge_top(books, self.depth)
            except (ValueError, TypeError) as exc:  # LevelsError: listeners validate, so this is a bug guard
                self.stats.merge_errors += 1
                if not self._merge_logged:
                    self._merge_logged = True
                    log.error("%s: merge refused the state (%s); not published", self.instrument, exc)
                return
        if self._health_dirty:
            self._health = {v: s.health() for v, s in self._venues.items()}
            self._health_dirty = False
            self._fresh.clear()
        elif self._fresh:  # only times moved: a new dict (published views never change), new entries for those
            health = dict(self._health)
            venues = self._venues
            for v in self._fresh:
                health[v] = venues[v].health()
            self._fresh.clear()
            self._health = health
        health = self._health
        ex_ts = 0
        for v in books:
            t = self._venues[v].exchange_ts_ns
            if t > ex_ts:
                ex_ts = t
        self.seq += 1
        snapshot = dict(books)
        pub_ns = time.time_ns()
        if views:
            spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
            self.views.publish(
                WorldView(
                    self.instrument, self.seq, bids, asks, spread, health, ex_ts, receive_ns, pub_ns, snapshot
                )
            )
            self.stats.views += 1
        if self.config.liquidity:
            state = (snapshot, health, self.seq, ex_ts, receive_ns, pub_ns)
            if self.liquidity.subscriber_count:
                self._publish_liquidity(state)
            else:  # nobody listens: computed on the next subscribe (see _liquidity_wanted)
                self._liq_pending = state

    def _publish_liquidity(
        self, state: tuple[dict[str, tuple[Side, Side]], dict[str, VenueHealth], int, int, int, int]
    ) -> None:
        books, health, seq, ex_ts, receive_ns, pub_ns = state
        lb, la = merge_liquidity(books, self.depth)
        view = LiquidityView(self.instrument, seq, tuple(lb), tuple(la), health, ex_ts, receive_ns, pub_ns)
        self.liquidity.publish(view)

    def _liquidity_wanted(self) -> None:
        state, self._liq_pending = self._liq_pending, None
        if state is not None:
            self._publish_liquidity(state)
