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

from ...errors import FrameError
from ...listeners.events import Delta, Heartbeat, Snapshot
from ...listeners.rules import NoSequence
from ..base import Event, VenueAdapter
from ...instruments import Instrument
from .config import KrakenConfig

__all__ = ("KrakenAdapter",)

_HEARTBEAT = Heartbeat()


def _ts_ns(entries: Sequence[Any]) -> int:
    try:
        return int(float(entries[-1][2]) * 1e9)
    except (IndexError, TypeError, ValueError):
        return 0


class KrakenAdapter(VenueAdapter):
    """Kraken spot ``book``; the symbol is Kraken's pair (``XBT/USD`` on v1, ``BTC/USD`` on v2)."""

    checksum = "kraken"

    def __init__(self, config: KrakenConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.depth, f"book depth {config.depth}")
        self.rule = NoSequence()

    def symbol(self, instrument: Instrument) -> str:
        old, new = ("BTC", "XBT") if self.config.version == 1 else ("XBT", "BTC")
        return "/".join(new if p == old else p for p in (instrument.base, instrument.quote))

    def book_depth(self, symbol: str) -> int:
        return int(self.config.depth)

    def _sub(self, op: str, symbols: Sequence[str]) -> str:
        if self.config.version == 1:
            return json.dumps({"event": op, "pair": list(symbols), "subscription": {"name": "book", "depth": self.config.depth}})
        return json.dumps({"method": op, "params": {"channel": "book", "symbol": list(symbols), "depth": self.config.depth}})

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._sub("subscribe", symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._sub("unsubscribe", symbols)]

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        if self.config.version == 2:
            return self._parse_v2(frame)
        m = json.loads(frame)
        if isinstance(m, dict):
            event = m.get("event")
            if event == "heartbeat":
                return (_HEARTBEAT,)
            if isinstance(event, str):
                return ()  # systemStatus, subscriptionStatus, pong
            raise FrameError(f"unexpected message: {str(m)[:80]}")
        if not isinstance(m, list) or len(m) < 4:
            raise FrameError("not a Kraken v1 channel message")
        name = m[-2]
        if not isinstance(name, str) or not name.startswith("book"):
            return ()
        pair = m[-1]
        if not isinstance(pair, str):
            raise FrameError("no pair in a book message")
        try:
            parts = m[1:-2]
            first = parts[0]
            if "as" in first or "bs" in first:
                asks = first.get("as", [])
                bids = first.get("bs", [])
                return (Snapshot(symbol=pair, bids=bids, asks=asks, exchange_ts_ns=max(_ts_ns(asks), _ts_ns(bids))),)
            bids_: Any = ()
            asks_: Any = ()
            checksum = None
            for part in parts:
                a = part.get("a")
                if a:
                    asks_ = a if not asks_ else [*asks_, *a]
                b = part.get("b")
                if b:
                    bids_ = b if not bids_ else [*bids_, *b]
                c = part.get("c")
                if c is not None:
                    checksum = int(c)
        except (AttributeError, TypeError, ValueError, IndexError) as exc:
            raise FrameError(f"bad book message: {type(exc).__name__}: {exc}", symbol=pair) from None
        return (Delta(symbol=pair, bids=bids_, asks=asks_, checksum=checksum, exchange_ts_ns=_ts_ns(bids_ or asks_)),)

    def _parse_v2(self, frame: str | bytes) -> Sequence[Event]:
        # numbers kept as their JSON text: the checksum is over the venue's digits
        m = json.loads(frame, parse_float=str, parse_int=str)
        if not isinstance(m, dict):
            raise FrameError("not a JSON object")
        channel = m.get("channel")
        if channel == "heartbeat":
            return (_HEARTBEAT,)
        if channel != "book":
            return ()  # status, method replies
        kind = m.get("type")
        out: list[Event] = []
        for d in m["data"]:
            symbol = d.get("symbol", "") if isinstance(d, dict) else ""
            try:
                bids = [(lv["price"], lv["qty"]) for lv in d.get("bids", ())]
                asks = [(lv["price"], lv["qty"]) for lv in d.get("asks", ())]
                checksum = int(d["checksum"]) if "checksum" in d else None
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise FrameError(f"bad book entry: {type(exc).__name__}: {exc}", symbol=symbol) from None
            if kind == "snapshot":
                out.append(Snapshot(symbol=symbol, bids=bids, asks=asks, checksum=checksum))
            elif kind == "update":
                out.append(Delta(symbol=symbol, bids=bids, asks=asks, checksum=checksum))
            else:
                raise FrameError(f"unknown book message type {kind!r}", symbol=symbol)
        return out
