"""Kraken spot WebSocket ``book`` channel: v1 (array messages) and v2 (JSON objects).

Both send a snapshot after subscribing, then updates carrying a CRC32 of the top 10 levels
(v1: ``"c"`` in the last side map of update messages; v2: ``checksum`` on snapshots and
updates). Per Kraken's book guides the client processes every level of a message, then
truncates the book to the subscribed depth (the venue sends no delete for levels that fall out
of scope and re-publishes those that come back, v1 flagging them ``"r"``), then verifies the
checksum. A mismatch re-subscribes that pair for a fresh snapshot. The checksum is over the
venue's own text of prices and quantities, so v2 messages are decoded with numbers kept as
their JSON text.

v1 messages (``wss://ws.kraken.com``)::

    [channelID, {"as": [[price, volume, ts], ...], "bs": [...]}, "book-100", "XBT/USD"]   snapshot
    [channelID, {"a": [[price, volume, ts(, "r")], ...]}, {"b": [...], "c": "crc"}, "book-100", "XBT/USD"]

v2 (``wss://ws.kraken.com/v2``): ``{"channel": "book", "type": "snapshot"|"update", "data": [{"symbol":
"BTC/USD", "bids": [{"price": p, "qty": q}], "asks": [...], "checksum": crc}]}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..._core.doc import ARRAY, OBJECT, STRING, Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, DocSide, Heartbeat, Snapshot, doc_sides
from ...listeners.rules import NoSequence
from ..base import Event, ListSubscriptions, VenueAdapter, need, object_doc
from .config import KrakenConfig

__all__ = ("KrakenAdapter",)

_HEARTBEAT = Heartbeat()


def _ts_ns(doc: Doc, side: int) -> int:
    """Exchange time of the last entry of a side (its third element, seconds as text)."""
    try:
        return int(doc.float(doc.at(doc.at(side, -1), 2)) * 1e9)
    except (ExtractError, IndexError):
        return 0


def _side(doc: Doc, handles: list[int]) -> Any:
    """One side of a v1 update: the array itself, or (if several parts carry it) their levels joined."""
    if not handles:
        return ()
    if len(handles) == 1:
        return DocSide(doc, handles[0])
    return [lv for h in handles for lv in doc.value(h, text_numbers=True)]


class KrakenAdapter(ListSubscriptions, VenueAdapter):
    """Kraken spot ``book``; the symbol is Kraken's pair (``XBT/USD`` on v1, ``BTC/USD`` on v2)."""

    checksum = "crc32_top10_digits"

    def __init__(self, config: KrakenConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.depth, f"book depth {config.depth}")
        self.rule = NoSequence()

    def symbol(self, instrument: Instrument) -> str:
        old, new = ("BTC", "XBT") if self.config.version == 1 else ("XBT", "BTC")
        return "/".join(new if p == old else p for p in (instrument.base, instrument.quote))

    def book_depth(self, symbol: str) -> int:
        return int(self.config.depth)

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        if self.config.version == 1:
            subscription = {"name": "book", "depth": self.config.depth}
            return json.dumps({"event": op, "pair": list(symbols), "subscription": subscription})
        params = {"channel": "book", "symbol": list(symbols), "depth": self.config.depth}
        return json.dumps({"method": op, "params": params})

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        if self.config.version == 2:
            return self._parse_v2(frame)
        doc = Doc(frame)  # the whole frame, strictly, in the compiled core
        kind = doc.kind(0)
        if kind == OBJECT:
            event = doc.get(0, "event")
            if event >= 0 and doc.kind(event) == STRING:
                return (_HEARTBEAT,) if doc.str(event) == "heartbeat" else ()  # systemStatus, subscriptionStatus, pong
            raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")
        n = doc.len(0) if kind == ARRAY else 0
        if n < 4:
            raise FrameError("not a Kraken v1 channel message")
        name = doc.at(0, -2)
        if doc.kind(name) != STRING or not doc.str(name).startswith("book"):
            return ()
        pair_h = doc.at(0, -1)
        if doc.kind(pair_h) != STRING:
            raise FrameError("no pair in a book message")
        pair = doc.str(pair_h)
        try:
            parts = [doc.at(0, i) for i in range(1, n - 2)]
            first = parts[0]
            snap_asks, snap_bids = doc.get(first, "as"), doc.get(first, "bs")
            if snap_asks >= 0 or snap_bids >= 0:
                bids, asks = doc_sides(doc, snap_bids, snap_asks)
                ts = max(
                    _ts_ns(doc, snap_asks) if snap_asks >= 0 else 0, _ts_ns(doc, snap_bids) if snap_bids >= 0 else 0
                )
                return (Snapshot(symbol=pair, bids=bids, asks=asks, exchange_ts_ns=ts),)
            a_parts: list[int] = []
            b_parts: list[int] = []
            checksum = None
            for part in parts:
                if doc.kind(part) != OBJECT:
                    raise ValueError("a book part is not an object")
                a = doc.get(part, "a")
                if a >= 0:
                    a_parts.append(a)
                b = doc.get(part, "b")
                if b >= 0:
                    b_parts.append(b)
                c = doc.get(part, "c")
                if c >= 0:
                    checksum = doc.int(c)
            ts = _ts_ns(doc, b_parts[-1]) if b_parts else _ts_ns(doc, a_parts[-1]) if a_parts else 0
            bids, asks = _side(doc, b_parts), _side(doc, a_parts)
        except (ExtractError, ValueError, IndexError) as exc:
            raise FrameError(f"bad book message: {type(exc).__name__}: {exc}", symbol=pair) from None
        return (Delta(symbol=pair, bids=bids, asks=asks, checksum=checksum, exchange_ts_ns=ts),)

    def _parse_v2(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        channel_h = doc.get(0, "channel")
        channel = doc.str(channel_h) if channel_h >= 0 and doc.kind(channel_h) == STRING else ""
        if channel == "heartbeat":
            return (_HEARTBEAT,)
        if channel != "book":
            return ()  # status, method replies
        type_h = doc.get(0, "type")
        kind = doc.str(type_h) if type_h >= 0 and doc.kind(type_h) == STRING else ""
        out: list[Event] = []
        for d in doc.children(need(doc, 0, "data")):
            s = doc.get(d, "symbol") if doc.kind(d) == OBJECT else -1
            symbol = doc.str(s) if s >= 0 and doc.kind(s) == STRING else ""
            try:
                # levels are {"price": p, "qty": q} objects: the checksum is over the venue's digits
                bids = _levels(doc, doc.get(d, "bids"))
                asks = _levels(doc, doc.get(d, "asks"))
                c = doc.get(d, "checksum")
                checksum = doc.int(c) if c >= 0 else None
            except (ExtractError, IndexError) as exc:
                raise FrameError(f"bad book entry: {type(exc).__name__}: {exc}", symbol=symbol) from None
            if kind == "snapshot":
                out.append(Snapshot(symbol=symbol, bids=bids, asks=asks, checksum=checksum))
            elif kind == "update":
                out.append(Delta(symbol=symbol, bids=bids, asks=asks, checksum=checksum))
            else:
                raise FrameError(f"unknown book message type {kind!r}", symbol=symbol)
        return out


def _levels(doc: Doc, side: int) -> list[tuple[str, str]]:
    if side < 0:
        return []
    return [(doc.text(need(doc, lv, "price")), doc.text(need(doc, lv, "qty"))) for lv in doc.children(side)]
