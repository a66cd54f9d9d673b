"""Assemble the execution engine over running pipelines or a topology's aggregators: a route to every venue
that takes orders.

The engine (layer 5) never names a venue; this module, at the topology's level, finds each venue's
order entry through the registry (:class:`~dragonfly.venues.base.VenueSpec` ``orders``, ``order_url``):

- a venue whose feed is a simulator routes orders to the simulator's order entry (the venue's own
  protocol with the simulators' test account, or the generic one);
- real venues get routes only with ``live_orders=True`` (the ``--live-orders`` flag) and credentials
  for each (``credentials={venue: Credentials}``, e.g. ``Credentials.from_env("BINANCE")``, or
  :func:`read_credentials`); without it a real venue is planned on and never sent an order, and an
  engine with no venue to send to only plans (``live=False``: ``submit`` is rejected).

:class:`OrderRouting` holds those choices (live orders, credentials, per-venue rules and fees, the
venues orders may go to) and builds the engine; :func:`build_engine` is the short form over pipelines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .clients.orders import Credentials, OrderClient, OrderRequest, OrderResult, SimOrderProtocol
from .errors import ConfigError, CredentialsError
from .instruments import parse_instrument
from .model import LiquidityView
from .queues import Broadcast
from .services.execution import ExecutionConfig, ExecutionEngine, Route, VenueRules
from .sim.orders import DEFAULT_ACCOUNTS
from .venues.registry import get_venue

__all__ = ("OrderRouting", "build_engine", "build_routes", "credentials_env_prefix", "read_credentials")


def credentials_env_prefix(venue: str) -> str:
    """The environment prefix of a venue's credentials when none is named: ``binance`` -> ``BINANCE``
    (``BINANCE_API_KEY``, ``BINANCE_API_SECRET``); ``bitstamp-diff`` -> ``BITSTAMP_DIFF``."""
    return re.sub(r"[^A-Za-z0-9]", "_", venue).upper()


def read_credentials(source: str, *, environ: Mapping[str, str] | None = None) -> Credentials:
    """Credentials from ``env:PREFIX`` (``PREFIX_API_KEY`` and ``PREFIX_API_SECRET``) or ``file:PATH`` (a file
    of ``api_key=``/``api_secret=`` lines or a JSON object, readable by its owner only).

    Raises
    ------
    CredentialsError
        A source of another form, a missing variable, an unreadable or too open file; the message names
        the variables or the path, never a value.
    """
    kind, sep, where = source.partition(":")
    if not sep or not where or kind not in ("env", "file"):
        raise CredentialsError(f"credentials source must be env:PREFIX or file:PATH, got {source[:60]!r}")
    if kind == "env":
        return Credentials.from_env(where, environ=environ if environ is not None else os.environ)
    return Credentials.from_file(where)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRouting:
    """Where an engine's child orders go.

    Parameters
    ----------
    live_orders : bool
        Send orders to real venues (``--live-orders``). Simulators take orders either way.
    credentials : Mapping[str, Credentials]
        Venue -> its API key, for real venues that take orders (with ``live_orders``); a venue not
        listed reads ``<VENUE>_API_KEY`` and ``<VENUE>_API_SECRET`` (:func:`credentials_env_prefix`).
    rules : Mapping[str, VenueRules]
        Venue -> its rules (fee, minimum, lot, tick, caps); default: its order adapter's taker fee.
    venues : tuple of str
        Only these venues are sent orders (empty: every venue of the book). The others are left out of
        the plans too.
    timeout_s : float
        Bound on one request to a venue.
    """

    live_orders: bool = False
    credentials: Mapping[str, Credentials] = field(default_factory=lambda: MappingProxyType({}))
    rules: Mapping[str, VenueRules] = field(default_factory=lambda: MappingProxyType({}))
    venues: tuple[str, ...] = ()
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "credentials", MappingProxyType(dict(self.credentials)))
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))
        object.__setattr__(self, "venues", tuple(self.venues))
        if not self.timeout_s > 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s!r}")
        for venue in (*self.credentials, *self.rules, *self.venues):
            get_venue(venue)  # ConfigError: unknown venue

    def _rules(self, venue: str, taker_fee: float) -> VenueRules:
        return self.rules.get(venue) or VenueRules(taker_fee=taker_fee)

    def _wanted(self, venues: Sequence[str]) -> list[str]:
        return [v for v in venues if not self.venues or v in self.venues]

    def routes(self, instrument: str, venues: Sequence[str], *, order_urls: Mapping[str, str]) -> dict[str, Route]:
        """Venue -> :class:`Route` for one instrument: the venues in ``order_urls`` (simulators' order entry)
        always, real venues that take orders with ``live_orders``.

        Raises
        ------
        CredentialsError
            ``live_orders`` and a real venue that takes orders has no credentials.
        """
        inst = parse_instrument(instrument)
        key, secret = next(iter(DEFAULT_ACCOUNTS.items()))
        routes: dict[str, Route] = {}
        for venue in self._wanted(venues):
            spec = get_venue(venue)
            proto = spec.order_protocol()
            if venue in order_urls:
                url = order_urls[venue]
                if proto is None:
                    proto = SimOrderProtocol()
                creds = Credentials(key, secret, source="simulator") if proto.needs_credentials else None
            elif self.live_orders and proto is not None and spec.order_url:
                url = spec.order_url
                creds = self.credentials.get(venue)
                if creds is None:  # the venue's own variables, e.g. BINANCE_API_KEY and BINANCE_API_SECRET
                    prefix = credentials_env_prefix(venue)
                    try:
                        creds = Credentials.from_env(prefix)
                    except CredentialsError:
                        raise CredentialsError(f"{venue}: live orders need credentials: set {prefix}_API_KEY and "
                                               f"{prefix}_API_SECRET, or name them (env:PREFIX or file:PATH)") from None
            else:
                continue
            client = OrderClient(proto, base_url=url, credentials=creds, timeout_s=self.timeout_s, name=venue)
            routes[venue] = Route(venue, client, proto.symbol(inst), self._rules(venue, proto.taker_fee))
        return routes

    def planning_routes(self, venues: Sequence[str]) -> dict[str, Route]:
        """A route that never sends for every venue: what a planning-only engine plans over."""
        out: dict[str, Route] = {}
        for venue in self._wanted(venues):
            proto = get_venue(venue).order_protocol() or SimOrderProtocol()
            out[venue] = Route(venue, _NoOrders(venue), "", self._rules(venue, proto.taker_fee))
        return out

    def engine(
        self,
        books: Mapping[str, tuple[Sequence[str], Broadcast[LiquidityView]]],
        *,
        order_urls: Mapping[str, str] | None,
        config: ExecutionConfig | None = None,
    ) -> ExecutionEngine:
        """An engine over ``books`` (instrument -> its venues and summed-liquidity broadcast).

        ``order_urls`` are the simulators' order entries by venue ({} when no venue is simulated); None
        means the venues are simulated but their simulators do not listen yet: the engine is built live
        with no route, and :meth:`attach` gives it the routes once they do.
        """
        config = config or ExecutionConfig()
        if order_urls is None:
            return ExecutionEngine({i: b[1] for i, b in books.items()}, {i: {} for i in books}, config)
        routes = {i: self.routes(i, venues, order_urls=order_urls) for i, (venues, _) in books.items()}
        if not any(routes.values()):
            # nothing to send to (real venues without --live-orders): plan over every venue, send nothing
            config = replace(config, live=False)
            routes = {i: self.planning_routes(venues) for i, (venues, _) in books.items()}
        return ExecutionEngine({i: b[1] for i, b in books.items()}, routes, config)

    def attach(self, engine: ExecutionEngine, venues: Mapping[str, Sequence[str]],
               order_urls: Mapping[str, str]) -> None:
        """Give an engine built with ``order_urls=None`` its routes, now that the simulators listen."""
        for instrument, names in venues.items():
            engine.set_routes(instrument, self.routes(instrument, names, order_urls=order_urls))


def _sim_order_urls(pipeline: Any) -> Mapping[str, str] | None:
    sim = getattr(pipeline, "sim", None)
    return sim.order_urls if sim is not None else None


def build_routes(
    pipeline: Any,
    *,
    live_orders: bool = False,
    credentials: Mapping[str, Credentials] | None = None,
    rules: Mapping[str, VenueRules] | None = None,
    timeout_s: float = 5.0,
) -> dict[str, Route]:
    """Venue -> :class:`Route` for one started pipeline (``pipeline.config``, ``pipeline.sim``).

    ``rules`` overrides a venue's :class:`VenueRules` (default: its order adapter's taker fee).

    Raises
    ------
    CredentialsError
        ``live_orders`` and a venue that takes orders has no credentials.
    """
    routing = OrderRouting(live_orders=live_orders, credentials=credentials or {}, rules=rules or {},
                           timeout_s=timeout_s)
    return routing.routes(pipeline.config.instrument, pipeline.config.venues,
                          order_urls=_sim_order_urls(pipeline) or {})


def build_engine(
    pipelines: Sequence[Any],
    *,
    live_orders: bool = False,
    credentials: Mapping[str, Credentials] | None = None,
    rules: Mapping[str, VenueRules] | None = None,
    config: ExecutionConfig | None = None,
    order_urls: Mapping[str, str] | None = None,
    venues: Sequence[str] = (),
) -> ExecutionEngine:
    """An :class:`ExecutionEngine` over pipelines (started, or about to be). Orders go to simulators always,
    to real venues only with ``live_orders``; with no route at all the engine only plans (``live=False``).

    ``order_urls`` names the simulators' order entries when the pipelines' feeds point at simulators
    started elsewhere (default: each pipeline's own ``sim``); ``venues`` restricts where orders go.
    """
    if not pipelines:
        raise ConfigError("build_engine needs at least one pipeline")
    routing = OrderRouting(live_orders=live_orders, credentials=credentials or {}, rules=rules or {},
                           venues=tuple(venues))
    urls: dict[str, str] = dict(order_urls or {})
    for p in pipelines:
        urls.update(_sim_order_urls(p) or {})
    books = {p.config.instrument: (p.config.venues, p.liquidity) for p in pipelines}
    return routing.engine(books, order_urls=urls, config=config)


class _NoOrders:
    """The route of a venue the engine may plan on but never send to (no ``--live-orders``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def place(self, order: OrderRequest) -> OrderResult:
        raise ConfigError(f"{self.name}: live orders are disabled")

    async def cancel(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult:
        raise ConfigError(f"{self.name}: live orders are disabled")

    query = cancel

    async def close(self) -> None:
        pass
