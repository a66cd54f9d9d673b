"""Coinbase ``level2``: Exchange (``snapshot``/``l2update``) and Advanced Trade (``l2_data``).

Both send a snapshot after subscribing, then changes as absolute sizes. Coinbase Exchange
carries no sequence number and no checksum (:class:`~dragonfly.listeners.rules.NoSequence`):
a crossed book or a malformed frame re-subscribes the product. Advanced Trade numbers every
message of the connection (``sequence_num``); a jump cannot be attributed to a product, so it
is reported as a malformed frame and every product of the connection resyncs.

Messages (Coinbase docs)::

    {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2"]}
    {"type": "snapshot", "product_id": "BTC-USD", "bids": [[price, size], ...], "asks": [...]}
    {"type": "l2update", "product_id": "BTC-USD", "changes": [["buy", price, size], ...], "time": ...}
    advanced: {"channel": "l2_data", "sequence_num": n, "events": [{"type": "snapshot"|"update",
               "product_id": ..., "updates": [{"side": "bid"|"offer", "price_level": p, "new_quantity": q}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..._core.doc import OBJECT, STRING, Doc
from ...errors import ExtractError, FrameError, SequenceGapError
from ...instruments import Instrument
from ...listeners.events import Delta, Heartbeat, Snapshot, doc_sides
from ...listeners.rules import NoSequence
from ..base import Event, ListSubscriptions, VenueAdapter, buy_sell_changes, need, object_doc
from .config import CoinbaseConfig

__all__ = ("CoinbaseAdapter",)


class CoinbaseAdapter(ListSubscriptions, VenueAdapter):
    """Coinbase level2; the symbol is the product id (``BTC-USD``)."""

    def __init__(self, config: CoinbaseConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.rule = NoSequence()
        self._seq = -1

    def connected(self) -> None:
        self._seq = -1  # Advanced Trade numbering starts again on every connection

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        if self.config.api == "advanced":
            return json.dumps({"type": op, "product_ids": list(symbols), "channel": "level2"})
        return json.dumps({"type": op, "product_ids": list(symbols), "channels": [self.config.channel]})

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        if self.config.api == "advanced":
            return self._parse_advanced(doc)
        type_h = doc.get(0, "type")
        kind = doc.str(type_h) if type_h >= 0 and doc.kind(type_h) == STRING else None
        p = doc.get(0, "product_id")
        symbol = doc.str(p) if p >= 0 and doc.kind(p) == STRING else ""
        try:
            if kind == "l2update":
                bids, asks = buy_sell_changes(doc, need(doc, 0, "changes"))
                return (Delta(symbol=symbol, bids=bids, asks=asks),)
            if kind == "snapshot":
                bids_, asks_ = doc_sides(doc, need(doc, 0, "bids"), need(doc, 0, "asks"))
                return (Snapshot(symbol=symbol, bids=bids_, asks=asks_),)
        except (ExtractError, IndexError, ValueError) as exc:
            raise FrameError(f"bad {kind}: {type(exc).__name__}: {exc}", symbol=symbol) from None
        if kind == "heartbeat":
            return (Heartbeat(symbol=symbol or None),)
        if kind == "error":
            m = doc.value(0)
            reason = f"{m.get('message', '')} {m.get('reason', '')}".strip()
            raise FrameError(f"venue error: {reason[:160]}")
        if kind is not None:
            return ()  # subscriptions, ticker, match, ...
        raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")

    def _parse_advanced(self, doc: Doc) -> Sequence[Event]:
        seq_h = doc.get(0, "sequence_num")
        if seq_h >= 0:
            seq = doc.int(seq_h)
            expected = self._seq + 1
            self._seq = seq
            if expected > 0 and seq != expected:
                raise SequenceGapError(
                    f"coinbase connection sequence jumped from {expected - 1} to {seq}",
                    venue="coinbase",
                    expected=expected,
                    got=seq,
                )
        channel_h = doc.get(0, "channel")
        channel = doc.str(channel_h) if channel_h >= 0 and doc.kind(channel_h) == STRING else ""
        if channel == "heartbeats":
            return (Heartbeat(),)
        if channel != "l2_data":
            return ()
        out: list[Event] = []
        for ev in doc.children(need(doc, 0, "events")):
            p = doc.get(ev, "product_id") if doc.kind(ev) == OBJECT else -1
            symbol = doc.str(p) if p >= 0 and doc.kind(p) == STRING else ""
            bids: list[Any] = []
            asks: list[Any] = []
            try:
                for u in doc.children(need(doc, ev, "updates")):
                    side = doc.str(need(doc, u, "side"))
                    level = (doc.text(need(doc, u, "price_level")), doc.text(need(doc, u, "new_quantity")))
                    if side == "bid":
                        bids.append(level)
                    elif side in ("offer", "ask"):
                        asks.append(level)
                    else:
                        raise ValueError(f"unknown side {side!r}")
                kind = doc.str(need(doc, ev, "type"))
            except (ExtractError, IndexError, ValueError) as exc:
                raise FrameError(f"bad l2_data event: {type(exc).__name__}: {exc}", symbol=symbol) from None
            out.append(Snapshot(symbol=symbol, bids=bids, asks=asks) if kind == "snapshot"
                       else Delta(symbol=symbol, bids=bids, asks=asks))
        return out
