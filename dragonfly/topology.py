"""Assemble the five layers: one builder per layer, a :class:`Topology` to run them,
and :class:`Pipeline`, the ready-made topology of the running example.

Layers only meet through queues::

    venue feeds (layers 1-3) --BookUpdate--> KeyedQueue (MPSC) --> BboAggregator (layer 4)
        --WorldView--> Broadcast (SPMC) --> EmbeddedService streams / gRPC / FIX (layer 5)

A topology of two venues, one aggregator and two consumers::

    agg = BboAggregator.build(instrument="ETH-BTC", venues=("binance", "bitstamp"), depth=10)
    feeds = [FeedSpec.build(venue=v, instruments=("ETH-BTC",), depth=10, base_url=urls[v]).create(agg.input)
             for v in ("binance", "bitstamp")]
    async with Topology(feeds=feeds, aggregators=[agg]):
        fast, slow = agg.views.subscribe(maxsize=16), agg.views.subscribe()
        ...
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._lifecycle import StartStop
from .aggregators.bbo import AggregatorConfig, BboAggregator
from .clients.ws import WebSocketConfig
from .errors import ConfigError
from .instruments import parse_instrument
from .listeners.driver import Feed
from .model import BookUpdate, LiquidityView, VenueHealth, WorldView
from .queues import Broadcast, Sink, Transformer
from .services.embedded import EmbeddedService, LiquidityStream, ViewStream
from .venues.feed import create_feed
from .venues.registry import default_venues, get_venue

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("FeedSpec", "Pipeline", "PipelineConfig", "Topology")

log = logging.getLogger(__name__)


def _distinct(values: Sequence[str], name_of: Callable[[str], str], what: str, expected: str) -> tuple[str, ...]:
    """The canonical names (``name_of``) of a configuration's ``values``: ConfigError unless they are
    a non-empty sequence (not one string) that names no ``what`` twice."""
    if isinstance(values, str) or not values:
        raise ConfigError(f"{what}s must be {expected}")
    names = tuple(name_of(v) for v in values)
    if len(set(names)) != len(names):
        raise ConfigError(f"duplicate {what} in {values!r}")
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSpec:
    """Builder of one venue feed (layers 1-3: client, subscriber, listeners).

    Parameters
    ----------
    venue : str
        Registered venue name.
    instruments : tuple of str
        Any accepted spelling; normalised. Several instruments share one connection.
    depth : int
        Levels per side the listeners forward.
    base_url : str or None
        Base-URL override (simulators); None uses the venue's production URL. WebSocket venues
        take ``ws://``/``wss://`` URLs, FIX venues (``fixsim``) ``fix://host:port``/``fixs://host:port``.
    ws : WebSocketConfig or None
        Connection policy (heartbeat, watchdog, backoff, TLS); its URL is ignored.
    keepalive_s : float
        Listener liveness period for unchanged books (keep it below the staleness limit).
    """

    venue: str
    instruments: tuple[str, ...]
    depth: int = 10
    base_url: str | None = None
    ws: WebSocketConfig | None = None
    keepalive_s: float = 1.0

    def __post_init__(self) -> None:
        spec = get_venue(self.venue)
        object.__setattr__(self, "venue", spec.name)
        names = _distinct(self.instruments, lambda i: parse_instrument(i).name, "instrument", "a non-empty tuple")
        object.__setattr__(self, "instruments", names)
        if not isinstance(self.depth, int) or not 1 <= self.depth <= spec.max_depth:
            raise ConfigError(f"{spec.name}: depth must be within 1..{spec.max_depth}, got {self.depth!r}")
        if self.base_url is not None:
            spec.check_base_url(self.base_url)
        if not self.keepalive_s > 0:
            raise ConfigError("keepalive_s must be > 0")

    @classmethod
    def build(
        cls, *, venue: str, instruments: Iterable[str] | str, depth: int = 10, **kwargs: Any
    ) -> FeedSpec:
        """Keyword-only builder; validates eagerly (unknown venue, bad instrument or depth)."""
        inst = (instruments,) if isinstance(instruments, str) else tuple(instruments)
        return cls(venue=venue, instruments=inst, depth=depth, **kwargs)

    def with_base_url(self, base_url: str | None) -> FeedSpec:
        return replace(self, base_url=base_url)

    def with_depth(self, depth: int) -> FeedSpec:
        return replace(self, depth=depth)

    def create(self, sink: Sink[BookUpdate]) -> Feed:
        """A new (not started) feed publishing to ``sink``; its updates carry the registry name."""
        return create_feed(
            get_venue(self.venue),
            instruments=[parse_instrument(i) for i in self.instruments],
            depth=self.depth,
            sink=sink,
            base_url=self.base_url,
            ws=self.ws,
            keepalive_s=self.keepalive_s,
        )


class Topology(StartStop):
    """Runs feeds, aggregators and transformers together (start order: consumers first).

    Parameters
    ----------
    feeds : sequence of Feed
    aggregators : sequence of BboAggregator
    transformers : sequence of Transformer
    """

    def __init__(
        self,
        *,
        feeds: Sequence[Feed] = (),
        aggregators: Sequence[BboAggregator] = (),
        transformers: Sequence[Transformer[Any, Any]] = (),
    ) -> None:
        self.feeds = list(feeds)
        self.aggregators = list(aggregators)
        self.transformers = list(transformers)
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        for a in self.aggregators:
            a.start()
        for t in self.transformers:
            t.start()
        for f in self.feeds:
            f.start()

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await asyncio.gather(*(f.stop() for f in self.feeds))
        for a in self.aggregators:
            await a.stop()
        for t in self.transformers:
            await t.stop()


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineConfig:
    """The running example: K venues -> one consolidated top N for one instrument.

    Parameters
    ----------
    instrument : str
        Any accepted spelling (``"ethbtc"``, ``"ETH-BTC"``, ``"eth_btc"``); normalised.
    venues : tuple of str
        Registered venue names (default: the registry's default venues,
        :func:`~dragonfly.venues.registry.default_venues`).
    depth : int
        Levels per side in the world view (and forwarded per venue).
    base_urls : Mapping[str, str]
        Per-venue base-URL override (e.g. ``SimulatedVenues.base_urls``).
    staleness_s : float
        A venue silent for this long is STALE and out of the view.
    simulate : bool
        Start :class:`dragonfly.sim.SimulatedVenues` and connect to them.
    staleness : Mapping[str, float]
        Per-venue overrides of ``staleness_s`` (a venue that only sends on change,
        like Bitstamp ``order_book`` on a quiet pair, may need a longer limit).
    ws : WebSocketConfig or None
        Connection policy for every venue (heartbeat, watchdog, backoff, TLS).
    keepalive_s : float or None
        Listener liveness period; default ``staleness_s / 4``.
    sim_options : Mapping[str, Any]
        Extra keyword arguments for SimulatedVenues when ``simulate`` (``seed``, ``interval_s``...).
    """

    instrument: str
    venues: tuple[str, ...] = field(default_factory=default_venues)
    depth: int = 10
    base_urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    staleness_s: float = 10.0
    simulate: bool = False
    staleness: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    ws: WebSocketConfig | None = None
    keepalive_s: float | None = None
    sim_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "instrument", parse_instrument(self.instrument).name)
        vs = _distinct(self.venues, lambda v: get_venue(v).name, "venue", "a non-empty tuple of venue names")
        object.__setattr__(self, "venues", vs)
        if not isinstance(self.depth, int) or isinstance(self.depth, bool) or self.depth < 1:
            raise ConfigError(f"depth must be a positive int, got {self.depth!r}")
        for v in vs:
            if self.depth > get_venue(v).max_depth:
                raise ConfigError(f"{v} delivers at most {get_venue(v).max_depth} levels; depth={self.depth}")
        urls = {k.lower(): u for k, u in self.base_urls.items()}
        for k, u in urls.items():
            if k not in vs:
                raise ConfigError(f"base_urls has {k!r}, which is not among venues {vs}")
            get_venue(k).check_base_url(u)
        object.__setattr__(self, "base_urls", MappingProxyType(urls))
        if not (isinstance(self.staleness_s, (int, float)) and self.staleness_s > 0):
            raise ConfigError(f"staleness_s must be > 0, got {self.staleness_s!r}")
        if self.keepalive_s is not None and not self.keepalive_s > 0:
            raise ConfigError("keepalive_s must be > 0")
        object.__setattr__(self, "sim_options", MappingProxyType(dict(self.sim_options)))
        stale = {k.lower(): float(v) for k, v in self.staleness.items()}
        for k, limit in stale.items():
            if k not in vs or not limit > 0:
                raise ConfigError(f"bad staleness override {k!r}: {limit!r}")
        object.__setattr__(self, "staleness", MappingProxyType(stale))

    def with_base_urls(self, base_urls: Mapping[str, str]) -> PipelineConfig:
        return replace(self, base_urls=base_urls)

    def feed_specs(self, base_urls: Mapping[str, str] | None = None) -> list[FeedSpec]:
        urls = self.base_urls if base_urls is None else base_urls
        keep = self.keepalive_s
        if keep is None:
            keep = min([self.staleness_s, *self.staleness.values()]) / 4
        return [
            FeedSpec(
                venue=v,
                instruments=(self.instrument,),
                depth=self.depth,
                base_url=urls.get(v),
                ws=self.ws,
                keepalive_s=keep,
            )
            for v in self.venues
        ]

    def aggregator_config(self) -> AggregatorConfig:
        return AggregatorConfig(
            instrument=self.instrument,
            venues=self.venues,
            depth=self.depth,
            staleness_s=self.staleness_s,
            staleness=self.staleness,
        )


class Pipeline:
    """The five layers for one instrument over several venues, in this process.

    >>> async with Pipeline(PipelineConfig(instrument="ethbtc", simulate=True)) as p:  # doctest: +SKIP
    ...     async for view in p.stream(depth=5):
    ...         print(view.seq, view.bids[0], view.asks[0], view.spread)

    Attributes
    ----------
    views : Broadcast[WorldView]
    liquidity : Broadcast[LiquidityView]
    aggregator : BboAggregator
    feeds : dict[str, Feed]
        Created by :meth:`start`.
    sim : SimulatedVenues or None
        The simulators, when ``config.simulate``.
    """

    def __init__(self, config: PipelineConfig) -> None:
        if not isinstance(config, PipelineConfig):
            raise TypeError("config must be a PipelineConfig")
        self.config = config
        self.aggregator = BboAggregator(config.aggregator_config())
        self.views: Broadcast[WorldView] = self.aggregator.views
        self.liquidity: Broadcast[LiquidityView] = self.aggregator.liquidity
        self.service = EmbeddedService(self.views, self.liquidity)
        self.feeds: dict[str, Feed] = {}
        self.sim: Any = None
        self._topology: Topology | None = None

    @classmethod
    def build(cls, *, instrument: str, **kwargs: Any) -> Pipeline:
        """``Pipeline(PipelineConfig(instrument=..., **kwargs))``."""
        return cls(PipelineConfig(instrument=instrument, **kwargs))

    async def start(self) -> None:
        if self._topology is not None:
            return
        urls: Mapping[str, str] = self.config.base_urls
        if self.config.simulate:
            from .sim import SimulatedVenues

            self.sim = SimulatedVenues(
                venues=self.config.venues, instrument=self.config.instrument, **dict(self.config.sim_options)
            )
            await self.sim.start()
            urls = {**self.sim.base_urls, **urls}
        self.feeds = {s.venue: s.create(self.aggregator.input) for s in self.config.feed_specs(urls)}
        self._topology = Topology(feeds=list(self.feeds.values()), aggregators=[self.aggregator])
        await self._topology.start()

    async def stop(self) -> None:
        topo, self._topology = self._topology, None
        if topo is not None:
            await topo.stop()
        if self.sim is not None:
            sim, self.sim = self.sim, None
            await sim.stop()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- consumers -------------------------------------------------------------------------
    def stream(self, *, depth: int | None = None, venues: Iterable[str] | None = None, maxsize: int = 1) -> ViewStream:
        """See :meth:`dragonfly.services.embedded.EmbeddedService.stream`."""
        return self.service.stream(depth=depth, venues=venues, maxsize=maxsize)

    def liquidity_stream(self, *, depth: int | None = None, maxsize: int = 1) -> LiquidityStream:
        return self.service.liquidity_stream(depth=depth, maxsize=maxsize)

    def health(self) -> dict[str, VenueHealth]:
        """Status of every venue (SYNCING / LIVE / STALE, with the reason)."""
        return self.aggregator.health()

    def counters(self) -> dict[str, Any]:
        """All counters: the aggregator's, and per venue its feed's (client, feed, every instrument)."""
        out: dict[str, Any] = {"aggregator": self.aggregator.stats.as_dict()}
        for v, f in self.feeds.items():
            out[v] = f.stats.as_dict()
        return out
