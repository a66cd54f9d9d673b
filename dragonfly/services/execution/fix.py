"""Layer 5: FIX 4.4 order entry for legacy customers, in front of the execution engine.

A customer logs on (CompID and password as for the market-data server) and sends:

- NewOrderSingle (35=D): ClOrdID (11), Symbol (55), Side (54: 1 buy, 2 sell), OrderQty (38),
  OrdType (40: 1 market, 2 limit with Price 44), TimeInForce (59: 0 Day, 3 IOC; a market order
  never rests). Answered by ExecutionReports (35=8): New, then a Trade report per fill
  (Partially filled / Filled, LastQty 32, LastPx 31, LastMkt 30 = the venue), and a final Canceled
  for what could not be had; or Rejected (OrdRejReason 103, Text 58 with the reason).
- OrderCancelRequest (35=F): OrigClOrdID (41) of a working order -> its final report Canceled
  (11 = the cancel's ClOrdID, 41 = the order's); an unknown or finished order -> OrderCancelReject
  (35=9, CxlRejReason 102).

Every field sent is one the stock FIX44.xml defines for those messages.

:class:`FixOrderEntry` is that session handling, with no socket of its own: a FIX acceptor mounts it
and hands it the 35=D and 35=F of its sessions. Two acceptors mount it: :class:`FixOrderServer`
(order entry alone, on its own port) and the market-data
:class:`~dragonfly.services.fix_server.FixServer` built with an engine (one session carries the
market data and the orders, as in the founding document's complex topology).
"""

from __future__ import annotations

import logging
import ssl as _ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from ..._core.fix import FixMessage
from ...clients.fix import FixAcceptor, FixSession, sending_time
from ...errors import BindError, ConfigError, FixParseError, FixSessionError
from .engine import ExecType, ExecutionEngine, ExecutionReport, OrdStatus, ParentRequest

__all__ = ("DEFAULT_FIX_ORDER_PORT", "FixOrderEntry", "FixOrderServer", "FixOrderServerConfig")

log = logging.getLogger(__name__)

DEFAULT_FIX_ORDER_PORT = 9881
_EXEC_TYPE = {ExecType.NEW: "0", ExecType.TRADE: "F", ExecType.CANCELED: "4", ExecType.REJECTED: "8"}
_ORD_STATUS = {OrdStatus.NEW: "0", OrdStatus.PARTIALLY_FILLED: "1", OrdStatus.FILLED: "2",
               OrdStatus.CANCELED: "4", OrdStatus.REJECTED: "8"}


@dataclass(frozen=True, slots=True, kw_only=True)
class FixOrderServerConfig:
    """Where and for whom the FIX order entry listens (see :class:`~dragonfly.services.fix_server.FixServerConfig`)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_FIX_ORDER_PORT
    comp_id: str = "DRAGONFLY"
    customers: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    store_dir: str | None = None
    ssl: _ssl.SSLContext | None = None
    max_msg_size: int = 8192
    logon_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port < 65536:
            raise ConfigError(f"port must be within 0..65535, got {self.port!r}")
        if not self.customers:
            raise ConfigError("at least one customer CompID is required")
        object.__setattr__(self, "customers", MappingProxyType(dict(self.customers)))


def _rej_reason(text: str) -> int:
    if "duplicate" in text:
        return 6
    if "unknown instrument" in text:
        return 1
    if "above the limit" in text:
        return 3
    if "kill switch" in text or "planning only" in text:
        return 2
    return 99


class FixOrderEntry:
    """FIX 4.4 order entry over an :class:`ExecutionEngine`, for a FIX acceptor to mount (see the module notes).

    The acceptor passes every application message whose type is in :attr:`msg_types` to
    :meth:`handle`; reports that come later (fills, the final one) go to the customer's session in
    ``sessions`` (the acceptor's logged-on sessions by CompID), or are counted as dropped when the
    customer is not logged on. The engine is the caller's to start and stop; :meth:`close` cancels
    every working order so that customers get their final reports before the acceptor logs them out.

    Parameters
    ----------
    engine : ExecutionEngine
    sessions : Mapping[str, FixSession]
        The mounting acceptor's logged-on sessions (read when a report is delivered).
    label : str
        Name in log lines.
    """

    #: The application messages it takes: NewOrderSingle, OrderCancelRequest.
    msg_types: ClassVar[frozenset[str]] = frozenset({"D", "F"})

    def __init__(self, engine: ExecutionEngine, sessions: Mapping[str, FixSession], *,
                 label: str = "fix-orders") -> None:
        self.engine = engine
        self._sessions = sessions
        self._label = label
        self._symbols: dict[tuple[str, str], str] = {}  # (customer, ClOrdID) -> symbol as they spelled it
        self._cancels: dict[tuple[str, str], str] = {}  # (customer, orig ClOrdID) -> the cancel's ClOrdID
        self.reports_sent = 0
        self.reports_dropped = 0

    async def close(self, reason: str = "server shutting down") -> int:
        """Kill switch on the engine: every working order ends with its final report now. Returns how many
        were working."""
        return await self.engine.kill(reason)

    # -- messages ---------------------------------------------------------------------------------
    def handle(self, session: FixSession, msg: FixMessage) -> None:
        """One 35=D or 35=F of ``session`` (anything else gets a Reject, 35=3)."""
        if msg.msg_type == "D":
            self._new_order(session, msg)
        elif msg.msg_type == "F":
            self._cancel(session, msg)
        else:
            session.reject(msg, 11, f"MsgType {msg.msg_type} is not supported (NewOrderSingle, OrderCancelRequest)",
                           35)

    def _new_order(self, session: FixSession, msg: FixMessage) -> None:
        customer = session.config.target_comp_id
        cl = msg.get_str(11)
        symbol = msg.get_str(55)
        side = msg.get_str(54)
        try:
            qty = msg.get(38)
            price = msg.get(44)
            qty_v = float(qty) if qty is not None else None
            price_v = float(price) if price is not None else None
        except (ValueError, FixParseError):
            session.reject(msg, 6, "incorrect data format for OrderQty or Price", 38)
            return
        for tag, value in ((11, cl), (55, symbol), (54, side)):
            if not value:
                session.reject(msg, 1, f"required tag {tag} missing", tag)
                return
        ord_type = msg.get_str(40) or "1"
        tif = msg.get_str(59) or "0"
        problem = ""
        if side not in ("1", "2"):
            problem = f"Side {side} is not supported (1 buy, 2 sell)"
        elif ord_type not in ("1", "2"):
            problem = f"OrdType {ord_type} is not supported (1 market, 2 limit)"
        elif ord_type == "2" and price_v is None:
            problem = "a limit order needs Price (44)"
        elif tif not in ("0", "3"):
            problem = f"TimeInForce {tif} is not supported (0 Day, 3 IOC)"
        elif qty_v is None:
            problem = "OrderQty (38) missing"
        self._symbols[(customer, cl)] = symbol
        request = ParentRequest(
            customer=customer, cl_ord_id=cl, instrument=symbol, side="buy" if side == "1" else "sell",
            qty=qty_v or 0.0, limit=price_v if ord_type == "2" else None,
            tif="day" if tif == "0" and ord_type == "2" else "ioc",
        )
        if problem:
            self._send(session, ExecutionReport(
                customer=customer, cl_ord_id=cl, order_id="NONE", exec_id=f"R-{cl}", exec_type=ExecType.REJECTED,
                status=OrdStatus.REJECTED, instrument=symbol, side=request.side, order_qty=request.qty, cum_qty=0.0,
                avg_px=0.0, leaves_qty=0.0, text=problem, final=True))
            return
        self.engine.submit(request, lambda rep: self._deliver(customer, rep))

    def _cancel(self, session: FixSession, msg: FixMessage) -> None:
        customer = session.config.target_comp_id
        cl, orig = msg.get_str(11), msg.get_str(41)
        if not cl or not orig:
            session.reject(msg, 1, "ClOrdID (11) and OrigClOrdID (41) are required", 41 if cl else 11)
            return
        self._cancels[(customer, orig)] = cl
        if self.engine.cancel(customer, orig):
            return  # the order's final report follows
        self._cancels.pop((customer, orig), None)
        known = self.engine.order_status(customer, orig)
        order_id, status = (known[0], _ORD_STATUS[known[1]]) if known else ("NONE", "8")
        session.send_nowait("9", [(37, order_id), (11, cl), (41, orig), (39, status), (434, "1"),
                                  (102, "0" if known else "1"),
                                  (58, "order already finished" if known else "unknown order")])

    # -- reports ----------------------------------------------------------------------------------
    def _deliver(self, customer: str, rep: ExecutionReport) -> None:
        session = self._sessions.get(customer)
        if session is None or session.closed:
            self.reports_dropped += 1
            log.warning("%s: %s is not logged on: report %s (%s) not delivered", self._label, customer, rep.exec_id,
                        rep.status.value)
            return
        self._send(session, rep)

    def _send(self, session: FixSession, rep: ExecutionReport) -> None:
        key = (rep.customer, rep.cl_ord_id)
        symbol = self._symbols.get(key, rep.instrument)
        fields: list[tuple[int, Any]] = [(37, rep.order_id)]
        cancel_id = self._cancels.pop(key, None) if rep.final and rep.exec_type is ExecType.CANCELED else None
        if cancel_id:
            fields += [(11, cancel_id), (41, rep.cl_ord_id)]
        else:
            fields.append((11, rep.cl_ord_id))
        fields += [(17, rep.exec_id), (150, _EXEC_TYPE[rep.exec_type]), (39, _ORD_STATUS[rep.status]),
                   (55, symbol), (54, "1" if rep.side == "buy" else "2"), (38, rep.order_qty),
                   (40, "1" if rep.limit is None else "2")]
        if rep.limit is not None:
            fields.append((44, rep.limit))
        fields.append((59, "0" if rep.tif == "day" else "3"))
        if rep.exec_type is ExecType.TRADE:
            fields += [(32, rep.last_qty), (31, rep.last_px), (30, rep.last_venue)]
        fields += [(151, rep.leaves_qty), (14, rep.cum_qty), (6, rep.avg_px), (60, sending_time())]
        if rep.exec_type is ExecType.REJECTED:
            fields.append((103, _rej_reason(rep.text)))
        if rep.text:
            fields.append((58, rep.text))
        if rep.final:
            self._symbols.pop(key, None)
        try:
            session.send_nowait("8", fields)
            self.reports_sent += 1
        except (FixSessionError, ConnectionError, OSError) as exc:
            self.reports_dropped += 1
            log.warning("%s: report %s to %s not sent: %s", self._label, rep.exec_id, rep.customer, type(exc).__name__)


class FixOrderServer(FixAcceptor):
    """FIX 4.4 order entry alone, on its own port: a :class:`FixOrderEntry` mounted on an acceptor that
    owns the engine (starts it with the server, stops it after logging the customers out)."""

    name: ClassVar[str] = "FIX orders"

    def __init__(self, engine: ExecutionEngine, config: FixOrderServerConfig) -> None:
        super().__init__(
            host=config.host, port=config.port, ssl=config.ssl, comp_id=config.comp_id,
            counterparties=config.customers, store_dir=config.store_dir, max_msg_size=config.max_msg_size,
            logon_timeout_s=config.logon_timeout_s, label="fix-orders",
        )
        self.engine = engine
        self.config = config
        #: The order entry every session's messages go to.
        self.orders = FixOrderEntry(engine, self.sessions, label="fix-orders")

    @property
    def reports_sent(self) -> int:
        return self.orders.reports_sent

    @property
    def reports_dropped(self) -> int:
        return self.orders.reports_dropped

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def start(self) -> None:
        if self._server is None:
            cfg = self.config
            await self.engine.start()
            try:
                await self._listen()
            except OSError as exc:
                raise BindError(f"cannot listen on {cfg.host}:{cfg.port} for {self.name}: {exc.strerror or exc}",
                                service=self.name, host=cfg.host, port=cfg.port) from None
            log.info("FIX order entry %s listening on %s", cfg.comp_id, self.address)

    async def stop(self) -> None:
        """Cancel every working order (customers get their final reports), log them out, stop the engine."""
        await self.orders.close("server shutting down")
        await self._shutdown("server shutting down")
        await self.engine.stop()

    def _on_app(self, session: FixSession, msg: FixMessage) -> None:
        self.orders.handle(session, msg)
