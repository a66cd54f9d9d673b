"""How the simulator speaks Gate.io ``order_book_update`` (see :mod:`dragonfly.sim.encoder`).

``{"time": .., "id": 7, "channel": "spot.order_book_update", "event": "subscribe", "payload": ["BTC_USDT",
"100ms"]}`` answered ``{"time": .., "id": 7, ..., "error": null, "result": {"status": "success"}}`` (an
unknown pair: ``"error": {"code": 2, ...}``); ``spot.ping`` answered ``spot.pong``. Deltas carry ``U``/``u``
ranges (1-3 ids each); snapshots are REST ``/api/v4/spot/order_book?currency_pair=..&with_id=true``.
The futures variant writes levels as ``{"p": price, "s": contracts}`` (integer sizes) on
``futures.order_book_update`` and serves ``/api/v4/futures/<settle>/order_book?contract=..``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, compact_json
from .config import GateioConfig

__all__ = ("SIM_VARIANTS", "GateioEncoder")

#: Other setups the shared venue tests run: the USDT-settled perpetual futures.
SIM_VARIANTS = {"futures": GateioConfig(market="futures")}


def _size(text: str) -> Any:
    """A futures size as Gate.io writes it: an integer (anything else, e.g. a malformed size, as is)."""
    return int(text) if text.isdigit() else text


class GateioEncoder(DiffEncoderBase):
    """Gate.io spot or futures ``order_book_update`` as the configuration says; REST snapshots.
    Gate.io answers the client's pings; it sends nothing of its own."""

    snapshots = "rest"

    def __init__(self, config: GateioConfig) -> None:
        super().__init__(config, depth=config.depth)
        self.futures = config.market == "futures"
        self.channel = f"{config.market}.order_book_update"
        self._ping = f"{config.market}.ping"
        self._pong = f"{config.market}.pong"
        self._rest_path = f"/api/v4/futures/{config.settle}/order_book" if self.futures else "/api/v4/spot/order_book"
        self._rest_key = "contract" if self.futures else "currency_pair"

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}_{instrument.quote}"

    def _answer(self, msg: Mapping[str, Any], event: str, error: Any = None) -> str:
        now = time.time()
        out: dict[str, Any] = {"time": int(now), "time_ms": int(now * 1000)}
        if "id" in msg:
            out["id"] = msg["id"]
        out.update(channel=msg.get("channel", ""), event=event, error=error,
                   result=None if error else {"status": "success"})
        return compact_json(out)

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
            channel = msg["channel"]
            event = msg.get("event", "")
            payload = msg.get("payload") or []
        except (ValueError, KeyError, TypeError, AttributeError):
            return [compact_json({"time": int(time.time()), "channel": "", "event": "",
                            "error": {"code": 1, "message": "Invalid request body format"}, "result": None})]
        if channel == self._ping:
            return [compact_json({"time": int(time.time()), "channel": self._pong, "event": "", "error": None,
                            "result": None})]
        if channel != self.channel or event not in ("subscribe", "unsubscribe") or not payload:
            return [self._answer(msg, str(event), {"code": 2, "message": "Invalid argument provided"})]
        symbol = str(payload[0])
        if event == "unsubscribe":
            conn.unsubscribe(symbol)
        elif not conn.subscribe(symbol):
            return [self._answer(msg, event, {"code": 2, "message": f"unknown currency pair {symbol}"})]
        return [self._answer(msg, event)]

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        if self.futures:
            return [f"{price:.{decimals}f}", str(round(qty * 1000))]  # contracts
        text = f"{qty:.8f}".rstrip("0").rstrip(".")
        return [f"{price:.{decimals}f}", text or "0"]

    def id_step(self, rng: random.Random) -> int:
        return rng.randint(1, 3)  # U..u folds the updates of one interval

    def _levels(self, levels: Any) -> list[Any]:
        if self.futures:
            return [{"p": p, "s": _size(q)} for p, q in levels]
        return [[p, q] for p, q in levels]

    def delta_frame(self, u: Any) -> str:
        ms = u.ts_ms
        if self.futures:
            result: dict[str, Any] = {"t": ms, "s": u.symbol, "U": u.first, "u": u.last, "b": self._levels(u.bids),
                                      "a": self._levels(u.asks), "l": str(self.depth)}
        else:
            result = {"t": ms, "e": "depthUpdate", "E": ms // 1000, "s": u.symbol, "U": u.first, "u": u.last,
                      "b": self._levels(u.bids), "a": self._levels(u.asks)}
        msg = {"time": ms // 1000, "time_ms": ms, "channel": self.channel, "event": "update", "result": result}
        return compact_json(msg)

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        return query.get(self._rest_key, "") if path == self._rest_path else None

    def rest_body(self, book: Any) -> str:
        n = self.depth
        asks, bids = self._levels(book.asks[:n]), self._levels(book.bids[:n])
        if self.futures:
            now = book.ts_ms / 1000
            return compact_json({"id": book.last, "current": now, "update": now, "asks": asks, "bids": bids})
        return compact_json({"id": book.last, "current": book.ts_ms, "update": book.ts_ms, "asks": asks, "bids": bids})
