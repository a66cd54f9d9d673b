"""Layer 1, optional: the WebSocket client on picows (``pip install dragonflybot[picows]``).

:class:`PicowsWebSocketClient` runs the same :class:`~dragonfly.clients.ws.WebSocketConfig` as the
aiohttp client (select it with ``WebSocketConfig(transport="picows")`` or
:func:`~dragonfly.clients.ws.websocket_client`) and keeps its contract: reconnect loop, hooks,
counters, ping (``heartbeat_s``), no-data watchdog, clean close. picows parses frames in C and hands
each to a listener callback; on :meth:`~dragonfly.clients.base.Client.pump` that callback is the
consumer's own ``on_frame``, with no queue or task in between. :meth:`~dragonfly.clients.base.Client.frames`
reads a bounded buffer instead (reading from the socket pauses while it is full).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import picows
from yarl import URL

from ..errors import VenueConnectionError
from .base import Frame, summarize_error
from .ws import WebSocketClient

__all__ = ("PicowsWebSocketClient",)

log = logging.getLogger(__name__)

_TEXT = picows.WSMsgType.TEXT
_BINARY = picows.WSMsgType.BINARY
_CONT = picows.WSMsgType.CONTINUATION
_CLOSE = picows.WSMsgType.CLOSE
_HIGH_WATER = 1024  # payloads buffered for frames() before the socket is paused
_LOW_WATER = 256


class _Connection(picows.WSListener):
    """One picows connection: its listener, and the ``closed``/``close()`` the client's watchdog uses."""

    def __init__(self, client: PicowsWebSocketClient) -> None:
        super().__init__()
        self.client = client
        self.as_bytes = client.config.text_as_bytes  # text frames handed over undecoded
        self.transport: Any = None
        self.loop = asyncio.get_running_loop()
        self.buffer: deque[Frame] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.on_frame: Callable[[Any], object] | None = None
        self.on_first: Callable[[], None] | None = None
        self.error: BaseException | None = None  # raised by on_frame: reading stops
        self.end = ""  # why the connection ended, when it was a protocol error
        self.done = self.loop.create_future()
        self.paused = False
        self._parts: list[bytes] = []
        self._parts_type: Any = None
        self._parts_size = 0

    # -- picows callbacks ----------------------------------------------------------------------
    def on_ws_connected(self, transport: Any) -> None:
        self.transport = transport

    def on_ws_disconnected(self, transport: Any) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self._wake()

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        t = frame.msg_type
        if t is _TEXT or t is _BINARY:
            if frame.fin:
                try:
                    payload: Frame = (
                        frame.get_payload_as_utf8_text() if t is _TEXT and not self.as_bytes
                        else frame.get_payload_as_bytes()
                    )
                except UnicodeDecodeError:
                    self._fail(picows.WSCloseCode.INVALID_TEXT, "invalid UTF-8 in a text frame")
                    return
                self._deliver(payload)
            else:
                self._parts = [frame.get_payload_as_bytes()]
                self._parts_type = t
                self._parts_size = frame.payload_size
        elif t is _CONT:
            if self._parts_type is None:
                self._fail(picows.WSCloseCode.PROTOCOL_ERROR, "continuation frame without a message")
                return
            self._parts.append(frame.get_payload_as_bytes())
            self._parts_size += frame.payload_size
            if self._parts_size > self.client.config.max_msg_size:
                self._fail(picows.WSCloseCode.MESSAGE_TOO_BIG, "message too big")
                return
            if frame.fin:
                data = b"".join(self._parts)
                kind, self._parts, self._parts_type, self._parts_size = self._parts_type, [], None, 0
                if kind is _TEXT and not self.as_bytes:
                    try:
                        self._deliver(data.decode())
                    except UnicodeDecodeError:
                        self._fail(picows.WSCloseCode.INVALID_TEXT, "invalid UTF-8 in a text message")
                else:
                    self._deliver(data)
        elif t is _CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        # PING is answered by picows (enable_auto_pong); PONG feeds its auto-ping

    # -- delivery ------------------------------------------------------------------------------
    def _deliver(self, payload: Frame) -> None:
        client = self.client
        on_frame = self.on_frame
        if on_frame is None:  # frames(): a bounded buffer, the socket paused while it is full
            self.buffer.append(payload)
            self._wake()
            if len(self.buffer) >= _HIGH_WATER and not self.paused:
                self.paused = True
                self.transport.underlying_transport.pause_reading()
            return
        stats = client.stats
        stats.messages += 1
        stats.bytes += len(payload)
        first = self.on_first
        if first is not None:
            self.on_first = None
            first()
        try:
            on_frame(payload)
        except BaseException as exc:  # the consumer stopped reading: drop the connection, raise it in pump
            self.error = exc
            self.on_frame = None
            self.transport.disconnect(False)
            self._wake()

    def _fail(self, code: Any, reason: str) -> None:
        self.end = f"error: {reason}"
        self.transport.send_close(code)
        self.transport.disconnect()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    async def next(self) -> Frame | None:
        """The next buffered payload, or None once the connection ended and the buffer is empty."""
        while not self.buffer:
            if self.done.done():
                return None
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        payload = self.buffer.popleft()
        if self.paused and len(self.buffer) <= _LOW_WATER:
            self.paused = False
            if not self.done.done():
                self.transport.underlying_transport.resume_reading()
        return payload

    # -- what the client's watchdog and close use ------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.done.done()

    async def close(self) -> None:
        if self.done.done() or self.transport is None:
            return
        try:
            self.transport.send_close(picows.WSCloseCode.OK)
        except Exception:  # pragma: no cover - the transport is already closing
            pass
        self.transport.disconnect()
        try:
            await asyncio.wait_for(asyncio.shield(self.done), self.client.config.close_timeout_s)
        except asyncio.TimeoutError:  # pragma: no cover - the socket is closed anyway
            self.transport.disconnect(False)


class PicowsWebSocketClient(WebSocketClient):
    """The WebSocket client on picows (see the module notes); the same config and contract as
    :class:`~dragonfly.clients.ws.WebSocketClient`."""

    _ws: Any  # the current _Connection

    async def send(self, data: Frame) -> None:
        conn = self._ws
        if conn is None or conn.closed:
            raise VenueConnectionError(f"{self.name}: not connected", venue=self.name)
        failure: VenueConnectionError | None = None
        try:
            if isinstance(data, str):
                conn.transport.send(_TEXT, data.encode())
            else:
                conn.transport.send(_BINARY, bytes(data))
        except (OSError, RuntimeError) as exc:
            failure = VenueConnectionError(
                f"{self.name}: send failed: {summarize_error(exc, host=self._host)}", venue=self.name
            )
        if failure is not None:
            raise failure  # outside the handler: the cause is neither the cause nor the context of ours
        self.stats.sent += 1

    async def _open(self) -> None:
        cfg = self.config
        url = await self._url()
        u = URL(url)
        self._host = f"{u.host}:{u.port}" if u.port else str(u.host)
        kwargs: dict[str, Any] = {
            "max_frame_size": cfg.max_msg_size,
            "extra_headers": dict(cfg.headers),
            "websocket_handshake_timeout": cfg.connect_timeout_s,
            "enable_auto_pong": True,
            "logger_name": "dragonfly",
        }
        if cfg.heartbeat_s is not None:
            kwargs.update(enable_auto_ping=True, auto_ping_idle_timeout=cfg.heartbeat_s,
                          auto_ping_reply_timeout=cfg.heartbeat_s / 2)
        if u.scheme == "wss" and cfg.ssl is not None and cfg.ssl is not True:
            if cfg.ssl is False:
                import ssl

                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                kwargs["ssl_context"] = ctx
            else:
                kwargs["ssl_context"] = cfg.ssl
        failure: VenueConnectionError | None = None
        try:
            _, listener = await asyncio.wait_for(
                picows.ws_connect(lambda: _Connection(self), url, **kwargs), cfg.connect_timeout_s
            )
        except (picows.WSError, OSError, asyncio.TimeoutError) as exc:
            failure = VenueConnectionError(
                f"{self.name}: connect failed: {summarize_error(exc, host=self._host)}", venue=self.name,
                code=getattr(exc, "status", None),
            )
        if failure is not None:
            raise failure  # outside the handler: the cause's text may hold the URL or headers
        await self._opened(cast(_Connection, listener), " (picows)")

    async def _receive(self) -> AsyncIterator[Frame]:
        conn = self._ws
        if conn is None:
            return
        while True:
            payload = await conn.next()
            if payload is None:
                self._end = conn.end
                return
            yield payload

    async def _receive_into(self, on_frame: Callable[[Any], object], on_first: Callable[[], None]) -> None:
        conn = self._ws
        if conn is None:
            return
        first: Callable[[], None] | None = on_first
        while conn.buffer:  # anything read before the pump started
            payload = conn.buffer.popleft()
            self.stats.messages += 1
            self.stats.bytes += len(payload)
            if first is not None:
                first()
                first = None
            on_frame(payload)
        conn.on_first = first
        conn.on_frame = on_frame
        if conn.paused:
            conn.paused = False
            conn.transport.underlying_transport.resume_reading()
        try:
            await asyncio.shield(conn.done)
        except asyncio.CancelledError:
            conn.on_frame = None
            raise
        error, conn.error = conn.error, None
        if error is not None:
            raise error
        self._end = conn.end
