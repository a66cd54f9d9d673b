"""How the simulator speaks Bybit v5 ``orderbook.<depth>.<symbol>`` (see :mod:`dragonfly.sim.encoder`).

``{"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}`` answered ``{"success": true, "op": ..}``;
a ``snapshot`` then ``delta`` messages whose update id ``u`` grows by one; ``{"op": "ping"}``
answered with a pong.
"""

from __future__ import annotations

import json
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase
from .config import BybitConfig

__all__ = ("BybitEncoder",)


class BybitEncoder(DiffEncoderBase):
    """Bybit v5 order book at the configured depth; the symbol is Bybit's (``BTCUSDT``)."""

    def __init__(self, config: BybitConfig) -> None:
        super().__init__(config, depth=config.depth)
        self._prefix = f"orderbook.{config.depth}."

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}"

    def _reply(self, op: Any, success: bool = True, message: str = "") -> str:
        return json.dumps({"success": success, "ret_msg": message, "conn_id": "sim", "op": op})

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
            op = msg["op"]
            args = [str(a) for a in msg.get("args", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return [self._reply(None, False, "Invalid request")]
        if op == "ping":
            return [self._reply("ping", True, "pong")]
        if op not in ("subscribe", "unsubscribe"):
            return [self._reply(op, False, f"Invalid op {op}")]
        bad = []
        for topic in args:
            symbol = topic[len(self._prefix) :] if topic.startswith(self._prefix) else ""
            ok = bool(symbol) and (conn.subscribe(symbol) if op == "subscribe" else conn.unsubscribe(symbol))
            if op == "subscribe" and not ok:
                bad.append(topic)
        return [self._reply(op, not bad, f"Invalid topic: {','.join(bad)}" if bad else "")]

    def _message(self, kind: str, symbol: str, bids: Any, asks: Any, last: int, ts_ms: int) -> str:
        data = {"s": symbol, "b": bids, "a": asks, "u": last, "seq": last * 7}
        return json.dumps({"topic": f"{self._prefix}{symbol}", "type": kind, "ts": ts_ms, "data": data, "cts": ts_ms})

    def delta_frame(self, u: Any) -> str:
        return self._message("delta", u.symbol, u.bids, u.asks, u.last, u.ts_ms)

    def snapshot_frame(self, book: Any) -> str:
        return self._message("snapshot", book.symbol, book.bids, book.asks, book.last, book.ts_ms)
