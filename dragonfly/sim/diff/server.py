"""Diff-stream venue simulators: WebSocket stream + REST snapshot endpoint on 127.0.0.1.

One :class:`DiffSim` speaks one venue's real wire format -- Binance
(combined ``<symbol>@depth@100ms`` + ``/api/v3/depth``), Bitstamp
(``diff_order_book_<pair>`` + ``/api/v2/order_book/<pair>/``), Coinbase
Exchange (``level2`` snapshot / ``l2update``), Kraken v1 (``book`` arrays
with the CRC32 ``c``), OKX v5 (``books`` with ``checksum``,
``seqId``/``prevSeqId``) and Bybit v5 (``orderbook.<depth>.<symbol>``
snapshot / delta with ``u``), plus Kraken v2 (``"kraken2"``: JSON ``book``
messages with ``checksum``) and Coinbase Advanced Trade (``"coinbase-adv"``:
``l2_data`` with a per-connection ``sequence_num``) -- for a seeded synthetic market: each symbol
has a true book (bids strictly below, asks strictly above a fixed mid) that
every :meth:`DiffSim.step` changes by a few levels, sent as the venue's
delta with its sequence fields and checksum.

The simulator is stepped explicitly (``await sim.step(n)``), so tests know
exactly what was sent; :meth:`DiffSim.run` steps at a rate for demos.

Faults (each applies to the next matching event):
``drop_next`` (a gap), ``corrupt_next`` (a level whose quantity differs from
the truth: a checksum mismatch), ``cross_next`` (a bid above the best ask),
``reorder_next`` (two deltas swapped), ``stale_snapshots`` (REST snapshots
older than the deltas already sent), ``hold_snapshots`` (REST snapshots wait
for :meth:`DiffSim.release_snapshots`, so deltas are buffered meanwhile and
the snapshot is newer than them), ``disconnect_on_snapshot`` (the WebSocket is
closed when a snapshot is requested or a symbol re-subscribed: a disconnect
during resync), ``send_raw`` (a malformed frame).

:meth:`DiffSim.truth_tops` records every top N the true book had, so tests
can check a listener never published a book that was not true at some point.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aiohttp import WSMsgType, web

from ..._core.book_py import Book as TruthBook

__all__ = ("DiffSimConfig", "DiffSim", "VENUES")

VENUES = ("binance", "bitstamp", "coinbase", "coinbase-adv", "kraken", "kraken2", "okx", "bybit")
_REST = ("binance", "bitstamp")
_SEQ_MARK = '"sequence_num":-1'



@dataclass(frozen=True, slots=True, kw_only=True)
class DiffSimConfig:
    """Parameters
    ----------
    venue : str
        One of :data:`VENUES`.
    symbols : sequence of str
        Symbols as the venue spells them in messages (``BTCUSDT``,
        ``btcusd``, ``BTC-USD``, ``XBT/USD``, ``BTC-USDT``).
    seed : int
        Seed of the synthetic market.
    levels : int
        Price levels per side of each true book (kept below any subscribed depth).
    depth : int
        Subscribed depth reported by Kraken/Bybit topics.
    top_depth : int
        Depth of the recorded true tops (:meth:`DiffSim.truth_tops`).
    history : int
        Past states kept to serve stale snapshots.
    mids : Mapping[str, float]
        Mid price per symbol (default: 100-150, a different one per symbol).
    decimals : int
        Price decimals; the tick is ``10 ** -decimals`` (default 2: a 0.01 tick).
    """

    venue: str
    symbols: tuple[str, ...]
    seed: int = 1
    levels: int = 30
    depth: int = 100
    top_depth: int = 10
    history: int = 256
    mids: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    decimals: int = 2

    def __post_init__(self) -> None:
        if self.venue not in VENUES:
            raise ValueError(f"venue must be one of {VENUES}, got {self.venue!r}")
        if not self.symbols:
            raise ValueError("at least one symbol is required")
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if not 1 <= self.levels <= self.depth:
            raise ValueError("need 1 <= levels <= depth")
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 8:
            raise ValueError("decimals must be within 0..8")
        mids = dict(self.mids)
        for name, mid in mids.items():
            if name not in self.symbols:
                raise ValueError(f"mids has {name!r}, which is not among symbols {self.symbols}")
            if not (isinstance(mid, (int, float)) and mid > (self.levels + 1) * 10.0**-self.decimals):
                raise ValueError(f"mid of {name!r} must leave {self.levels} positive ticks below it, got {mid!r}")
        object.__setattr__(self, "mids", MappingProxyType(mids))


@dataclass(slots=True)
class _Update:
    bids: list[list[str]]
    asks: list[list[str]]
    first: int
    last: int
    prev: int
    checksum: int | None
    ts_ms: int
    micro: int


def _kraken2(kind: str, name: str, bids: list[list[str]], asks: list[list[str]], checksum: int | None) -> str:
    """Kraken v2 ``book`` message; prices and quantities are JSON numbers written
    with the venue's digits (which is why listeners must not re-format them)."""

    def side(levels: list[list[str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":{json.dumps(name)},'
        f'"bids":[{side(bids)}],"asks":[{side(asks)}],"checksum":{checksum},'
        f'"timestamp":"2026-01-01T00:00:00.000000Z"}}]}}'
    )


_ISO = "2026-01-01T00:00:00.000000Z"


def _advanced(kind: str, name: str, bids: list[list[str]], asks: list[list[str]]) -> str:
    """Coinbase Advanced Trade ``l2_data`` (``sequence_num`` is stamped per connection on sending)."""
    updates = [{"side": "bid", "event_time": _ISO, "price_level": p, "new_quantity": q} for p, q in bids]
    updates += [{"side": "offer", "event_time": _ISO, "price_level": p, "new_quantity": q} for p, q in asks]
    msg = {
        "channel": "l2_data",
        "client_id": "",
        "timestamp": _ISO,
        "sequence_num": -1,
        "events": [{"type": kind, "product_id": name, "updates": updates}],
    }
    return json.dumps(msg, separators=(",", ":"))


class _Symbol:
    __slots__ = ("name", "book", "mid", "tick", "last", "micro", "history", "tops", "held", "chan")

    def __init__(self, name: str, mid: float, tick: float, chan: int) -> None:
        self.name = name
        self.book = TruthBook(max_depth=1000)
        self.mid = mid
        self.tick = tick
        self.last = 1000
        self.micro = int(time.time() * 1e6)
        self.history: deque[tuple[int, int, tuple[Any, ...], tuple[Any, ...]]] = deque()
        self.tops: set[tuple[Any, Any]] = set()
        self.held: _Update | None = None
        self.chan = chan


class _Conn:
    __slots__ = ("ws", "subscribed", "subscribes", "seq")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.subscribed: set[str] = set()
        self.subscribes = 0
        self.seq = -1  # Coinbase Advanced Trade numbers every message of a connection

    async def send(self, frame: str) -> None:
        if _SEQ_MARK in frame:
            self.seq += 1
            frame = frame.replace(_SEQ_MARK, f'"sequence_num":{self.seq}', 1)
        await self.ws.send_str(frame)


class DiffSim:
    """A local diff-stream venue (see the module docstring)."""

    def __init__(self, config: DiffSimConfig) -> None:
        self.config = config
        self.venue = config.venue
        self._rng = random.Random(config.seed)
        self.symbols: dict[str, _Symbol] = {}
        self._dec = config.decimals
        for i, name in enumerate(config.symbols):
            mid = 100.0 * (i + 1) + self._rng.randint(0, 50)
            mid = round(config.mids.get(name, mid), self._dec)
            sym = self.symbols[name] = _Symbol(name, mid, 10.0**-self._dec, 100 + i)
            bids = [self._level(sym, True, k) for k in range(1, config.levels + 1)]
            asks = [self._level(sym, False, k) for k in range(1, config.levels + 1)]
            sym.book.apply(bids, asks)
            self._record(sym)
        self._conns: set[_Conn] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0
        # fault knobs
        self._drop: dict[str, int] = {}
        self._corrupt: dict[str, int] = {}
        self._cross: dict[str, int] = {}
        self._reorder: dict[str, int] = {}
        self.stale_snapshots = 0
        self.disconnect_on_snapshot = 0
        self.hold_snapshots = False
        self._release = asyncio.Event()
        # counters and signals
        self.snapshot_requests = 0
        self.subscribes = 0
        self.connections = 0
        self.steps = 0
        self._changed = asyncio.Event()

    # -- levels and truth --------------------------------------------------------------------------

    def _fmt(self, price: float, qty: float) -> list[str]:
        d = self._dec
        if self.venue in ("kraken", "kraken2"):
            return [f"{price:.{max(5, d)}f}", f"{qty:.8f}"]
        if self.venue == "okx":
            text = f"{price:.{d}f}"
            return [text.rstrip("0").rstrip(".") if "." in text else text, f"{qty:g}"]
        if self.venue == "binance":
            return [f"{price:.8f}", f"{qty:.8f}"]
        return [f"{price:.{d}f}", f"{qty:.8f}"]

    def _level(self, sym: _Symbol, bid: bool, k: int, qty: float | None = None) -> list[str]:
        d = self._dec
        price = round(sym.mid - k * sym.tick, d) if bid else round(sym.mid + k * sym.tick, d)
        if qty is None:
            qty = self._rng.randint(1, 50_000) / 1000
        return self._fmt(price, qty)

    def _record(self, sym: _Symbol) -> None:
        book = sym.book
        sym.history.append((sym.last, sym.micro, book.bids(), book.asks()))
        if len(sym.history) > self.config.history:
            sym.history.popleft()
        sym.tops.add(book.top(self.config.top_depth))

    def _text_levels(self, sym: _Symbol) -> tuple[list[list[str]], list[list[str]]]:
        bids_t, asks_t = sym.book.top_text(1000)
        return (
            [[p.decode(), q.decode()] for p, q in bids_t],
            [[p.decode(), q.decode()] for p, q in asks_t],
        )

    def truth_top(self, symbol: str, depth: int) -> tuple[Any, Any]:
        """The current true top ``depth`` of ``symbol``."""
        return self.symbols[symbol].book.top(depth)

    def truth_tops(self, symbol: str) -> set[tuple[Any, Any]]:
        """Every top ``top_depth`` the true book of ``symbol`` has had."""
        return self.symbols[symbol].tops

    def truth_last(self, symbol: str) -> int:
        """The sequence position of the true book (venue-specific meaning)."""
        s = self.symbols[symbol]
        return s.micro if self.venue == "bitstamp" else s.last

    def _generate(self, sym: _Symbol) -> _Update:
        rng = self._rng
        levels = self.config.levels
        sides: list[list[list[str]]] = [[], []]
        for i, bid in enumerate((True, False)):
            for k in rng.sample(range(1, levels + 1), rng.randint(1, 3)):
                qty = 0.0 if rng.random() < 0.25 else rng.randint(1, 50_000) / 1000
                sides[i].append(self._level(sym, bid, k, qty))
        bids, asks = sides
        sym.book.apply(bids, asks)
        prev = sym.last
        first = sym.last + 1
        if self.venue == "binance":
            sym.last = first + rng.randint(0, 2)
        elif self.venue == "okx":
            sym.last = prev + rng.randint(1, 3)
        else:
            sym.last = first
        sym.micro += rng.randint(10, 1000)
        checksum = None
        if self.venue in ("kraken", "kraken2", "okx"):
            checksum = sym.book.checksum("okx" if self.venue == "okx" else "kraken")
        self._record(sym)
        return _Update(bids, asks, first, sym.last, prev, checksum, sym.micro // 1000, sym.micro)

    # -- wire formats ------------------------------------------------------------------------------

    def _delta_frame(self, sym: _Symbol, u: _Update) -> str:
        v = self.venue
        name = sym.name
        if v == "binance":
            data = {"e": "depthUpdate", "E": u.ts_ms, "s": name, "U": u.first, "u": u.last, "b": u.bids, "a": u.asks}
            return json.dumps({"stream": f"{name.lower()}@depth@100ms", "data": data})
        if v == "bitstamp":
            data = {"timestamp": str(u.micro // 1_000_000), "microtimestamp": str(u.micro), "bids": u.bids, "asks": u.asks}
            return json.dumps({"data": data, "channel": f"diff_order_book_{name}", "event": "data"})
        if v == "coinbase-adv":
            return _advanced("update", name, u.bids, u.asks)
        if v == "coinbase":
            changes = [["buy", p, q] for p, q in u.bids] + [["sell", p, q] for p, q in u.asks]
            return json.dumps({"type": "l2update", "product_id": name, "changes": changes, "time": "2026-01-01T00:00:00.000000Z"})
        if v == "kraken":
            ts = f"{u.ts_ms / 1000:.6f}"
            parts: list[dict[str, Any]] = []
            if u.asks:
                parts.append({"a": [[p, q, ts] for p, q in u.asks]})
            if u.bids:
                parts.append({"b": [[p, q, ts] for p, q in u.bids]})
            parts[-1]["c"] = str(u.checksum)
            return json.dumps([sym.chan, *parts, f"book-{self.config.depth}", name])
        if v == "kraken2":
            return _kraken2("update", name, u.bids, u.asks, u.checksum)
        if v == "okx":
            d = {
                "asks": [[p, q, "0", "1"] for p, q in u.asks],
                "bids": [[p, q, "0", "1"] for p, q in u.bids],
                "ts": str(u.ts_ms),
                "checksum": u.checksum,
                "prevSeqId": u.prev,
                "seqId": u.last,
            }
            return json.dumps({"arg": {"channel": "books", "instId": name}, "action": "update", "data": [d]})
        data = {"s": name, "b": u.bids, "a": u.asks, "u": u.last, "seq": u.last * 7}
        return json.dumps({"topic": f"orderbook.{self.config.depth}.{name}", "type": "delta", "ts": u.ts_ms, "data": data, "cts": u.ts_ms})

    def _snapshot_frame(self, sym: _Symbol) -> str:
        v = self.venue
        name = sym.name
        bids, asks = self._text_levels(sym)
        ts_ms = sym.micro // 1000
        if v == "coinbase-adv":
            return _advanced("snapshot", name, bids, asks)
        if v == "coinbase":
            return json.dumps({"type": "snapshot", "product_id": name, "bids": bids, "asks": asks})
        if v == "kraken":
            ts = f"{ts_ms / 1000:.6f}"
            payload = {"as": [[p, q, ts] for p, q in asks], "bs": [[p, q, ts] for p, q in bids]}
            return json.dumps([sym.chan, payload, f"book-{self.config.depth}", name])
        if v == "kraken2":
            return _kraken2("snapshot", name, bids, asks, sym.book.checksum("kraken"))
        if v == "okx":
            d = {
                "asks": [[p, q, "0", "1"] for p, q in asks],
                "bids": [[p, q, "0", "1"] for p, q in bids],
                "ts": str(ts_ms),
                "checksum": sym.book.checksum("okx"),
                "prevSeqId": -1,
                "seqId": sym.last,
            }
            return json.dumps({"arg": {"channel": "books", "instId": name}, "action": "snapshot", "data": [d]})
        if v == "bybit":
            data = {"s": name, "b": bids, "a": asks, "u": sym.last, "seq": sym.last * 7}
            return json.dumps({"topic": f"orderbook.{self.config.depth}.{name}", "type": "snapshot", "ts": ts_ms, "data": data, "cts": ts_ms})
        raise AssertionError(f"{v} snapshots come by REST")

    def _rest_body(self, sym: _Symbol, state: tuple[int, int, Any, Any] | None) -> str:
        if state is None:
            bids, asks = self._text_levels(sym)
            last, micro = sym.last, sym.micro
        else:
            last, micro, b, a = state
            bids = [self._fmt(p, q) for p, q in b]
            asks = [self._fmt(p, q) for p, q in a]
        if self.venue == "binance":
            return json.dumps({"lastUpdateId": last, "bids": bids, "asks": asks})
        return json.dumps({"timestamp": str(micro // 1_000_000), "microtimestamp": str(micro), "bids": bids, "asks": asks})

    def _client_ops(self, msg: Any) -> list[tuple[str, list[str]]]:
        """(op, symbols) requested by a client frame."""
        v = self.venue
        if v == "bitstamp":
            ev = msg.get("event", "")
            ch = msg.get("data", {}).get("channel", "")
            if ev in ("bts:subscribe", "bts:unsubscribe") and ch.startswith("diff_order_book_"):
                return [(ev[4:], [ch[len("diff_order_book_") :]])]
        elif v in ("coinbase", "coinbase-adv"):
            if msg.get("type") in ("subscribe", "unsubscribe"):
                return [(msg["type"], list(msg.get("product_ids", [])))]
        elif v == "kraken":
            if msg.get("event") in ("subscribe", "unsubscribe"):
                return [(msg["event"], list(msg.get("pair", [])))]
        elif v == "kraken2":
            if msg.get("method") in ("subscribe", "unsubscribe") and msg.get("params", {}).get("channel") == "book":
                return [(msg["method"], list(msg["params"].get("symbol", [])))]
        elif v == "okx":
            if msg.get("op") in ("subscribe", "unsubscribe"):
                return [(msg["op"], [a["instId"] for a in msg.get("args", [])])]
        elif v == "bybit":
            if msg.get("op") in ("subscribe", "unsubscribe"):
                return [(msg["op"], [a.rsplit(".", 1)[-1] for a in msg.get("args", [])])]
        return []

    def _ack(self, op: str, name: str) -> str | None:
        v = self.venue
        if v == "bitstamp":
            return json.dumps({"event": f"bts:{op}tion_succeeded" if op == "subscribe" else "bts:unsubscription_succeeded", "channel": f"diff_order_book_{name}", "data": {}})
        if v == "coinbase":
            return json.dumps({"type": "subscriptions", "channels": [{"name": "level2", "product_ids": [name]}]})
        if v == "coinbase-adv":
            msg = {"channel": "subscriptions", "timestamp": _ISO, "sequence_num": -1, "events": [{"subscriptions": {"level2": [name]}}]}
            return json.dumps(msg, separators=(",", ":"))
        if v == "kraken":
            sym = self.symbols[name]
            status = "subscribed" if op == "subscribe" else "unsubscribed"
            return json.dumps({"channelID": sym.chan, "channelName": f"book-{self.config.depth}", "event": "subscriptionStatus", "pair": name, "status": status, "subscription": {"depth": self.config.depth, "name": "book"}})
        if v == "kraken2":
            result = {"channel": "book", "symbol": name, "depth": self.config.depth, "snapshot": True}
            return json.dumps({"method": op, "result": result, "success": True})
        if v == "okx":
            return json.dumps({"event": op, "arg": {"channel": "books", "instId": name}})
        if v == "bybit":
            return json.dumps({"success": True, "ret_msg": "", "conn_id": "sim", "op": op})
        return None

    # -- server ------------------------------------------------------------------------------------

    async def start(self) -> DiffSim:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        server = self._site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        self._release.set()
        for conn in list(self._conns):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiffSim:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._ws(request)
        return await self._snapshot(request)

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        if self.venue == "binance" and request.path == "/api/v3/depth":
            name = request.query.get("symbol", "")
        elif self.venue == "bitstamp" and request.path.startswith("/api/v2/order_book/"):
            name = request.path.rstrip("/").rsplit("/", 1)[-1]
        else:
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
        state = None
        if self.stale_snapshots > 0:
            self.stale_snapshots -= 1
            state = sym.history[0]
        return web.Response(text=self._rest_body(sym, state), content_type="application/json")

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.add(conn)
        self.connections += 1
        if self.venue == "binance":
            streams = request.query.get("streams", "")
            for s in streams.split("/"):
                name = s.split("@", 1)[0].upper()
                if name in self.symbols:
                    conn.subscribed.add(name)
        self._signal()
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    m = json.loads(msg.data)
                except ValueError:
                    continue
                for op, names in self._client_ops(m):
                    for name in names:
                        if name not in self.symbols:
                            continue
                        if op == "subscribe":
                            conn.subscribes += 1
                            self.subscribes += 1
                            self._signal()
                            if conn.subscribes > 1 and self.disconnect_on_snapshot > 0:
                                self.disconnect_on_snapshot -= 1
                                await ws.close()
                                break
                            conn.subscribed.add(name)
                            ack = self._ack(op, name)
                            if ack is not None:
                                await conn.send(ack)
                            if self.venue not in _REST:
                                await conn.send(self._snapshot_frame(self.symbols[name]))
                        else:
                            conn.subscribed.discard(name)
                            ack = self._ack(op, name)
                            if ack is not None:
                                await conn.send(ack)
        finally:
            self._conns.discard(conn)
            self._signal()
        return ws

    # -- driving -----------------------------------------------------------------------------------

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
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

    async def _send(self, name: str, frame: str) -> None:
        for conn in list(self._conns):
            if name in conn.subscribed and not conn.ws.closed:
                try:
                    await conn.send(frame)
                except ConnectionError:  # pragma: no cover - peer went away
                    pass

    async def step(self, n: int = 1, symbols: Sequence[str] | None = None) -> None:
        """Change every (or the given) true book ``n`` times and send the deltas."""
        for _ in range(n):
            self.steps += 1
            for name in symbols or self.config.symbols:
                sym = self.symbols[name]
                u = self._generate(sym)
                if self._take(self._drop, name):
                    for conn in self._conns:  # lost on the wire: its number is gone too
                        if name in conn.subscribed:
                            conn.seq += 1
                    continue
                if self._take(self._corrupt, name):
                    # the best bid's quantity, off by 1.234 (inside every checksum's depth)
                    price_text = self._level(sym, True, 1, 1.0)[0]
                    true_qty = dict(sym.book.bids()).get(float(price_text), 0.0)
                    u.bids.append([price_text, self._fmt(0.0, true_qty + 1.234)[1]])
                if self._take(self._cross, name):
                    best_ask = sym.book.best_ask()
                    price = (best_ask[0] if best_ask else sym.mid) + sym.tick
                    u.bids.append(self._fmt(price, 1.0))
                if self._take(self._reorder, name):
                    sym.held = u
                    continue
                await self._send(name, self._delta_frame(sym, u))
                if sym.held is not None:
                    held, sym.held = sym.held, None
                    await self._send(name, self._delta_frame(sym, held))

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
        """Send ``frame`` as is on every connection."""
        for conn in list(self._conns):
            if not conn.ws.closed:
                await conn.ws.send_str(frame)

    async def disconnect(self) -> None:
        """Close every WebSocket connection (clients reconnect)."""
        for conn in list(self._conns):
            await conn.ws.close()
