"""Gemini market data v2 (``wss://api.gemini.com/v2/marketdata``): the ``l2`` channel.

Per Gemini's docs ("Market Data v2", "Level 2 Data"): after a subscribe, the initial response
shows the existing state of the symbol's order book and its last 50 trades; later messages show
every trade and every change of the book. A change is ``[side, price, quantity]`` with side
``buy``/``sell`` and the level's new absolute quantity as text, ``"0"`` removing the level.
Gemini also sends ``"0"`` for levels the book does not have (the recordings hold hundreds): they
are no-ops, so deltas are not strict. Messages carry no sequence number
(:class:`~dragonfly.listeners.rules.NoSequence`): a lost one shows only as a crossed book, which
re-subscribes that symbol; a heartbeat every few seconds keeps every book of the connection alive.

Messages::

    -> {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD", "ETHUSD"]}]}  (and "unsubscribe")
    <- {"type": "l2_updates", "symbol": "BTCUSD", "changes": [["buy", "9122.04", "0.00121425"], ...],
        "trades": [{"type": "trade", ...}, ...], "auction_events": [...]}       the whole book
    <- {"type": "l2_updates", "symbol": "BTCUSD", "changes": [["sell", "9160.20", "0.1921229751"]]}
    <- {"type": "trade", "symbol": "BTCUSD", "event_id": n, "timestamp": ms, "price": "...", ...}
    <- {"type": "heartbeat", "timestamp": ms}

Which message is a book is connection-scoped state: the first ``l2_updates`` of a symbol on a
connection is one (whatever it carries), and so is any message carrying ``trades`` (the initial
response's shape). After a re-subscribe (a fresh book for a resync), messages without ``trades``
are changes of the old subscription still on the wire; the book is the next one with ``trades``.

The symbol is Gemini's (``BTCUSD``): base and quote joined.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..._core.doc import ARRAY, Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Heartbeat, Rejected, Snapshot
from ...listeners.rules import NoSequence
from ..base import Event, ListSubscriptions, VenueAdapter, buy_sell_changes, need, object_doc, string_or
from .config import GeminiConfig

__all__ = ("GeminiAdapter",)

_HEARTBEAT = (Heartbeat(),)


class GeminiAdapter(ListSubscriptions, VenueAdapter):
    """Gemini market data v2 ``l2``; the symbol is Gemini's (``BTCUSD``)."""

    def __init__(self, config: GeminiConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.max_depth, "the configured book cap")
        self.rule = NoSequence()
        self._booked: set[str] = set()  # symbols whose book arrived on this connection
        self._renewing: set[str] = set()  # ... and were re-subscribed since: a book with trades comes next

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return int(self.config.max_depth)

    def connected(self) -> None:
        self._booked.clear()
        self._renewing.clear()

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps(
            {"type": op, "subscriptions": [{"name": "l2", "symbols": list(symbols)}]}, separators=(",", ":")
        )

    def resubscribe(self, symbol: str) -> list[str]:
        """Unsubscribe and subscribe ``symbol``: its next book comes with the initial response."""
        if symbol in self._booked:
            self._renewing.add(symbol)
        return [*self.unsubscribe([symbol]), *self.subscribe([symbol])]

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        kind = string_or(doc, doc.get(0, "type"))
        if kind == "l2_updates":
            return self._l2(doc)
        if kind == "heartbeat":
            return _HEARTBEAT
        if kind == "error":
            symbol = string_or(doc, doc.get(0, "symbol"))
            if symbol:
                return (Rejected(symbol=symbol, reason=string_or(doc, doc.get(0, "reason")) or "error"),)
            return ()  # an error about no symbol (a resync cannot help)
        if kind:
            return ()  # trade, candles, auctions, ...
        raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")

    def _l2(self, doc: Doc) -> Sequence[Event]:
        symbol = string_or(doc, doc.get(0, "symbol"))
        if not symbol:
            raise FrameError("l2_updates without a symbol")
        try:
            changes = need(doc, 0, "changes")
            if doc.kind(changes) != ARRAY:
                raise ValueError("changes is not an array")
            bids, asks = buy_sell_changes(doc, changes)
        except (ExtractError, IndexError, ValueError) as exc:
            raise FrameError(f"bad l2_updates: {type(exc).__name__}: {exc}", symbol=symbol) from None
        renewing = self._renewing
        if doc.get(0, "trades") >= 0 or (symbol not in self._booked and symbol not in renewing):
            self._booked.add(symbol)
            renewing.discard(symbol)
            return (Snapshot(symbol=symbol, bids=bids, asks=asks),)
        return (Delta(symbol=symbol, bids=bids, asks=asks),)
