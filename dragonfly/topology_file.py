"""Topology files: a whole topology (feeds, transformers, aggregators, services) in one TOML file.

``dragonfly check FILE`` validates a file and prints its graph; ``dragonfly run FILE [--simulate]``
runs it. In Python::

    topo = load_topology("examples/topologies/complex.toml")   # TopologyFileError if anything is wrong
    print(topo.graph())
    runtime = topo.build(simulate=True)                        # layers 1-4, not started
    async with ServiceHost(services=runtime.services, upstream=[runtime]) as host:
        ...

The format (every section is a table of named tables; names are unique across sections)::

    [feeds.NAME]            # layers 1-3: one connection to one venue
    venue = "binance"       #   registered venue (default: NAME)
    instruments = ["ETH-BTC"]
    depth = 10              #   levels per side forwarded (default 10)
    base_url = "wss://..."  #   optional override (``--simulate`` replaces it with the simulator's)
    keepalive_s = 1.0

    [transformers.NAME]     # a function between a feed (or transformer) and its consumers
    input = "FEED"
    function = "package.module:callable"   # BookUpdate -> BookUpdate | None
    options = { ... }       #   optional: then ``callable(**options)`` returns the function

    [aggregators.NAME]      # layer 4, one per kind of output
    kind = "bbo"            #   "bbo": consolidated per-venue top N; "liquidity": sizes summed per price
    inputs = ["FEED", "TRANSFORMER", ...]
    instruments = [...]     #   default: every instrument its inputs carry
    depth = 10
    staleness_s = 10.0
    staleness = { bitstamp = 30.0 }

    [services.NAME]         # layer 5; ``kind`` picks an entry of SERVICE_KINDS
    kind = "grpc"           #   "grpc", "fix" or "execution" (see SERVICE_KINDS for each one's keys)
    ...

    [services.engine]       # the execution engine: no port of its own
    kind = "execution"
    liquidity = "NAME"      #   the liquidity aggregator it plans against
    [services.legacy]
    kind = "fix"
    execution = "engine"    #   the FIX server takes 35=D/35=F for it (a grpc service: dragonfly.v1.Execution)

Rules checked (each failure is one :class:`~dragonfly.errors.TopologyFileError` naming the file,
the line when it can be found, the key, and what is wrong; the command exits with status 2): TOML
syntax, unknown sections and keys, types, unknown venues and instruments, depths, inputs that name
nothing (or name an aggregator), a feed or transformer nobody consumes, cycles between
transformers, a venue reaching one aggregator twice for an instrument, services naming an
aggregator of the wrong kind, and a port used by two services.

Scale-out: a top-level ``[scaleout]`` table (``workers``, ``bus``, ``rates``, ``views``; see
:class:`ScaleOutNode`) runs the feeds in worker processes through one :class:`~dragonfly.topology.ScaleOut`;
their updates reach the same transformers and aggregators over the bus.

A feed consumed by several transformers or aggregators is still one connection: its sink is a
:class:`~dragonfly.queues.Tee` over its consumers. A transformer reads a bounded
:class:`~dragonfly.queues.KeyedQueue` (latest update per venue and instrument).

Services are built through :data:`SERVICE_KINDS`: one :class:`ServiceKind` per ``kind`` says which
keys it takes, which of them name aggregators or other services, how to check its values, and how to
build the server (``build(node, context) -> Service``, or None for a component with no server of its
own). A kind whose ``build`` is None is accepted by ``check`` and refused by ``run``.

The ``execution`` kind is the execution engine (:mod:`dragonfly.execution`) over a liquidity
aggregator: it has no port; a ``fix`` service that names it in ``execution`` takes orders for it on its
market-data sessions, and a ``grpc`` service that names it serves ``dragonfly.v1.Execution``. With
``--simulate`` its orders go to the simulators; real venues get orders only with ``live_orders``
(``dragonfly run --live-orders``) and their credentials (the service's ``credentials``, or
``<VENUE>_API_KEY``/``<VENUE>_API_SECRET``); without it the engine only plans.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._lifecycle import StartStop
from .aggregators.bbo import AggregatorConfig, BboAggregator
from .errors import ConfigError, CredentialsError, TopologyFileError
from .instruments import parse_instrument
from .listeners.driver import Feed
from .model import BookUpdate, LiquidityView, WorldView
from .queues import Broadcast, KeyedQueue, Sink, Tee, Transformer
from .services.base import Service
from .topology import FeedSpec, ScaleOut, Topology
from .venues.registry import get_venue

if TYPE_CHECKING:
    from .execution import OrderRouting
    from .services.execution import ExecutionEngine

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the conditional dependency
    import tomli as tomllib

__all__ = (
    "SERVICE_KINDS",
    "AggregatorGroup",
    "AggregatorNode",
    "BuildContext",
    "FeedNode",
    "FileTopology",
    "KeySpec",
    "ScaleOutNode",
    "ServiceKind",
    "ServiceNode",
    "TopologyFile",
    "TransformerNode",
    "load_topology",
    "parse_topology",
)

SECTIONS = ("feeds", "transformers", "aggregators", "services")
AGGREGATOR_KINDS = ("bbo", "liquidity")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


# ------------------------------------------------------------------------------------------ locating keys
class _Source:
    """The file's text, to find the line of a key and to raise errors that name it."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, table: Sequence[str], key: str | None, reason: str, index: int | None = None) -> TopologyFileError:
        dotted = ".".join(_quote(p) for p in table)
        if key is not None:
            dotted = f"{dotted}.{_quote(key)}" if dotted else _quote(key)
        if index is not None:
            dotted += f"[{index}]"
        return TopologyFileError(reason, path=self.path, key=dotted, line=self.line_of(table, key))

    def line_of(self, table: Sequence[str], key: str | None) -> int | None:
        """1-based line of ``key`` in the table ``[a.b]`` (or of the table header), when written plainly."""
        if not table:
            return self._key_line(0, len(self.lines), key) if key else None
        seg = [rf"(?:{re.escape(p)}|\"{re.escape(p)}\"|'{re.escape(p)}')" for p in table]
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(seg) + r"\s*\]\s*(?:#.*)?$")
        for i, text in enumerate(self.lines):
            if header.match(text):
                if key is None:
                    return i + 1
                end = next((j for j in range(i + 1, len(self.lines)) if self.lines[j].lstrip().startswith("[")),
                           len(self.lines))
                return self._key_line(i + 1, end, key) or i + 1
        return None

    def _key_line(self, start: int, end: int, key: str) -> int | None:
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
        for j in range(start, end):
            if pattern.match(self.lines[j]):
                return j + 1
        return None


def _quote(part: str) -> str:
    return part if _SIMPLE_KEY.match(part) else f'"{part}"'


# ------------------------------------------------------------------------------------------ key checks
@dataclass(frozen=True, slots=True, kw_only=True)
class KeySpec:
    """One key a service kind takes.

    Parameters
    ----------
    type : str
        ``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"list"`` (of strings) or ``"table"``.
    required : bool
    default : Any
        Value when absent (not required).
    ref : str
        What the value names: ``""`` nothing; ``"bbo"`` an aggregator of kind bbo; ``"liquidity"`` an
        aggregator that publishes summed liquidity (either kind); ``"service:KIND"`` a service of that kind.
    help : str
        One line for ``check`` and the docs.
    """

    type: str
    required: bool = False
    default: Any = None
    ref: str = ""
    help: str = ""


class _Keys:
    """Typed access to one table's keys, raising errors that name them."""

    def __init__(self, src: _Source, table: tuple[str, ...], data: Mapping[str, Any]) -> None:
        self.src = src
        self.table = table
        self.data = data

    def error(self, key: str | None, reason: str, index: int | None = None) -> TopologyFileError:
        return self.src.error(self.table, key, reason, index)

    def only(self, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in self.data:
            if key not in allowed:
                where = ".".join(self.table) or "the file"
                raise self.error(key, f"unknown key; {where} takes {', '.join(allowed)}")

    def get(self, key: str, kind: str, *, required: bool = False, default: Any = None) -> Any:
        if key not in self.data:
            if required:
                raise self.error(None, f"missing key {key!r}")
            return default
        value = self.data[key]
        ok = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "table": lambda v: isinstance(v, dict),
        }[kind](value)
        if not ok:
            want = {"list": "a list of strings", "table": "a table", "int": "an integer", "float": "a number",
                    "bool": "true or false", "str": "a string"}[kind]
            raise self.error(key, f"must be {want}, got {_describe(value)}")
        return float(value) if kind == "float" else value

    def names(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        """A list of strings, or one string as a list of one."""
        value = self.data.get(key)
        if isinstance(value, str):
            return (value,)
        got = self.get(key, "list", required=required, default=[])
        return tuple(got)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


# ------------------------------------------------------------------------------------------ the nodes
@dataclass(frozen=True, slots=True, kw_only=True)
class FeedNode:
    """``[feeds.NAME]``: one connection to one venue (layers 1-3)."""

    name: str
    spec: FeedSpec

    @property
    def venue(self) -> str:
        return self.spec.venue

    @property
    def instruments(self) -> tuple[str, ...]:
        return self.spec.instruments


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformerNode:
    """``[transformers.NAME]``: ``function`` applied to every update of ``input``."""

    name: str
    input: str
    function: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fn: Callable[[BookUpdate], BookUpdate | None] = field(repr=False, compare=False, default=lambda u: u)


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregatorNode:
    """``[aggregators.NAME]``: one aggregator per instrument, of one kind (layer 4)."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    instruments: tuple[str, ...]
    #: instrument -> venues reaching it (in input order)
    venues: Mapping[str, tuple[str, ...]]
    depth: int = 10
    staleness_s: float = 10.0
    staleness: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceNode:
    """``[services.NAME]``: one server of layer 5, with its keys checked against its kind."""

    name: str
    kind: str
    options: Mapping[str, Any]
    line: int | None = None

    def port(self) -> int | None:
        port = self.options.get("port")
        return port if isinstance(port, int) else None


# ------------------------------------------------------------------------------------------ services
@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceKind:
    """One ``kind`` of service a topology file may declare.

    Parameters
    ----------
    kind : str
    summary : str
    keys : Mapping[str, KeySpec]
        Every key it takes (besides ``kind``).
    build : callable or None
        ``build(node, context) -> Service``, or None from a component with no server of its own (the
        execution engine: it keeps itself in the context for the services that name it); a ``build``
        of None: ``check`` accepts the kind, ``run`` refuses it with :attr:`unavailable`.
    unavailable : str
        Why ``run`` refuses it, when ``build`` is None.
    one_of : tuple of str
        At least one of these keys must be given.
    check : callable or None
        ``check(options, aggregators, error)``: further checks of the values, at ``check`` time;
        ``error(key, reason)`` makes the error to raise.
    """

    kind: str
    summary: str
    keys: Mapping[str, KeySpec]
    build: Callable[[ServiceNode, BuildContext], Service | None] | None = None
    unavailable: str = ""
    one_of: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any], Mapping[str, AggregatorNode], Callable[[str, str], TopologyFileError]],
                    None] | None = None


@dataclass(slots=True)
class AggregatorGroup:
    """What a topology file's aggregator became: one :class:`BboAggregator` per instrument."""

    node: AggregatorNode
    aggregators: dict[str, BboAggregator]

    @property
    def views(self) -> dict[str, Broadcast[WorldView]]:
        """Instrument -> consolidated per-venue views (silent for a liquidity aggregator)."""
        return {i: a.views for i, a in self.aggregators.items()}

    @property
    def liquidity(self) -> dict[str, Broadcast[LiquidityView]]:
        """Instrument -> summed liquidity."""
        return {i: a.liquidity for i, a in self.aggregators.items()}


@dataclass(slots=True)
class EngineNode:
    """A built ``execution`` service: the engine, how its orders are routed, and the venues per instrument."""

    name: str
    engine: ExecutionEngine
    routing: OrderRouting
    venues: dict[str, tuple[str, ...]]
    simulated: bool


@dataclass(slots=True)
class BuildContext:
    """What a service builder gets: the built aggregators, the services and engines built before it, and the
    command line's switches."""

    topology: FileTopology
    services: dict[str, Service]
    any_port: bool = False
    simulate: bool = False
    live_orders: bool = False
    engines: dict[str, EngineNode] = field(default_factory=dict)

    def aggregator(self, name: str) -> AggregatorGroup:
        return self.topology.aggregators[name]

    def port(self, node: ServiceNode, default: int) -> int:
        """The service's port (0 with ``any_port``: the system picks a free one)."""
        return 0 if self.any_port else int(node.options.get("port", default))


def _customers(items: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if part:
                comp, _, password = part.partition(":")
                out[comp] = password or None
    return out


def _build_grpc(node: ServiceNode, ctx: BuildContext) -> Service:
    from .services.grpc import GrpcServer, GrpcServerConfig, ServedBook

    o = node.options
    bbo = ctx.aggregator(o["bbo"])
    liq = ctx.aggregator(o["liquidity"]) if o.get("liquidity") else bbo
    books = [
        ServedBook(instrument=inst, venues=bbo.node.venues[inst], depth=bbo.node.depth, views=agg.views,
                   liquidity=liq.aggregators[inst].liquidity if inst in liq.aggregators else None)
        for inst, agg in bbo.aggregators.items()
    ]
    token = None
    if o.get("token_file"):
        try:
            token = Path(o["token_file"]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"services.{node.name}.token_file: cannot read it: {exc.strerror or exc}") from None
    config = GrpcServerConfig(
        host=o.get("host", "127.0.0.1"), port=ctx.port(node, 50051), token=token or None,
        tls_cert=Path(o["tls_cert"]) if o.get("tls_cert") else None,
        tls_key=Path(o["tls_key"]) if o.get("tls_key") else None,
        grace_s=float(o.get("grace_s", 2.0)), health_follows_venues=True,
    )
    execution = ctx.engines[o["execution"]].engine if o.get("execution") else None
    server = GrpcServer(books, config, execution=execution)
    server.name = f"gRPC {node.name}"  # type: ignore[misc]
    return server


def _build_fix(node: ServiceNode, ctx: BuildContext) -> Service:
    from .services.fix_server import DEFAULT_FIX_PORT, FixServer, FixServerConfig

    o = node.options
    customers = _customers(list(o.get("customers", [])) + ([os.environ["DRAGONFLY_FIX_CUSTOMERS"]]
                                                          if os.environ.get("DRAGONFLY_FIX_CUSTOMERS") else []))
    if not customers:
        raise ConfigError(f"services.{node.name}.customers: no FIX customers (list \"COMPID[:PASSWORD]\" there or "
                          "set DRAGONFLY_FIX_CUSTOMERS)")
    views: dict[str, Broadcast[WorldView]] = {}
    liquidity: dict[str, Broadcast[LiquidityView]] = {}
    depth = 1
    if o.get("bbo"):
        group = ctx.aggregator(o["bbo"])
        views = group.views
        depth = max(depth, group.node.depth)
    if o.get("liquidity"):
        group = ctx.aggregator(o["liquidity"])
        liquidity = group.liquidity
        depth = max(depth, group.node.depth)
    config = FixServerConfig(host=o.get("host", "127.0.0.1"), port=ctx.port(node, DEFAULT_FIX_PORT),
                             comp_id=o.get("comp_id", "DRAGONFLY"), customers=customers,
                             store_dir=o.get("store_dir"), max_depth=depth)
    execution = ctx.engines[o["execution"]].engine if o.get("execution") else None
    server = FixServer(views, config, liquidity=liquidity, execution=execution)
    server.name = f"FIX {node.name}"  # type: ignore[misc]
    return server


_LIMIT_KEYS = ("max_qty", "max_notional")
_RULE_KEYS = ("min_qty", "lot", "tick", "max_qty", "balance")


def _number_table(value: Any, keys: Sequence[str], what: str) -> dict[str, float]:
    """``{key: number > 0 or >= 0}`` with only ``keys``; ValueError with the reason."""
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a table of {', '.join(keys)}, got {_describe(value)}")
    out: dict[str, float] = {}
    for k, v in value.items():
        if k not in keys:
            raise ValueError(f"{what}: unknown key {k!r}; it takes {', '.join(keys)}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{what}.{k} must be a number >= 0, got {_describe(v)}")
        out[k] = float(v)
    return out


def _check_execution(o: Mapping[str, Any], aggregators: Mapping[str, AggregatorNode],
                     error: Callable[[str, str], TopologyFileError]) -> None:
    agg = aggregators[o["liquidity"]]
    venues = {v for vs in agg.venues.values() for v in vs}
    for i, venue in enumerate(o.get("venues", [])):
        if venue not in venues:
            raise error("venues", f"[{i}] {venue!r} is not a venue of aggregator {agg.name} "
                                  f"({', '.join(sorted(venues))})")
    for key in ("fees", "rules", "credentials"):
        for venue in o.get(key, {}):
            if venue not in venues:
                raise error(key, f"{venue!r} is not a venue of aggregator {agg.name} ({', '.join(sorted(venues))})")
    for venue, fee in o.get("fees", {}).items():
        if isinstance(fee, bool) or not isinstance(fee, (int, float)) or not 0 <= fee < 0.1:
            raise error("fees", f"{venue}: a taker fee is a rate in 0..0.1 (0.001 = 0.1 %), got {_describe(fee)}")
    try:
        for venue, table in o.get("rules", {}).items():
            _number_table(table, _RULE_KEYS, venue)
    except ValueError as exc:
        raise error("rules", str(exc)) from None
    for key in ("limits", "default_limits"):
        tables = o.get("limits", {}) if key == "limits" else {"default_limits": o.get("default_limits", {})}
        for who, table in tables.items():
            try:
                values = _number_table(table, _LIMIT_KEYS, who)
            except ValueError as exc:
                raise error(key, str(exc)) from None
            if key == "limits" and not values:
                raise error(key, f"{who}: give max_qty and/or max_notional")
            if any(v == 0 for v in values.values()):
                raise error(key, f"{who}: a limit must be > 0")
    for venue, source in o.get("credentials", {}).items():
        kind, sep, where = source.partition(":") if isinstance(source, str) else ("", "", "")
        if not sep or not where or kind not in ("env", "file"):
            raise error("credentials", f'{venue}: must be "env:PREFIX" or "file:PATH" (where to read the key, '
                                       "never the key itself)")
    if o.get("child_timeout_s", 5.0) <= 0:
        raise error("child_timeout_s", "must be > 0")
    if o.get("max_rounds", 3) < 1:
        raise error("max_rounds", "must be >= 1")


def _build_execution(node: ServiceNode, ctx: BuildContext) -> None:
    from .execution import OrderRouting, read_credentials
    from .services.execution import ExecutionConfig, RiskLimits, VenueRules

    o = node.options
    group = ctx.aggregator(o["liquidity"])
    wanted = tuple(o.get("venues", ()))
    all_venues = {v for vs in group.node.venues.values() for v in vs}
    fees: dict[str, float] = dict(o.get("fees", {}))
    rules: dict[str, VenueRules] = {}
    for venue in sorted(all_venues):
        table = _number_table(o.get("rules", {}).get(venue, {}), _RULE_KEYS, venue)
        if venue in fees or table:
            rules[venue] = VenueRules(taker_fee=fees.get(venue, _default_fee(venue)), **table)
    limits = {c: RiskLimits(**_number_table(t, _LIMIT_KEYS, c)) for c, t in o.get("limits", {}).items()}
    config = ExecutionConfig(limits=limits, default_limits=RiskLimits(**_number_table(
        o.get("default_limits", {}), _LIMIT_KEYS, "default_limits")),
        child_timeout_s=float(o.get("child_timeout_s", 5.0)), max_rounds=int(o.get("max_rounds", 3)))
    books = {inst: (group.node.venues[inst], agg.liquidity) for inst, agg in group.aggregators.items()}
    credentials = {}
    try:
        if ctx.live_orders and not ctx.simulate:
            credentials = {venue: read_credentials(source) for venue, source in o.get("credentials", {}).items()}
        routing = OrderRouting(live_orders=ctx.live_orders and not ctx.simulate, credentials=credentials,
                               rules=rules, venues=wanted)
        # simulated venues' order entries listen only once the topology starts: the routes come then
        engine = routing.engine(books, order_urls=None if ctx.simulate else {}, config=config)
    except CredentialsError as exc:  # names the variables or the file, never a value
        raise CredentialsError(f"services.{node.name}.credentials: {exc}") from None
    ctx.engines[node.name] = EngineNode(name=node.name, engine=engine, routing=routing,
                                        venues={i: v for i, (v, _) in books.items()}, simulated=ctx.simulate)
    return None


def _default_fee(venue: str) -> float:
    proto = get_venue(venue).order_protocol()
    return float(proto.taker_fee) if proto is not None else 0.0


#: Every kind of service a topology file may declare.
SERVICE_KINDS: dict[str, ServiceKind] = {
    "grpc": ServiceKind(
        kind="grpc",
        summary="gRPC server: orderbook.OrderbookAggregator and dragonfly.v1.Aggregator",
        keys={
            "bbo": KeySpec(type="str", required=True, ref="bbo", help="aggregator streamed by StreamBook/BookSummary"),
            "liquidity": KeySpec(type="str", ref="liquidity",
                                 help="aggregator streamed by StreamLiquidity (default: the bbo one's)"),
            "host": KeySpec(type="str", default="127.0.0.1"),
            "port": KeySpec(type="int", default=50051),
            "token_file": KeySpec(type="str", help="require this bearer token"),
            "tls_cert": KeySpec(type="str"),
            "tls_key": KeySpec(type="str"),
            "grace_s": KeySpec(type="float", default=2.0),
            "execution": KeySpec(type="str", ref="service:execution",
                                 help="execution service served as dragonfly.v1.Execution on the same port"),
        },
        build=_build_grpc,
    ),
    "fix": ServiceKind(
        kind="fix",
        summary="FIX 4.4 server: 35=V with 266=N streams the bbo aggregator, 266=Y the liquidity one",
        keys={
            "bbo": KeySpec(type="str", ref="bbo", help="aggregator streamed for AggregatedBook (266) = N"),
            "liquidity": KeySpec(type="str", ref="liquidity", help="aggregator streamed for 266 = Y"),
            "execution": KeySpec(type="str", ref="service:execution",
                                 help="execution service that takes the customers' orders (35=D, 35=F)"),
            "customers": KeySpec(type="list", default=[],
                                 help='"COMPID[:PASSWORD]" (also DRAGONFLY_FIX_CUSTOMERS)'),
            "comp_id": KeySpec(type="str", default="DRAGONFLY"),
            "host": KeySpec(type="str", default="127.0.0.1"),
            "port": KeySpec(type="int", default=9880),
            "store_dir": KeySpec(type="str"),
        },
        build=_build_fix,
        one_of=("bbo", "liquidity"),
    ),
    "execution": ServiceKind(
        kind="execution",
        summary='execution engine: "liquidate big order" across venues, over the liquidity aggregator; '
                "reached through the fix and grpc services that name it",
        keys={
            "liquidity": KeySpec(type="str", required=True, ref="liquidity", help="aggregator it plans against"),
            "venues": KeySpec(type="list", help="venues orders may go to (default: every venue of the aggregator)"),
            "limits": KeySpec(type="table", help="per customer: { max_qty = ..., max_notional = ... }"),
            "default_limits": KeySpec(type="table", help="for other customers (default: none)"),
            "fees": KeySpec(type="table", help="per venue: taker fee rate (default: the venue's)"),
            "rules": KeySpec(type="table", help="per venue: { min_qty, lot, tick, max_qty, balance }"),
            "credentials": KeySpec(type="table", help='per venue: "env:PREFIX" or "file:PATH" (with --live-orders)'),
            "child_timeout_s": KeySpec(type="float", help="bound on a venue's answer to one child order (5)"),
            "max_rounds": KeySpec(type="int", help="re-plans of an order after short fills and rejects (3)"),
        },
        build=_build_execution,
        check=_check_execution,
    ),
}


# ------------------------------------------------------------------------------------------ the file
@dataclass(frozen=True, slots=True)
class TopologyFile:
    """A checked topology file (see the module docstring). Build it with :func:`load_topology`."""

    path: str
    feeds: Mapping[str, FeedNode]
    transformers: Mapping[str, TransformerNode]
    aggregators: Mapping[str, AggregatorNode]
    services: Mapping[str, ServiceNode]
    #: node name -> the transformers and aggregators that read it, in file order
    consumers: Mapping[str, tuple[str, ...]]
    #: ``[scaleout]``: the feeds run in worker processes (None: in this process)
    scaleout: ScaleOutNode | None = None

    def graph(self) -> str:
        """The topology as text: what feeds what, one node per line."""
        out = [f"{self.path}: {len(self.feeds)} feeds, {len(self.transformers)} transformers, "
               f"{len(self.aggregators)} aggregators, {len(self.services)} services"]

        def targets(name: str) -> str:
            kinds = {**dict.fromkeys(self.transformers, "transformer"), **dict.fromkeys(self.aggregators, "aggregator")}
            return ", ".join(f"{kinds[c]} {c}" for c in self.consumers.get(name, ()))

        for f in self.feeds.values():
            tee = " (one connection, shared)" if len(self.consumers.get(f.name, ())) > 1 else ""
            out.append(f"feed {f.name} [{f.venue}: {', '.join(f.instruments)}, depth {f.spec.depth}] -> "
                       f"{targets(f.name)}{tee}")
        for t in self.transformers.values():
            out.append(f"transformer {t.name} [{t.function}] <- {t.input} -> {targets(t.name)}")
        for a in self.aggregators.values():
            per = "; ".join(f"{i}: {', '.join(a.venues[i])}" for i in a.instruments)
            served = [f"service {s.name}" + (f" ({role})" if role else "")
                      for s in self.services.values() for role in _roles(s, a.name)]
            out.append(f"aggregator {a.name} [{a.kind}, depth {a.depth}; {per}] <- {', '.join(a.inputs)}"
                       + (f" -> {', '.join(served)}" if served else ""))
        for s in self.services.values():
            kind = SERVICE_KINDS[s.kind]
            detail = [f"{k}={s.options[k]}" for k in ("host", "port", "comp_id") if k in s.options]
            if s.kind == "fix":
                detail.append("customers " + (", ".join(_customers(s.options.get("customers", []))) or "from env"))
            if "execution" in s.options:
                detail.append(f"orders for {s.options['execution']}")
            if s.kind == "execution":
                detail.append("venues " + ", ".join(s.options.get("venues", ())) if s.options.get("venues")
                              else f"every venue of {s.options['liquidity']}")
                takers = [f"{t.name} ({t.kind})" for t in self.services.values()
                          if t.options.get("execution") == s.name]
                detail.append("orders from " + ", ".join(takers))
            state = "" if kind.build is not None else " (not runnable yet)"
            out.append(f"service {s.name} [{s.kind}{'; ' + ', '.join(detail) if detail else ''}]{state}")
        if self.scaleout is not None:
            out.append(self.scaleout.describe())
        return "\n".join(out) + "\n"

    def build(self, *, simulate: bool = False, seed: int | None = None, any_port: bool = False,
              live_orders: bool = False) -> FileTopology:
        """Layers 1-4 and the services, not started (see :class:`FileTopology`).

        ``live_orders`` lets the execution services send orders to real venues (``--live-orders``); with
        ``simulate`` every venue is a simulator, which takes orders either way.

        Raises
        ------
        TopologyFileError
            A service whose kind cannot run, naming its key.
        ConfigError
            A service that cannot be built (FIX without customers, an unreadable token file, live orders
            without credentials: :class:`~dragonfly.errors.CredentialsError`).
        """
        return FileTopology(self, simulate=simulate, seed=seed, any_port=any_port, live_orders=live_orders)


def _roles(service: ServiceNode, aggregator: str) -> list[str]:
    roles = []
    for key, spec in SERVICE_KINDS[service.kind].keys.items():
        if spec.ref in ("bbo", "liquidity") and service.options.get(key) == aggregator:
            roles.append({"fix": {"bbo": "266=N", "liquidity": "266=Y"}}.get(service.kind, {}).get(key, key))
    return roles


def load_topology(path: str | os.PathLike[str]) -> TopologyFile:
    """Read and check a topology file.

    Raises
    ------
    TopologyFileError
        Unreadable, not TOML, or anything wrong in it (one error, naming the file, line and key).
    """
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TopologyFileError(f"cannot read it: {reason}", path=name) from None
    return parse_topology(text, path=name)


def parse_topology(text: str, *, path: str = "<topology>") -> TopologyFile:
    """Check the TOML text of a topology file (``path`` names it in errors); see :func:`load_topology`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg) or "invalid TOML"
        raise TopologyFileError(f"not valid TOML: {reason}", path=path, line=int(m.group(1)) if m else None) from None
    return _Checker(_Source(path, text), doc).check()


class _Checker:
    def __init__(self, src: _Source, doc: dict[str, Any]) -> None:
        self.src = src
        self.doc = doc
        self.kinds: dict[str, str] = {}  # node name -> section

    def check(self) -> TopologyFile:
        top = _Keys(self.src, (), self.doc)
        top.only((*SECTIONS, SCALEOUT))
        tables: dict[str, dict[str, dict[str, Any]]] = {}
        for section in SECTIONS:
            body = top.get(section, "table", default={})
            for name, value in body.items():
                if not isinstance(value, dict):
                    raise self.src.error((section,), name, f"must be a table ([{section}.{_quote(name)}]), "
                                                           f"got {_describe(value)}")
                if not _NAME.match(name):
                    raise self.src.error((section, name), None, "a name is letters, digits, '_', '-' and '.'")
                if name in self.kinds:
                    raise self.src.error((section, name), None, f"the name {name!r} is also "
                                                                f"{self.kinds[name]}.{name}; names are unique")
                self.kinds[name] = section
            tables[section] = body
        if not tables["feeds"]:
            raise TopologyFileError("no feeds: declare at least one [feeds.NAME]", path=self.src.path, key="feeds")
        if not tables["aggregators"]:
            raise TopologyFileError("no aggregators: declare at least one [aggregators.NAME]", path=self.src.path,
                                    key="aggregators")
        feeds = {n: self._feed(n, t) for n, t in tables["feeds"].items()}
        transformers = {n: self._transformer(n, t) for n, t in tables["transformers"].items()}
        self._no_cycles(transformers)
        consumers: dict[str, list[str]] = {n: [] for n in (*feeds, *transformers)}
        for node in transformers.values():
            consumers[node.input].append(node.name)
        aggregators: dict[str, AggregatorNode] = {}
        for n, table in tables["aggregators"].items():
            agg = self._aggregator(n, table, feeds, transformers)
            aggregators[n] = agg
            for i in agg.inputs:
                consumers[i].append(n)
        for name, used in consumers.items():
            if not used:
                section = self.kinds[name]
                raise self.src.error((section, name), None, "feeds nothing: no transformer or aggregator names it "
                                                            "in its inputs")
        services = {n: self._service(n, t, aggregators) for n, t in tables["services"].items()}
        self._service_refs(services)
        self._ports(services)
        scaleout = _check_scaleout_table(self.src, self.doc, feeds, aggregators)
        return TopologyFile(
            path=self.src.path,
            feeds=MappingProxyType(feeds),
            transformers=MappingProxyType(transformers),
            aggregators=MappingProxyType(aggregators),
            services=MappingProxyType(services),
            consumers=MappingProxyType({k: tuple(v) for k, v in consumers.items()}),
            scaleout=scaleout,
        )

    # -- feeds ----------------------------------------------------------------------------------------------
    def _feed(self, name: str, data: dict[str, Any]) -> FeedNode:
        k = _Keys(self.src, ("feeds", name), data)
        k.only(("venue", "instruments", "depth", "base_url", "keepalive_s"))
        venue_name = k.get("venue", "str", default=name)
        try:
            venue = get_venue(venue_name)
        except ConfigError as exc:
            raise (k.error("venue", str(exc)) if "venue" in data else
                   k.error(None, f"no 'venue' key, and the name is not a venue: {exc}")) from None
        instruments = k.names("instruments", required=True)
        if not instruments:
            raise k.error("instruments", "is empty; list at least one instrument")
        names: list[str] = []
        for i, text in enumerate(instruments):
            try:
                inst = parse_instrument(text).name
            except ConfigError as exc:
                raise k.error("instruments", str(exc), i) from None
            if inst in names:
                raise k.error("instruments", f"{inst} is listed twice", i)
            names.append(inst)
        depth = k.get("depth", "int", default=10)
        if not 1 <= depth <= venue.max_depth:
            raise k.error("depth", f"must be within 1..{venue.max_depth} for {venue.name}, got {depth}")
        base_url = k.get("base_url", "str")
        if base_url is not None:
            try:
                venue.check_base_url(base_url)
            except ConfigError as exc:
                raise k.error("base_url", str(exc)) from None
        keepalive = k.get("keepalive_s", "float", default=1.0)
        if not keepalive > 0:
            raise k.error("keepalive_s", "must be > 0")
        spec = FeedSpec(venue=venue.name, instruments=tuple(names), depth=depth, base_url=base_url,
                        keepalive_s=keepalive)
        return FeedNode(name=name, spec=spec)

    # -- transformers ---------------------------------------------------------------------------------------
    def _transformer(self, name: str, data: dict[str, Any]) -> TransformerNode:
        k = _Keys(self.src, ("transformers", name), data)
        k.only(("input", "function", "options"))
        source = k.get("input", "str", required=True)
        self._input(k, "input", source, None)
        target = k.get("function", "str", required=True)
        options = k.get("options", "table", default={})
        module, _, attr = target.partition(":")
        if not module or not attr:
            raise k.error("function", f"must be 'package.module:callable', got {target!r}")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise k.error("function", f"cannot import {target}: {type(exc).__name__}: {exc}") from None
        if options:
            try:
                obj = obj(**options)
            except Exception as exc:
                raise k.error("options", f"{target}(**options) failed: {type(exc).__name__}: {exc}") from None
        if not callable(obj):
            raise k.error("function", f"{target} is not callable")
        return TransformerNode(name=name, input=source, function=target, options=MappingProxyType(dict(options)),
                               fn=obj)

    def _input(self, k: _Keys, key: str, value: str, index: int | None) -> None:
        section = self.kinds.get(value)
        if section in ("feeds", "transformers"):
            return
        if section is None:
            known = [n for n, s in self.kinds.items() if s in ("feeds", "transformers")]
            raise k.error(key, f"{value!r} names no feed or transformer (there are: {', '.join(known)})", index)
        what = {"aggregators": "an aggregator", "services": "a service"}[section]
        raise k.error(key, f"{value!r} is {what}, not a feed or transformer: inputs carry book updates", index)

    def _no_cycles(self, transformers: Mapping[str, TransformerNode]) -> None:
        for start in transformers:
            path = [start]
            node = transformers[start].input
            while node in transformers:
                if node in path:
                    cycle = [*path[path.index(node):], node]
                    first = cycle[0]
                    raise self.src.error(("transformers", first), "input",
                                         f"cycle: {' -> '.join(reversed(cycle))} (a transformer reads itself)")
                path.append(node)
                node = transformers[node].input

    def _sources(self, name: str, transformers: Mapping[str, TransformerNode]) -> str:
        while name in transformers:
            name = transformers[name].input
        return name

    # -- aggregators ----------------------------------------------------------------------------------------
    def _aggregator(self, name: str, data: dict[str, Any], feeds: Mapping[str, FeedNode],
                    transformers: Mapping[str, TransformerNode]) -> AggregatorNode:
        k = _Keys(self.src, ("aggregators", name), data)
        k.only(("kind", "inputs", "instruments", "depth", "staleness_s", "staleness"))
        kind = k.get("kind", "str", required=True)
        if kind not in AGGREGATOR_KINDS:
            raise k.error("kind", f"unknown kind {kind!r}; one of {', '.join(AGGREGATOR_KINDS)}")
        inputs = k.names("inputs", required=True)
        if not inputs:
            raise k.error("inputs", "is empty; name the feeds or transformers it consumes")
        for i, value in enumerate(inputs):
            self._input(k, "inputs", value, i)
            if value in inputs[:i]:
                raise k.error("inputs", f"{value!r} is listed twice", i)
        carried: dict[str, list[tuple[str, str]]] = {}  # instrument -> [(venue, input)]
        for value in inputs:
            feed = feeds[self._sources(value, transformers)]
            for inst in feed.instruments:
                carried.setdefault(inst, []).append((feed.venue, value))
        wanted = k.names("instruments")
        instruments: list[str] = []
        if wanted:
            for i, text in enumerate(wanted):
                try:
                    inst = parse_instrument(text).name
                except ConfigError as exc:
                    raise k.error("instruments", str(exc), i) from None
                if inst not in carried:
                    raise k.error("instruments", f"no input carries {inst} (they carry {', '.join(carried)})", i)
                if inst in instruments:
                    raise k.error("instruments", f"{inst} is listed twice", i)
                instruments.append(inst)
        else:
            instruments = list(carried)
        venues: dict[str, tuple[str, ...]] = {}
        for inst in instruments:
            seen: dict[str, str] = {}
            for venue, value in carried[inst]:
                if venue in seen:
                    raise k.error("inputs", f"venue {venue} reaches it twice for {inst} (through {seen[venue]!r} "
                                            f"and {value!r}); one aggregator takes each venue once")
                seen[venue] = value
            venues[inst] = tuple(seen)
        depth = k.get("depth", "int", default=10)
        if depth < 1:
            raise k.error("depth", f"must be >= 1, got {depth}")
        staleness_s = k.get("staleness_s", "float", default=10.0)
        if not staleness_s > 0:
            raise k.error("staleness_s", "must be > 0")
        staleness: dict[str, float] = {}
        all_venues = {v for vs in venues.values() for v in vs}
        for venue, limit in k.get("staleness", "table", default={}).items():
            if venue not in all_venues:
                raise k.error("staleness", f"{venue!r} is not one of its venues ({', '.join(sorted(all_venues))})")
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
                raise k.error("staleness", f"{venue}: must be a number of seconds > 0, got {_describe(limit)}")
            staleness[venue] = float(limit)
        return AggregatorNode(name=name, kind=kind, inputs=inputs, instruments=tuple(instruments),
                              venues=MappingProxyType(venues), depth=depth, staleness_s=staleness_s,
                              staleness=MappingProxyType(staleness))

    # -- services -------------------------------------------------------------------------------------------
    def _service(self, name: str, data: dict[str, Any], aggregators: Mapping[str, AggregatorNode]) -> ServiceNode:
        k = _Keys(self.src, ("services", name), data)
        kind_name = k.get("kind", "str", required=True)
        kind = SERVICE_KINDS.get(kind_name)
        if kind is None:
            raise k.error("kind", f"unknown kind {kind_name!r}; one of {', '.join(SERVICE_KINDS)}")
        k.only(("kind", *kind.keys))
        options: dict[str, Any] = {}
        for key, spec in kind.keys.items():
            value = k.get(key, spec.type, required=False, default=spec.default)
            if spec.required and key not in data:
                raise k.error(None, f"missing key {key!r} ({spec.help or spec.type})")
            if value is not None:
                options[key] = value
            if key in data and spec.ref in ("bbo", "liquidity"):
                agg = aggregators.get(value)
                if agg is None:
                    raise k.error(key, f"{value!r} names no aggregator (there are: {', '.join(aggregators)})")
                if spec.ref == "bbo" and agg.kind != "bbo":
                    raise k.error(key, f"{value!r} is a {agg.kind} aggregator; {key} needs a bbo aggregator")
        if kind.one_of and not any(key in data for key in kind.one_of):
            raise k.error(None, f"a {kind_name} service needs {' or '.join(repr(x) for x in kind.one_of)}")
        if "port" in options and not 0 <= options["port"] <= 65535:
            raise k.error("port", f"must be within 0..65535, got {options['port']}")
        if kind.check is not None:
            kind.check(options, aggregators, k.error)
        return ServiceNode(name=name, kind=kind_name, options=MappingProxyType(options),
                           line=self.src.line_of(("services", name), None))

    def _service_refs(self, services: Mapping[str, ServiceNode]) -> None:
        named: set[str] = set()
        for node in services.values():
            for key, spec in SERVICE_KINDS[node.kind].keys.items():
                if spec.ref.startswith("service:") and key in node.options:
                    want = spec.ref.partition(":")[2]
                    target = services.get(node.options[key])
                    if target is None or target.kind != want:
                        what = "names no service" if target is None else f"is a {target.kind} service"
                        raise self.src.error(("services", node.name), key,
                                             f"{node.options[key]!r} {what}; {key} must name a service of kind {want}")
                    named.add(target.name)
        for node in services.values():
            if node.kind == "execution" and node.name not in named:
                raise self.src.error(("services", node.name), None,
                                     "takes no orders: no fix or grpc service names it in its 'execution' key")

    def _ports(self, services: Mapping[str, ServiceNode]) -> None:
        used: dict[int, str] = {}
        for node in services.values():
            port = node.port()
            if port:
                if port in used:
                    raise self.src.error(("services", node.name), "port",
                                         f"port {port} is also the port of services.{used[port]}")
                used[port] = node.name


# ------------------------------------------------------------------------------------------ running it
class _ByInstrument:
    """A sink that hands each update to the aggregator of its instrument (others are not its business)."""

    __slots__ = ("sinks",)

    def __init__(self, sinks: Mapping[str, Sink[BookUpdate]]) -> None:
        self.sinks = dict(sinks)

    def publish(self, item: BookUpdate) -> None:
        sink = self.sinks.get(item.instrument)
        if sink is not None:
            sink.publish(item)


class FileTopology(StartStop):
    """A topology file, built: aggregators and services exist now, feeds (and simulators) at :meth:`start`.

    Use it as the ``upstream`` of a :class:`~dragonfly.services.host.ServiceHost` whose ``services``
    are :attr:`services`: the servers listen first, then :meth:`start` connects to the venues.

    Attributes
    ----------
    file : TopologyFile
    aggregators : dict[str, AggregatorGroup]
    services : list of Service
        The servers, in dependency order (a service named by another comes first).
    servers : dict[str, Service]
        The same by the file's names.
    engines : dict[str, EngineNode]
        The ``execution`` services' engines by name: they have no server of their own; :meth:`start`
        gives them their routes to the simulators (with ``simulate``) and starts them before the
        feeds, :meth:`stop` stops them (working orders canceled) before the feeds and simulators.
    feeds : dict[str, Feed]
        Created by :meth:`start`.
    sim : SimulatedVenues or None
        With ``simulate``: the simulated venues (started by :meth:`start`).
    """

    def __init__(self, file: TopologyFile, *, simulate: bool = False, seed: int | None = None,
                 any_port: bool = False, live_orders: bool = False) -> None:
        self.file = file
        self.name = Path(file.path).name
        self.simulate = simulate
        self.live_orders = live_orders
        self.seed = seed
        self.sim: Any = None
        self.feeds: dict[str, Feed] = {}
        self._topology: Topology | None = None
        #: With ``[scaleout]``: where the feeds run (created by :meth:`start`), else None.
        self.scaleout: ScaleOut | None = None
        self.aggregators: dict[str, AggregatorGroup] = {}
        for node in file.aggregators.values():
            aggs = {
                inst: BboAggregator(AggregatorConfig(
                    instrument=inst, venues=node.venues[inst], depth=node.depth, staleness_s=node.staleness_s,
                    staleness={v: s for v, s in node.staleness.items() if v in node.venues[inst]},
                    views=node.kind == "bbo", liquidity=True,
                ))
                for inst in node.instruments
            }
            self.aggregators[node.name] = AggregatorGroup(node=node, aggregators=aggs)
        # sinks, from the aggregators back to the feeds: a node's sink is a Tee over its consumers
        self._queues: dict[str, KeyedQueue[tuple[str, str], BookUpdate]] = {}
        self.transformers: list[Transformer[BookUpdate, BookUpdate]] = []
        sinks: dict[str, Sink[BookUpdate]] = {}

        def sink_of(name: str) -> Sink[BookUpdate]:
            if name in sinks:
                return sinks[name]
            targets: list[Sink[BookUpdate]] = []
            for consumer in file.consumers[name]:
                if consumer in self.aggregators:
                    group = self.aggregators[consumer]
                    targets.append(_ByInstrument({i: a.input for i, a in group.aggregators.items()}))
                else:
                    targets.append(self._queue(consumer))
            sinks[name] = targets[0] if len(targets) == 1 else Tee(*targets)
            return sinks[name]

        for t in file.transformers.values():
            queue = self._queue(t.name)
            self.transformers.append(Transformer(queue, t.fn, sink_of(t.name), name=t.name))
        self._feed_sinks = {name: sink_of(name) for name in file.feeds}
        self.engines: dict[str, EngineNode] = {}
        self.servers: dict[str, Service] = {}
        self._engines_started: list[EngineNode] = []
        self.services = self._build_services(any_port)

    def _queue(self, name: str) -> KeyedQueue[tuple[str, str], BookUpdate]:
        if name not in self._queues:
            self._queues[name] = KeyedQueue(lambda u: (u.venue, u.instrument), max_keys=1024,
                                            name=f"transformer:{name}")
        return self._queues[name]

    def _build_services(self, any_port: bool) -> list[Service]:
        ctx = BuildContext(topology=self, services={}, any_port=any_port, simulate=self.simulate,
                           live_orders=self.live_orders, engines=self.engines)
        nodes = dict(self.file.services)
        order: list[ServiceNode] = []
        while nodes:  # services named by others first (the file's checks rule out unknown names)
            for name, node in list(nodes.items()):
                deps = [node.options[k] for k, s in SERVICE_KINDS[node.kind].keys.items()
                        if s.ref.startswith("service:") and k in node.options]
                if all(d not in nodes for d in deps):
                    order.append(node)
                    del nodes[name]
        for node in order:
            kind = SERVICE_KINDS[node.kind]
            if kind.build is None:
                raise TopologyFileError(kind.unavailable, path=self.file.path, key=f"services.{node.name}.kind",
                                        line=node.line)
        for node in order:
            builder = SERVICE_KINDS[node.kind].build
            assert builder is not None
            server = builder(node, ctx)
            if server is not None:
                ctx.services[node.name] = server
        self.servers = dict(ctx.services)
        return list(ctx.services.values())

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._topology is not None:
            return
        urls: dict[str, str] = {}
        if self.simulate:
            from .sim import SimulatedVenues

            venues = tuple(dict.fromkeys(f.venue for f in self.file.feeds.values()))
            instruments = tuple(dict.fromkeys(i for f in self.file.feeds.values() for i in f.instruments))
            self.sim = (SimulatedVenues(venues=venues, instruments=instruments) if self.seed is None
                        else SimulatedVenues(venues=venues, instruments=instruments, seed=self.seed))
            await self.sim.start()
            urls = dict(self.sim.base_urls)
        try:
            for e in self.engines.values():
                if e.simulated:  # the simulators' order entries listen now
                    e.routing.attach(e.engine, e.venues, self.sim.order_urls)
                self._engines_started.append(e)
                await e.engine.start()
        except BaseException:
            await self.stop()
            raise
        if self.file.scaleout is not None:  # the feeds run in worker processes
            await _start_scaled_out(self, self.file.scaleout, urls)
            return
        for name, node in self.file.feeds.items():
            spec = node.spec.with_base_url(urls[node.venue]) if self.simulate else node.spec
            self.feeds[name] = spec.create(self._feed_sinks[name])
        aggregators = [a for g in self.aggregators.values() for a in g.aggregators.values()]
        self._topology = Topology(feeds=list(self.feeds.values()), aggregators=aggregators,
                                  transformers=self.transformers)
        try:
            await self._topology.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        engines, self._engines_started = self._engines_started, []
        for e in engines:  # working orders end (final reports), order clients close, while the venues are up
            await e.engine.stop()
        scaleout, self.scaleout = self.scaleout, None
        if scaleout is not None:
            await scaleout.stop()
        topo, self._topology = self._topology, None
        if topo is not None:
            await topo.stop()
            for q in self._queues.values():
                q.close()
        else:
            for g in self.aggregators.values():
                for a in g.aggregators.values():
                    await a.stop()
        if self.sim is not None:
            sim, self.sim = self.sim, None
            await sim.stop()

    def connections(self) -> dict[str, int]:
        """Feed name -> connections its client made so far."""
        return {name: feed.stats.client.connects for name, feed in self.feeds.items()}


# ------------------------------------------------------------------------------------------ scale-out
#: The top-level table that runs the feeds in worker processes (``[scaleout]``).
SCALEOUT = "scaleout"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleOutNode:
    """``[scaleout]``: the file's feeds in worker processes, joined to its aggregators by a bus.

    The table (every key optional; an empty table is a local bus without workers, which is an error)::

        [scaleout]
        workers = 2               #   worker processes started and supervised here (0: workers run elsewhere)
        bus = "local"             #   "local" (Unix sockets, one host), "local:///dir" or "nats://host:port[,...]"
        rates = { binance = 10.0 }  # expected messages/s per instrument of a venue, to balance the workers
        views = "world"           #   nats: the bbo aggregator whose views go on dragonfly.view.<instrument>
                                  #   (default: the first bbo aggregator)

    The feeds' (venue, instrument) pairs are spread over the workers by expected rate (one connection per
    venue per worker); the updates come back over the bus and reach the sinks the feeds would have fed in
    this process (their transformers and aggregators), so the world view is the same. Feeds that a worker
    cannot run as written are refused by the check, naming the feed: two feeds carrying one (venue,
    instrument) (the bus knows a book by venue and instrument only), feeds of different ``depth`` or
    ``keepalive_s`` (the workers publish one of each), and two feeds of one venue with different
    ``base_url``.

    Attributes
    ----------
    workers : int
    bus : str
    rates : Mapping[str, float]
        Venue -> expected messages/s per instrument (empty: :func:`~dragonfly.topology.expected_rates`).
    views : str or None
        The bbo aggregator whose views a nats bus carries (None: none).
    depth : int
        The feeds' depth (one for all).
    keepalive_s : float
        The feeds' keepalive (one for all).
    routes : Mapping[tuple[str, str], str]
        ``(venue, instrument)`` -> the feed that carries it, in file order.
    """

    workers: int
    bus: str
    rates: Mapping[str, float]
    views: str | None
    depth: int
    keepalive_s: float
    routes: Mapping[tuple[str, str], str]

    def describe(self) -> str:
        """One line for the graph (a bus URL's credentials redacted)."""
        from .bus import redact_url

        where = (f"{self.workers} worker process{'es' if self.workers != 1 else ''}" if self.workers
                 else "workers started elsewhere (dragonfly worker --bus ...)")
        rates = ", ".join(f"{v} {r:g}/s" for v, r in self.rates.items()) or "expected by venue"
        views = f"; views of {self.views} on dragonfly.view.<instrument>" if self.views else ""
        return (f"scaleout [{where}, bus {redact_url(self.bus)}; {len(self.routes)} books (venue x instrument) "
                f"from {len(set(self.routes.values()))} feeds, depth {self.depth}; rates {rates}{views}]")


def _bus_problem(url: str) -> str:
    """What is wrong with a bus URL ("" when nothing); never repeats credentials."""
    import importlib.util

    from .bus import redact_url
    from .clients.base import url_with_host

    if url == "local":
        return ""
    if url.startswith("local:"):
        return "" if url.startswith("local:///") else "a local bus in a given directory is local:///absolute/directory"
    if url.startswith(("nats://", "tls://")):
        servers = [u.strip() for u in url.split(",")]
        if not all(servers) or not all(url_with_host(u, ("nats", "tls")) for u in servers):
            return f"bad NATS URL {redact_url(url)!r}: expected nats://host:port[,nats://host:port...]"
        if importlib.util.find_spec("nats") is None:
            return "the nats bus needs nats-py: pip install 'dragonflybot[nats]'"
        return ""
    return f"unknown bus {redact_url(url)!r}: expected local, local:///dir or nats://host:port"


def _check_scaleout_table(src: _Source, doc: Mapping[str, Any], feeds: Mapping[str, FeedNode],
                          aggregators: Mapping[str, AggregatorNode]) -> ScaleOutNode | None:
    """The ``[scaleout]`` table checked, and the feeds checked for running in workers (None: no table)."""
    from .bus.base import book_subject
    from .errors import BusError

    if SCALEOUT not in doc:
        return None
    data = _Keys(src, (), doc).get(SCALEOUT, "table")
    k = _Keys(src, (SCALEOUT,), data)
    k.only(("workers", "bus", "rates", "views"))
    workers = k.get("workers", "int", default=0)
    if workers < 0:
        raise k.error("workers", f"must be >= 0, got {workers}")
    bus = k.get("bus", "str", default="local").strip()
    problem = _bus_problem(bus)
    if problem:
        raise k.error("bus", problem)
    if bus.startswith("local") and workers == 0:
        raise k.error("workers" if "workers" in data else None,
                      "the local bus joins worker processes started here: it needs workers > 0 (a nats:// bus "
                      "with workers = 0 takes the books of workers started elsewhere)")
    venues = list(dict.fromkeys(f.venue for f in feeds.values()))
    rates: dict[str, float] = {}
    for venue, rate in k.get("rates", "table", default={}).items():
        name = venue.lower()
        if name not in venues:
            raise k.error("rates", f"{venue!r} is not a venue of the feeds ({', '.join(venues)})")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < float("inf"):
            raise k.error("rates", f"{venue}: must be messages/s > 0, got {_describe(rate)}")
        rates[name] = float(rate)
    views = k.get("views", "str")
    if views is not None:
        if not bus.startswith(("nats://", "tls://")):
            raise k.error("views", "only a nats:// bus carries views (dragonfly.view.<instrument>)")
        agg = aggregators.get(views)
        if agg is None:
            raise k.error("views", f"{views!r} names no aggregator (there are: {', '.join(aggregators)})")
        if agg.kind != "bbo":
            raise k.error("views", f"{views!r} is a {agg.kind} aggregator; views needs a bbo aggregator")
    elif bus.startswith(("nats://", "tls://")):
        views = next((a.name for a in aggregators.values() if a.kind == "bbo"), None)
    # what a worker cannot run as written: refused, naming the feed
    routes: dict[tuple[str, str], str] = {}
    first = next(iter(feeds.values()))
    base_urls: dict[str, FeedNode] = {}
    for f in feeds.values():
        for i, inst in enumerate(f.instruments):
            if (f.venue, inst) in routes:
                raise src.error(("feeds", f.name), "instruments",
                                f"{f.venue} {inst} is also carried by feeds.{routes[(f.venue, inst)]}: with "
                                "[scaleout] a book on the bus is one venue and instrument, so one feed carries it",
                                i)
            try:
                book_subject(f.venue, inst)
            except BusError as exc:
                raise src.error(("feeds", f.name), "instruments", f"with [scaleout]: {exc}", i) from None
            routes[(f.venue, inst)] = f.name
        if f.spec.depth != first.spec.depth:
            raise src.error(("feeds", f.name), "depth",
                            f"{f.spec.depth} differs from feeds.{first.name}'s {first.spec.depth}: with [scaleout] "
                            "the workers publish one depth, so every feed needs the same")
        if f.spec.keepalive_s != first.spec.keepalive_s:
            raise src.error(("feeds", f.name), "keepalive_s",
                            f"{f.spec.keepalive_s:g} differs from feeds.{first.name}'s {first.spec.keepalive_s:g}: "
                            "with [scaleout] the workers keep one keepalive, so every feed needs the same")
        other = base_urls.setdefault(f.venue, f)
        if other.spec.base_url != f.spec.base_url:
            raise src.error(("feeds", f.name), "base_url",
                            f"differs from feeds.{other.name}'s (also {f.venue}): with [scaleout] a venue has one "
                            "base URL in the workers")
    return ScaleOutNode(workers=workers, bus=bus, rates=MappingProxyType(rates), views=views,
                        depth=first.spec.depth, keepalive_s=first.spec.keepalive_s,
                        routes=MappingProxyType(routes))


class _ByVenue:
    """The scale-out's sink for one instrument: each venue's updates to the sink of the file's feed that
    carries it (the feed's transformers and aggregators); a venue no feed carries is counted and dropped."""

    __slots__ = ("sinks", "unroutable")

    def __init__(self, sinks: Mapping[str, Sink[BookUpdate]]) -> None:
        self.sinks = dict(sinks)
        self.unroutable = 0

    def publish(self, item: BookUpdate) -> None:
        sink = self.sinks.get(item.venue)
        if sink is None:
            self.unroutable += 1
            return
        sink.publish(item)


async def _start_scaled_out(runtime: FileTopology, node: ScaleOutNode, urls: Mapping[str, str]) -> None:
    """:meth:`FileTopology.start` with ``[scaleout]``: aggregators and transformers here, the feeds in workers
    (one :class:`~dragonfly.topology.ScaleOut`), their updates routed to the feeds' sinks."""
    file = runtime.file
    keys = list(node.routes)
    instruments = tuple(dict.fromkeys(i for _, i in keys))
    if runtime.simulate:
        base_urls = dict(urls)
    else:
        base_urls = {f.venue: f.spec.base_url for f in file.feeds.values() if f.spec.base_url is not None}
    scaleout = ScaleOut(
        instruments=instruments, venues=tuple(dict.fromkeys(v for v, _ in keys)), depth=node.depth,
        workers=node.workers, bus=node.bus, base_urls=base_urls, keepalive_s=node.keepalive_s,
        rates=dict(node.rates) or None, keys=keys,
    )
    views = runtime.aggregators[node.views].aggregators if node.views else {}
    for inst in instruments:
        routes = {v: runtime._feed_sinks[name] for (v, i), name in node.routes.items() if i == inst}
        agg = views.get(inst)
        scaleout.attach(inst, _ByVenue(routes), agg.views if agg is not None else None)
    aggregators = [a for g in runtime.aggregators.values() for a in g.aggregators.values()]
    runtime._topology = Topology(aggregators=aggregators, transformers=runtime.transformers)
    runtime.scaleout = scaleout
    try:
        await runtime._topology.start()
        await scaleout.start()
    except BaseException:
        await runtime.stop()
        raise
