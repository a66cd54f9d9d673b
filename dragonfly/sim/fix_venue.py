"""A simulated FIX 4.4 market-data venue on 127.0.0.1.

It accepts the Logon of configured counterparties (others are refused), answers
MarketDataRequest (35=V) with a MarketDataSnapshotFullRefresh (35=W) and then
streams MarketDataIncrementalRefresh (35=X, ``265=1``) or full refreshes
(``265=0``) of a seeded synthetic book; an unknown symbol gets a
MarketDataRequestReject (35=Y). Fault injection for tests: garbage bytes, a
message with a bad checksum, an oversized message, a sequence gap, a stall
(no data, no heartbeats) and a disconnect.

>>> sim = FixVenueSimulator(FixVenueConfig(instruments=("ETH-BTC",)))  # doctest: +SKIP
>>> await sim.start(); sim.port  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._core.fix import FixMessage, encode_message
from ..clients.fix import FixAcceptor, FixSession
from ..errors import ConfigError, FixSessionError
from .market import SentBook

__all__ = ("FixVenueConfig", "FixVenueSimulator", "SimulatedFixVenue", "SyntheticBook")

log = logging.getLogger(__name__)

_START = {"ETH-BTC": 0.05, "BTC-USDT": 60000.0, "BTC-USD": 60000.0, "ETH-USDT": 3000.0, "LTC-BTC": 0.001}


class SyntheticBook:
    """Seeded top-N book on a tick grid: ``step()`` moves the mid and the sizes.

    Levels are ``{price: size}`` per side; prices are ``round(k * tick, decimals)``
    so the same level always has the same float.
    """

    def __init__(self, instrument: str, *, seed: int, levels: int = 20, start: float | None = None) -> None:
        self.instrument = instrument
        self.levels = levels
        self._rng = random.Random(zlib.crc32(f"{seed}/{instrument}".encode()))
        if start is None:
            start = _START.get(instrument, 100.0)
            self.tick = 10.0 ** (len(str(int(start))) - 6) if start >= 1 else start / 10000
        else:
            if not (isinstance(start, (int, float)) and math.isfinite(start) and start > 0):
                raise ConfigError(f"start price must be a positive finite number, got {start!r}")
            # about five significant digits on a power-of-ten tick
            self.tick = 10.0 ** (math.floor(math.log10(start)) - 4)
        self.decimals = max(0, -int(f"{self.tick:e}".split("e")[1]))
        self._mid_ticks = round(start / self.tick)
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.step()

    def _price(self, ticks: int) -> float:
        return round(ticks * self.tick, self.decimals)

    def _size(self) -> float:
        return round(self._rng.uniform(0.01, 25.0), 3)

    def step(self) -> None:
        rng = self._rng
        self._mid_ticks += rng.choice((-2, -1, 0, 0, 1, 2))
        self._mid_ticks = max(self._mid_ticks, self.levels + 5)
        best_bid = self._mid_ticks - 1 - rng.randint(0, 1)
        best_ask = self._mid_ticks + 1 + rng.randint(0, 1)
        bids: dict[float, float] = {}
        asks: dict[float, float] = {}
        for k in range(self.levels):
            pb = self._price(best_bid - k)
            pa = self._price(best_ask + k)
            # keep most sizes, change a few: incrementals stay small
            bids[pb] = self.bids[pb] if pb in self.bids and rng.random() < 0.8 else self._size()
            asks[pa] = self.asks[pa] if pa in self.asks and rng.random() < 0.8 else self._size()
        self.bids, self.asks = bids, asks

    def top(self, depth: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks


@dataclass(frozen=True, slots=True, kw_only=True)
class FixVenueConfig:
    """A simulated FIX venue.

    Parameters
    ----------
    host, port : str, int
        Listening address (port 0 picks a free port; read :attr:`FixVenueSimulator.port`).
    comp_id : str
        The venue's CompID.
    counterparties : Mapping[str, str or None]
        Allowed client CompIDs and their password (None: none required).
    instruments : tuple of str
        Symbols served (55), e.g. ``("ETH-BTC",)``.
    seed : int
    interval_s : float
        Time between book updates.
    levels : int
        Levels per side of the synthetic book.
    store_dir : str or None
        Directory of per-counterparty sequence files (None: in memory).
    ssl : ssl.SSLContext or None
        TLS server context.
    max_msg_size : int
        Largest message accepted from a counterparty.
    start_prices : Mapping[str, float]
        Starting mid per symbol (default: a built-in price per known symbol); the tick
        is then a power of ten about five significant digits below it.
    name : str
        Label in logs and task names.
    """

    host: str = "127.0.0.1"
    port: int = 0
    comp_id: str = "VENUE"
    counterparties: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({"DRAGONFLY": None}))
    instruments: tuple[str, ...] = ("ETH-BTC",)
    seed: int = 1
    interval_s: float = 0.05
    levels: int = 20
    store_dir: str | None = None
    ssl: Any = None
    max_msg_size: int = 65536
    start_prices: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    name: str = "fix-venue"

    def __post_init__(self) -> None:
        if not self.instruments or isinstance(self.instruments, str):
            raise ConfigError("instruments must be a non-empty tuple of symbols")
        if not self.interval_s > 0:
            raise ConfigError("interval_s must be > 0")
        if not 1 <= self.levels <= 1000:
            raise ConfigError("levels must be within 1..1000")
        object.__setattr__(self, "counterparties", MappingProxyType(dict(self.counterparties)))
        starts = dict(self.start_prices)
        for sym in starts:
            if sym not in self.instruments:
                raise ConfigError(f"start_prices has {sym!r}, which is not among instruments {self.instruments}")
        object.__setattr__(self, "start_prices", MappingProxyType(starts))


class _Sub:
    __slots__ = ("depth", "incremental", "req_id", "sent_asks", "sent_bids", "symbol")

    def __init__(self, req_id: str, symbol: str, depth: int, incremental: bool) -> None:
        self.req_id = req_id
        self.symbol = symbol
        self.depth = depth
        self.incremental = incremental
        self.sent_bids: dict[float, float] = {}
        self.sent_asks: dict[float, float] = {}


class FixVenueSimulator(FixAcceptor):
    """Run a :class:`FixVenueConfig` (``async with`` or :meth:`start`/:meth:`stop`).

    Attributes
    ----------
    sessions : dict[str, FixSession]
        Logged-on counterparties.
    requests : list[FixMessage]
        Every MarketDataRequest received (for tests).
    """

    def __init__(self, config: FixVenueConfig | None = None) -> None:
        self.config = cfg = config or FixVenueConfig()
        super().__init__(
            host=cfg.host, port=cfg.port, ssl=cfg.ssl, comp_id=cfg.comp_id, counterparties=cfg.counterparties,
            store_dir=cfg.store_dir, max_msg_size=cfg.max_msg_size, logon_timeout_s=10.0, label=cfg.name,
        )
        self.books = {s: SyntheticBook(s, seed=self.config.seed, levels=self.config.levels,
                                       start=self.config.start_prices.get(s))
                      for s in self.config.instruments}
        #: Last book sent per symbol (to any subscriber), as :class:`~dragonfly.sim.market.SentBook`.
        self.last_sent: dict[str, SentBook] = {}
        #: Recent books sent per symbol, oldest first.
        self.history: dict[str, deque[SentBook]] = {s: deque(maxlen=256) for s in self.config.instruments}
        self.requests: list[FixMessage] = []
        self.logons = 0
        self._subs: dict[str, dict[str, _Sub]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._stalled = False
        self.ticks = 0
        self.changed = asyncio.Event()  # set on every logon/subscription change (tests await it)

    @property
    def address(self) -> str:
        return f"fix://{self.config.host}:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            return
        await self._listen()
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop(), name=f"{self.config.name}-ticker")

    async def stop(self) -> None:
        ticker, self._ticker = self._ticker, None
        await self._shutdown("venue shutting down", *([ticker] if ticker is not None else []))

    # -- connections -----------------------------------------------------------------------
    def _logged_on(self, session: FixSession) -> None:
        self._subs[session.config.target_comp_id] = {}
        self.logons += 1
        self.changed.set()

    def _logged_off(self, session: FixSession) -> None:
        self._subs.pop(session.config.target_comp_id, None)
        self.changed.set()

    def _on_app(self, session: FixSession, msg: FixMessage) -> None:
        if msg.msg_type != "V":
            session.reject(msg, 11, f"unsupported MsgType {msg.msg_type}", 35)
            return
        self.requests.append(msg)
        del self.requests[:-100]
        their = session.config.target_comp_id
        subs = self._subs.setdefault(their, {})
        req_id = msg.get_str(262)
        if not req_id:
            session.reject(msg, 1, "MDReqID (262) missing", 262)
            return
        try:
            kind = msg.get_int(263)
            depth = msg.get_int(264, 0)
            update = msg.get_int(265, 1)
        except Exception:
            session.reject(msg, 6, "bad 263/264/265 value")
            return
        if kind == 2:
            for key in [k for k in subs if k.startswith(req_id + "/")]:
                del subs[key]
            self.changed.set()
            return
        if kind not in (0, 1):
            self._md_reject(session, req_id, "4", f"SubscriptionRequestType {kind} not supported")
            return
        symbols = msg.get_all(55)
        if not symbols:
            self._md_reject(session, req_id, "0", "no symbol")
            return
        for raw in symbols:
            symbol = raw.decode("latin-1")
            book = self.books.get(symbol)
            if book is None:
                self._md_reject(session, req_id, "0", f"unknown symbol {symbol}")
                continue
            d = depth or book.levels
            sub = _Sub(req_id, symbol, d, update == 1)
            self._send_full(session, sub, book)
            if kind == 1:
                subs[f"{req_id}/{symbol}"] = sub
        self.changed.set()

    def _md_reject(self, session: FixSession, req_id: str, code: str, text: str) -> None:
        session.send_nowait("Y", [(262, req_id), (281, code), (58, text)])

    def _send_full(self, session: FixSession, sub: _Sub, book: SyntheticBook) -> None:
        bids, asks = book.top(sub.depth)
        fields: list[tuple[int, object]] = [(262, sub.req_id), (55, sub.symbol), (268, len(bids) + len(asks))]
        for p, q in bids:
            fields += [(269, "0"), (270, p), (271, q)]
        for p, q in asks:
            fields += [(269, "1"), (270, p), (271, q)]
        session.send_nowait("W", fields)
        sub.sent_bids = dict(bids)
        sub.sent_asks = dict(asks)
        self._record(sub.symbol, bids, asks)

    def _send_incremental(self, session: FixSession, sub: _Sub, book: SyntheticBook) -> None:
        bids, asks = book.top(sub.depth)
        entries: list[tuple[int, object]] = []
        n = 0
        for side, new, old in (("0", dict(bids), sub.sent_bids), ("1", dict(asks), sub.sent_asks)):
            for p in old:
                if p not in new:
                    entries += [(279, "2"), (269, side), (55, sub.symbol), (270, p)]
                    n += 1
            for p, q in new.items():
                if p not in old:
                    entries += [(279, "0"), (269, side), (55, sub.symbol), (270, p), (271, q)]
                    n += 1
                elif old[p] != q:
                    entries += [(279, "1"), (269, side), (55, sub.symbol), (270, p), (271, q)]
                    n += 1
        sub.sent_bids = dict(bids)
        sub.sent_asks = dict(asks)
        if n:
            session.send_nowait("X", [(262, sub.req_id), (268, n), *entries])
            self._record(sub.symbol, bids, asks)

    def _record(self, symbol: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> None:
        book = SentBook(tuple((repr(p), repr(q)) for p, q in bids), tuple((repr(p), repr(q)) for p, q in asks))
        self.last_sent[symbol] = book
        self.history[symbol].append(book)

    # -- the market ------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        interval = self.config.interval_s
        while True:
            await asyncio.sleep(interval)
            if self._stalled:
                continue
            self.tick()

    def tick(self) -> None:
        """Move every book one step and send the updates to every subscriber."""
        self.ticks += 1
        for book in self.books.values():
            book.step()
        for their, subs in list(self._subs.items()):
            session = self.sessions.get(their)
            if session is None or session.closed:
                continue
            if session.write_buffer_size > 1 << 20:
                continue  # slow client: skip this tick (it is a simulator)
            try:
                for sub in list(subs.values()):
                    book = self.books[sub.symbol]
                    if sub.incremental:
                        self._send_incremental(session, sub, book)
                    else:
                        self._send_full(session, sub, book)
            except (FixSessionError, ConnectionError, OSError) as exc:
                log.info("%s: send to %s failed: %r", self.config.name, their, exc)

    # -- fault injection -------------------------------------------------------------------
    def _session(self, comp_id: str | None) -> FixSession:
        if comp_id is None:
            if not self.sessions:
                raise FixSessionError("no session logged on")
            return next(iter(self.sessions.values()))
        return self.sessions[comp_id]

    def inject_raw(self, data: bytes, comp_id: str | None = None) -> None:
        """Write ``data`` as is on a session's connection."""
        self._session(comp_id)._writer.write(data)

    def inject_garbage(self, comp_id: str | None = None, size: int = 64) -> None:
        self.inject_raw(bytes(random.Random(size).randrange(32, 127) for _ in range(size)), comp_id)

    def inject_bad_checksum(self, comp_id: str | None = None) -> None:
        """A well-framed Heartbeat whose CheckSum is wrong (it uses no sequence number)."""
        s = self._session(comp_id)
        raw = encode_message("0", [(49, s.config.sender_comp_id), (56, s.config.target_comp_id),
                                   (34, s.store.next_out), (52, "20240101-00:00:00.000")])
        bad = raw[:-4] + b"%03d\x01" % ((int(raw[-4:-1]) + 1) % 256)
        self.inject_raw(bad, comp_id)

    def inject_too_large(self, comp_id: str | None = None, size: int = 1 << 20) -> None:
        s = self._session(comp_id)
        raw = encode_message("0", [(49, s.config.sender_comp_id), (56, s.config.target_comp_id),
                                   (34, s.store.next_out), (52, "20240101-00:00:00.000"), (58, "x" * size)])
        self.inject_raw(raw, comp_id)

    def inject_gap(self, n: int = 3, comp_id: str | None = None) -> None:
        """Skip ``n`` outgoing sequence numbers (the client must ask for a resend)."""
        s = self._session(comp_id)
        s.store.next_out += n
        s.store.save()

    def stall(self, on: bool = True) -> None:
        """Stop (or resume) market data. Heartbeats go on; see :meth:`silence` for a full stall."""
        self._stalled = on

    def silence(self, comp_id: str | None = None) -> None:
        """Stop heartbeats and data on a session without closing it (the client's TestRequest goes unanswered)."""
        s = self._session(comp_id)
        s.muted = True
        self._subs[s.config.target_comp_id] = {}

    def disconnect(self, comp_id: str | None = None) -> None:
        """Drop a session's TCP connection without a Logout."""
        s = self._session(comp_id)
        s._close("disconnected by the simulator")


class SimulatedFixVenue(FixVenueSimulator):
    """A :class:`FixVenueSimulator` for a registry venue whose encoder serves FIX, built the way
    :class:`dragonfly.sim.SimulatedVenues` builds every venue simulator, so a FIX venue can sit
    beside the WebSocket venues.

    Parameters
    ----------
    encoder : FixEncoder
        The venue's encoder (``engine == "fix"``): its CompID, counterparties and symbols.
    venue : str, optional
        Label (logs); default the encoder's venue folder name.
    instruments : sequence of str
        Any accepted spelling; served under the encoder's symbols (55). :attr:`last_sent` and
        :attr:`history` are keyed by the normalised instrument name (``ETH-BTC``).
    seed : int
    mids : dict[str, MidPrice], optional
        The shared mid-price processes: each book starts at its instrument's mid, so the FIX
        venue trades near the others (created, and shared, when absent).
    interval_s : float, optional
        Time between book updates (default 0.05).
    replay : None
        Recordings are not supported by the FIX venue (a ConfigError if given).
    speed : float or None
        Ignored (no replay).
    **options
        Other :class:`FixVenueConfig` fields (``counterparties``, ``levels``, ``comp_id``, ``ssl``...).
    """

    def __init__(
        self,
        encoder: Any,
        *,
        venue: str | None = None,
        instruments: Sequence[str],
        seed: int = 1,
        mids: dict[str, Any] | None = None,
        interval_s: float | None = None,
        replay: Any = None,
        speed: float | None = 1.0,
        **options: Any,
    ) -> None:
        from .encoder import encoder_label
        from .market import served_instruments, shared_mids

        if getattr(encoder, "engine", None) != "fix":
            raise ConfigError(f"{type(encoder).__name__} is not a FIX encoder")
        self.encoder = encoder
        self.venue = venue or encoder_label(encoder)
        if replay is not None:
            raise ConfigError("the FIX venue simulator cannot replay recordings")
        insts = served_instruments(instruments).values()
        mids = shared_mids(insts, mids, seed)
        starts: dict[str, float] = {}
        #: the venue's symbol (55) -> instrument name
        self.names: dict[str, str] = {}
        for inst in insts:
            symbol = encoder.symbol(inst)
            self.names[symbol] = inst.name
            starts[symbol] = float(mids[inst.name].at(0))
        kwargs: dict[str, Any] = {
            "instruments": tuple(self.names), "seed": seed, "start_prices": starts, "name": self.venue,
            "comp_id": encoder.comp_id, "counterparties": dict(encoder.counterparties),
        }
        if interval_s is not None:
            kwargs["interval_s"] = interval_s
        kwargs.update(options)
        super().__init__(FixVenueConfig(**kwargs))
        self.history = {self.names[s]: h for s, h in self.history.items()}
        self._subscribed = asyncio.Event()

    def _record(self, symbol: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> None:
        super()._record(self.names.get(symbol, symbol), bids, asks)

    @property
    def base_url(self) -> str:
        """``fix://127.0.0.1:<port>``: the FIX feed's base URL."""
        return self.address

    def _on_app(self, session: FixSession, msg: FixMessage) -> None:
        super()._on_app(session, msg)
        if any(self._subs.values()):
            self._subscribed.set()

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Wait until a counterparty holds a subscription."""
        await asyncio.wait_for(self._subscribed.wait(), timeout)

    # the fault-injection surface of SimulatedVenues
    def pause(self) -> None:
        self.stall(True)

    def resume(self) -> None:
        self.stall(False)

    @property
    def paused(self) -> bool:
        return self._stalled

    async def step(self, instrument: str | None = None) -> None:
        """Move every book one step and send it now (even while paused)."""
        self.tick()

    # the simulators' common fault interface (async, every session), not the FIX server's per-session one
    async def disconnect(self, *, refuse: bool = False, abrupt: bool = False) -> int:  # type: ignore[override]
        """Drop every session (``refuse`` is not supported by the FIX venue)."""
        if refuse:
            raise ConfigError("the FIX venue simulator cannot refuse connections")
        n = 0
        for comp in list(self.sessions):
            super().disconnect(comp)
            n += 1
        return n
