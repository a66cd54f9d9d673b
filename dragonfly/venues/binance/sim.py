"""How the simulator speaks Binance spot (see :mod:`dragonfly.sim.encoder` for the protocol).

* :class:`BinanceEncoder` (top-N snapshot engine): the combined stream URL
  ``/stream?streams=ethbtc@depth20@100ms/...`` and the raw stream URL ``/ws/<stream>``;
  ``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS`` method frames answered
  ``{"result": ..., "id": N}``; frames ``{"stream": .., "data": {"lastUpdateId", "bids", "asks"}}``
  (raw streams: the bare ``data``) every period, changed or not, as Binance does.
* :class:`BinanceDiffEncoder` (diff engine): ``<symbol>@depth@<speed>`` streams in the URL (or
  by ``SUBSCRIBE``), ``depthUpdate`` deltas with ``U``/``u``, REST ``/api/v3/depth`` snapshots.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, SnapshotEncoderBase, quoted_side, text_side
from .config import BinanceConfig, BinanceDiffConfig

__all__ = ("BinanceDiffEncoder", "BinanceEncoder")

_STREAM = re.compile(r"^([a-z0-9]+)@depth(5|10|20)(@100ms|@1000ms)?$")
_DIFF_STREAM = re.compile(r"^([a-z0-9]+)@depth(@100ms|@1000ms)?$")


def _pair(instrument: Instrument) -> str:
    return f"{instrument.base}{instrument.quote}"


def _reply(result: Any, rid: Any) -> str:
    return json.dumps({"result": result, "id": rid})


def _error(msg: str, rid: Any = None) -> str:
    return json.dumps({"error": {"code": 2, "msg": msg}, "id": rid})


def _method(text: str) -> tuple[str, Any, list[Any]] | None:
    try:
        msg = json.loads(text)
        params = msg.get("params", [])
        return str(msg["method"]), msg.get("id"), list(params) if isinstance(params, list) else []
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class BinanceEncoder(SnapshotEncoderBase):
    """Partial book depth (``<symbol>@depth<5|10|20>[@100ms]``), a top-N snapshot per period
    (Binance keeps connections alive with WebSocket pings: no heartbeat frame)."""

    sends_unchanged = True

    def __init__(self, config: BinanceConfig) -> None:
        super().__init__(config)
        self.style: Mapping[str, Any] = {
            "tick_exp": -3,
            "qty_decimals": 4,
            "text_decimals": 8,
            "noise": 2e-5,
            "half_spread_ticks": 0.7,
            "levels": 20,
            "interval_s": 0.1 if config.speed == "100ms" else 1.0,
            "unchanged_prob": 0.3,
        }

    def symbol(self, instrument: Instrument) -> str:
        return _pair(instrument).lower()

    def _add(self, conn: Any, stream: str, raw: bool = False) -> bool:
        m = _STREAM.match(stream)
        if m is None:
            return False
        return bool(conn.subscribe(m.group(1), ("raw:" if raw else "") + stream))

    def connect(self, path: str, query: Mapping[str, str], conn: Any) -> None:
        if path.rstrip("/") == "/stream":
            for s in query.get("streams", "").split("/"):
                if s:
                    self._add(conn, s.lower())
        elif path.startswith("/ws/"):
            self._add(conn, path[4:].lower(), raw=True)

    def client_message(self, text: str, conn: Any) -> list[str]:
        parsed = _method(text)
        if parsed is None:
            return [_error("Invalid request")]
        method, rid, params = parsed
        if method == "SUBSCRIBE":
            for s in params:
                self._add(conn, str(s).lower())
            return [_reply(None, rid)]
        if method == "UNSUBSCRIBE":
            for s in params:
                conn.unsubscribe("", str(s).lower())
            return [_reply(None, rid)]
        if method == "LIST_SUBSCRIPTIONS":
            return [_reply([k for k in conn.keys() if not k.startswith("raw:")], rid)]
        return [_error(f"Unknown method {method}", rid)]

    def next_seq(self, current: int, rng: random.Random) -> int:
        return current + 1 + rng.randrange(5)  # lastUpdateId grows by the updates a period folds in

    def render(self, key: str, bids: Any, asks: Any, seq: int) -> str:
        raw = key.startswith("raw:")
        stream = key[4:] if raw else key
        m = _STREAM.match(stream)
        n = int(m.group(2)) if m else 20
        data = f'{{"lastUpdateId":{seq},"bids":{quoted_side(bids[:n])},"asks":{quoted_side(asks[:n])}}}'
        return data if raw else f'{{"stream":"{stream}","data":{data}}}'

    def recorded(self, payload: str) -> tuple[str, Any, Any] | None:
        try:
            msg = json.loads(payload)
            m = _STREAM.match(msg["stream"])
            data = msg["data"]
            bids = text_side(data["bids"])
            asks = text_side(data["asks"])
        except (ValueError, KeyError, TypeError):
            return None
        return (m.group(1), bids, asks) if m else None


class BinanceDiffEncoder(DiffEncoderBase):
    """Diff depth with REST snapshots; the symbol is Binance's (``BTCUSDT``)."""

    snapshots = "rest"

    def __init__(self, config: BinanceDiffConfig) -> None:
        super().__init__(config, depth=config.max_depth)

    def symbol(self, instrument: Instrument) -> str:
        return _pair(instrument).upper()

    def _add(self, conn: Any, stream: str) -> None:
        m = _DIFF_STREAM.match(stream.lower())
        if m:
            conn.subscribe(m.group(1).upper())

    def connect(self, path: str, query: Mapping[str, str], conn: Any) -> None:
        if path.rstrip("/") == "/stream":
            for s in query.get("streams", "").split("/"):
                self._add(conn, s)

    def client_message(self, text: str, conn: Any) -> list[str]:
        parsed = _method(text)
        if parsed is None:
            return [_error("Invalid request")]
        method, rid, params = parsed
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            for s in params:
                m = _DIFF_STREAM.match(str(s).lower())
                if m is None:
                    continue
                if method == "SUBSCRIBE":
                    conn.subscribe(m.group(1).upper())
                else:
                    conn.unsubscribe(m.group(1).upper())
            return [_reply(None, rid)]
        return [_error(f"Unknown method {method}", rid)]

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        return [f"{price:.8f}", f"{qty:.8f}"]

    def id_step(self, rng: random.Random) -> int:
        return rng.randint(1, 3)

    def delta_frame(self, u: Any) -> str:
        data = {"e": "depthUpdate", "E": u.ts_ms, "s": u.symbol, "U": u.first, "u": u.last, "b": u.bids, "a": u.asks}
        return json.dumps({"stream": f"{u.symbol.lower()}@depth@{self.config.speed}", "data": data})

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        return query.get("symbol", "") if path == "/api/v3/depth" else None

    def rest_body(self, book: Any) -> str:
        return json.dumps({"lastUpdateId": book.last, "bids": book.bids, "asks": book.asks})
