"""Layer 1: FIX 4.4 sessions over asyncio streams (initiator and acceptor).

Pieces
------
* :class:`FixSessionConfig` -- who we are and who we talk to: CompIDs, HeartBtInt,
  optional Username/Password (553/554), ResetSeqNumFlag (141), where the sequence
  numbers are kept.
* :class:`FileSeqStore` / :class:`MemorySeqStore` -- the next outgoing and expected
  incoming MsgSeqNum; the file store survives a restart, so the session resumes.
* :class:`FixSession` -- one logged-on connection: framing (the core's
  :class:`~dragonfly._core.fix.FixFramer`), heartbeats every HeartBtInt, a
  TestRequest after a silent HeartBtInt and a disconnect if that goes unanswered,
  MsgSeqNum checks (ResendRequest on a gap, duplicates with PossDupFlag=Y dropped,
  "too low" answered by Logout), answering ResendRequests (recent application
  messages resent with PossDupFlag=Y from a bounded buffer, the rest gap-filled
  with SequenceReset-GapFill), Reject (35=3) for messages that parse but break
  session rules, Logout.
* :class:`FixClient` -- the initiator, with the same interface toward layer 2 as
  :class:`~dragonfly.clients.ws.WebSocketClient` (:class:`~dragonfly.clients.base.Client`):
  ``frames()`` (raw bytes of each application message) / ``messages()`` (parsed),
  both through the one reconnect loop of :class:`~dragonfly.clients.base.Client`;
  ``send`` (``(msg_type, fields)`` or raw bytes), ``on_connect``/``on_disconnect``/``on_gap``
  hooks, counters.
* :func:`accept_logon` -- the acceptor's side of a Logon (CompID and password
  checks, refusal with a logged reason); :class:`dragonfly.services.fix_server`
  and :mod:`dragonfly.sim.fix_venue` build their servers on it.

Bad input never kills the process: garbled bytes (bad BodyLength or CheckSum,
garbage) are dropped, counted and logged, as FIX requires (no Reject, the
sequence gap that follows triggers a ResendRequest); a message above the size
limit disconnects the peer; session faults are answered with Reject or Logout,
logged with the reason.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import ssl as _ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .._core.fix import FixFramer, FixMessage, encode_message, parse_message
from .._lifecycle import StartStop
from ..errors import ConfigError, FixError, FixParseError, FixSessionError, VenueConnectionError
from .base import Backoff, Client, Frame, redact, summarize_error

__all__ = (
    "Counterparty",
    "FileSeqStore",
    "FixAcceptor",
    "FixClient",
    "FixClientConfig",
    "FixSession",
    "FixSessionConfig",
    "FixSessionStats",
    "MemorySeqStore",
    "MsgType",
    "SeqStore",
    "accept_logon",
    "close_acceptor",
    "counterparties_from",
    "initiate",
    "open_store",
    "sending_time",
)

log = logging.getLogger(__name__)

FieldList = Sequence[tuple[int, object]]
#: A session whose transport holds more unsent bytes than this is dropped (the peer does not read).
_MAX_WRITE_BUFFER = 8 * 1024 * 1024
#: Header tags stamped by the session; ignored in fields handed to ``send``.
_HEADER_TAGS = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 122})


class MsgType:
    """Session-level MsgType (35) values."""

    HEARTBEAT = "0"
    TEST_REQUEST = "1"
    RESEND_REQUEST = "2"
    REJECT = "3"
    SEQUENCE_RESET = "4"
    LOGOUT = "5"
    LOGON = "A"
    ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})


def sending_time(ns: int | None = None) -> str:
    """UTC timestamp in FIX ``UTCTimestamp`` format with milliseconds."""
    ns = time.time_ns() if ns is None else ns
    secs, rem = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs)) + f".{rem // 1_000_000:03d}"


# ---------------------------------------------------------------------------------------------
# configuration


def _check_comp_id(name: str, value: object) -> None:
    if not isinstance(value, str) or not value or "\x01" in value or "=" in value:
        raise ConfigError(f"{name} must be a non-empty string without SOH or '=', got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FixSessionConfig:
    """One side of a FIX session.

    Parameters
    ----------
    sender_comp_id, target_comp_id : str
        Our CompID (tag 49 on what we send) and the counterparty's (tag 56).
    heartbeat_s : int
        HeartBtInt (108) we ask for as initiator, in seconds.
    begin_string : str
        Tag 8.
    username, password : str or None
        Sent in the initiator's Logon (553/554).
    reset_seq_num : bool
        Send ResetSeqNumFlag=Y (141) in the Logon: both sides restart at 1.
    store_path : str or None
        File that keeps the sequence numbers across restarts; None keeps them in memory.
    logon_timeout_s : float
        How long to wait for the counterparty's Logon (or Logout) answer.
    logout_timeout_s : float
        How long a Logout waits for the counterparty's confirmation.
    max_msg_size : int
        Hard limit on one incoming message; a larger one disconnects the peer.
    resend_buffer : int
        How many recent outgoing application messages are kept for ResendRequests
        (older ones are gap-filled); 0 gap-fills everything.
    """

    sender_comp_id: str
    target_comp_id: str
    heartbeat_s: int = 30
    begin_string: str = "FIX.4.4"
    username: str | None = None
    password: str | None = None
    reset_seq_num: bool = False
    store_path: str | None = None
    logon_timeout_s: float = 10.0
    logout_timeout_s: float = 2.0
    max_msg_size: int = 65536
    resend_buffer: int = 1000

    def __post_init__(self) -> None:
        _check_comp_id("sender_comp_id", self.sender_comp_id)
        _check_comp_id("target_comp_id", self.target_comp_id)
        if not isinstance(self.heartbeat_s, int) or isinstance(self.heartbeat_s, bool) or self.heartbeat_s < 1:
            raise ValueError(f"heartbeat_s must be an int >= 1 (FIX HeartBtInt), got {self.heartbeat_s!r}")
        for name in ("logon_timeout_s", "logout_timeout_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        for name in ("username", "password"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v or "\x01" in v):
                raise ConfigError(f"{name} must be a non-empty string without SOH or None")
        if not isinstance(self.max_msg_size, int) or self.max_msg_size < 256:
            raise ValueError("max_msg_size must be an int >= 256")
        if not isinstance(self.resend_buffer, int) or self.resend_buffer < 0:
            raise ValueError("resend_buffer must be an int >= 0")

    @classmethod
    def build(cls, *, sender_comp_id: str, target_comp_id: str, **kwargs: Any) -> FixSessionConfig:
        """Keyword-only builder; checks every argument eagerly."""
        return cls(sender_comp_id=sender_comp_id, target_comp_id=target_comp_id, **kwargs)

    def with_store(self, store_path: str | None) -> FixSessionConfig:
        return replace(self, store_path=store_path)

    def with_heartbeat(self, heartbeat_s: int) -> FixSessionConfig:
        return replace(self, heartbeat_s=heartbeat_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class FixClientConfig:
    """How the initiator reaches its counterparty.

    Parameters
    ----------
    host, port : str, int
        Where the acceptor listens (a local simulator in tests and demos).
    session : FixSessionConfig
    name : str
        Label for logs (usually the venue).
    ssl : ssl.SSLContext, bool or None
        TLS: None/False plain TCP, True the default verifying context, or a context.
    server_hostname : str or None
        TLS server name when it differs from ``host``.
    connect_timeout_s : float
    backoff : Backoff
        Reconnect policy (unbounded retries by default).
    """

    host: str
    port: int
    session: FixSessionConfig
    name: str = ""
    ssl: _ssl.SSLContext | bool | None = None
    server_hostname: str | None = None
    connect_timeout_s: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ConfigError(f"host must be a non-empty string, got {self.host!r}")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 < self.port < 65536:
            raise ConfigError(f"port must be within 1..65535, got {self.port!r}")
        if not isinstance(self.session, FixSessionConfig):
            raise TypeError("session must be a FixSessionConfig")
        if self.ssl is not None and not isinstance(self.ssl, (bool, _ssl.SSLContext)):
            raise TypeError("ssl must be an SSLContext, a bool or None")
        if not (isinstance(self.connect_timeout_s, (int, float)) and self.connect_timeout_s > 0):
            raise ValueError("connect_timeout_s must be a positive number")
        if not isinstance(self.backoff, Backoff):
            raise TypeError("backoff must be a Backoff")

    @classmethod
    def build(cls, *, host: str, port: int, session: FixSessionConfig, **kwargs: Any) -> FixClientConfig:
        """Keyword-only builder; checks every argument eagerly."""
        return cls(host=host, port=port, session=session, **kwargs)

    def with_address(self, host: str, port: int) -> FixClientConfig:
        return replace(self, host=host, port=port)

    def with_session(self, session: FixSessionConfig) -> FixClientConfig:
        return replace(self, session=session)


# ---------------------------------------------------------------------------------------------
# sequence number stores


class SeqStore(Protocol):
    """Where a session keeps its next outgoing and next expected incoming MsgSeqNum.

    ``sent`` holds recent outgoing application messages ``(seq, msg_type, fields,
    sending_time)`` for ResendRequests, in memory only and bounded: it outlives a
    connection but not the process (older messages are gap-filled).
    """

    next_out: int
    next_in: int
    sent: deque[tuple[int, str, tuple[tuple[int, object], ...], str]]

    def save(self) -> None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class MemorySeqStore:
    """Sequence numbers in memory (lost on restart)."""

    def __init__(self, next_out: int = 1, next_in: int = 1) -> None:
        self.next_out = next_out
        self.next_in = next_in
        self.sent: deque[tuple[int, str, tuple[tuple[int, object], ...], str]] = deque(maxlen=1000)

    def save(self) -> None:
        pass

    def reset(self) -> None:
        self.next_out = self.next_in = 1
        self.sent.clear()

    def close(self) -> None:
        pass


class FileSeqStore:
    """Sequence numbers in a small fixed-width file, rewritten in place on every change.

    A restart with the same path resumes the session where it stopped. A file
    that cannot be read (corrupt) raises :class:`~dragonfly.errors.ConfigError`
    rather than silently restarting at 1.
    """

    _FMT = b"%020d %020d\n"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.sent: deque[tuple[int, str, tuple[tuple[int, object], ...], str]] = deque(maxlen=1000)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        raw = os.pread(self._fd, 64, 0)
        if raw:
            try:
                a, b = raw.split()
                self.next_out, self.next_in = int(a), int(b)
            except ValueError as exc:
                os.close(self._fd)
                raise ConfigError(f"corrupt FIX sequence store {self.path}: {raw[:64]!r}") from exc
        else:
            self.next_out = self.next_in = 1
            self.save()

    def save(self) -> None:
        if self._fd >= 0:
            os.pwrite(self._fd, self._FMT % (self.next_out, self.next_in), 0)

    def reset(self) -> None:
        self.next_out = self.next_in = 1
        self.sent.clear()
        self.save()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __repr__(self) -> str:
        return f"FileSeqStore({str(self.path)!r}, next_out={self.next_out}, next_in={self.next_in})"


def open_store(path: str | None) -> SeqStore:
    return MemorySeqStore() if path is None else FileSeqStore(path)


# ---------------------------------------------------------------------------------------------
# the session


def _log_now(n: int) -> bool:
    """Log the first 10 occurrences of a fault, then every 1000th (a flood never floods the log)."""
    return n <= 10 or n % 1000 == 0


@dataclass(slots=True)
class FixSessionStats:
    """Counters of one session (mutable, read them at any time)."""

    received: int = 0  #: valid messages received (admin + application)
    app_received: int = 0  #: application messages handed to the user
    sent: int = 0  #: messages sent
    garbled: int = 0  #: messages dropped for bad framing/BodyLength/CheckSum
    garbage_bytes: int = 0  #: bytes skipped while resynchronising
    rejects_sent: int = 0
    rejects_received: int = 0
    resend_requests_sent: int = 0
    resend_requests_received: int = 0
    resent: int = 0  #: application messages resent with PossDupFlag=Y
    gap_fills_sent: int = 0
    gap_fills_received: int = 0
    duplicates: int = 0  #: PossDupFlag=Y messages already seen, dropped
    poss_dup_received: int = 0  #: PossDupFlag=Y messages processed (resent by the counterparty)
    heartbeats_sent: int = 0
    test_requests_sent: int = 0


#: ``on_gap(session, first, last)``: sequence numbers the counterparty skipped
#: (gap-filled or reset) instead of resending; application data may be lost.
OnSessionGap = Callable[["FixSession", int, int], None]


class FixSession:
    """One logged-on FIX connection (initiator or acceptor side).

    Created by :class:`FixClient` and :func:`accept_logon` after the Logon
    exchange; use :meth:`messages` to read application messages (session
    messages are handled inside), :meth:`send` to send, :meth:`logout` to end.
    Heartbeats and TestRequests run in a background task while the session is open.
    """

    def __init__(
        self,
        *,
        config: FixSessionConfig,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        store: SeqStore,
        framer: FixFramer,
        heartbeat_s: float,
        name: str = "",
    ) -> None:
        self.config = config
        self.name = name or f"{config.sender_comp_id}->{config.target_comp_id}"
        self.store = store
        self.heartbeat_s = float(heartbeat_s)
        self.stats = FixSessionStats()
        self.on_gap: OnSessionGap | None = None
        self.closed_reason = ""
        #: When True nothing is written (simulators use it to play a silent peer).
        self.muted = False
        self._reader = reader
        self._writer = writer
        self._framer = framer
        self._sender = config.sender_comp_id
        self._target = config.target_comp_id
        self._begin = config.begin_string
        if store.sent.maxlen != (config.resend_buffer or 1):
            store.sent = deque(store.sent, maxlen=config.resend_buffer or 1)
        self._sent_log = store.sent
        self._keep_log = config.resend_buffer > 0
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._last_rx = loop.time()
        self._last_tx = loop.time()
        self._test_req_id: str | None = None
        self._test_req_at = 0.0
        self._resend_until = 0  # while next_in <= this, a ResendRequest is outstanding
        self._resend_at = 0.0
        self._logout_sent = False
        self._logout_received = asyncio.Event()
        self._closed = False
        self._pending: deque[FixMessage] = deque()
        self._garbage_events = 0
        self._keepalive: asyncio.Task[None] | None = None

    # -- sending -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _write(self, msg_type: str, fields: Iterable[tuple[int, object]], *, seq: int | None = None,
               poss_dup: bool = False, orig_time: str | None = None) -> int:
        if self._closed:
            raise FixSessionError(f"{self.name}: session is closed")
        store = self.store
        use_seq = store.next_out if seq is None else seq
        now = sending_time()
        header: list[tuple[int, object]] = [(49, self._sender), (56, self._target), (34, use_seq)]
        if poss_dup:
            header.append((43, "Y"))
        header.append((52, now))
        if poss_dup:
            header.append((122, orig_time or now))
        body = tuple(fields)
        raw = encode_message(msg_type, header + list(body), self._begin)
        if seq is None:
            store.next_out = use_seq + 1
            store.save()
            if self._keep_log and msg_type not in MsgType.ADMIN:
                self._sent_log.append((use_seq, msg_type, body, now))
        if not self.muted:
            self._writer.write(raw)
            if self.write_buffer_size > _MAX_WRITE_BUFFER:
                self._close(f"peer does not read: more than {_MAX_WRITE_BUFFER} bytes waiting to be sent")
                log.warning("%s: disconnecting: %s", self.name, self.closed_reason)
        self._last_tx = self._loop.time()
        self.stats.sent += 1
        return use_seq

    async def send(self, msg_type: str, fields: FieldList = ()) -> int:
        """Stamp the header (49, 56, 34, 52), send, wait for the socket buffer to drain
        below its high-water mark; return the MsgSeqNum used.

        Raises
        ------
        FixSessionError
            The session is closed.
        ConnectionError
            The connection broke.
        """
        seq = self._write(msg_type, fields)
        await self._writer.drain()
        return seq

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark."""
        await self._writer.drain()

    def send_nowait(self, msg_type: str, fields: FieldList = ()) -> int:
        """Like :meth:`send` without waiting for the buffer to drain."""
        return self._write(msg_type, fields)

    @property
    def silent_for(self) -> float:
        """Seconds since the counterparty last sent anything."""
        return self._loop.time() - self._last_rx

    @property
    def write_buffer_size(self) -> int:
        """Bytes queued in the transport, not yet accepted by the kernel."""
        transport = self._writer.transport
        return 0 if transport is None or transport.is_closing() else transport.get_write_buffer_size()

    def _reject(self, ref_seq: int | None, reason_code: int, text: str, ref_tag: int = 0,
                ref_msg_type: str = "") -> None:
        fields: list[tuple[int, object]] = []
        if ref_seq is not None:
            fields.append((45, ref_seq))
        if ref_tag:
            fields.append((371, ref_tag))
        if ref_msg_type:
            fields.append((372, ref_msg_type))
        fields += [(373, reason_code), (58, text[:200])]
        self.stats.rejects_sent += 1
        log.warning("%s: Reject sent (ref seq %s, reason %d): %s", self.name, ref_seq, reason_code, text)
        self._write(MsgType.REJECT, fields)

    def reject(self, msg: FixMessage, reason_code: int, text: str, ref_tag: int = 0) -> None:
        """Send a session-level Reject (35=3) about ``msg`` (for application validation)."""
        try:
            ref = msg.get_int(34)
        except FixParseError:
            ref = None
        self._reject(ref, reason_code, text, ref_tag, msg.msg_type)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start heartbeats (called once the Logon exchange is done)."""
        if self._keepalive is None:
            self._keepalive = self._loop.create_task(self._keepalive_loop(), name=f"fix-keepalive:{self.name}")

    async def _keepalive_loop(self) -> None:
        try:
            while not self._closed:
                hb = self.heartbeat_s
                # Silence allowance before a TestRequest: HeartBtInt plus a margin for transmission.
                grace = hb * 1.2 + 0.1
                now = self._loop.time()
                due_hb = self._last_tx + hb
                due_test = self._last_rx + grace
                if self._test_req_id is not None:
                    due_test = self._test_req_at + grace
                wake = min(due_hb, due_test)
                if wake > now:
                    await asyncio.sleep(min(wake - now, 1.0))  # re-read heartbeat_s at least every second
                    continue
                if self._closed:
                    return
                if now >= due_test:
                    if self._test_req_id is not None:
                        await self._drop(f"no answer to TestRequest {self._test_req_id} within {grace:.3g} s")
                        return
                    self._test_req_id = f"TEST-{time.time_ns()}"
                    self._test_req_at = now
                    self.stats.test_requests_sent += 1
                    log.info("%s: silent for %.3g s, TestRequest %s", self.name, grace, self._test_req_id)
                    self._write(MsgType.TEST_REQUEST, [(112, self._test_req_id)])
                elif now >= due_hb:
                    self.stats.heartbeats_sent += 1
                    self._write(MsgType.HEARTBEAT, ())
        except (ConnectionError, FixSessionError, OSError):
            return

    async def _drop(self, reason: str) -> None:
        if not self._closed:
            log.warning("%s: disconnecting: %s", self.name, reason)
        self._close(reason)

    def _close(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.closed_reason = reason
        self._logout_received.set()
        try:
            self._writer.close()
        except Exception:  # pragma: no cover - already gone
            pass
        t = self._keepalive
        if t is not None and t is not asyncio.current_task():
            t.cancel()
        self.store.save()

    async def logout(self, text: str = "") -> None:
        """Send Logout, wait (bounded) for the counterparty's Logout, close."""
        if self._closed:
            return
        if not self._logout_sent:
            self._logout_sent = True
            try:
                await self.send(MsgType.LOGOUT, [(58, text)] if text else ())
            except (ConnectionError, OSError, FixSessionError):
                self._close("connection lost during logout")
                return
        reader_task = None
        if not self._reading:
            # nobody is reading: read until the Logout answer ourselves
            reader_task = self._loop.create_task(self._drain_until_closed())
        try:
            await asyncio.wait_for(self._logout_received.wait(), self.config.logout_timeout_s)
        except asyncio.TimeoutError:
            log.info("%s: no Logout answer within %.3g s", self.name, self.config.logout_timeout_s)
        self._close("logged out" + (f": {text}" if text else ""))
        if reader_task is not None:
            reader_task.cancel()
            try:
                await reader_task
            except (asyncio.CancelledError, Exception):
                pass
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError, _ssl.SSLError):
            pass

    _reading = False

    async def _drain_until_closed(self) -> None:
        async for _ in self.messages():
            pass

    async def wait_closed(self) -> None:
        await self._logout_received.wait()

    # -- receiving -------------------------------------------------------------------------------
    def _pending_from_logon(self, messages: Iterable[FixMessage]) -> None:
        self._pending.extend(messages)

    async def messages(self) -> AsyncIterator[FixMessage]:
        """Yield application messages in sequence until the session ends.

        Session messages (heartbeats, test requests, resends, sequence resets,
        rejects, logout) are handled here; the iterator ends when the session
        closes (logout, disconnect, protocol failure).
        """
        self._reading = True
        reader = self._reader
        framer = self._framer
        try:
            while self._pending:
                out = self._process(self._pending.popleft())
                if out is not None:
                    yield out
            while not self._closed:
                try:
                    data = await reader.read(65536)
                except (ConnectionError, OSError, _ssl.SSLError) as exc:
                    self._close(f"read failed: {summarize_error(exc)}")
                    break
                if not data:
                    self._close("connection closed by peer")
                    break
                self._last_rx = self._loop.time()
                msgs = framer.feed(data)
                if framer.dropped_messages or framer.dropped_bytes:
                    if self._garbled(framer):
                        break
                for m in msgs:
                    out = self._process(m)
                    if out is not None:
                        yield out
                    if self._closed:
                        break
                # no drain here: reading never waits for a peer that does not read; _write bounds the buffer
        finally:
            self._reading = False

    def _garbled(self, framer: FixFramer) -> bool:
        stats = self.stats
        too_large = False
        for err in framer.take_errors():
            stats.garbled += 1
            if _log_now(stats.garbled):
                log.warning("%s: garbled message dropped (%s, tag %d): %s [%d so far]", self.name, err.reason,
                            err.tag, err, stats.garbled)
            if err.reason == "too_large":
                too_large = True
        if framer.dropped_bytes:
            self._garbage_events += 1
            if _log_now(self._garbage_events):
                log.warning("%s: %d garbage bytes skipped [%d bytes so far]", self.name, framer.dropped_bytes,
                            stats.garbage_bytes + framer.dropped_bytes)
        stats.garbage_bytes += framer.dropped_bytes
        framer.dropped_bytes = 0
        framer.dropped_messages = 0
        if too_large:
            self._close(f"message larger than {framer.max_size} bytes")
            log.warning("%s: disconnecting: message larger than %d bytes", self.name, framer.max_size)
            return True
        return False

    def _process(self, m: FixMessage) -> FixMessage | None:
        """Session rules for one valid message; the message itself if it is application data."""
        stats = self.stats
        stats.received += 1
        mt = m.msg_type
        try:
            seq = m.get_int(34)
        except FixParseError:
            seq = None
        if seq is None or seq <= 0:
            self._reject(None, 1, "MsgSeqNum (34) missing or invalid", 34, mt)
            return None
        if m.get(49) != self._target.encode() or m.get(56) != self._sender.encode():
            self._reject(seq, 9, f"CompID problem: 49={m.get_str(49)} 56={m.get_str(56)}", 49, mt)
            self._logout_and_close("CompID problem")
            return None
        if m.get(52) is None:
            self._reject(seq, 1, "SendingTime (52) missing", 52, mt)
            return None
        if mt != MsgType.TEST_REQUEST:
            self._test_req_id = None  # any valid message answers an outstanding TestRequest: the peer is alive
        store = self.store
        expected = store.next_in
        poss_dup = m.get(43) == b"Y"

        if mt == MsgType.SEQUENCE_RESET and m.get(123) != b"Y":
            # Reset mode: ignore MsgSeqNum, jump to NewSeqNo.
            new = self._int(m, 36)
            if new is None:
                return None
            if new < expected:
                self._reject(seq, 5, f"NewSeqNo {new} below expected {expected}", 36, mt)
                return None
            if new > expected:
                self._gap(expected, new - 1)
            store.next_in = new
            store.save()
            return None

        if seq > expected:
            if mt == MsgType.LOGOUT:
                self._on_logout(m)
                return None
            if mt == MsgType.RESEND_REQUEST:
                self._on_resend_request(m, seq)
            now = self._loop.time()
            if expected > self._resend_until or now - self._resend_at > 2 * self.heartbeat_s:
                # no request outstanding (or the counterparty ignored it): ask from `expected` on
                self._resend_until = seq
                self._resend_at = now
                stats.resend_requests_sent += 1
                log.info("%s: sequence gap: expected %d, got %d; ResendRequest", self.name, expected, seq)
                self._write(MsgType.RESEND_REQUEST, [(7, expected), (16, 0)])
            return None
        if seq < expected:
            if poss_dup:
                stats.duplicates += 1
                return None
            text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
            log.warning("%s: %s", self.name, text)
            self._logout_and_close(text)
            return None

        # seq == expected
        if poss_dup:
            stats.poss_dup_received += 1
        if mt == MsgType.SEQUENCE_RESET:  # GapFill
            new = self._int(m, 36)
            if new is None:
                return None
            if new <= seq:
                self._reject(seq, 5, f"GapFill NewSeqNo {new} not above MsgSeqNum {seq}", 36, mt)
                store.next_in = seq + 1
                store.save()
                return None
            stats.gap_fills_received += 1
            store.next_in = new
            store.save()
            self._gap(seq, new - 1)
            return None
        store.next_in = expected + 1
        store.save()
        if mt in MsgType.ADMIN:
            self._on_admin(m, mt, seq)
            return None
        stats.app_received += 1
        return m

    def _int(self, m: FixMessage, tag: int) -> int | None:
        try:
            v = m.get_int(tag)
        except FixParseError:
            v = None
        if v is None:
            self._reject(m.get_int(34), 1 if m.get(tag) is None else 6,
                         f"tag {tag} missing or not an integer", tag, m.msg_type)
        return v

    def _gap(self, first: int, last: int) -> None:
        cb = self.on_gap
        log.info("%s: counterparty skipped MsgSeqNum %d..%d", self.name, first, last)
        if cb is not None:
            try:
                cb(self, first, last)
            except Exception:  # pragma: no cover - a hook must not kill the session
                log.exception("%s: on_gap hook failed", self.name)

    def _on_admin(self, m: FixMessage, mt: str, seq: int) -> None:
        if mt == MsgType.HEARTBEAT:
            pass  # liveness is recorded for every message in _process
        elif mt == MsgType.TEST_REQUEST:
            req = m.get(112)
            if req is None:
                self._reject(seq, 1, "TestReqID (112) missing", 112, mt)
                return
            self.stats.heartbeats_sent += 1
            self._write(MsgType.HEARTBEAT, [(112, req)])
        elif mt == MsgType.RESEND_REQUEST:
            self._on_resend_request(m, seq)
        elif mt == MsgType.REJECT:
            self.stats.rejects_received += 1
            log.warning("%s: Reject received (ref seq %s, reason %s): %s", self.name, m.get_str(45),
                        m.get_str(373), self._peer_text(m))
        elif mt == MsgType.LOGOUT:
            self._on_logout(m)
        elif mt == MsgType.LOGON:
            self._reject(seq, 11, "Logon received on a logged-on session", 35, mt)

    def _peer_text(self, m: FixMessage) -> str:
        """The counterparty's Text (58), without our password should it echo it."""
        return redact(m.get_str(58), [self.config.password])

    def _on_logout(self, m: FixMessage) -> None:
        text = self._peer_text(m)
        if not self._logout_sent:
            log.info("%s: Logout received%s", self.name, f": {text}" if text else "")
            self._logout_sent = True
            try:
                self._write(MsgType.LOGOUT, ())
            except (ConnectionError, OSError, FixSessionError):
                pass
        self._close("logout" + (f": {text}" if text else ""))

    def _logout_and_close(self, text: str) -> None:
        if not self._logout_sent:
            self._logout_sent = True
            try:
                self._write(MsgType.LOGOUT, [(58, text)])
            except (ConnectionError, OSError, FixSessionError):
                pass
        self._close(text)

    def _on_resend_request(self, m: FixMessage, seq: int) -> None:
        begin = self._int(m, 7)
        end = self._int(m, 16)
        if begin is None or end is None:
            return
        self.stats.resend_requests_received += 1
        last = self.store.next_out - 1
        if end == 0 or end > last:
            end = last
        log.info("%s: ResendRequest %d..%d", self.name, begin, end)
        if begin > end:
            return
        kept = {s: (t, f, ot) for s, t, f, ot in self._sent_log if begin <= s <= end}
        cur = begin
        while cur <= end:
            if cur in kept:
                t, f, ot = kept[cur]
                self._write(t, f, seq=cur, poss_dup=True, orig_time=ot)
                self.stats.resent += 1
                cur += 1
                continue
            nxt = cur
            while nxt <= end and nxt not in kept:
                nxt += 1
            self.stats.gap_fills_sent += 1
            self._write(MsgType.SEQUENCE_RESET, [(123, "Y"), (36, nxt)], seq=cur, poss_dup=True)
            cur = nxt


# ---------------------------------------------------------------------------------------------
# logon, both sides


def _logon_fields(config: FixSessionConfig, heartbeat_s: int, reset: bool, initiator: bool) -> list[tuple[int, object]]:
    fields: list[tuple[int, object]] = [(98, 0), (108, heartbeat_s)]
    if reset:
        fields.append((141, "Y"))
    if initiator:
        if config.username:
            fields.append((553, config.username))
        if config.password:
            fields.append((554, config.password))
    return fields


async def _read_one(reader: asyncio.StreamReader, framer: FixFramer, timeout: float,
                    name: str) -> tuple[FixMessage, list[FixMessage]]:
    """First valid message within ``timeout`` (and anything that arrived with it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise FixSessionError(f"{name}: no Logon within {timeout:.3g} s")
        try:
            data = await asyncio.wait_for(reader.read(65536), left)
        except asyncio.TimeoutError:
            raise FixSessionError(f"{name}: no Logon within {timeout:.3g} s") from None
        if not data:
            raise FixSessionError(f"{name}: connection closed before Logon")
        msgs = framer.feed(data)
        for err in framer.take_errors():
            log.warning("%s: garbled message before Logon dropped (%s): %s", name, err.reason, err)
            if err.reason == "too_large":
                raise FixSessionError(f"{name}: message larger than {framer.max_size} bytes before Logon")
        if framer.dropped_bytes:
            log.warning("%s: %d garbage bytes before Logon skipped", name, framer.dropped_bytes)
            framer.dropped_bytes = 0
        if msgs:
            return msgs[0], msgs[1:]


def _logon_seq_check(session: FixSession, logon: FixMessage, seq: int) -> None:
    """Apply MsgSeqNum rules to the counterparty's Logon (gap -> ResendRequest after logon)."""
    store = session.store
    expected = store.next_in
    if seq < expected:
        raise FixSessionError(f"MsgSeqNum too low, expecting {expected} but received {seq}")
    if seq > expected:
        session._resend_until = seq
        session._resend_at = session._loop.time()
        session.stats.resend_requests_sent += 1
        log.info("%s: Logon MsgSeqNum %d, expected %d: ResendRequest", session.name, seq, expected)
        session._write(MsgType.RESEND_REQUEST, [(7, expected), (16, 0)])
    else:
        store.next_in = seq + 1
        store.save()


async def initiate(config: FixSessionConfig, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   store: SeqStore, name: str = "") -> FixSession:
    """Run the initiator's Logon on an open connection; return the logged-on session.

    Raises
    ------
    FixSessionError
        Refused (Logout answer), timeout, or a Logon breaking session rules.
    """
    if config.reset_seq_num:
        store.reset()
    framer = FixFramer(config.max_msg_size)
    session = FixSession(config=config, reader=reader, writer=writer, store=store, framer=framer,
                         heartbeat_s=config.heartbeat_s, name=name)
    session._write(MsgType.LOGON, _logon_fields(config, config.heartbeat_s, config.reset_seq_num, True))
    await writer.drain()
    first, rest = await _read_one(reader, framer, config.logon_timeout_s, session.name)
    if first.msg_type == MsgType.LOGOUT:
        raise FixSessionError(f"{session.name}: logon refused: {session._peer_text(first) or 'no reason given'}")
    if first.msg_type != MsgType.LOGON:
        raise FixSessionError(f"{session.name}: expected Logon, got 35={first.msg_type}")
    if first.get(49) != config.target_comp_id.encode() or first.get(56) != config.sender_comp_id.encode():
        raise FixSessionError(f"{session.name}: Logon from wrong CompIDs {first.get_str(49)}->{first.get_str(56)}")
    try:
        seq = first.get_int(34)
    except FixParseError as exc:
        raise FixSessionError(f"{session.name}: Logon with bad MsgSeqNum") from exc
    if seq is None:
        raise FixSessionError(f"{session.name}: Logon without MsgSeqNum")
    if first.get(141) == b"Y":
        store.next_in = 1
    hb = first.get_int(108)
    if hb and hb > 0:
        session.heartbeat_s = float(hb)
    try:
        _logon_seq_check(session, first, seq)
    except FixSessionError as exc:
        session._logout_and_close(str(exc))
        raise
    session._pending_from_logon(rest)
    session.start()
    return session


@dataclass(frozen=True, slots=True, kw_only=True)
class Counterparty:
    """An acceptor's allowed counterparty: its CompID and optional password (554)."""

    comp_id: str
    password: str | None = None
    store_path: str | None = None


def counterparties_from(
    comp_id: str, passwords: Mapping[str, str | None], store_dir: str | os.PathLike[str] | None
) -> dict[str, Counterparty]:
    """An acceptor's allowed counterparties: one per CompID in ``passwords``
    (``None``: no password). With ``store_dir``, each session's sequence numbers
    persist in ``<store_dir>/<comp_id>-<their CompID>.seq``."""
    return {
        their: Counterparty(
            comp_id=their,
            password=pw,
            store_path=None if store_dir is None else str(Path(store_dir) / f"{comp_id}-{their}.seq"),
        )
        for their, pw in passwords.items()
    }


async def close_acceptor(
    server: asyncio.Server | None,
    sessions: Iterable[FixSession],
    tasks: Iterable[asyncio.Task[Any]],
    stores: dict[str, SeqStore],
    reason: str,
) -> None:
    """Shut an acceptor down: stop listening, log every session out (concurrently;
    a failed Logout is ignored), cancel and await its tasks, close the sequence stores."""
    if server is not None:
        server.close()
    await asyncio.gather(*(s.logout(reason) for s in list(sessions)), return_exceptions=True)
    tasks = list(tasks)
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except (asyncio.CancelledError, Exception):
            pass
    if server is not None:
        await server.wait_closed()
    for store in stores.values():
        store.close()
    stores.clear()


async def accept_logon(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    comp_id: str,
    counterparties: Mapping[str, Counterparty],
    active: set[str],
    logon_timeout_s: float = 10.0,
    max_msg_size: int = 65536,
    resend_buffer: int = 1000,
    begin_string: str = "FIX.4.4",
    name: str = "fix-acceptor",
    stores: dict[str, SeqStore] | None = None,
) -> FixSession | None:
    """Acceptor side of a Logon on a fresh connection.

    Returns the logged-on session, or None after refusing the peer (unknown
    CompID, wrong password, already logged on, bad Logon, timeout, garbage): a
    Logout with the reason is sent when the peer spoke FIX, the reason is logged,
    and the connection is closed. ``active`` holds the CompIDs logged on now
    (updated here; the caller removes the CompID when the session ends).
    ``stores`` caches each counterparty's sequence store across connections
    (the caller closes them at shutdown); without it a store is opened per
    connection from ``Counterparty.store_path`` (in memory when None).
    """
    peer = writer.get_extra_info("peername")
    framer = FixFramer(max_msg_size)

    def refuse(text: str, logon: FixMessage | None) -> None:
        log.warning("%s: logon from %s refused: %s", name, peer, text)
        if logon is not None:
            their = logon.get_str(49) or "?"
            try:
                raw = encode_message(
                    MsgType.LOGOUT,
                    [(49, comp_id), (56, their), (34, 1), (52, sending_time()), (58, text)],
                    begin_string,
                )
                writer.write(raw)
            except (ValueError, ConnectionError, OSError):
                pass
        writer.close()

    try:
        first, rest = await _read_one(reader, framer, logon_timeout_s, name)
    except FixSessionError as exc:
        log.warning("%s: connection from %s dropped: %s", name, peer, exc)
        writer.close()
        return None
    except (ConnectionError, OSError) as exc:
        log.warning("%s: connection from %s lost before Logon: %s", name, peer, summarize_error(exc))
        writer.close()
        return None
    if first.msg_type != MsgType.LOGON:
        refuse(f"first message must be Logon, got 35={first.msg_type}", None)
        return None
    their = first.get_str(49)
    if first.get_str(8) != begin_string:
        refuse(f"BeginString {first.get_str(8)!r} is not {begin_string!r}", first)
        return None
    if first.get_str(56) != comp_id:
        refuse(f"TargetCompID {first.get_str(56)!r} is not {comp_id!r}", first)
        return None
    cp = counterparties.get(their)
    if cp is None:
        refuse(f"unknown SenderCompID {their!r}", first)
        return None
    if cp.password is not None and first.get_str(554) != cp.password:
        refuse(f"wrong or missing password for {their!r}", first)
        return None
    if their in active:
        refuse(f"{their!r} is already logged on", first)
        return None
    try:
        seq = first.get_int(34)
        hb = first.get_int(108)
    except FixParseError as exc:
        refuse(f"bad Logon: {exc}", first)
        return None
    if seq is None or hb is None or hb <= 0 or hb > 3600:
        refuse("Logon needs MsgSeqNum (34) and HeartBtInt (108) in 1..3600", first)
        return None
    config = FixSessionConfig(
        sender_comp_id=comp_id,
        target_comp_id=their,
        heartbeat_s=hb,
        begin_string=begin_string,
        store_path=cp.store_path,
        max_msg_size=max_msg_size,
        resend_buffer=resend_buffer,
    )
    store = None if stores is None else stores.get(their)
    if store is None:
        try:
            store = open_store(cp.store_path)
        except (ConfigError, OSError) as exc:
            log.warning("%s: sequence store for %s unavailable: %s", name, their, exc)
            refuse("sequence store unavailable", first)
            return None
        if stores is not None:
            stores[their] = store
    reset = first.get(141) == b"Y"
    if reset:
        store.reset()
    session = FixSession(config=config, reader=reader, writer=writer, store=store, framer=framer,
                         heartbeat_s=hb, name=f"{name}:{their}")
    store_next_in = store.next_in
    if seq < store_next_in and not reset:
        text = f"MsgSeqNum too low, expecting {store_next_in} but received {seq}"
        session._write(MsgType.LOGOUT, [(58, text)])
        log.warning("%s: logon from %s refused: %s", name, their, text)
        session._close(text)
        if stores is None:
            store.close()
        return None
    active.add(their)
    session._write(MsgType.LOGON, _logon_fields(config, hb, reset, False))
    _logon_seq_check(session, first, seq)
    session._pending_from_logon(rest)
    session.start()
    log.info("%s: %s logged on from %s (HeartBtInt %d)", name, their, peer, hb)
    return session


class FixAcceptor(StartStop):
    """The acceptor side of FIX 4.4 on one listening socket, for a server of market data.

    It listens (:meth:`_listen`), logs the allowed counterparties on (:func:`accept_logon`),
    keeps the logged-on sessions in :attr:`sessions` (one per CompID at a time), hands every
    application message of a session to :meth:`_on_app` and, at the end, logs every session
    out and closes the sequence stores (:meth:`_shutdown`). A subclass gives the application:
    ``start``/``stop``, :meth:`_on_app`, and what happens when a session begins and ends
    (:meth:`_logged_on`, :meth:`_logged_off`).

    An error from :meth:`_on_app` that says the session or its connection broke ends that
    session only; anything else is logged with its traceback and ends it too: one counterparty
    never takes the acceptor down.

    Parameters
    ----------
    host, port, ssl
        Where to listen (port 0 picks a free one; read :attr:`port`), and the TLS server context.
    comp_id : str
        Our CompID.
    counterparties : Mapping[str, str or None]
        Allowed counterparty CompIDs and their passwords (None: none required).
    store_dir : str or None
        Directory of per-counterparty sequence files (None: in memory).
    max_msg_size : int
        Largest message accepted from a counterparty.
    logon_timeout_s : float
        How long a new connection has to log on.
    label : str
        Name in logs and in the sessions' task names.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        ssl: _ssl.SSLContext | None,
        comp_id: str,
        counterparties: Mapping[str, str | None],
        store_dir: str | None,
        max_msg_size: int,
        logon_timeout_s: float,
        label: str,
    ) -> None:
        self._listen_on = (host, port, ssl)
        self._comp_id = comp_id
        self._counterparties = counterparties_from(comp_id, counterparties, store_dir)
        self._max_msg_size = max_msg_size
        self._logon_timeout_s = logon_timeout_s
        self._label = label
        #: Logged-on sessions by the counterparty's CompID.
        self.sessions: dict[str, FixSession] = {}
        self._active: set[str] = set()
        self._stores: dict[str, SeqStore] = {}
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def _listen(self) -> None:
        """Start listening (OSError when the address cannot be bound)."""
        host, port, ssl = self._listen_on
        self._server = await asyncio.start_server(self._on_conn, host, port, ssl=ssl)

    async def _shutdown(self, reason: str, *tasks: asyncio.Task[Any]) -> None:
        """Stop listening, log every session out with ``reason``, cancel the connections' tasks
        (and ``tasks``), close the sequence stores."""
        srv, self._server = self._server, None
        conns: Iterable[asyncio.Task[Any]] = [*self._conns, *tasks] if tasks else self._conns
        await close_acceptor(srv, self.sessions.values(), conns, self._stores, reason)

    def _logged_on(self, session: FixSession) -> None:
        """A session has logged on (it is in :attr:`sessions` already)."""

    def _logged_off(self, session: FixSession) -> None:
        """A session has ended (closed, and out of :attr:`sessions` already)."""

    def _on_app(self, session: FixSession, msg: FixMessage) -> None:
        """One application message of ``session``."""
        raise NotImplementedError

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        session: FixSession | None = None
        try:
            session = await accept_logon(
                reader, writer, comp_id=self._comp_id, counterparties=self._counterparties, active=self._active,
                logon_timeout_s=self._logon_timeout_s, max_msg_size=self._max_msg_size, name=self._label,
                stores=self._stores,
            )
            if session is None:
                return
            self.sessions[session.config.target_comp_id] = session
            self._logged_on(session)
            async for msg in session.messages():
                try:
                    self._on_app(session, msg)
                except (FixSessionError, ConnectionError, OSError) as exc:
                    log.info("%s: %s: %r", self._label, session.config.target_comp_id, exc)
                    break
        except Exception:  # never let one counterparty take the acceptor down
            log.exception("%s: connection failed", self._label)
        finally:
            if session is not None:
                their = session.config.target_comp_id
                session._close(session.closed_reason or "ended")
                self.sessions.pop(their, None)
                self._active.discard(their)
                self._logged_off(session)
            self._conns.discard(task)


# ---------------------------------------------------------------------------------------------
# the initiator as a layer-1 client


#: The older ``on_gap(client, first, last)`` form, still accepted by :attr:`FixClient.on_gap`.
OnSeqGap = Callable[["FixClient", int, int], None]


def _takes_range(cb: Callable[..., Any]) -> bool:
    """Whether ``cb`` is the older ``(client, first, last)`` gap hook rather than ``(client, reason)``."""
    try:
        sig = inspect.signature(cb)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    try:
        sig.bind(None, "")
        return False
    except TypeError:
        pass
    try:
        sig.bind(None, 0, 0)
        return True
    except TypeError:
        return False


class FixClient(Client):
    """Reconnecting FIX 4.4 initiator with the layer-1 :class:`~dragonfly.clients.base.Client` interface.

    The reconnect loop, hooks, state and counters are :class:`~dragonfly.clients.base.Client`'s;
    one connection here is TCP (TLS), the Logon exchange, then the session's
    application messages. ``frames()`` yields the raw bytes of each application
    message (validated, in sequence); ``messages()`` yields the same messages
    parsed, through the same loop. ``send`` takes ``(msg_type, fields)`` or the
    raw bytes of a FIX message (whose header is re-stamped). ``on_connect`` is
    awaited after every Logon (subscribe there). ``on_gap(client, reason)`` is
    called when the counterparty skipped sequence numbers (SequenceReset, in
    GapFill or Reset mode) instead of resending them: FIX does not say whether
    the skipped messages were application data, so every skip is reported, and
    books carried by this session may have missed updates (resubscribe for a
    fresh snapshot). The older form ``on_gap(client, first, last)`` is accepted
    too (recognised by its signature).

    Parameters
    ----------
    config : FixClientConfig
    """

    def __init__(self, config: FixClientConfig) -> None:
        if not isinstance(config, FixClientConfig):
            raise TypeError("config must be a FixClientConfig")
        self.config = config
        self._gap_hook: Callable[..., None] | None = None
        self._gap_range = False
        super().__init__()
        self.session: FixSession | None = None
        self.store: SeqStore = open_store(config.session.store_path)
        self.session_stats: list[FixSessionStats] = []
        cfg_host = config.host if ":" not in config.host else f"[{config.host}]"
        self._host = f"{cfg_host}:{config.port}"

    @classmethod
    def build(cls, *, host: str, port: int, sender_comp_id: str, target_comp_id: str, name: str = "",
              ssl: _ssl.SSLContext | bool | None = None, backoff: Backoff | None = None,
              connect_timeout_s: float = 10.0, **session_kwargs: Any) -> FixClient:
        """``FixClient(FixClientConfig.build(..., session=FixSessionConfig.build(...)))``."""
        session = FixSessionConfig.build(sender_comp_id=sender_comp_id, target_comp_id=target_comp_id,
                                         **session_kwargs)
        return cls(FixClientConfig.build(host=host, port=port, session=session, name=name, ssl=ssl,
                                         backoff=backoff or Backoff(), connect_timeout_s=connect_timeout_s))

    @property
    def alive(self) -> bool:
        """Logged on and heard from (data or heartbeats) within HeartBtInt plus 20%."""
        s = self.session
        return s is not None and not s.closed and s.silent_for <= s.heartbeat_s * 1.2

    @property
    def name(self) -> str:
        return self.config.name or f"fix:{self.config.session.target_comp_id}"

    @property
    def backoff(self) -> Backoff:
        return self.config.backoff

    def _secrets(self) -> tuple[str, ...]:
        pw = self.config.session.password
        return (pw,) if pw else ()

    @property
    def on_gap(self) -> Callable[..., None] | None:
        """``(client, reason)`` hook (or the older ``(client, first, last)``); see the class docstring."""
        return self._gap_hook

    @on_gap.setter
    def on_gap(self, cb: Callable[..., None] | None) -> None:
        if cb is not None and not callable(cb):
            raise TypeError("on_gap must be callable or None")
        self._gap_hook = cb
        self._gap_range = cb is not None and _takes_range(cb)

    def _session_gap(self, session: FixSession, first: int, last: int) -> None:
        cb = self._gap_hook
        if cb is not None and self._gap_range:
            self.stats.gaps += 1
            try:
                cb(self, first, last)
            except Exception:
                log.exception("%s: on_gap hook failed", self.name)
            return
        self._notify_gap(f"sequence numbers {first}..{last} skipped by the counterparty (not resent)")

    # -- sending -------------------------------------------------------------------------------
    async def send_message(self, msg_type: str, fields: FieldList = ()) -> int:
        """Send one message on the current session; return its MsgSeqNum."""
        s = self.session
        if s is None or s.closed:
            raise VenueConnectionError(f"{self.name}: not logged on", venue=self.name)
        try:
            seq = await s.send(msg_type, fields)
        except (ConnectionError, OSError, FixSessionError) as exc:
            raise VenueConnectionError(f"{self.name}: send failed: {summarize_error(exc, host=self._host)}",
                                       venue=self.name) from exc
        self.stats.sent += 1
        return seq

    async def send(self, data: Frame | tuple[str, FieldList]) -> None:
        """Send ``(msg_type, fields)`` (what a venue adapter's subscribe messages are), or the raw
        bytes of one FIX message, whose header is re-stamped by the session.

        Raises
        ------
        VenueConnectionError
            Not logged on, or the connection broke.
        FixParseError
            ``data`` is bytes that are not a FIX message.
        TypeError
            ``data`` is neither.
        """
        if isinstance(data, tuple):
            if len(data) != 2 or not isinstance(data[0], str):
                raise TypeError("send takes (msg_type, fields) or the bytes of a FIX message")
            await self.send_message(data[0], data[1])
            return
        if not isinstance(data, (bytes, bytearray, memoryview, str)):
            raise TypeError(f"send takes (msg_type, fields) or the bytes of a FIX message, not {type(data).__name__}")
        raw = data.encode("latin-1") if isinstance(data, str) else bytes(data)
        msg = parse_message(raw, self.config.session.max_msg_size)
        body = [(t, v) for t, v in msg.fields[3:-1] if t not in _HEADER_TAGS]
        await self.send_message(msg.msg_type, body)

    # -- receiving -----------------------------------------------------------------------------
    def messages(self) -> AsyncIterator[FixMessage]:
        """Yield application messages forever, logging on again after drops, until :meth:`close`.

        The same loop as :meth:`frames` (:class:`~dragonfly.clients.base.Client`), parsed.

        Raises
        ------
        VenueConnectionError
            Only when ``backoff.max_retries`` is set and that many retries failed too.
        """
        return self._run()

    async def frames(self) -> AsyncIterator[Frame]:
        """Raw bytes of each application message (see :meth:`messages`)."""
        agen = self._run()
        try:
            async for msg in agen:
                yield msg.raw
        finally:
            await agen.aclose()

    def _payload_size(self, payload: FixMessage) -> int:
        return len(payload.raw)

    async def _receive_into(self, on_frame: Callable[[Any], object], on_first: Callable[[], None]) -> None:
        """:meth:`pump` hands the raw bytes of each application message, as :meth:`frames` yields them."""
        await super()._receive_into(lambda msg: on_frame(msg.raw), on_first)

    # -- one connection (called by Client's loop) ------------------------------------------------
    def _is_open(self) -> bool:
        s = self.session
        return s is not None and not s.closed

    async def _open(self) -> None:
        """TCP (TLS), then the Logon exchange."""
        cfg = self.config
        ssl_ctx: _ssl.SSLContext | None
        if cfg.ssl is True:
            ssl_ctx = _ssl.create_default_context()
        elif isinstance(cfg.ssl, _ssl.SSLContext):
            ssl_ctx = cfg.ssl
        else:
            ssl_ctx = None
        writer: asyncio.StreamWriter | None = None
        try:
            reader, opened = await asyncio.wait_for(
                asyncio.open_connection(
                    cfg.host, cfg.port, ssl=ssl_ctx,
                    server_hostname=(cfg.server_hostname or cfg.host) if ssl_ctx is not None else None,
                ),
                cfg.connect_timeout_s,
            )
            writer = opened
            session = await initiate(cfg.session, reader, opened, self.store, self.name)
        except (OSError, asyncio.TimeoutError, FixError) as exc:
            if writer is not None:
                writer.close()
            raise VenueConnectionError(
                f"{self.name}: connect failed: {self._summary(exc, host=self._host)}", venue=self.name
            ) from exc  # OSError and FixError texts hold no secret (the password is never in one)
        except BaseException:
            if writer is not None:
                writer.close()
            raise
        session.on_gap = self._session_gap
        self.session = session
        self.session_stats.append(session.stats)
        del self.session_stats[:-8]
        log.debug("%s: logged on to %s (next out %d, next in %d)", self.name, self._host,
                 self.store.next_out, self.store.next_in)

    def _receive(self) -> AsyncIterator[FixMessage]:
        s = self.session
        if s is None:
            return _nothing()
        return s.messages()

    async def _drop(self) -> str:
        s, self.session = self.session, None
        if s is None:
            return "closed"
        if not s.closed:
            if self._closing:
                await s.logout()
            else:
                s._close("reader stopped")
        return s.closed_reason or "closed"

    def _abort(self) -> None:
        s = self.session
        if s is not None and not s.closed:
            s._close(self._requested or "dropped")

    async def _shutdown(self) -> None:
        s = self.session
        if s is not None and not s.closed:
            await s.logout()
        self.store.save()

    async def logout(self, text: str = "") -> None:
        """Log out of the current session (the message loop then reconnects unless closing)."""
        s = self.session
        if s is not None:
            await s.logout(text)


async def _nothing() -> AsyncIterator[FixMessage]:
    return
    yield  # pragma: no cover - makes this an async generator
