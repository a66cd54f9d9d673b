"""Binance spot diff depth (``<symbol>@depth@100ms``) with the REST ``/api/v3/depth`` snapshot.

Synchronised as Binance documents it: buffer the stream, fetch a snapshot,
drop events with ``u <= lastUpdateId``, the first applied event must straddle
``lastUpdateId + 1``, then each ``U`` equals the previous ``u + 1``
(:class:`~dragonfly.listeners.diff.UpdateIdRange`). Binance sends no checksum.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from yarl import URL

from ...listeners.diff import Delta, Snapshot, UpdateIdRange, diff_venue_spec

__all__ = ("BinanceDiffConfig", "BinanceDiffVenue", "create_feed", "VENUE_SPEC")

DEFAULT_WS_URL = "wss://stream.binance.com:9443"
DEFAULT_REST_URL = "https://api.binance.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceDiffConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket base (``/stream?streams=...`` is appended); a simulator's
        ``ws://127.0.0.1:PORT`` in tests.
    rest_url : str
        REST base for ``/api/v3/depth``.
    speed : {"100ms", "1000ms"}
    snapshot_limit : int
        Levels per side asked of the REST snapshot (Binance allows up to 5000).
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_WS_URL
    rest_url: str = DEFAULT_REST_URL
    speed: str = "100ms"
    snapshot_limit: int = 1000
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if self.speed not in ("100ms", "1000ms"):
            raise ValueError(f"speed must be '100ms' or '1000ms', got {self.speed!r}")
        if not 1 <= self.snapshot_limit <= 5000:
            raise ValueError("snapshot_limit must be within [1, 5000]")
        if self.max_depth < 1:
            raise ValueError("max_depth must be >= 1")
        for url, schemes in ((self.base_url, ("ws", "wss")), (self.rest_url, ("http", "https"))):
            u = URL(url)
            if u.scheme not in schemes or not u.host:
                raise ValueError(f"invalid URL {url!r}; expected {'/'.join(schemes)}://host")


class BinanceDiffVenue:
    """:class:`~dragonfly.listeners.diff.DiffVenue` for Binance spot."""

    name = "binance"
    checksum = None
    snapshot_by_rest = True

    def __init__(self, config: BinanceDiffConfig | None = None) -> None:
        self.config = config or BinanceDiffConfig()
        self.rule = UpdateIdRange()

    def key(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").upper()

    def book_depth(self, symbol: str) -> int:
        return self.config.max_depth

    def stream(self, symbol: str) -> str:
        return f"{self.key(symbol).lower()}@depth@{self.config.speed}"

    def ws_url(self, symbols: Sequence[str]) -> str:
        base = URL(self.config.base_url)
        path = base.path.rstrip("/") + "/stream"
        return str(base.with_path(path).with_query(None)) + "?streams=" + "/".join(self.stream(s) for s in symbols)

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return []  # the streams are in the URL

    def resubscribe_frames(self, symbol: str) -> list[str]:
        return []  # snapshots come by REST

    def snapshot_url(self, symbol: str) -> str:
        base = URL(self.config.rest_url)
        return str(
            base.with_path(base.path.rstrip("/") + "/api/v3/depth").with_query(
                symbol=self.key(symbol), limit=self.config.snapshot_limit
            )
        )

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot:
        m = json.loads(body)
        return Snapshot(symbol=self.key(symbol), bids=m["bids"], asks=m["asks"], last=int(m["lastUpdateId"]))

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        data = m.get("data", m)
        event = data.get("e")
        if event != "depthUpdate":
            if isinstance(event, str) or "result" in m or "id" in m or "u" in data:
                return []  # other streams of the connection, subscription replies
            raise ValueError(f"unexpected message: {str(m)[:80]}")
        return [
            Delta(
                symbol=data["s"],
                bids=data["b"],
                asks=data["a"],
                first=int(data["U"]),
                last=int(data["u"]),
                exchange_ts_ns=int(data["E"]) * 1_000_000,
            )
        ]


# -- feed factory (registry name "binance-diff") -----------------------------------------------------


VENUE_SPEC = diff_venue_spec(
    name="binance-diff", venue_cls=BinanceDiffVenue, config_cls=BinanceDiffConfig, default_base_url=DEFAULT_WS_URL, max_depth=5000
)
create_feed = VENUE_SPEC.create_feed
