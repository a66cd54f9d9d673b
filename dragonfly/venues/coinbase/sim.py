"""How the simulator speaks Coinbase ``level2`` (see :mod:`dragonfly.sim.encoder`).

Exchange: ``{"type": "subscribe", "product_ids": [...], "channels": ["level2"]}`` answered
``{"type": "subscriptions", ...}``; ``snapshot`` then ``l2update`` messages; ``heartbeat``.
Advanced Trade: ``{"type": "subscribe", "product_ids": [...], "channel": "level2"}``; every
message of a connection carries the next ``sequence_num`` (``subscriptions``, ``l2_data``
snapshot/update events, ``heartbeats``).
"""

from __future__ import annotations

import json
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase
from .config import CoinbaseConfig

__all__ = ("SIM_VARIANTS", "CoinbaseEncoder")

#: Other setups the shared venue tests run: Advanced Trade.
SIM_VARIANTS = {"advanced": CoinbaseConfig(api="advanced")}

_TS = "2026-01-01T00:00:00.000000Z"
_SEQ_MARK = '"sequence_num":-1'  # numbered by stamp() as the frame is sent


def _advanced(channel: str, events: list[dict[str, Any]]) -> str:
    msg = {"channel": channel, "client_id": "", "timestamp": _TS, "sequence_num": -1, "events": events}
    return json.dumps(msg, separators=(",", ":"))


class CoinbaseEncoder(DiffEncoderBase):
    """Coinbase ``level2``, Exchange or Advanced Trade as the configuration says."""

    def __init__(self, config: CoinbaseConfig) -> None:
        super().__init__(config, depth=config.max_depth)
        self.advanced = config.api == "advanced"
        self.connection_sequence = self.advanced

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
            op = msg["type"]
            products = [str(p) for p in msg.get("product_ids", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return [self._error("Malformed JSON")]
        if op not in ("subscribe", "unsubscribe"):
            return [self._error(f"Unknown message type {op}")]
        done = [p for p in products if (conn.subscribe(p) if op == "subscribe" else conn.unsubscribe(p))]
        unknown = [p for p in products if op == "subscribe" and p not in done]
        out = [self._error(f"Failed to subscribe: {', '.join(unknown)} is not a valid product")] if unknown else []
        if self.advanced:
            out.append(_advanced("subscriptions", [{"subscriptions": {"level2": list(conn.keys())}}]))
        else:
            out.append(json.dumps({"type": "subscriptions",
                                   "channels": [{"name": self.config.channel, "product_ids": conn.keys()}]}))
        return out

    def _error(self, text: str) -> str:
        return json.dumps({"type": "error", "message": text})

    def heartbeat(self) -> str | None:
        if self.advanced:
            return _advanced("heartbeats", [{"current_time": _TS, "heartbeat_counter": 1}])
        return json.dumps({"type": "heartbeat", "sequence": 0, "last_trade_id": 0, "time": _TS})

    def _l2(self, kind: str, symbol: str, bids: Any, asks: Any) -> str:
        updates = [{"side": "bid", "event_time": _TS, "price_level": p, "new_quantity": q} for p, q in bids]
        updates += [{"side": "offer", "event_time": _TS, "price_level": p, "new_quantity": q} for p, q in asks]
        return _advanced("l2_data", [{"type": kind, "product_id": symbol, "updates": updates}])

    def delta_frame(self, u: Any) -> str:
        if self.advanced:
            return self._l2("update", u.symbol, u.bids, u.asks)
        changes = [["buy", p, q] for p, q in u.bids] + [["sell", p, q] for p, q in u.asks]
        return json.dumps({"type": "l2update", "product_id": u.symbol, "changes": changes, "time": _TS})

    def snapshot_frame(self, book: Any) -> str:
        if self.advanced:
            return self._l2("snapshot", book.symbol, book.bids, book.asks)
        return json.dumps({"type": "snapshot", "product_id": book.symbol, "bids": book.bids, "asks": book.asks})

    def stamp(self, frame: str, seq: int) -> str | None:
        if _SEQ_MARK not in frame:
            return None
        return frame.replace(_SEQ_MARK, f'"sequence_num":{seq}', 1)
