"""The execution engine: liquidate (or buy) a large order across venues, with risk controls.

:class:`ExecutionEngine` keeps the newest :class:`~dragonfly.model.LiquidityView` of each instrument
it serves (a one-slot subscription to the aggregator's liquidity broadcast), and for each parent
order (:class:`ParentRequest`, from FIX or gRPC):

1. checks it (:class:`RiskLimits` per customer: largest quantity and notional; a ClOrdID a customer
   used before is refused; nothing while the kill switch is on) and answers *New* or *Rejected*;
2. plans it (:func:`~dragonfly.services.execution.planner.plan_order`) over the venues it has a
   :class:`Route` to (an order-entry client, the venue's symbol and its :class:`VenueRules`);
3. sends the children at once, each immediate-or-cancel, and reports every fill (*Partially
   filled*, *Filled*) as the venues answer;
4. re-plans what is left over the other venues when a venue rejects, times out or fills less than
   planned. A child whose answer never came is queried at its venue: its fills are counted, or, when
   the venue never had it, its quantity is planned again; if even the query fails the quantity is
   *in doubt* and is not sent again (no over-execution) -- the final report says so;
5. a Day limit order waits for new liquidity while nothing can be had within its limit; an IOC or
   market order, or a Day order after a cancel, ends with *Canceled* for what is left.

Every parent ends with exactly one final report (Filled, Canceled or Rejected): nothing is lost. The
kill switch (:meth:`ExecutionEngine.kill`) cancels every working order (children in flight are
cancelled at their venues too), refuses new ones until :meth:`ExecutionEngine.resume`.

Without ``live`` (the default for real venues: ``--live-orders``), the engine plans only: ``plan``
works, ``submit`` is rejected.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ...clients.orders import OrderEntry, OrderRequest, OrderResult, new_client_id
from ...errors import ConfigError, DragonflyError, OrderError
from ...instruments import instrument_key
from ...model import LiquidityView
from ...queues import Broadcast
from .planner import Plan, VenueRules, plan_order

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = (
    "ExecType",
    "ExecutionConfig",
    "ExecutionEngine",
    "ExecutionError",
    "ExecutionReport",
    "OrdStatus",
    "ParentRequest",
    "RiskLimits",
    "Route",
)

log = logging.getLogger(__name__)
_EPS = 1e-9


class ExecutionError(DragonflyError, ValueError):
    """A request the engine cannot plan (unknown instrument, no liquidity yet, bad values)."""


class OrdStatus(str, enum.Enum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"


class ExecType(str, enum.Enum):
    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentRequest:
    """A customer's order.

    Parameters
    ----------
    customer : str
        Who asks (FIX SenderCompID, gRPC peer or token name): limits and ClOrdIDs are per customer.
    cl_ord_id : str
    instrument : str
        Any accepted spelling.
    side : {"buy", "sell"}
    qty : float
    limit : float or None
        Limit price; None for a market order.
    tif : {"ioc", "day"}
    """

    customer: str
    cl_ord_id: str
    instrument: str
    side: str
    qty: float
    limit: float | None = None
    tif: str = "ioc"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReport:
    """One report to the customer (FIX 35=8, gRPC ``ExecutionReport``)."""

    customer: str
    cl_ord_id: str
    order_id: str
    exec_id: str
    exec_type: ExecType
    status: OrdStatus
    instrument: str
    side: str
    order_qty: float
    cum_qty: float
    avg_px: float
    leaves_qty: float
    last_qty: float = 0.0
    last_px: float = 0.0
    last_venue: str = ""
    limit: float | None = None
    tif: str = "ioc"
    text: str = ""
    orig_cl_ord_id: str = ""
    #: The last report of the order.
    final: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """Per customer: the largest order (base asset) and notional (quote currency) accepted."""

    max_qty: float = math.inf
    max_notional: float = math.inf

    def __post_init__(self) -> None:
        if not (self.max_qty > 0 and self.max_notional > 0):
            raise ConfigError("risk limits must be > 0")


@dataclass(frozen=True, slots=True)
class Route:
    """How orders reach one venue for one instrument."""

    venue: str
    client: OrderEntry
    symbol: str
    rules: VenueRules = field(default_factory=VenueRules)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionConfig:
    """The engine's settings.

    Parameters
    ----------
    live : bool
        Send orders (False: plan only; ``submit`` is rejected).
    limits : Mapping[str, RiskLimits]
        Per customer; others get ``default_limits``.
    default_limits : RiskLimits
    child_timeout_s : float
        Bound on one child order's answer (and on each query of an unanswered one).
    max_rounds : int
        Re-plans of an IOC or market order after rejections and short fills.
    max_orders_per_customer : int
        ClOrdIDs remembered per customer (duplicates are refused); more orders than that are refused.
    """

    live: bool = True
    limits: Mapping[str, RiskLimits] = field(default_factory=lambda: MappingProxyType({}))
    default_limits: RiskLimits = RiskLimits()
    child_timeout_s: float = 5.0
    max_rounds: int = 3
    max_orders_per_customer: int = 100_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))
        if not self.child_timeout_s > 0 or self.max_rounds < 1 or self.max_orders_per_customer < 1:
            raise ConfigError("child_timeout_s, max_rounds and max_orders_per_customer must be positive")


Reporter = Callable[[ExecutionReport], None]


class _Parent:
    __slots__ = ("cancel_reason", "cum", "done", "excluded", "in_doubt", "notes", "notional", "order_id",
                 "request", "report", "reports", "task", "working", "wake")

    def __init__(self, request: ParentRequest, order_id: str, report: Reporter) -> None:
        self.request = request
        self.order_id = order_id
        self.report = report
        self.cum = 0.0
        self.notional = 0.0
        self.in_doubt = 0.0
        self.reports = itertools.count(1)
        self.excluded: set[str] = set()
        self.notes: list[str] = []
        self.working: dict[str, tuple[Route, OrderRequest]] = {}
        self.cancel_reason = ""
        self.done = asyncio.Event()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def leaves(self) -> float:
        return max(0.0, self.request.qty - self.cum)


class ExecutionEngine:
    """Plans and executes parent orders over routes to venues (see the module notes).

    Parameters
    ----------
    liquidity : Mapping[str, Broadcast[LiquidityView]]
        Instrument -> its summed-liquidity broadcast (``Pipeline.liquidity``).
    routes : Mapping[str, Mapping[str, Route]]
        Instrument -> venue -> route. Venues without a route are never sent orders.
    config : ExecutionConfig
    """

    name = "execution"

    def __init__(self, liquidity: Mapping[str, Broadcast[LiquidityView]],
                 routes: Mapping[str, Mapping[str, Route]], config: ExecutionConfig | None = None) -> None:
        self.config = config or ExecutionConfig()
        self._liquidity = {instrument_key(k): v for k, v in liquidity.items()}
        self._names = {instrument_key(k): k for k in liquidity}
        self.routes = {instrument_key(k): dict(v) for k, v in routes.items()}
        self._latest: dict[str, LiquidityView] = {}
        self._fresh: dict[str, asyncio.Event] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._parents: dict[tuple[str, str], _Parent] = {}
        self._seen: dict[str, set[str]] = {}
        self._ids = itertools.count(1)
        self.killed = ""
        self.stats = {"orders": 0, "rejected": 0, "children": 0, "child_rejects": 0, "child_timeouts": 0,
                      "in_doubt": 0}

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Follow every instrument's liquidity."""
        if self._watchers:
            return
        loop = asyncio.get_running_loop()
        for key, bc in self._liquidity.items():
            self._fresh[key] = asyncio.Event()
            self._watchers.append(loop.create_task(self._watch(key, bc), name=f"execution:{key}"))

    async def _watch(self, key: str, bc: Broadcast[LiquidityView]) -> None:
        sub = bc.subscribe(maxsize=1)
        try:
            async for view in sub:
                self._latest[key] = view
                ev = self._fresh[key]
                ev.set()
                self._fresh[key] = asyncio.Event()
        finally:
            sub.close()

    async def stop(self) -> None:
        """Cancel every working order (final reports sent), stop following liquidity, close the clients."""
        await self.kill("engine stopping")
        for t in self._watchers:
            t.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        self._watchers = []
        clients = {id(r.client): r.client for rs in self.routes.values() for r in rs.values()}
        await asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def set_routes(self, instrument: str, routes: Mapping[str, Route]) -> None:
        """Route ``instrument``'s child orders through ``routes`` (venue -> route) from now on, e.g. once the
        simulators that take them listen. Meant for before the first order: a route replaced while a child
        is in flight keeps serving that child, and its client is not closed.

        Raises
        ------
        ExecutionError
            The engine does not serve ``instrument``.
        """
        self.routes[self._key(instrument)] = dict(routes)

    # -- queries --------------------------------------------------------------------------------------
    def instruments(self) -> list[str]:
        return list(self._names.values())

    def latest(self, instrument: str) -> LiquidityView | None:
        return self._latest.get(instrument_key(instrument))

    async def wait_liquidity(self, instrument: str, timeout: float = 10.0, *, min_seq: int = 0) -> LiquidityView:
        """The newest liquidity view of ``instrument``, waiting for a first one (or one of ``seq >= min_seq``)."""
        key = self._key(instrument)
        while key not in self._latest or self._latest[key].seq < min_seq:
            await asyncio.wait_for(self._fresh[key].wait(), timeout)
        return self._latest[key]

    def _key(self, instrument: str) -> str:
        key = instrument_key(instrument)
        if key not in self._liquidity:
            raise ExecutionError(f"unknown instrument {instrument!r}")
        return key

    def _rules(self, key: str, exclude: Collection[str] = ()) -> dict[str, VenueRules]:
        return {v: r.rules for v, r in self.routes.get(key, {}).items() if v not in exclude}

    def plan(self, request: ParentRequest, *, exclude: Collection[str] = (), qty: float | None = None) -> Plan:
        """The plan of ``request`` on the newest liquidity (a dry run: nothing is sent).

        Raises
        ------
        ExecutionError
            Unknown instrument, bad side or quantity, or no liquidity view yet.
        """
        key = self._key(request.instrument)
        view = self._latest.get(key)
        if view is None:
            raise ExecutionError(f"no liquidity yet for {request.instrument}")
        if request.side not in ("buy", "sell"):
            raise ExecutionError(f"side must be buy or sell, got {request.side!r}")
        q = request.qty if qty is None else qty
        if not (isinstance(q, (int, float)) and math.isfinite(q) and q > 0):
            raise ExecutionError(f"quantity must be a positive number, got {q!r}")
        if request.limit is not None and not (math.isfinite(request.limit) and request.limit > 0):
            raise ExecutionError(f"limit price must be a positive number, got {request.limit!r}")
        levels = view.asks if request.side == "buy" else view.bids
        return plan_order(request.side, q, levels, self._rules(key, exclude), limit=request.limit)

    def working(self) -> list[ParentRequest]:
        """Parent orders not finished."""
        return [p.request for p in self._parents.values() if not p.done.is_set()]

    # -- orders ---------------------------------------------------------------------------------------
    def submit(self, request: ParentRequest, report: Reporter) -> str:
        """Accept (or refuse) ``request``; every report goes to ``report`` (the first one before this
        returns: New or Rejected). Returns the engine's order id ("" when rejected)."""
        self.stats["orders"] += 1
        reason = self._check(request)
        order_id = f"X{next(self._ids)}"
        parent = _Parent(request, order_id, report)
        if reason:
            self.stats["rejected"] += 1
            log.info("execution: %s %s rejected: %s", request.customer, request.cl_ord_id, reason)
            self._send(parent, ExecType.REJECTED, OrdStatus.REJECTED, text=reason, final=True)
            return ""
        self._seen.setdefault(request.customer, set()).add(request.cl_ord_id)
        self._parents[(request.customer, request.cl_ord_id)] = parent
        self._send(parent, ExecType.NEW, OrdStatus.NEW)
        parent.task = asyncio.get_running_loop().create_task(self._work(parent), name=f"parent:{order_id}")
        return order_id

    def _check(self, r: ParentRequest) -> str:
        if self.killed:
            return f"kill switch engaged: {self.killed}"
        if not self.config.live:
            return "planning only: live orders are disabled (--live-orders)"
        seen = self._seen.get(r.customer, set())
        if r.cl_ord_id in seen or not r.cl_ord_id:
            return f"duplicate ClOrdID {r.cl_ord_id!r}" if r.cl_ord_id else "ClOrdID missing"
        if len(seen) >= self.config.max_orders_per_customer:
            return "too many orders for this customer"
        if r.tif not in ("ioc", "day"):
            return f"time in force {r.tif!r} is not supported (IOC or Day)"
        limits = self.config.limits.get(r.customer, self.config.default_limits)
        try:
            plan = self.plan(r)
        except ExecutionError as exc:
            return str(exc)
        if r.qty > limits.max_qty:
            return f"order quantity {r.qty:g} above the limit {limits.max_qty:g}"
        ref = r.limit if r.limit is not None else (plan.avg_price if plan.filled else 0.0)
        if not ref:
            levels = self._latest[self._key(r.instrument)]
            side = levels.asks if r.side == "buy" else levels.bids
            ref = side[0][0] if side else 0.0
        if not ref:
            return "no liquidity to price the order"
        if r.qty * ref > limits.max_notional:
            return f"order notional {r.qty * ref:g} above the limit {limits.max_notional:g}"
        return ""

    def cancel(self, customer: str, orig_cl_ord_id: str, reason: str = "canceled by the customer") -> bool:
        """Ask a working order to stop: its final report (Canceled, or Filled if it completed meanwhile)
        follows. False when no such working order."""
        parent = self._parents.get((customer, orig_cl_ord_id))
        if parent is None or parent.done.is_set():
            return False
        parent.cancel_reason = parent.cancel_reason or reason
        parent.wake.set()
        return True

    def order_status(self, customer: str, cl_ord_id: str) -> tuple[str, OrdStatus, float] | None:
        """``(order id, status, cum qty)`` of an order the engine knows, or None."""
        p = self._parents.get((customer, cl_ord_id))
        if p is None:
            return None
        return p.order_id, self._status(p), p.cum

    async def kill(self, reason: str = "kill switch") -> int:
        """Kill switch: refuse new orders, cancel every working one (and its children in flight at the
        venues), wait for their final reports. Returns how many were working."""
        self.killed = reason
        working = [p for p in self._parents.values() if not p.done.is_set()]
        for p in working:
            p.cancel_reason = p.cancel_reason or reason
            p.wake.set()
            for route, req in list(p.working.values()):
                asyncio.get_running_loop().create_task(self._cancel_child(route, req))
        for p in working:
            await p.done.wait()
        if working:
            log.warning("execution: kill switch (%s): %d working orders canceled", reason, len(working))
        return len(working)

    def resume(self) -> None:
        """Accept orders again after :meth:`kill`."""
        self.killed = ""

    async def wait_done(self, customer: str, cl_ord_id: str) -> None:
        p = self._parents.get((customer, cl_ord_id))
        if p is not None:
            await p.done.wait()

    # -- the work -------------------------------------------------------------------------------------
    def _status(self, p: _Parent) -> OrdStatus:
        if p.leaves <= _EPS:
            return OrdStatus.FILLED
        return OrdStatus.PARTIALLY_FILLED if p.cum > _EPS else OrdStatus.NEW

    def _send(self, p: _Parent, exec_type: ExecType, status: OrdStatus, *, last_qty: float = 0.0,
              last_px: float = 0.0, venue: str = "", text: str = "", final: bool = False) -> None:
        r = p.request
        rep = ExecutionReport(
            customer=r.customer, cl_ord_id=r.cl_ord_id, order_id=p.order_id or "NONE",
            exec_id=f"{p.order_id or 'R'}-{next(p.reports)}", exec_type=exec_type, status=status,
            instrument=self._names.get(instrument_key(r.instrument), r.instrument), side=r.side, order_qty=r.qty,
            cum_qty=round(p.cum, 12), avg_px=p.notional / p.cum if p.cum > _EPS else 0.0,
            leaves_qty=0.0 if final or status is OrdStatus.REJECTED else round(p.leaves, 12), last_qty=last_qty,
            last_px=last_px, last_venue=venue, limit=r.limit, tif=r.tif, text=text[:200], final=final,
        )
        try:
            p.report(rep)
        except Exception:  # a customer's connection failing must not stop the order
            log.exception("execution: delivering a report of %s failed", p.order_id)

    async def _work(self, p: _Parent) -> None:
        r = p.request
        key = instrument_key(r.instrument)
        rounds = 0
        try:
            while p.leaves - p.in_doubt > _EPS and not p.cancel_reason:
                qty = round(p.leaves - p.in_doubt, 12)
                try:
                    plan = self.plan(r, exclude=p.excluded, qty=qty)
                except ExecutionError as exc:
                    p.notes.append(str(exc))
                    break
                if not plan.children:
                    if r.tif == "day" and r.limit is not None:
                        await self._wait_for_change(p, key)  # rests until liquidity within the limit, or cancel
                        continue
                    p.notes.append("no more liquidity within the limits" if rounds else
                                   "no liquidity within the limits")
                    break
                rounds += 1
                await asyncio.gather(*(self._child(p, key, c.venue, c.qty, c.limit_price) for c in plan.children))
                if r.tif != "day" and rounds >= self.config.max_rounds:
                    break
                if r.tif == "day" and p.leaves - p.in_doubt > _EPS and not p.cancel_reason:
                    await self._wait_for_change(p, key)
        except asyncio.CancelledError:
            p.notes.append("engine stopped")
        finally:
            self._finish(p)

    async def _wait_for_change(self, p: _Parent, key: str) -> None:
        fresh = self._fresh[key]
        wake = p.wake
        waiters = [asyncio.ensure_future(fresh.wait()), asyncio.ensure_future(wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        p.excluded.clear()  # new liquidity: every venue may be tried again

    def _finish(self, p: _Parent) -> None:
        if p.leaves <= _EPS:
            pass  # the last fill's report was final
        else:
            notes = ([p.cancel_reason] if p.cancel_reason else []) + p.notes
            if p.in_doubt > _EPS:
                notes.append(f"{p.in_doubt:g} in doubt at venues that did not answer")
            self._send(p, ExecType.CANCELED, OrdStatus.CANCELED, text="; ".join(dict.fromkeys(notes)), final=True)
        p.done.set()

    async def _child(self, p: _Parent, key: str, venue: str, qty: float, price: float) -> None:
        route = self.routes[key][venue]
        req = OrderRequest(client_id=new_client_id(), symbol=route.symbol, side=p.request.side, qty=qty, price=price)
        p.working[req.client_id] = (route, req)
        self.stats["children"] += 1
        result: OrderResult | None = None
        try:
            try:
                result = await asyncio.wait_for(route.client.place(req), self.config.child_timeout_s)
            except (OrderError, asyncio.TimeoutError) as exc:
                self.stats["child_timeouts"] += 1
                p.excluded.add(venue)
                log.warning("execution: %s child %s at %s: no answer (%s); querying", p.order_id, req.client_id,
                            venue, type(exc).__name__)
                result = await self._resolve(route, req)
                if result is None:
                    self.stats["in_doubt"] += 1
                    p.in_doubt += qty
                    p.notes.append(f"{venue}: no answer")
                    return
        finally:
            p.working.pop(req.client_id, None)
        if result.status == "rejected":
            self.stats["child_rejects"] += 1
            p.excluded.add(venue)
            p.notes.append(f"{venue} rejected: {result.reason}" if not result.unknown_order else f"{venue}: no order")
        for fill in result.fills:
            self._fill(p, venue, fill.qty, fill.price)
        if result.filled_qty < qty - _EPS:
            p.excluded.add(venue)  # it had less than planned: its book is behind; others first

    async def _resolve(self, route: Route, req: OrderRequest) -> OrderResult | None:
        """An unanswered child's fate at its venue: its status (with fills), an unknown order (nothing
        happened), or None when the venue does not answer the query either."""
        for _ in range(2):
            try:
                res = await asyncio.wait_for(route.client.query(req), self.config.child_timeout_s)
            except (OrderError, asyncio.TimeoutError):
                continue
            if res.unknown_order:
                return OrderResult(client_id=req.client_id, status="rejected", reason="never reached the venue",
                                   unknown_order=True)
            if not res.done:  # still working: cancel it, then read what filled
                await self._cancel_child(route, req)
                try:
                    res = await asyncio.wait_for(route.client.query(req), self.config.child_timeout_s)
                except (OrderError, asyncio.TimeoutError):
                    continue
            return res
        return None

    async def _cancel_child(self, route: Route, req: OrderRequest) -> None:
        try:
            await asyncio.wait_for(route.client.cancel(req), self.config.child_timeout_s)
        except (OrderError, asyncio.TimeoutError) as exc:
            log.warning("execution: cancel of %s at %s failed: %s", req.client_id, route.venue, type(exc).__name__)

    def _fill(self, p: _Parent, venue: str, qty: float, price: float) -> None:
        qty = min(qty, p.leaves)  # never report more than the order (a venue's over-fill is logged)
        if qty <= _EPS:
            log.error("execution: %s: fill of %s at %s beyond the order quantity", p.order_id, venue, price)
            return
        p.cum = round(p.cum + qty, 12)
        p.notional += qty * price
        status = self._status(p)
        self._send(p, ExecType.TRADE, status, last_qty=qty, last_px=price, venue=venue,
                   final=status is OrdStatus.FILLED)


def replace_rules(route: Route, rules: VenueRules) -> Route:
    return replace(route, rules=rules)


def describe(plan: Plan) -> dict[str, Any]:
    """A plan as plain data (logs, JSON)."""
    return {
        "filled": plan.filled, "avg_price": plan.avg_price, "net_avg_price": plan.net_avg_price,
        "best_venue": plan.best_venue, "saving": plan.saving, "improvement_bps": plan.improvement_bps,
        "children": [{"venue": c.venue, "qty": c.qty, "limit_price": c.limit_price} for c in plan.children],
    }
