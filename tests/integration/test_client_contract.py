"""The layer-1 contract (:class:`dragonfly.clients.base.Client`), run against every client.

Each transport is a :class:`Transport`: it starts a scripted server on 127.0.0.1
and builds a client for it. A server takes one action per connection attempt,
from a script:

``("refuse",)``        reject the attempt (WebSocket: HTTP 403 to the upgrade; FIX: Logout to the Logon)
``("data", n)``        accept, send ``n`` payloads, drop the connection
``("hold", n)``        accept, send ``n`` payloads, keep the connection open
``("stall",)``         accept the TCP connection and never answer (the attempt hangs)

Payloads are the text ``"<connection>:<index>"``, so a test sees which connection
a payload came from. A new transport (say a bus) joins every test by adding
its class to ``TRANSPORTS``.

Nothing here sleeps: tests wait on events and conditions, with a safety-net timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from dragonfly._core.fix import parse_message
from dragonfly.clients import Backoff, Client, ClientState, WebSocketClient
from dragonfly.clients.fix import Counterparty, FixClient, FixSession, accept_logon
from dragonfly.errors import VenueConnectionError

T = 10.0  # safety net for awaited events; nothing asserts on time except the close() bounds
TINY: dict[str, Any] = {"initial_s": 0.001, "max_s": 0.002}

Action = tuple[Any, ...]


class Server:
    """What every transport's server shares: the script, attempt counting, release at teardown."""

    def __init__(self, script: list[Action], default: Action) -> None:
        self.script = list(script)
        self.default = default
        self.attempts = 0
        self.accepted = 0  # connections that got a "data" or "hold" action
        self.changed = asyncio.Condition()
        self.released = asyncio.Event()
        self.port = 0

    async def next_action(self) -> tuple[int, Action]:
        action = self.script.pop(0) if self.script else self.default
        async with self.changed:
            self.attempts += 1
            if action[0] in ("data", "hold"):
                self.accepted += 1
            n = self.accepted
            self.changed.notify_all()
        return n, action

    async def wait_attempts(self, n: int) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: self.attempts >= n), T)


class Transport:
    """A server and a client speaking one protocol (subclass per client)."""

    name = ""

    async def start(self, script: list[Action], default: Action = ("refuse",)) -> Server:
        raise NotImplementedError

    def client(self, port: int, backoff: Backoff) -> Client:
        raise NotImplementedError

    def text(self, payload: Any) -> str:
        """The ``"<connection>:<index>"`` a payload carries."""
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class WsTransport(Transport):
    name = "ws"

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._server: Server | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    async def start(self, script: list[Action], default: Action = ("refuse",)) -> Server:
        server = self._server = Server(script, default)

        async def handler(request: web.Request) -> web.StreamResponse:
            n, action = await server.next_action()
            if action[0] == "refuse":
                return web.Response(status=403)
            if action[0] == "stall":
                await server.released.wait()
                return web.Response(status=503)
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            self._sockets.add(ws)
            try:
                for i in range(action[1]):
                    await ws.send_str(f"{n}:{i}")
                if action[0] == "hold":
                    async for _ in ws:
                        pass
                else:
                    await ws.close()
            finally:
                self._sockets.discard(ws)
            return ws

        app = web.Application()
        app.router.add_get("/ws", handler)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server.port = self._runner.addresses[0][1]
        return server

    def client(self, port: int, backoff: Backoff) -> Client:
        return WebSocketClient.build(url=f"ws://127.0.0.1:{port}/ws", name="ws", backoff=backoff,
                                     connect_timeout_s=T, heartbeat_s=None, no_data_timeout_s=None)

    def text(self, payload: Any) -> str:
        assert isinstance(payload, str)
        return payload

    async def stop(self) -> None:
        if self._server is not None:
            self._server.released.set()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()


class FixTransport(Transport):
    """A FIX acceptor built on :func:`accept_logon`; ``reset_seq_num`` lets every connection start at 1."""

    name = "fix"

    def __init__(self) -> None:
        self._server: Server | None = None
        self._srv: asyncio.Server | None = None
        self._sessions: set[FixSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, script: list[Action], default: Action = ("refuse",)) -> Server:
        server = self._server = Server(script, default)
        known = {"CLIENT": Counterparty(comp_id="CLIENT")}

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
            try:
                await serve(reader, writer)
            finally:
                writer.close()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            n, action = await server.next_action()
            if action[0] == "stall":
                await server.released.wait()
                return
            allowed = {} if action[0] == "refuse" else known  # refuse: "unknown SenderCompID", a Logout
            session = await accept_logon(reader, writer, comp_id="VENUE", counterparties=allowed, active=set(),
                                         name="contract-venue")
            if session is None:
                return
            self._sessions.add(session)
            try:
                for i in range(action[1]):
                    await session.send("B", [(148, "contract"), (58, f"{n}:{i}")])
                if action[0] == "hold":
                    async for _ in session.messages():
                        pass
                else:
                    session._close("test drop")  # a connection lost without Logout
            finally:
                self._sessions.discard(session)

        self._srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        server.port = self._srv.sockets[0].getsockname()[1]
        return server

    def client(self, port: int, backoff: Backoff) -> Client:
        return FixClient.build(host="127.0.0.1", port=port, sender_comp_id="CLIENT", target_comp_id="VENUE",
                               name="fix", backoff=backoff, reset_seq_num=True, logon_timeout_s=T,
                               logout_timeout_s=0.5, heartbeat_s=30)

    def text(self, payload: Any) -> str:
        assert isinstance(payload, bytes)
        return parse_message(payload).get_str(58)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.released.set()
        for s in list(self._sessions):
            s._close("test over")
        if self._srv is not None:
            self._srv.close()
        for t in list(self._tasks):
            if t is not asyncio.current_task():
                t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._srv is not None:
            await self._srv.wait_closed()


class SharedSessionWsTransport(WsTransport):
    """The WebSocket client on a session the caller shares: frames are read with ``ws.receive()``
    (the client's own session hands them over by callback from aiohttp's frame parser)."""

    name = "ws-shared"

    def __init__(self) -> None:
        super().__init__()
        self._session: aiohttp.ClientSession | None = None

    def client(self, port: int, backoff: Backoff) -> Client:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return WebSocketClient.build(url=f"ws://127.0.0.1:{port}/ws", name="ws", backoff=backoff, session=self._session,
                                     connect_timeout_s=T, heartbeat_s=None, no_data_timeout_s=None)

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()


TRANSPORTS: dict[str, Callable[[], Transport]] = {
    "ws": WsTransport, "ws-shared": SharedSessionWsTransport, "fix": FixTransport,
}


@pytest.fixture(params=sorted(TRANSPORTS))
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    t = TRANSPORTS[request.param]()
    try:
        yield t
    finally:
        await t.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """Hooks that log what happens, in order, with the client's state at that moment."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list[tuple[str, str, ClientState]] = []
        self.changed = asyncio.Condition()
        client.on_connect = self.on_connect
        client.on_disconnect = self.on_disconnect

    async def _add(self, kind: str, detail: str) -> None:
        async with self.changed:
            self.events.append((kind, detail, self.client.state))
            self.changed.notify_all()

    async def on_connect(self, client: Client) -> None:
        await self._add("connect", "")

    def on_disconnect(self, client: Client, reason: str) -> None:
        self.events.append(("disconnect", reason, client.state))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.events]

    async def wait_for(self, pred: Callable[[], bool]) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(pred), T)


async def collect(client: Client, transport: Transport, into: list[str], n: int | None = None,
                  on_item: Callable[[int], None] | None = None) -> None:
    async for payload in client.frames():
        into.append(transport.text(payload))
        if on_item is not None:
            on_item(len(into))
        if n is not None and len(into) >= n:
            return


# ----------------------------------------------------------------------------------------------
# max_retries: N retries after a failure = N + 1 failed attempts in a row, then VenueConnectionError


@pytest.mark.parametrize("max_retries", [0, 1, 3])
@pytest.mark.parametrize("endpoint", ["rejecting", "closed-port"])
async def test_gives_up_after_max_retries_plus_one_attempts(transport: Transport, max_retries: int,
                                                             endpoint: str) -> None:
    if endpoint == "rejecting":
        server = await transport.start([], default=("refuse",))
        port = server.port
    else:
        server, port = None, closed_port()
    client = transport.client(port, Backoff(**TINY, max_retries=max_retries))
    rec = Recorder(client)
    got: list[str] = []
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(collect(client, transport, got), T)
    assert got == []
    assert client.stats.failed_connects == max_retries + 1
    assert client.stats.connects == 0 and client.stats.disconnects == 0
    if server is not None:
        assert server.attempts == max_retries + 1
    assert rec.kinds() == ["disconnect"] * (max_retries + 1)
    assert all(reason.startswith("connect failed") for _, reason, _ in rec.events)
    # every failure but the last leaves the client waiting to retry; the last one closes it
    assert [state for _, _, state in rec.events] == [ClientState.BACKOFF] * max_retries + [ClientState.CLOSED]
    assert client.state is ClientState.CLOSED
    assert f"giving up after {max_retries + 1} failed attempts" in str(info.value)
    assert info.value.venue == client.name
    await client.close()


# ----------------------------------------------------------------------------------------------
# drops: on_connect before the first payload, on_disconnect per drop, payloads continue


async def test_drops_reconnect_with_hooks_in_order(transport: Transport) -> None:
    server = await transport.start([], default=("data", 2))
    # max_retries=0: every connection delivered data, so no drop counts against the limit
    client = transport.client(server.port, Backoff(**TINY, max_retries=0))
    rec = Recorder(client)
    got: list[str] = []

    async def run() -> None:
        async for payload in client.frames():
            got.append(transport.text(payload))
            rec.events.append(("data", got[-1], client.state))
            if len(got) == 6:
                await client.close()  # frames() then ends by itself

    await asyncio.wait_for(run(), T)
    assert got == ["1:0", "1:1", "2:0", "2:1", "3:0", "3:1"]
    kinds = rec.kinds()
    assert kinds == ["connect", "data", "data", "disconnect", "connect", "data", "data", "disconnect",
                     "connect", "data", "data", "disconnect"]
    connects = [s for k, _, s in rec.events if k == "connect"]
    drops = [(r, s) for k, r, s in rec.events if k == "disconnect"]
    assert connects == [ClientState.CONNECTED] * 3
    assert [s for _, s in drops[:2]] == [ClientState.BACKOFF] * 2  # lost: the client will reconnect
    assert drops[2] == ("closed by client", ClientState.CLOSED)  # the connection close() ended
    assert "closed by client" not in drops[0][0]
    assert client.stats.connects == 3 and client.stats.reconnects == 2
    assert client.stats.disconnects == 3 and client.stats.failed_connects == 0
    assert client.stats.messages == 6


# ----------------------------------------------------------------------------------------------
# the failure count resets when a connection delivers its first payload


async def test_failure_count_resets_after_data(transport: Transport) -> None:
    # with max_retries=1, two failures in a row end the client; refusals between data never do
    script: list[Action] = [("data", 1), ("refuse",), ("data", 1), ("refuse",), ("data", 1), ("refuse",),
                            ("refuse",)]
    server = await transport.start(script, default=("data", 1))
    client = transport.client(server.port, Backoff(**TINY, max_retries=1))
    rec = Recorder(client)
    got: list[str] = []
    with pytest.raises(VenueConnectionError):
        await asyncio.wait_for(collect(client, transport, got), T)
    assert got == ["1:0", "2:0", "3:0"]
    assert server.attempts == 7  # stopped right after the second refusal in a row
    assert client.stats.failed_connects == 4
    assert rec.kinds().count("connect") == 3
    assert rec.kinds().count("disconnect") == 3 + 4  # each drop and each refusal
    await client.close()


async def test_connection_ending_before_data_counts_as_a_failure(transport: Transport) -> None:
    server = await transport.start([], default=("data", 0))  # accepted, then dropped at once
    client = transport.client(server.port, Backoff(**TINY, max_retries=1))
    rec = Recorder(client)
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(collect(client, transport, []), T)
    assert server.attempts == 2
    assert client.stats.connects == 2 and client.stats.failed_connects == 0
    assert rec.kinds() == ["connect", "disconnect", "connect", "disconnect"]
    assert rec.events[-1][2] is ClientState.CLOSED
    assert "ended before any data" in str(info.value)
    await client.close()


# ----------------------------------------------------------------------------------------------
# close(): prompt during a long backoff pause and during an attempt; then the client stays closed


async def test_close_during_long_backoff_returns_promptly(transport: Transport) -> None:
    server = await transport.start([], default=("refuse",))
    client = transport.client(server.port, Backoff(initial_s=3600.0, max_s=3600.0, jitter=0.0))
    rec = Recorder(client)
    got: list[str] = []
    task = asyncio.get_running_loop().create_task(collect(client, transport, got))
    await rec.wait_for(lambda: rec.kinds() == ["disconnect"])
    assert client.state is ClientState.BACKOFF
    await asyncio.wait_for(client.close(), 2.0)  # far below the hour-long pause
    await asyncio.wait_for(task, 2.0)  # frames() ended without an error
    assert got == [] and client.state is ClientState.CLOSED
    assert server.attempts == 1
    assert [x async for x in client.frames()] == []  # closed: a new iteration ends at once


async def test_close_during_a_hanging_attempt_returns_promptly(transport: Transport) -> None:
    server = await transport.start([], default=("stall",))
    client = transport.client(server.port, Backoff(**TINY))
    rec = Recorder(client)
    assert client.state is ClientState.IDLE
    task = asyncio.get_running_loop().create_task(collect(client, transport, []))
    await server.wait_attempts(1)
    assert client.state is ClientState.CONNECTING
    await asyncio.wait_for(client.close(), 2.0)  # the attempt's own timeout is T
    await asyncio.wait_for(task, 2.0)
    assert client.state is ClientState.CLOSED
    assert client.stats.connects == 0
    assert rec.kinds() == ["disconnect"] and rec.events[0][1] == "closed by client"


# ----------------------------------------------------------------------------------------------
# request_reconnect and a pre-connected client


async def test_request_reconnect_drops_and_reconnects(transport: Transport) -> None:
    server = await transport.start([], default=("hold", 1))
    client = transport.client(server.port, Backoff(**TINY))
    rec = Recorder(client)
    got: list[str] = []

    def on_item(n: int) -> None:
        if n == 1:
            client.request_reconnect("test asked")

    await asyncio.wait_for(collect(client, transport, got, n=2, on_item=on_item), T)
    await client.close()
    assert got == ["1:0", "2:0"]
    drops = [(r, s) for k, r, s in rec.events if k == "disconnect"]
    assert drops[0] == ("reconnect requested: test asked", ClientState.BACKOFF)
    assert client.stats.reconnects == 1


async def test_consumer_that_stops_reading_drops_the_connection(transport: Transport) -> None:
    server = await transport.start([], default=("hold", 2))
    client = transport.client(server.port, Backoff(**TINY))
    rec = Recorder(client)
    async with contextlib.aclosing(client.frames()) as frames:
        async for payload in frames:
            assert transport.text(payload) == "1:0"
            break
    assert rec.kinds() == ["connect", "disconnect"]
    assert rec.events[1][1:] == ("reading stopped", ClientState.IDLE)
    assert not client.connected and client.stats.disconnects == 1
    # reading again reconnects
    got: list[str] = []
    await asyncio.wait_for(collect(client, transport, got, n=1), T)
    assert got == ["2:0"]
    await client.close()


async def test_connect_then_frames_uses_the_open_connection(transport: Transport) -> None:
    server = await transport.start([], default=("hold", 1))
    client = transport.client(server.port, Backoff(**TINY))
    rec = Recorder(client)
    await asyncio.wait_for(client.connect(), T)
    assert client.state is ClientState.CONNECTED and rec.kinds() == ["connect"]
    got: list[str] = []
    await asyncio.wait_for(collect(client, transport, got, n=1), T)
    assert got == ["1:0"] and server.attempts == 1
    await client.close()
    assert client.state is ClientState.CLOSED


async def test_a_failing_on_connect_is_a_failed_attempt(transport: Transport) -> None:
    """on_connect raising VenueConnectionError (lost while subscribing) drops the connection and counts."""
    server = await transport.start([], default=("hold", 1))
    client = transport.client(server.port, Backoff(**TINY, max_retries=1))
    rec = Recorder(client)

    async def on_connect(c: Client) -> None:
        await rec.on_connect(c)
        raise VenueConnectionError("subscribe failed", venue="x")

    client.on_connect = on_connect
    with pytest.raises(VenueConnectionError):
        await asyncio.wait_for(collect(client, transport, []), T)
    assert server.attempts == 2
    assert rec.kinds() == ["connect", "disconnect", "connect", "disconnect"]
    assert rec.events[1][1] == "lost during on_connect: subscribe failed"
    await client.close()
