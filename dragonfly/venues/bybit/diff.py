"""Bybit v5 public ``orderbook.<depth>.<symbol>`` (spot, linear, inverse).

A ``snapshot`` after subscribing (and whenever the venue resets, which the
client must follow), then ``delta`` messages whose update id ``u`` grows by
one (:class:`~dragonfly.listeners.diff.Contiguous`). Bybit sends no
checksum; a gap re-subscribes that symbol for a fresh snapshot. The book is
capped at the subscribed depth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from yarl import URL

from ...listeners.diff import Contiguous, Delta, Snapshot

__all__ = ("BybitBookConfig", "BybitBookVenue", "DEPTHS")

DEFAULT_WS_URL = "wss://stream.bybit.com/v5/public/spot"
DEPTHS = (1, 50, 200, 500, 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class BybitBookConfig:
    """Parameters
    ----------
    base_url : str
        ``wss://stream.bybit.com/v5/public/{spot,linear,inverse}`` (a simulator in tests).
    depth : int
        Subscribed depth (1, 50, 200, 500 or 1000); also the book's cap.
    """

    base_url: str = DEFAULT_WS_URL
    depth: int = 50

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"depth must be one of {DEPTHS}, got {self.depth!r}")
        u = URL(self.base_url)
        if u.scheme not in ("ws", "wss") or not u.host:
            raise ValueError(f"invalid WebSocket URL {self.base_url!r}")


class BybitBookVenue:
    """:class:`~dragonfly.listeners.diff.DiffVenue` for Bybit v5 order books."""

    name = "bybit"
    checksum = None
    snapshot_by_rest = False

    def __init__(self, config: BybitBookConfig | None = None) -> None:
        self.config = config or BybitBookConfig()
        self.rule = Contiguous()

    def key(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").upper()

    def book_depth(self, symbol: str) -> int:
        return self.config.depth

    def ws_url(self, symbols: Sequence[str]) -> str:
        return self.config.base_url

    def _op(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps({"op": op, "args": [f"orderbook.{self.config.depth}.{self.key(s)}" for s in symbols]})

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("subscribe", symbols)]

    def resubscribe_frames(self, symbol: str) -> list[str]:
        return [self._op("unsubscribe", [symbol]), self._op("subscribe", [symbol])]

    def snapshot_url(self, symbol: str) -> str:
        raise NotImplementedError("Bybit snapshots come on the WebSocket")

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot:
        raise NotImplementedError("Bybit snapshots come on the WebSocket")

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        topic = m.get("topic")
        if topic is None:
            if "op" in m or "success" in m:
                return []  # subscribe / pong replies
            raise ValueError(f"unexpected message: {str(m)[:80]}")
        if not topic.startswith("orderbook."):
            return []
        d = m["data"]
        ts = int(m.get("ts", 0)) * 1_000_000
        kind = m["type"]
        if kind == "snapshot":
            return [Snapshot(symbol=d["s"], bids=d["b"], asks=d["a"], last=int(d["u"]), exchange_ts_ns=ts)]
        if kind == "delta":
            return [Delta(symbol=d["s"], bids=d["b"], asks=d["a"], last=int(d["u"]), exchange_ts_ns=ts)]
        raise ValueError(f"unknown message type {kind!r}")
