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

from ._core.wire import encode_summary
from ._lifecycle import StartStop, cancel_and_wait
from .aggregators.bbo import AggregatorConfig, BboAggregator
from .bus import open_bus, redact_url
from .bus.base import Bus, BusFeed, Key
from .bus.supervisor import Supervisor, assign_feeds, worker_configs
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

__all__ = ("FeedSpec", "Pipeline", "PipelineConfig", "ScaleOut", "Topology", "expected_rates")

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
    workers : int
        0 (default): the feeds run in this process. N > 0: in N worker processes (a
        :class:`ScaleOut`), joined to this process's aggregator by ``bus``.
    bus : str or None
        ``"local"`` (the default with workers: Unix sockets, no server) or ``"nats://host:port"``.
        A NATS bus with ``workers=0`` takes the books of workers started elsewhere
        (``dragonfly worker --bus nats://...``).
    rates : Mapping[str, float]
        Expected messages/s per instrument of a venue, for spreading feeds over workers
        (default :func:`expected_rates`).
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
    workers: int = 0
    bus: str | None = None
    rates: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "instrument", parse_instrument(self.instrument).name)
        _check_scaleout(self.workers, self.bus)
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))
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

    def keepalive(self) -> float:
        """The listeners' liveness period: ``keepalive_s``, or a quarter of the shortest staleness limit."""
        if self.keepalive_s is not None:
            return self.keepalive_s
        return min([self.staleness_s, *self.staleness.values()]) / 4

    def feed_specs(self, base_urls: Mapping[str, str] | None = None) -> list[FeedSpec]:
        urls = self.base_urls if base_urls is None else base_urls
        keep = self.keepalive()
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


def _check_scaleout(workers: object, bus: object) -> None:
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ConfigError(f"workers must be an int >= 0, got {workers!r}")
    if bus is not None:
        if not isinstance(bus, str) or not bus.strip():
            raise ConfigError(f"bus must be a URL (local, nats://host:port), got {bus!r}")
        if bus.strip().startswith("local") and workers == 0:
            raise ConfigError("the local bus joins worker processes started here: it needs workers > 0")


def expected_rates(venues: Iterable[str]) -> dict[str, float]:
    """Expected messages/s per instrument of each venue: its simulator's mean update rate (the venue's
    documented one), 10/s when it has none. What :func:`~dragonfly.bus.supervisor.assign_feeds` balances."""
    from .sim import make_encoder

    out: dict[str, float] = {}
    for v in venues:
        try:
            encoder = make_encoder(v)
            style = getattr(encoder, "style", None) or {}
            interval = float(dict(style).get("interval_s", getattr(encoder, "interval_s", 0.1)))
        except (ConfigError, TypeError, ValueError):
            interval = 0.1
        out[get_venue(v).name] = 1.0 / interval if interval > 0 else 10.0
    return out


class _Router:
    """A sink that hands each update to its instrument's sink (unknown instruments are counted)."""

    __slots__ = ("routes", "unroutable")

    def __init__(self) -> None:
        self.routes: dict[str, Sink[BookUpdate]] = {}
        self.unroutable = 0

    def publish(self, update: BookUpdate) -> None:
        sink = self.routes.get(update.instrument)
        if sink is None:
            self.unroutable += 1
            return
        sink.publish(update)


class ScaleOut(StartStop):
    """Feeds (layers 1-3) outside this process, joined to its aggregators by a bus.

    With ``workers`` > 0, a :class:`~dragonfly.bus.supervisor.Supervisor` runs that many worker
    processes, the (venue, instrument) feeds spread over them by expected message rate; with
    ``workers=0`` (a NATS bus only), the workers run elsewhere (``dragonfly worker``). Either way
    this process receives their ``BookUpdate``\\ s through :class:`~dragonfly.bus.base.BusFeed`\\ s
    (one per worker on the local bus, one NATS connection) and routes them to the aggregator of
    each instrument (:meth:`attach`). On a NATS bus every view also goes out on
    ``dragonfly.view.<instrument>`` (``orderbook.Summary`` bytes).

    Several pipelines can share one ScaleOut (the command line does: one per instrument): it starts
    with the first :meth:`acquire` and stops with the last :meth:`release`.

    Parameters
    ----------
    instruments, venues : sequence of str
    depth : int
    workers : int
    bus : str or None
        Default ``"local"``.
    base_urls : Mapping[str, str]
        Per-venue base URLs for the workers (simulators).
    keepalive_s : float
    rates : Mapping[str, float] or None
        Expected messages/s per instrument of each venue (default :func:`expected_rates`).
    log_level : str
        The worker processes' log level.
    restart_backoff : Backoff or None
        The supervisor's restart policy (default: 0.1 s doubling to 10 s).
    ws : WebSocketConfig or None
        Its heartbeat and silence watchdog are the workers' (the rest of it stays in this process).
    keys : sequence of (venue, instrument) or None
        The feeds to run, when not every venue for every instrument (a topology file's feeds).
    """

    def __init__(
        self,
        *,
        instruments: Sequence[str],
        venues: Sequence[str],
        depth: int = 10,
        workers: int = 0,
        bus: str | None = None,
        base_urls: Mapping[str, str] | None = None,
        keepalive_s: float = 1.0,
        rates: Mapping[str, float] | None = None,
        log_level: str = "warning",
        restart_backoff: Any = None,
        ws: WebSocketConfig | None = None,
        keys: Sequence[Key] | None = None,
    ) -> None:
        _check_scaleout(workers, bus)
        if workers == 0 and bus is None:
            raise ConfigError("a ScaleOut needs workers > 0 or a bus (nats://...) that workers publish on")
        self.instruments = tuple(parse_instrument(i).name for i in instruments)
        self.venues = tuple(get_venue(v).name for v in venues)
        self._keys = None if keys is None else [(get_venue(v).name, parse_instrument(i).name) for v, i in keys]
        self.depth = depth
        self.workers = workers
        self.bus_url = (bus or "local").strip()
        self.base_urls: dict[str, str] = dict(base_urls or {})
        self.keepalive_s = keepalive_s
        self.rates = dict(rates) if rates else None
        self.log_level = log_level
        self.restart_backoff = restart_backoff
        self.ws_options: dict[str, float | None] = (
            {} if ws is None else {"heartbeat_s": ws.heartbeat_s, "no_data_timeout_s": ws.no_data_timeout_s}
        )
        self.router = _Router()
        self.bus: Bus | None = None
        self.supervisor: Supervisor | None = None
        self.feeds: list[BusFeed] = []
        self.shares: list[list[Key]] = []
        self._views: dict[str, Broadcast[WorldView]] = {}
        self._view_tasks: list[asyncio.Task[None]] = []
        self._users = 0
        self._lock = asyncio.Lock()

    @property
    def keys(self) -> list[Key]:
        if self._keys is not None:
            return list(self._keys)
        return [(v, i) for i in self.instruments for v in self.venues]

    def attach(self, instrument: str, sink: Sink[BookUpdate], views: Broadcast[WorldView] | None = None) -> None:
        """Route ``instrument``'s updates to ``sink`` (its aggregator's input); publish ``views`` on the bus."""
        name = parse_instrument(instrument).name
        if name not in self.instruments:
            raise ConfigError(f"{name} is not among this scale-out's instruments {self.instruments}")
        self.router.routes[name] = sink
        if views is not None:
            self._views[name] = views

    async def acquire(self) -> None:
        """Start (the first call) or count one more user."""
        async with self._lock:
            self._users += 1
            if self._users == 1:
                try:
                    await self._start()
                except BaseException:
                    self._users = 0
                    await self._stop()
                    raise

    async def release(self) -> None:
        """Stop with the last user."""
        async with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                await self._stop()

    async def start(self) -> None:
        await self.acquire()

    async def stop(self) -> None:
        async with self._lock:
            self._users = 0
            await self._stop()

    async def _start(self) -> None:
        bus = self.bus = open_bus(self.bus_url)
        ids: list[str] = []
        configs = []
        if self.workers:
            rates = self.rates if self.rates is not None else expected_rates(self.venues)
            self.shares = assign_feeds(self.keys, self.workers, rates)
            configs = worker_configs(
                self.shares, bus=bus.url, depth=self.depth, base_urls=self.base_urls, keepalive_s=self.keepalive_s,
                **self.ws_options,
            )
            ids = [c.worker_id for c in configs]
        clients = bus.clients(workers=ids, instruments=self.instruments)
        for n, client in enumerate(clients.values()):
            keys = self.keys if bus.shared else list(self.shares[n])
            self.feeds.append(BusFeed(name=client.name, client=client, sink=self.router, keys=keys))
        for f in self.feeds:
            f.start()
        view_sink = bus.view_sink(next(iter(clients.values()))) if clients else None
        if view_sink is not None:
            loop = asyncio.get_running_loop()
            for inst, views in self._views.items():
                self._view_tasks.append(
                    loop.create_task(self._publish_views(inst, views, view_sink), name=f"views-on-bus:{inst}")
                )
        if configs:
            kw = {} if self.restart_backoff is None else {"backoff": self.restart_backoff}
            self.supervisor = Supervisor(configs, sink=self.router, log_level=self.log_level, **kw)
            await self.supervisor.start()

    @staticmethod
    async def _publish_views(instrument: str, views: Broadcast[WorldView], sink: Any) -> None:
        async with views.subscribe(maxsize=1) as sub:
            async for view in sub:
                await sink.publish(instrument, encode_summary(view.bids, view.asks))

    async def _stop(self) -> None:
        tasks, self._view_tasks = self._view_tasks, []
        for t in tasks:
            await cancel_and_wait(t)
        feeds, self.feeds = self.feeds, []
        await asyncio.gather(*(f.stop() for f in feeds), return_exceptions=True)
        sup, self.supervisor = self.supervisor, None
        if sup is not None:
            await sup.stop()
        bus, self.bus = self.bus, None
        close = getattr(bus, "close", None)
        if callable(close):
            close()

    def counters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bus": redact_url(self.bus_url), "unroutable": self.router.unroutable}
        out["feeds"] = {f.name: f.stats.as_dict() for f in self.feeds}
        if self.supervisor is not None:
            out["workers"] = self.supervisor.counters()
        return out


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

    def __init__(self, config: PipelineConfig, *, scaleout: ScaleOut | None = None) -> None:
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
        self._own_scaleout = scaleout is None and bool(config.workers or config.bus)
        if self._own_scaleout:
            scaleout = ScaleOut(
                instruments=(config.instrument,), venues=config.venues, depth=config.depth, workers=config.workers,
                bus=config.bus, base_urls=config.base_urls, keepalive_s=config.keepalive(),
                rates=config.rates or None, ws=config.ws,
            )
        #: Where the feeds run when not in this process (``workers``/``bus``), else None.
        self.scaleout: ScaleOut | None = scaleout
        if scaleout is not None:
            scaleout.attach(config.instrument, self.aggregator.input, self.views)

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
        if self.scaleout is not None:
            self._topology = Topology(aggregators=[self.aggregator])
            await self._topology.start()
            if self._own_scaleout:
                self.scaleout.base_urls = dict(urls)
            await self.scaleout.acquire()
            return
        self.feeds = {s.venue: s.create(self.aggregator.input) for s in self.config.feed_specs(urls)}
        self._topology = Topology(feeds=list(self.feeds.values()), aggregators=[self.aggregator])
        await self._topology.start()

    async def stop(self) -> None:
        topo, self._topology = self._topology, None
        if topo is not None and self.scaleout is not None:
            await self.scaleout.release()
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
        if self.scaleout is not None:
            out["scaleout"] = self.scaleout.counters()
        return out
