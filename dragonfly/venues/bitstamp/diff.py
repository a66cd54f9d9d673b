"""Bitstamp ``diff_order_book_<pair>`` with the REST ``/api/v2/order_book/<pair>`` snapshot.

Deltas and snapshots are keyed on ``microtimestamp``: deltas not newer than
the snapshot are dropped (:class:`~dragonfly.listeners.diff.Timestamp`).
Bitstamp sends neither sequence numbers nor a checksum, so a lost delta is
only seen when the book crosses; a malformed frame resyncs every pair of the
connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from yarl import URL

from ...listeners.diff import Delta, Snapshot, Timestamp, diff_venue_spec

__all__ = ("BitstampDiffConfig", "BitstampDiffVenue", "create_feed", "VENUE_SPEC")

DEFAULT_WS_URL = "wss://ws.bitstamp.net"
DEFAULT_REST_URL = "https://www.bitstamp.net"


@dataclass(frozen=True, slots=True, kw_only=True)
class BitstampDiffConfig:
    """Parameters
    ----------
    base_url, rest_url : str
        WebSocket and REST bases (simulators in tests).
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_WS_URL
    rest_url: str = DEFAULT_REST_URL
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if self.max_depth < 1:
            raise ValueError("max_depth must be >= 1")
        for url, schemes in ((self.base_url, ("ws", "wss")), (self.rest_url, ("http", "https"))):
            u = URL(url)
            if u.scheme not in schemes or not u.host:
                raise ValueError(f"invalid URL {url!r}; expected {'/'.join(schemes)}://host")


class BitstampDiffVenue:
    """:class:`~dragonfly.listeners.diff.DiffVenue` for Bitstamp."""

    name = "bitstamp"
    checksum = None
    snapshot_by_rest = True

    def __init__(self, config: BitstampDiffConfig | None = None) -> None:
        self.config = config or BitstampDiffConfig()
        self.rule = Timestamp()

    def key(self, symbol: str) -> str:
        return symbol.replace("-", "").replace("/", "").replace("_", "").lower()

    def book_depth(self, symbol: str) -> int:
        return self.config.max_depth

    def ws_url(self, symbols: Sequence[str]) -> str:
        return self.config.base_url

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [
            json.dumps({"event": "bts:subscribe", "data": {"channel": f"diff_order_book_{self.key(s)}"}})
            for s in symbols
        ]

    def resubscribe_frames(self, symbol: str) -> list[str]:
        return []  # snapshots come by REST

    def snapshot_url(self, symbol: str) -> str:
        base = URL(self.config.rest_url)
        return str(base.with_path(base.path.rstrip("/") + f"/api/v2/order_book/{self.key(symbol)}/"))

    def parse_snapshot(self, symbol: str, body: str | bytes) -> Snapshot:
        m = json.loads(body)
        micro = int(m["microtimestamp"])
        return Snapshot(
            symbol=self.key(symbol), bids=m["bids"], asks=m["asks"], last=micro, exchange_ts_ns=micro * 1000
        )

    def parse(self, frame: str | bytes) -> list[Delta | Snapshot]:
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
        event = m.get("event")
        if event != "data":
            if isinstance(event, str):
                return []  # bts:subscription_succeeded, bts:request_reconnect, trades, ...
            raise ValueError(f"unexpected message: {str(m)[:80]}")
        channel = m["channel"]
        if not channel.startswith("diff_order_book_"):
            return []
        data = m["data"]
        micro = int(data["microtimestamp"])
        return [
            Delta(
                symbol=channel[len("diff_order_book_") :],
                bids=data["bids"],
                asks=data["asks"],
                last=micro,
                exchange_ts_ns=micro * 1000,
            )
        ]


# -- feed factory (registry name "bitstamp-diff") -----------------------------------------------------


VENUE_SPEC = diff_venue_spec(
    name="bitstamp-diff", venue_cls=BitstampDiffVenue, config_cls=BitstampDiffConfig, default_base_url=DEFAULT_WS_URL, max_depth=5000
)
create_feed = VENUE_SPEC.create_feed
