"""Layer 1: the reconnecting WebSocket client against a local aiohttp server (real sockets)."""

from __future__ import annotations

import asyncio
import logging
import random
import traceback
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from aiohttp import WSMsgType, web
from yarl import URL

from dragonfly.clients import Backoff, Client, ClientState, HttpClient, WebSocketClient, WebSocketConfig
from dragonfly.errors import ConfigError, VenueConnectionError

if TYPE_CHECKING:
    from typing_extensions import Self

TIMEOUT = 10.0
FAST = Backoff(initial_s=0.01, max_s=0.05)


class Server:
    """Scriptable WebSocket server: ``mode`` decides what a new connection gets."""

    def __init__(self) -> None:
        self.mode = "echo"  # echo | refuse | unauthorized | forbidden | silent_after_one | no_pong | slow_handshake
        self.connections = 0
        self.refused = 0
        self.refused_five = asyncio.Event()
        self.handshake_started = asyncio.Event()
        self.release = asyncio.Event()
        self.received: list[str] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.connected = asyncio.Event()
        self.closed_by_client = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.queries: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.tokens = 0

    async def token(self, request: web.Request) -> web.Response:
        """A REST endpoint handing out a per-connection URL (as some venues do before the WebSocket)."""
        self.tokens += 1
        return web.json_response({"url": f"{self.url}?token=t{self.tokens}"})

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.queries.append(request.query_string)
        self.headers.append(dict(request.headers))
        if self.mode in ("unauthorized", "forbidden"):
            return web.Response(status=401 if self.mode == "unauthorized" else 403, text="bad key")
        if self.mode == "refuse":
            self.refused += 1
            if self.refused >= 5:
                self.refused_five.set()
            return web.Response(status=503)
        if self.mode == "slow_handshake":
            self.handshake_started.set()
            await self.release.wait()
        ws = web.WebSocketResponse(autoping=self.mode != "no_pong")
        await ws.prepare(request)
        self.connections += 1
        self.sockets.append(ws)
        self.connected.set()
        if self.mode == "silent_after_one":
            await ws.send_str("only")
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                self.received.append(msg.data)
                if self.mode == "echo":
                    await ws.send_str("echo:" + msg.data)
        if ws.close_code == 1000:
            self.closed_by_client.set()
        self.sockets.remove(ws)
        return ws

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/ws", self.handler)
        app.router.add_post("/token", self.token)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)  # the venue's log is not ours
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"ws://127.0.0.1:{self._runner.addresses[0][1]}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self.sockets):
            await ws.close()
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with Server() as s:
        yield s


class Subscribing(WebSocketClient):
    def subscribe_frames(self) -> list[str]:
        return ["sub"]


async def take(client: Client, n: int) -> list[str | bytes]:
    out: list[str | bytes] = []

    async def run() -> None:
        async for f in client.frames():
            out.append(f)
            if len(out) >= n:
                return

    await asyncio.wait_for(run(), TIMEOUT)
    return out


async def test_connect_subscribe_hook_counters_and_clean_close(server: Server) -> None:
    client = Subscribing(WebSocketConfig.build(url=server.url, name="t", backoff=FAST))
    hooked: list[ClientState] = []

    async def on_connect(c: Client) -> None:
        hooked.append(c.state)
        await c.send("hello")

    client.on_connect = on_connect
    frames = await take(client, 2)
    assert frames == ["echo:sub", "echo:hello"]  # subscribe frames first, then the hook
    assert hooked == [ClientState.CONNECTED]
    assert client.stats.messages == 2
    assert client.stats.bytes == len("echo:sub") + len("echo:hello")
    assert client.stats.sent == 2 and client.stats.connects == 1
    await client.close()
    await asyncio.wait_for(server.closed_by_client.wait(), TIMEOUT)
    assert client.state is ClientState.CLOSED
    assert [f async for f in client.frames()] == []  # closed: iteration ends at once


async def test_reconnects_after_peer_close_and_resubscribes(server: Server) -> None:
    client = Subscribing(WebSocketConfig.build(url=server.url, backoff=FAST))
    reasons: list[str] = []
    client.on_disconnect = lambda c, r: reasons.append(r)
    got: list[str | bytes] = []

    async def run() -> None:
        async for f in client.frames():
            got.append(f)
            if len(got) == 1:
                await server.sockets[0].close()  # the venue drops us
            if len(got) == 2:
                return

    try:
        await asyncio.wait_for(run(), TIMEOUT)
    finally:
        await client.close()
    assert got == ["echo:sub", "echo:sub"]  # subscribed again after the reconnect
    assert server.connections == 2
    assert client.stats.reconnects == 1 and client.stats.disconnects >= 1
    assert reasons and reasons[0] == "closed by peer"


async def test_backoff_on_refusal_then_gives_up_when_bounded(server: Server) -> None:
    server.mode = "refuse"
    client = WebSocketClient.build(url=server.url, backoff=Backoff(initial_s=0.01, max_s=0.02, max_retries=3))
    with pytest.raises(VenueConnectionError) as ei:
        await asyncio.wait_for(take(client, 1), TIMEOUT)
    await client.close()
    assert client.stats.failed_connects == 4  # first attempt + 3 retries
    assert client.stats.connects == 0
    assert ei.value.venue == "127.0.0.1"


async def test_unbounded_retries_until_the_server_accepts(server: Server) -> None:
    server.mode = "refuse"
    client = WebSocketClient.build(url=server.url, backoff=FAST)

    async def on_connect(c: Client) -> None:
        await c.send("x")

    client.on_connect = on_connect
    task = asyncio.get_running_loop().create_task(take(client, 1))
    try:
        await asyncio.wait_for(server.refused_five.wait(), TIMEOUT)
        server.mode = "echo"
        assert await task == ["echo:x"]
        assert client.stats.failed_connects >= 5
    finally:
        await client.close()


async def test_no_data_watchdog_reconnects(server: Server) -> None:
    server.mode = "silent_after_one"
    client = WebSocketClient.build(url=server.url, no_data_timeout_s=0.2, backoff=FAST)
    reasons: list[str] = []
    client.on_disconnect = lambda c, r: reasons.append(r)
    try:
        frames = await take(client, 2)  # one frame per connection: the second needs a reconnect
    finally:
        await client.close()
    assert frames == ["only", "only"]
    assert client.stats.watchdog_timeouts >= 1
    assert reasons[0].startswith("no data within")


async def test_heartbeat_drops_a_peer_that_never_pongs(server: Server) -> None:
    server.mode = "no_pong"
    client = WebSocketClient.build(url=server.url, heartbeat_s=0.1, no_data_timeout_s=None, backoff=FAST)
    reasons: list[str] = []
    dropped = asyncio.Event()

    def on_disconnect(c: Client, r: str) -> None:
        reasons.append(r)
        dropped.set()

    client.on_disconnect = on_disconnect
    task = asyncio.get_running_loop().create_task(take(client, 1))
    try:
        await asyncio.wait_for(dropped.wait(), TIMEOUT)
    finally:
        await client.close()
        await task
    assert client.stats.watchdog_timeouts == 0
    assert client.stats.disconnects >= 1


async def test_close_while_connecting_ends_cleanly(server: Server) -> None:
    server.mode = "slow_handshake"
    client = WebSocketClient.build(url=server.url, backoff=FAST)
    task = asyncio.get_running_loop().create_task(take(client, 1))
    await asyncio.wait_for(server.handshake_started.wait(), TIMEOUT)
    closing = asyncio.get_running_loop().create_task(client.close())
    server.release.set()
    await asyncio.wait_for(closing, TIMEOUT)
    assert await asyncio.wait_for(task, TIMEOUT) == []  # frames() ended without yielding anything
    assert client.state is ClientState.CLOSED
    assert client.stats.messages == 0


async def test_request_reconnect_reports_its_reason(server: Server) -> None:
    client = Subscribing(WebSocketConfig.build(url=server.url, backoff=FAST))
    reasons: list[str] = []
    client.on_disconnect = lambda c, r: reasons.append(r)
    got: list[str | bytes] = []

    async def run() -> None:
        async for f in client.frames():
            got.append(f)
            if len(got) == 1:
                client.request_reconnect("venue maintenance")
            else:
                return

    try:
        await asyncio.wait_for(run(), TIMEOUT)
    finally:
        await client.close()
    assert reasons[0] == "reconnect requested: venue maintenance"
    assert client.stats.connects == 2


async def test_send_without_connection_is_a_typed_error(server: Server) -> None:
    client = WebSocketClient.build(url=server.url)
    with pytest.raises(VenueConnectionError):
        await client.send("x")
    await client.close()


def test_config_checks_eagerly() -> None:
    with pytest.raises(ConfigError):
        WebSocketConfig.build(url="http://127.0.0.1/")
    with pytest.raises(ValueError):
        WebSocketConfig.build(url="ws://127.0.0.1/", heartbeat_s=0)
    with pytest.raises(TypeError):
        WebSocketConfig.build(url="ws://127.0.0.1/", backoff=1.0)
    cfg = WebSocketConfig.build(url="wss://example.invalid/x", name="v")
    other = cfg.with_url("ws://127.0.0.1:1/")
    assert cfg.url == "wss://example.invalid/x" and other.url == "ws://127.0.0.1:1/" and other.name == "v"


def test_backoff_is_exponential_bounded_and_jittered() -> None:
    b = Backoff(initial_s=0.1, max_s=1.0, factor=2.0, jitter=0.5)
    rng = random.Random(1)
    for attempt, base in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (50, 1.0)]:
        ds = [b.delay(attempt, rng) for _ in range(200)]
        assert all(base * 0.5 <= d <= base for d in ds)
        assert max(ds) - min(ds) > base * 0.3  # jitter spreads the retries
    with pytest.raises(ValueError):
        Backoff(jitter=2.0)


# ----------------------------------------------------------------------------------------------
# secrets never reach reasons, errors or logs

SECRET = "secret-key-123"
SIGNATURE = "signature=abc"


@pytest.mark.parametrize("mode", ["unauthorized", "forbidden"])
async def test_rejected_upgrade_keeps_headers_and_query_out_of_reasons_errors_and_logs(
    server: Server, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    server.mode = mode
    client = WebSocketClient.build(url=f"{server.url}?{SIGNATURE}", name="binance", headers={"X-MBX-APIKEY": SECRET},
                                   backoff=Backoff(initial_s=0.001, max_s=0.002, max_retries=1))
    reasons: list[str] = []
    client.on_disconnect = lambda c, r: reasons.append(r)
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(take(client, 1), TIMEOUT)
    await client.close()
    # the secrets were really sent, so they could have leaked
    assert server.headers[0]["X-MBX-APIKEY"] == SECRET and server.queries[0] == SIGNATURE
    status = "401" if mode == "unauthorized" else "403"
    assert len(reasons) == 2
    for r in reasons:
        assert r == f"connect failed: WSServerHandshakeError (HTTP {status}) at 127.0.0.1:{URL(server.url).port}"
    err = info.value
    assert f"HTTP {status}" in str(err) and err.code == int(status)
    logging.getLogger("test.user").error("feed failed", exc_info=err)  # what a user's handler might do with it
    assert "WSServerHandshakeError" in caplog.text  # the traceback was logged
    texts = [*reasons, str(err), repr(err), "".join(traceback.format_exception(err)), caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert SECRET not in text and SIGNATURE not in text


async def test_resolve_url_runs_before_every_attempt_and_its_failure_is_a_failed_attempt(server: Server) -> None:
    calls = 0

    async def resolve() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise VenueConnectionError("token endpoint down", venue="x")
        async with HttpClient() as http:
            return (await http.post(server.url.replace("ws://", "http://").replace("/ws", "/token"))).json()["url"]

    client = Subscribing(WebSocketConfig.build(url=server.url, name="v", backoff=FAST), resolve_url=resolve)
    reasons: list[str] = []
    client.on_disconnect = lambda c, r: reasons.append(r)
    got: list[str | bytes] = []

    async def run() -> None:
        async for f in client.frames():
            got.append(f)
            if len(got) == 1:
                await server.sockets[0].close()
            else:
                return

    try:
        await asyncio.wait_for(run(), TIMEOUT)
    finally:
        await client.close()
    assert got == ["echo:sub", "echo:sub"]
    assert calls == 3  # the failed one, then one per connection
    assert server.queries == ["token=t1", "token=t2"]  # each connection used its own URL
    assert reasons[0].startswith("connect failed: resolve_url: token endpoint down")
    assert reasons[1] == "closed by peer"
    assert client.stats.failed_connects == 1 and client.stats.connects == 2


@pytest.mark.parametrize("bad", ["http://127.0.0.1/x?token=abc", "not a url", 42])
async def test_resolve_url_returning_no_ws_url_is_a_failed_attempt(server: Server, bad: object) -> None:
    async def resolve() -> object:
        return bad

    client = WebSocketClient.build(url=server.url, backoff=Backoff(initial_s=0.001, max_s=0.002, max_retries=0),
                                   resolve_url=resolve)  # type: ignore[arg-type]
    reasons: list[str] = []
    client.on_disconnect = lambda c, r: reasons.append(r)
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(take(client, 1), TIMEOUT)
    await client.close()
    assert len(reasons) == 1 and reasons[0].startswith("connect failed: resolve_url returned")
    assert "token=abc" not in str(info.value) and "token=abc" not in reasons[0]
    assert server.connections == 0 and client.stats.failed_connects == 1


def test_invalid_config_url_error_has_no_query() -> None:
    with pytest.raises(ConfigError) as info:
        WebSocketConfig.build(url=f"http://127.0.0.1/x?{SIGNATURE}")
    assert SIGNATURE not in str(info.value)
