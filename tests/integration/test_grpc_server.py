"""The gRPC server on 127.0.0.1, fed by synthetic views, read with the generated stubs."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dragonfly.errors import ConfigError
from dragonfly.queues import Broadcast
from dragonfly.services.grpc import BindError, BookClient, GrpcClientConfig, GrpcServer, GrpcServerConfig, ServedBook
from dragonfly.services.grpc.protos import book_pb2, orderbook_pb2, orderbook_pb2_grpc
from dragonfly.services.grpc.testing import synthetic_view

TIMEOUT = 20.0
VENUES = ("venue-a", "venue-b")  # synthetic_view's venues


def _book(views: Broadcast, instrument: str = "ETH-BTC", depth: int = 10) -> ServedBook:
    return ServedBook(instrument=instrument, venues=VENUES, depth=depth, views=views)


async def _until(pred, what: str) -> None:
    async def loop() -> None:
        while not pred():  # noqa: ASYNC110 - the server's subscriber list has no event to await
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(loop(), TIMEOUT)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _take(call, n: int) -> list:
    out = []
    async for msg in call:
        out.append(msg)
        if len(out) >= n:
            break
    call.cancel()
    return out


def _channel(address: str, **kw) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)], **kw)


@pytest.fixture
async def served():
    views: Broadcast = Broadcast(name="views")
    server = GrpcServer([_book(views), _book(Broadcast(), "BTC-USDT", depth=5)], GrpcServerConfig(port=0))
    await server.start()
    try:
        yield server, views
    finally:
        await server.stop(0)


def _check_book(bids, asks, spread) -> None:
    assert bids and asks
    bp = [lv.price for lv in bids]
    ap = [lv.price for lv in asks]
    assert bp == sorted(bp, reverse=True)
    assert ap == sorted(ap)
    assert spread == ap[0] - bp[0]
    assert {lv.exchange for lv in bids} | {lv.exchange for lv in asks} <= set(VENUES)


async def test_book_summary_is_the_view_encoded(served) -> None:
    server, views = served
    async with _channel(server.address) as ch:
        call = orderbook_pb2_grpc.OrderbookAggregatorStub(ch).BookSummary(orderbook_pb2.Empty())
        await _until(lambda: server.subscribers(), "the subscriber")
        view = synthetic_view(7)
        views.publish(view)
        (msg,) = await _take(call, 1)
    assert [(lv.exchange, lv.price, lv.amount) for lv in msg.bids] == list(view.bids)
    assert [(lv.exchange, lv.price, lv.amount) for lv in msg.asks] == list(view.asks)
    _check_book(msg.bids, msg.asks, msg.spread)
    assert msg.spread == view.asks[0][1] - view.bids[0][1]


async def test_new_subscriber_starts_from_the_latest_view(served) -> None:
    server, views = served
    views.publish(synthetic_view(1))
    views.publish(synthetic_view(2))
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        (msg,) = await _take(client.stream_book(), 1)
    assert msg.seq == 2 and msg.instrument == "ETH-BTC"


async def test_stream_book_fields_and_venue_health(served) -> None:
    server, views = served
    view = synthetic_view(3)
    views.publish(view)
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        (msg,) = await _take(client.stream_book(instrument="ethbtc"), 1)
    assert msg.seq == 3
    assert msg.receive_ts_ns == view.receive_ts_ns and msg.exchange_ts_ns == view.exchange_ts_ns
    assert msg.publish_ts_ns == view.publish_ts_ns > 0
    assert [(h.venue, h.status) for h in msg.venues] == [(v, book_pb2.VENUE_STATUS_LIVE) for v in VENUES]
    _check_book(msg.bids, msg.asks, msg.spread)
    assert len(msg.bids) == len(msg.asks) == 10


async def test_depth_and_venue_filter_remerge_each_venues_top(served) -> None:
    server, views = served
    view = synthetic_view(4)
    views.publish(view)
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        (only,) = await _take(client.stream_book(venues=["venue-b"], depth=3), 1)
        (both,) = await _take(client.stream_book(depth=2), 1)
    # the subset keeps its own top 3, not what survived in the consolidated top 10
    assert [(lv.exchange, lv.price, lv.amount) for lv in only.bids] == [
        ("venue-b", p, q) for p, q in view.books["venue-b"][0][:3]
    ]
    assert [(lv.exchange, lv.price, lv.amount) for lv in only.asks] == [
        ("venue-b", p, q) for p, q in view.books["venue-b"][1][:3]
    ]
    assert [h.venue for h in only.venues] == ["venue-b"]
    assert only.spread == only.asks[0].price - only.bids[0].price
    assert [(lv.exchange, lv.price, lv.amount) for lv in both.bids] == list(view.bids[:2])


async def test_liquidity_stream_sums_venues(served) -> None:
    server, views = served
    view = synthetic_view(5)
    views.publish(view)
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        (msg,) = await _take(client.stream_liquidity(depth=4), 1)
    assert msg.seq == 5 and len(msg.bids) == 4
    for lv in list(msg.bids) + list(msg.asks):
        assert lv.amount == pytest.approx(sum(p.amount for p in lv.venues))
        assert all(p.price == lv.price for p in lv.venues)
    assert [lv.price for lv in msg.bids] == sorted((lv.price for lv in msg.bids), reverse=True)


async def test_seq_gaps_are_visible_to_a_slow_reader(served) -> None:
    server, views = served
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        call = client.stream_book()
        views.publish(synthetic_view(1))
        first = await asyncio.wait_for(call.read(), TIMEOUT)
        for seq in range(2, 200):  # faster than anyone downstream can take them
            views.publish(synthetic_view(seq))
        rest = []
        while not rest or rest[-1].seq != 199:
            rest.append(await asyncio.wait_for(call.read(), TIMEOUT))
        call.cancel()
    seqs = [first.seq] + [m.seq for m in rest]
    assert seqs == sorted(seqs) and seqs[-1] == 199
    assert len(seqs) < 199  # some were conflated, and the client can tell: seq jumped


async def test_bad_requests(served) -> None:
    server, _ = served
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        for kw, code in [
            ({"instrument": "doge-eur"}, grpc.StatusCode.NOT_FOUND),
            ({"venues": ["kraken"]}, grpc.StatusCode.INVALID_ARGUMENT),
            ({"depth": 11}, grpc.StatusCode.INVALID_ARGUMENT),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await asyncio.wait_for(client.stream_book(**kw).read(), TIMEOUT)
            assert info.value.code() == code, kw
        listed = await client.list_instruments(timeout=TIMEOUT)
    assert [(i.name, list(i.venues), i.depth) for i in listed.instruments] == [
        ("ETH-BTC", list(VENUES), 10),
        ("BTC-USDT", list(VENUES), 5),
    ]


async def test_second_instrument_is_its_own_stream(served) -> None:
    server, _ = served
    other = server.books[1].views
    other.publish(synthetic_view(9, instrument="BTC-USDT", mid=60000.0, tick=0.5, depth=5))
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        (msg,) = await _take(client.stream_book(instrument="BTCUSDT"), 1)
    assert msg.instrument == "BTC-USDT" and len(msg.bids) == 5 and msg.bids[0].price > 1000


async def test_encoded_once_per_update_for_all_subscribers(served) -> None:
    server, views = served
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        calls = [client.book_summary() for _ in range(5)]
        await _until(lambda: len(server.subscribers()) == 5, "5 subscribers")
        for seq in range(1, 4):
            views.publish(synthetic_view(seq))
            got = [await asyncio.wait_for(c.read(), TIMEOUT) for c in calls]
            assert all(g == got[0] for g in got)
        for c in calls:
            c.cancel()
    (stream,) = [s for s in server.streams() if s.key[0] == "summary"]
    assert stream.encoded == 3  # not 15


async def test_health_and_reflection(served) -> None:
    server, _ = served
    async with _channel(server.address) as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reply = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="orderbook.OrderbookAggregator"), timeout=TIMEOUT
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        call = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        answer = await asyncio.wait_for(call.read(), TIMEOUT)
        names = {s.name for s in answer.list_services_response.service}
        call.cancel()
    assert {"orderbook.OrderbookAggregator", "dragonfly.v1.Aggregator", "grpc.health.v1.Health"} <= names


async def test_stop_ends_streams_cleanly(served) -> None:
    server, views = served
    views.publish(synthetic_view(1))
    async with BookClient(GrpcClientConfig(address=server.address)) as client:
        call = client.stream_book()
        assert (await asyncio.wait_for(call.read(), TIMEOUT)).seq == 1
        await server.stop(5.0)
        assert await asyncio.wait_for(call.read(), TIMEOUT) is grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK
    assert server.subscribers() == []


async def test_port_in_use_is_a_bind_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = GrpcServer([_book(Broadcast())], GrpcServerConfig(port=port))
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port} for gRPC") as err:
            await server.start()
        await server.stop(0)
    assert (err.value.service, err.value.host, err.value.port) == ("gRPC", "127.0.0.1", port)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, OSError)


async def test_subscriber_limit() -> None:
    views: Broadcast = Broadcast()
    views.publish(synthetic_view(1))
    async with GrpcServer([_book(views)], GrpcServerConfig(port=0, max_subscribers=2)) as server:
        async with BookClient(GrpcClientConfig(address=server.address)) as client:
            calls = [client.stream_book(), client.book_summary()]
            for c in calls:
                await asyncio.wait_for(c.read(), TIMEOUT)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await asyncio.wait_for(client.stream_book().read(), TIMEOUT)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            calls[0].cancel()
            await _until(lambda: len(server.subscribers()) == 1, "the cancelled call to leave")
            (msg,) = await _take(client.stream_book(), 1)  # room again
            assert msg.seq == 1
            calls[1].cancel()


async def test_bad_tls_files_are_a_config_error(tmp_path) -> None:
    server = GrpcServer(
        [_book(Broadcast())], GrpcServerConfig(port=0, tls_cert=tmp_path / "no.pem", tls_key=tmp_path / "no.key")
    )
    with pytest.raises(ConfigError, match="cannot read TLS files"):
        await server.start()
    await server.stop(0)


def test_config_is_checked_eagerly() -> None:
    with pytest.raises(ConfigError):
        GrpcServerConfig(port=70000)
    with pytest.raises(ConfigError):
        GrpcServerConfig(tls_cert=Path("c.pem"))
    with pytest.raises(ConfigError):
        GrpcServerConfig(token="has space")
    with pytest.raises(ConfigError):
        GrpcServer([], GrpcServerConfig())
    with pytest.raises(ConfigError):
        GrpcServer([_book(Broadcast()), _book(Broadcast(), "ethbtc")])


# --------------------------------------------------------------------------- auth
async def test_bearer_token_required() -> None:
    views: Broadcast = Broadcast()
    views.publish(synthetic_view(1))
    async with GrpcServer([_book(views)], GrpcServerConfig(port=0, token="s3cret")) as server:
        for token in (None, "wrong"):
            async with BookClient(GrpcClientConfig(address=server.address, token=token)) as client:
                for call in (client.stream_book(), client.book_summary()):
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await asyncio.wait_for(call.read(), TIMEOUT)
                    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await client.list_instruments(timeout=TIMEOUT)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        async with BookClient(GrpcClientConfig(address=server.address, token="s3cret")) as client:
            (msg,) = await _take(client.stream_book(), 1)
            assert msg.seq == 1
        async with _channel(server.address) as ch:  # health stays open for probes
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


# --------------------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls(tls_files) -> None:
    cert, key = tls_files
    views: Broadcast = Broadcast()
    views.publish(synthetic_view(1))
    async with GrpcServer([_book(views)], GrpcServerConfig(port=0, tls_cert=cert, tls_key=key)) as server:
        async with BookClient(GrpcClientConfig(address=server.address, tls_ca=cert)) as client:
            (msg,) = await _take(client.stream_book(), 1)
            assert msg.seq == 1
        async with BookClient(GrpcClientConfig(address=server.address)) as plain:  # no TLS: refused
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await asyncio.wait_for(plain.stream_book().read(), TIMEOUT)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
