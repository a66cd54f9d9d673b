"""An asyncio gRPC client for the server, and the terminal view of the book.

:class:`BookClient` wraps both services; :class:`BookRenderer` draws updates
either as a live screen (on a terminal) or as plain lines (pipes, logs, tests).
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import grpc

from ...errors import ConfigError
from .auth import bearer_metadata, channel_credentials
from .protos import aggregator_pb2_grpc, book_pb2, orderbook_pb2, orderbook_pb2_grpc

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("BookClient", "BookRenderer", "BookSnapshot", "GrpcClientConfig", "RateMeter", "parse_address")

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def parse_address(text: str) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` for IPv6) and check both parts.

    Raises
    ------
    ConfigError
        When the text is not a usable address.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("empty address; expected HOST:PORT, e.g. 127.0.0.1:50051")
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ConfigError(f"bad address {text!r}; expected [IPv6]:PORT")
        port_text = rest[1:]
        if not host or not all(c in "0123456789abcdefABCDEF:." for c in host):
            raise ConfigError(f"bad IPv6 host in {text!r}")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ConfigError(f"bad address {text!r}; expected HOST:PORT, e.g. 127.0.0.1:50051")
        if not _HOSTNAME.match(host):
            raise ConfigError(f"bad host {host!r} in address {text!r}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"bad port {port_text!r} in address {text!r}; expected 1..65535")
    return host, int(port_text)


@dataclass(frozen=True, slots=True, kw_only=True)
class GrpcClientConfig:
    """Where and how to connect.

    Attributes
    ----------
    address : str
        ``host:port`` of the server.
    token : str or None
        Bearer token sent with every call.
    tls : bool
        Speak TLS (implied by ``tls_ca``).
    tls_ca : Path or None
        PEM file of the CA to trust (system roots when None).
    """

    address: str = "127.0.0.1:50051"
    token: str | None = None
    tls: bool = False
    tls_ca: Path | None = None

    def __post_init__(self) -> None:
        parse_address(self.address)


@dataclass(slots=True)
class BookSnapshot:
    """One update, whichever service it came from, ready to draw."""

    instrument: str
    seq: int  # 0 when the service has none (orderbook.Summary)
    spread: float
    bids: list[tuple[str, float, float]]
    asks: list[tuple[str, float, float]]
    venues: list[tuple[str, str, str]] = field(default_factory=list)  # (venue, status, reason)
    receive_ts_ns: int = 0

    @classmethod
    def from_summary(cls, msg: Any, instrument: str = "") -> BookSnapshot:
        return cls(
            instrument=instrument,
            seq=0,
            spread=msg.spread,
            bids=[(lv.exchange, lv.price, lv.amount) for lv in msg.bids],
            asks=[(lv.exchange, lv.price, lv.amount) for lv in msg.asks],
        )

    @classmethod
    def from_update(cls, msg: Any) -> BookSnapshot:
        return cls(
            instrument=msg.instrument,
            seq=msg.seq,
            spread=msg.spread,
            bids=[(lv.exchange, lv.price, lv.amount) for lv in msg.bids],
            asks=[(lv.exchange, lv.price, lv.amount) for lv in msg.asks],
            venues=[
                (h.venue, book_pb2.VenueStatus.Name(h.status).removeprefix("VENUE_STATUS_"), h.reason)
                for h in msg.venues
            ],
            receive_ts_ns=msg.receive_ts_ns,
        )


class BookClient:
    """Both services of one server over one channel.

    Use as ``async with BookClient(GrpcClientConfig(...)) as client``. Calls raise
    :class:`grpc.aio.AioRpcError` as gRPC does.
    """

    def __init__(self, config: GrpcClientConfig | None = None) -> None:
        self.config = config or GrpcClientConfig()
        self._channel: grpc.aio.Channel | None = None
        self._metadata = bearer_metadata(self.config.token)

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def open(self) -> grpc.aio.Channel:
        if self._channel is None:
            cfg = self.config
            if cfg.tls or cfg.tls_ca is not None:
                self._channel = grpc.aio.secure_channel(cfg.address, channel_credentials(cfg.tls_ca))
            else:
                self._channel = grpc.aio.insecure_channel(cfg.address)
        return self._channel

    async def close(self) -> None:
        ch, self._channel = self._channel, None
        if ch is not None:
            await ch.close()

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the channel connects; raise :class:`TimeoutError` otherwise."""
        await asyncio.wait_for(self.open().channel_ready(), timeout)

    def book_summary(self) -> AsyncIterator[Any]:
        """``orderbook.OrderbookAggregator/BookSummary``: a stream of ``orderbook.Summary``."""
        stub = orderbook_pb2_grpc.OrderbookAggregatorStub(self.open())
        return stub.BookSummary(orderbook_pb2.Empty(), metadata=self._metadata)

    def stream_book(self, *, instrument: str = "", depth: int = 0, venues: Sequence[str] = ()) -> AsyncIterator[Any]:
        """``dragonfly.v1.Aggregator/StreamBook``: a stream of ``dragonfly.v1.BookUpdate``."""
        stub = aggregator_pb2_grpc.AggregatorStub(self.open())
        req = book_pb2.BookRequest(instrument=instrument, depth=depth, venues=list(venues))
        return stub.StreamBook(req, metadata=self._metadata)

    def stream_liquidity(
        self, *, instrument: str = "", depth: int = 0, venues: Sequence[str] = ()
    ) -> AsyncIterator[Any]:
        """``dragonfly.v1.Aggregator/StreamLiquidity``: a stream of ``dragonfly.v1.LiquidityUpdate``."""
        stub = aggregator_pb2_grpc.AggregatorStub(self.open())
        req = book_pb2.BookRequest(instrument=instrument, depth=depth, venues=list(venues))
        return stub.StreamLiquidity(req, metadata=self._metadata)

    async def list_instruments(self, timeout: float | None = None) -> Any:
        stub = aggregator_pb2_grpc.AggregatorStub(self.open())
        return await stub.ListInstruments(orderbook_pb2.Empty(), metadata=self._metadata, timeout=timeout)


class RateMeter:
    """Updates per second over the last ``window_s`` seconds (bounded memory)."""

    def __init__(self, window_s: float = 2.0, maxlen: int = 100_000) -> None:
        self.window_ns = int(window_s * 1e9)
        self._times: collections.deque[int] = collections.deque(maxlen=maxlen)

    def tick(self, now_ns: int | None = None) -> float:
        now = time.monotonic_ns() if now_ns is None else now_ns
        t = self._times
        t.append(now)
        while t and now - t[0] > self.window_ns:
            t.popleft()
        if len(t) < 2:
            return 0.0
        span = (t[-1] - t[0]) / 1e9
        return (len(t) - 1) / span if span > 0 else 0.0


def _fmt(x: float) -> str:
    return f"{x:.8f}"


class BookRenderer:
    """Draw :class:`BookSnapshot`\\ s on ``out``.

    Parameters
    ----------
    out : TextIO
        Where to write.
    live : bool
        Redraw one screen in place (a terminal); otherwise write plain lines.
    rows : int
        Levels per side to show.
    footer : sequence of str
        Lines drawn under the live screen (not in plain mode).
    """

    #: Cursor home; each line then clears its rest, and the screen below is cleared
    #: at the end (redraw in place, no flicker).
    CLEAR = "\x1b[H"

    def __init__(self, out: TextIO, *, live: bool, rows: int = 10, footer: Sequence[str] = ()) -> None:
        if rows < 1:
            raise ConfigError(f"rows must be >= 1, got {rows}")
        self.footer = tuple(footer)
        self.out = out
        self.live = live
        self.rows = rows
        #: updates drawn
        self.updates = 0
        #: updates drawn that had levels (not the empty views of venues still syncing)
        self.books = 0
        self.gaps = 0
        self._last_seq = 0

    def _count(self, snap: BookSnapshot) -> None:
        self.updates += 1
        if snap.bids or snap.asks:
            self.books += 1
        if snap.seq and self._last_seq and snap.seq > self._last_seq + 1:
            self.gaps += snap.seq - self._last_seq - 1
        if snap.seq:
            self._last_seq = snap.seq

    def render(self, snap: BookSnapshot, rate: float) -> None:
        self._count(snap)
        if self.live:
            text = (
                ("" if self.updates > 1 else "\x1b[2J")
                + self.CLEAR
                + "".join(f"{line}\x1b[K\n" for line in self._screen(snap, rate))
                + "\x1b[J"
            )
        else:
            text = "\n".join(self._plain(snap, rate)) + "\n"
        self.out.write(text)
        self.out.flush()

    def _header(self, snap: BookSnapshot, rate: float) -> str:
        parts = [snap.instrument or "book"]
        if snap.seq:
            parts.append(f"seq={snap.seq}")
            parts.append(f"skipped={self.gaps}")
        parts.append(f"spread={_fmt(snap.spread)}")
        parts.append(f"rate={rate:.1f}/s")
        if snap.venues:
            parts.append("venues=" + ",".join(f"{v}:{s}" for v, s, _ in snap.venues))
        return " ".join(parts)

    def _plain(self, snap: BookSnapshot, rate: float) -> list[str]:
        lines = [self._header(snap, rate)]
        for i in range(min(self.rows, max(len(snap.bids), len(snap.asks)))):
            b = snap.bids[i] if i < len(snap.bids) else None
            a = snap.asks[i] if i < len(snap.asks) else None
            left = f"bid {b[0]:<10} {_fmt(b[1]):>16} {_fmt(b[2]):>16}" if b else "bid " + "-" * 44
            right = f"ask {a[0]:<10} {_fmt(a[1]):>16} {_fmt(a[2]):>16}" if a else "ask " + "-" * 44
            lines.append(f"  {left} | {right}")
        return lines

    def _screen(self, snap: BookSnapshot, rate: float) -> list[str]:
        w = 46
        title = f" dragonfly  {snap.instrument or 'consolidated book'}"
        stats = f"spread {_fmt(snap.spread)}   {rate:6.1f} updates/s"
        if snap.seq:
            stats += f"   seq {snap.seq}   skipped {self.gaps}"
        lines = [title, " " + stats]
        if snap.venues:
            lines.append(
                " venues: "
                + "   ".join(f"{v} {s}" + (f" ({r})" if r and s != "LIVE" else "") for v, s, r in snap.venues)
            )
        lines.append("")
        lines.append(f" {'BIDS':^{w}} | {'ASKS':^{w}}")
        lines.append(f" {'venue':<10} {'amount':>16} {'price':>17} | {'price':<17} {'amount':>16} {'venue':>10}")
        lines.append(" " + "-" * w + "-+-" + "-" * w)
        for i in range(self.rows):
            b = snap.bids[i] if i < len(snap.bids) else None
            a = snap.asks[i] if i < len(snap.asks) else None
            left = f"{b[0]:<10} {_fmt(b[2]):>16} {_fmt(b[1]):>17}" if b else " " * w
            right = f"{_fmt(a[1]):<17} {_fmt(a[2]):>16} {a[0]:>10}" if a else ""
            lines.append(f" {left} | {right}")
        lines.append("")
        lines.extend(self.footer)
        lines.append(" Ctrl-C to quit")
        return lines
