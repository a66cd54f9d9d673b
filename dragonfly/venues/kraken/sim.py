"""How the simulator speaks Kraken's ``book`` channel, v1 and v2 (see :mod:`dragonfly.sim.encoder`).

v1: ``{"event": "subscribe", "pair": [...], "subscription": {"name": "book", "depth": N}}`` answered
``subscriptionStatus``; snapshot ``[channelID, {"as": .., "bs": ..}, "book-N", pair]``; updates
``[channelID, {"a": ..}, {"b": .., "c": "crc"}, "book-N", pair]``; ``{"event": "heartbeat"}``.
v2: ``{"method": "subscribe", "params": {"channel": "book", "symbol": [...]}}`` answered
``{"method": .., "result": .., "success": true}``; ``{"channel": "book", "type": "snapshot"|"update",
"data": [{"symbol", "bids": [{"price", "qty"}], "asks", "checksum"}]}`` with prices and quantities
as JSON numbers in the venue's digits; ``{"channel": "heartbeat"}``.
Every update carries the CRC32 of the true book's top 10 (snapshots too on v2).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, json_object
from .config import KrakenConfig

__all__ = ("SIM_VARIANTS", "KrakenEncoder")

#: Other setups the shared venue tests run: the v2 API.
SIM_VARIANTS = {"v2": KrakenConfig(version=2)}

_TS = "2026-01-01T00:00:00.000000Z"


def _v2(kind: str, symbol: str, bids: Any, asks: Any, checksum: int | None) -> str:
    """A v2 ``book`` message; numbers are written as JSON numbers with the venue's digits."""

    def side(levels: Any) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":{json.dumps(symbol)},'
        f'"bids":[{side(bids)}],"asks":[{side(asks)}],"checksum":{checksum},"timestamp":"{_TS}"}}]}}'
    )


class KrakenEncoder(DiffEncoderBase):
    """Kraken spot ``book``; v1 or v2 as the configuration says."""

    checksum = "crc32_top10_digits"

    def __init__(self, config: KrakenConfig) -> None:
        super().__init__(config, depth=config.depth)
        self._name = f"book-{config.depth}"

    def symbol(self, instrument: Instrument) -> str:
        old, new = ("BTC", "XBT") if self.config.version == 1 else ("XBT", "BTC")
        return "/".join(new if p == old else p for p in (instrument.base, instrument.quote))

    @staticmethod
    def _channel_id(symbol: str) -> int:
        return zlib.crc32(symbol.encode()) & 0xFFFFF  # any stable number per pair

    def client_message(self, text: str, conn: Any) -> list[str]:
        msg = json_object(text)
        if msg is None:
            return [self._error("Malformed request")]
        if self.config.version == 1:
            return self._v1_message(msg, conn)
        return self._v2_message(msg, conn)

    def _error(self, text: str) -> str:
        if self.config.version == 1:
            return json.dumps({"event": "error", "errorMessage": text})
        return json.dumps({"error": text, "success": False})

    def _v1_message(self, msg: dict[str, Any], conn: Any) -> list[str]:
        event = msg.get("event")
        if event == "ping":
            return [json.dumps({"event": "pong", "reqid": msg.get("reqid")})]
        if event not in ("subscribe", "unsubscribe"):
            return [self._error("Unsupported event")]
        out: list[str] = []
        for pair in msg.get("pair", []):
            pair = str(pair)
            ok = conn.subscribe(pair) if event == "subscribe" else conn.unsubscribe(pair)
            subscription = {"depth": self.depth, "name": "book"}
            status: dict[str, Any] = {"event": "subscriptionStatus", "pair": pair, "subscription": subscription}
            if event == "subscribe" and not ok:
                status.update(status="error", errorMessage="Currency pair not supported")
            else:
                status.update(channelID=self._channel_id(pair), channelName=self._name,
                              status="subscribed" if event == "subscribe" else "unsubscribed")
            out.append(json.dumps(status))
        return out

    def _v2_message(self, msg: dict[str, Any], conn: Any) -> list[str]:
        method = msg.get("method")
        if method == "ping":
            return [json.dumps({"method": "pong", "req_id": msg.get("req_id")})]
        params = msg.get("params")
        if (
            method not in ("subscribe", "unsubscribe")
            or not isinstance(params, dict)
            or params.get("channel") != "book"
        ):
            return [self._error("Unsupported request")]
        out: list[str] = []
        for symbol in params.get("symbol", []):
            symbol = str(symbol)
            ok = conn.subscribe(symbol) if method == "subscribe" else conn.unsubscribe(symbol)
            if method == "subscribe" and not ok:
                out.append(json.dumps({"method": method, "error": f"Currency pair not supported {symbol}",
                                       "success": False, "symbol": symbol}))
                continue
            result = {"channel": "book", "symbol": symbol, "depth": self.depth, "snapshot": True}
            out.append(json.dumps({"method": method, "result": result, "success": True}))
        return out

    def heartbeat(self) -> str | None:
        return json.dumps({"event": "heartbeat"} if self.config.version == 1 else {"channel": "heartbeat"})

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        return [f"{price:.{max(5, decimals)}f}", f"{qty:.8f}"]

    def delta_frame(self, u: Any) -> str:
        if self.config.version == 2:
            return _v2("update", u.symbol, u.bids, u.asks, u.checksum)
        ts = f"{u.ts_ms / 1000:.6f}"
        parts: list[dict[str, Any]] = []
        if u.asks:
            parts.append({"a": [[p, q, ts] for p, q in u.asks]})
        if u.bids or not parts:
            parts.append({"b": [[p, q, ts] for p, q in u.bids]})
        parts[-1]["c"] = str(u.checksum)
        return json.dumps([self._channel_id(u.symbol), *parts, self._name, u.symbol])

    def snapshot_frame(self, book: Any) -> str:
        if self.config.version == 2:
            return _v2("snapshot", book.symbol, book.bids, book.asks, book.checksum)
        ts = f"{book.ts_ms / 1000:.6f}"
        payload = {"as": [[p, q, ts] for p, q in book.asks], "bs": [[p, q, ts] for p, q in book.bids]}
        return json.dumps([self._channel_id(book.symbol), payload, self._name, book.symbol])
