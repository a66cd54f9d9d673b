"""OKX v5 public order-book channels (``books``, ``books-l2-tbt``, ``books50-l2-tbt``).

A snapshot after subscribing, then updates; every message carries the signed CRC32 of the
interleaved top 25 levels (``checksum``) and, on current feeds, ``seqId``/``prevSeqId``
(:class:`~dragonfly.listeners.rules.PrevId`). A gap or a checksum mismatch re-subscribes that
instrument for a fresh snapshot.

Messages (OKX public docs, "Order book channel")::

    {"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]}
    {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "snapshot"|"update",
     "data": [{"asks": [[price, size, "0", orders], ...], "bids": [...], "ts": ms,
               "checksum": crc, "prevSeqId": n, "seqId": m}]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ...errors import FrameError
from ...listeners.events import Delta, Rejected, Snapshot
from ...listeners.rules import PrevId
from ..base import Event, VenueAdapter
from ...instruments import Instrument
from .config import CHANNEL_DEPTHS, OkxConfig

__all__ = ("OkxAdapter",)


def _int_or(value: Any, default: int = -1) -> int:
    return default if value is None else int(value)


class OkxAdapter(VenueAdapter):
    """OKX v5 books; the symbol is the ``instId`` (``BTC-USDT``)."""

    checksum = "okx"

    def __init__(self, config: OkxConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(CHANNEL_DEPTHS[config.channel], config.channel)
        self.rule = PrevId()

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return CHANNEL_DEPTHS[self.config.channel]

    def _op(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps({"op": op, "args": [{"channel": self.config.channel, "instId": s} for s in symbols]})

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("subscribe", symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._op("unsubscribe", symbols)]

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        if frame == "pong" or frame == b"pong":
            return ()
        m = json.loads(frame)
        if not isinstance(m, dict):
            raise FrameError("not a JSON object")
        event = m.get("event")
        if event is not None:
            if event == "error":
                arg = m.get("arg") or {}
                inst = arg.get("instId", "") if isinstance(arg, dict) else ""
                text = f"{m.get('code', '')} {m.get('msg', '')}".strip()
                if inst:
                    return (Rejected(symbol=inst, reason=text),)
            return ()  # subscribe / unsubscribe replies
        arg = m.get("arg")
        if not isinstance(arg, dict):
            raise FrameError(f"unexpected message: {str(m)[:80]}")
        if not str(arg.get("channel", "")).startswith("books"):
            return ()
        symbol = str(arg.get("instId", ""))
        action = m.get("action", "snapshot")
        out: list[Event] = []
        try:
            for d in m["data"]:
                checksum = int(d["checksum"]) if "checksum" in d else None
                ts = int(d.get("ts", 0)) * 1_000_000
                if action == "snapshot":
                    out.append(Snapshot(symbol=symbol, bids=d["bids"], asks=d["asks"], last=_int_or(d.get("seqId")),
                                        checksum=checksum, exchange_ts_ns=ts))
                elif action == "update":
                    out.append(Delta(symbol=symbol, bids=d["bids"], asks=d["asks"], last=_int_or(d.get("seqId")),
                                     prev=_int_or(d.get("prevSeqId")), checksum=checksum, exchange_ts_ns=ts))
                else:
                    raise ValueError(f"unknown action {action!r}")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FrameError(f"bad books message: {type(exc).__name__}: {exc}", symbol=symbol) from None
        return out
