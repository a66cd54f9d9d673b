"""Command-line entry points.

Console scripts (see ``pyproject.toml``):

``dragonfly demo``
    Simulated venues, the pipeline, the gRPC server and a client, in one process.
``dragonfly-grpc-server`` (= ``dragonfly grpc-server`` = ``dragonflybot-grpc-server``)
    Serve a consolidated book over gRPC, from the real venues or ``--simulate``\\ d ones.
``dragonfly-grpc-client`` (= ``dragonfly grpc-client`` = ``dragonflybot-grpc-client``)
    Live terminal view of a server's book (plain lines when not on a terminal).
``dragonfly-fix-server`` (= ``dragonfly fix-server``)
    Serve a consolidated book over FIX 4.4.

Both servers take orders too with ``--execution`` (the execution engine over the summed liquidity:
gRPC ``dragonfly.v1.Execution``, FIX 35=D/35=F on the market-data sessions); simulated venues take
them, real venues only with ``--live-orders`` and their credentials (``--credentials VENUE=SOURCE``).
``dragonfly check FILE``
    Validate a topology file (:mod:`dragonfly.topology_file`) and print its graph.
``dragonfly run FILE [--simulate] [--live-orders]``
    Run a topology file: its services, aggregators, transformers and feeds.
``dragonfly worker``
    Run feeds (layers 1-3) and publish their books on a bus (``--bus nats://...``), for a
    ``dragonfly-grpc-server --bus nats://...`` elsewhere; also what ``--workers N`` starts.

The servers run in a :class:`~dragonfly.services.host.ServiceHost` over
pipelines built here: every server listens before any venue is contacted.

Every command returns 0 on a clean stop (SIGINT/SIGTERM included); a bad
argument or an unusable address prints one ``prog: error: ...`` line on stderr
and returns 2; a failure at run time (server unreachable, refused call)
returns 1. No traceback for either.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from ._env import env_flag
from .errors import ConfigError, DragonflyError, TopologyFileError

if TYPE_CHECKING:
    from .services.execution import ExecutionEngine
    from .services.fix_server import FixServerConfig
    from .services.grpc import GrpcServerConfig
    from .services.host import ServiceHost
    from .services.metrics import MetricsConfig
    from .topology import Pipeline

__all__ = (
    "check_main",
    "demo_main",
    "dragonflybot_grpc_client_main",
    "dragonflybot_grpc_server_main",
    "fix_server_main",
    "grpc_client_main",
    "grpc_server_main",
    "main",
    "run_main",
    "worker_main",
)



def _default_venues() -> str:
    """The registry's default venues, comma-separated (what ``--venues`` means when absent)."""
    from .venues import default_venues

    return ",".join(default_venues())
DEFAULT_PORT = 50051

log = logging.getLogger("dragonfly.cli")


class UsageError(ConfigError):
    """A bad command-line argument (exit status 2)."""


class RunError(DragonflyError):
    """A failure at run time worth one line, not a traceback (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


# --------------------------------------------------------------------------- helpers
def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _venues(text: str) -> tuple[str, ...]:
    names = [v.lower() for v in _split(text)]
    if not names:
        raise UsageError(f"--venues is empty; expected e.g. {_default_venues()}")
    if len(set(names)) != len(names):
        raise UsageError(f"--venues lists a venue twice: {text}")
    from .venues import get_venue

    for name in names:
        get_venue(name)  # ConfigError: unknown venue ..., known: ...
    return tuple(names)


def _instruments(text: str) -> list[str]:
    from .venues import parse_instrument

    names = _split(text)
    if not names:
        raise UsageError("--instrument-name is empty; expected e.g. ethbtc")
    parsed = [parse_instrument(n) for n in names]  # ConfigError for a name that is not a pair
    seen = [p.name for p in parsed]
    if len(set(seen)) != len(seen):
        raise UsageError(f"--instrument-name lists an instrument twice: {text}")
    return names


def _depth(depth: int, venues: Sequence[str]) -> int:
    from .venues import get_venue

    if depth < 1:
        raise UsageError(f"--depth must be >= 1, got {depth}")
    for v in venues:
        most = get_venue(v).max_depth
        if depth > most:
            raise UsageError(f"--depth {depth} is more than {v} delivers ({most})")
    return depth


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}; expected 0..65535")
    return int(text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _read_token(path: str | None, env: str = "DRAGONFLY_GRPC_TOKEN") -> str | None:
    if path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read token file {path}: {exc.strerror or exc}") from None
        if not token:
            raise UsageError(f"token file {path} is empty")
        return token
    return os.environ.get(env) or None


def _read_tokens(path: str | None, env: str = "DRAGONFLY_GRPC_TOKEN") -> tuple[str, ...]:
    """The server's tokens: one per non-empty line of ``path`` (``#`` starts a comment line), else ``env``."""
    if not path:
        token = os.environ.get(env)
        return (token,) if token else ()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    tokens = tuple(line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))
    if not tokens:
        raise UsageError(f"token file {path} is empty")
    return tokens


def _optional_limit(text: str) -> int | None:
    if text.strip().lower() in ("0", "none", "off"):
        return None
    return _positive_int(text)


def _optional_seconds(text: str) -> float | None:
    if text.strip().lower() in ("0", "none", "off"):
        return None
    return _positive_float(text)


def _setup_logging(level: str) -> None:
    # gRPC core logs to stderr on its own (read when grpc is first imported, which
    # the commands do lazily): keep the commands' stderr to our one-line errors
    # unless debugging. An explicit GRPC_VERBOSITY wins.
    os.environ.setdefault("GRPC_VERBOSITY", "DEBUG" if level == "debug" else "NONE")
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="stderr log level"
    )


#: A command's body: ``command(args, prog=..., out=...)``, run in its own event loop by :func:`_main`.
Command = Callable[..., Coroutine[Any, Any, int]]


def _main(
    argv: Sequence[str] | None, prog: str, parser: Callable[[str], argparse.ArgumentParser], command: Command,
    out: TextIO,
) -> int:
    """A command's entry point: parse ``argv``, set up logging, run ``command`` in a fresh event loop, and
    turn expected failures into one line."""
    args = parser(prog).parse_args(argv)
    _setup_logging(args.log_level)
    try:
        return asyncio.run(command(args, prog=prog, out=out))
    except UsageError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2
    except (ConfigError, ValueError) as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 2
    except (RunError, DragonflyError, OSError) as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


def _install_stop(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set ``stop`` (the commands then shut down cleanly and exit 0)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)


# --------------------------------------------------------------------------- pipelines
async def _open_pipelines(
    stack: contextlib.AsyncExitStack,
    *,
    instruments: Sequence[str],
    venues: Sequence[str],
    depth: int,
    simulate: bool,
    seed: int | None,
    base_urls: dict[str, str] | None = None,
    workers: int = 0,
    bus: str | None = None,
    log_level: str = "warning",
    order_urls: dict[str, str] | None = None,
) -> list[Pipeline]:
    """One pipeline per instrument, not started (the host starts them once its servers listen).

    With ``simulate``, the simulated venues (one set for every instrument) start now, on
    127.0.0.1, and stop when ``stack`` closes; they see no connection before the pipelines start.
    Their order entries are added to ``order_urls`` (venue -> URL) when it is given.
    With ``workers`` or ``bus``, the feeds run in worker processes (one :class:`ScaleOut` that
    every pipeline shares) instead of one set per pipeline in this process.
    """
    from .topology import Pipeline, PipelineConfig, ScaleOut

    urls: dict[str, str] = dict(base_urls or {})
    if simulate:
        from .sim import SimulatedVenues

        kw: dict[str, Any] = {} if seed is None else {"seed": seed}
        sim = await stack.enter_async_context(
            SimulatedVenues(venues=tuple(venues), instruments=tuple(instruments), **kw)
        )
        urls = {**sim.base_urls, **urls}
        if order_urls is not None:
            order_urls.update(sim.order_urls)
    configs = [
        PipelineConfig(instrument=name, venues=tuple(venues), depth=depth, base_urls=urls) for name in instruments
    ]
    if not workers and bus is None:
        return [Pipeline(c) for c in configs]
    scaleout = ScaleOut(
        instruments=instruments, venues=venues, depth=depth, workers=workers, bus=bus, base_urls=urls,
        keepalive_s=configs[0].keepalive(), log_level=log_level,
    )
    return [Pipeline(c, scaleout=scaleout) for c in configs]


def _simulate(flag: bool) -> bool:
    try:
        return flag or env_flag("DRAGONFLY_SIMULATE")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# --------------------------------------------------------------------------- server
def _server_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description=(
            "Serve the consolidated order book over gRPC (orderbook.OrderbookAggregator and dragonfly.v1.Aggregator)."
        ),
    )
    p.add_argument(
        "--instrument-name", required=True, help="instrument(s), comma-separated, e.g. ethbtc or ETH-BTC,BTC-USDT"
    )
    p.add_argument("--venues", default=_default_venues(), help=f"comma-separated venues (default {_default_venues()})")
    p.add_argument(
        "--host",
        default=os.environ.get("DRAGONFLY_GRPC_HOST", "127.0.0.1"),
        help="interface to bind (default 127.0.0.1; 0.0.0.0 for all)",
    )
    p.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"TCP port, 0 = any free one (default {DEFAULT_PORT})"
    )
    p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    p.add_argument(
        "--simulate", action="store_true", help="use the built-in simulated venues (also DRAGONFLY_SIMULATE=1)"
    )
    p.add_argument("--seed", type=int, default=None, help="simulator seed")
    p.add_argument(
        "--token-file",
        help="require 'authorization: Bearer <token>': the tokens accepted, one per line (each caller its own, "
        "for --max-streams-per-token); or one token in DRAGONFLY_GRPC_TOKEN",
    )
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    p.add_argument("--tls-key", type=Path, help="PEM private key")
    p.add_argument("--grace", type=float, default=2.0, help="seconds calls get to finish on shutdown (default 2)")
    limits = p.add_argument_group("limits per client (a call over a limit gets RESOURCE_EXHAUSTED)")
    limits.add_argument("--max-streams", type=_positive_int, default=1024,
                        help="streaming calls served at once, in total (default 1024)")
    limits.add_argument("--max-streams-per-peer", type=_optional_limit, default=64, metavar="N",
                        help="streaming calls one client IP address may hold (default 64; 0 = no limit, e.g. behind "
                             "a proxy where every client has its address)")
    limits.add_argument("--max-streams-per-token", type=_optional_limit, default=None, metavar="N",
                        help="streaming calls the callers of one token may hold (default: no limit)")
    limits.add_argument("--stall-timeout", type=_optional_seconds, default=30.0, metavar="SECONDS",
                        help="end a stream whose client has not read for this long (default 30; 0 = never)")
    _add_scaleout(p)
    fix = p.add_argument_group("FIX 4.4 server beside gRPC (same pipelines, same process)")
    fix.add_argument("--fix-port", type=_port, default=None, help="also serve FIX on this TCP port (0 = any free one)")
    fix.add_argument("--fix-host", default=None, help="interface for FIX (default: --host)")
    fix.add_argument("--fix-customer", action="append", default=[], metavar="COMPID[:PASSWORD]",
                     help="allowed FIX customer, optionally with its password (repeatable; "
                          "also DRAGONFLY_FIX_CUSTOMERS=A:pw,B)")
    fix.add_argument("--fix-comp-id", default="DRAGONFLY", help="our FIX SenderCompID (default DRAGONFLY)")
    fix.add_argument("--fix-store-dir", help="keep FIX sequence numbers here (sessions resume after a restart)")
    _add_metrics(p)
    _add_execution(p, "dragonfly.v1.Execution on the gRPC port, and 35=D/35=F on the FIX sessions with --fix-port")
    _add_common(p)
    return p


def _add_metrics(p: argparse.ArgumentParser) -> None:
    """``--metrics-port`` / ``--metrics-host``: serve Prometheus metrics over HTTP (README, Metrics)."""
    g = p.add_argument_group("Prometheus metrics (plain HTTP, GET /metrics)")
    g.add_argument("--metrics-port", type=_port, default=None, metavar="PORT",
                   help="serve metrics on this TCP port (0 = any free one; default: no metrics; 9464 is customary)")
    g.add_argument("--metrics-host", default="127.0.0.1",
                   help="interface for the metrics endpoint (default 127.0.0.1; 0.0.0.0 for a Prometheus elsewhere)")


def _metrics_config(args: argparse.Namespace) -> MetricsConfig | None:
    """The metrics endpoint the options ask for, or None."""
    if getattr(args, "metrics_port", None) is None:
        return None
    from .services.metrics import MetricsConfig

    try:
        return MetricsConfig(host=args.metrics_host, port=args.metrics_port)
    except ConfigError as exc:
        raise UsageError(f"--metrics-host: {exc}") from None


def _metrics_line(prog: str, host: ServiceHost) -> str:
    server = host.metrics_server
    return "" if server is None else f"{prog}: Prometheus metrics at {server.url}\n"


def _add_execution(p: argparse.ArgumentParser, where: str) -> None:
    g = p.add_argument_group("order entry: the execution engine (\"liquidate big order\") over the summed liquidity")
    g.add_argument("--execution", action="store_true", help=f"also take orders: {where}")
    g.add_argument("--live-orders", action="store_true",
                   help="send orders to real venues (with their credentials); without it the engine only plans "
                        "against them. Simulated venues (--simulate) take orders either way")
    g.add_argument("--credentials", action="append", default=[], metavar="VENUE=SOURCE",
                   help="where VENUE's API key is, for --live-orders: env:PREFIX (PREFIX_API_KEY, "
                        "PREFIX_API_SECRET) or file:PATH (readable by its owner only); default: the variables "
                        "<VENUE>_API_KEY and <VENUE>_API_SECRET. Never the key itself (repeatable)")
    g.add_argument("--max-order-qty", type=_positive_float, default=None, metavar="QTY",
                   help="refuse orders above this quantity, base asset (default: no limit)")
    g.add_argument("--max-order-notional", type=_positive_float, default=None, metavar="AMOUNT",
                   help="refuse orders above this notional, quote currency (default: no limit)")


def _add_base_url(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", action="append", default=[], metavar="VENUE=URL",
                   help="connect to VENUE at URL instead of its production address (repeatable)")


def _add_scaleout(p: argparse.ArgumentParser) -> None:
    _add_base_url(p)
    g = p.add_argument_group("scale-out: feeds in worker processes, joined by a bus")
    g.add_argument("--workers", type=_workers, default=0,
                   help="run the feeds in N worker processes (default 0: in this process)")
    g.add_argument("--bus", default=None, metavar="URL",
                   help="local (the default with --workers: Unix sockets) or nats://host:port; with --workers 0, "
                        "take the books of workers started elsewhere (dragonfly worker --bus nats://...)")


def _workers(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of workers >= 0, got {text!r}")
    return int(text)


def _base_urls(items: Sequence[str], venues: Sequence[str]) -> dict[str, str]:
    from .venues import get_venue

    out: dict[str, str] = {}
    for item in items:
        venue, sep, url = item.partition("=")
        venue = venue.strip().lower()
        if not sep or not venue or not url:
            raise UsageError(f"bad --base-url {item!r}: expected VENUE=URL")
        if venue not in venues:
            raise UsageError(f"--base-url names {venue}, which is not among --venues {','.join(venues)}")
        get_venue(venue).check_base_url(url)
        out[venue] = url
    return out


def _fix_customers(items: Sequence[str], *, option: str) -> dict[str, str | None]:
    """``COMPID[:PASSWORD]`` items (each may list several, comma-separated) -> CompID -> password."""
    out: dict[str, str | None] = {}
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            comp, _, pw = part.partition(":")
            if not comp:
                raise UsageError(f"bad {option} {part!r}: expected COMPID[:PASSWORD]")
            out[comp] = pw or None
    return out


def _env_customers() -> list[str]:
    env = os.environ.get("DRAGONFLY_FIX_CUSTOMERS", "")
    return [env] if env else []


def _fix_config(args: argparse.Namespace, depth: int) -> FixServerConfig | None:
    """The FIX server's configuration from ``--fix-*`` (None when ``--fix-port`` is absent)."""
    from .services.fix_server import FixServerConfig

    given = list(args.fix_customer)
    extra = [name for name in ("fix_host", "fix_store_dir") if getattr(args, name) is not None]
    if args.fix_port is None:
        if given or extra or args.fix_comp_id != "DRAGONFLY":
            raise UsageError("--fix-customer/--fix-host/--fix-comp-id/--fix-store-dir need --fix-port")
        return None
    customers = _fix_customers(given + _env_customers(), option="--fix-customer")
    if not customers:
        raise UsageError("--fix-port needs at least one --fix-customer COMPID[:PASSWORD] (or DRAGONFLY_FIX_CUSTOMERS)")
    return FixServerConfig(
        host=args.fix_host or args.host,
        port=args.fix_port,
        comp_id=args.fix_comp_id,
        customers=customers,
        store_dir=args.fix_store_dir,
        max_depth=depth,
    )


async def _start_host(
    stack: contextlib.AsyncExitStack,
    pipelines: Sequence[Pipeline],
    *,
    grpc: GrpcServerConfig | None = None,
    fix: FixServerConfig | None = None,
    metrics: MetricsConfig | None = None,
    execution: ExecutionEngine | None = None,
) -> ServiceHost:
    """Bind the servers (with ``execution``: taking orders for it), then start the pipelines; everything
    stops when ``stack`` closes.

    A server that cannot listen raises :class:`~dragonfly.errors.BindError` (exit status 2)
    before any venue is contacted.
    """
    from .services.host import ServiceHost

    host = ServiceHost(pipelines, grpc=grpc, fix=fix, metrics=metrics, execution=execution)
    return await stack.enter_async_context(host)


async def _until_stopped(stop: asyncio.Event, *, prog: str, out: TextIO) -> None:
    await stop.wait()
    out.write(f"{prog}: shutting down\n")
    out.flush()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Feeds:
    """What a server command serves: ``--simulate``, ``--venues``, ``--instrument-name``, ``--depth``, ``--seed``."""

    simulate: bool
    venues: tuple[str, ...]
    instruments: list[str]
    depth: int
    seed: int | None
    base_urls: dict[str, str]
    workers: int = 0
    bus: str | None = None
    log_level: str = "warning"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> _Feeds:
        """Checked (UsageError), in this order: the simulate switch, venues, instruments, depth, base URLs,
        workers and bus."""
        simulate = _simulate(args.simulate)
        venues = _venues(args.venues)
        instruments = _instruments(args.instrument_name)
        depth = _depth(args.depth, venues)
        base_urls = _base_urls(getattr(args, "base_url", []), venues)
        workers = getattr(args, "workers", 0)
        bus = getattr(args, "bus", None)
        if bus is not None and bus.strip().startswith("local") and not workers:
            raise UsageError("--bus local joins the worker processes of --workers N; give --workers N > 0")
        return cls(simulate=simulate, venues=venues, instruments=instruments, depth=depth, seed=args.seed,
                   base_urls=base_urls, workers=workers, bus=bus, log_level=args.log_level)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Orders:
    """``--execution``, ``--live-orders``, ``--credentials``, ``--max-order-qty``, ``--max-order-notional``."""

    live_orders: bool
    credentials: dict[str, str]  # venue -> env:PREFIX | file:PATH (where, never the key)
    max_qty: float  # inf: no limit
    max_notional: float

    @classmethod
    def from_args(cls, args: argparse.Namespace, venues: Sequence[str]) -> _Orders | None:
        """None without ``--execution`` (UsageError: its options without it, a bad ``--credentials``)."""
        if not args.execution:
            given = [o for o, v in (("--live-orders", args.live_orders), ("--credentials", args.credentials),
                                    ("--max-order-qty", args.max_order_qty),
                                    ("--max-order-notional", args.max_order_notional)) if v]
            if given:
                raise UsageError(f"{', '.join(given)}: only with --execution")
            return None
        credentials: dict[str, str] = {}
        for item in args.credentials:
            venue, eq, source = item.partition("=")
            kind, colon, where = source.partition(":")
            if not eq or not colon or not where or kind not in ("env", "file"):
                raise UsageError(f"--credentials {venue.strip() or '?'}=...: expected VENUE=env:PREFIX or "
                                 "VENUE=file:PATH (where the key is, never the key itself)")
            if venue not in venues:
                raise UsageError(f"--credentials {venue}: not one of --venues ({', '.join(venues)})")
            credentials[venue] = source
        no_limit = float("inf")
        return cls(live_orders=args.live_orders, credentials=credentials,
                   max_qty=no_limit if args.max_order_qty is None else args.max_order_qty,
                   max_notional=no_limit if args.max_order_notional is None else args.max_order_notional)

    def engine(self, pipelines: Sequence[Pipeline], *, order_urls: Mapping[str, str]) -> ExecutionEngine:
        """The engine over the pipelines' summed liquidity; simulators' order entries in ``order_urls``.

        Raises
        ------
        CredentialsError
            ``live_orders`` and a real venue without credentials (the message names where they were looked
            for, never a value).
        """
        from .execution import build_engine, read_credentials
        from .services.execution import ExecutionConfig, RiskLimits

        creds = {v: read_credentials(src) for v, src in self.credentials.items()} if self.live_orders else {}
        config = ExecutionConfig(default_limits=RiskLimits(max_qty=self.max_qty, max_notional=self.max_notional))
        return build_engine(pipelines, live_orders=self.live_orders, credentials=creds, config=config,
                            order_urls=order_urls)

    @staticmethod
    def mode(engine: ExecutionEngine, live_orders: bool) -> str:
        """What the banner says of an engine."""
        venues = sorted({v for routes in engine.routes.values() for v, r in routes.items()
                         if type(r.client).__name__ != "_NoOrders"})
        if engine.config.live:
            return f"orders to {', '.join(venues)}"
        return "planning only (" + ("no venue takes orders" if live_orders else "no --live-orders") + ")"


def _check_tls_pair(args: argparse.Namespace) -> None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")


async def _host_until_stopped(
    feeds: _Feeds,
    *,
    prog: str,
    out: TextIO,
    banner: Callable[[ServiceHost, list[Pipeline]], str],
    grpc: GrpcServerConfig | None = None,
    fix: FixServerConfig | None = None,
    metrics: MetricsConfig | None = None,
    orders: _Orders | None = None,
) -> int:
    """Open the pipelines of ``feeds``, serve them with the servers configured (and ``orders``: the execution
    engine on them), write ``banner(host, pipelines)`` to ``out``, and run until SIGINT/SIGTERM; then shut
    everything down (exit status 0)."""
    stop = asyncio.Event()
    _install_stop(stop)
    async with contextlib.AsyncExitStack() as stack:
        order_urls: dict[str, str] = {}
        pipelines = await _open_pipelines(
            stack, instruments=feeds.instruments, venues=feeds.venues, depth=feeds.depth, simulate=feeds.simulate,
            seed=feeds.seed, base_urls=feeds.base_urls, workers=feeds.workers, bus=feeds.bus,
            log_level=feeds.log_level, order_urls=order_urls,
        )
        engine = None if orders is None else orders.engine(pipelines, order_urls=order_urls)
        host = await _start_host(stack, pipelines, grpc=grpc, fix=fix, metrics=metrics, execution=engine)
        text = banner(host, pipelines)
        if engine is not None and orders is not None:
            text += f"{prog}: execution: {_Orders.mode(engine, orders.live_orders)}\n"
        out.write(text + _metrics_line(prog, host))
        out.flush()
        await _until_stopped(stop, prog=prog, out=out)
    return 0


async def _serve(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .services.grpc import GrpcServerConfig

    feeds = _Feeds.from_args(args)
    _check_tls_pair(args)
    config = GrpcServerConfig(
        host=args.host,
        port=args.port,
        tokens=_read_tokens(args.token_file),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        grace_s=args.grace,
        max_subscribers=args.max_streams,
        max_streams_per_peer=args.max_streams_per_peer,
        max_streams_per_token=args.max_streams_per_token,
        stall_timeout_s=args.stall_timeout,
        health_follows_venues=True,
    )
    fix_config = _fix_config(args, feeds.depth)
    orders = _Orders.from_args(args, feeds.venues)

    def banner(host: ServiceHost, pipelines: list[Pipeline]) -> str:
        source = "simulated venues" if feeds.simulate else "venues"
        if feeds.workers or feeds.bus:
            from .bus import redact_url

            bus = redact_url(feeds.bus or "local")
            source += f" in {feeds.workers} worker processes over the {bus} bus" if feeds.workers else (
                f" published by workers on {bus}")
        served = ", ".join(p.config.instrument for p in pipelines)
        text = (
            f"{prog}: serving {served} from {source} {', '.join(feeds.venues)} on {host.addresses['gRPC']} "
            f"(tls={'on' if config.tls else 'off'}, token={'on' if config.all_tokens else 'off'})\n"
        )
        if fix_config is not None:
            text += (
                f"{prog}: FIX 4.4 at {host.addresses['FIX']} as {fix_config.comp_id} "
                f"for {', '.join(fix_config.customers)}\n"
            )
        return text

    return await _host_until_stopped(feeds, prog=prog, out=out, banner=banner, grpc=config, fix=fix_config,
                                     metrics=_metrics_config(args), orders=orders)


def grpc_server_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly-grpc-server") -> int:
    """``dragonfly-grpc-server``: serve the consolidated book over gRPC."""
    return _main(argv, prog, _server_parser, _serve, sys.stderr)


# --------------------------------------------------------------------------- client
def _client_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Live terminal view of a dragonfly gRPC server's consolidated book.")
    p.add_argument(
        "--address",
        default=os.environ.get("DRAGONFLY_GRPC_ADDRESS", f"127.0.0.1:{DEFAULT_PORT}"),
        help="server HOST:PORT (default 127.0.0.1:50051)",
    )
    _add_view_options(p)
    p.add_argument("--instrument", default="", help="instrument to stream (default: the server's first)")
    p.add_argument(
        "--legacy",
        action="store_true",
        help="use orderbook.OrderbookAggregator/BookSummary (the original API) instead of dragonfly.v1",
    )
    p.add_argument("--token-file", help="bearer token file (or DRAGONFLY_GRPC_TOKEN)")
    p.add_argument("--tls", action="store_true", help="connect with TLS (system roots unless --tls-ca)")
    p.add_argument("--tls-ca", type=Path, help="PEM CA certificate to trust (implies --tls)")
    p.add_argument(
        "--connect-timeout", type=_positive_float, default=5.0, help="seconds to wait for the server (default 5)"
    )
    _add_common(p)
    return p


def _add_view_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--depth", type=_positive_int, default=None, help="levels per side to request and show (default: server depth)"
    )
    p.add_argument("--venues", default="", help="only these venues, comma-separated (default: all)")
    p.add_argument(
        "--count",
        type=_positive_int,
        default=None,
        help="stop after this many books (views with no levels yet, while venues sync, are shown but not counted)",
    )
    p.add_argument("--duration", type=_positive_float, default=None, help="stop after this many seconds")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")


async def _view(
    client: Any,
    args: argparse.Namespace,
    *,
    out: TextIO,
    stop: asyncio.Event,
    instrument: str = "",
    footer: Sequence[str] = (),
) -> int:
    """Stream and draw until ``--count``/``--duration``, a stop signal, or the end of the stream."""
    import grpc

    from .services.grpc import BookRenderer, BookSnapshot
    from .services.grpc.client import RateMeter

    venues = [v.lower() for v in _split(args.venues)]
    legacy = getattr(args, "legacy", False)
    if legacy and (venues or args.depth is not None or instrument):
        raise UsageError("--legacy (BookSummary) takes no --instrument, --venues or --depth")
    live = not args.plain and out.isatty()
    renderer = BookRenderer(out, live=live, rows=args.depth or 10, footer=footer)
    meter = RateMeter()
    call = (
        client.book_summary()
        if legacy
        else client.stream_book(instrument=instrument, depth=args.depth or 0, venues=venues)
    )
    deadline = None if args.duration is None else time.monotonic() + args.duration

    async def pump() -> str:
        async for msg in call:
            snap = BookSnapshot.from_summary(msg) if legacy else BookSnapshot.from_update(msg)
            renderer.render(snap, meter.tick())
            if args.count is not None and renderer.books >= args.count:
                return "count"
        return "end"

    pump_task = asyncio.ensure_future(pump())
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, _ = await asyncio.wait({pump_task, stop_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if pump_task in done:
            reason = pump_task.result()  # AioRpcError propagates
            if reason == "end":
                sys.stderr.write(f"stream ended by the server after {renderer.updates} updates\n")
        return 0
    except grpc.aio.AioRpcError as exc:
        raise RunError(_rpc_error_text(exc, client.config.address)) from None
    finally:
        call.cancel()
        for t in (pump_task, stop_task):
            t.cancel()
        await asyncio.gather(pump_task, stop_task, return_exceptions=True)


def _rpc_error_text(exc: Any, address: str) -> str:
    code = exc.code()
    details = (exc.details() or "").splitlines()[0] if exc.details() else ""
    return f"{address}: {code.name}: {details}" if details else f"{address}: {code.name}"


async def _client(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .services.grpc import BookClient, GrpcClientConfig

    config = GrpcClientConfig(
        address=args.address, token=_read_token(args.token_file), tls=args.tls, tls_ca=args.tls_ca
    )  # ConfigError on a bad address
    stop = asyncio.Event()
    _install_stop(stop)
    async with BookClient(config) as client:
        try:
            await client.wait_ready(args.connect_timeout)
        except asyncio.TimeoutError:
            raise RunError(f"cannot reach a server at {args.address} within {args.connect_timeout:g}s") from None
        return await _view(client, args, out=out, stop=stop, instrument=args.instrument)


def grpc_client_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly-grpc-client") -> int:
    """``dragonfly-grpc-client``: live terminal view of a server's book."""
    return _main(argv, prog, _client_parser, _client, sys.stdout)


def dragonflybot_grpc_server_main(argv: Sequence[str] | None = None) -> int:
    """``dragonflybot-grpc-server``: ``dragonfly-grpc-server`` under the founding document's name."""
    return grpc_server_main(argv, prog="dragonflybot-grpc-server")


def dragonflybot_grpc_client_main(argv: Sequence[str] | None = None) -> int:
    """``dragonflybot-grpc-client``: ``dragonfly-grpc-client`` under the founding document's name."""
    return grpc_client_main(argv, prog="dragonflybot-grpc-client")


# --------------------------------------------------------------------------- demo
def _demo_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Simulated venues, the pipeline, the gRPC server and a client: a live book in one command.",
    )
    p.add_argument("--instrument-name", default="ethbtc", help="instrument (default ethbtc)")
    p.add_argument(
        "--sim-venues",
        dest="sim_venues",
        default=_default_venues(),
        help=f"simulated venues (default {_default_venues()})",
    )
    p.add_argument("--port", type=_port, default=0, help="gRPC port on 127.0.0.1 (default: any free port)")
    p.add_argument("--seed", type=int, default=None, help="simulator seed")
    _add_view_options(p)
    _add_metrics(p)
    _add_common(p)
    return p


async def _demo(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .services.grpc import BookClient, GrpcClientConfig, GrpcServerConfig

    venues = _venues(args.sim_venues)
    instruments = _instruments(args.instrument_name)
    if len(instruments) != 1:
        raise UsageError("the demo serves one instrument")
    depth = _depth(10, venues)
    if args.depth is not None and args.depth > depth:
        raise UsageError(f"--depth must be <= {depth}")
    metrics = _metrics_config(args)
    stop = asyncio.Event()
    _install_stop(stop)
    async with contextlib.AsyncExitStack() as stack:
        pipelines = await _open_pipelines(
            stack, instruments=instruments, venues=venues, depth=depth, simulate=True, seed=args.seed
        )
        grpc = GrpcServerConfig(host="127.0.0.1", port=args.port, grace_s=0.5, health_follows_venues=True)
        host = await _start_host(stack, pipelines, grpc=grpc, metrics=metrics)
        address = host.addresses["gRPC"]
        footer = (f" gRPC server on {address}; another view: dragonfly-grpc-client --address {address}",)
        sys.stderr.write(f"{prog}: simulated {', '.join(venues)} -> pipeline -> gRPC {address} -> this view\n"
                         + _metrics_line(prog, host))
        client = await stack.enter_async_context(BookClient(GrpcClientConfig(address=address)))
        await client.wait_ready(10.0)
        return await _view(client, args, out=out, stop=stop, footer=footer)
    return 0  # pragma: no cover


def demo_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly demo") -> int:
    """``dragonfly demo``: simulated venues + server + client; runs until Ctrl-C (or --count/--duration)."""
    return _main(argv, prog, _demo_parser, _demo, sys.stdout)


# --------------------------------------------------------------------------- FIX
def _fix_parser(prog: str) -> argparse.ArgumentParser:
    from .services.fix_server import DEFAULT_FIX_PORT

    p = _Parser(prog=prog, description="Serve the consolidated order book over FIX 4.4 (35=V -> 35=W/35=X).")
    p.add_argument("--instrument-name", required=True, help="instrument(s), comma-separated, e.g. ethbtc")
    p.add_argument("--venues", default=_default_venues(), help=f"comma-separated venues (default {_default_venues()})")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=DEFAULT_FIX_PORT, help=f"TCP port (default {DEFAULT_FIX_PORT})")
    p.add_argument("--depth", type=int, default=10, help="levels per side of the world view (default 10)")
    p.add_argument("--comp-id", default="DRAGONFLY", help="our SenderCompID (default DRAGONFLY)")
    p.add_argument("--customer", action="append", default=[], metavar="COMPID[:PASSWORD]",
                   help="allowed customer CompID, optionally with its password (repeatable; "
                        "also DRAGONFLY_FIX_CUSTOMERS=A:pw,B)")
    p.add_argument("--store-dir", help="keep sequence numbers here (sessions resume after a restart)")
    p.add_argument("--simulate", action="store_true", help="use the built-in simulated venues")
    p.add_argument("--seed", type=int, default=None, help="simulator seed")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    p.add_argument("--tls-key", type=Path, help="PEM private key")
    _add_metrics(p)
    _add_execution(p, "NewOrderSingle (35=D) and OrderCancelRequest (35=F) on the customers' sessions, answered "
                      "with ExecutionReports (35=8)")
    _add_common(p)
    return p


def _tls_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except OSError as exc:  # missing file, or not a PEM certificate/key (ssl.SSLError)
        raise RunError(f"cannot load the TLS certificate/key {cert}, {key}: {exc.strerror or exc}") from None
    return ctx


async def _fix_serve(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .services.fix_server import FixServerConfig

    feeds = _Feeds.from_args(args)
    customers = _fix_customers(list(args.customer) + _env_customers(), option="--customer")
    if not customers:
        raise UsageError("no customers configured: pass --customer COMPID[:PASSWORD] (or DRAGONFLY_FIX_CUSTOMERS)")
    _check_tls_pair(args)
    ctx = None if args.tls_cert is None else _tls_server_context(args.tls_cert, args.tls_key)
    config = FixServerConfig(host=args.host, port=args.port, comp_id=args.comp_id, customers=customers,
                             store_dir=args.store_dir, max_depth=feeds.depth, ssl=ctx)
    orders = _Orders.from_args(args, feeds.venues)

    def banner(host: ServiceHost, pipelines: list[Pipeline]) -> str:
        return (f"{prog}: serving {', '.join(p.config.instrument for p in pipelines)} over FIX on "
                f"{host.addresses['FIX']} as {config.comp_id} to {', '.join(customers)} "
                f"(tls={'on' if ctx else 'off'})\n")

    return await _host_until_stopped(feeds, prog=prog, out=out, banner=banner, fix=config, orders=orders,
                                     metrics=_metrics_config(args))


def fix_server_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly-fix-server") -> int:
    """``dragonfly-fix-server``: serve the consolidated book over FIX 4.4."""
    return _main(argv, prog, _fix_parser, _fix_serve, sys.stderr)


# --------------------------------------------------------------------------- topology files
def _check_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Validate a topology file and print its graph (exit 2 when it is wrong).")
    p.add_argument("file", help="topology file (TOML)")
    _add_common(p)
    return p


async def _check(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .topology_file import load_topology

    topo = load_topology(args.file)  # TopologyFileError (a ConfigError): one line, exit 2
    out.write(topo.graph())
    out.flush()
    return 0


def check_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly check") -> int:
    """``dragonfly check FILE``: validate a topology file and print its graph."""
    return _main(argv, prog, _check_parser, _check, sys.stdout)


def _run_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Run a topology file: feeds, transformers, aggregators and services.")
    p.add_argument("file", help="topology file (TOML)")
    p.add_argument("--simulate", action="store_true",
                   help="connect every feed to the built-in simulator of its venue (also DRAGONFLY_SIMULATE=1)")
    p.add_argument("--seed", type=int, default=None, help="simulator seed")
    p.add_argument("--any-port", action="store_true",
                   help="bind every service to a free port instead of the file's (the banner says which)")
    _add_metrics(p)
    p.add_argument("--live-orders", action="store_true",
                   help="let the file's execution services send orders to real venues (credentials from each "
                        "service's `credentials`, or <VENUE>_API_KEY/<VENUE>_API_SECRET); without it they only "
                        "plan. Simulated venues (--simulate) take orders either way")
    _add_common(p)
    return p


# --------------------------------------------------------------------------- worker
def _worker_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Run venue feeds (layers 1-3) and publish their books on a bus, for aggregators elsewhere.",
    )
    p.add_argument("--bus", default=None, metavar="URL", help="the bus to publish on: nats://host:port")
    p.add_argument("--instrument-name", default=None, help="instrument(s), comma-separated, e.g. ethbtc")
    p.add_argument("--venues", default=_default_venues(), help=f"comma-separated venues (default {_default_venues()})")
    p.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    p.add_argument("--simulate", action="store_true", help="start the built-in simulated venues and use them")
    p.add_argument("--seed", type=int, default=None, help="simulator seed")
    p.add_argument("--keepalive", type=_positive_float, default=2.5,
                   help="re-publish an unchanged book at most this often, seconds (default 2.5; keep it below the "
                        "aggregator's staleness limit)")
    p.add_argument("--worker-id", default=None, help="name on the bus (default: host name and process id)")
    _add_base_url(p)
    _add_metrics(p)
    # what a supervisor passes: the WorkerConfig as the first line of stdin (not in argv, which any user can
    # read: the bus URL may carry credentials), then stdin stays open and its end stops the worker
    g = p.add_argument_group("started by a supervisor (--workers N); not needed by hand")
    g.add_argument("--config-json", default=None, metavar="JSON",
                   help="the whole WorkerConfig as JSON, in place of the options above")
    g.add_argument("--config-stdin", action="store_true",
                   help="read the WorkerConfig as JSON from the first line of stdin (keeps the bus URL out of argv)")
    g.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes (the supervisor went away)")
    _add_common(p)
    return p


async def _run(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .services.host import ServiceHost
    from .topology_file import load_topology

    simulate = _simulate(args.simulate)
    topo = load_topology(args.file)
    if not topo.services:
        raise UsageError(f"{args.file}: services: nothing to serve; declare at least one [services.NAME]")
    try:
        runtime = topo.build(simulate=simulate, seed=args.seed, any_port=args.any_port,
                             live_orders=args.live_orders)
    except TopologyFileError:
        raise
    except ConfigError as exc:  # a service that cannot be built: say which file
        raise UsageError(f"{args.file}: {exc}") from None
    metrics = _metrics_config(args)
    stop = asyncio.Event()
    _install_stop(stop)
    async with ServiceHost(services=runtime.services, upstream=[runtime], metrics=metrics) as host:
        source = "simulated venues" if simulate else "venues"
        lines = [f"{prog}: running {args.file} ({len(topo.feeds)} feeds from {source}, "
                 f"{len(topo.aggregators)} aggregators)"]
        for name, service in runtime.servers.items():
            lines.append(f"{prog}: service {name} ({topo.services[name].kind}) on {service.address}")
        for name, node in runtime.engines.items():
            takers = ", ".join(t.name for t in topo.services.values() if t.options.get("execution") == name)
            mode = ("orders to the simulators" if simulate else "live orders" if node.engine.config.live
                    else "planning only (no venue of it takes orders)" if args.live_orders
                    else "planning only (no --live-orders)")
            lines.append(f"{prog}: service {name} (execution) through {takers}: {mode}")
        out.write("\n".join(lines) + "\n" + _metrics_line(prog, host))
        out.flush()
        await _until_stopped(stop, prog=prog, out=out)
        counts = runtime.connections()
    out.write("".join(f"{prog}: feed {name}: {n} connection{'s' if n != 1 else ''}\n" for name, n in counts.items()))
    out.flush()
    return 0


def run_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly run") -> int:
    """``dragonfly run FILE [--simulate]``: run a topology file until SIGINT/SIGTERM."""
    return _main(argv, prog, _run_parser, _run, sys.stderr)


class _EofProtocol(asyncio.Protocol):
    def __init__(self, event: asyncio.Event) -> None:
        self.event = event

    def eof_received(self) -> bool | None:
        self.event.set()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.event.set()


def _default_worker_id() -> str:
    import socket

    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname()) or "host"
    return f"{host}-{os.getpid()}"


async def _worker(args: argparse.Namespace, *, prog: str, out: TextIO) -> int:
    from .bus.worker import Worker, WorkerConfig

    stop = asyncio.Event()
    _install_stop(stop)
    async with contextlib.AsyncExitStack() as stack:
        if args.config_stdin:
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            config = WorkerConfig.from_json(line)
            args.watch_stdin = True
        elif args.config_json:
            config = WorkerConfig.from_json(args.config_json)
        else:
            if not args.bus:
                raise UsageError("--bus is required, e.g. --bus nats://127.0.0.1:4222")
            if not args.bus.strip().startswith(("nats://", "tls://")):
                raise UsageError(f"a worker started by hand publishes on a NATS bus; got --bus {args.bus}")
            if not args.instrument_name:
                raise UsageError("--instrument-name is required")
            args.workers = 0
            feeds = _Feeds.from_args(args)
            urls = dict(feeds.base_urls)
            if feeds.simulate:
                from .sim import SimulatedVenues

                kw: dict[str, Any] = {} if feeds.seed is None else {"seed": feeds.seed}
                sim = await stack.enter_async_context(
                    SimulatedVenues(venues=feeds.venues, instruments=tuple(feeds.instruments), **kw)
                )
                urls = {**sim.base_urls, **urls}
            from .venues import parse_instrument

            names = tuple(parse_instrument(i).name for i in feeds.instruments)
            config = WorkerConfig(
                worker_id=args.worker_id or _default_worker_id(), bus=args.bus,
                feeds=tuple((v, names) for v in feeds.venues), depth=feeds.depth, base_urls=urls,
                keepalive_s=args.keepalive,
            )
        if args.watch_stdin:
            await asyncio.get_running_loop().connect_read_pipe(lambda: _EofProtocol(stop), sys.stdin)
        metrics = _metrics_config(args)
        if metrics is not None:  # bound before the worker starts: a port in use contacts no venue
            from .services.metrics import MetricsServer

            metrics_server: MetricsServer | None = await stack.enter_async_context(MetricsServer([], metrics))
        else:
            metrics_server = None
        worker = await stack.enter_async_context(Worker(config))
        if metrics_server is not None:
            metrics_server.collector.add(worker)
        out.write(f"{prog}: worker {config.worker_id}: {len(config.keys)} feeds "
                  f"({', '.join(v for v, _ in config.feeds)}) on {worker.bus.display_url if worker.bus else '?'}\n")
        if metrics_server is not None:
            out.write(f"{prog}: Prometheus metrics at {metrics_server.url}\n")
        out.flush()
        await _until_stopped(stop, prog=prog, out=out)
    return 0


def worker_main(argv: Sequence[str] | None = None, *, prog: str = "dragonfly worker") -> int:
    """``dragonfly worker``: run feeds and publish their books on a bus."""
    return _main(argv, prog, _worker_parser, _worker, sys.stderr)


# --------------------------------------------------------------------------- dragonfly
_COMMANDS: dict[str, tuple[Callable[..., int], str]] = {
    "demo": (demo_main, "simulated venues + gRPC server + live client in one command"),
    "grpc-server": (grpc_server_main, "serve the consolidated book over gRPC"),
    "grpc-client": (grpc_client_main, "live terminal view of a gRPC server's book"),
    "fix-server": (fix_server_main, "serve the consolidated book over FIX"),
    "check": (check_main, "validate a topology file and print its graph"),
    "run": (run_main, "run a topology file (--simulate: against the built-in simulators)"),
    "worker": (worker_main, "run feeds and publish their books on a bus (nats://...)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """``dragonfly <command> [options]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        lines = ["usage: dragonfly <command> [options]", "", "commands:"]
        lines += [f"  {name:<12} {help_}" for name, (_, help_) in _COMMANDS.items()]
        lines += ["", "dragonfly <command> --help for its options; start with: dragonfly demo"]
        (sys.stdout if args else sys.stderr).write("\n".join(lines) + "\n")
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from . import __version__, core_implementation

        sys.stdout.write(f"dragonfly {__version__} (core: {core_implementation()})\n")
        return 0
    entry = _COMMANDS.get(args[0])
    if entry is None:
        sys.stderr.write(f"dragonfly: error: unknown command {args[0]!r}; choose from {', '.join(_COMMANDS)}\n")
        return 2
    return entry[0](args[1:], prog=f"dragonfly {args[0]}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
