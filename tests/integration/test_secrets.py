"""No secret reaches health, gRPC, FIX output or any log record, end to end (issue 12).

A venue configured with an API-key header (WebSocket, and REST snapshots) or a password (FIX) fails to
connect against a hostile peer on 127.0.0.1 that echoes the secret back in every place it can: the HTTP
status line's body and headers, a REST error body, a FIX Logout's Text (58). The failure must show in
health with a short reason; the secret must show nowhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from dragonfly._core.fix import encode_message
from dragonfly.clients import Backoff, HttpClient, WebSocketConfig
from dragonfly.clients.fix import FixClient
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.services.fix_server import FixServerConfig
from dragonfly.services.grpc import BookClient, GrpcClientConfig, GrpcServerConfig
from dragonfly.services.host import ServiceHost
from dragonfly.sim import SimulatedVenues
from dragonfly.topology import Pipeline, PipelineConfig
from dragonfly.venues import create_feed, get_venue
from dragonfly.venues.fixsim.config import FixsimConfig

T = 30.0
SECRET = "k3y-S3cret-0123456789abcdef"
FAST = Backoff(initial_s=0.01, max_s=0.05)


class Hostile:
    """An HTTP/WebSocket peer that refuses everyone and echoes the API key wherever it can."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.rest_calls = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers.get("X-MBX-APIKEY", "")
        self.seen.append(key)
        if request.path.startswith("/api/"):  # a REST snapshot: an error, then a body that is not a book
            self.rest_calls += 1
            if self.rest_calls % 2:
                return web.Response(status=401, text=f'{{"code":-2015,"msg":"Invalid API-key {key}"}}',
                                    headers={"X-Echo-Key": key})
            return web.Response(status=200, text=f'{{"lastUpdateId":"{key}","bids":[["{key}","1"]],"asks":[]}}')
        return web.Response(status=401, text=f"invalid key {key}", headers={"X-Echo-Key": key})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def hostile():  # type: ignore[no-untyped-def]
    h = Hostile()
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


def _everything_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every record's message and, formatted, its traceback and arguments."""
    texts = [caplog.text]
    for r in caplog.records:
        texts.append(r.getMessage())
        texts.append(repr(r.args))
        if r.exc_info and r.exc_info[1] is not None:
            texts.append(logging.Formatter().formatException(r.exc_info))
    return texts


def _assert_nowhere(texts: list[str], *secrets: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"secret in: {text[:300]}"


async def _until(pred: Callable[[], Any], what: str) -> Any:
    async def loop() -> Any:
        while not (got := pred()):  # noqa: ASYNC110 - health has no event to await here
            await asyncio.sleep(0.01)
        return got

    try:
        return await asyncio.wait_for(loop(), T)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_an_api_key_header_stays_out_of_health_grpc_fix_and_logs(hostile: Hostile, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ws = WebSocketConfig(url="wss://unused", headers={"X-MBX-APIKEY": SECRET}, backoff=FAST)
    async with SimulatedVenues(venues=("bitstamp",), instrument="ETH-BTC", seed=3) as sim:
        cfg = PipelineConfig(instrument="ethbtc", venues=("binance", "bitstamp"), depth=5, ws=ws,
                             base_urls={"binance": f"ws://127.0.0.1:{hostile.port}", **sim.base_urls})
        pipeline = Pipeline(cfg)
        grpc_cfg = GrpcServerConfig(port=0, health_follows_venues=True)
        fix_cfg = FixServerConfig(port=0, customers={"BOT": "pw"}, max_depth=5)
        async with ServiceHost([pipeline], grpc=grpc_cfg, fix=fix_cfg) as host:
            # the world view: binance refused (401), bitstamp live
            def refused() -> bool:
                h = pipeline.health()
                return "HTTP 401" in h["binance"].reason and h["bitstamp"].status is VenueStatus.LIVE

            await _until(refused, "binance refused and bitstamp live")
            reason = pipeline.health()["binance"].reason
            assert pipeline.health()["binance"].status is not VenueStatus.LIVE
            # gRPC StreamBook subscribers see the venue's health
            async with BookClient(GrpcClientConfig(address=host.addresses["gRPC"])) as client:
                call = client.stream_book()
                async for msg in call:
                    grpc_reasons = {h.venue: h.reason for h in msg.venues}
                    if "HTTP 401" in grpc_reasons.get("binance", "") and msg.bids:
                        break
                call.cancel()
                grpc_text = str(msg)
            # FIX customers get the book (entries carry venues, never a reason)
            fix_host, _, fix_port = host.addresses["FIX"].rpartition(":")
            customer = FixClient.build(host=fix_host, port=int(fix_port), sender_comp_id="BOT",
                                       target_comp_id="DRAGONFLY", password="pw")
            await asyncio.wait_for(customer.connect(), T)
            await customer.send_message("V", [(262, "r1"), (263, 1), (264, 5), (265, 0), (146, 1), (55, "ETH-BTC")])
            fix_raw = []

            async def read_fix() -> None:
                async for m in customer.frames():
                    fix_raw.append(m if isinstance(m, bytes) else m.raw)
                    if len(fix_raw) >= 3:
                        return

            await asyncio.wait_for(read_fix(), T)
            await customer.close()
    assert SECRET in hostile.seen  # the key was really sent, so it could have leaked
    assert reason.startswith("disconnected: connect failed: WSServerHandshakeError (HTTP 401) at 127.0.0.1:")
    assert "HTTP 401" in grpc_reasons["binance"]
    _assert_nowhere([reason, grpc_reasons["binance"], grpc_text, *(r.decode("latin-1") for r in fix_raw)], SECRET)
    _assert_nowhere(_everything_logged(caplog), SECRET)


class Recorder:
    def __init__(self) -> None:
        self.updates: list[BookUpdate] = []

    def publish(self, update: BookUpdate) -> None:
        self.updates.append(update)


async def test_rest_snapshots_keep_the_api_key_out_of_health_and_logs(hostile: Hostile, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sink = Recorder()
    async with SimulatedVenues(venues=("binance-diff",), instrument="ETH-BTC", seed=4) as sim, \
            HttpClient.build(name="binance-diff", headers={"X-MBX-APIKEY": SECRET}) as http:
        feed = create_feed(get_venue("binance-diff"), instruments=["ETH-BTC"], depth=5, sink=sink,
                           base_url=sim.base_urls["binance-diff"], rest_url=f"http://127.0.0.1:{hostile.port}",
                           http=http, backoff=FAST)
        feed.start()
        try:
            await _until(lambda: feed.stats.snapshot_failures >= 4, "REST snapshots to fail (401, then garbage)")
        finally:
            await feed.stop()
    assert SECRET in hostile.seen
    texts = [u.reason for u in sink.updates] + [h.reason for h in feed.health().values()]
    _assert_nowhere(texts, SECRET)
    _assert_nowhere(_everything_logged(caplog), SECRET)
    assert any("HTTP 401" in t for t in _everything_logged(caplog))  # the failure is told, without the key


async def _refusing_fix_venue(password_echo: list[str]) -> tuple[asyncio.Server, int]:
    """A FIX acceptor that answers every Logon with a Logout whose Text (58) echoes the password (554)."""

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(4096)
        fields = dict(f.split(b"=", 1) for f in data.split(b"\x01") if b"=" in f)
        pw = fields.get(b"554", b"").decode()
        password_echo.append(pw)
        writer.write(encode_message("5", [(49, "FIXSIM"), (56, "DRAGONFLY"), (34, 1), (52, "20240101-00:00:00.000"),
                                          (58, f"invalid password {pw} for DRAGONFLY")]))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_fix_password_stays_out_of_health_and_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    echoed: list[str] = []
    server, port = await _refusing_fix_venue(echoed)
    sink = Recorder()
    try:
        feed = create_feed(get_venue("fixsim"), instruments=["ETH-BTC"], depth=5, sink=sink, backoff=FAST,
                           config=FixsimConfig(base_url=f"fix://127.0.0.1:{port}", password=SECRET))
        feed.start()
        try:
            await _until(lambda: len(echoed) >= 3, "three refused logons")
            await _until(lambda: any("logon refused" in u.reason for u in sink.updates), "the refusal in health")
        finally:
            await feed.stop()
    finally:
        server.close()
        await server.wait_closed()
    assert echoed[0] == SECRET  # the venue really echoed it
    texts = [u.reason for u in sink.updates] + [h.reason for h in feed.health().values()]
    assert any("invalid password" in t for t in texts)  # the venue's reason is kept, the secret is not
    _assert_nowhere(texts, SECRET)
    _assert_nowhere(_everything_logged(caplog), SECRET)
