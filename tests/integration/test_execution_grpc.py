"""``dragonfly.v1.Execution`` over gRPC: Plan (a dry run), Submit (the reports of a large order split
across simulated venues, fills = what the venues booked), Cancel and the kill switch."""

from __future__ import annotations

import math

import grpc

from dragonfly.execution import build_engine
from dragonfly.services.execution.grpc_service import ExecutionGrpcServer
from dragonfly.services.grpc.protos import execution_pb2 as pb
from dragonfly.services.grpc.protos import execution_pb2_grpc
from dragonfly.topology import Pipeline, PipelineConfig

VENUES = ("binance", "bitstamp-diff", "kraken")


async def test_plan_submit_cancel_kill_over_grpc() -> None:
    config = PipelineConfig(instrument="ETH-BTC", venues=VENUES, simulate=True, depth=10)
    async with Pipeline(config) as pipe:
        engine = build_engine([pipe])
        server = ExecutionGrpcServer(engine)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(server.address) as channel:
                stub = execution_pb2_grpc.ExecutionStub(channel)
                seen: set[str] = set()
                while seen != set(VENUES):  # wait for every venue's liquidity
                    view = await engine.wait_liquidity("ETH-BTC", min_seq=(engine.latest("ETH-BTC").seq + 1
                                                                           if engine.latest("ETH-BTC") else 0))
                    seen = {v for _p, _t, d in view.bids for v in d}
                per_venue = sorted((math.fsum(d.get(v, 0.0) for _p, _t, d in view.bids) for v in VENUES),
                                   reverse=True)
                qty = round(per_venue[0] + per_venue[1] / 2, 4)  # more than any single venue has
                req = pb.OrderRequest(client_order_id="G1", instrument="ethbtc", side=pb.SIDE_SELL, quantity=qty,
                                      customer="bot")
                plan = await stub.Plan(req)
                assert len(plan.children) >= 2 and plan.filled > 0
                assert plan.best_venue in VENUES and plan.saving >= 0
                assert math.isclose(math.fsum(c.quantity for c in plan.children), plan.filled, rel_tol=1e-9)
                reports = [r async for r in stub.Submit(req)]
                assert reports[0].exec_type == pb.EXEC_TYPE_NEW and reports[-1].final
                assert sum(r.final for r in reports) == 1
                trades = [r for r in reports if r.exec_type == pb.EXEC_TYPE_TRADE]
                assert len({r.last_venue for r in trades}) >= 2
                filled = math.fsum(r.last_quantity for r in trades)
                assert math.isclose(reports[-1].cum_quantity, filled, rel_tol=1e-9)
                booked = math.fsum(pipe.sim[v].orders.booked_qty("ETH-BTC") for v in VENUES)
                assert math.isclose(filled, booked, rel_tol=1e-9)
                # the same ClOrdID again: refused
                again = [r async for r in stub.Submit(req)]
                assert again[-1].status == pb.ORDER_STATUS_REJECTED and "duplicate" in again[-1].text
                # a Day limit order far from the market rests; the kill switch cancels it
                far = pb.OrderRequest(client_order_id="G2", instrument="ETH-BTC", side=pb.SIDE_SELL, quantity=1.0,
                                      limit_price=view.bids[0][0] * 3, time_in_force=pb.TIME_IN_FORCE_DAY,
                                      customer="bot")
                stream = stub.Submit(far)
                first = await stream.read()
                assert first.status == pb.ORDER_STATUS_NEW
                assert (await stub.Kill(pb.KillRequest(reason="test"))).canceled == 1
                last = await stream.read()
                assert last.final and last.status == pb.ORDER_STATUS_CANCELED and "test" in last.text
                refused = [r async for r in stub.Submit(pb.OrderRequest(
                    client_order_id="G3", instrument="ETH-BTC", side=pb.SIDE_SELL, quantity=0.1, customer="bot"))]
                assert "kill switch" in refused[-1].text
                await stub.Kill(pb.KillRequest(resume=True))
                assert not (await stub.Cancel(pb.CancelRequest(customer="bot", client_order_id="G2"))).accepted
        finally:
            await server.stop()
