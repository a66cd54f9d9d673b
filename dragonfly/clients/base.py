"""Layer 1, the protocol-generic part: what every client offers to layer 2.

A client owns one connection and nothing else. Layer 2 (the venue feed) talks to
it only through :class:`Client`:

* :meth:`Client.frames` -- an async iterator of raw payloads that connects,
  reconnects with backoff after a drop, and ends when :meth:`Client.close` is
  called (or retries are exhausted);
* :meth:`Client.send` -- send a payload on the current connection;
* hooks :attr:`Client.on_connect` (awaited after every (re)connect, before the
  first frame is read: the place to (re)subscribe) and
  :attr:`Client.on_disconnect` (called after every drop, with a reason).

The WebSocket client (:mod:`dragonfly.clients.ws`) is one implementation; a FIX
4.4 session client implements the same interface.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

__all__ = ("Client", "ClientState", "ClientStats", "Backoff", "Frame", "OnConnect", "OnDisconnect", "FeedTask")

#: A raw payload as received (text frames as ``str``, binary as ``bytes``).
Frame = str | bytes
OnConnect = Callable[["Client"], Awaitable[None]]
OnDisconnect = Callable[["Client", str], None]


class ClientState(str, enum.Enum):
    IDLE = "IDLE"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    BACKOFF = "BACKOFF"
    CLOSED = "CLOSED"


@dataclass(slots=True)
class ClientStats:
    """Counters of one client (mutable, read them at any time)."""

    messages: int = 0  #: data frames received
    bytes: int = 0  #: payload bytes (characters for text frames) received
    sent: int = 0  #: frames sent
    connects: int = 0  #: successful connections
    reconnects: int = 0  #: successful connections after the first
    failed_connects: int = 0  #: connection attempts that failed
    disconnects: int = 0  #: connections lost or closed by the peer
    watchdog_timeouts: int = 0  #: connections dropped for silence


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with full-range jitter.

    Delay before attempt ``n`` (``n = 0`` is the first retry) is
    ``min(max_s, initial_s * factor**n)`` scaled by a random factor in
    ``[1 - jitter, 1]``.
    """

    initial_s: float = 0.1
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    #: Retries after a failure before giving up; None = forever.
    max_retries: int | None = None

    def __post_init__(self) -> None:
        if not self.initial_s >= 0 or not self.max_s >= self.initial_s:
            raise ValueError("need 0 <= initial_s <= max_s")
        if not self.factor >= 1.0:
            raise ValueError("factor must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError("max_retries must be >= 0 or None")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        base = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        r = (rng or random).random()
        return base * (1.0 - self.jitter * r)


class Client(abc.ABC):
    """Abstract connection toward layer 2 (see the module docstring)."""

    #: Awaited after each successful (re)connect, before frames are read.
    on_connect: OnConnect | None = None
    #: Called after each lost connection, and after each failed connection attempt, with a short reason.
    on_disconnect: OnDisconnect | None = None

    stats: ClientStats
    state: ClientState

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Label for logs (usually the venue)."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Make one connection attempt (raises :class:`~dragonfly.errors.VenueConnectionError`)."""

    @abc.abstractmethod
    async def send(self, data: Frame) -> None:
        """Send one payload on the current connection."""

    @abc.abstractmethod
    def frames(self) -> AsyncIterator[Frame]:
        """Yield payloads forever, reconnecting as needed, until :meth:`close`."""

    def request_reconnect(self, reason: str = "requested") -> None:
        """Drop the current connection; :meth:`frames` reconnects (the venue asked us to)."""
        raise NotImplementedError

    @abc.abstractmethod
    async def close(self) -> None:
        """Close cleanly; :meth:`frames` ends. Idempotent."""

    @property
    def connected(self) -> bool:
        return self.state is ClientState.CONNECTED


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
            logging.getLogger(type(self).__module__).error("%s stopped: %r", self.task_name, exc)

    async def stop(self) -> None:
        """:meth:`close`, then wait (at most 5 s) for the task started by :meth:`start`."""
        await self.close()
        t, self._task = self._task, None
        if t is not None:
            try:
                await asyncio.wait_for(t, 5.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                t.cancel()
