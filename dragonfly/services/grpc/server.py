"""The gRPC service: ``orderbook.OrderbookAggregator`` and ``dragonfly.v1.Aggregator``.

One :class:`GrpcServer` serves one or more :class:`ServedBook`\\ s (one per
instrument, usually a pipeline's broadcasts: :meth:`GrpcServer.for_pipelines`).

Fan-out
-------
A *stream* is what a call asks for: ``(kind, instrument, depth, venues)``.
Every call holds a one-slot (conflating) subscription to the book's broadcast
and writes from its own handler: no task sits between the aggregator and the
write. The first call of a stream to take an update encodes it, **once** for
the stream (``orderbook.Summary`` and ``dragonfly.v1.BookUpdate`` by the core's
direct encoders, no protobuf objects); the other calls of that stream find the
same bytes and write them as they are: the methods are registered with an
identity response serializer, so gRPC sends the pre-encoded bytes. A
subscriber that does not keep up holds at most one pending update (the newest);
what it missed is counted in its ``skipped`` counter and shows as a jump in
``seq`` (dragonfly.v1). It never slows the producer or the other subscribers.

Only what changed is sent: an update identical for a stream's subscribers to
the last one it sent (same levels, spread, and venue statuses and reasons it
reports) is not encoded, not sent, and counted in :attr:`StreamStats.unchanged`;
``seq`` jumps over it. (A call that missed the last change because it was busy
still gets it: each call remembers which of its stream's encodings it sent.)
A venue-filtered stream (``venues=["bitstamp"]``) thus stays quiet while only
other venues move.

Limits
------
One caller cannot lock others out: besides ``max_subscribers`` in total, each
peer (client IP address) may hold ``max_streams_per_peer`` streaming calls and,
on a server with several tokens, each token ``max_streams_per_token``; a call
over a limit ends with RESOURCE_EXHAUSTED. A subscriber that stops reading
fills its connection's flow-control window; once a write has waited
``stall_timeout_s`` for it, the call is ended with RESOURCE_EXHAUSTED and its
slot freed. :attr:`GrpcServer.stats` counts all of it.

Health
------
The standard ``grpc.health.v1.Health`` service (``Check``, ``Watch``, ``List``).
With ``health_follows_venues`` (what the commands run), the overall status
``""``, each service and each ``"<service>/<INSTRUMENT>"`` key (for example
``dragonfly.v1.Aggregator/ETH-BTC``, the normalised instrument name) are
NOT_SERVING while no venue of (any / that) instrument is LIVE. Reflection
answers under ``grpc.reflection.v1`` and ``v1alpha``.

Order entry
-----------
Built with an execution engine (``execution=``), the same server also serves
``dragonfly.v1.Execution`` (Plan, Submit, Cancel, Kill:
:class:`~dragonfly.services.execution.grpc_service.ExecutionServicer`) on the same
port, behind the same token and TLS. The engine is not the server's to start or stop.

Shutdown
--------
:meth:`GrpcServer.stop` flips health to NOT_SERVING, refuses new calls
(UNAVAILABLE), cancels the working orders (with an engine: their ``Submit``
streams end with the final reports), ends every stream (calls finish with status
OK after what they hold), then stops the server with a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ..._lifecycle import StartStop
from ...errors import BindError, ConfigError, DragonflyError
from ...instruments import instrument_key
from ...model import VenueStatus, WorldView
from ...queues import Broadcast, Subscription
from . import protos
from .auth import BearerTokenInterceptor
from .encode import BookUpdateEncoder, SummaryEncoder, encode_liquidity_from_view, encode_liquidity_update
from .protos import book_pb2
from .reflection import enable_reflection

if TYPE_CHECKING:
    from ..base import HostedPipeline
    from ..execution.engine import ExecutionEngine
    from ..execution.grpc_service import ExecutionServicer

__all__ = (
    "BindError",
    "GrpcServer",
    "GrpcServerConfig",
    "GrpcServerStats",
    "ServedBook",
    "StreamStats",
    "SubscriberStats",
)

log = logging.getLogger(__name__)

_clock = time.monotonic


@dataclass(frozen=True, slots=True, kw_only=True)
class ServedBook:
    """What the server serves for one instrument: its consolidated views.

    Attributes
    ----------
    instrument : str
        Normalised name (``"ETH-BTC"``); calls may spell it ``"ethbtc"``.
    venues : tuple of str
        Venues feeding the views, in display order.
    depth : int
        Levels per side in the views (the most a call may ask for).
    views : Broadcast[WorldView]
        Consolidated books.
    liquidity : Broadcast or None
        Summed-liquidity views (``StreamLiquidity``); None when not available.
    """

    instrument: str
    venues: tuple[str, ...]
    depth: int
    views: Broadcast[WorldView]
    liquidity: Broadcast[Any] | None = None

    def __post_init__(self) -> None:
        if not self.instrument:
            raise ConfigError("ServedBook.instrument must not be empty")
        if not self.venues:
            raise ConfigError("ServedBook.venues must not be empty")
        if self.depth < 1:
            raise ConfigError(f"ServedBook.depth must be >= 1, got {self.depth}")

    @classmethod
    def from_pipeline(cls, pipeline: HostedPipeline) -> ServedBook:
        """The book of a pipeline (e.g. :class:`dragonfly.topology.Pipeline`): its views and liquidity."""
        cfg = pipeline.config
        return cls(
            instrument=_instrument_name(cfg.instrument),
            venues=tuple(cfg.venues),
            depth=cfg.depth,
            views=pipeline.views,
            liquidity=pipeline.liquidity,
        )


def _instrument_name(text: str) -> str:
    try:
        from ...instruments import parse_instrument
    except ImportError:  # pragma: no cover - venues package absent
        return text
    return parse_instrument(text).name


@dataclass(frozen=True, slots=True, kw_only=True)
class GrpcServerConfig:
    """How the server listens.

    Attributes
    ----------
    host : str
        Interface to bind (``"127.0.0.1"``; ``"0.0.0.0"`` or ``"[::]"`` for all).
    port : int
        TCP port; 0 picks a free one (see :attr:`GrpcServer.port`).
    token : str or None
        When set, every call except health checks must carry
        ``authorization: Bearer <token>``; others get UNAUTHENTICATED (also for
        a method the server does not have).
    tokens : tuple of str
        More accepted tokens (one per caller, say); each is its own identity for
        ``max_streams_per_token``.
    tls_cert, tls_key : Path or None
        PEM certificate chain and private key; both or neither. With them the
        port speaks TLS only.
    grace_s : float
        How long :meth:`GrpcServer.stop` lets calls finish before cancelling them.
    max_subscribers : int
        Streaming calls served at once; more are refused with RESOURCE_EXHAUSTED.
    max_streams_per_peer : int or None
        Streaming calls one peer (client IP address) may hold at once; more are
        refused with RESOURCE_EXHAUSTED. None: no per-peer limit. Behind a proxy
        or NAT every client has the proxy's address: raise it or set None there.
    max_streams_per_token : int or None
        Streaming calls the callers of one token may hold at once (servers with
        tokens only). None: no per-token limit.
    stall_timeout_s : float or None
        A streaming call whose client has not read for this long (its next
        message has waited that long for flow control) is ended with
        RESOURCE_EXHAUSTED, freeing its slot. None: never.
    reflection, health : bool
        Register server reflection and the standard health service.
    health_follows_venues : bool
        Health follows venue liveness: the overall status (``""``),
        ``orderbook.OrderbookAggregator`` and ``dragonfly.v1.Aggregator`` are
        NOT_SERVING while no instrument has a LIVE venue (before the first view
        too), and ``"<service>/<INSTRUMENT>"`` (e.g. ``dragonfly.v1.Aggregator/ETH-BTC``)
        while that instrument has none. Off: every service is SERVING from start
        to shutdown.
    """

    host: str = "127.0.0.1"
    port: int = 50051
    token: str | None = None
    tokens: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None
    grace_s: float = 2.0
    max_subscribers: int = 1024
    max_streams_per_peer: int | None = 64
    max_streams_per_token: int | None = None
    stall_timeout_s: float | None = 30.0
    reflection: bool = True
    health: bool = True
    health_follows_venues: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be an int in 0..65535, got {self.port!r}")
        if not self.host or any(c.isspace() for c in self.host):
            raise ConfigError(f"invalid host {self.host!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both a certificate and a key")
        if isinstance(self.tokens, str):
            raise ConfigError("tokens must be a tuple of strings, not one string")
        object.__setattr__(self, "tokens", tuple(self.tokens))
        for t in ([self.token] if self.token is not None else []) + list(self.tokens):
            if not isinstance(t, str) or not t or any(c.isspace() for c in t):
                raise ConfigError("a bearer token must be a non-empty string without whitespace")
        if len(set(self.all_tokens)) != len(self.all_tokens):
            raise ConfigError("the same bearer token is given twice")
        if self.grace_s < 0:
            raise ConfigError(f"grace_s must be >= 0, got {self.grace_s}")
        if self.max_subscribers < 1:
            raise ConfigError(f"max_subscribers must be >= 1, got {self.max_subscribers}")
        for name in ("max_streams_per_peer", "max_streams_per_token"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ConfigError(f"{name} must be an int >= 1 or None, got {v!r}")
        if self.stall_timeout_s is not None and not (
            isinstance(self.stall_timeout_s, (int, float)) and self.stall_timeout_s > 0
        ):
            raise ConfigError(f"stall_timeout_s must be > 0 or None, got {self.stall_timeout_s!r}")

    @property
    def all_tokens(self) -> tuple[str, ...]:
        """Every accepted token: ``token`` first, then ``tokens`` (empty: no authentication)."""
        return ((self.token,) if self.token else ()) + self.tokens

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def address(self) -> str:
        """``host:port`` as given to gRPC."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"


@dataclass(slots=True)
class SubscriberStats:
    """One streaming call, as the server sees it (see :meth:`GrpcServer.subscribers`).

    ``peer`` is gRPC's peer string (``ipv4:127.0.0.1:53124``), ``peer_host`` the part
    limits count by (``ipv4:127.0.0.1``); ``token`` the index of the caller's token
    in :attr:`GrpcServerConfig.all_tokens` (None without tokens); ``writing_since``
    the monotonic time since which its current message waits for the client (0.0
    when none does).
    """

    id: int
    method: str
    peer: str
    key: tuple[Any, ...]
    sub: Subscription[Any] = field(repr=False)
    sent: int = 0
    started_ns: int = 0
    peer_host: str = ""
    token: int | None = None
    writing_since: float = 0.0
    context: Any = field(default=None, repr=False)
    dropped: bool = False
    released: bool = False

    @property
    def pending(self) -> int:
        """Updates waiting in this subscriber's slot (never more than its capacity)."""
        return len(self.sub)

    @property
    def capacity(self) -> int:
        return self.sub.maxsize

    @property
    def skipped(self) -> int:
        """Updates conflated away because this subscriber did not keep up (unchanged ones included)."""
        return self.sub.skipped


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One encoded stream: how often it encoded, skipped unchanged updates, and how many calls share it."""

    key: tuple[Any, ...]
    encoded: int
    errors: int
    subscribers: int
    unchanged: int = 0


@dataclass(slots=True)
class GrpcServerStats:
    """Counters of one :class:`GrpcServer` since it was created (mutable; read them at any time).

    The limits themselves are in :attr:`GrpcServer.config`; what each peer and token holds
    now is :meth:`GrpcServer.streams_by_peer` / :meth:`GrpcServer.streams_by_token`.
    """

    streams_opened: int = 0  #: streaming calls accepted
    refused_max_subscribers: int = 0  #: refused: ``max_subscribers`` streams open in total
    refused_per_peer: int = 0  #: refused: the peer held ``max_streams_per_peer``
    refused_per_token: int = 0  #: refused: the token's callers held ``max_streams_per_token``
    refused_shutting_down: int = 0  #: refused: the server was stopping
    dropped_stalled: int = 0  #: ended because the client had not read for ``stall_timeout_s``
    unauthenticated: int = 0  #: calls refused for a missing or wrong token (also counted by the interceptor)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class _Stream:
    """One ``(kind, instrument, depth, venues)``: encode each update once, for every call on it.

    ``encode`` returns the bytes to send, or None for an update that is the same as the last one
    encoded for this stream (counted in ``unchanged``, not sent). :meth:`payload` is called by each
    call's handler with the update it took: the first one encodes, the others get the same bytes.
    """

    __slots__ = ("key", "source", "encode", "subs", "refs", "encoded", "errors", "unchanged", "_item", "_payload",
                 "_version")

    def __init__(
        self, key: tuple[Any, ...], source: Broadcast[Any], encode: Callable[[Any], bytes | None]
    ) -> None:
        self.key = key
        self.source = source
        self.encode = encode
        self.subs: dict[Subscription[Any], None] = {}
        self.refs = 0
        self.encoded = 0
        self.errors = 0
        self.unchanged = 0
        self._item: Any = _NOTHING  # the update examined last
        self._payload = b""  # the newest encoding
        self._version = 0  # how many encodings so far: a call compares it with the last it sent

    def subscribe(self) -> Subscription[Any]:
        """A one-slot subscription for a new call: the source's latest (if any) comes first."""
        sub = self.source.subscribe(maxsize=1)
        self.subs[sub] = None
        return sub

    def payload(self, item: Any) -> tuple[bytes, int]:
        """The stream's newest bytes after ``item`` and their version (0: nothing encoded yet).

        ``item`` is encoded unless it is the update examined last (another call's work); an update
        unchanged for this stream, or one that cannot be encoded, leaves the previous bytes.
        """
        if item is self._item:
            return self._payload, self._version
        self._item = item
        try:
            payload = self.encode(item)
        except Exception:  # bad data: count, log once, never serve it
            self.errors += 1
            if self.errors == 1:
                log.exception("gRPC stream %s: cannot encode an update; skipping it", self.key)
            return self._payload, self._version
        if payload is None:
            self.unchanged += 1
        else:
            self.encoded += 1
            self._payload = payload
            self._version += 1
        return self._payload, self._version

    def close(self) -> None:
        """End every call on this stream (after what they hold)."""
        subs = list(self.subs)
        self.subs.clear()
        for sub in subs:
            sub.close()


_NOTHING: Any = object()


def _identity(b: bytes) -> bytes:
    return b


class _HealthServicer(health.aio.HealthServicer):
    """The standard health service, with ``List`` (grpcio-health-checking's raises NotImplementedError).

    ``statuses`` mirrors every key set, for ``List`` and :meth:`GrpcServer.health_statuses`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, int] = {"": health_pb2.HealthCheckResponse.SERVING}
        self._down = False

    async def set(self, service: str, status: Any) -> None:
        if not self._down:
            self.statuses[service] = status
        await super().set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        self._down = True
        for name in self.statuses:
            self.statuses[name] = health_pb2.HealthCheckResponse.NOT_SERVING
        await super().enter_graceful_shutdown()

    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # the RPC is named List
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=st) for name, st in sorted(self.statuses.items())}
        )


class GrpcServer(StartStop):
    """Serve consolidated books over gRPC (``grpc.aio``).

    Parameters
    ----------
    books : sequence of ServedBook
        One per instrument; the first is what ``BookSummary`` (which takes no
        parameters) streams.
    config : GrpcServerConfig
        Where and how to listen.
    execution : ExecutionEngine or None
        Also serve ``dragonfly.v1.Execution`` over this engine (see the module notes).

    Attributes
    ----------
    execution : ExecutionServicer or None
        The mounted execution service.

    Examples
    --------
    >>> async with Pipeline(cfg) as pipe:                           # doctest: +SKIP
    ...     async with GrpcServer.for_pipelines([pipe], GrpcServerConfig(port=0)) as srv:
    ...         print(srv.port)
    ...         await srv.wait_closed()

    Beside other servers, over pipelines it starts itself: :class:`dragonfly.services.host.ServiceHost`.
    """

    #: How :class:`~dragonfly.services.host.ServiceHost` names this server in messages and addresses.
    name: ClassVar[str] = "gRPC"

    def __init__(self, books: Sequence[ServedBook], config: GrpcServerConfig | None = None, *,
                 execution: ExecutionEngine | None = None) -> None:
        books = tuple(books)
        if not books:
            raise ConfigError("GrpcServer needs at least one book")
        names = [instrument_key(b.instrument) for b in books]
        if len(set(names)) != len(names):
            raise ConfigError(f"duplicate instruments: {[b.instrument for b in books]}")
        self.books = books
        self.config = config or GrpcServerConfig()
        self._by_name = dict(zip(names, books, strict=True))
        self._streams: dict[tuple[Any, ...], _Stream] = {}
        self._subs: dict[int, SubscriberStats] = {}
        self._ids = itertools.count(1)
        self._server: grpc.aio.Server | None = None
        self._health: Any = None
        self._watchers: list[asyncio.Task[None]] = []
        self._live: dict[str, bool] = {}
        self._stats = GrpcServerStats()
        self._auth: BearerTokenInterceptor | None = None
        self._per_peer: dict[str, int] = {}
        self._per_token: dict[int, int] = {}
        self._logged_limits: set[str] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._drops: set[asyncio.Task[None]] = set()
        self._port = 0
        self._closing = False
        self._stopped = asyncio.Event()
        #: ``hook(instrument, ns)`` after each message written, ns since its view's publication (set by a
        #: :class:`~dragonfly.services.metrics.MetricsServer`; None: nothing measured).
        self.write_latency: Callable[[str, int], None] | None = None
        self.execution: ExecutionServicer | None = None
        if execution is not None:
            from ..execution.grpc_service import ExecutionServicer

            self.execution = ExecutionServicer(execution)

    @classmethod
    def for_pipelines(cls, pipelines: Sequence[HostedPipeline], config: GrpcServerConfig | None = None, *,
                      execution: ExecutionEngine | None = None) -> GrpcServer:
        """Serve the books of pipelines (running or about to run), one per instrument, and with ``execution``
        ``dragonfly.v1.Execution`` over that engine."""
        return cls([ServedBook.from_pipeline(p) for p in pipelines], config, execution=execution)

    # -- introspection --------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` a local client can dial."""
        host = self.config.host
        if host in ("0.0.0.0", "[::]", "::", ""):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self._port}"

    def subscribers(self) -> list[SubscriberStats]:
        """The streaming calls being served now."""
        return list(self._subs.values())

    def streams(self) -> list[StreamStats]:
        """The encoded streams alive now."""
        return [StreamStats(s.key, s.encoded, s.errors, s.refs, s.unchanged) for s in self._streams.values()]

    @property
    def stats(self) -> GrpcServerStats:
        """The server's counters (accepted and refused streams, limits hit, stalled streams dropped)."""
        if self._auth is not None:
            self._stats.unauthenticated = self._auth.refused
        return self._stats

    def streams_by_peer(self) -> dict[str, int]:
        """Streaming calls held now, per peer host (``ipv4:10.0.0.7``), as ``max_streams_per_peer`` counts them."""
        return dict(self._per_peer)

    def streams_by_token(self) -> dict[int, int]:
        """Streaming calls held now, per token (its index in ``config.all_tokens``; never the token itself)."""
        return dict(self._per_token)

    def health_statuses(self) -> dict[str, str]:
        """Every health key and its status name (``SERVING``, ``NOT_SERVING``), as ``Health/List`` answers."""
        if self._health is None:
            return {}
        name = health_pb2.HealthCheckResponse.ServingStatus.Name
        return {k: name(v) for k, v in self._health.statuses.items()}

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> int:
        """Bind and start serving; return the bound port.

        Raises
        ------
        BindError
            When the address cannot be bound (port in use, unknown host).
        ConfigError
            When the TLS files cannot be read.
        """
        cfg = self.config
        self._auth = BearerTokenInterceptor(cfg.all_tokens) if cfg.all_tokens else None
        server = grpc.aio.server(
            interceptors=[self._auth] if self._auth is not None else [],
            options=[
                ("grpc.so_reuseport", 0),  # a port in use is an error, not a silent share
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        server.add_generic_rpc_handlers((self._handlers(),))
        if self.execution is not None:
            server.add_generic_rpc_handlers((self.execution.handler(),))
        if cfg.health:
            self._health = _HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
            follow = cfg.health_follows_venues
            status = health_pb2.HealthCheckResponse
            for name in ("", protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE):
                await self._health.set(name, status.NOT_SERVING if follow else status.SERVING)
            if self.execution is not None:
                await self._health.set(self.execution.service_name, status.SERVING)
            if follow:
                for b in self.books:
                    self._live[b.instrument] = False
                    for svc in (protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE):
                        await self._health.set(f"{svc}/{b.instrument}", status.NOT_SERVING)
        if cfg.reflection:
            names = [protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE]
            if self.execution is not None:
                names.append(self.execution.service_name)
            if cfg.health:
                names.append(protos.HEALTH_SERVICE)
            enable_reflection(names, server)
        try:
            port = self._bind(server)
        except BaseException:
            await server.stop(None)
            raise
        self._port = port
        await server.start()
        self._server = server
        loop = asyncio.get_running_loop()
        if self._health is not None and cfg.health_follows_venues:
            self._watchers = [loop.create_task(self._watch(b), name=f"health:{b.instrument}") for b in self.books]
        if cfg.stall_timeout_s is not None:
            self._reaper = loop.create_task(self._reap_stalled(cfg.stall_timeout_s), name="grpc-stalled")
        log.info("gRPC server listening on %s (tls=%s, token=%s)", self.address, cfg.tls, bool(cfg.all_tokens))
        return port

    def _bind(self, server: grpc.aio.Server) -> int:
        cfg = self.config
        try:
            if cfg.tls:
                assert cfg.tls_cert is not None and cfg.tls_key is not None
                try:
                    creds = grpc.ssl_server_credentials(
                        [(Path(cfg.tls_key).read_bytes(), Path(cfg.tls_cert).read_bytes())]
                    )
                except OSError as exc:
                    raise ConfigError(f"cannot read TLS files: {exc}") from None
                port = server.add_secure_port(cfg.address, creds)
            else:
                port = server.add_insecure_port(cfg.address)
        except RuntimeError:
            raise self._bind_error() from None
        if not port:
            raise self._bind_error()
        return int(port)

    def _bind_error(self) -> BindError:
        cfg = self.config
        return BindError(
            f"cannot listen on {cfg.address} for {self.name}: address in use or not available",
            service=self.name, host=cfg.host, port=cfg.port, address=cfg.address,
        )

    async def stop(self, grace: float | None = None) -> None:
        """End every stream cleanly, then stop the server (idempotent)."""
        if self._closing:
            await self._stopped.wait()
            return
        self._closing = True
        try:
            watchers, self._watchers = self._watchers, []
            if self._reaper is not None:
                watchers.append(self._reaper)
                self._reaper = None
            watchers.extend(self._drops)
            for t in watchers:
                t.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            if self._health is not None:
                await self._health.enter_graceful_shutdown()
            if self.execution is not None and self._server is not None:
                await self.execution.close("server shutting down")
            for s in list(self._streams.values()):
                s.close()
            if self._server is not None:
                await self._server.stop(self.config.grace_s if grace is None else grace)
        finally:
            self._stopped.set()

    async def _watch(self, book: ServedBook) -> None:
        """Follow one instrument's views: health SERVING iff a venue is LIVE (see ``health_follows_venues``)."""
        serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
        sub = book.views.subscribe(maxsize=1)
        try:
            async for view in sub:
                live = any(h.status is VenueStatus.LIVE for h in view.venues.values())
                if live == self._live.get(book.instrument):
                    continue
                self._live[book.instrument] = live
                log.info("gRPC health: %s %s", book.instrument, "SERVING" if live else "NOT_SERVING (no LIVE venue)")
                anything = serving if any(self._live.values()) else not_serving
                for svc in (protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE):
                    await self._health.set(f"{svc}/{book.instrument}", serving if live else not_serving)
                    await self._health.set(svc, anything)
                await self._health.set("", anything)
        finally:
            sub.close()

    async def _reap_stalled(self, timeout: float) -> None:
        """End the calls whose client has not read for ``timeout`` seconds (see ``stall_timeout_s``)."""
        period = min(max(timeout / 4, 0.01), 1.0)
        while True:
            await asyncio.sleep(period)  # a timer: the check period
            now = time.monotonic()
            for s in list(self._subs.values()):
                since = s.writing_since
                if since and now - since >= timeout and not s.dropped and s.context is not None:
                    s.dropped = True
                    self._stats.dropped_stalled += 1
                    log.log(
                        logging.WARNING if self._stats.dropped_stalled == 1 else logging.DEBUG,
                        "gRPC: ended a %s call of %s: not read for %.3g s (%d so far)",
                        s.method, s.peer, timeout, self._stats.dropped_stalled,
                    )
                    self._detach(s)  # its place is free now; its handler ends when the client reads or leaves
                    task = asyncio.get_running_loop().create_task(self._end_stalled(s, timeout))
                    self._drops.add(task)
                    task.add_done_callback(self._drops.discard)

    @staticmethod
    async def _end_stalled(s: SubscriberStats, timeout: float) -> None:
        # abort from outside the handler: the status follows the message the client has not taken yet
        # (gRPC has no server-side cancel); the handler's pending write then raises and its cleanup runs
        with contextlib.suppress(Exception):
            await s.context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"stream not read for {timeout:g} s; ended")

    def venue_liveness(self) -> dict[str, bool]:
        """Instrument -> has a LIVE venue (as health reports it; empty unless ``health_follows_venues``)."""
        return dict(self._live)

    async def wait_closed(self) -> None:
        """Return once :meth:`stop` has finished."""
        await self._stopped.wait()

    # -- handlers ----------------------------------------------------------------
    def _handlers(self) -> grpc.GenericRpcHandler:
        orderbook = grpc.method_handlers_generic_handler(
            protos.ORDERBOOK_SERVICE,
            {
                "BookSummary": grpc.unary_stream_rpc_method_handler(
                    self._book_summary,
                    request_deserializer=protos.orderbook_pb2.Empty.FromString,
                    response_serializer=_identity,
                )
            },
        )
        aggregator = grpc.method_handlers_generic_handler(
            protos.AGGREGATOR_SERVICE,
            {
                "StreamBook": grpc.unary_stream_rpc_method_handler(
                    self._stream_book,
                    request_deserializer=book_pb2.BookRequest.FromString,
                    response_serializer=_identity,
                ),
                "StreamLiquidity": grpc.unary_stream_rpc_method_handler(
                    self._stream_liquidity,
                    request_deserializer=book_pb2.BookRequest.FromString,
                    response_serializer=_identity,
                ),
                "ListInstruments": grpc.unary_unary_rpc_method_handler(
                    self._list_instruments,
                    request_deserializer=protos.orderbook_pb2.Empty.FromString,
                    response_serializer=book_pb2.InstrumentList.SerializeToString,
                ),
            },
        )
        return _Handlers((orderbook, aggregator))

    async def _list_instruments(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return book_pb2.InstrumentList(
            instruments=[book_pb2.Instrument(name=b.instrument, venues=b.venues, depth=b.depth) for b in self.books]
        )

    # Streaming handlers use the reader/writer API (coroutines calling context.write; grpc.aio tells
    # them from async generators by their kind): a write that fails or is aborted raises here, in our
    # code, so the call's slot is always released by its own handler.
    async def _book_summary(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        book = self.books[0]
        depth = book.depth
        key = ("summary", instrument_key(book.instrument), depth, None)
        await self._serve(protos.BOOK_SUMMARY, key, book.views, SummaryEncoder(depth=depth), context)

    async def _stream_book(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        book, depth, venues = await self._resolve_or_abort(request, context)
        key = ("book", instrument_key(book.instrument), depth, _venues_key(venues))
        encode = BookUpdateEncoder(depth=depth, venues=venues, all_venues=book.venues)
        await self._serve(protos.STREAM_BOOK, key, book.views, encode, context)

    async def _stream_liquidity(self, request: Any, context: grpc.aio.ServicerContext) -> None:
        book, depth, venues = await self._resolve_or_abort(request, context)
        all_venues = book.venues
        source: Broadcast[Any]
        encode: Callable[[Any], bytes]
        if venues is None and book.liquidity is not None:
            # the aggregator's own summed view
            source = book.liquidity

            def encode(v: Any) -> bytes:
                return encode_liquidity_update(v, depth=depth, venues=None, all_venues=all_venues)

        else:
            # a venue subset: sum those venues' tops carried by the world view
            source = book.views

            def encode(v: Any) -> bytes:
                return encode_liquidity_from_view(v, depth=depth, venues=venues, all_venues=all_venues)

        key = ("liquidity", instrument_key(book.instrument), depth, _venues_key(venues))
        await self._serve(protos.STREAM_LIQUIDITY, key, source, encode, context)

    async def _serve(
        self,
        method: str,
        key: tuple[Any, ...],
        source: Broadcast[Any],
        encode: Callable[[Any], bytes | None],
        context: grpc.aio.ServicerContext,
    ) -> None:
        """Write the stream ``key``'s bytes to one call until the stream ends, the call ends, or it is dropped.

        ``writing_since`` is set while a message waits for the client to take it (``stall_timeout_s``).
        """
        stats = await self._open(method, key, source, encode, context)
        stream = self._streams[key]
        write = context.write
        observe = self.write_latency
        instrument = self._by_name[key[1]].instrument if observe is not None else ""
        sent_version = 0
        try:
            async for item in stats.sub:
                payload, version = stream.payload(item)
                if version == sent_version:
                    continue  # unchanged for this stream, or nothing encodable yet
                sent_version = version
                stats.writing_since = _clock()
                published = item.publish_ts_ns if observe is not None else 0  # the view this call writes
                await write(payload)
                stats.writing_since = 0.0
                stats.sent += 1
                if published and observe is not None:
                    observe(instrument, time.time_ns() - published)
        except grpc.aio.AbortError:
            raise  # ended by the server (stalled): gRPC sends that status
        except (grpc.aio.BaseError, grpc.RpcError) as exc:  # the call ended under us: cancelled, server stopping
            log.debug("gRPC: %s call of %s ended while writing: %s", method, stats.peer, type(exc).__name__)
        finally:
            self._release(stats)

    async def _resolve_or_abort(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> tuple[ServedBook, int, frozenset[str] | None]:
        try:
            return self._resolve(request)
        except _CallError as exc:
            await context.abort(exc.code, str(exc))
            raise AssertionError("unreachable") from None  # abort() raises

    def _resolve(self, request: Any) -> tuple[ServedBook, int, frozenset[str] | None]:
        if request.instrument:
            try:
                wanted = instrument_key(_instrument_name(request.instrument))
            except DragonflyError:
                wanted = instrument_key(request.instrument)
            book = self._by_name.get(wanted)
            if book is None:
                served = ", ".join(f.instrument for f in self.books)
                raise _CallError(
                    grpc.StatusCode.NOT_FOUND, f"instrument {request.instrument!r} is not served (served: {served})"
                )
        else:
            book = self.books[0]
        depth = request.depth or book.depth
        if depth > book.depth:
            raise _CallError(grpc.StatusCode.INVALID_ARGUMENT, f"depth {depth} exceeds the server's depth {book.depth}")
        venues: frozenset[str] | None = None
        if request.venues:
            asked = [v.strip().lower() for v in request.venues]
            unknown = sorted(set(asked) - set(book.venues))
            if unknown:
                raise _CallError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"unknown venue(s) {', '.join(unknown)} for {book.instrument} (served: {', '.join(book.venues)})",
                )
            venues = None if set(asked) == set(book.venues) else frozenset(asked)
        return book, depth, venues

    async def _open(
        self,
        method: str,
        key: tuple[Any, ...],
        source: Broadcast[Any],
        encode: Callable[[Any], bytes | None],
        context: grpc.aio.ServicerContext,
    ) -> SubscriberStats:
        """Join (or create) the stream ``key``; abort the call when refused (shutting down, or a limit)."""
        cfg = self.config
        stats = self._stats
        if self._closing:
            stats.refused_shutting_down += 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "server is shutting down")
        peer = context.peer() or ""
        host = _peer_host(peer)
        token = self._auth.identify(context.invocation_metadata()) if self._auth is not None else None
        refusal = ""
        if len(self._subs) >= cfg.max_subscribers:
            stats.refused_max_subscribers += 1
            refusal = f"too many subscribers (max {cfg.max_subscribers})"
        elif cfg.max_streams_per_peer is not None and self._per_peer.get(host, 0) >= cfg.max_streams_per_peer:
            stats.refused_per_peer += 1
            refusal = f"too many streams from this peer (max {cfg.max_streams_per_peer})"
        elif (
            token is not None
            and cfg.max_streams_per_token is not None
            and self._per_token.get(token, 0) >= cfg.max_streams_per_token
        ):
            stats.refused_per_token += 1
            refusal = f"too many streams for this token (max {cfg.max_streams_per_token})"
        if refusal:
            kind = refusal.split(" (", 1)[0]
            first = kind not in self._logged_limits
            self._logged_limits.add(kind)
            log.log(logging.WARNING if first else logging.DEBUG, "gRPC: refused a %s call of %s: %s%s",
                    method, peer, refusal, " (further refusals of this kind are logged at debug)" if first else "")
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(key, source, encode)
        stream.refs += 1
        sub = stream.subscribe()
        sub_stats = SubscriberStats(
            id=next(self._ids), method=method, peer=peer, key=key, sub=sub, started_ns=time.time_ns(),
            peer_host=host, token=token, context=context,
        )
        self._subs[sub_stats.id] = sub_stats
        self._per_peer[host] = self._per_peer.get(host, 0) + 1
        if token is not None:
            self._per_token[token] = self._per_token.get(token, 0) + 1
        stats.streams_opened += 1
        return sub_stats

    def _release(self, stats: SubscriberStats) -> None:
        """A call's handler ended: free everything it held (idempotent)."""
        self._detach(stats)
        stats.context = None
        if not stats.released:
            stats.released = True
            _decrement(self._per_peer, stats.peer_host)
            if stats.token is not None:
                _decrement(self._per_token, stats.token)

    def _detach(self, stats: SubscriberStats) -> None:
        """Stop feeding a call and free its place among ``max_subscribers`` (idempotent). A call dropped for
        stalling is detached at once; it keeps counting for its peer and token until its handler ends
        (its client reads the end, or goes away), so stalled calls pile up only against their own peer."""
        stats.sub.close()
        stats.writing_since = 0.0
        if self._subs.pop(stats.id, None) is None:
            return
        stream = self._streams.get(stats.key)
        if stream is None:
            return
        stream.subs.pop(stats.sub, None)
        stream.refs -= 1
        if stream.refs == 0 and not self._closing:
            del self._streams[stats.key]
            stream.close()


def _decrement(counts: dict[Any, int], key: Any) -> None:
    n = counts.get(key, 0) - 1
    if n > 0:
        counts[key] = n
    else:
        counts.pop(key, None)


def _peer_host(peer: str) -> str:
    """``ipv4:10.0.0.7:53124`` -> ``ipv4:10.0.0.7``; ``ipv6:[::1]:53124`` -> ``ipv6:[::1]``; others unchanged."""
    kind, sep, rest = peer.partition(":")
    if not sep or kind not in ("ipv4", "ipv6"):
        return peer
    if rest.startswith("["):
        end = rest.find("]")
        return f"{kind}:{rest[:end + 1]}" if end > 0 else peer
    host, colon, port = rest.rpartition(":")
    return f"{kind}:{host}" if colon and port.isdigit() else peer


def _venues_key(venues: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if venues is None else tuple(sorted(venues))


class _CallError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Handlers(grpc.GenericRpcHandler):
    """Several generic handlers as one."""

    def __init__(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._handlers = tuple(handlers)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        for h in self._handlers:
            found = h.service(handler_call_details)
            if found is not None:
                return found
        return None
