"""The gRPC service: ``orderbook.OrderbookAggregator`` and ``dragonfly.v1.Aggregator``.

One :class:`GrpcServer` serves one or more :class:`ServedBook`\\ s (one per
instrument, usually a pipeline's broadcasts: :meth:`GrpcServer.for_pipelines`).

Fan-out
-------
A *stream* is what a call asks for: ``(kind, instrument, depth, venues)``.
Every stream has one encoder task that subscribes (conflating, one slot) to the
book's broadcast, encodes each update **once** and publishes the bytes on the
stream's own :class:`~dragonfly.queues.Broadcast`. Every call on that stream
holds a one-slot subscription to those bytes and yields them unchanged: the
methods are registered with an identity response serializer, so gRPC sends the
pre-encoded bytes as they are. A subscriber that does not keep up holds at
most one pending update (the newest); what it missed is counted in its
``skipped`` counter and shows as a jump in ``seq`` (dragonfly.v1). It never
slows the encoder or the other subscribers.

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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..._lifecycle import StartStop
from ...errors import BindError, ConfigError, DragonflyError
from ...instruments import instrument_key
from ...model import VenueStatus, WorldView
from ...queues import Broadcast, Subscription
from . import protos
from .auth import BearerTokenInterceptor
from .encode import encode_book_update, encode_liquidity_from_view, encode_liquidity_update, encode_summary_bytes
from .protos import book_pb2

if TYPE_CHECKING:
    from ..base import HostedPipeline
    from ..execution.engine import ExecutionEngine
    from ..execution.grpc_service import ExecutionServicer

__all__ = ("BindError", "GrpcServer", "GrpcServerConfig", "ServedBook", "StreamStats", "SubscriberStats")

log = logging.getLogger(__name__)


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
        ``authorization: Bearer <token>``; others get UNAUTHENTICATED.
    tls_cert, tls_key : Path or None
        PEM certificate chain and private key; both or neither. With them the
        port speaks TLS only.
    grace_s : float
        How long :meth:`GrpcServer.stop` lets calls finish before cancelling them.
    max_subscribers : int
        Streaming calls served at once; more are refused with RESOURCE_EXHAUSTED.
    reflection, health : bool
        Register server reflection and the standard health service.
    health_follows_venues : bool
        Health follows venue liveness: ``orderbook.OrderbookAggregator`` and
        ``dragonfly.v1.Aggregator`` are NOT_SERVING while no instrument has a LIVE
        venue (before the first view too), and ``"<service>/<INSTRUMENT>"`` (e.g.
        ``dragonfly.v1.Aggregator/ETH-BTC``) while that instrument has none. The
        overall status (``""``) stays SERVING while the server runs. Off: every
        service is SERVING from start to shutdown.
    """

    host: str = "127.0.0.1"
    port: int = 50051
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    grace_s: float = 2.0
    max_subscribers: int = 1024
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
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise ConfigError("the bearer token must be non-empty and contain no whitespace")
        if self.grace_s < 0:
            raise ConfigError(f"grace_s must be >= 0, got {self.grace_s}")
        if self.max_subscribers < 1:
            raise ConfigError(f"max_subscribers must be >= 1, got {self.max_subscribers}")

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
    """One streaming call, as the server sees it (see :meth:`GrpcServer.subscribers`)."""

    id: int
    method: str
    peer: str
    key: tuple[Any, ...]
    sub: Subscription[bytes] = field(repr=False)
    sent: int = 0
    started_ns: int = 0

    @property
    def pending(self) -> int:
        """Updates waiting in this subscriber's slot (never more than its capacity)."""
        return len(self.sub)

    @property
    def capacity(self) -> int:
        return self.sub.maxsize

    @property
    def skipped(self) -> int:
        """Updates conflated away because this subscriber did not keep up."""
        return self.sub.skipped


@dataclass(frozen=True, slots=True)
class StreamStats:
    """One encoded stream: how often it encoded and how many calls share it."""

    key: tuple[Any, ...]
    encoded: int
    errors: int
    subscribers: int


class _Stream:
    """One ``(kind, instrument, depth, venues)``: encode once, fan out bytes."""

    def __init__(self, key: tuple[Any, ...], source: Broadcast[Any], encode: Callable[[Any], bytes]) -> None:
        self.key = key
        self.source = source
        self.encode = encode
        self.out: Broadcast[bytes] = Broadcast(name=f"grpc:{key}")
        self.refs = 0
        self.encoded = 0
        self.errors = 0
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription[Any] | None = None

    def start(self) -> None:
        # subscribe synchronously: the source's latest (if any) is encoded first
        self._sub = self.source.subscribe(maxsize=1)
        self._task = asyncio.get_running_loop().create_task(self._run(self._sub), name=f"grpc-encode:{self.key}")

    async def _run(self, sub: Subscription[Any]) -> None:
        try:
            async for item in sub:
                try:
                    payload = self.encode(item)
                except Exception:  # bad data: count, log once, never serve it
                    self.errors += 1
                    if self.errors == 1:
                        log.exception("gRPC stream %s: cannot encode an update; skipping it", self.key)
                    continue
                self.encoded += 1
                self.out.publish(payload)
        finally:
            self.out.close()  # source ended: end every call on this stream cleanly

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
        self.out.close()

    async def wait(self) -> None:
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _identity(b: bytes) -> bytes:
    return b


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
        self._port = 0
        self._closing = False
        self._stopped = asyncio.Event()
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
        return [StreamStats(s.key, s.encoded, s.errors, s.refs) for s in self._streams.values()]

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
        interceptors = [BearerTokenInterceptor(cfg.token)] if cfg.token else []
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.so_reuseport", 0),  # a port in use is an error, not a silent share
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        server.add_generic_rpc_handlers((self._handlers(),))
        if self.execution is not None:
            server.add_generic_rpc_handlers((self.execution.handler(),))
        if cfg.health:
            self._health = health.aio.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
            follow = cfg.health_follows_venues
            for name in ("", protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE):
                status = health_pb2.HealthCheckResponse
                await self._health.set(name, status.NOT_SERVING if follow and name else status.SERVING)
            if self.execution is not None:
                await self._health.set(self.execution.service_name, health_pb2.HealthCheckResponse.SERVING)
            if follow:
                for b in self.books:
                    self._live[b.instrument] = False
                    for svc in (protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE):
                        await self._health.set(f"{svc}/{b.instrument}", health_pb2.HealthCheckResponse.NOT_SERVING)
        if cfg.reflection:
            names = [protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE, reflection.SERVICE_NAME]
            if self.execution is not None:
                names.append(self.execution.service_name)
            if cfg.health:
                names.append(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
            reflection.enable_server_reflection(names, server)
        try:
            port = self._bind(server)
        except BaseException:
            await server.stop(None)
            raise
        self._port = port
        await server.start()
        self._server = server
        if self._health is not None and cfg.health_follows_venues:
            loop = asyncio.get_running_loop()
            self._watchers = [loop.create_task(self._watch(b), name=f"health:{b.instrument}") for b in self.books]
        log.info("gRPC server listening on %s (tls=%s, token=%s)", self.address, cfg.tls, bool(cfg.token))
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
            for t in watchers:
                t.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            if self._health is not None:
                await self._health.enter_graceful_shutdown()
            if self.execution is not None and self._server is not None:
                await self.execution.close("server shutting down")
            streams = list(self._streams.values())
            for s in streams:
                s.close()
            for s in streams:
                await s.wait()
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
                for svc in (protos.ORDERBOOK_SERVICE, protos.AGGREGATOR_SERVICE):
                    await self._health.set(f"{svc}/{book.instrument}", serving if live else not_serving)
                    await self._health.set(svc, serving if any(self._live.values()) else not_serving)
        finally:
            sub.close()

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

    # grpc.aio tells streaming handlers apart by their kind: these must be
    # async generator functions (a plain function returning one would be run as
    # a sync generator in a thread). Each yields pre-encoded bytes.
    async def _book_summary(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        book = self.books[0]
        depth = book.depth

        def encode(v: WorldView) -> bytes:
            return encode_summary_bytes(v, depth=depth)

        key = ("summary", instrument_key(book.instrument), depth, None)
        async with self._subscribed(protos.BOOK_SUMMARY, key, book.views, encode, context) as stats:
            async for payload in stats.sub:
                yield payload
                stats.sent += 1

    async def _stream_book(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        book, depth, venues = await self._resolve_or_abort(request, context)
        all_venues = book.venues

        def encode(v: WorldView) -> bytes:
            return encode_book_update(v, depth=depth, venues=venues, all_venues=all_venues)

        key = ("book", instrument_key(book.instrument), depth, _venues_key(venues))
        async with self._subscribed(protos.STREAM_BOOK, key, book.views, encode, context) as stats:
            async for payload in stats.sub:
                yield payload
                stats.sent += 1

    async def _stream_liquidity(self, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
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
        async with self._subscribed(protos.STREAM_LIQUIDITY, key, source, encode, context) as stats:
            async for payload in stats.sub:
                yield payload
                stats.sent += 1

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
        encode: Callable[[Any], bytes],
        context: grpc.aio.ServicerContext,
    ) -> SubscriberStats:
        """Join (or create) the stream ``key``; abort the call when refused."""
        if self._closing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "server is shutting down")
        if len(self._subs) >= self.config.max_subscribers:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"too many subscribers (max {self.config.max_subscribers})"
            )
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(key, source, encode)
            stream.start()
        stream.refs += 1
        sub = stream.out.subscribe(maxsize=1)
        stats = SubscriberStats(
            id=next(self._ids), method=method, peer=context.peer(), key=key, sub=sub, started_ns=time.time_ns()
        )
        self._subs[stats.id] = stats
        return stats

    @contextlib.asynccontextmanager
    async def _subscribed(
        self,
        method: str,
        key: tuple[Any, ...],
        source: Broadcast[Any],
        encode: Callable[[Any], bytes],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[SubscriberStats]:
        """A call's subscription to the stream ``key`` (:meth:`_open`), released however the call ends."""
        stats = await self._open(method, key, source, encode, context)
        try:
            yield stats
        finally:
            self._release(stats)

    def _release(self, stats: SubscriberStats) -> None:
        stats.sub.close()
        self._subs.pop(stats.id, None)
        stream = self._streams.get(stats.key)
        if stream is None:
            return
        stream.refs -= 1
        if stream.refs == 0 and not self._closing:
            del self._streams[stats.key]
            stream.close()


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
