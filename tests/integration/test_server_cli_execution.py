"""``dragonfly grpc-server --execution`` end to end: one command serves the book over gRPC and FIX and takes orders
on both (gRPC ``dragonfly.v1.Execution``, FIX 35=D answered with 35=8), filled by the simulated venues; the
``--max-order-qty`` limit refuses a larger order. The options' checks are in ``tests/unit/test_cli.py``."""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import sys
import time

import grpc

from dragonfly.clients.fix import FixClient
from dragonfly.services.grpc import BookClient, GrpcClientConfig
from dragonfly.services.grpc.protos import execution_pb2, execution_pb2_grpc

T = 30.0
ROUTED = {"binance", "bitstamp"}


async def _both_venues_bid(address: str) -> None:
    """Wait for a summed-liquidity update with bids from every simulated venue."""
    async with BookClient(GrpcClientConfig(address=address)) as client:
        await client.wait_ready(T)
        call = client.stream_liquidity()
        try:
            async def seen() -> None:
                async for m in call:
                    if {v.exchange for level in m.bids for v in level.venues} >= ROUTED:
                        return
            await asyncio.wait_for(seen(), T)
        finally:
            call.cancel()


async def test_grpc_server_takes_orders_over_grpc_and_fix() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dragonfly", "grpc-server", "--instrument-name", "ethbtc", "--simulate", "--seed", "4",
        "--port", "0", "--fix-port", "0", "--fix-customer", "TRADER:pw", "--execution", "--max-order-qty", "5",
        stderr=asyncio.subprocess.PIPE, env=env,
    )
    try:
        assert proc.stderr is not None
        lines = [(await asyncio.wait_for(proc.stderr.readline(), T)).decode().strip() for _ in range(3)]
        grpc_at = re.search(r"serving ETH-BTC from simulated venues binance, bitstamp on (127\.0\.0\.1:\d+)", lines[0])
        fix_at = re.search(r"FIX 4\.4 at 127\.0\.0\.1:(\d+) as DRAGONFLY for TRADER", lines[1])
        assert grpc_at and fix_at, lines
        assert lines[2] == "dragonfly grpc-server: execution: orders to binance, bitstamp", lines
        address = grpc_at.group(1)
        await _both_venues_bid(address)

        async with grpc.aio.insecure_channel(address) as channel:
            stub = execution_pb2_grpc.ExecutionStub(channel)
            req = execution_pb2.OrderRequest(client_order_id="G1", instrument="ETH-BTC", side=execution_pb2.SIDE_SELL,
                                             quantity=0.05, customer="bot")
            plan = await stub.Plan(req)
            assert plan.children and {c.venue for c in plan.children} <= ROUTED
            replies = [r async for r in stub.Submit(req)]
            assert replies[0].exec_type == execution_pb2.EXEC_TYPE_NEW and replies[-1].final
            trades = [r for r in replies if r.exec_type == execution_pb2.EXEC_TYPE_TRADE]
            assert trades and {r.last_venue for r in trades} <= ROUTED
            assert replies[-1].cum_quantity == math.fsum(r.last_quantity for r in trades) > 0
            # --max-order-qty 5: a larger order is refused, with a final report saying why
            big = execution_pb2.OrderRequest(client_order_id="G2", instrument="ETH-BTC",
                                             side=execution_pb2.SIDE_SELL, quantity=6.0, customer="bot")
            refused = [r async for r in stub.Submit(big)]
            assert len(refused) == 1 and refused[0].status == execution_pb2.ORDER_STATUS_REJECTED
            assert refused[0].final and "limit" in refused[0].text

        # the FIX server of the same command takes a NewOrderSingle on the market-data session
        client = FixClient.build(host="127.0.0.1", port=int(fix_at.group(1)), sender_comp_id="TRADER",
                                 target_comp_id="DRAGONFLY", password="pw")
        await client.connect()
        try:
            now = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
            await client.send_message("D", [(11, "F1"), (55, "ETH-BTC"), (54, "2"), (60, now), (38, "0.05"),
                                            (40, "1"), (59, "3")])
            it = client.messages().__aiter__()
            reports = []
            while not reports or reports[-1].get(39) not in ("2", "4", "8"):
                msg = await asyncio.wait_for(it.__anext__(), T)
                if msg.msg_type == "8":
                    reports.append({t: msg.get_str(t) for t in (11, 14, 30, 32, 39, 150)})
            assert reports[0][150] == "0" and all(r[11] == "F1" for r in reports)
            trades_fix = [r for r in reports if r[150] == "F"]
            assert trades_fix and {r[30] for r in trades_fix} <= ROUTED
            assert float(reports[-1][14]) == math.fsum(float(r[32]) for r in trades_fix) > 0
            await it.aclose()
        finally:
            await client.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), T) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
