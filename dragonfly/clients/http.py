"""Layer 1: the aiohttp HTTP client for REST snapshots and tokens.

:class:`HttpConfig` is the frozen, keyword-only description (build it with
:meth:`HttpConfig.build`); :class:`HttpClient` runs requests with it: an
optional shared :class:`aiohttp.ClientSession` (it owns one otherwise, closed by
:meth:`HttpClient.close`), a timeout per request, a bounded body, counters.
Every answer, whatever its status, is an :class:`HttpResponse`; only a request
that got no complete answer (refused, reset, timed out, body too large) raises
:class:`~dragonfly.errors.VenueConnectionError`, whose message names the method,
the host, the exception type and the status, never the query string (signed
requests carry their signature there) nor a header (API keys).
"""

from __future__ import annotations

import asyncio
import json as _json
import logging
import ssl as _ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from ..errors import ConfigError, VenueConnectionError
from .base import redact, summarize_error, url_with_host

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("HttpClient", "HttpConfig", "HttpResponse", "HttpStats")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """How an :class:`HttpClient` makes requests.

    Parameters
    ----------
    name : str
        Label for errors and logs (usually the venue).
    timeout_s : float
        Bound on one request: connect, send, and read the whole body.
    headers : Mapping[str, str]
        Headers sent with every request (per-request ones are added on top).
    max_body_bytes : int
        Largest body read; a longer one fails the request.
    follow_redirects : bool
        Follow 3xx answers. Off by default: a redirect would carry the headers
        (an API key) to wherever it points; the 3xx is returned instead.
    ssl : ssl.SSLContext, bool or None
        TLS for ``https://``: None/True verify with the default context, False
        disables verification, or a custom context.
    """

    name: str = ""
    timeout_s: float = 10.0
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_body_bytes: int = 16 * 1024 * 1024
    follow_redirects: bool = False
    ssl: _ssl.SSLContext | bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError("name must be a str")
        if not (isinstance(self.timeout_s, (int, float)) and not isinstance(self.timeout_s, bool)
                and self.timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number, got {self.timeout_s!r}")
        if not isinstance(self.max_body_bytes, int) or isinstance(self.max_body_bytes, bool) \
                or self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be a positive int")
        if self.ssl is not None and not isinstance(self.ssl, (bool, _ssl.SSLContext)):
            raise TypeError("ssl must be an SSLContext, a bool or None")
        object.__setattr__(self, "headers", MappingProxyType(_check_headers(self.headers)))

    @classmethod
    def build(cls, **kwargs: Any) -> HttpConfig:
        """Keyword-only builder; checks every argument eagerly."""
        return cls(**kwargs)

    def with_timeout(self, timeout_s: float) -> HttpConfig:
        return replace(self, timeout_s=timeout_s)

    def with_headers(self, headers: Mapping[str, str]) -> HttpConfig:
        return replace(self, headers=headers)


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError("headers must be a mapping of str to str")
    out = {}
    for k, v in headers.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("headers must be a mapping of str to str")  # no value in the message: may be a key
        out[k] = v
    return out


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One complete answer: its status and body."""

    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding, errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises :class:`ValueError` if it is not JSON)."""
        return _json.loads(self.body)


@dataclass(slots=True)
class HttpStats:
    """Counters of one :class:`HttpClient` (mutable, read them at any time)."""

    requests: int = 0  #: requests started
    failures: int = 0  #: requests that raised (no complete answer)
    bytes: int = 0  #: body bytes received


class HttpClient:
    """REST requests for layer 2 (snapshots, per-connection tokens); see the module docstring.

    Use it as an async context manager, or call :meth:`close`.

    Parameters
    ----------
    config : HttpConfig, optional
    session : aiohttp.ClientSession, optional
        Shared session, left open by :meth:`close`; by default the client
        creates its own on the first request and closes it.
    """

    def __init__(self, config: HttpConfig | None = None, *, session: aiohttp.ClientSession | None = None) -> None:
        if config is None:
            config = HttpConfig()
        if not isinstance(config, HttpConfig):
            raise TypeError("config must be an HttpConfig")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError("session must be an aiohttp.ClientSession")
        self.config = config
        self.stats = HttpStats()
        self._session = session
        self._own_session = session is None
        self._closed = False

    @classmethod
    def build(cls, *, session: aiohttp.ClientSession | None = None, **kwargs: Any) -> HttpClient:
        """``HttpClient(HttpConfig.build(**kwargs), session=session)``."""
        return cls(HttpConfig.build(**kwargs), session=session)

    @property
    def name(self) -> str:
        return self.config.name or "http"

    def redact(self, text: str) -> str:
        """``text`` without this client's header values (API keys) should a peer have echoed one."""
        return redact(text, self.config.headers.values())

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None,
                  timeout_s: float | None = None) -> HttpResponse:
        """GET ``url``; any status is returned (see :meth:`request`)."""
        return await self.request("GET", url, headers=headers, timeout_s=timeout_s)

    async def post(self, url: str, *, json: Any = None, headers: Mapping[str, str] | None = None,
                   timeout_s: float | None = None) -> HttpResponse:
        """POST ``url`` (``json`` as the body when given); any status is returned (see :meth:`request`)."""
        return await self.request("POST", url, json=json, headers=headers, timeout_s=timeout_s)

    async def request(self, method: str, url: str, *, json: Any = None, headers: Mapping[str, str] | None = None,
                      timeout_s: float | None = None) -> HttpResponse:
        """One request; the answer whatever its status.

        Raises
        ------
        ConfigError
            ``url`` is not an ``http://`` or ``https://`` URL.
        VenueConnectionError
            No complete answer: refused, reset, timed out, body above ``max_body_bytes``,
            or the client is closed. ``code`` is the HTTP status when one arrived.
        """
        method = method.upper()
        u = _http_url(url)
        host = f"{u.host}:{u.port}" if u.port else str(u.host)
        cfg = self.config
        if self._closed:
            raise VenueConnectionError(f"{self.name}: {method} {host}: client is closed", venue=self.name)
        extra = _check_headers(headers)
        sent = {**cfg.headers, **extra} if extra else dict(cfg.headers)
        timeout = cfg.timeout_s if timeout_s is None else timeout_s
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError("timeout_s must be a positive number")
        self.stats.requests += 1
        if self._session is None:
            self._session = aiohttp.ClientSession()
        kwargs: dict[str, Any] = {
            "headers": sent,
            "timeout": aiohttp.ClientTimeout(total=timeout),
            "allow_redirects": cfg.follow_redirects,
        }
        if json is not None:
            kwargs["json"] = json
        if u.scheme == "https" and cfg.ssl is not None:
            kwargs["ssl"] = cfg.ssl
        status: int | None = None
        body = b""
        failure: VenueConnectionError | None = None
        try:
            async with self._session.request(method, url, **kwargs) as resp:
                status = resp.status
                body = await self._read(resp, cfg.max_body_bytes)
        except _TooLarge:
            failure = VenueConnectionError(
                f"{self.name}: {method} {host}: body larger than {cfg.max_body_bytes} bytes (HTTP {status})",
                venue=self.name, code=status,
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            text = summarize_error(exc, host=host)
            if status is not None and f"HTTP {status}" not in text:
                text += f" (HTTP {status})"
            failure = VenueConnectionError(f"{self.name}: {method} {host} failed: {text}", venue=self.name,
                                           code=status)
        if failure is not None:
            # raised here, outside the handler: aiohttp's exception (URL in its text, headers in its repr)
            # is neither the cause nor the context of ours
            self.stats.failures += 1
            log.debug("%s", failure)
            raise failure
        assert status is not None
        self.stats.bytes += len(body)
        return HttpResponse(status, body)

    @staticmethod
    async def _read(resp: aiohttp.ClientResponse, limit: int) -> bytes:
        if resp.content_length is not None and resp.content_length > limit:
            raise _TooLarge
        chunks: list[bytes] = []
        n = 0
        async for chunk in resp.content.iter_chunked(65536):
            n += len(chunk)
            if n > limit:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        """Close the owned session (a shared one stays open); later requests fail. Idempotent."""
        self._closed = True
        if self._own_session and self._session is not None:
            s, self._session = self._session, None
            await s.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _TooLarge(Exception):
    pass


def _http_url(url: str) -> URL:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    u = url_with_host(url, ("http", "https"))
    if u is None:
        raise ConfigError("invalid HTTP URL: expected http://host[:port]/... or https://...")
    return u
