"""Layer 1: the aiohttp WebSocket client.

:class:`WebSocketConfig` is the frozen, keyword-only description (build it with
:meth:`WebSocketConfig.build`, derive variants with ``with_*``);
:class:`WebSocketClient` runs it: TLS, protocol-level ping (``heartbeat_s``),
a no-data watchdog (``no_data_timeout_s``), reconnect with exponential backoff and
jitter (unbounded by default), clean close and counters. Venue subclasses
override :meth:`WebSocketClient.build_url` and
:meth:`WebSocketClient.subscribe_frames` only.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import aiohttp
from yarl import URL

from ..errors import ConfigError, VenueConnectionError
from .base import Backoff, Client, ClientState, ClientStats, Frame

__all__ = ("WebSocketConfig", "WebSocketClient")

log = logging.getLogger(__name__)

_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketConfig:
    """How to reach one WebSocket endpoint.

    Parameters
    ----------
    url : str
        ``ws://`` or ``wss://`` URL (for venue clients: the base URL; the venue
        appends its path).
    name : str
        Label for logs and errors (usually the venue).
    heartbeat_s : float or None
        Send a WebSocket ping this often and drop the connection if no pong
        comes back; None disables it.
    no_data_timeout_s : float or None
        Drop and reconnect when no data frame arrived for this long; None disables it.
    connect_timeout_s : float
        Bound on one connection attempt (TCP + TLS + upgrade).
    close_timeout_s : float
        How long a clean close waits for the peer's close frame.
    backoff : Backoff
        Reconnect policy (unbounded retries by default).
    ssl : ssl.SSLContext, bool or None
        TLS for ``wss://``: None/True verify with the default context, False
        disables verification, or a custom context.
    max_msg_size : int
        Largest frame accepted (bytes).
    headers : Mapping[str, str]
        Extra HTTP headers for the upgrade request.
    """

    url: str
    name: str = ""
    heartbeat_s: float | None = 20.0
    no_data_timeout_s: float | None = 30.0
    connect_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    backoff: Backoff = field(default_factory=Backoff)
    ssl: _ssl.SSLContext | bool | None = None
    max_msg_size: int = 4 * 1024 * 1024
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.url, str):
            raise TypeError(f"url must be a str, got {type(self.url).__name__}")
        u = URL(self.url)
        if u.scheme not in ("ws", "wss") or not u.host:
            raise ConfigError(f"invalid WebSocket URL {self.url!r}: expected ws://host[:port]/... or wss://...")
        for name in ("heartbeat_s", "no_data_timeout_s"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"{name} must be a positive number or None, got {v!r}")
        for name in ("connect_timeout_s", "close_timeout_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not isinstance(self.backoff, Backoff):
            raise TypeError("backoff must be a Backoff")
        if self.ssl is not None and not isinstance(self.ssl, (bool, _ssl.SSLContext)):
            raise TypeError("ssl must be an SSLContext, a bool or None")
        if not isinstance(self.max_msg_size, int) or self.max_msg_size <= 0:
            raise ValueError("max_msg_size must be a positive int")
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    @classmethod
    def build(cls, *, url: str, **kwargs: Any) -> WebSocketConfig:
        """Keyword-only builder; checks every argument eagerly."""
        return cls(url=url, **kwargs)

    def with_url(self, url: str) -> WebSocketConfig:
        return replace(self, url=url)

    def with_backoff(self, backoff: Backoff) -> WebSocketConfig:
        return replace(self, backoff=backoff)

    def with_timeouts(
        self, *, heartbeat_s: float | None = None, no_data_timeout_s: float | None = None
    ) -> WebSocketConfig:
        return replace(self, heartbeat_s=heartbeat_s, no_data_timeout_s=no_data_timeout_s)


class WebSocketClient(Client):
    """Reconnecting aiohttp WebSocket client (see the module docstring).

    Parameters
    ----------
    config : WebSocketConfig
    session : aiohttp.ClientSession, optional
        Shared session; by default the client creates and closes its own.
    """

    def __init__(self, config: WebSocketConfig, *, session: aiohttp.ClientSession | None = None) -> None:
        if not isinstance(config, WebSocketConfig):
            raise TypeError("config must be a WebSocketConfig")
        self.config = config
        self.stats = ClientStats()
        self.state = ClientState.IDLE
        self.on_connect = None
        self.on_disconnect = None
        self._session = session
        self._own_session = session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self._wake: asyncio.Event | None = None
        self._last_rx = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._tripped = False
        self._requested = ""
        self._bg: set[asyncio.Task[Any]] = set()

    @classmethod
    def build(cls, *, url: str, session: aiohttp.ClientSession | None = None, **kwargs: Any) -> WebSocketClient:
        """``WebSocketClient(WebSocketConfig.build(url=..., **kwargs))``."""
        return cls(WebSocketConfig.build(url=url, **kwargs), session=session)

    # -- venue hooks -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name or str(URL(self.config.url).host)

    def build_url(self) -> str:
        """The URL to connect to (venues append paths/streams to the base URL)."""
        return self.config.url

    def subscribe_frames(self) -> Sequence[Frame]:
        """Payloads sent right after every (re)connect, before :attr:`on_connect`."""
        return ()

    # -- Client interface ----------------------------------------------------------
    async def connect(self) -> None:
        if self._closing:
            raise VenueConnectionError("client is closed", venue=self.name)
        cfg = self.config
        self.state = ClientState.CONNECTING
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self.build_url()
        kwargs: dict[str, Any] = {
            "heartbeat": cfg.heartbeat_s,
            "max_msg_size": cfg.max_msg_size,
            "autoping": True,
            "headers": dict(cfg.headers),
        }
        if URL(url).scheme == "wss":
            kwargs["ssl"] = True if cfg.ssl is None else cfg.ssl
        if hasattr(aiohttp, "ClientWSTimeout"):
            kwargs["timeout"] = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=cfg.close_timeout_s)
        else:  # pragma: no cover - aiohttp < 3.11
            kwargs["timeout"] = cfg.close_timeout_s
        try:
            ws = await asyncio.wait_for(self._session.ws_connect(url, **kwargs), cfg.connect_timeout_s)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            self.stats.failed_connects += 1
            self.state = ClientState.BACKOFF
            raise VenueConnectionError(f"{self.name}: cannot connect to {url}: {exc!r}", venue=self.name) from exc
        if self._closing:  # close() ran while we were connecting
            await ws.close()
            raise VenueConnectionError(f"{self.name}: client closed while connecting", venue=self.name)
        self._ws = ws
        self._tripped = False
        self._requested = ""
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self.state = ClientState.CONNECTED
        loop = asyncio.get_running_loop()
        self._last_rx = loop.time()
        self._arm_watchdog(loop)
        log.debug("%s: connected to %s", self.name, url)
        for f in self.subscribe_frames():
            await self.send(f)
        if self.on_connect is not None:
            await self.on_connect(self)

    async def send(self, data: Frame) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise VenueConnectionError(f"{self.name}: not connected", venue=self.name)
        try:
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:  # RuntimeError: closing transport
            raise VenueConnectionError(f"{self.name}: send failed: {exc!r}", venue=self.name) from exc
        self.stats.sent += 1

    async def frames(self) -> AsyncIterator[Frame]:  # type: ignore[override]
        """Yield data payloads; reconnect after drops; end on :meth:`close`.

        Raises
        ------
        VenueConnectionError
            Only when ``backoff.max_retries`` is set and exhausted.
        """
        backoff = self.config.backoff
        attempt = 0
        first = True
        stats = self.stats
        loop = asyncio.get_running_loop()
        while not self._closing:
            if not first:
                if backoff.max_retries is not None and attempt >= backoff.max_retries:
                    self.state = ClientState.CLOSED
                    raise VenueConnectionError(
                        f"{self.name}: giving up after {attempt} failed attempts", venue=self.name
                    )
                self.state = ClientState.BACKOFF
                await self._pause(backoff.delay(attempt))
                attempt += 1
                if self._closing:
                    break
            first = False
            try:
                await self.connect()
            except VenueConnectionError as exc:
                log.info("%s", exc)
                self._notify_disconnect(f"connect failed: {exc.__cause__!r}" if exc.__cause__ else str(exc))
                continue
            ws = self._ws
            assert ws is not None
            reason = "closed by peer"
            try:
                while True:
                    msg = await ws.receive()
                    if msg.type in _DATA:
                        self._last_rx = loop.time()
                        data = msg.data
                        stats.messages += 1
                        stats.bytes += len(data)
                        attempt = 0
                        yield data
                    elif msg.type is aiohttp.WSMsgType.ERROR:
                        reason = f"error: {ws.exception()!r}"
                        break
                    else:  # CLOSE / CLOSING / CLOSED
                        if self._tripped:
                            reason = "no data within %.3g s" % (self.config.no_data_timeout_s or 0)
                        elif self._requested:
                            reason = f"reconnect requested: {self._requested}"
                        elif self._closing:
                            reason = "closed by client"
                        break
            finally:
                await self._drop(ws, reason)
        self.state = ClientState.CLOSED

    async def close(self) -> None:
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()
        for t in list(self._bg):
            try:
                await t
            except Exception:  # pragma: no cover - best effort
                pass
        if self._own_session and self._session is not None:
            s, self._session = self._session, None
            await s.close()
        self.state = ClientState.CLOSED

    def request_reconnect(self, reason: str = "requested") -> None:
        ws = self._ws
        if ws is None or ws.closed or self._closing:
            return
        log.info("%s: reconnecting (%s)", self.name, reason)
        self._requested = reason or "requested"
        task = asyncio.get_running_loop().create_task(ws.close())
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    # -- internals -------------------------------------------------------------------
    async def _pause(self, delay: float) -> None:
        if self._closing:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _drop(self, ws: aiohttp.ClientWebSocketResponse, reason: str) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._ws = None
        if not ws.closed:
            try:
                await ws.close()
            except Exception:  # pragma: no cover - peer already gone
                pass
        self.stats.disconnects += 1
        self.state = ClientState.CLOSED if self._closing else ClientState.BACKOFF
        if not self._closing:
            log.info("%s: disconnected (%s)", self.name, reason)
        self._notify_disconnect(reason)

    def _notify_disconnect(self, reason: str) -> None:
        cb = self.on_disconnect
        if cb is not None:
            try:
                cb(self, reason)
            except Exception:  # pragma: no cover - a hook must not kill the client
                log.exception("%s: on_disconnect hook failed", self.name)

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        t = self.config.no_data_timeout_s
        if t is None:
            return
        self._watchdog = loop.call_at(self._last_rx + t, self._check_watchdog)

    def _check_watchdog(self) -> None:
        self._watchdog = None
        ws = self._ws
        t = self.config.no_data_timeout_s
        if ws is None or ws.closed or t is None:
            return
        loop = asyncio.get_running_loop()
        due = self._last_rx + t
        if loop.time() >= due:
            self._tripped = True
            self.stats.watchdog_timeouts += 1
            log.warning("%s: no data for %.3g s; reconnecting", self.name, t)
            task = loop.create_task(ws.close())
            self._bg.add(task)
            task.add_done_callback(self._bg.discard)
        else:
            self._watchdog = loop.call_at(due, self._check_watchdog)

