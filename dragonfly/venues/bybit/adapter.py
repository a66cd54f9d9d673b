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

from ...errors import FrameError
from ...listeners.events import Delta, Snapshot
from ...listeners.rules import Contiguous
from ..base import Event, VenueAdapter
from ...instruments import Instrument
from .config import BybitConfig

__all__ = ("BybitAdapter",)


class BybitAdapter(VenueAdapter):
    """Bybit v5 order book; the symbol is Bybit's (``BTCUSDT``)."""

    def __init__(self, config: BybitConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.depth, f"orderbook.{config.depth}")
        self.rule = Contiguous()

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return int(self.config.depth)

    def _op(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps({"op": op, "args": [f"orderbook.{self.config.depth}.{s}" for s in symbols]})

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("subscribe", symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("unsubscribe", symbols)]

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise FrameError("not a JSON object")
        topic = m.get("topic")
        if topic is None:
            if "op" in m or "success" in m:
                return ()  # subscribe / pong replies
            raise FrameError(f"unexpected message: {str(m)[:80]}")
        if not isinstance(topic, str) or not topic.startswith("orderbook."):
            return ()
        symbol = topic.rsplit(".", 1)[-1]
        try:
            d = m["data"]
            symbol = d["s"]
            ts = int(m.get("ts", 0)) * 1_000_000
            kind = m["type"]
            if kind == "snapshot":
                return (Snapshot(symbol=symbol, bids=d["b"], asks=d["a"], last=int(d["u"]), exchange_ts_ns=ts),)
            if kind == "delta":
                return (Delta(symbol=symbol, bids=d["b"], asks=d["a"], last=int(d["u"]), exchange_ts_ns=ts),)
            raise ValueError(f"unknown message type {kind!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise FrameError(f"bad orderbook message: {type(exc).__name__}: {exc}", symbol=symbol) from None
