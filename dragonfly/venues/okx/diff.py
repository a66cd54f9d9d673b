"""OKX v5 public order-book channels (``books``, ``books-l2-tbt``, ``books50-l2-tbt``).

A snapshot after subscribing, then updates; every message carries the signed
CRC32 of the interleaved top 25 levels (``checksum``) and, on current
feeds, ``seqId``/``prevSeqId`` (:class:`~dragonfly.listeners.diff.PrevId`).
A gap or a checksum mismatch re-subscribes that instrument for a fresh
snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from yarl import URL

from ...listeners.diff import Delta, PrevId, Snapshot, int_or

__all__ = ("OkxBookConfig", "OkxBookVenue", "CHANNEL_DEPTHS")

DEFAULT_WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
#: Channels and the depth each maintains.
CHANNEL_DEPTHS = {"books": 400, "books-l2-tbt": 400, "books50-l2-tbt": 50}


@dataclass(frozen=True, slots=True, kw_only=True)
class OkxBookConfig:
    """Parameters
    ----------
    base_url : str
        Public WebSocket URL (a simulator in tests).
    channel : str
        ``books`` (default), ``books-l2-tbt`` or ``books50-l2-tbt``.
    """

    base_url: str = DEFAULT_WS_URL
    channel: str = "books"

    def __post_init__(self) -> None:
        if self.channel not in CHANNEL_DEPTHS:
            raise ValueError(f"channel must be one of {sorted(CHANNEL_DEPTHS)}, got {self.channel!r}")
        u = URL(self.base_url)
        if u.scheme not in ("ws", "wss") or not u.host:
            raise ValueError(f"invalid WebSocket URL {self.base_url!r}")


class OkxBookVenue:
    """:class:`~dragonfly.listeners.diff.DiffVenue` for OKX v5 books."""

    name = "okx"
    checksum = "okx"
    snapshot_by_rest = False

    def __init__(self, config: OkxBookConfig | None = None) -> None:
        self.config = config or OkxBookConfig()
        self.rule = PrevId()

    def key(self, symbol: str) -> str:
        return symbol.upper().replace("/", "-").replace("_", "-")

    def book_depth(self, symbol: str) -> int:
        return CHANNEL_DEPTHS[self.config.channel]

    def ws_url(self, symbols: Sequence[str]) -> str:
        return self.config.base_url

    def _op(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps({"op": op, "args": [{"channel": self.config.channel, "instId": self.key(s)} for s in symbols]})

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("subscribe", symbols)]

    def resubscribe_frames(self, symbol: str) -> list[str]:
        return [self._op("unsubscribe", [symbol]), self._op("subscribe", [symbol])]

    def snapshot_url(self, symbol: str) -> str:
        raise NotImplementedError("OKX snapshots come on the WebSocket")

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot:
        raise NotImplementedError("OKX snapshots come on the WebSocket")

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        if frame == "pong":
            return []
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        if "event" in m:
            return []  # subscribe / unsubscribe / error replies
        arg = m["arg"]
        if not str(arg.get("channel", "")).startswith("books"):
            return []
        symbol = arg["instId"]
        action = m.get("action", "snapshot")
        out: list[Delta | Snapshot] = []
        for d in m["data"]:
            checksum = int(d["checksum"]) if "checksum" in d else None
            ts = int(d.get("ts", 0)) * 1_000_000
            if action == "snapshot":
                out.append(
                    Snapshot(symbol=symbol, bids=d["bids"], asks=d["asks"], last=int_or(d.get("seqId")), checksum=checksum, exchange_ts_ns=ts)
                )
            elif action == "update":
                out.append(
                    Delta(
                        symbol=symbol,
                        bids=d["bids"],
                        asks=d["asks"],
                        last=int_or(d.get("seqId")),
                        prev=int_or(d.get("prevSeqId")),
                        checksum=checksum,
                        exchange_ts_ns=ts,
                    )
                )
            else:
                raise ValueError(f"unknown action {action!r}")
        return out
