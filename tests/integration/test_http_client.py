"""Layer 1: the REST client (:class:`dragonfly.clients.HttpClient`) against an aiohttp.web server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp import web

from dragonfly.clients import HttpClient, HttpConfig, HttpResponse
from dragonfly.errors import ConfigError, VenueConnectionError

if TYPE_CHECKING:
    from typing_extensions import Self

T = 10.0
SECRET = "secret-key-123"
SIGNATURE = "signature=abc"


class Server:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen_headers: list[dict[str, str]] = []
        self.seen_queries: list[str] = []
        self.stalled = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def depth(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        self.seen_queries.append(request.query_string)
        return web.json_response({"lastUpdateId": 7, "bids": [["1.0", "2.0"]]})

    async def token(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        body = await request.json()
        return web.json_response({"token": "t-" + body["who"]}, status=201)

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such symbol")

    async def slow(self, request: web.Request) -> web.Response:
        self.stalled.set()
        await self.release.wait()
        return web.Response(text="late")

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    async def big_chunked(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(5):
            await resp.write(b"y" * 1000)
        await resp.write_eof()
        return resp

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(location="/depth")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/depth", self.depth)
        app.router.add_post("/token", self.token)
        app.router.add_get("/missing", self.missing)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/big", self.big)
        app.router.add_get("/big-chunked", self.big_chunked)
        app.router.add_get("/moved", self.moved)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)  # the venue's log is not ours
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with Server() as s:
        yield s


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_safe(text: str) -> None:
    assert SECRET not in text
    assert SIGNATURE not in text


async def test_get_200_with_headers_and_counters(server: Server) -> None:
    async with HttpClient.build(name="binance", headers={"X-MBX-APIKEY": SECRET}) as http:
        resp = await http.get(f"{server.base}/depth?symbol=BTCUSDT&limit=5", headers={"X-Extra": "1"})
    assert isinstance(resp, HttpResponse) and resp.status == 200 and resp.ok
    assert resp.json() == {"lastUpdateId": 7, "bids": [["1.0", "2.0"]]}
    assert server.seen_headers[0]["X-MBX-APIKEY"] == SECRET and server.seen_headers[0]["X-Extra"] == "1"
    assert server.seen_queries == ["symbol=BTCUSDT&limit=5"]
    assert http.stats.requests == 1 and http.stats.failures == 0 and http.stats.bytes == len(resp.body)
    with pytest.raises(AttributeError):
        resp.status = 500  # type: ignore[misc]  # frozen


async def test_post_json(server: Server) -> None:
    async with HttpClient() as http:
        resp = await http.post(f"{server.base}/token", json={"who": "me"})
    assert resp.status == 201 and resp.json() == {"token": "t-me"}
    assert server.seen_headers[0]["Content-Type"].startswith("application/json")


async def test_404_is_returned_not_raised(server: Server) -> None:
    async with HttpClient() as http:
        resp = await http.get(f"{server.base}/missing")
    assert resp.status == 404 and not resp.ok and resp.text() == "no such symbol"
    assert http.stats.failures == 0


async def test_redirect_is_returned_not_followed_by_default(server: Server) -> None:
    async with HttpClient.build(headers={"X-MBX-APIKEY": SECRET}) as http:
        resp = await http.get(f"{server.base}/moved")
    assert resp.status == 302 and server.seen_headers == []  # the key went nowhere else
    async with HttpClient.build(follow_redirects=True) as http:
        resp = await http.get(f"{server.base}/moved")
    assert resp.status == 200 and resp.json()["lastUpdateId"] == 7


async def test_timeout_raises_a_safe_venue_connection_error(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http = HttpClient.build(name="binance", timeout_s=0.2, headers={"X-MBX-APIKEY": SECRET})
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(http.get(f"{server.base}/slow?{SIGNATURE}"), T)
    assert server.stalled.is_set()
    text = str(info.value)
    assert "GET" in text and f"127.0.0.1:{server.port}" in text and "TimeoutError" in text
    assert info.value.venue == "binance" and info.value.code is None
    assert_safe(text)
    assert_safe("".join(traceback.format_exception(info.value)))
    assert_safe(caplog.text)
    assert http.stats.requests == 1 and http.stats.failures == 1
    # a longer per-request timeout gets the answer
    server.release.set()
    resp = await http.get(f"{server.base}/slow", timeout_s=T)
    assert resp.text() == "late"
    await http.close()


async def test_refused_raises_a_safe_venue_connection_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = closed_port()
    async with HttpClient.build(name="v", headers={"X-MBX-APIKEY": SECRET}) as http:
        with pytest.raises(VenueConnectionError) as info:
            await asyncio.wait_for(http.post(f"http://127.0.0.1:{port}/api?{SIGNATURE}", json={"a": 1}), T)
        text = str(info.value)
        assert "POST" in text and f"127.0.0.1:{port}" in text and "ECONNREFUSED" in text
        assert "ClientConnectorError" in text
        assert_safe(text)
        assert_safe("".join(traceback.format_exception(info.value)))
        assert_safe(caplog.text)
        assert http.stats.failures == 1


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_body_above_the_limit_fails_with_its_status(server: Server, path: str) -> None:
    async with HttpClient.build(max_body_bytes=4096) as http:
        with pytest.raises(VenueConnectionError) as info:
            await http.get(f"{server.base}{path}")
        assert info.value.code == 200 and "larger than 4096 bytes" in str(info.value)
        ok = await http.get(f"{server.base}/depth")  # the client carries on
        assert ok.status == 200


async def test_shared_session_stays_open_own_session_is_closed(server: Server) -> None:
    async with aiohttp.ClientSession() as shared:
        http = HttpClient(HttpConfig(), session=shared)
        assert (await http.get(f"{server.base}/depth")).status == 200
        await http.close()
        assert not shared.closed
        own = HttpClient()
        await own.get(f"{server.base}/depth")
        session = own._session
        assert session is not None and not session.closed
        await own.close()
        assert session.closed
        with pytest.raises(VenueConnectionError, match="closed"):
            await own.get(f"{server.base}/depth")


def test_config_and_url_checks() -> None:
    with pytest.raises(ValueError):
        HttpConfig(timeout_s=0)
    with pytest.raises(ValueError):
        HttpConfig(max_body_bytes=0)
    with pytest.raises(TypeError):
        HttpConfig(headers={"X-Key": 5})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        HttpClient("config")  # type: ignore[arg-type]
    cfg = HttpConfig.build(name="v", headers={"A": "b"})
    assert cfg.with_timeout(3.0).timeout_s == 3.0 and cfg.timeout_s == 10.0
    with pytest.raises(TypeError):
        cfg.headers["A"] = "c"  # type: ignore[index]  # read-only


async def test_invalid_url_is_a_config_error_without_the_query() -> None:
    async with HttpClient() as http:
        with pytest.raises(ConfigError) as info:
            await http.get(f"ftp://127.0.0.1/x?{SIGNATURE}")
    assert_safe(str(info.value))
    assert http.stats.requests == 0


async def test_malformed_answer_raises_without_url_or_headers(caplog: pytest.LogCaptureFixture) -> None:
    """aiohttp's own error here names the URL with its query in str() and every header in repr()."""
    caplog.set_level(logging.DEBUG)
    got_request = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        got_request.set()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nxx")
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        async with HttpClient.build(name="v", headers={"X-MBX-APIKEY": SECRET}) as http:
            with pytest.raises(VenueConnectionError) as info:
                await asyncio.wait_for(http.get(f"http://127.0.0.1:{port}/depth?{SIGNATURE}"), T)
    finally:
        srv.close()
        await srv.wait_closed()
    assert got_request.is_set()
    text = str(info.value)
    assert "ClientResponseError" in text and "HTTP 400" in text and f"127.0.0.1:{port}" in text
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert_safe(text)
    assert_safe(repr(info.value))
    assert_safe("".join(traceback.format_exception(info.value)))
    assert_safe(caplog.text)
