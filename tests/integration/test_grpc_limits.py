"""What one gRPC client can do to the others (issue 12), and what the server tells about itself.

A peer or a token cannot hold every stream; a client that stops reading is dropped after
``stall_timeout_s``; unknown methods say UNAUTHENTICATED to callers without the token; health has
``List`` and follows venue liveness for ``""`` too; reflection answers under ``v1`` and ``v1alpha``;
a stream skips updates identical for its subscribers. Everything on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from dragonfly.model import VenueHealth, VenueStatus, WorldView
from dragonfly.queues import Broadcast
from dragonfly.services.grpc import BookClient, GrpcClientConfig, GrpcServer, GrpcServerConfig, ServedBook
from dragonfly.services.grpc.protos import orderbook_pb2, orderbook_pb2_grpc
from dragonfly.services.grpc.server import _peer_host
from dragonfly.services.grpc.testing import ViewPump, synthetic_view

T = 20.0
VENUES = ("venue-a", "venue-b")
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED


def _book(views: Broadcast) -> ServedBook:
    return ServedBook(instrument="ETH-BTC", venues=VENUES, depth=10, views=views)


async def _until(pred: Callable[[], bool], what: str) -> None:
    async def loop() -> None:
        while not pred():  # noqa: ASYNC110 - server counters have no event to await
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(loop(), T)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _code(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    """The status a streaming call ends with, reading until it ends."""
    try:
        async for _ in call:
            pass
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return await call.code()


@contextlib.asynccontextmanager
async def proxy_from(source_ip: str, port: int) -> AsyncIterator[str]:
    """A TCP forwarder to 127.0.0.1:``port`` whose connections to the server come from ``source_ip``
    (another loopback address): the server sees another peer."""
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source_ip, 0))
        for t in (pipe(reader, up_w), pipe(up_r, writer)):
            task = asyncio.ensure_future(t)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def test_peer_host_drops_only_the_port() -> None:
    assert _peer_host("ipv4:10.0.0.7:53124") == "ipv4:10.0.0.7"
    assert _peer_host("ipv6:[::1]:53124") == "ipv6:[::1]"
    assert _peer_host("ipv6:%5B::1%5D:5") == "ipv6:%5B::1%5D"
    assert _peer_host("unix:/tmp/x.sock") == "unix:/tmp/x.sock"


async def test_one_peer_cannot_lock_everyone_out() -> None:
    views: Broadcast = Broadcast()
    views.publish(synthetic_view(1))
    cfg = GrpcServerConfig(port=0, max_subscribers=6, max_streams_per_peer=3)
    async with GrpcServer([_book(views)], cfg) as server:
        async with BookClient(GrpcClientConfig(address=server.address)) as hog:
            # one connection opens stream after stream and never reads them
            held = [hog.book_summary() for _ in range(3)]
            await _until(lambda: len(server.subscribers()) == 3, "3 streams of one peer")
            extra = [hog.book_summary() for _ in range(3)]
            assert [await _code(c) for c in extra] == [RESOURCE_EXHAUSTED] * 3
            assert server.stats.refused_per_peer == 3 and server.stats.refused_max_subscribers == 0
            # a newcomer from elsewhere still gets served
            async with proxy_from("127.0.0.2", server.port) as other:
                async with BookClient(GrpcClientConfig(address=other)) as newcomer:
                    msg = await asyncio.wait_for(newcomer.stream_book().read(), T)
                    assert msg.seq == 1
                    assert server.streams_by_peer() == {"ipv4:127.0.0.1": 3, "ipv4:127.0.0.2": 1}
            for c in held:
                c.cancel()
            await _until(lambda: not server.subscribers(), "the streams to end")
            assert server.streams_by_peer() == {}
            assert server.stats.streams_opened == 4


async def test_per_token_limit() -> None:
    views: Broadcast = Broadcast()
    views.publish(synthetic_view(1))
    cfg = GrpcServerConfig(port=0, tokens=("alice-t0k", "bob-t0k"), max_streams_per_token=2)
    async with GrpcServer([_book(views)], cfg) as server:
        async with BookClient(GrpcClientConfig(address=server.address, token="alice-t0k")) as alice, \
                BookClient(GrpcClientConfig(address=server.address, token="bob-t0k")) as bob:
            calls = [alice.stream_book(), alice.book_summary()]
            for c in calls:
                await asyncio.wait_for(c.read(), T)
            assert await _code(alice.stream_book()) == RESOURCE_EXHAUSTED
            bobs = bob.stream_book()
            assert (await asyncio.wait_for(bobs.read(), T)).seq == 1  # another token: served
            assert server.stats.refused_per_token == 1
            assert server.streams_by_token() == {0: 2, 1: 1}  # token indexes, never the tokens
            for c in (*calls, bobs):
                c.cancel()


async def test_a_client_that_stops_reading_is_dropped_after_the_stall_timeout(caplog) -> None:
    views: Broadcast = Broadcast()
    cfg = GrpcServerConfig(port=0, stall_timeout_s=1.0)
    async with GrpcServer([_book(views)], cfg) as server, ViewPump(views, pool=64):
        # a connection of its own, no BDP probing: its window fills and stays full
        stuck_ch = grpc.aio.insecure_channel(server.address, options=[("grpc.http2.bdp_probe", 0)])
        reader_ch = grpc.aio.insecure_channel(server.address)
        try:
            stuck = orderbook_pb2_grpc.OrderbookAggregatorStub(stuck_ch).BookSummary(orderbook_pb2.Empty())
            reader = orderbook_pb2_grpc.OrderbookAggregatorStub(reader_ch).BookSummary(orderbook_pb2.Empty())
            got = 0

            async def read() -> None:
                nonlocal got
                async for _ in reader:
                    got += 1

            reading = asyncio.ensure_future(read())
            await _until(lambda: server.stats.dropped_stalled == 1, "the stalled stream to be dropped")
            assert len(server.subscribers()) == 1  # its place is free at once...
            assert server.streams_by_peer() == {"ipv4:127.0.0.1": 2}  # ...but it counts for its peer until it ends
            before = got
            await _until(lambda: got > before + 10, "the reader to keep receiving")
            assert not reading.done() and server.stats.dropped_stalled == 1
            assert await asyncio.wait_for(_code(stuck), T) == RESOURCE_EXHAUSTED  # it reads what it had, then that
            await _until(lambda: server.streams_by_peer() == {"ipv4:127.0.0.1": 1}, "the stalled call to end")
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        finally:
            await stuck_ch.close()
            await reader_ch.close()
    assert any("not read for 1 s" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unknown_methods_say_unauthenticated_without_the_token() -> None:
    async with GrpcServer([_book(Broadcast())], GrpcServerConfig(port=0, token="s3cret")) as server:
        async with grpc.aio.insecure_channel(server.address) as ch:
            for metadata, code in ((None, grpc.StatusCode.UNAUTHENTICATED),
                                   ((("authorization", "Bearer wrong"),), grpc.StatusCode.UNAUTHENTICATED),
                                   ((("authorization", "Bearer s3cret"),), grpc.StatusCode.UNIMPLEMENTED)):
                for path in ("/dragonfly.v1.Aggregator/Nope", "/no.such.Service/Call"):
                    unary = ch.unary_unary(path)
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await unary(b"", metadata=metadata, timeout=T)
                    assert info.value.code() == code, (path, metadata)
                    stream = ch.unary_stream(path)(b"", metadata=metadata, timeout=T)
                    assert await _code(stream) == code, (path, metadata)
            # probes need no token
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=T)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert server.stats.unauthenticated == 8


def _view(seq: int, statuses: dict[str, VenueStatus]) -> WorldView:
    base = synthetic_view(seq, venues=tuple(statuses))
    venues = {v: h if statuses[v] is VenueStatus.LIVE else VenueHealth(v, statuses[v], 0, "test")
              for v, h in base.venues.items()}
    return WorldView("ETH-BTC", seq, base.bids, base.asks, base.spread, venues, books=base.books)


async def test_health_list_and_the_overall_status_follow_venues(caplog) -> None:
    views: Broadcast = Broadcast()
    L, S = VenueStatus.LIVE, VenueStatus.STALE
    serving, not_serving = health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING
    async with GrpcServer([_book(views)], GrpcServerConfig(port=0, health_follows_venues=True)) as server:
        async with grpc.aio.insecure_channel(server.address) as ch:
            stub = health_pb2_grpc.HealthStub(ch)

            async def listed() -> dict[str, int]:
                reply = await stub.List(health_pb2.HealthListRequest(), timeout=T)
                return {k: v.status for k, v in reply.statuses.items()}

            async def overall(want: int) -> None:
                call = stub.Watch(health_pb2.HealthCheckRequest(service=""))
                async for r in call:
                    if r.status == want:
                        break
                call.cancel()

            keys = {"", "orderbook.OrderbookAggregator", "dragonfly.v1.Aggregator",
                    "orderbook.OrderbookAggregator/ETH-BTC", "dragonfly.v1.Aggregator/ETH-BTC"}
            assert await listed() == dict.fromkeys(keys, not_serving)  # nothing LIVE yet: not even ""
            views.publish(_view(1, {"venue-a": L, "venue-b": S}))
            await asyncio.wait_for(overall(serving), T)
            assert await listed() == dict.fromkeys(keys, serving)
            views.publish(_view(2, {"venue-a": S, "venue-b": S}))
            await asyncio.wait_for(overall(not_serving), T)
            assert (await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=T)).status == not_serving
            assert server.health_statuses()[""] == "NOT_SERVING"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no NotImplementedError traceback


@pytest.mark.parametrize("package", ["grpc.reflection.v1", "grpc.reflection.v1alpha"])
async def test_reflection_answers_under_v1_and_v1alpha(package: str) -> None:
    async with GrpcServer([_book(Broadcast())], GrpcServerConfig(port=0)) as server:
        async with grpc.aio.insecure_channel(server.address) as ch:
            # the two versions have the same messages: the v1alpha classes encode v1 requests too
            method = ch.stream_stream(
                f"/{package}.ServerReflection/ServerReflectionInfo",
                request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
            )
            requests = [
                reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="dragonfly.v1.Aggregator"),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol=f"{package}.ServerReflection"),
            ]
            answers = [a async for a in method(iter(requests), timeout=T)]
    names = {s.name for s in answers[0].list_services_response.service}
    assert {"orderbook.OrderbookAggregator", "dragonfly.v1.Aggregator", "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} <= names
    for answer in answers[1:]:
        assert not answer.HasField("error_response"), answer.error_response
        assert answer.file_descriptor_response.file_descriptor_proto


async def test_a_venue_filtered_stream_skips_updates_identical_for_it() -> None:
    views: Broadcast = Broadcast()
    first = synthetic_view(1, venues=VENUES)
    views.publish(first)

    def moved(seq: int, venue: str, base: WorldView) -> WorldView:
        """``base`` with ``venue``'s top bid quantity changed and a later time on every venue."""
        (bids, asks) = base.books[venue]
        books = {**base.books, venue: (((bids[0][0], bids[0][1] + 1.0), *bids[1:]), asks)}
        health = {v: VenueHealth(v, h.status, h.last_update_ns + seq, h.reason) for v, h in base.venues.items()}
        from dragonfly._core.merge import merge_levels

        b, a = merge_levels(books, 10)
        return WorldView("ETH-BTC", seq, tuple(b), tuple(a), a[0][1] - b[0][1], health, books=books)

    async with GrpcServer([_book(views)], GrpcServerConfig(port=0)) as server:
        async with BookClient(GrpcClientConfig(address=server.address)) as client:
            only_b = client.stream_book(venues=["venue-b"])
            everything = client.stream_book()
            assert (await asyncio.wait_for(only_b.read(), T)).seq == 1
            assert (await asyncio.wait_for(everything.read(), T)).seq == 1
            v2 = moved(2, "venue-a", first)  # venue-a moves: nothing new for venue-b's subscribers
            views.publish(v2)
            assert (await asyncio.wait_for(everything.read(), T)).seq == 2
            v3 = moved(3, "venue-b", v2)
            views.publish(v3)
            assert (await asyncio.wait_for(everything.read(), T)).seq == 3
            got = await asyncio.wait_for(only_b.read(), T)
            assert got.seq == 3  # seq 2 was not sent to it
            assert got.bids[0].amount == v3.books["venue-b"][0][0][1]
            # a change of the venue's health is news, even with the same levels
            v4 = WorldView("ETH-BTC", 4, v3.bids, v3.asks, v3.spread,
                           {**v3.venues, "venue-b": VenueHealth("venue-b", VenueStatus.STALE, 0, "gone")},
                           books=v3.books)
            views.publish(v4)
            got = await asyncio.wait_for(only_b.read(), T)
            assert got.seq == 4 and got.venues[0].reason == "gone"
            (stream,) = [s for s in server.streams() if s.key[3] == ("venue-b",)]
            assert (stream.encoded, stream.unchanged) == (3, 1)
            only_b.cancel()
            everything.cancel()
