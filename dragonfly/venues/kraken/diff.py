"""Kraken spot WebSocket ``book`` channel: v1 (array messages) and v2 (JSON objects).

Both send a snapshot after subscribing, then updates carrying a CRC32 of the
top 10 levels (v1: ``"c"`` in the last side map of update messages; v2:
``checksum`` on snapshots and updates). Per Kraken's book guides the client
processes every level of a message, then truncates the book to the
subscribed depth (the venue sends no delete for levels that fall out of
scope and re-publishes those that come back, v1 flagging them ``"r"``), then
verifies the checksum. A mismatch re-subscribes that pair for a fresh
snapshot. The checksum is over the venue's own text of prices and
quantities, so v2 messages are decoded with floats kept as their JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from ...listeners.diff import Delta, NoSequence, Snapshot

__all__ = ("KrakenBookConfig", "KrakenBookVenue", "DEPTHS")

DEFAULT_WS_URL = "wss://ws.kraken.com"
DEFAULT_WS_V2_URL = "wss://ws.kraken.com/v2"
#: Depths Kraken accepts for the book channel.
DEPTHS = (10, 25, 100, 500, 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class KrakenBookConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL (``wss://ws.kraken.com`` for v1, ``wss://ws.kraken.com/v2`` for v2).
    version : {1, 2}
    depth : int
        Subscribed depth, one of 10, 25, 100, 500, 1000; also the book's cap.
    """

    base_url: str = DEFAULT_WS_URL
    version: int = 1
    depth: int = 1000

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ValueError(f"version must be 1 or 2, got {self.version!r}")
        if self.depth not in DEPTHS:
            raise ValueError(f"depth must be one of {DEPTHS}, got {self.depth!r}")
        u = URL(self.base_url)
        if u.scheme not in ("ws", "wss") or not u.host:
            raise ValueError(f"invalid WebSocket URL {self.base_url!r}")


def _ts_ns(entries: Sequence[Any]) -> int:
    try:
        return int(float(entries[-1][2]) * 1e9)
    except (IndexError, TypeError, ValueError):
        return 0


class KrakenBookVenue:
    """:class:`~dragonfly.listeners.diff.DiffVenue` for Kraken spot ``book``."""

    name = "kraken"
    checksum = "kraken"
    snapshot_by_rest = False

    def __init__(self, config: KrakenBookConfig | None = None) -> None:
        self.config = config or KrakenBookConfig()
        self.rule = NoSequence()

    def key(self, symbol: str) -> str:
        """``btc-usd`` -> ``XBT/USD`` (v1 spells bitcoin XBT) or ``BTC/USD`` (v2)."""
        parts = symbol.upper().replace("-", "/").replace("_", "/").split("/")
        old, new = ("BTC", "XBT") if self.config.version == 1 else ("XBT", "BTC")
        return "/".join(new if p == old else p for p in parts)

    def book_depth(self, symbol: str) -> int:
        return self.config.depth

    def ws_url(self, symbols: Sequence[str]) -> str:
        return self.config.base_url

    def _sub(self, op: str, symbols: Sequence[str]) -> str:
        pairs = [self.key(s) for s in symbols]
        if self.config.version == 1:
            return json.dumps({"event": op, "pair": pairs, "subscription": {"name": "book", "depth": self.config.depth}})
        return json.dumps({"method": op, "params": {"channel": "book", "symbol": pairs, "depth": self.config.depth}})

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._sub("subscribe", symbols)]

    def resubscribe_frames(self, symbol: str) -> list[str]:
        return [self._sub("unsubscribe", [symbol]), self._sub("subscribe", [symbol])]

    def snapshot_url(self, symbol: str) -> str:
        raise NotImplementedError("Kraken snapshots come on the WebSocket")

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot:
        raise NotImplementedError("Kraken snapshots come on the WebSocket")

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        if self.config.version == 2:
            return self._parse_v2(frame)
        m = json.loads(frame)
        if isinstance(m, dict):
            if "event" in m:
                return []  # heartbeat, systemStatus, subscriptionStatus
            raise ValueError(f"unexpected message: {str(m)[:80]}")
        if not isinstance(m, list) or len(m) < 4:
            raise ValueError("not a Kraken v1 channel message")
        name = m[-2]
        if not isinstance(name, str) or not name.startswith("book"):
            return []
        pair = m[-1]
        parts = m[1:-2]
        first = parts[0]
        if "as" in first or "bs" in first:
            asks = first.get("as", [])
            bids = first.get("bs", [])
            return [Snapshot(symbol=pair, bids=bids, asks=asks, exchange_ts_ns=max(_ts_ns(asks), _ts_ns(bids)))]
        bids: Any = ()
        asks: Any = ()
        checksum = None
        for part in parts:
            a = part.get("a")
            if a:
                asks = a if not asks else [*asks, *a]
            b = part.get("b")
            if b:
                bids = b if not bids else [*bids, *b]
            c = part.get("c")
            if c is not None:
                checksum = int(c)
        return [Delta(symbol=pair, bids=bids, asks=asks, checksum=checksum, exchange_ts_ns=_ts_ns(bids or asks))]

    def _parse_v2(self, frame: str | bytes) -> list[Delta | Snapshot]:
        # floats kept as their JSON text: the checksum is over the venue's digits
        m = json.loads(frame, parse_float=str, parse_int=str)
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        if m.get("channel") != "book":
            return []  # heartbeat, status, method replies
        kind = m["type"]
        out: list[Delta | Snapshot] = []
        for d in m["data"]:
            bids = [(lv["price"], lv["qty"]) for lv in d.get("bids", ())]
            asks = [(lv["price"], lv["qty"]) for lv in d.get("asks", ())]
            checksum = int(d["checksum"]) if "checksum" in d else None
            if kind == "snapshot":
                out.append(Snapshot(symbol=d["symbol"], bids=bids, asks=asks, checksum=checksum))
            elif kind == "update":
                out.append(Delta(symbol=d["symbol"], bids=bids, asks=asks, checksum=checksum))
            else:
                raise ValueError(f"unknown book message type {kind!r}")
        return out
