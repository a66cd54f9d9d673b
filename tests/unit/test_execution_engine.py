"""The execution engine over in-memory venues: fills reported as the venues book them, risk controls,
rejects and timeouts re-planned or reported, never lost; the kill switch; Day orders resting."""

from __future__ import annotations

import asyncio
import math

import pytest

from dragonfly.clients.orders import Fill, OrderRequest, OrderResult
from dragonfly.errors import OrderTimeoutError
from dragonfly.model import LiquidityView
from dragonfly.queues import Broadcast
from dragonfly.services.execution import (
    ExecType,
    ExecutionConfig,
    ExecutionEngine,
    ExecutionReport,
    OrdStatus,
    ParentRequest,
    RiskLimits,
    Route,
    VenueRules,
)


class FakeVenue:
    """An order entry with a book of bids: sells fill against it, immediate-or-cancel."""

    def __init__(self, name: str, bids: list[tuple[float, float]]) -> None:
        self.name = name
        self.bids = list(bids)
        self.orders: dict[str, OrderResult] = {}
        self.reject = 0
        self.hang = 0
        self.hang_query = False
        self.execute_hung = False
        self.booked = 0.0
        self.cancels = 0

    async def place(self, order: OrderRequest) -> OrderResult:
        if self.reject:
            self.reject -= 1
            return OrderResult(client_id=order.client_id, status="rejected", reason="insufficient balance")
        if self.hang:
            self.hang -= 1
            if self.execute_hung:
                self._execute(order)
            await asyncio.Event().wait()
        return self._execute(order)

    def _execute(self, order: OrderRequest) -> OrderResult:
        left = order.qty
        fills = []
        while left > 1e-12 and self.bids and (order.price is None or self.bids[0][0] >= order.price):
            p, q = self.bids[0]
            t = min(q, left)
            fills.append(Fill(p, t))
            left -= t
            self.booked += t
            if q - t > 1e-12:
                self.bids[0] = (p, q - t)
            else:
                self.bids.pop(0)
        res = OrderResult(client_id=order.client_id, venue_order_id=str(len(self.orders) + 1),
                          status="filled" if left <= 1e-12 else "expired", fills=tuple(fills))
        self.orders[order.client_id] = res
        return res

    async def query(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult:
        if self.hang_query:
            raise OrderTimeoutError("no answer", venue=self.name)
        found = self.orders.get(order.client_id)
        if found is None:
            return OrderResult(client_id=order.client_id, status="rejected", unknown_order=True)
        return found

    async def cancel(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult:
        self.cancels += 1
        return OrderResult(client_id=order.client_id, status="rejected", unknown_order=True)

    async def close(self) -> None:
        pass


def view(venues: dict[str, FakeVenue], seq: int = 1) -> LiquidityView:
    levels: dict[float, dict[str, float]] = {}
    for name, v in venues.items():
        for p, q in v.bids:
            levels.setdefault(p, {})[name] = q
    bids = tuple((p, math.fsum(d.values()), d) for p, d in sorted(levels.items(), reverse=True))
    return LiquidityView("ETH-BTC", seq, bids, ())


class Harness:
    def __init__(self, venues: dict[str, FakeVenue], config: ExecutionConfig | None = None) -> None:
        self.venues = venues
        self.bc: Broadcast[LiquidityView] = Broadcast("liq")
        routes = {"ETH-BTC": {n: Route(n, v, "ETHBTC", VenueRules()) for n, v in venues.items()}}  # type: ignore[arg-type]
        self.engine = ExecutionEngine({"ETH-BTC": self.bc},
                                      routes, config or ExecutionConfig(child_timeout_s=0.2))
        self.reports: list[ExecutionReport] = []
        self.seq = 0

    async def __aenter__(self) -> Harness:  # noqa: PYI034
        await self.engine.start()
        await self.publish()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.stop()

    async def publish(self) -> None:
        self.seq += 1
        self.bc.publish(view(self.venues, self.seq))
        await self.engine.wait_liquidity("ETH-BTC", min_seq=self.seq)

    async def run(self, **kw: object) -> list[ExecutionReport]:
        args = {"customer": "C", "cl_ord_id": "1", "instrument": "ethbtc", "side": "sell", "qty": 5.0, **kw}
        req = ParentRequest(**args)  # type: ignore[arg-type]
        start = len(self.reports)
        oid = self.engine.submit(req, self.reports.append)
        if oid:
            await asyncio.wait_for(self.engine.wait_done(req.customer, req.cl_ord_id), 10)
        return self.reports[start:]


class Reports(list):  # type: ignore[type-arg]
    """Reports as they come, awaitable."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def append(self, item: ExecutionReport) -> None:  # type: ignore[override]
        super().append(item)
        self.changed.set()

    async def until(self, pred) -> None:  # type: ignore[no-untyped-def]
        while not pred(self):
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 10)


def trades(reports: list[ExecutionReport]) -> float:
    return math.fsum(r.last_qty for r in reports if r.exec_type is ExecType.TRADE)


async def test_liquidates_across_venues_and_reports_every_fill() -> None:
    venues = {"a": FakeVenue("a", [(100.0, 2.0), (98.0, 5.0)]), "b": FakeVenue("b", [(99.0, 2.0), (97.0, 5.0)])}
    async with Harness(venues) as h:
        plan = h.engine.plan(ParentRequest(customer="C", cl_ord_id="p", instrument="ETH-BTC", side="sell", qty=5.0))
        assert {c.venue: c.qty for c in plan.children} == {"a": 3.0, "b": 2.0}
        assert plan.best_venue in ("a", "b") and plan.saving > 0
        reps = await h.run()
    assert reps[0].exec_type is ExecType.NEW and reps[0].status is OrdStatus.NEW
    assert reps[-1].status is OrdStatus.FILLED and reps[-1].final and reps[-1].leaves_qty == 0
    assert trades(reps) == pytest.approx(5.0) == pytest.approx(venues["a"].booked + venues["b"].booked)
    assert reps[-1].avg_px == pytest.approx((200 + 98 + 198) / 5)
    assert {r.last_venue for r in reps if r.exec_type is ExecType.TRADE} == {"a", "b"}
    assert sum(r.final for r in reps) == 1


async def test_risk_controls_refuse() -> None:
    venues = {"a": FakeVenue("a", [(100.0, 10.0)])}
    config = ExecutionConfig(limits={"C": RiskLimits(max_qty=4.0, max_notional=350.0)}, child_timeout_s=0.2)
    async with Harness(venues, config) as h:
        assert "above the limit 4" in (await h.run(qty=5.0))[0].text
        assert "notional" in (await h.run(qty=3.9, cl_ord_id="2"))[0].text  # 390 > 350
        ok = await h.run(qty=3.0, cl_ord_id="3")
        assert ok[-1].status is OrdStatus.FILLED
        dup = await h.run(qty=1.0, cl_ord_id="3")
        assert dup[0].status is OrdStatus.REJECTED and "duplicate ClOrdID" in dup[0].text and dup[0].final
        assert "unknown instrument" in (await h.run(cl_ord_id="4", instrument="XRP-EUR"))[0].text
    assert venues["a"].booked == pytest.approx(3.0)
    h2 = Harness({"a": FakeVenue("a", [(100.0, 10.0)])}, ExecutionConfig(live=False))
    async with h2:
        assert "planning only" in (await h2.run())[0].text
        assert h2.engine.plan(ParentRequest(customer="C", cl_ord_id="x", instrument="ETH-BTC", side="sell",
                                            qty=1.0)).filled == 1.0


async def test_a_rejecting_venue_is_replanned_elsewhere() -> None:
    venues = {"a": FakeVenue("a", [(100.0, 3.0)]), "b": FakeVenue("b", [(99.0, 9.0)])}
    venues["a"].reject = 1
    async with Harness(venues) as h:
        reps = await h.run(qty=5.0)
    assert reps[-1].status is OrdStatus.FILLED
    assert venues["a"].booked == 0 and venues["b"].booked == pytest.approx(5.0)


async def test_a_venue_that_times_out() -> None:
    # the order never reached it: the query says so, the quantity goes elsewhere
    venues = {"a": FakeVenue("a", [(100.0, 3.0)]), "b": FakeVenue("b", [(99.0, 9.0)])}
    venues["a"].hang = 1
    async with Harness(venues) as h:
        reps = await h.run(qty=5.0)
        assert reps[-1].status is OrdStatus.FILLED and venues["b"].booked == pytest.approx(5.0)
        # it executed but the answer was lost: the query finds the fills, they are reported once
        venues["a"].hang, venues["a"].execute_hung = 1, True
        venues["a"].bids = [(100.0, 3.0)]
        venues["b"].bids = [(99.0, 9.0)]
        await h.publish()
        reps = await h.run(qty=5.0, cl_ord_id="2")
        assert reps[-1].status is OrdStatus.FILLED
        assert [r.last_venue for r in reps if r.exec_type is ExecType.TRADE].count("a") == 1
        assert trades(reps) == pytest.approx(5.0)
        # even the query fails: the quantity is in doubt, not sent again, and the final report says so
        venues["a"].hang, venues["a"].hang_query = 1, True
        venues["a"].bids = [(100.0, 3.0)]
        venues["b"].bids = [(99.0, 1.0)]
        await h.publish()
        reps = await h.run(qty=5.0, cl_ord_id="3")
    final = reps[-1]
    assert final.final and final.status is OrdStatus.CANCELED and "in doubt" in final.text
    assert final.cum_qty == pytest.approx(1.0)  # b's 1; a's 3 in doubt; 1 more had no liquidity


async def test_kill_switch_cancels_working_orders() -> None:
    venues = {"a": FakeVenue("a", [(100.0, 1.0)])}
    async with Harness(venues) as h:
        req = ParentRequest(customer="C", cl_ord_id="day", instrument="ETH-BTC", side="sell", qty=3.0, limit=99.0,
                            tif="day")
        reps = Reports()
        h.engine.submit(req, reps.append)
        await reps.until(lambda rs: any(r.exec_type is ExecType.TRADE for r in rs))
        assert h.engine.working() == [req]  # 1 filled, 2 resting at the engine for liquidity at 99 or better
        venues["a"].bids = [(99.5, 1.0)]
        await h.publish()  # new liquidity: it takes it
        await reps.until(lambda rs: sum(r.exec_type is ExecType.TRADE for r in rs) == 2)
        assert await h.engine.kill("test") == 1
        assert reps[-1].final and reps[-1].status is OrdStatus.CANCELED and "test" in reps[-1].text
        assert reps[-1].cum_qty == pytest.approx(2.0)
        refused = await h.run(cl_ord_id="after")
        assert refused[0].status is OrdStatus.REJECTED and "kill switch" in refused[0].text
        h.engine.resume()
        venues["a"].bids = [(99.5, 5.0)]
        await h.publish()
        assert (await h.run(cl_ord_id="resumed", qty=1.0))[-1].status is OrdStatus.FILLED


async def test_cancel_a_resting_day_order() -> None:
    venues = {"a": FakeVenue("a", [(100.0, 1.0)])}
    async with Harness(venues) as h:
        req = ParentRequest(customer="C", cl_ord_id="d", instrument="ETH-BTC", side="sell", qty=3.0, limit=100.0,
                            tif="day")
        reps = Reports()
        h.engine.submit(req, reps.append)
        await reps.until(lambda rs: any(r.exec_type is ExecType.TRADE for r in rs))
        assert h.engine.cancel("C", "d")
        await h.engine.wait_done("C", "d")
        assert not h.engine.cancel("C", "d")
    assert [r.status for r in reps] == [OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED, OrdStatus.CANCELED]
    assert reps[-1].cum_qty == 1.0 and reps[-1].leaves_qty == 0.0
