"""The diff engine: a diff-stream venue on 127.0.0.1 (WebSocket stream + REST snapshot endpoint on
one port), generic over a :class:`~dragonfly.sim.encoder.DiffEncoder`.

A :class:`DiffSim` keeps a seeded synthetic market: each symbol has a true book (bids
strictly below, asks strictly above a fixed mid, on a tick grid) that every
:meth:`DiffSim.step` changes by a few levels. The encoder writes each change as the venue's
delta (its sequence ids, the true book's checksum, its number text) and each snapshot as the
venue's snapshot frame (after a subscribe) or REST body; it also reads the clients' subscribe
messages. Everything else is here, the same for every venue.

The simulator is stepped explicitly (``await sim.step(n)``), so tests know exactly what was
sent; :meth:`DiffSim.run` steps at a rate for demos (and
:class:`~dragonfly.sim.diff.venues.SimulatedDiffVenue` on a timer for
:class:`~dragonfly.sim.SimulatedVenues`).

Faults (each applies to the next matching event):
``drop_next`` (a delta lost on the wire: a gap; on a venue numbering its connection's frames
the number is lost too), ``corrupt_next`` (a level whose quantity differs from the truth: a
checksum mismatch), ``cross_next`` (a bid above the best ask), ``reorder_next`` (two deltas
swapped), ``stale_snapshots`` (REST snapshots older than the deltas already sent),
``hold_snapshots`` (REST snapshots wait for :meth:`DiffSim.release_snapshots`, so deltas are
buffered meanwhile and the snapshot is newer than them), ``disconnect_on_snapshot`` (the
WebSocket is closed when a snapshot is requested or a symbol re-subscribed: a disconnect
during resync), :meth:`DiffSim.send_raw` / :meth:`DiffSim.send_malformed` (malformed frames),
:meth:`DiffSim.send_out_of_order` (an old delta again), :meth:`DiffSim.disconnect` (clean,
abrupt, refusing new connections until :meth:`DiffSim.accept`),
:meth:`DiffSim.request_reconnect` and :meth:`DiffSim.send_heartbeat`.

:meth:`DiffSim.truth_tops` records every top N the true book had, so tests can check a
listener never published a book that was not true at some point.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ..._core.book_py import Book as TruthBook
from ...errors import ConfigError
from ..encoder import BookState, Update
from ..local import LocalSite, drop_connections
from ..orders import OrderDesk, match_levels

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("DEFAULT_LEVELS", "DiffSim", "DiffSimConfig", "delta_frames")

#: Price levels per side of each true book unless :class:`DiffSimConfig` says otherwise.
DEFAULT_LEVELS = 30

_MAX_LEVELS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffSimConfig:
    """Parameters
    ----------
    symbols : sequence of str
        Symbols as the venue spells them in messages (``encoder.symbol(instrument)``:
        ``BTCUSDT``, ``btcusd``, ``BTC-USD``, ``XBT/USD``...).
    seed : int
        Seed of the synthetic market.
    levels : int
        Price levels per side of each true book (at most the encoder's ``depth``).
    top_depth : int
        Depth of the recorded true tops (:meth:`DiffSim.truth_tops`).
    history : int
        Past states kept to serve stale snapshots (and :meth:`DiffSim.history`).
    mids : Mapping[str, float]
        Mid price per symbol (default: 100-150, a different one per symbol).
    decimals : int
        Price decimals; the tick is ``10 ** -decimals`` (default 2: a 0.01 tick).
    """

    symbols: tuple[str, ...]
    seed: int = 1
    levels: int = DEFAULT_LEVELS
    top_depth: int = 10
    history: int = 256
    mids: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    decimals: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.symbols, str) or not self.symbols:
            raise ValueError("at least one symbol is required")
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"duplicate symbol in {self.symbols}")
        if not isinstance(self.levels, int) or not 1 <= self.levels <= _MAX_LEVELS:
            raise ValueError(f"levels must be within 1..{_MAX_LEVELS}")
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 8:
            raise ValueError("decimals must be within 0..8")
        if not isinstance(self.history, int) or self.history < 1:
            raise ValueError("history must be a positive int")
        mids = dict(self.mids)
        for name, mid in mids.items():
            if name not in self.symbols:
                raise ValueError(f"mids has {name!r}, which is not among symbols {self.symbols}")
            if not (isinstance(mid, (int, float)) and mid > (self.levels + 1) * 10.0**-self.decimals):
                raise ValueError(f"mid of {name!r} must leave {self.levels} positive ticks below it, got {mid!r}")
        object.__setattr__(self, "mids", MappingProxyType(mids))


def delta_frames(encoder: Any, update: Update) -> list[str]:
    """The frames of one delta: ``encoder.delta_frame`` gives one frame, or several in order (a venue
    that sends one level per message and its checksum in a message of its own)."""
    out = encoder.delta_frame(update)
    return [out] if isinstance(out, str) else list(out)


#: A past true state: (last id, micro, bids, asks, checksum); sides as ``(price, qty)`` floats best first.
State = tuple[int, int, tuple[Any, ...], tuple[Any, ...], int | None]


class _Symbol:
    __slots__ = ("book", "frames", "held", "history", "last", "micro", "mid", "name", "tick", "tops")

    def __init__(self, name: str, mid: float, tick: float, history: int) -> None:
        self.name = name
        self.book = TruthBook(max_depth=_MAX_LEVELS)
        self.mid = mid
        self.tick = tick
        self.last = 1000
        self.micro = int(time.time() * 1e6)
        self.history: deque[State] = deque(maxlen=history)
        self.tops: set[tuple[Any, Any]] = set()
        self.held: Update | None = None
        self.frames: deque[list[str]] = deque(maxlen=2)  # the frames of the last deltas sent (send_out_of_order)


class _Conn:
    """One WebSocket connection: the :class:`~dragonfly.sim.encoder.Subscriptions` handle."""

    __slots__ = ("closing", "new", "request", "seq", "sim", "subscribed", "subscribes", "ws")

    def __init__(self, sim: DiffSim, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.sim = sim
        self.ws = ws
        self.request = request
        self.subscribed: set[str] = set()
        self.subscribes = 0
        self.seq = -1  # the last number of a venue numbering its connection's frames
        self.new: list[str] = []  # symbols subscribed by the message being handled
        self.closing = False

    def subscribe(self, symbol: str, key: str = "") -> bool:
        return self.sim._subscribe(self, symbol)

    def unsubscribe(self, symbol: str, key: str = "") -> bool:
        if symbol not in self.subscribed:
            return False
        self.subscribed.discard(symbol)
        self.sim._signal()
        return True

    def keys(self) -> list[str]:
        return sorted(self.subscribed)

    async def send(self, frame: str) -> None:
        enc = self.sim.encoder
        if enc.connection_sequence:
            stamped = enc.stamp(frame, self.seq + 1)
            if stamped is not None:
                self.seq += 1
                frame = stamped
        await self.ws.send_str(frame)


class DiffSim(LocalSite):
    """A local diff-stream venue speaking ``encoder``'s wire format (see the module notes).

    Parameters
    ----------
    encoder : DiffEncoder
        The venue's encoder (``engine == "diff"``).
    config : DiffSimConfig
    """

    def __init__(self, encoder: Any, config: DiffSimConfig) -> None:
        if getattr(encoder, "engine", None) != "diff":
            raise ConfigError(f"{type(encoder).__name__} is not a diff-stream encoder")
        if encoder.snapshots not in ("stream", "rest"):
            raise ConfigError(f"{type(encoder).__name__}.snapshots must be 'stream' or 'rest'")
        if config.levels > encoder.depth:
            raise ConfigError(f"levels {config.levels} exceed the venue's depth {encoder.depth}")
        self.encoder = encoder
        self.config = config
        self._rng = random.Random(config.seed)
        self.symbols: dict[str, _Symbol] = {}
        self._dec = config.decimals
        for i, name in enumerate(config.symbols):
            mid = 100.0 * (i + 1) + self._rng.randint(0, 50)
            mid = round(config.mids.get(name, mid), self._dec)
            sym = self.symbols[name] = _Symbol(name, mid, 10.0**-self._dec, config.history)
            bids = [self._level(sym, True, k) for k in range(1, config.levels + 1)]
            asks = [self._level(sym, False, k) for k in range(1, config.levels + 1)]
            sym.book.apply(bids, asks)
            self._record(sym)
        self._conns: set[_Conn] = set()
        # fault knobs
        self._drop: dict[str, int] = {}
        self._corrupt: dict[str, int] = {}
        self._cross: dict[str, int] = {}
        self._reorder: dict[str, int] = {}
        self.stale_snapshots = 0
        self.disconnect_on_snapshot = 0
        self.hold_snapshots = False
        self._release = asyncio.Event()
        self._refusing = False
        # counters and signals
        self.snapshot_requests = 0
        self.connect_requests = 0  # POSTs answered by the encoder's connect_response
        self.subscribes = 0
        self.connections = 0  #: WebSocket connections accepted
        self.refused = 0  #: WebSocket upgrades refused (``disconnect(refuse=True)``)
        self.steps = 0
        self.frames_sent = 0
        self._changed = asyncio.Event()
        #: Order entry on this port (:class:`~dragonfly.sim.orders.OrderDesk`), when set.
        self.orders: OrderDesk | None = None

    # -- levels and truth --------------------------------------------------------------------------

    def _level(self, sym: _Symbol, bid: bool, k: int, qty: float | None = None) -> list[str]:
        d = self._dec
        price = round(sym.mid - k * sym.tick, d) if bid else round(sym.mid + k * sym.tick, d)
        if qty is None:
            qty = self._rng.randint(1, 50_000) / 1000
        return list(self.encoder.level(price, qty, d))

    def _checksum(self, book: Any) -> int | None:
        kind = self.encoder.checksum
        return None if kind is None else int(book.checksum(kind))

    def _record(self, sym: _Symbol) -> None:
        book = sym.book
        sym.history.append((sym.last, sym.micro, book.bids(), book.asks(), self._checksum(book)))
        sym.tops.add(book.top(self.config.top_depth))

    def book_state(self, symbol: str) -> BookState:
        """The current true book of ``symbol`` as encoders write snapshots of it."""
        sym = self.symbols[symbol]
        bids_t, asks_t = sym.book.top_text(_MAX_LEVELS)
        return BookState(
            symbol=sym.name,
            bids=[[p.decode(), q.decode()] for p, q in bids_t],
            asks=[[p.decode(), q.decode()] for p, q in asks_t],
            last=sym.last,
            micro=sym.micro,
            checksum=self._checksum(sym.book),
        )

    def _past_state(self, sym: _Symbol, state: State) -> BookState:
        last, micro, bids, asks, checksum = state
        enc, d = self.encoder, self._dec
        return BookState(
            symbol=sym.name,
            bids=[list(enc.level(p, q, d)) for p, q in bids],
            asks=[list(enc.level(p, q, d)) for p, q in asks],
            last=last,
            micro=micro,
            checksum=checksum,
        )

    def truth_top(self, symbol: str, depth: int) -> tuple[Any, Any]:
        """The current true top ``depth`` of ``symbol``."""
        return self.symbols[symbol].book.top(depth)

    def truth_tops(self, symbol: str) -> set[tuple[Any, Any]]:
        """Every top ``top_depth`` the true book of ``symbol`` has had."""
        return self.symbols[symbol].tops

    def truth_last(self, symbol: str) -> int:
        """The id of the last delta of ``symbol``'s true book (its ``micro`` is ``book_state(symbol).micro``)."""
        return self.symbols[symbol].last

    def history(self, symbol: str) -> list[State]:
        """Past true states of ``symbol``, oldest first: ``(last, micro, bids, asks, checksum)``."""
        return list(self.symbols[symbol].history)

    def generate(self, symbol: str) -> Update:
        """Change the true book of ``symbol`` by a few levels and return the delta (not sent:
        sans-IO use, e.g. property tests feeding an adapter directly)."""
        return self._generate(self.symbols[symbol])

    def _generate(self, sym: _Symbol) -> Update:
        rng = self._rng
        levels = self.config.levels
        sides: list[list[list[str]]] = [[], []]
        for i, bid in enumerate((True, False)):
            for k in rng.sample(range(1, levels + 1), rng.randint(1, 3)):
                qty = 0.0 if rng.random() < 0.25 else rng.randint(1, 50_000) / 1000
                sides[i].append(self._level(sym, bid, k, qty))
        bids, asks = sides
        return self._change(sym, bids, asks)

    def _change(self, sym: _Symbol, bids: list[list[str]], asks: list[list[str]]) -> Update:
        """Apply a change to the true book of ``sym`` and return it as the venue's next delta."""
        rng = self._rng
        sym.book.apply(bids, asks)
        prev = sym.last
        sym.last = prev + max(1, int(self.encoder.id_step(rng)))
        sym.micro += rng.randint(10, 1000)
        checksum = self._checksum(sym.book)
        self._record(sym)
        return Update(symbol=sym.name, bids=bids, asks=asks, first=prev + 1, last=sym.last, prev=prev,
                      checksum=checksum, micro=sym.micro)

    # -- server ------------------------------------------------------------------------------------

    async def start(self) -> Self:
        await self._listen([web.route("GET", "/{tail:.*}", self._handle), web.route("POST", "/{tail:.*}", self._post),
                            web.route("DELETE", "/{tail:.*}", self._post)])
        return self

    async def close(self) -> None:
        self._release.set()
        if self.orders is not None:
            self.orders.release()
        await drop_connections(self._conns, abrupt=False)
        await self._unlisten()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if self._refusing:
                self.refused += 1
                self._signal()
                return web.Response(status=503, text="simulated outage")
            return await self._ws(request)
        return await self._snapshot(request)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        """A venue's connect request (e.g. a token and the endpoint for the next connection), answered
        by the encoder's optional ``connect_response``; 404 when it has none for this path."""
        if self.orders is not None:
            answer = await self.orders.handle(request)
            if answer is not None:
                return answer
        if request.method != "POST":
            raise web.HTTPNotFound()
        hook = getattr(self.encoder, "connect_response", None)
        body = hook(request.method, request.path, request.query, self.ws_url) if hook is not None else None
        if body is None:
            raise web.HTTPNotFound()
        self.connect_requests += 1
        self._signal()
        return web.Response(text=body, content_type="application/json")

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        if self.orders is not None:  # an order query (GET) of the order entry on this port
            answer = await self.orders.handle(request)
            if answer is not None:
                return answer
        if self.encoder.snapshots != "rest":
            raise web.HTTPNotFound()
        name = self.encoder.rest_symbol(request.path, request.query)
        if name is None:
            raise web.HTTPNotFound()
        sym = self.symbols.get(name)
        if sym is None:
            raise web.HTTPBadRequest(text=json.dumps({"code": -1121, "msg": "Invalid symbol."}))
        self.snapshot_requests += 1
        self._signal()
        if self.disconnect_on_snapshot > 0:
            self.disconnect_on_snapshot -= 1
            await self.disconnect()
        if self.hold_snapshots:
            await self._release.wait()
        if self.stale_snapshots > 0:
            self.stale_snapshots -= 1
            state = self._past_state(sym, sym.history[0])
        else:
            state = self.book_state(name)
        return web.Response(text=self.encoder.rest_body(state), content_type="application/json")

    def _subscribe(self, conn: _Conn, name: str) -> bool:
        """A subscribe from a client (URL or message); False for an unknown symbol."""
        if name not in self.symbols or conn.closing:
            return False
        conn.subscribes += 1
        self.subscribes += 1
        self._signal()
        if conn.subscribes > 1 and self.disconnect_on_snapshot > 0 and self.encoder.snapshots == "stream":
            self.disconnect_on_snapshot -= 1  # a re-subscribe for a snapshot: drop the connection instead
            conn.closing = True
            return False
        conn.subscribed.add(name)
        conn.new.append(name)
        return True

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(self, ws, request)
        self._conns.add(conn)
        self.connections += 1
        enc = self.encoder
        try:
            enc.connect(request.path, request.query, conn)
            await self._snapshots(conn)
            self._signal()
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                replies = enc.client_message(msg.data, conn)
                if conn.closing:
                    await ws.close()
                    break
                for reply in replies:
                    await conn.send(reply)
                await self._snapshots(conn)
        finally:
            self._conns.discard(conn)
            self._signal()
        return ws

    async def _snapshots(self, conn: _Conn) -> None:
        """The snapshot frames of the symbols ``conn`` just subscribed (venues with snapshots on the stream)."""
        new, conn.new = conn.new, []
        if self.encoder.snapshots == "stream":
            for name in new:
                await conn.send(self.encoder.snapshot_frame(self.book_state(name)))

    # -- driving -----------------------------------------------------------------------------------

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true, re-checking whenever the
        simulator's state changes (connections, subscriptions, requests)."""

        async def _wait() -> None:
            while not predicate():
                await self._changed.wait()

        await asyncio.wait_for(_wait(), timeout)

    @property
    def connected(self) -> int:
        return len(self._conns)

    def subscribed(self, name: str) -> int:
        """Connections subscribed to ``name``."""
        return sum(name in c.subscribed for c in self._conns)

    async def _send(self, name: str | None, frame: str, *, numbered: bool = True) -> None:
        """``frame`` to every connection subscribed to ``name`` (None: to every connection);
        ``numbered=False`` sends it as is, even on a venue numbering its connection's frames."""
        for conn in list(self._conns):
            if (name is None or name in conn.subscribed) and not conn.ws.closed:
                try:
                    await (conn.send(frame) if numbered else conn.ws.send_str(frame))
                except ConnectionError:  # pragma: no cover - peer went away
                    continue
                self.frames_sent += 1

    async def _send_delta(self, sym: _Symbol, u: Update, everyone: bool) -> None:
        frames = delta_frames(self.encoder, u)
        sym.frames.append(frames)
        for frame in frames:
            await self._send(None if everyone else sym.name, frame)

    async def step(self, n: int = 1, symbols: Sequence[str] | None = None, *, everyone: bool = False) -> None:
        """Change every (or the given) true book ``n`` times and send the deltas to the connections
        subscribed to them (``everyone``: to every connection, subscribed or not)."""
        for _ in range(n):
            self.steps += 1
            for name in symbols or self.config.symbols:
                sym = self.symbols[name]
                u = self._generate(sym)
                if self._take(self._drop, name):
                    if self.encoder.connection_sequence:  # lost on the wire: their numbers are gone too
                        lost = sum(self.encoder.stamp(f, 0) is not None for f in delta_frames(self.encoder, u))
                        for conn in self._conns:
                            if everyone or name in conn.subscribed:
                                conn.seq += lost
                    continue
                if self._take(self._corrupt, name):
                    # the best bid's quantity, off by 1.234 (inside every checksum's depth)
                    price_text = self._level(sym, True, 1, 1.0)[0]
                    true_qty = dict(sym.book.bids()).get(float(price_text), 0.0)
                    u.bids.append([price_text, self._level(sym, True, 1, true_qty + 1.234)[1]])
                if self._take(self._cross, name):
                    best_ask = sym.book.best_ask()
                    price = (best_ask[0] if best_ask else sym.mid) + sym.tick
                    u.bids.append(list(self.encoder.level(round(price, self._dec), 1.0, self._dec)))
                if self._take(self._reorder, name):
                    sym.held = u
                    continue
                await self._send_delta(sym, u, everyone)
                if sym.held is not None:
                    held, sym.held = sym.held, None
                    await self._send_delta(sym, held, everyone)

    async def execute(self, symbol: str, side: str, qty: float, limit: float | None) -> list[tuple[float, float]]:
        """Match an immediate-or-cancel order against the true book of ``symbol`` (a buy takes asks, a
        sell bids, up to ``limit``), send the change as the venue's delta, return the fills."""
        sym = self.symbols[symbol]
        levels = sym.book.asks() if side == "buy" else sym.book.bids()
        fills, changed = match_levels(levels, side, qty, limit)
        if changed:
            lv = [list(self.encoder.level(levels[i][0], q, self._dec)) for i, q in changed]
            u = self._change(sym, [], lv) if side == "buy" else self._change(sym, lv, [])
            await self._send_delta(sym, u, False)
        return fills

    async def run(self, rate_hz: float, stop: asyncio.Event) -> None:
        """Step at ``rate_hz`` until ``stop`` is set (demos, manual runs)."""
        while not stop.is_set():
            await self.step()
            try:
                await asyncio.wait_for(stop.wait(), 1.0 / rate_hz)
            except asyncio.TimeoutError:
                pass

    @staticmethod
    def _take(knob: dict[str, int], name: str) -> bool:
        if knob.get(name, 0) > 0:
            knob[name] -= 1
            return True
        return False

    # -- faults ------------------------------------------------------------------------------------

    def drop_next(self, symbol: str, n: int = 1) -> None:
        """Do not send the next ``n`` deltas of ``symbol`` (the truth still changes): a gap."""
        self._drop[symbol] = self._drop.get(symbol, 0) + n

    def corrupt_next(self, symbol: str) -> None:
        """Send the next delta of ``symbol`` with one quantity differing from the truth."""
        self._corrupt[symbol] = self._corrupt.get(symbol, 0) + 1

    def cross_next(self, symbol: str) -> None:
        """Add a bid above the best ask to the next delta of ``symbol``."""
        self._cross[symbol] = self._cross.get(symbol, 0) + 1

    def reorder_next(self, symbol: str) -> None:
        """Send the next two deltas of ``symbol`` in swapped order."""
        self._reorder[symbol] = self._reorder.get(symbol, 0) + 1

    def release_snapshots(self) -> None:
        """Let held REST snapshot requests answer (see ``hold_snapshots``)."""
        self.hold_snapshots = False
        self._release.set()
        self._release = asyncio.Event()

    async def send_raw(self, frame: str) -> None:
        """Send ``frame`` as is on every connection (not numbered, even on a numbering venue)."""
        for conn in list(self._conns):
            if not conn.ws.closed:
                await conn.ws.send_str(frame)

    async def send_malformed(self, symbol: str, *, kind: str = "garbage") -> None:
        """Send one bad frame to the subscribers of ``symbol``; the true book does not change.

        ``kind``: ``"garbage"`` (not JSON at all) or ``"truncated"`` (a delta frame cut in half),
        both unnumbered on a venue numbering its connection's frames; or ``"bad_number"`` (a
        delta whose level quantity is not a number, its routing fields and sequence ids those of
        the next delta).
        """
        sym = self.symbols[symbol]
        bad = Update(symbol=sym.name, bids=[self._level(sym, True, 1, 1.0)], asks=[], first=sym.last + 1,
                     last=sym.last + 1, prev=sym.last, checksum=self._checksum(sym.book), micro=sym.micro + 1)
        if kind == "bad_number":
            bad.bids[0][1] += "x"
            for frame in delta_frames(self.encoder, bad):
                await self._send(symbol, frame)
        elif kind == "truncated":
            good = delta_frames(self.encoder, bad)[0]
            await self._send(symbol, good[: len(good) // 2], numbered=False)
        elif kind == "garbage":
            await self._send(symbol, "\x00garbage{" + delta_frames(self.encoder, bad)[0][:20], numbered=False)
        else:
            raise ValueError(f"unknown kind {kind!r}")

    async def send_out_of_order(self, symbol: str) -> int:
        """Send the delta before the last one of ``symbol`` again (an older update). Returns 1 if sent."""
        frames = self.symbols[symbol].frames
        if len(frames) < 2:
            return 0
        for frame in frames[0]:
            await self._send(symbol, frame)
        return 1

    async def disconnect(self, *, refuse: bool = False, abrupt: bool = False) -> int:
        """Close every WebSocket connection (clients reconnect): a clean close, or with ``abrupt`` a
        TCP abort. With ``refuse``, answer new WebSocket upgrades with HTTP 503 until :meth:`accept`.
        Returns how many were closed."""
        self._refusing = refuse
        return await drop_connections(self._conns, abrupt=abrupt)

    def accept(self) -> None:
        """Accept connections again after ``disconnect(refuse=True)``."""
        self._refusing = False

    async def _to_all(self, frame: str | None, what: str) -> int:
        if frame is None:
            raise ConfigError(f"{type(self.encoder).__name__}: the venue has no {what}")
        await self._send(None, frame)
        return len(self._conns)

    async def request_reconnect(self) -> int:
        """Send the venue's reconnect request to every connection (ConfigError when it has none)."""
        return await self._to_all(self.encoder.reconnect_request(), "reconnect request")

    async def send_heartbeat(self) -> int:
        """Send the venue's heartbeat frame to every connection (ConfigError when it has none)."""
        return await self._to_all(self.encoder.heartbeat(), "heartbeat frame")
