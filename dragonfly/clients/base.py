"""Layer 1, the protocol-generic part: what every client offers to layer 2.

A client owns one connection and nothing else. Layer 2 (the venue feed) talks to
it only through :class:`Client`:

* :meth:`Client.frames` -- an async iterator of raw payloads that connects,
  reconnects with backoff after a drop, and ends when :meth:`Client.close` is
  called (or retries are exhausted); :meth:`Client.pump` does the same and
  hands each payload to a callback instead (no generator per payload);
* :meth:`Client.send` -- send a payload on the current connection;
* hooks :attr:`Client.on_connect` (awaited after every (re)connect, before the
  first payload is yielded: the place to (re)subscribe),
  :attr:`Client.on_disconnect` (called after every lost connection and every
  failed connection attempt, with a reason) and :attr:`Client.on_gap` (the
  connection lost application data it cannot recover).

The reconnect loop lives here, once: :meth:`Client.frames` does the attempts,
backoff, hooks, state and counters, and a protocol client implements only the
steps of one connection (:meth:`Client._open`, :meth:`Client._receive`,
:meth:`Client._drop`, :meth:`Client._abort`, :meth:`Client._shutdown`). The
WebSocket client (:mod:`dragonfly.clients.ws`) and the FIX 4.4 initiator
(:mod:`dragonfly.clients.fix`) are two such clients.

Reasons handed to hooks, exception messages and log lines never carry secrets:
:func:`summarize_error` is the one way a client turns a foreign exception into text.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import errno as _errno
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from yarl import URL

from ..errors import DragonflyError, VenueConnectionError

__all__ = (
    "Client",
    "ClientState",
    "ClientStats",
    "Backoff",
    "Frame",
    "OnConnect",
    "OnDisconnect",
    "OnGap",
    "FeedTask",
    "redact",
    "summarize_error",
    "url_with_host",
)

log = logging.getLogger(__name__)


def url_with_host(url: str, schemes: tuple[str, ...]) -> URL | None:
    """``url`` parsed, when it is ``<scheme>://host...`` for one of ``schemes``; else None (it never raises)."""
    try:
        u = URL(url)
        return u if u.scheme in schemes and u.host else None
    except (ValueError, TypeError):
        return None

#: A raw payload as received (text frames as ``str``, binary as ``bytes``).
Frame = str | bytes
OnConnect = Callable[["Client"], Awaitable[None]]
OnDisconnect = Callable[["Client", str], None]
#: ``on_gap(client, reason)``: the connection lost application data it cannot
#: recover; every book it carries may be wrong (resync them all).
OnGap = Callable[["Client", str], None]


def _host_of(exc: BaseException) -> str:
    """``host[:port]`` an exception says it was about, or ""."""
    host = getattr(exc, "host", None)
    if isinstance(host, str) and host:
        port = getattr(exc, "port", None)
        return f"{host}:{port}" if isinstance(port, int) and port else host
    info = getattr(exc, "request_info", None)
    url = getattr(info, "url", None)
    h = getattr(url, "host", None)
    if isinstance(h, str) and h:
        port = getattr(url, "explicit_port", None)
        return f"{h}:{port}" if isinstance(port, int) else h
    return ""


def summarize_error(exc: BaseException, *, host: str | None = None) -> str:
    """A short text for an exception that is safe to log and to show.

    Only the exception's type, the HTTP status if it has one, the OS error name
    and the host (``host`` when given, else the one the exception names) are
    used; never ``repr()``/``str()`` of a foreign exception (aiohttp's carry every
    request header, an API key among them), never a query string. dragonfly's
    own errors (:class:`~dragonfly.errors.DragonflyError`) are written to be safe,
    so their message is kept.

    Parameters
    ----------
    exc : BaseException
    host : str, optional
        ``host`` or ``host:port`` the failed operation was about.

    Returns
    -------
    str
        For example ``"WSServerHandshakeError (HTTP 401) at api.example.com:443"``
        or ``"ConnectionRefusedError [ECONNREFUSED] at 127.0.0.1:9001"``.
    """
    if isinstance(exc, DragonflyError):
        text = str(exc) or type(exc).__name__
        return f"{text} at {host}" if host and host not in text else text
    parts = [type(exc).__name__]
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool) and status:
        parts.append(f"(HTTP {status})")
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno in _errno.errorcode:
        parts.append(f"[{_errno.errorcode[exc.errno]}]")
    where = host or _host_of(exc)
    if where:
        parts.append(f"at {where}")
    return " ".join(parts)


#: Secrets shorter than this are not searched for in texts (a header value such as "1" would garble them).
_MIN_SECRET = 4


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by ``***``.

    For text a peer wrote (a FIX Logout's reason, an error body) that may echo what we sent: a
    password, an API key. Secrets shorter than 4 characters are left alone.
    """
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, "***")
    return text


class ClientState(str, enum.Enum):
    """Where a client is: ``IDLE`` before the first attempt (and after the consumer of
    :meth:`Client.frames` stopped reading), ``CONNECTING`` during an
    attempt, ``CONNECTED`` once it succeeded (and during ``on_connect``), ``BACKOFF``
    after a failure or a drop until the next attempt, ``CLOSED`` after :meth:`Client.close`
    or once retries are exhausted."""

    IDLE = "IDLE"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    BACKOFF = "BACKOFF"
    CLOSED = "CLOSED"


@dataclass(slots=True)
class ClientStats:
    """Counters of one client (mutable, read them at any time)."""

    messages: int = 0  #: data payloads received
    bytes: int = 0  #: payload bytes received (characters for a text frame a client reads decoded with ws.receive())
    sent: int = 0  #: payloads sent
    connects: int = 0  #: successful connections
    reconnects: int = 0  #: successful connections after the first
    failed_connects: int = 0  #: connection attempts that failed to connect
    disconnects: int = 0  #: connections that ended (lost, dropped or closed)
    watchdog_timeouts: int = 0  #: connections dropped for silence
    gaps: int = 0  #: ``on_gap`` notifications (application data lost)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with full-range jitter.

    Delay before retry ``n`` (``n = 0`` is the first retry) is
    ``min(max_s, initial_s * factor**n)`` scaled by a random factor in
    ``[1 - jitter, 1]``.
    """

    initial_s: float = 0.1
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    #: Retries after a failed attempt before giving up: ``max_retries + 1`` attempts
    #: in a row that fail, then :class:`~dragonfly.errors.VenueConnectionError`. None = forever.
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if not self.initial_s >= 0 or not self.max_s >= self.initial_s:
            raise ValueError("need 0 <= initial_s <= max_s")
        if not self.factor >= 1.0:
            raise ValueError("factor must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")
        if self.max_retries is not None and (not isinstance(self.max_retries, int) or self.max_retries < 0):
            raise ValueError("max_retries must be an int >= 0 or None")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        r = (rng or random).random()
        return base * (1.0 - self.jitter * r)


class Client(abc.ABC):
    """A reconnecting connection toward layer 2 (see the module docstring).

    The contract of :meth:`frames`, the same for every protocol:

    * an *attempt* opens one connection (for a WebSocket: resolve the URL, TCP,
      TLS, upgrade, subscribe frames; for FIX: TCP, TLS, Logon) and then awaits
      :attr:`on_connect`; it fails when any of that fails;
    * :attr:`on_disconnect` ``(client, reason)`` is called after every failed
      attempt and after every connection that ends (lost, dropped by the
      watchdog, :meth:`request_reconnect`, :meth:`close`);
    * an attempt that fails, and a connection that ends before it delivered a
      payload, count as one *failure*; the count of failures in a row resets to
      0 when a connection yields its first payload;
    * after a failure or a drop the client waits ``backoff.delay(n)`` (``n`` =
      failures in a row minus one, 0 after a connection that delivered data)
      and tries again; ``backoff.max_retries = N`` gives up after ``N + 1``
      failures in a row, raising :class:`~dragonfly.errors.VenueConnectionError`
      (None retries forever);
    * :meth:`close` ends :meth:`frames` promptly, also during a backoff pause or
      an attempt;
    * a consumer that stops reading (``aclose()``, ``break`` then garbage
      collection, cancellation) drops the connection: ``on_disconnect`` gets
      ``"reading stopped"`` and the state goes back to ``IDLE``.

    Subclasses implement :attr:`name`, :attr:`backoff`, :meth:`send` and the
    steps of one connection: :meth:`_is_open`, :meth:`_open`, :meth:`_receive`,
    :meth:`_drop`, :meth:`_abort`, :meth:`_shutdown`.
    """

    #: Awaited after each successful (re)connect, before the first payload is yielded.
    on_connect: OnConnect | None
    #: Called after each lost connection, and after each failed connection attempt, with a short reason.
    on_disconnect: OnDisconnect | None
    #: Called when the connection lost application data it cannot recover (see :data:`OnGap`).
    on_gap: OnGap | None

    stats: ClientStats
    state: ClientState

    def __init__(self) -> None:
        self.stats = ClientStats()
        self.state = ClientState.IDLE
        self.on_connect = None
        self.on_disconnect = None
        self.on_gap = None
        self._closing = False
        self._wake: asyncio.Event | None = None
        self._requested = ""
        self._attempt_task: asyncio.Task[None] | None = None
        # state-change logging (see _log_down): when the current trouble began, and its failures so far
        self._down_since: float | None = None
        self._down_failures = 0
        self._ever_connected = False

    # -- what a protocol client provides ------------------------------------------------------------
    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Label for logs (usually the venue)."""

    @property
    @abc.abstractmethod
    def backoff(self) -> Backoff:
        """The reconnect policy."""

    @abc.abstractmethod
    async def send(self, data: Any) -> None:
        """Send one payload on the current connection (:class:`~dragonfly.errors.VenueConnectionError` if none)."""

    @abc.abstractmethod
    def _is_open(self) -> bool:
        """Whether a connection is open now."""

    @abc.abstractmethod
    async def _open(self) -> None:
        """Open one connection (everything before ``on_connect``).

        Raises :class:`~dragonfly.errors.VenueConnectionError` whose message is
        ``"<name>: connect failed: <safe summary>"`` (see :func:`summarize_error`;
        chained to the cause only when the cause's own text is safe too), and
        leaves nothing open when it fails or is cancelled.
        """

    @abc.abstractmethod
    def _receive(self) -> AsyncIterator[Any]:
        """The current connection's payloads; ends when the connection ends."""

    @abc.abstractmethod
    async def _drop(self) -> str:
        """Close the current connection if it is still open, forget it, return why it ended."""

    @abc.abstractmethod
    def _abort(self) -> None:
        """Start closing the current connection now, without waiting (the receiver then ends)."""

    @abc.abstractmethod
    async def _shutdown(self) -> None:
        """Close cleanly for :meth:`close` (the open connection, owned resources). Idempotent."""

    def _secrets(self) -> tuple[str, ...]:
        """What this client sends that must never show in a reason, an error or a log line (header
        values, a password); :meth:`_summary` removes any of them a peer echoed back."""
        return ()

    def _summary(self, exc: BaseException, *, host: str | None = None) -> str:
        """:func:`summarize_error` without this client's name in front (it is in every message already),
        and without this client's :meth:`_secrets`."""
        if isinstance(exc, DragonflyError):
            text = str(exc) or type(exc).__name__
            prefix = f"{self.name}: "
            while text.startswith(prefix):
                text = text[len(prefix):]
            text = f"{text} at {host}" if host and host not in text else text
        else:
            text = summarize_error(exc, host=host)
        return redact(text, self._secrets())

    def _payload_size(self, payload: Any) -> int:
        """Size counted in :attr:`ClientStats.bytes`."""
        return len(payload)

    # -- the interface toward layer 2 ---------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state is ClientState.CONNECTED

    @property
    def alive(self) -> bool:
        """The current connection is known to be alive: connected and, where the protocol has
        its own heartbeats (FIX), heard from within its heartbeat interval."""
        return self.connected

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closing

    async def connect(self) -> None:
        """Make one attempt now (then await :attr:`on_connect`); :meth:`frames` uses the connection.

        Raises
        ------
        VenueConnectionError
            The attempt failed (``on_disconnect`` was called with the reason).
        """
        if self._is_open():
            return
        await self._attempt_cancellable(final=False)

    def frames(self) -> AsyncIterator[Any]:
        """Yield payloads forever, reconnecting as needed, until :meth:`close`.

        Raises
        ------
        VenueConnectionError
            Only when ``backoff.max_retries`` is set and that many retries failed too.
        """
        return self._run()

    async def pump(self, on_frame: Callable[[Any], object]) -> None:
        """:meth:`frames` without an async iterator: hand every payload to ``on_frame`` as it is read.

        The contract of :meth:`frames` (attempts, backoff, hooks, state, counters; returns after
        :meth:`close`), with one call per payload and no generator between the connection and the
        consumer. ``on_frame(payload)`` runs synchronously in the read loop; an exception from it
        (or cancelling the pump) stops reading: the connection is dropped, ``on_disconnect`` gets
        ``"reading stopped"``, the state goes back to ``IDLE``, and the exception propagates.

        Raises
        ------
        VenueConnectionError
            Only when ``backoff.max_retries`` is set and that many retries failed too.
        """
        failures = 0  # failures in a row (see the class docstring)
        delivered = False

        def first() -> None:
            nonlocal delivered, failures
            delivered = True
            failures = 0
            if self._down_since is not None:
                self._log_recovered()

        retry = False
        try:
            while not self._closing:
                step = await self._connect_step(failures, retry)
                retry = True
                if step is None:
                    break
                failures, connected = step
                if not connected:
                    continue
                delivered = False
                stopped = False
                reason = ""
                try:
                    await self._receive_into(on_frame, first)
                except (VenueConnectionError, OSError, asyncio.TimeoutError) as exc:
                    reason = self._summary(exc)
                except BaseException:
                    stopped = True  # cancelled, or on_frame raised: nobody reads, nobody retries
                    raise
                finally:
                    reason = await self._connection_ended(stopped, delivered, failures, reason)
                failures = self._count_empty(delivered, failures, reason)
        except asyncio.CancelledError:
            if not self._closing:
                self.state = ClientState.IDLE  # the consumer stopped reading: nobody reads, nobody retries
            raise
        self.state = ClientState.CLOSED

    async def _receive_into(self, on_frame: Callable[[Any], object], on_first: Callable[[], None]) -> None:
        """Hand the current connection's payloads to ``on_frame``, counted, with ``on_first()`` before
        the first; return when the connection ends (:meth:`pump`). This reads :meth:`_receive`; a
        protocol client may override it with a tighter loop."""
        stats = self.stats
        size = self._payload_size
        first = True
        rx = self._receive()
        try:
            async for item in rx:
                if first:
                    first = False
                    on_first()
                stats.messages += 1
                stats.bytes += size(item)
                on_frame(item)
        finally:
            aclose = getattr(rx, "aclose", None)
            if aclose is not None:
                await aclose()

    def request_reconnect(self, reason: str = "requested") -> None:
        """Drop the current connection; :meth:`frames` reconnects (the venue asked us to).

        The ``on_disconnect`` reason is ``"reconnect requested: <reason>"``.
        """
        if self._closing or not self._is_open():
            return
        log.info("%s: reconnecting (%s)", self.name, reason)
        self._requested = reason or "requested"
        self._abort()

    async def close(self) -> None:
        """Close cleanly; :meth:`frames` ends (at once if it is pausing or connecting). Idempotent."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        t = self._attempt_task
        if t is not None and t is not asyncio.current_task():
            t.cancel()
            await asyncio.wait((t,))
        await self._shutdown()
        self.state = ClientState.CLOSED

    def _notify_gap(self, reason: str) -> None:
        """Report lost application data to :attr:`on_gap` (protocol clients call this)."""
        self.stats.gaps += 1
        log.warning("%s: application data lost: %s", self.name, reason)
        self._call_hook(self.on_gap, "on_gap", reason)

    # -- the loop -----------------------------------------------------------------------------------
    async def _run(self) -> AsyncGenerator[Any, None]:
        stats = self.stats
        size = self._payload_size
        failures = 0  # failures in a row (see the class docstring)
        retry = False
        try:
            while not self._closing:
                step = await self._connect_step(failures, retry)
                retry = True
                if step is None:
                    break
                failures, connected = step
                if not connected:
                    continue
                delivered = False
                stopped = False
                reason = ""
                rx = self._receive()
                try:
                    async for item in rx:
                        if not delivered:
                            delivered = True
                            failures = 0
                            if self._down_since is not None:
                                self._log_recovered()
                        stats.messages += 1
                        stats.bytes += size(item)
                        yield item
                except (VenueConnectionError, OSError, asyncio.TimeoutError) as exc:
                    reason = self._summary(exc)
                except (GeneratorExit, asyncio.CancelledError):
                    # the consumer stopped reading (aclose, break, cancel): nobody reads, nobody retries
                    stopped = True
                    raise
                finally:
                    aclose = getattr(rx, "aclose", None)
                    if aclose is not None:
                        await aclose()
                    reason = await self._connection_ended(stopped, delivered, failures, reason)
                failures = self._count_empty(delivered, failures, reason)
        except (GeneratorExit, asyncio.CancelledError):
            if not self._closing:
                self.state = ClientState.IDLE  # the consumer stopped reading: nobody reads, nobody retries
            raise
        self.state = ClientState.CLOSED

    # -- the steps both loops share (frames() pulls, pump() pushes) -----------------------------------
    async def _connect_step(self, failures: int, retry: bool) -> tuple[int, bool] | None:
        """Back off after a failure (``retry``), then connect unless open.

        Returns ``(failures, connected)`` (a failed attempt counts; the loop tries again), or None
        when the client was closed meanwhile. Raises VenueConnectionError when giving up.
        """
        backoff = self.backoff
        limit = backoff.max_retries
        if retry:
            self.state = ClientState.BACKOFF
            await self._pause(backoff.delay(max(failures - 1, 0)))
            if self._closing:
                return None
        if not self._is_open():
            final = limit is not None and failures >= limit
            try:
                await self._attempt_cancellable(final)
            except VenueConnectionError as exc:
                failures += 1
                if self._closing:
                    return None
                if limit is not None and failures > limit:
                    raise VenueConnectionError(
                        f"{self.name}: giving up after {failures} failed attempts in a row; last: "
                        + self._summary(exc),
                        venue=self.name,
                        code=exc.code,
                    ) from exc
                return failures, False
        return failures, True

    async def _connection_ended(self, stopped: bool, delivered: bool, failures: int, reason: str) -> str:
        """Drop the connection that ended (hooks, state): ``stopped`` when nobody reads any more."""
        if stopped:
            await self._lost("reading stopped", False, ClientState.IDLE)
            return reason
        limit = self.backoff.max_retries
        final = not delivered and limit is not None and failures >= limit
        return await self._lost(reason, final)

    def _count_empty(self, delivered: bool, failures: int, reason: str) -> int:
        """A connection that ended before any data counts as a failure; give up past the limit."""
        if delivered:
            return failures
        failures += 1
        limit = self.backoff.max_retries
        if limit is not None and failures > limit and not self._closing:
            raise VenueConnectionError(
                f"{self.name}: giving up after {failures} failed attempts in a row; last: the connection "
                f"ended before any data ({reason})",
                venue=self.name,
            )
        return failures

    async def _attempt_cancellable(self, final: bool) -> None:
        """:meth:`_attempt` in a task that :meth:`close` can cancel."""
        task = asyncio.get_running_loop().create_task(self._attempt(final), name=f"connect:{self.name}")
        self._attempt_task = task
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait((task,))
            raise
        finally:
            self._attempt_task = None
        if task.cancelled():
            raise VenueConnectionError(f"{self.name}: closed while connecting", venue=self.name)
        task.result()

    async def _attempt(self, final: bool) -> None:
        """One attempt: :meth:`_open`, counters, state, :attr:`on_connect`; hooks on failure."""
        if self._closing:
            raise VenueConnectionError(f"{self.name}: client is closed", venue=self.name)
        self.state = ClientState.CONNECTING
        self._requested = ""
        stats = self.stats
        try:
            await self._open()
        except VenueConnectionError as exc:
            stats.failed_connects += 1
            text = self._summary(exc)
            self._failed(text if text.startswith("connect failed") else f"connect failed: {text}", final)
            raise
        except asyncio.CancelledError:
            self._failed("closed by client" if self._closing else "connection attempt cancelled", False,
                         ClientState.IDLE)
            raise
        stats.connects += 1
        if stats.connects > 1:
            stats.reconnects += 1
        self.state = ClientState.CONNECTED
        if not self._ever_connected and self._down_since is None:
            log.info("%s: connected%s", self.name, self._where())
        else:
            log.debug("%s: connected%s", self.name, self._where())
        self._ever_connected = True
        hook = self.on_connect
        if hook is None:
            return
        try:
            await hook(self)
        except VenueConnectionError as exc:
            await self._lost(f"lost during on_connect: {self._summary(exc)}", final)
            raise
        except BaseException as exc:
            await self._lost(f"on_connect did not complete: {self._summary(exc)}", True)
            raise

    def _failed(self, reason: str, final: bool, state: ClientState = ClientState.BACKOFF) -> None:
        """An attempt failed: set the state, tell ``on_disconnect``."""
        self.state = ClientState.CLOSED if (final or self._closing) else state
        if not self._closing and state is not ClientState.IDLE:
            self._log_down(reason)
        self._notify_disconnect(reason)

    async def _lost(self, reason: str, final: bool, state: ClientState | None = None) -> str:
        """The open connection ended: close it, count, set the state, tell ``on_disconnect``; the reason."""
        why = await self._drop()
        requested = bool(self._requested) and not self._closing
        if self._closing:
            reason = "closed by client"
        elif self._requested:
            reason = f"reconnect requested: {self._requested}"
        else:
            reason = reason or why or "closed"
        self._requested = ""
        self.stats.disconnects += 1
        if final or self._closing:
            self.state = ClientState.CLOSED
        else:
            self.state = state or ClientState.BACKOFF
        if self._closing or requested or state is ClientState.IDLE:
            log.debug("%s: disconnected (%s)", self.name, reason)  # asked for: not trouble
        else:
            self._log_down(f"disconnected ({reason})")
        self._notify_disconnect(reason)
        return reason

    # -- state changes, logged once each ------------------------------------------------------------
    # With the default log level a venue's connection says what changes, once: the first connection
    # (INFO), the first failure of an episode with its short reason (WARNING), and the recovery once
    # data flows again (WARNING too: whoever sees the failure sees its end). The attempts in between
    # are logged at DEBUG, so a venue that is down for hours writes two lines, not one per retry.

    def _where(self) -> str:
        host = getattr(self, "_host", "")
        return f" to {host}" if isinstance(host, str) and host else ""

    def _log_down(self, what: str) -> None:
        """A failed attempt or a lost connection: a WARNING for the first of an episode, then DEBUG."""
        if self._down_since is None:
            self._down_since = asyncio.get_running_loop().time()
            self._down_failures = 1
            log.warning("%s: %s; retrying with backoff (logged again when it recovers)", self.name, what)
        else:
            self._down_failures += 1
            log.debug("%s: %s (failure %d in this episode)", self.name, what, self._down_failures)

    def _log_recovered(self) -> None:
        """The first payload after an episode of failures."""
        assert self._down_since is not None
        down_s = asyncio.get_running_loop().time() - self._down_since
        log.warning("%s: recovered%s: receiving data again after %d failure(s) over %.1f s",
                    self.name, self._where(), self._down_failures, down_s)
        self._down_since = None
        self._down_failures = 0

    def _notify_disconnect(self, reason: str) -> None:
        self._call_hook(self.on_disconnect, "on_disconnect", reason)

    def _call_hook(self, hook: Callable[[Client, str], None] | None, name: str, reason: str) -> None:
        """``hook(self, reason)`` when set; its failure is logged, never raised (a hook cannot break the client)."""
        if hook is not None:
            try:
                hook(self, reason)
            except Exception:
                log.exception("%s: %s hook failed", self.name, name)

    async def _pause(self, delay: float) -> None:
        if self._closing:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass


class FeedTask:
    """The lifecycle of a feed driven by a client (layers 2-3): :meth:`start` runs
    :meth:`run` as a task, :meth:`stop` closes and waits for it.

    A failure of :meth:`run` (retries exhausted, or a bug) is logged and kept in
    :attr:`error`: the feed's instruments stay STALE and the process lives on.
    Subclasses implement :meth:`run` and :meth:`close`, and set ``task_name``.
    """

    _task: asyncio.Task[None] | None = None
    #: the exception that ended :meth:`run`, if any
    error: BaseException | None = None
    task_name: str = "feed"

    async def run(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` as a task (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._guarded(), name=self.task_name)
        return self._task

    async def _guarded(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc
            logging.getLogger(type(self).__module__).error("%s stopped: %s", self.task_name, summarize_error(exc))

    async def stop(self) -> None:
        """:meth:`close`, then wait (at most 5 s) for the task started by :meth:`start`."""
        await self.close()
        t, self._task = self._task, None
        if t is not None:
            try:
                await asyncio.wait_for(t, 5.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                t.cancel()
