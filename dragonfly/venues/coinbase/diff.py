"""Coinbase ``level2``: Exchange (``snapshot``/``l2update``) and Advanced Trade (``l2_data``).

Both send a snapshot after subscribing, then changes as absolute sizes.
Coinbase Exchange carries no sequence number and no checksum
(:class:`~dragonfly.listeners.diff.NoSequence`): a crossed book or a
malformed frame re-subscribes the product. Advanced Trade numbers every
message of the connection (``sequence_num``); a jump cannot be attributed to
a product, so it is reported as a malformed frame and every product of the
connection resyncs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from ...errors import SequenceGapError
from ...listeners.diff import Delta, NoSequence, Snapshot

__all__ = ("CoinbaseBookConfig", "CoinbaseBookVenue")

DEFAULT_EXCHANGE_URL = "wss://ws-feed.exchange.coinbase.com"
DEFAULT_WS_URL = DEFAULT_EXCHANGE_URL
DEFAULT_ADVANCED_URL = "wss://advanced-trade-ws.coinbase.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class CoinbaseBookConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL (a simulator in tests).
    api : {"exchange", "advanced"}
        Coinbase Exchange ``level2`` (also ``level2_batch``) or Advanced Trade ``level2``.
    channel : str
        Exchange channel name: ``level2`` or ``level2_batch``.
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_WS_URL
    api: str = "exchange"
    channel: str = "level2"
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if self.api not in ("exchange", "advanced"):
            raise ValueError(f"api must be 'exchange' or 'advanced', got {self.api!r}")
        if self.channel not in ("level2", "level2_batch"):
            raise ValueError(f"channel must be 'level2' or 'level2_batch', got {self.channel!r}")
        if self.max_depth < 1:
            raise ValueError("max_depth must be >= 1")
        u = URL(self.base_url)
        if u.scheme not in ("ws", "wss") or not u.host:
            raise ValueError(f"invalid WebSocket URL {self.base_url!r}")


class CoinbaseBookVenue:
    """:class:`~dragonfly.listeners.diff.DiffVenue` for Coinbase level2."""

    name = "coinbase"
    checksum = None
    snapshot_by_rest = False

    def __init__(self, config: CoinbaseBookConfig | None = None) -> None:
        self.config = config or CoinbaseBookConfig()
        self.rule = NoSequence()
        self._seq = -1

    def reset(self) -> None:
        """A new connection: Advanced Trade numbering starts again."""
        self._seq = -1

    def key(self, symbol: str) -> str:
        return symbol.upper().replace("/", "-").replace("_", "-")

    def book_depth(self, symbol: str) -> int:
        return self.config.max_depth

    def ws_url(self, symbols: Sequence[str]) -> str:
        return self.config.base_url

    def _op(self, op: str, symbols: Sequence[str]) -> str:
        ids = [self.key(s) for s in symbols]
        if self.config.api == "advanced":
            return json.dumps({"type": op, "product_ids": ids, "channel": "level2"})
        return json.dumps({"type": op, "product_ids": ids, "channels": [self.config.channel]})

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("subscribe", symbols)]

    def resubscribe_frames(self, symbol: str) -> list[str]:
        return [self._op("unsubscribe", [symbol]), self._op("subscribe", [symbol])]

    def snapshot_url(self, symbol: str) -> str:
        raise NotImplementedError("Coinbase snapshots come on the WebSocket")

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot:
        raise NotImplementedError("Coinbase snapshots come on the WebSocket")

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        if self.config.api == "advanced":
            return self._parse_advanced(m)
        kind = m.get("type")
        if kind == "l2update":
            bids: list[Any] = []
            asks: list[Any] = []
            for side, price, size in m["changes"]:
                if side == "buy":
                    bids.append((price, size))
                elif side == "sell":
                    asks.append((price, size))
                else:
                    raise ValueError(f"unknown side {side!r}")
            return [Delta(symbol=m["product_id"], bids=bids, asks=asks)]
        if kind == "snapshot":
            return [Snapshot(symbol=m["product_id"], bids=m["bids"], asks=m["asks"])]
        if kind == "error":
            raise ValueError(f"venue error: {m.get('message')!r} {m.get('reason')!r}")
        if isinstance(kind, str):
            return []  # subscriptions, heartbeat, ticker, match, ...
        raise ValueError(f"unexpected message: {str(m)[:80]}")

    def _parse_advanced(self, m: dict[str, Any]) -> list[Delta | Snapshot]:
        if "sequence_num" in m:
            seq = int(m["sequence_num"])
            expected = self._seq + 1
            self._seq = seq
            if expected > 0 and seq != expected:
                raise SequenceGapError(
                    f"coinbase connection sequence jumped from {expected - 1} to {seq}",
                    venue="coinbase",
                    expected=expected,
                    got=seq,
                )
        if m.get("channel") != "l2_data":
            return []
        out: list[Delta | Snapshot] = []
        for ev in m["events"]:
            bids: list[Any] = []
            asks: list[Any] = []
            for u in ev["updates"]:
                side = u["side"]
                level = (u["price_level"], u["new_quantity"])
                if side == "bid":
                    bids.append(level)
                elif side in ("offer", "ask"):
                    asks.append(level)
                else:
                    raise ValueError(f"unknown side {side!r}")
            if ev["type"] == "snapshot":
                out.append(Snapshot(symbol=ev["product_id"], bids=bids, asks=asks))
            else:
                out.append(Delta(symbol=ev["product_id"], bids=bids, asks=asks))
        return out
