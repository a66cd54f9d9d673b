"""Template venue: the adapter (sans-IO). Cite the venue's public documentation here.

The made-up protocol (JSON text frames)::

    -> {"op": "subscribe", "channel": "book", "symbols": ["ETH-BTC"]}        (and "unsubscribe")
    <- {"op": "subscribed", "symbol": "ETH-BTC"}                             ack
    <- {"op": "error", "symbol": "ETH-BTC", "message": "unknown symbol"}     refused
    <- {"channel": "book", "type": "snapshot", "symbol": "ETH-BTC", "seq": 7, "ts": ms,
        "bids": [["0.05", "1.5"], ...], "asks": [...]}                       whole book (kind "top": the top N)
    <- {"channel": "book", "type": "update", "symbol": "ETH-BTC", "seq": 8, "prev": 7, "ts": ms,
        "bids": [...], "asks": [...]}                                        changes; qty "0" deletes
    <- {"channel": "heartbeat"}
    REST GET /book?symbol=ETH-BTC -> {"seq": 7, "bids": [...], "asks": [...]}  (kind "rest")

Updates name the update they follow (``prev``): :class:`~dragonfly.listeners.rules.PrevId` finds a
gap; a top-N feed only drops snapshots older than the last (:class:`~dragonfly.listeners.rules.Monotonic`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from yarl import URL

from ..._core.doc import Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Heartbeat, Rejected, Snapshot
from ...listeners.rules import Monotonic, PrevId
from ..base import Event, ListSubscriptions, VenueAdapter
from .config import TemplateConfig

__all__ = ("TemplateAdapter",)

_HEARTBEAT = (Heartbeat(),)


class TemplateAdapter(ListSubscriptions, VenueAdapter):
    """The template venue; the symbol is the normalised name (``ETH-BTC``)."""

    def __init__(self, config: TemplateConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        # one kind per registry entry in a real venue: these would be class attributes
        self.full_book = config.kind != "top"
        self.snapshot_source = {"top": "stream", "rest": "rest", "resubscribe": "resubscribe"}[config.kind]
        self.rule = Monotonic() if config.kind == "top" else PrevId()

    def symbol(self, instrument: Instrument) -> str:
        return instrument.name

    def book_depth(self, symbol: str) -> int:
        return int(self.config.max_depth)

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        # one message (un)subscribes a list (ListSubscriptions); a venue with a message per symbol
        # writes subscribe() and unsubscribe() instead
        return json.dumps({"op": op, "channel": "book", "symbols": list(symbols)}, separators=(",", ":"))

    def snapshot_url(self, symbol: str) -> str:
        base = URL(self.config.rest_url)
        return str(base.with_path(base.path.rstrip("/") + "/book").with_query(symbol=symbol))

    def parse_snapshot(self, symbol: str, body: bytes) -> Snapshot:
        doc = Doc(body)
        return Snapshot(
            symbol=symbol,
            bids=doc.value(doc.get(0, "bids"), text_numbers=True),
            asks=doc.value(doc.get(0, "asks"), text_numbers=True),
            last=doc.int(doc.get(0, "seq")),
        )

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = Doc(frame)  # strict JSON in the compiled core; ExtractError on a malformed frame
        channel = doc.get(0, "channel")
        if channel < 0:
            op = doc.get(0, "op")
            if op >= 0 and doc.str(op) == "error":
                symbol_h = doc.get(0, "symbol")
                message = doc.get(0, "message")
                if symbol_h >= 0:
                    return (Rejected(symbol=doc.str(symbol_h), reason=doc.str(message) if message >= 0 else ""),)
            return ()  # acks
        name = doc.str(channel)
        if name == "heartbeat":
            return _HEARTBEAT
        if name != "book":
            return ()  # other channels
        symbol_h = doc.get(0, "symbol")
        symbol = doc.str(symbol_h) if symbol_h >= 0 else ""
        try:
            kind = doc.str(doc.get(0, "type"))
            bids = doc.value(doc.get(0, "bids"), text_numbers=True)  # the venue's text: checksums need it
            asks = doc.value(doc.get(0, "asks"), text_numbers=True)
            seq = doc.int(doc.get(0, "seq"))
            ts_h = doc.get(0, "ts")
            ts = doc.int(ts_h) * 1_000_000 if ts_h >= 0 else 0
            if kind == "snapshot":
                if not self.full_book:  # a top-N feed keeps the top as finite floats, best first
                    bids = tuple((float(p), float(q)) for p, q, *_ in bids[: self.depth])
                    asks = tuple((float(p), float(q)) for p, q, *_ in asks[: self.depth])
                return (Snapshot(symbol=symbol, bids=bids, asks=asks, last=seq, exchange_ts_ns=ts),)
            if kind == "update":
                return (Delta(symbol=symbol, bids=bids, asks=asks, last=seq, prev=doc.int(doc.get(0, "prev")),
                              exchange_ts_ns=ts),)
        except (ExtractError, ValueError, TypeError, IndexError) as exc:
            raise FrameError(f"bad book message: {type(exc).__name__}: {exc}", symbol=symbol) from None
        raise FrameError(f"unknown book message type {kind!r}", symbol=symbol)
