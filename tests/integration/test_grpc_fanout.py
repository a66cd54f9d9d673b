"""50 subscribers and one that never reads: the others keep receiving, memory stays bounded.

Views are published as fast as the loop allows, so every subscriber is pushed;
the assertions are on the server's own per-subscriber counters (slot size,
skipped), never on timing.
"""

from __future__ import annotations

import asyncio

import grpc

from dragonfly.queues import Broadcast
from dragonfly.services.grpc import GrpcServer, GrpcServerConfig, ServedBook
from dragonfly.services.grpc.protos import aggregator_pb2_grpc, book_pb2, orderbook_pb2, orderbook_pb2_grpc
from dragonfly.services.grpc.testing import ViewPump

TIMEOUT = 120.0
READERS = 50
MORE = 20  # updates every reader must receive after the stuck one is stuck


async def test_stuck_subscriber_is_conflated_and_slows_no_one() -> None:
    views: Broadcast = Broadcast(name="views")
    book = ServedBook(instrument="ETH-BTC", venues=("binance", "bitstamp"), depth=10, views=views)
    # the stuck subscriber must stay (conflated) for this test: no stall timeout (test_grpc_limits has that)
    server = GrpcServer([book], GrpcServerConfig(port=0, stall_timeout_s=None))
    await server.start()
    # the stuck client has a connection of its own (a stalled stream must not eat
    # a shared connection's flow-control window) and never reads
    stuck_ch = grpc.aio.insecure_channel(
        server.address, options=[("grpc.use_local_subchannel_pool", 1), ("grpc.http2.bdp_probe", 0)]
    )
    stuck_call = orderbook_pb2_grpc.OrderbookAggregatorStub(stuck_ch).BookSummary(orderbook_pb2.Empty())
    channels = [
        grpc.aio.insecure_channel(server.address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(5)
    ]
    received = [0] * READERS
    last_seq = [0] * READERS
    seq_went_back = []

    async def reader(i: int) -> None:
        ch = channels[i % len(channels)]
        if i % 2:
            call = aggregator_pb2_grpc.AggregatorStub(ch).StreamBook(book_pb2.BookRequest())
            async for msg in call:
                if msg.seq <= last_seq[i]:
                    seq_went_back.append((i, last_seq[i], msg.seq))
                last_seq[i] = msg.seq
                received[i] += 1
        else:
            call = orderbook_pb2_grpc.OrderbookAggregatorStub(ch).BookSummary(orderbook_pb2.Empty())
            async for msg in call:
                assert msg.bids and msg.asks
                received[i] += 1

    max_pending = 0

    def watch() -> None:
        nonlocal max_pending
        for s in server.subscribers():
            max_pending = max(max_pending, s.pending)
            assert s.pending <= s.capacity == 1

    pump = ViewPump(views, pool=16)

    async def publish() -> None:
        while True:
            views.publish(pump.next_view())
            watch()
            await asyncio.sleep(0)

    async def until(pred, what: str) -> None:
        async def loop() -> None:
            while not pred():  # noqa: ASYNC110 - server state (subscribers, counters) has no event to await
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(loop(), TIMEOUT)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; received={received}") from None

    def stuck():
        (s,) = [s for s in server.subscribers() if s.id == stuck_id]
        return s

    await until(lambda: len(server.subscribers()) == 1, "the stuck subscriber")
    stuck_id = server.subscribers()[0].id
    publisher = asyncio.ensure_future(publish())
    readers: list[asyncio.Future] = []
    try:
        # phase 1: alone with the publisher, the stuck subscriber's connection fills
        # up; it is "stuck" once 2000 publishes in a row got nothing more through
        progress = {"sent": -1, "since": 0}

        def blocked() -> bool:
            s = stuck()
            if s.sent != progress["sent"]:
                progress.update(sent=s.sent, since=pump.published)
            return pump.published - progress["since"] >= 2000

        await until(blocked, "the stuck subscriber's transport to fill up")
        sent_when_stuck = stuck().sent
        skipped_when_stuck = stuck().skipped
        # phase 2: 50 readers join and keep receiving while it stays stuck
        readers = [asyncio.ensure_future(reader(i)) for i in range(READERS)]
        await until(lambda: len(server.subscribers()) == READERS + 1, "all subscribers")
        base = list(received)
        await until(
            lambda: all(r >= b + MORE for r, b in zip(received, base, strict=True)), f"every reader to get {MORE} more"
        )
        s = stuck()
        assert s.sent == sent_when_stuck  # nothing got through to it...
        assert s.skipped > skipped_when_stuck  # ...it is conflated, holding only the newest
        assert s.pending <= 1
        assert max_pending <= 1  # no subscriber ever held more than one update
        assert all(r >= MORE for r in received)
        assert not seq_went_back
        # one encode per update for all BookSummary subscribers (25 readers + the stuck one)
        summary = [st for st in server.streams() if st.key[0] == "summary"]
        assert len(summary) == 1 and summary[0].subscribers == READERS // 2 + 1
        assert summary[0].encoded <= pump.published
    finally:
        publisher.cancel()
        await server.stop(0)
        for t in readers:
            t.cancel()
        await asyncio.gather(publisher, *readers, return_exceptions=True)
        stuck_call.cancel()
        await stuck_ch.close()
        for ch in channels:
            await ch.close()
