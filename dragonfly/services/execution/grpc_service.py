"""Layer 5: ``dragonfly.v1.Execution`` over gRPC (``proto/dragonfly/v1/execution.proto``).

``Plan`` is a dry run on the current liquidity; ``Submit`` streams an order's reports until its final
one; ``Cancel`` stops a working order; ``Kill`` is the kill switch.

:class:`ExecutionServicer` is the service itself, with no port: the book server
(:class:`~dragonfly.services.grpc.GrpcServer` built with ``execution=``) mounts it beside
``dragonfly.v1.Aggregator``, and :class:`ExecutionGrpcServer` serves it alone on its own port
(optionally behind a bearer token).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import grpc

from ...errors import BindError
from ..grpc import protos
from ..grpc.auth import BearerTokenInterceptor
from .engine import ExecType, ExecutionEngine, ExecutionError, ExecutionReport, OrdStatus, ParentRequest

__all__ = ("ExecutionGrpcServer", "ExecutionServicer")

log = logging.getLogger(__name__)
pb = protos.execution_pb2

_STATUS = {OrdStatus.NEW: pb.ORDER_STATUS_NEW, OrdStatus.PARTIALLY_FILLED: pb.ORDER_STATUS_PARTIALLY_FILLED,
           OrdStatus.FILLED: pb.ORDER_STATUS_FILLED, OrdStatus.CANCELED: pb.ORDER_STATUS_CANCELED,
           OrdStatus.REJECTED: pb.ORDER_STATUS_REJECTED}
_EXEC = {ExecType.NEW: pb.EXEC_TYPE_NEW, ExecType.TRADE: pb.EXEC_TYPE_TRADE, ExecType.CANCELED: pb.EXEC_TYPE_CANCELED,
         ExecType.REJECTED: pb.EXEC_TYPE_REJECTED}


def _request(msg: Any, context: grpc.aio.ServicerContext) -> ParentRequest:
    side = {pb.SIDE_BUY: "buy", pb.SIDE_SELL: "sell"}.get(msg.side, "")
    return ParentRequest(
        customer=msg.customer or (context.peer() or "grpc").rsplit(":", 1)[0], cl_ord_id=msg.client_order_id,
        instrument=msg.instrument, side=side, qty=msg.quantity, limit=msg.limit_price or None,
        tif="day" if msg.time_in_force == pb.TIME_IN_FORCE_DAY and msg.limit_price else "ioc",
    )


def _report(r: ExecutionReport) -> Any:
    return pb.ExecutionReport(
        order_id=r.order_id, client_order_id=r.cl_ord_id, exec_id=r.exec_id, exec_type=_EXEC[r.exec_type],
        status=_STATUS[r.status], instrument=r.instrument, side=pb.SIDE_BUY if r.side == "buy" else pb.SIDE_SELL,
        order_quantity=r.order_qty, cum_quantity=r.cum_qty, avg_price=r.avg_px, leaves_quantity=r.leaves_qty,
        last_quantity=r.last_qty, last_price=r.last_px, last_venue=r.last_venue, text=r.text, final=r.final,
    )


class ExecutionServicer:
    """``dragonfly.v1.Execution`` over an engine, to add to a ``grpc.aio`` server (:meth:`handler`).

    The engine is the caller's to start and stop; :meth:`close` cancels every working order, so the
    ``Submit`` streams end with their final reports before the server stops.
    """

    #: The full name of the service (for reflection and health).
    service_name: ClassVar[str] = protos.EXECUTION_SERVICE

    def __init__(self, engine: ExecutionEngine) -> None:
        self.engine = engine

    async def close(self, reason: str = "server shutting down") -> int:
        """Kill switch on the engine (every working order ends with its final report). Returns how many were
        working."""
        return await self.engine.kill(reason)

    def handler(self) -> grpc.GenericRpcHandler:
        """The service's methods, to add to a ``grpc.aio`` server."""
        return grpc.method_handlers_generic_handler(protos.EXECUTION_SERVICE, {
            "Plan": grpc.unary_unary_rpc_method_handler(
                self._plan, request_deserializer=pb.OrderRequest.FromString,
                response_serializer=pb.PlanReply.SerializeToString),
            "Submit": grpc.unary_stream_rpc_method_handler(
                self._submit, request_deserializer=pb.OrderRequest.FromString,
                response_serializer=pb.ExecutionReport.SerializeToString),
            "Cancel": grpc.unary_unary_rpc_method_handler(
                self._cancel, request_deserializer=pb.CancelRequest.FromString,
                response_serializer=pb.CancelReply.SerializeToString),
            "Kill": grpc.unary_unary_rpc_method_handler(
                self._kill, request_deserializer=pb.KillRequest.FromString,
                response_serializer=pb.KillReply.SerializeToString),
        })

    async def _plan(self, msg: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            plan = self.engine.plan(_request(msg, context))
        except ExecutionError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb.PlanReply(
            quantity=plan.qty, filled=plan.filled, avg_price=plan.avg_price, net_avg_price=plan.net_avg_price,
            best_venue=plan.best_venue, best_venue_filled=plan.best_venue_filled,
            best_venue_net_avg=plan.best_venue_net_avg, compared_quantity=plan.compared_qty, saving=plan.saving,
            improvement_bps=plan.improvement_bps,
            children=[pb.ChildPlan(venue=c.venue, quantity=c.qty, limit_price=c.limit_price, avg_price=c.avg_price)
                      for c in plan.children],
        )

    async def _submit(self, msg: Any, context: grpc.aio.ServicerContext) -> Any:
        # an order's reports are few (New, one per fill, the final one): the queue is bounded by them
        queue: asyncio.Queue[ExecutionReport] = asyncio.Queue()
        self.engine.submit(_request(msg, context), queue.put_nowait)
        while True:
            rep = await queue.get()
            yield _report(rep)
            if rep.final:
                return

    async def _cancel(self, msg: Any, context: grpc.aio.ServicerContext) -> Any:
        customer = msg.customer or (context.peer() or "grpc").rsplit(":", 1)[0]
        return pb.CancelReply(accepted=self.engine.cancel(customer, msg.client_order_id))

    async def _kill(self, msg: Any, context: grpc.aio.ServicerContext) -> Any:
        if msg.resume:
            self.engine.resume()
            return pb.KillReply(canceled=0)
        return pb.KillReply(canceled=await self.engine.kill(msg.reason or "kill switch (gRPC)"))


class ExecutionGrpcServer:
    """``dragonfly.v1.Execution`` alone on its own port: an :class:`ExecutionServicer` on a server that owns
    the engine (starts it with the server, stops it after the calls ended).

    Parameters
    ----------
    engine : ExecutionEngine
    host, port : str, int
        Where to listen (port 0 picks a free one; read :attr:`port`).
    token : str or None
        Bearer token every call must carry.
    """

    name: ClassVar[str] = "gRPC execution"

    def __init__(self, engine: ExecutionEngine, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None) -> None:
        self.engine = engine
        self.servicer = ExecutionServicer(engine)
        self.host = host
        self._port_wanted = port
        self.port = 0
        self.token = token
        self._server: grpc.aio.Server | None = None

    @property
    def config(self) -> ExecutionGrpcServer:
        return self  # host and port, as ServiceHost reads them

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def handler(self) -> grpc.GenericRpcHandler:
        """The service's methods, to add to a ``grpc.aio`` server."""
        return self.servicer.handler()

    async def start(self) -> int:
        await self.engine.start()
        server = grpc.aio.server(interceptors=[BearerTokenInterceptor(self.token)] if self.token else [],
                                 options=[("grpc.so_reuseport", 0)])
        server.add_generic_rpc_handlers((self.servicer.handler(),))
        try:
            port = server.add_insecure_port(f"{self.host}:{self._port_wanted}")
        except RuntimeError:
            port = 0
        if not port:
            await server.stop(None)
            raise BindError(f"cannot listen on {self.host}:{self._port_wanted} for {self.name}", service=self.name,
                            host=self.host, port=self._port_wanted)
        await server.start()
        self._server, self.port = server, int(port)
        log.info("gRPC execution service listening on %s", self.address)
        return self.port

    async def stop(self) -> None:
        """Cancel every working order (their streams end with the final reports), then stop."""
        await self.servicer.close("server shutting down")
        server, self._server = self._server, None
        if server is not None:
            await server.stop(2.0)
        await self.engine.stop()
