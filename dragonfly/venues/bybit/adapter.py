"""Bybit v5 public ``orderbook.<depth>.<symbol>`` (spot, linear, inverse).

A ``snapshot`` after subscribing (and whenever the venue resets, which the client must follow),
then ``delta`` messages whose update id ``u`` grows by one
(:class:`~dragonfly.listeners.rules.Contiguous`). Bybit sends no checksum; a gap re-subscribes
that symbol for a fresh snapshot. The book is capped at the subscribed depth.

Messages (Bybit v5 docs, "Orderbook")::

    {"op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}
    {"topic": "orderbook.50.BTCUSDT", "type": "snapshot"|"delta", "ts": ms,
     "data": {"s": "BTCUSDT", "b": [[price, size], ...], "a": [...], "u": id, "seq": n}, "cts": ms}
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Snapshot, doc_sides
from ...listeners.rules import Contiguous
from ..base import Event, ListSubscriptions, VenueAdapter, need, object_doc
from .config import BybitConfig

__all__ = ("BybitAdapter",)


class BybitAdapter(ListSubscriptions, VenueAdapter):
    """Bybit v5 order book; the symbol is Bybit's (``BTCUSDT``)."""

    def __init__(self, config: BybitConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.depth, f"orderbook.{config.depth}")
        self.rule = Contiguous()

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return int(self.config.depth)

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps({"op": op, "args": [f"orderbook.{self.config.depth}.{s}" for s in symbols]})

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        topic_h = doc.get(0, "topic")
        if topic_h < 0:
            if doc.get(0, "op") >= 0 or doc.get(0, "success") >= 0:
                return ()  # subscribe / pong replies
            raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")
        topic = doc.str(topic_h)
        if not topic.startswith("orderbook."):
            return ()
        symbol = topic.rsplit(".", 1)[-1]
        try:
            d = need(doc, 0, "data")
            symbol = doc.str(need(doc, d, "s"))
            ts_h = doc.get(0, "ts")
            ts = doc.int(ts_h) * 1_000_000 if ts_h >= 0 else 0
            kind = doc.str(need(doc, 0, "type"))
            bids, asks = doc_sides(doc, need(doc, d, "b"), need(doc, d, "a"))
            last = doc.int(need(doc, d, "u"))
        except (ExtractError, IndexError) as exc:
            raise FrameError(f"bad orderbook message: {type(exc).__name__}: {exc}", symbol=symbol) from None
        if kind == "snapshot":
            return (Snapshot(symbol=symbol, bids=bids, asks=asks, last=last, exchange_ts_ns=ts),)
        if kind == "delta":
            return (Delta(symbol=symbol, bids=bids, asks=asks, last=last, exchange_ts_ns=ts),)
        raise FrameError(f"unknown message type {kind!r}", symbol=symbol)
