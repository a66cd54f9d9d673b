"""The top-N snapshot engine: a WebSocket server on 127.0.0.1 for venues whose every frame
is a whole top N, generic over a :class:`~dragonfly.sim.encoder.SnapshotEncoder`.

A :class:`VenueSimulator` owns a set of instruments, a book model per instrument
(synthetic, shaped by the encoder's ``style``) or a :class:`~dragonfly.sim.replay.Recording`
(replay), and the open connections with what each subscribed to. The encoder speaks the
venue's wire format: how a connection subscribes (its URL, its messages) and how a book
becomes a frame.

Fault injection (all awaitable, all take effect on the live sockets):
:meth:`~VenueSimulator.disconnect` (optionally refusing new connections until
:meth:`~VenueSimulator.accept`, or aborting the TCP connection), :meth:`~VenueSimulator.pause` /
:meth:`~VenueSimulator.stall` (connections stay open, no data) and
:meth:`~VenueSimulator.resume`, :meth:`~VenueSimulator.send_malformed`,
:meth:`~VenueSimulator.send_out_of_order`, :meth:`~VenueSimulator.request_reconnect`,
:meth:`~VenueSimulator.send_heartbeat` and :meth:`~VenueSimulator.step` (send one fresh
book now, even while paused).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .._lifecycle import StartStop, cancel_and_wait
from ..errors import ConfigError
from ..instruments import Instrument, parse_instrument
from .encoder import encoder_label
from .local import LocalSite, drop_connections
from .market import MidPrice, SentBook, VenueBookModel, VenueStyle, served_instruments, shared_mids
from .orders import OrderDesk, match_levels
from .replay import Recording

__all__ = ("Connection", "VenueSimulator")

log = logging.getLogger(__name__)


class Connection:
    """One client connection: its socket and its subscriptions (key -> instrument name).

    It is the :class:`~dragonfly.sim.encoder.Subscriptions` handle the encoder changes.
    """

    __slots__ = ("_names", "request", "subs", "ws")

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, names: dict[str, str]) -> None:
        self.ws = ws
        self.request = request
        self.subs: dict[str, str] = {}
        self._names = names  # the venue's symbol -> instrument name

    def subscribe(self, symbol: str, key: str = "") -> bool:
        name = self._names.get(symbol)
        if name is None:
            return False
        self.subs[key or symbol] = name
        return True

    def unsubscribe(self, symbol: str, key: str = "") -> bool:
        return self.subs.pop(key or symbol, None) is not None

    def keys(self) -> list[str]:
        return list(self.subs)


class VenueSimulator(LocalSite, StartStop):
    """A top-N snapshot venue's WebSocket server, speaking ``encoder``'s wire format.

    Parameters
    ----------
    encoder : SnapshotEncoder
        The venue's encoder (``engine == "snapshot"``).
    venue : str, optional
        Label (logs, seeds); default the encoder's venue folder name.
    instruments : sequence of str
        Instruments it serves (any accepted spelling).
    seed : int
        Seed of the synthetic market.
    mids : dict[str, MidPrice], optional
        Shared mid-price processes (one market for several venues); created when absent.
    interval_s : float, optional
        Mean time between updates (default: the venue's real rate, from its style).
    style : VenueStyle, optional
        Book shape and update behaviour (default: the encoder's).
    replay : Recording, optional
        Send these recorded payloads instead of a synthetic market.
    speed : float or None
        Replay speed factor (1.0 = as recorded; None = as fast as possible).
    history : int
        How many sent books per instrument :attr:`history` keeps.
    order_protocol : object, optional
        The venue's order adapter, spoken by the order entry on this port beside the generic protocol
        (:attr:`orders`): orders fill against the last book sent, and the book left is sent at once
        (the next synthetic book replenishes it).
    order_accounts : Mapping[str, str], optional
        API key -> secret its order entry accepts.
    """

    def __init__(
        self,
        encoder: Any,
        *,
        venue: str | None = None,
        instruments: Sequence[str],
        seed: int = 1,
        mids: dict[str, MidPrice] | None = None,
        interval_s: float | None = None,
        style: VenueStyle | None = None,
        replay: Recording | None = None,
        speed: float | None = 1.0,
        history: int = 256,
        host: str = "127.0.0.1",
        port: int = 0,
        order_protocol: Any = None,
        order_accounts: Mapping[str, str] | None = None,
    ) -> None:
        if getattr(encoder, "engine", None) != "snapshot":
            raise ConfigError(f"{type(encoder).__name__} is not a top-N snapshot encoder")
        self.encoder = encoder
        self.venue = venue or encoder_label(encoder)
        self.instruments: dict[str, Instrument] = served_instruments(instruments)
        #: the venue's symbol -> instrument name
        self.symbols: dict[str, str] = {encoder.symbol(inst): name for name, inst in self.instruments.items()}
        st = style or VenueStyle(**dict(encoder.style))
        if interval_s is not None:
            if not interval_s > 0:
                raise ValueError("interval_s must be > 0")
            st = replace(st, interval_s=interval_s)
        self.style = st
        self.seed = seed
        mids = shared_mids(self.instruments.values(), mids, seed)
        self.models: dict[str, VenueBookModel] = {
            name: VenueBookModel(venue=self.venue, instrument=inst, mid=mids[name], style=st, seed=seed)
            for name, inst in self.instruments.items()
        }
        self.replay = replay
        self.speed = speed
        self.host = host
        self.port = port
        #: Last good book sent per instrument (float levels as parsed by ``float(text)``).
        self.last_sent: dict[str, SentBook] = {}
        #: Recent good books sent per instrument, oldest first.
        self.history: dict[str, deque[SentBook]] = {n: deque(maxlen=history) for n in self.instruments}
        self.frames_sent = 0
        self.connections_accepted = 0
        self.connections: list[Connection] = []
        self._seq: dict[str, int] = dict.fromkeys(self.instruments, 0)
        self._frames: dict[str, dict[str, str]] = {}  # instrument -> key -> last frame text
        self._prev_frames: dict[str, dict[str, str]] = {}
        self._frame_seq: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        self._refusing = False
        self._t0 = 0.0
        self._send_lock = asyncio.Lock()
        self._subscribed = asyncio.Event()
        self.replay_done = asyncio.Event()
        #: Order entry on this port.
        self.orders = OrderDesk(venue=self.venue, instruments=list(self.instruments), execute=self.execute,
                                protocol=order_protocol, accounts=order_accounts)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.ws_url

    @property
    def order_url(self) -> str:
        """Base URL of its order entry (HTTP, same port)."""
        return self.rest_url

    async def start(self) -> None:
        await self._listen([web.get("/{tail:.*}", self._handler), web.post("/{tail:.*}", self._order),
                            web.delete("/{tail:.*}", self._order)])
        self._t0 = time.monotonic()
        self._running.set()
        self._task = asyncio.get_running_loop().create_task(self._drive(), name=f"sim:{self.venue}")

    async def stop(self) -> None:
        self.orders.release()
        t, self._task = self._task, None
        await cancel_and_wait(t)
        await drop_connections(self.connections, abrupt=False)
        await self._unlisten()

    # -- connections ------------------------------------------------------------------------
    async def _order(self, request: web.Request) -> web.StreamResponse:
        answer = await self.orders.handle(request)
        if answer is None:
            raise web.HTTPNotFound()
        return answer

    async def execute(self, instrument: str, side: str, qty: float, limit: float | None) -> list[tuple[float, float]]:
        """Match an immediate-or-cancel order against the last book sent for ``instrument`` and send the
        book left at once (it stays the current book until the market's next change)."""
        model = self.models[instrument]
        book = model.current
        if book is None:
            return []
        text = book.asks_text if side == "buy" else book.bids_text
        levels = book.asks if side == "buy" else book.bids
        fills, changed = match_levels(levels, side, qty, limit)
        if not changed:
            return fills
        left = dict(changed)
        qdec = max(self.style.qty_decimals, self.style.text_decimals)
        new = tuple(
            (p, f"{left[i]:.{qdec}f}" if i in left else q) for i, (p, q) in enumerate(text) if left.get(i, 1.0) > 0
        )
        moved = SentBook(book.bids_text, new) if side == "buy" else SentBook(new, book.asks_text)
        model.current = moved
        self._seq[instrument] = self.encoder.next_seq(self._seq[instrument], model.rng)
        await self._broadcast(instrument, moved, self._seq[instrument])
        return fills

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":  # an order query (GET)
            return await self._order(request)
        if self._refusing:
            return web.Response(status=503, text="simulated outage")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = Connection(ws, request, self.symbols)
        self.connections.append(conn)
        self.connections_accepted += 1
        try:
            self.encoder.connect(request.path, request.query, conn)
            if conn.subs or self.replay is not None:
                self._subscribed.set()
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    for reply in self.encoder.client_message(msg.data, conn):
                        await self._send(conn, reply)
                    if conn.subs:
                        self._subscribed.set()
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            if conn in self.connections:
                self.connections.remove(conn)
        return ws

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Return once some client subscribed to something."""
        await asyncio.wait_for(self._subscribed.wait(), timeout)

    def subscribers(self, instrument: str | None = None) -> int:
        """Connections subscribed (to ``instrument`` if given)."""
        name = parse_instrument(instrument).name if instrument else None
        return sum(1 for c in self.connections if c.subs and (name is None or name in c.subs.values()))

    async def _send(self, conn: Connection, text: str) -> None:
        try:
            await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError):  # closing under us
            return
        self.frames_sent += 1

    # -- the market ---------------------------------------------------------------------------
    async def _drive(self) -> None:
        if self.replay is not None:
            await self._drive_replay(self.replay)
            return
        models = list(self.models.values())
        loop = asyncio.get_running_loop()
        next_at = {m.instrument.name: loop.time() + m.next_interval() for m in models}
        while True:
            await self._running.wait()
            name = min(next_at, key=next_at.__getitem__)
            delay = next_at[name] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._running.is_set():
                now = loop.time()
                for n in next_at:
                    next_at[n] = max(next_at[n], now)
                continue
            await self._tick(name)
            next_at[name] = max(next_at[name] + self.models[name].next_interval(), loop.time())

    async def _tick(self, name: str, force: bool = False) -> None:
        model = self.models[name]
        book, changed = model.next_book(time.monotonic() - self._t0)
        if force and not changed:
            model.current = None
            book, changed = model.next_book(time.monotonic() - self._t0)
        if not changed and not self.encoder.sends_unchanged:
            return
        if changed:
            self._seq[name] = self.encoder.next_seq(self._seq[name], model.rng)
        await self._broadcast(name, book, self._seq[name])

    def _render(self, key: str, book: SentBook, seq: int, bad: bool = False) -> str:
        """The frame of ``key`` carrying ``book``; ``bad``: the first bid's quantity is not a number
        (the frame's routing fields stay intact)."""
        bids = book.bids_text
        if bad and bids:
            bids = ((bids[0][0], bids[0][1] + "x"), *bids[1:])
        return self.encoder.render(key, bids, book.asks_text, seq)

    async def _broadcast(self, name: str, book: SentBook, seq: int, bad: bool = False) -> None:
        async with self._send_lock:
            frames: dict[str, str] = {}
            for conn in list(self.connections):
                for key, inst in conn.subs.items():
                    if inst != name:
                        continue
                    text = frames.get(key)
                    if text is None:
                        text = frames[key] = self._render(key, book, seq, bad)
                    await self._send(conn, text)
            if not bad:
                self.last_sent[name] = book
                self.history[name].append(book)
                if frames:
                    if self._frame_seq.get(name) != seq:
                        self._prev_frames[name] = self._frames.get(name, {})
                    self._frames[name] = frames
                    self._frame_seq[name] = seq

    async def _drive_replay(self, rec: Recording) -> None:
        loop = asyncio.get_running_loop()
        await self._subscribed.wait()
        start = loop.time()
        t0 = None
        n = 0
        for ts, payload in rec:
            await self._running.wait()
            if self.speed is not None and ts is not None:
                if t0 is None:
                    t0 = ts
                due = start + (ts - t0) / self.speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif n % 64 == 0:
                await asyncio.sleep(0)
            n += 1
            async with self._send_lock:
                for conn in list(self.connections):  # a recording goes to every connection, as recorded
                    await self._send(conn, payload)
                parsed = self.encoder.recorded(payload)
                name = self.symbols.get(parsed[0]) if parsed is not None else None
                if parsed is not None and name is not None:
                    book = SentBook(tuple(parsed[1]), tuple(parsed[2]))
                    self.last_sent[name] = book
                    self.history[name].append(book)
        self.replay_done.set()

    def _names(self, instrument: str | None) -> list[str]:
        if instrument is None:
            return list(self.instruments)
        return [parse_instrument(instrument).name]

    # -- faults and control ----------------------------------------------------------------------
    async def step(self, instrument: str | None = None) -> None:
        """Generate and send one new (changed) book now, even while paused."""
        for name in self._names(instrument):
            await self._tick(name, force=True)

    def pause(self) -> None:
        """Stop sending data; connections stay open (pings are still answered)."""
        self._running.clear()

    stall = pause

    def resume(self) -> None:
        """Undo :meth:`pause` / :meth:`stall`."""
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    async def disconnect(self, *, refuse: bool = False, abrupt: bool = False) -> int:
        """Close every connection: a clean WebSocket close, or with ``abrupt`` a TCP abort
        (no close frame, as when a network path dies). With ``refuse``, answer new connection
        attempts with HTTP 503 until :meth:`accept`. Returns how many were closed."""
        self._refusing = refuse
        return await drop_connections(
            self.connections, abrupt=abrupt, code=WSCloseCode.GOING_AWAY, message=b"simulated disconnect"
        )

    def accept(self) -> None:
        """Accept connections again after ``disconnect(refuse=True)``."""
        self._refusing = False

    async def send_malformed(self, instrument: str | None = None, *, kind: str = "bad_number") -> None:
        """Send one bad frame to the subscribers of ``instrument``.

        ``kind``: ``"bad_number"`` (a level quantity that is not a number, routing intact),
        ``"truncated"`` (a frame cut in half) or ``"garbage"`` (not JSON at all).
        :attr:`last_sent` is unchanged.
        """
        for name in self._names(instrument):
            model = self.models[name]
            book = model.current or model.next_book(time.monotonic() - self._t0)[0]
            if kind == "bad_number":
                await self._broadcast(name, book, self._seq[name] + 1, bad=True)
                continue
            async with self._send_lock:
                for conn in list(self.connections):
                    for key, inst in conn.subs.items():
                        if inst != name:
                            continue
                        good = self._render(key, book, self._seq[name] + 1)
                        if kind == "truncated":
                            text = good[: len(good) // 2]
                        elif kind == "garbage":
                            text = "\x00garbage{" + good[:20]
                        else:
                            raise ValueError(f"unknown kind {kind!r}")
                        await self._send(conn, text)

    async def send_out_of_order(self, instrument: str | None = None) -> int:
        """Re-send the frame before the last one (an older sequence). Returns frames sent."""
        sent = 0
        for name in self._names(instrument):
            frames = self._prev_frames.get(name) or {}
            async with self._send_lock:
                for conn in list(self.connections):
                    for key, inst in conn.subs.items():
                        if inst == name and key in frames:
                            await self._send(conn, frames[key])
                            sent += 1
        return sent

    async def _to_all(self, frame: str | None, what: str) -> int:
        if frame is None:
            raise ConfigError(f"{self.venue} has no {what}")
        conns = list(self.connections)
        for conn in conns:
            await self._send(conn, frame)
        return len(conns)

    async def request_reconnect(self) -> int:
        """Send the venue's reconnect request to every connection (as before maintenance);
        ConfigError when the venue has none. Returns how many connections got it."""
        return await self._to_all(self.encoder.reconnect_request(), "reconnect request")

    async def send_heartbeat(self) -> int:
        """Send the venue's heartbeat frame to every connection (ConfigError when it has none)."""
        return await self._to_all(self.encoder.heartbeat(), "heartbeat frame")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.venue} {self.base_url} instruments={list(self.instruments)}>"
