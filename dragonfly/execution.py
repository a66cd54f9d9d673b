"""Assemble the execution engine over running pipelines: a route to every venue that takes orders.

The engine (layer 5) never names a venue; this module, at the topology's level, finds each venue's
order entry through the registry (:class:`~dragonfly.venues.base.VenueSpec` ``orders``, ``order_url``):

- a pipeline that simulates its venues routes orders to the simulators' order entry (the venue's own
  protocol with the simulators' test account, or the generic one);
- real venues get routes only with ``live_orders=True`` (the ``--live-orders`` flag) and credentials
  for each (``credentials={venue: Credentials}``, e.g. ``Credentials.from_env("BINANCE")``); without
  it the engine is built with ``live=False`` and only plans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .clients.orders import Credentials, OrderClient, OrderRequest, OrderResult, SimOrderProtocol
from .errors import ConfigError, CredentialsError
from .instruments import parse_instrument
from .services.execution import ExecutionConfig, ExecutionEngine, Route, VenueRules
from .sim.orders import DEFAULT_ACCOUNTS
from .venues.registry import get_venue

__all__ = ("build_engine", "build_routes")


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
    cfg = pipeline.config
    inst = parse_instrument(cfg.instrument)
    sim = getattr(pipeline, "sim", None)
    sim_urls: Mapping[str, str] = sim.order_urls if sim is not None else {}
    key, secret = next(iter(DEFAULT_ACCOUNTS.items()))
    routes: dict[str, Route] = {}
    for venue in cfg.venues:
        spec = get_venue(venue)
        proto = spec.order_protocol()
        if venue in sim_urls:
            url = sim_urls[venue]
            if proto is None:
                proto = SimOrderProtocol()
            creds = Credentials(key, secret, source="simulator") if proto.needs_credentials else None
        elif live_orders and proto is not None and spec.order_url:
            url = spec.order_url
            creds = (credentials or {}).get(venue)
            if creds is None:
                raise CredentialsError(f"{venue}: live orders need credentials")
        else:
            continue
        client = OrderClient(proto, base_url=url, credentials=creds, timeout_s=timeout_s, name=venue)
        base = (rules or {}).get(venue) or VenueRules(taker_fee=proto.taker_fee)
        routes[venue] = Route(venue, client, proto.symbol(inst), base)
    return routes


def build_engine(
    pipelines: Sequence[Any],
    *,
    live_orders: bool = False,
    credentials: Mapping[str, Credentials] | None = None,
    rules: Mapping[str, VenueRules] | None = None,
    config: ExecutionConfig | None = None,
) -> ExecutionEngine:
    """An :class:`ExecutionEngine` over started pipelines. Orders go to simulators always, to real
    venues only with ``live_orders``; with no route at all the engine only plans (``live=False``)."""
    if not pipelines:
        raise ConfigError("build_engine needs at least one pipeline")
    routes = {p.config.instrument: build_routes(p, live_orders=live_orders, credentials=credentials, rules=rules)
              for p in pipelines}
    config = config or ExecutionConfig()
    simulated = all(getattr(p, "sim", None) is not None for p in pipelines)
    if not (live_orders or simulated) or not any(routes.values()):
        config = replace(config, live=False)
    # the planner uses routed venues alone: a planning-only engine gets a route that never sends for
    # every venue, so that its plans cover all of them
    if not config.live:
        for p in pipelines:
            for venue in p.config.venues:
                if venue not in routes[p.config.instrument]:
                    proto = get_venue(venue).order_protocol() or SimOrderProtocol()
                    fee = (rules or {}).get(venue) or VenueRules(taker_fee=proto.taker_fee)
                    routes[p.config.instrument][venue] = Route(venue, _NoOrders(venue), "", fee)
    return ExecutionEngine({p.config.instrument: p.liquidity for p in pipelines}, routes, config)


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
