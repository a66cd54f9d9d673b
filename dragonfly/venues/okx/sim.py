"""How the simulator speaks OKX v5 order-book channels (see :mod:`dragonfly.sim.encoder`).

``{"op": "subscribe", "args": [{"channel": "books", "instId": ..}]}`` answered
``{"event": "subscribe", "arg": ..}`` (``{"event": "error", ...}`` for an unknown instrument);
a ``snapshot`` then ``update`` actions with ``seqId``/``prevSeqId`` (ids jump by 1-3, as
OKX's do) and the signed CRC32 of the top 25 (``checksum``); ``ping`` answered ``pong``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase
from .config import CHANNEL_DEPTHS, OkxConfig

__all__ = ("OkxEncoder",)


def _levels(levels: Any) -> list[list[str]]:
    return [[p, q, "0", "1"] for p, q in levels]


class OkxEncoder(DiffEncoderBase):
    """OKX v5 ``books`` channels; the symbol is the ``instId`` (``BTC-USDT``). OKX answers the
    client's ``ping``; it sends nothing of its own."""

    checksum = "crc32_top25_interleaved"

    def __init__(self, config: OkxConfig) -> None:
        super().__init__(config, depth=CHANNEL_DEPTHS[config.channel])

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def client_message(self, text: str, conn: Any) -> list[str]:
        if text == "ping":
            return ["pong"]
        try:
            msg = json.loads(text)
            op = msg["op"]
            args = [a for a in msg.get("args", []) if isinstance(a, dict)]
        except (ValueError, KeyError, TypeError, AttributeError):
            return [json.dumps({"event": "error", "code": "60012", "msg": "Invalid request"})]
        if op not in ("subscribe", "unsubscribe"):
            return [json.dumps({"event": "error", "code": "60012", "msg": f"Invalid request: {op}"})]
        out: list[str] = []
        for arg in args:
            inst = str(arg.get("instId", ""))
            ok = conn.subscribe(inst) if op == "subscribe" else conn.unsubscribe(inst)
            echo = {"channel": str(arg.get("channel", self.config.channel)), "instId": inst}
            if op == "subscribe" and not ok:
                out.append(json.dumps({"event": "error", "code": "60018",
                                       "msg": f"Wrong URL or channel:{echo['channel']},instId:{inst} doesn't exist",
                                       "arg": echo}))
            else:
                out.append(json.dumps({"event": op, "arg": echo}))
        return out

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        text = f"{price:.{decimals}f}"
        return [text.rstrip("0").rstrip(".") if "." in text else text, f"{qty:g}"]

    def id_step(self, rng: random.Random) -> int:
        return rng.randint(1, 3)

    def _message(self, action: str, symbol: str, d: dict[str, Any]) -> str:
        return json.dumps({"arg": {"channel": self.config.channel, "instId": symbol}, "action": action, "data": [d]})

    def delta_frame(self, u: Any) -> str:
        d = {"asks": _levels(u.asks), "bids": _levels(u.bids), "ts": str(u.ts_ms), "checksum": u.checksum,
             "prevSeqId": u.prev, "seqId": u.last}
        return self._message("update", u.symbol, d)

    def snapshot_frame(self, book: Any) -> str:
        d = {"asks": _levels(book.asks), "bids": _levels(book.bids), "ts": str(book.ts_ms), "checksum": book.checksum,
             "prevSeqId": -1, "seqId": book.last}
        return self._message("snapshot", book.symbol, d)
