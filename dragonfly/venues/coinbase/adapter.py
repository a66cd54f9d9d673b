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

from ...errors import FrameError, SequenceGapError
from ...listeners.events import Delta, Heartbeat, Snapshot
from ...listeners.rules import NoSequence
from ..base import Event, VenueAdapter
from ...instruments import Instrument
from .config import CoinbaseConfig

__all__ = ("CoinbaseAdapter",)


class CoinbaseAdapter(VenueAdapter):
    """Coinbase level2; the symbol is the product id (``BTC-USD``)."""

    def __init__(self, config: CoinbaseConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.rule = NoSequence()
        self._seq = -1

    def connected(self) -> None:
        self._seq = -1  # Advanced Trade numbering starts again on every connection

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def _op(self, op: str, symbols: Sequence[str]) -> str:
        if self.config.api == "advanced":
            return json.dumps({"type": op, "product_ids": list(symbols), "channel": "level2"})
        return json.dumps({"type": op, "product_ids": list(symbols), "channels": [self.config.channel]})

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("subscribe", symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("unsubscribe", symbols)]

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise FrameError("not a JSON object")
        if self.config.api == "advanced":
            return self._parse_advanced(m)
        kind = m.get("type")
        symbol = m.get("product_id", "")
        if kind == "l2update":
            bids: list[Any] = []
            asks: list[Any] = []
            try:
                for side, price, size in m["changes"]:
                    if side == "buy":
                        bids.append((price, size))
                    elif side == "sell":
                        asks.append((price, size))
                    else:
                        raise ValueError(f"unknown side {side!r}")
            except (KeyError, TypeError, ValueError) as exc:
                raise FrameError(f"bad l2update: {type(exc).__name__}: {exc}", symbol=symbol) from None
            return (Delta(symbol=symbol, bids=bids, asks=asks),)
        if kind == "snapshot":
            try:
                return (Snapshot(symbol=symbol, bids=m["bids"], asks=m["asks"]),)
            except KeyError as exc:
                raise FrameError(f"bad snapshot: no {exc}", symbol=symbol) from None
        if kind == "heartbeat":
            return (Heartbeat(symbol=symbol or None),)
        if kind == "error":
            reason = f"{m.get('message', '')} {m.get('reason', '')}".strip()
            raise FrameError(f"venue error: {reason[:160]}")
        if isinstance(kind, str):
            return ()  # subscriptions, ticker, match, ...
        raise FrameError(f"unexpected message: {str(m)[:80]}")

    def _parse_advanced(self, m: dict[str, Any]) -> Sequence[Event]:
        if "sequence_num" in m:
            seq = int(m["sequence_num"])
            expected = self._seq + 1
            self._seq = seq
            if expected > 0 and seq != expected:
                raise SequenceGapError(
                    f"coinbase connection sequence jumped from {expected - 1} to {seq}",
                    venue="coinbase",
                    expected=expected,
                    got=seq,
                )
        channel = m.get("channel")
        if channel == "heartbeats":
            return (Heartbeat(),)
        if channel != "l2_data":
            return ()
        out: list[Event] = []
        for ev in m["events"]:
            symbol = ev.get("product_id", "") if isinstance(ev, dict) else ""
            bids: list[Any] = []
            asks: list[Any] = []
            try:
                for u in ev["updates"]:
                    side = u["side"]
                    level = (u["price_level"], u["new_quantity"])
                    if side == "bid":
                        bids.append(level)
                    elif side in ("offer", "ask"):
                        asks.append(level)
                    else:
                        raise ValueError(f"unknown side {side!r}")
                kind = ev["type"]
            except (KeyError, TypeError, ValueError) as exc:
                raise FrameError(f"bad l2_data event: {type(exc).__name__}: {exc}", symbol=symbol) from None
            out.append(Snapshot(symbol=symbol, bids=bids, asks=asks) if kind == "snapshot"
                       else Delta(symbol=symbol, bids=bids, asks=asks))
        return out


