"""How the simulator speaks Gemini market data v2 ``l2`` (see :mod:`dragonfly.sim.encoder`).

``{"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": [...]}]}`` (and
``unsubscribe``) change the connection's subscriptions without an answer (Gemini documents none;
a symbol the simulator does not serve is ignored). After a subscribe, the symbol's whole book
comes as an ``l2_updates`` with ``trades`` and ``auction_events`` (empty here), then every change
as an ``l2_updates`` of ``[side, price, quantity]`` strings; a quantity ``"0"`` may name a level
the book does not have, as Gemini's do. Heartbeats are ``{"type": "heartbeat", "timestamp": ms}``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, compact_json
from .config import GeminiConfig

__all__ = ("GeminiEncoder",)


def _changes(bids: Any, asks: Any) -> list[list[str]]:
    return [["buy", p, q] for p, q in bids] + [["sell", p, q] for p, q in asks]


class GeminiEncoder(DiffEncoderBase):
    """Gemini market data v2 ``l2``; the symbol is Gemini's (``BTCUSD``). No ids on the wire,
    no reconnect request."""

    def __init__(self, config: GeminiConfig) -> None:
        super().__init__(config, depth=config.max_depth)

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}"

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
            op = msg["type"]
            subscriptions = [s for s in msg.get("subscriptions", []) if isinstance(s, dict)]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []
        if op not in ("subscribe", "unsubscribe"):
            return []
        for sub in subscriptions:
            if sub.get("name") != "l2":
                continue
            for symbol in sub.get("symbols", []):
                if op == "subscribe":
                    conn.subscribe(str(symbol))
                else:
                    conn.unsubscribe(str(symbol))
        return []

    def heartbeat(self) -> str | None:
        return compact_json({"type": "heartbeat", "timestamp": int(time.time() * 1000)})

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        q = f"{qty:.8f}".rstrip("0").rstrip(".")
        return [f"{price:.{decimals}f}", q or "0"]

    def delta_frame(self, u: Any) -> str:
        return compact_json({"type": "l2_updates", "symbol": u.symbol, "changes": _changes(u.bids, u.asks)})

    def snapshot_frame(self, book: Any) -> str:
        return compact_json(
            {
                "type": "l2_updates",
                "symbol": book.symbol,
                "changes": _changes(book.bids, book.asks),
                "trades": [],
                "auction_events": [],
            }
        )
