"""Layer 1: the aiohttp WebSocket client.

:class:`WebSocketConfig` is the frozen, keyword-only description (build it with
:meth:`WebSocketConfig.build`, derive variants with ``with_*``);
:class:`WebSocketClient` runs it: TLS, protocol-level ping (``heartbeat_s``),
a no-data watchdog (``no_data_timeout_s``), reconnect with exponential backoff and
jitter (unbounded by default, the loop of :class:`~dragonfly.clients.base.Client`),
clean close and counters. Venue subclasses override :meth:`WebSocketClient.build_url`
and :meth:`WebSocketClient.subscribe_frames` only; a venue that hands out a
per-connection URL over REST passes ``resolve_url``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import aiohttp
from yarl import URL

from .._core.wsframe import FrameSplitter
from ..errors import ConfigError, VenueConnectionError
from .base import Backoff, Client, Frame, summarize_error, url_with_host

__all__ = ("TRANSPORTS", "WebSocketConfig", "WebSocketClient", "websocket_client")

#: WebSocket transports: aiohttp (the default), picows (optional extra ``dragonflybot[picows]``)
TRANSPORTS = ("aiohttp", "picows")

log = logging.getLogger(__name__)

_TEXT = aiohttp.WSMsgType.TEXT
_BINARY = aiohttp.WSMsgType.BINARY

_FrameParser: Any = None
try:  # aiohttp's own frame parser (not public API: the splitter goes in front of it only when it looks as expected)
    from aiohttp._websocket.reader import WebSocketReader as _FrameParser
except ImportError:  # pragma: no cover - another aiohttp layout: frames are read with ws.receive()
    pass


class _Stop(Exception):
    """The consumer's ``on_frame`` raised; its exception is on the splitter (never shown to anyone)."""


_STOP = _Stop()
_STOP_MESSAGE = aiohttp.WSMessage(aiohttp.WSMsgType.ERROR, _STOP, None)


class _SinkResponse(aiohttp.ClientWebSocketResponse):
    """The WebSocket response of a client's own session: when aiohttp gives it its frame parser, it
    puts a :class:`~dragonfly._core.wsframe.FrameSplitter` in front of it, so that
    :meth:`WebSocketClient.pump` gets every plain data frame by callback, cut from the received bytes
    in the core; aiohttp's parser gets everything else (ping, pong, close, fragments, errors) and every
    frame while no pump is attached. ``_splitter`` stays None when aiohttp does not hand the parser over
    as expected (then frames are read with ``ws.receive()``, as they are with a shared session)."""

    _max_msg_size = 4 * 1024 * 1024
    _decode_text = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._splitter: FrameSplitter | None = None
        self._parser_obj: Any = None
        super().__init__(*args, **kwargs)

    @property
    def _parser(self) -> Any:
        return self._parser_obj

    @_parser.setter
    def _parser(self, parser: Any) -> None:
        if parser is not None and self._splitter is None and type(parser) is _FrameParser:
            parser = self._splitter = FrameSplitter(parser, self._max_msg_size, self._decode_text)
        self._parser_obj = parser


@functools.lru_cache(maxsize=16)
def _response_class(max_msg_size: int, decode_text: bool) -> type[_SinkResponse]:
    """:class:`_SinkResponse` for frames of at most ``max_msg_size`` bytes (aiohttp's own limit), text
    frames decoded or not."""
    return type("_SinkResponse", (_SinkResponse,), {"_max_msg_size": max_msg_size, "_decode_text": decode_text})


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
        Drop and reconnect when no data frame arrived for this long; None disables it. The check runs
        once per period (frames are counted, not timed one by one), so a silence is noticed between
        one and two periods after the last frame.
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
    transport : str
        ``"aiohttp"`` (the default) or ``"picows"`` (the optional extra ``dragonflybot[picows]``:
        frames parsed in C and handed to the consumer by callback); :func:`websocket_client` builds
        the client of either.
    text_as_bytes : bool
        Hand text frames over as their bytes, not decoded to ``str`` (and not checked as UTF-8). The
        feeds set it: the core parses bytes directly, so decoding would only cost time.
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
    transport: str = "aiohttp"
    text_as_bytes: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.url, str):
            raise TypeError(f"url must be a str, got {type(self.url).__name__}")
        u = URL(self.url)
        if u.scheme not in ("ws", "wss") or not u.host:
            shown = u.with_query(None).with_fragment(None).with_user(None) if u.host else u.scheme or "?"
            raise ConfigError(f"invalid WebSocket URL {str(shown)!r}: expected ws://host[:port]/... or wss://...")
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
        if not isinstance(self.text_as_bytes, bool):
            raise TypeError("text_as_bytes must be a bool")
        if self.transport not in TRANSPORTS:
            raise ConfigError(f"unknown WebSocket transport {self.transport!r}; known: {', '.join(TRANSPORTS)}")

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

    The reconnect loop, hooks, state and counters are :class:`~dragonfly.clients.base.Client`'s;
    this class opens one connection at a time: resolve the URL, upgrade, send
    :meth:`subscribe_frames`, then ping (``heartbeat_s``) and watch for silence
    (``no_data_timeout_s``) while frames are read.

    Parameters
    ----------
    config : WebSocketConfig
    session : aiohttp.ClientSession, optional
        Shared session; by default the client creates and closes its own.
    resolve_url : callable, optional
        ``async () -> str``, awaited before every connection attempt, for venues that
        hand out a per-connection URL or token over REST first. Its result replaces
        :meth:`build_url`; an exception from it (or a result that is not a ``ws://``
        or ``wss://`` URL) is a failed attempt. The URL is never logged.
    """

    def __init__(
        self,
        config: WebSocketConfig,
        *,
        session: aiohttp.ClientSession | None = None,
        resolve_url: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        if not isinstance(config, WebSocketConfig):
            raise TypeError("config must be a WebSocketConfig")
        if resolve_url is not None and not callable(resolve_url):
            raise TypeError("resolve_url must be an async callable returning a URL")
        super().__init__()
        self.config = config
        self.resolve_url = resolve_url
        self._session = session
        self._own_session = session is None
        self._ws: aiohttp.ClientWebSocketResponse[Any] | None = None
        self._host = ""
        self._last_rx = 0.0  # when the watchdog last saw data (or the connection opened)
        self._rx_seen = 0  # stats.messages then
        self._watchdog: asyncio.TimerHandle | None = None
        self._tripped = False
        self._end = ""
        self._bg: set[asyncio.Task[Any]] = set()

    @classmethod
    def build(
        cls,
        *,
        url: str,
        session: aiohttp.ClientSession | None = None,
        resolve_url: Callable[[], Awaitable[str]] | None = None,
        **kwargs: Any,
    ) -> WebSocketClient:
        """``WebSocketClient(WebSocketConfig.build(url=..., **kwargs), session=..., resolve_url=...)``."""
        return cls(WebSocketConfig.build(url=url, **kwargs), session=session, resolve_url=resolve_url)

    # -- venue hooks -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name or str(URL(self.config.url).host)

    @property
    def backoff(self) -> Backoff:
        return self.config.backoff

    def _secrets(self) -> tuple[str, ...]:
        return tuple(self.config.headers.values())

    def build_url(self) -> str:
        """The URL to connect to (venues append paths/streams to the base URL)."""
        return self.config.url

    def subscribe_frames(self) -> Sequence[Frame]:
        """Payloads sent right after every (re)connect, before :attr:`on_connect`."""
        return ()

    # -- sending -------------------------------------------------------------------
    async def send(self, data: Frame) -> None:
        """Send a text (``str``) or binary (``bytes``) frame on the current connection."""
        ws = self._ws
        if ws is None or ws.closed:
            raise VenueConnectionError(f"{self.name}: not connected", venue=self.name)
        failure: VenueConnectionError | None = None
        try:
            if isinstance(data, str):
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:  # RuntimeError: closing transport
            failure = VenueConnectionError(
                f"{self.name}: send failed: {summarize_error(exc, host=self._host)}", venue=self.name
            )
        if failure is not None:
            raise failure  # outside the handler (see _open)
        self.stats.sent += 1

    # -- one connection (called by Client's loop) ------------------------------------
    def _is_open(self) -> bool:
        ws = self._ws
        return ws is not None and not ws.closed

    async def _url(self) -> str:
        if self.resolve_url is None:
            return self.build_url()
        failure: VenueConnectionError | None = None
        try:
            url = await self.resolve_url()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of the venue's REST step is a failed attempt
            failure = VenueConnectionError(
                f"{self.name}: connect failed: resolve_url: {self._summary(exc)}", venue=self.name,
                code=getattr(exc, "code", None),
            )
        if failure is not None:
            raise failure  # outside the handler: the cause's text may hold the URL or headers
        if not isinstance(url, str):
            raise VenueConnectionError(
                f"{self.name}: connect failed: resolve_url returned a {type(url).__name__}, not a URL",
                venue=self.name,
            )
        if url_with_host(url, ("ws", "wss")) is None:
            raise VenueConnectionError(
                f"{self.name}: connect failed: resolve_url returned something that is not a ws:// or wss:// URL",
                venue=self.name,
            )
        return url

    async def _open(self) -> None:
        cfg = self.config
        url = await self._url()
        u = URL(url)
        self._host = f"{u.host}:{u.port}" if u.port else str(u.host)
        if self._session is None:  # its own session: data frames come by callback (see _SinkResponse)
            self._session = aiohttp.ClientSession(
                ws_response_class=_response_class(cfg.max_msg_size, not cfg.text_as_bytes)
            )
        kwargs: dict[str, Any] = {
            "heartbeat": cfg.heartbeat_s,
            "max_msg_size": cfg.max_msg_size,
            "autoping": True,
            "headers": dict(cfg.headers),
        }
        if cfg.text_as_bytes:
            kwargs["decode_text"] = False
        if u.scheme == "wss":
            kwargs["ssl"] = True if cfg.ssl is None else cfg.ssl
        if hasattr(aiohttp, "ClientWSTimeout"):
            kwargs["timeout"] = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=cfg.close_timeout_s)
        else:  # pragma: no cover - aiohttp < 3.11
            kwargs["timeout"] = cfg.close_timeout_s
        failure: VenueConnectionError | None = None
        try:
            ws = await asyncio.wait_for(self._session.ws_connect(url, **kwargs), cfg.connect_timeout_s)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            failure = VenueConnectionError(
                f"{self.name}: connect failed: {summarize_error(exc, host=self._host)}", venue=self.name,
                code=getattr(exc, "status", None),
            )
        if failure is not None:
            # raised outside the handler: aiohttp's exception (URL with its query string in its text,
            # every request header in its repr) is neither the cause nor the context of ours
            raise failure
        await self._opened(ws)

    async def _opened(self, ws: Any, transport: str = "") -> None:
        """A connection is up: subscribe (closing it when that fails), then start the silence watchdog."""
        self._ws = ws
        self._tripped = False
        self._end = ""
        try:
            for f in self.subscribe_frames():
                await self.send(f)
        except BaseException:
            self._ws = None
            await ws.close()
            raise
        loop = asyncio.get_running_loop()
        self._last_rx = loop.time()
        self._rx_seen = self.stats.messages
        self._arm_watchdog(loop)
        log.debug("%s: connected to %s%s", self.name, self._host, transport)

    async def _receive(self) -> AsyncIterator[Frame]:
        ws = self._ws
        if ws is None:
            return
        while True:
            msg = await ws.receive()
            t = msg.type
            if t is _TEXT or t is _BINARY:
                yield msg.data
            else:  # CLOSE / CLOSING / CLOSED / ERROR
                self._ended(ws, msg)
                return

    async def _receive_into(self, on_frame: Callable[[Any], object], on_first: Callable[[], None]) -> None:
        """The :meth:`~Client.pump` path: plain data frames go to ``on_frame`` from the
        :class:`~dragonfly._core.wsframe.FrameSplitter` as the bytes arrive, while this loop serves
        ``ws.receive()`` for what aiohttp's parser handles (ping, close, errors, the end, and every
        frame once the splitter fell back). With a shared session (or another aiohttp), this loop
        reads every frame with ``ws.receive()`` instead."""
        ws = self._ws
        if ws is None:
            return
        splitter: FrameSplitter | None = getattr(ws, "_splitter", None)
        queue = ws._reader
        stats = self.stats
        receive = ws.receive
        first: Callable[[], object] | None = on_first
        while True:
            if (
                splitter is not None
                and not splitter.fallback
                and not queue._buffer  # frames aiohttp queued before the pump attached go first, in order
                and getattr(queue, "_stalled_reader", None) is None
            ):
                # from now on, plain data frames come by callback
                splitter.attach(on_frame, first, functools.partial(queue.feed_data, _STOP_MESSAGE, 0), stats)
                try:
                    msg = await receive()  # what aiohttp's parser handles, until the end
                finally:
                    first = splitter.on_first
                    splitter.detach()
                if msg.type is aiohttp.WSMsgType.ERROR and msg.data is _STOP:  # on_frame raised: reading stops
                    error, splitter.error = splitter.error, None
                    assert error is not None
                    raise error
            else:
                msg = await receive()
            t = msg.type
            if t is not _TEXT and t is not _BINARY:  # CLOSE / CLOSING / CLOSED / ERROR
                self._ended(ws, msg)
                return
            data = msg.data
            stats.messages += 1
            stats.bytes += len(data)
            if first is not None:
                first()
                first = None
            on_frame(data)

    def _ended(self, ws: Any, msg: Any) -> None:
        """The connection's last message from ``ws.receive()``: CLOSE, CLOSING, CLOSED or ERROR."""
        if msg.type is aiohttp.WSMsgType.ERROR:  # aiohttp puts a protocol error in the message, others on ws
            exc = msg.data if isinstance(msg.data, BaseException) else ws.exception()
            self._end = "error: " + (summarize_error(exc, host=self._host) if exc is not None else "unknown")

    async def _drop(self) -> str:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            try:
                await ws.close()
            except Exception:  # pragma: no cover - peer already gone
                pass
        if self._tripped:
            return "no data within %.3g s" % (self.config.no_data_timeout_s or 0)
        return self._end or "closed by peer"

    def _abort(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            self._background(ws.close())

    async def _shutdown(self) -> None:
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

    # -- internals -------------------------------------------------------------------
    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

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
        now = loop.time()
        seen = self.stats.messages
        if seen != self._rx_seen:  # data came since the last look (frames are counted, not timed, one by one)
            self._rx_seen = seen
            self._last_rx = now
        due = self._last_rx + t
        if now >= due:
            self._tripped = True
            self.stats.watchdog_timeouts += 1
            log.debug("%s: no data for %.3g s; reconnecting", self.name, t)  # the drop is logged with this reason
            self._background(ws.close())
        else:
            self._watchdog = loop.call_at(due, self._check_watchdog)


def websocket_client(
    config: WebSocketConfig, *, resolve_url: Callable[[], Awaitable[str]] | None = None
) -> WebSocketClient:
    """The client of ``config.transport``: :class:`WebSocketClient` (aiohttp), or
    :class:`~dragonfly.clients.ws_picows.PicowsWebSocketClient` (raises ConfigError when picows is
    not installed: ``pip install dragonflybot[picows]``)."""
    if config.transport == "picows":
        try:
            from .ws_picows import PicowsWebSocketClient
        except ImportError as exc:
            raise ConfigError(
                f"WebSocket transport 'picows' needs picows ({exc}); pip install dragonflybot[picows]"
            ) from None
        return PicowsWebSocketClient(config, resolve_url=resolve_url)
    return WebSocketClient(config, resolve_url=resolve_url)
