"""How the simulator speaks Bitstamp's WebSocket API v2 (see :mod:`dragonfly.sim.encoder`).

``bts:subscribe`` is answered ``bts:subscription_succeeded`` (``bts:error`` for an unknown
channel), ``bts:unsubscribe`` ``bts:unsubscription_succeeded``, ``bts:heartbeat`` with a
heartbeat; data frames are ``{"data": {timestamp, microtimestamp, bids, asks}, "channel": ..,
"event": "data"}``; the venue asks clients to reconnect with ``bts:request_reconnect``.

* :class:`BitstampEncoder` (top-N snapshot engine): ``order_book_<pair>``, the top 100 whenever
  the book changes, keyed on ``microtimestamp``;
* :class:`BitstampDiffEncoder` (diff engine): ``diff_order_book_<pair>`` deltas and REST
  ``/api/v2/order_book/<pair>/`` snapshots.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, SnapshotEncoderBase, quoted_side, text_side
from .config import BitstampConfig, BitstampDiffConfig

__all__ = ("BitstampDiffEncoder", "BitstampEncoder")

_BOOK = "order_book_"
_DIFF = "diff_order_book_"


def _frame(event: str, channel: str = "", data: Any = None) -> str:
    return json.dumps({"event": event, "channel": channel, "data": {} if data is None else data})


def _error(message: str, channel: str = "") -> str:
    return _frame("bts:error", channel, {"code": None, "message": message})


class _Channels:
    """What both feeds share: the pair as the symbol, the requests on channels ``<_prefix><pair>``
    (:func:`_handle`), ``bts:request_reconnect``."""

    _prefix: str

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}".lower()

    def client_message(self, text: str, conn: Any) -> list[str]:
        return _handle(text, conn, self._prefix)

    def reconnect_request(self) -> str | None:
        return _frame("bts:request_reconnect", "", "")


def _handle(text: str, conn: Any, prefix: str) -> list[str]:
    """Subscribe/unsubscribe/heartbeat for channels ``<prefix><pair>``."""
    try:
        msg = json.loads(text)
        event = msg["event"]
    except (ValueError, KeyError, TypeError):
        return [_error("Bad request.")]
    data = msg.get("data")
    channel = str(data.get("channel", "")) if isinstance(data, dict) else ""
    if event == "bts:heartbeat":
        return [_frame("bts:heartbeat", "", {"status": "success"})]
    if event not in ("bts:subscribe", "bts:unsubscribe"):
        return [_error("Bad request.")]
    pair = channel[len(prefix) :] if channel.startswith(prefix) else ""
    if event == "bts:unsubscribe":
        conn.unsubscribe(pair, channel)
        return [_frame("bts:unsubscription_succeeded", channel)]
    if not pair or not conn.subscribe(pair, channel):
        return [_error("Bad subscription string.", channel)]
    return [_frame("bts:subscription_succeeded", channel)]


class BitstampEncoder(_Channels, SnapshotEncoderBase):
    """``order_book_<pair>``: the top 100 levels on every change (nothing while unchanged).
    Bitstamp answers the client's ``bts:heartbeat``; it sends none of its own."""

    _prefix = _BOOK
    sends_unchanged = False

    def __init__(self, config: BitstampConfig) -> None:
        super().__init__(config)
        self.style: Mapping[str, Any] = {
            "tick_exp": -6,
            "qty_decimals": 8,
            "text_decimals": 8,
            "noise": 3e-5,
            "half_spread_ticks": 900,
            "gap_ticks": (40, 100, 150, 300),
            "levels": 100,
            "interval_s": 0.2,
            "poisson": True,
            "unchanged_prob": 0.1,
        }

    def next_seq(self, current: int, rng: random.Random) -> int:
        return max(current + 1, time.time_ns() // 1000)  # microtimestamp

    def render(self, key: str, bids: Any, asks: Any, seq: int) -> str:
        return (
            f'{{"data":{{"timestamp":"{seq // 1_000_000}","microtimestamp":"{seq}",'
            f'"bids":{quoted_side(bids)},"asks":{quoted_side(asks)}}},"channel":"{key}","event":"data"}}'
        )

    def recorded(self, payload: str) -> tuple[str, Any, Any] | None:
        try:
            msg = json.loads(payload)
            if msg.get("event") != "data" or not str(msg["channel"]).startswith(_BOOK):
                return None
            data = msg["data"]
            bids = text_side(data["bids"])
            asks = text_side(data["asks"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return str(msg["channel"])[len(_BOOK) :], bids, asks


class BitstampDiffEncoder(_Channels, DiffEncoderBase):
    """``diff_order_book_<pair>`` with REST snapshots; the symbol is the pair (``btcusd``)."""

    _prefix = _DIFF
    snapshots = "rest"

    def __init__(self, config: BitstampDiffConfig) -> None:
        super().__init__(config, depth=config.max_depth)

    def delta_frame(self, u: Any) -> str:
        data = {"timestamp": str(u.micro // 1_000_000), "microtimestamp": str(u.micro), "bids": u.bids, "asks": u.asks}
        return json.dumps({"data": data, "channel": f"{_DIFF}{u.symbol}", "event": "data"})

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        prefix = "/api/v2/order_book/"
        return path.rstrip("/")[len(prefix) :] if path.startswith(prefix) else None

    def rest_body(self, book: Any) -> str:
        return json.dumps(
            {"timestamp": str(book.micro // 1_000_000), "microtimestamp": str(book.micro), "bids": book.bids,
             "asks": book.asks}
        )
