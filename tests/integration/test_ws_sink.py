"""The aiohttp client's callback delivery: with its own session, :meth:`WebSocketClient.pump` takes
plain data frames by callback from the frame splitter in front of aiohttp's frame parser
(``dragonfly._core.wsframe.FrameSplitter``, installed by ``dragonfly.clients.ws._SinkResponse``), while
``ws.receive()`` still serves what aiohttp's parser handles. These tests pin what that path must keep:
order (frames aiohttp queued before the pump attached come first), pings answered, protocol errors
ending the connection with a reason, and the callback detached when the consumer stops. The whole
layer-1 contract also runs on it (``test_client_contract``, transport ``ws``) and on the
``ws.receive()`` path of a shared session (transport ``ws-shared``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from dragonfly.clients import Backoff, ClientState, WebSocketClient
from dragonfly.errors import VenueConnectionError

T = 10.0


class Peer:
    """An aiohttp WebSocket server on 127.0.0.1 whose handler the test supplies."""

    def __init__(self) -> None:
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, handler: Any) -> None:
        app = web.Application()
        app.router.add_get("/ws", handler)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def client(self, **kwargs: Any) -> WebSocketClient:
        opts: dict[str, Any] = {"connect_timeout_s": T, "heartbeat_s": None, "no_data_timeout_s": None,
                                "backoff": Backoff(initial_s=0.001, max_s=0.002, max_retries=0)}
        opts.update(kwargs)
        return Subscribing.build(url=f"ws://127.0.0.1:{self.port}/ws", name="peer", **opts)


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    p = Peer()
    try:
        yield p
    finally:
        if p.runner is not None:
            await p.runner.cleanup()


class Subscribing(WebSocketClient):
    """Sends "go" on connect, as a venue client subscribes; :func:`sender` peers wait for it."""

    def subscribe_frames(self) -> list[str]:
        return ["go"]


def sender(n: int, done: asyncio.Event | None = None) -> Any:
    """A peer that sends ``n`` text frames once the client said "go", then closes (after ``done``)."""
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        msg = await ws.receive()
        assert msg.data == "go"
        for i in range(n):
            await ws.send_str(f"f{i}")
        if done is not None:
            await done.wait()
        await ws.close()
        return ws
    return handler


async def test_own_session_delivers_by_callback_and_shared_session_by_receive(peer: Peer) -> None:
    done = asyncio.Event()
    await peer.start(sender(5, done))
    seen: dict[str, list[bool]] = {}
    async with aiohttp.ClientSession() as shared:
        for label, client in (("own", peer.client()), ("shared", peer.client(session=shared))):
            got: list[str] = []
            by_callback = seen.setdefault(label, [])

            def on_frame(payload: Any, client: WebSocketClient = client, got: list[str] = got,
                         by_callback: list[bool] = by_callback) -> None:
                splitter = getattr(client._ws, "_splitter", None)
                by_callback.append(splitter is not None and splitter.on_frame is not None)
                got.append(payload)
                if len(got) == 5:
                    done.set()
                    asyncio.get_running_loop().create_task(client.close())

            done.clear()
            await asyncio.wait_for(client.pump(on_frame), T)  # close() ends it
            assert got == [f"f{i}" for i in range(5)]
            assert client.stats.messages == 5 and client.stats.bytes == 10 and client.stats.sent == 1
            assert client.state is ClientState.CLOSED
    assert seen["own"] == [True] * 5
    assert seen["shared"] == [False] * 5


async def test_frames_queued_before_the_pump_attaches_come_first(peer: Peer) -> None:
    """Frames aiohttp parsed while the client was still subscribing sit in aiohttp's queue: the pump
    delivers them, in order, before the ones the callback brings."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await release.wait()
        for i in range(3):
            await ws.send_str(f"live{i}")
        await ws.close()
        return ws

    await peer.start(handler)

    class Early(WebSocketClient):
        async def _opened(self, ws: Any, transport: str = "") -> None:
            await super()._opened(ws, transport)
            for i in range(2):  # what the parser would have queued before the pump attached
                ws._reader.feed_data(aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, f"early{i}", None), 6)
            release.set()

    client = Early(peer.client().config)
    got: list[str] = []

    def on_frame(payload: Any) -> None:
        got.append(payload)
        if len(got) == 5:
            asyncio.get_running_loop().create_task(client.close())

    await asyncio.wait_for(client.pump(on_frame), T)
    assert got == ["early0", "early1", "live0", "live1", "live2"]
    assert client.stats.messages == 5


async def test_pings_are_answered_while_frames_come_by_callback(peer: Peer) -> None:
    pongs: list[bytes] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        assert (await ws.receive()).data == "go"
        await ws.send_str("a")
        await ws.ping(b"p1")
        msg = await asyncio.wait_for(ws.receive(), T)
        if msg.type is aiohttp.WSMsgType.PONG:
            pongs.append(msg.data)
        await ws.send_str("b")
        await ws.close()
        return ws

    await peer.start(handler)
    client = peer.client()
    got: list[str] = []

    def on_frame(payload: Any) -> None:
        got.append(payload)
        if len(got) == 2:
            asyncio.get_running_loop().create_task(client.close())

    await asyncio.wait_for(client.pump(on_frame), T)
    assert pongs == [b"p1"]
    assert got == ["a", "b"]


async def test_a_protocol_error_ends_the_connection_with_its_reason(peer: Peer) -> None:
    """A frame over ``max_msg_size``: the splitter hands it to aiohttp's parser, which fails; the error
    reaches ``ws.receive()``, the pump ends that connection with an error reason (it does not hang)."""
    await peer.start(sender(1))
    client = peer.client(max_msg_size=1)
    reasons: list[str] = []
    client.on_disconnect = lambda c, reason: reasons.append(reason)
    got: list[Any] = []
    try:
        with pytest.raises(VenueConnectionError, match="ended before any data"):  # max_retries=0: it gives up
            await asyncio.wait_for(client.pump(got.append), T)
    finally:
        await client.close()
    assert got == []
    assert reasons == [f"error: WebSocketError at 127.0.0.1:{peer.port}"]  # before, "error: unknown"
    assert client.stats.messages == 0


async def test_on_frame_raising_detaches_the_callback(peer: Peer) -> None:
    done = asyncio.Event()
    await peer.start(sender(4, done))
    client = peer.client()
    splitters: list[Any] = []
    got: list[str] = []

    class Stop(Exception):
        pass

    def on_frame(payload: Any) -> None:
        splitters.append(client._ws._splitter)  # type: ignore[union-attr]
        got.append(payload)
        if len(got) == 2:
            raise Stop

    with pytest.raises(Stop):
        await asyncio.wait_for(client.pump(on_frame), T)
    done.set()
    assert got == ["f0", "f1"]
    assert splitters[0] is splitters[1] and splitters[0].on_frame is None and splitters[0].error is None
    assert client.state is ClientState.IDLE
    await client.close()


async def test_the_watchdog_counts_frames_that_come_by_callback(peer: Peer) -> None:
    """Frames every 20 ms keep a 250 ms no-data watchdog quiet; when they stop, it drops the connection."""
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        assert (await ws.receive()).data == "go"
        for i in range(15):
            await ws.send_str(f"f{i}")
            await asyncio.sleep(0.02)  # the peer's pace
        async for _ in ws:  # then silent, until the client drops it
            pass
        return ws

    await peer.start(handler)
    client = peer.client(no_data_timeout_s=0.25)
    got: list[str] = []
    reasons: list[str] = []

    def on_disconnect(c: Any, reason: str) -> None:
        reasons.append(reason)
        asyncio.get_running_loop().create_task(client.close())

    client.on_disconnect = on_disconnect
    await asyncio.wait_for(client.pump(got.append), T)
    assert got == [f"f{i}" for i in range(15)]
    assert client.stats.connects == 1 and client.stats.watchdog_timeouts == 1
    assert reasons[0] == "no data within 0.25 s"


@pytest.mark.parametrize("transport", ["aiohttp", "aiohttp-shared", "picows"])
@pytest.mark.parametrize("read", ["pump", "frames"])
async def test_text_as_bytes_hands_text_frames_over_undecoded(peer: Peer, transport: str, read: str) -> None:
    if transport == "picows":
        pytest.importorskip("picows", reason="the optional picows transport is not installed")
    from dragonfly.clients.ws import WebSocketConfig, websocket_client

    done = asyncio.Event()
    await peer.start(sender(3, done))
    async with aiohttp.ClientSession() as shared:
        config = WebSocketConfig.build(url=f"ws://127.0.0.1:{peer.port}/ws", heartbeat_s=None, no_data_timeout_s=None,
                                       text_as_bytes=True, transport="picows" if transport == "picows" else "aiohttp")
        if transport == "aiohttp-shared":
            client: WebSocketClient = Subscribing(config, session=shared)
        else:
            client = websocket_client(config)
            client.subscribe_frames = lambda: ["go"]  # type: ignore[method-assign]
        got: list[Any] = []
        try:
            if read == "pump":
                def on_frame(payload: Any) -> None:
                    got.append(payload)
                    if len(got) == 3:
                        asyncio.get_running_loop().create_task(client.close())
                await asyncio.wait_for(client.pump(on_frame), T)
            else:
                async def take() -> None:
                    async for payload in client.frames():
                        got.append(payload)
                        if len(got) == 3:
                            return
                await asyncio.wait_for(take(), T)
        finally:
            done.set()
            await client.close()
    assert got == [b"f0", b"f1", b"f2"]
    assert client.stats.bytes == 6


def test_text_as_bytes_is_checked() -> None:
    from dragonfly.clients.ws import WebSocketConfig

    with pytest.raises(TypeError, match="text_as_bytes"):
        WebSocketConfig.build(url="ws://127.0.0.1:1/", text_as_bytes="yes")  # type: ignore[arg-type]


async def test_a_fragmented_message_mid_stream_is_read_in_order() -> None:
    """A peer that fragments one message (RFC 6455 5.4) after plain frames: the splitter hands the
    fragment and everything after it to aiohttp's parser, and the pump reads those with
    ``ws.receive()``: the consumer gets every message once, in order."""
    import base64
    import hashlib

    def frame(first: int, payload: bytes) -> bytes:
        return bytes((first, len(payload))) + payload

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        await reader.readexactly(2 + 4 + 2)  # the client's masked "go"
        writer.write(frame(0x81, b"a") + frame(0x82, b"b")  # plain text, plain binary
                     + frame(0x01, b"par") + frame(0x89, b"ping") + frame(0x80, b"tial")  # text in two fragments
                     + frame(0x81, b"c"))
        await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Subscribing.build(url=f"ws://127.0.0.1:{port}/ws", name="peer", connect_timeout_s=T, heartbeat_s=None,
                               no_data_timeout_s=None, backoff=Backoff(initial_s=0.001, max_s=0.002, max_retries=0))
    got: list[Any] = []
    fallback: list[bool] = []

    def on_frame(payload: Any) -> None:
        got.append(payload)
        fallback.append(client._ws._splitter.fallback)  # type: ignore[union-attr]
        if len(got) == 4:
            asyncio.get_running_loop().create_task(client.close())

    try:
        await asyncio.wait_for(client.pump(on_frame), T)
    finally:
        server.close()
        await server.wait_closed()
    assert got == ["a", b"b", "partial", "c"]
    assert fallback == [False, False, True, True]
    assert client.stats.messages == 4 and client.stats.bytes == 10
