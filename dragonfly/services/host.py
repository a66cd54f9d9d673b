"""Layer 5 in one process: the servers over a set of pipelines, started and stopped together.

:class:`ServiceHost` is the one server lifecycle of dragonfly: the ``grpc-server``,
``fix-server`` and ``demo`` commands run it, and so can any program::

    pipes = [Pipeline(PipelineConfig(instrument=i, simulate=True)) for i in ("ethbtc", "btcusdt")]
    async with ServiceHost(pipes, grpc=GrpcServerConfig(port=50051),
                           fix=FixServerConfig(port=9880, customers={"BOT": "secret"}),
                           metrics=MetricsConfig(port=9464)) as host:
        print(host.addresses)          # {'gRPC': '127.0.0.1:50051', 'FIX': '127.0.0.1:9880', 'metrics': ...}
        await stop_requested.wait()

Order of events:

- :meth:`ServiceHost.start` binds every server first. A server that cannot listen
  (port in use, unknown host) raises one :class:`~dragonfly.errors.BindError`
  naming the service, host and port; what was bound is closed again and no
  pipeline is started, so no venue is contacted. Then the pipelines start.
- :meth:`ServiceHost.stop` stops the servers (FIX customers get a Logout, gRPC
  streams end with status OK), then the pipelines.

With ``execution=`` (an :class:`~dragonfly.services.execution.ExecutionEngine` over the
pipelines' liquidity), the gRPC server also serves ``dragonfly.v1.Execution`` and the FIX
server takes orders (35=D, 35=F) on its market-data sessions: the host starts the engine
before the servers bind and stops it after them, before the pipelines.

A server is any :class:`~dragonfly.services.base.Service` (start/stop/address);
gRPC, FIX and the Prometheus endpoint are built from their configurations, others (an
order-only server of the execution engine) are passed ready-made in ``services=``. What the servers serve is
either pipelines (one per instrument) or, for a topology where feeds are shared by
several aggregators (a topology file), ``upstream=``: anything that starts and stops
(:class:`~dragonfly.services.base.Upstream`), started after the servers listen like the
pipelines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from .._lifecycle import StartStop
from ..errors import BindError, ConfigError
from .base import HostedPipeline, Service, Upstream

if TYPE_CHECKING:
    from .execution.engine import ExecutionEngine
    from .fix_server import FixServer, FixServerConfig
    from .grpc import GrpcServer, GrpcServerConfig
    from .metrics import MetricsConfig, MetricsServer

__all__ = ("ServiceHost",)

log = logging.getLogger(__name__)

_NEW, _RUNNING, _STOPPED = "new", "running", "stopped"


class ServiceHost(StartStop):
    """The servers of layer 5 over pipelines, as one unit (see the module docstring).

    Parameters
    ----------
    pipelines : sequence of HostedPipeline
        One per instrument (e.g. :class:`dragonfly.topology.Pipeline`), not started:
        :meth:`start` starts them once every server listens, :meth:`stop` stops them
        after the servers. May be empty when ``upstream`` is given.
    grpc : GrpcServerConfig or None
        Serve the pipelines' books over gRPC (:class:`~dragonfly.services.grpc.GrpcServer`).
    fix : FixServerConfig or None
        Serve them over FIX 4.4 (:class:`~dragonfly.services.fix_server.FixServer`).
    services : iterable of Service
        Further servers, already built over the same pipelines; started after gRPC and FIX.
    upstream : sequence of Upstream
        Further layers 1-4 the servers in ``services`` serve (e.g. a topology file's feeds and
        aggregators), not started: started after the pipelines, stopped with them.
    metrics : MetricsConfig or None
        Also serve Prometheus metrics (:class:`~dragonfly.services.metrics.MetricsServer`) over the
        pipelines, the upstream and every other server; started last, after the other servers.
    execution : ExecutionEngine or None
        Order entry on the ``grpc`` and ``fix`` servers over this engine, which the host starts
        before the servers and stops after them.

    Attributes
    ----------
    pipelines : tuple of HostedPipeline
    services : tuple of Service
        Every server, in start order.
    grpc_server : GrpcServer or None
    fix_server : FixServer or None
    metrics_server : MetricsServer or None

    Raises
    ------
    ConfigError
        No pipeline (nor upstream), no server, two pipelines for one instrument, two servers with
        one name, or ``grpc``/``fix`` without pipelines.
    """

    def __init__(
        self,
        pipelines: Sequence[HostedPipeline] = (),
        *,
        grpc: GrpcServerConfig | None = None,
        fix: FixServerConfig | None = None,
        services: Iterable[Service] = (),
        upstream: Sequence[Upstream] = (),
        metrics: MetricsConfig | None = None,
        execution: ExecutionEngine | None = None,
    ) -> None:
        self.pipelines: tuple[HostedPipeline, ...] = tuple(pipelines)
        self.upstream: tuple[Upstream, ...] = tuple(upstream)
        if not self.pipelines and not self.upstream:
            raise ConfigError("ServiceHost needs at least one pipeline (or upstream)")
        if not self.pipelines and (grpc is not None or fix is not None):
            raise ConfigError("grpc= and fix= serve pipelines; without pipelines, pass the servers in services=")
        instruments = [p.config.instrument for p in self.pipelines]
        if len(set(instruments)) != len(instruments):
            raise ConfigError(f"two pipelines serve the same instrument: {instruments}")
        if execution is not None and grpc is None and fix is None:
            raise ConfigError("execution= is served by the grpc= and fix= servers; give at least one")
        self.execution = execution
        self.grpc_server: GrpcServer | None = None
        self.fix_server: FixServer | None = None
        built: list[Service] = []
        if grpc is not None:
            from .grpc import GrpcServer

            self.grpc_server = GrpcServer.for_pipelines(self.pipelines, grpc, execution=execution)
            built.append(self.grpc_server)
        if fix is not None:
            from .fix_server import FixServer

            self.fix_server = FixServer.for_pipelines(self.pipelines, fix, execution=execution)
            built.append(self.fix_server)
        for s in services:
            missing = [a for a in ("name", "config", "start", "stop") if getattr(s, a, None) is None]
            if missing:
                raise TypeError(f"not a Service (no {', '.join(missing)}): {s!r}")
            built.append(s)
        if not built:
            raise ConfigError("ServiceHost needs at least one server: grpc=, fix= or services=")
        self.metrics_server: MetricsServer | None = None
        if metrics is not None:
            from .metrics import MetricsServer

            self.metrics_server = MetricsServer([*self.pipelines, *self.upstream, *built], metrics)
            built.append(self.metrics_server)
        names = [s.name for s in built]
        if len(set(names)) != len(names):
            raise ConfigError(f"two servers have the same name: {names}")
        self.services: tuple[Service, ...] = tuple(built)
        self._bound: list[Service] = []
        self._started: list[HostedPipeline | Upstream] = []
        self._engine_started = False
        self._state = _NEW
        self._lock = asyncio.Lock()

    # -- views ------------------------------------------------------------------------------------
    @property
    def addresses(self) -> Mapping[str, str]:
        """Server name -> ``host:port`` it listens on (``{"gRPC": ..., "FIX": ...}``); empty unless running."""
        if self._state != _RUNNING:
            return MappingProxyType({})
        return MappingProxyType({s.name: s.address for s in self._bound})

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self._state == _RUNNING

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind every server, then start the pipelines (a no-op when running).

        Raises
        ------
        BindError
            A server cannot listen (a :class:`~dragonfly.errors.ConfigError`); nothing is left
            running and no pipeline was started.
        RuntimeError
            The host was stopped: a host runs once.
        """
        async with self._lock:
            if self._state == _RUNNING:
                return
            if self._state == _STOPPED:
                raise RuntimeError("this ServiceHost was stopped; build a new one")
            self._state = _RUNNING
            try:
                if self.execution is not None:
                    self._engine_started = True
                    await self.execution.start()
                for service in self.services:
                    self._bound.append(service)  # stopped too if its start fails half-way
                    await _bind(service)
                for pipe in (*self.pipelines, *self.upstream):
                    self._started.append(pipe)
                    await pipe.start()
            except BaseException:
                self._state = _STOPPED
                await self._shutdown()
                raise
            log.info("serving %s: %s", ", ".join(_label(p) for p in (*self.pipelines, *self.upstream)),
                     ", ".join(f"{n} on {a}" for n, a in self.addresses.items()))

    async def stop(self) -> None:
        """Stop the servers (FIX customers logged out, gRPC streams ended with status OK), then the
        pipelines. Idempotent; waits for a :meth:`start` in progress.

        Raises
        ------
        Exception
            The first error a server or pipeline raised while stopping (the others are logged);
            everything else was stopped all the same.
        """
        async with self._lock:
            if self._state == _STOPPED:
                return
            self._state = _STOPPED
            await self._shutdown()

    async def _shutdown(self) -> None:
        services, self._bound = self._bound[::-1], []
        pipes, self._started = self._started[::-1], []
        errors: list[BaseException] = []
        # the servers first, all at once (one's grace period does not delay another's logouts) ...
        results = await asyncio.gather(*(s.stop() for s in services), return_exceptions=True)
        names = [s.name for s in services]
        # ... then the engine they took orders for (its order clients close) ...
        if self._engine_started and self.execution is not None:
            self._engine_started = False
            results += await asyncio.gather(self.execution.stop(), return_exceptions=True)
            names.append("execution engine")
        # ... then the pipelines they served
        results += await asyncio.gather(*(p.stop() for p in pipes), return_exceptions=True)
        names += [_label(p) for p in pipes]
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                log.error("stopping %s failed: %s", name, type(result).__name__)
                errors.append(result)
        if errors:
            raise errors[0]


def _label(p: HostedPipeline | Upstream) -> str:
    """A pipeline's instrument, or an upstream's name, for messages."""
    config = getattr(p, "config", None)
    instrument = getattr(config, "instrument", None)
    if isinstance(instrument, str):
        return instrument
    name = getattr(p, "name", None)
    return name if isinstance(name, str) else type(p).__name__


async def _bind(service: Service) -> None:
    """``service.start()``, with any failure to listen as one :class:`BindError`."""
    try:
        await service.start()
    except BindError:
        raise
    except OSError as exc:
        cfg = service.config
        raise BindError(
            f"cannot listen on {cfg.host}:{cfg.port} for {service.name}: {exc.strerror or exc}",
            service=service.name, host=cfg.host, port=cfg.port,
        ) from None
