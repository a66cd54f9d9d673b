"""What a venue's connection logs at the default level (WARNING) and at INFO: each change of state once
(issue 12: with no network the server printed nothing while it retried for minutes)."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from aiohttp import web

from dragonfly.clients import Backoff, WebSocketClient

T = 20.0
LOGGER = "dragonfly.clients.base"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Venue:
    """A WebSocket venue on a fixed port, started late: its first connection sends 3 frames and closes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0
        self._runner: web.AppRunner | None = None

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        count = 3 if self.connections == 1 else None

        async def send() -> None:
            i = 0
            while count is None or i < count:
                await ws.send_str(f'{{"n":{i}}}')
                i += 1
                await asyncio.sleep(0.01)  # a feed's pace
            await ws.close()

        sender = asyncio.ensure_future(send())
        try:
            async for _ in ws:  # reads the client's close, too
                pass
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        return ws

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self.handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _client(port: int) -> WebSocketClient:
    return WebSocketClient.build(url=f"ws://127.0.0.1:{port}/ws", name="venuex", heartbeat_s=None,
                                 no_data_timeout_s=None, backoff=Backoff(initial_s=0.005, max_s=0.01))


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


async def test_a_venue_down_then_up_logs_each_change_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = _free_port()
    venue = Venue(port)
    client = _client(port)
    failures = 0
    enough = asyncio.Event()

    def on_disconnect(_client: object, reason: str) -> None:
        nonlocal failures
        failures += 1
        if failures >= 8:
            enough.set()

    client.on_disconnect = on_disconnect
    frames: list[str] = []
    got = asyncio.Event()

    async def read() -> None:
        async for f in client.frames():
            frames.append(f)
            got.set()

    reader = asyncio.ensure_future(read())
    try:
        await asyncio.wait_for(enough.wait(), T)  # nobody listens: eight refused attempts
        assert _lines(caplog, logging.WARNING) == [
            f"venuex: connect failed: ClientConnectorError [ECONNREFUSED] at 127.0.0.1:{port}; "
            "retrying with backoff (logged again when it recovers)"
        ]
        await venue.start()
        await asyncio.wait_for(got.wait(), T)
        # the first connection sends 3 frames and closes; the second one stays
        while venue.connections < 2 or len(frames) < 5:  # noqa: ASYNC110 - frames arrive at the venue's pace
            await asyncio.sleep(0.01)
    finally:
        await client.close()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await venue.stop()
    warnings = _lines(caplog, logging.WARNING)
    assert len(warnings) == 4, warnings
    assert "connect failed" in warnings[0]
    assert warnings[1].startswith(f"venuex: recovered to 127.0.0.1:{port}: receiving data again after ")
    assert int(warnings[1].split(" after ")[1].split()[0]) >= 8  # every failure of the episode counted
    assert warnings[2] == "venuex: disconnected (closed by peer); retrying with backoff (logged again when it recovers)"
    assert warnings[3].startswith(f"venuex: recovered to 127.0.0.1:{port}: receiving data again after 1 failure")
    assert _lines(caplog, logging.INFO) == []  # the first connection came while it was down: "recovered" says it
    assert len(_lines(caplog, logging.DEBUG)) >= 7  # the retries in between, for whoever debugs


async def test_a_healthy_venue_logs_one_line_and_a_clean_close_none(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = _free_port()
    venue = Venue(port)
    venue.connections = 1  # every connection stays open
    await venue.start()
    client = _client(port)
    try:
        async for _ in client.frames():
            break
    finally:
        await client.close()
        await venue.stop()
    assert _lines(caplog, logging.INFO) == [f"venuex: connected to 127.0.0.1:{port}"]
    assert _lines(caplog, logging.WARNING) == []
