"""Binance-compatible partial-depth WebSocket server.

Accepts the combined stream URL ``/stream?streams=ethbtc@depth20@100ms/...`` (and
``SUBSCRIBE``/``UNSUBSCRIBE`` method frames on it, answered ``{"result":null,"id":N}``)
and the raw stream URL ``/ws/<stream>``; sends the combined-stream wrapper
``{"stream":..,"data":{"lastUpdateId":..,"bids":..,"asks":..}}`` (raw streams get
the bare ``data`` object) every update period, changed or not, as Binance does.
"""

from __future__ import annotations

import json
import re

from .market import SentBook, VenueStyle
from .server import Connection, VenueSimulator

__all__ = ("BinanceSimulator",)

_STREAM = re.compile(r"^([a-z0-9]+)@depth(5|10|20)(@100ms|@1000ms)?$")


def _side(levels: tuple[tuple[str, str], ...]) -> str:
    return "[" + ",".join(f'["{p}","{q}"]' for p, q in levels) + "]"


class BinanceSimulator(VenueSimulator):
    venue = "binance"
    default_style = VenueStyle(
        tick_exp=-3, qty_decimals=4, text_decimals=8, noise=2e-5, half_spread_ticks=0.7, levels=20, interval_s=0.1, unchanged_prob=0.3
    )

    def _symbols(self) -> dict[str, str]:
        return {f"{inst.base}{inst.quote}".lower(): name for name, inst in self.instruments.items()}

    def _add(self, conn: Connection, stream: str, raw: bool = False) -> bool:
        m = _STREAM.match(stream)
        if not m:
            return False
        name = self._symbols().get(m.group(1))
        if name is None:
            return False
        conn.subs[("raw:" if raw else "") + stream] = name
        return True

    def on_open(self, conn: Connection) -> None:
        path = conn.request.path
        if path.rstrip("/") == "/stream":
            for s in conn.request.query.get("streams", "").split("/"):
                if s:
                    self._add(conn, s.lower())
        elif path.startswith("/ws/"):
            self._add(conn, path[4:].lower(), raw=True)

    async def on_message(self, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            method = msg["method"]
            rid = msg.get("id")
            params = msg.get("params", [])
        except (ValueError, KeyError, TypeError, AttributeError):
            await self._send(conn, json.dumps({"error": {"code": 2, "msg": "Invalid request"}}))
            return
        if method == "SUBSCRIBE":
            for s in params:
                self._add(conn, str(s).lower())
            await self._send(conn, json.dumps({"result": None, "id": rid}))
        elif method == "UNSUBSCRIBE":
            for s in params:
                conn.subs.pop(str(s).lower(), None)
            await self._send(conn, json.dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            await self._send(conn, json.dumps({"result": [k for k in conn.subs if not k.startswith("raw:")], "id": rid}))
        else:
            await self._send(conn, json.dumps({"error": {"code": 2, "msg": f"Unknown method {method}"}, "id": rid}))

    def render(self, key: str, instrument: str, book: SentBook, seq: int, bad: bool = False) -> str:
        raw = key.startswith("raw:")
        stream = key[4:] if raw else key
        m = _STREAM.match(stream)
        n = int(m.group(2)) if m else 20
        bids = book.bids_text[:n]
        asks = book.asks_text[:n]
        if bad and bids:
            bids = ((bids[0][0], bids[0][1] + "x"),) + bids[1:]
        data = f'{{"lastUpdateId":{seq},"bids":{_side(bids)},"asks":{_side(asks)}}}'
        return data if raw else f'{{"stream":"{stream}","data":{data}}}'

    def parse_recorded(self, payload: str) -> tuple[str, SentBook] | None:
        try:
            msg = json.loads(payload)
            m = _STREAM.match(msg["stream"])
            data = msg["data"]
            bids = tuple((str(p), str(q)) for p, q, *_ in data["bids"])
            asks = tuple((str(p), str(q)) for p, q, *_ in data["asks"])
        except (ValueError, KeyError, TypeError):
            return None
        if not m:
            return None
        name = self._symbols().get(m.group(1))
        return None if name is None else (name, SentBook(bids, asks))
