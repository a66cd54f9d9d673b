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

from ..._core.doc import NULL, OBJECT, STRING, Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Rejected, Snapshot, doc_sides
from ...listeners.rules import PrevId
from ..base import Event, ListSubscriptions, VenueAdapter, need, object_doc
from .config import CHANNEL_DEPTHS, OkxConfig

__all__ = ("OkxAdapter",)


def _int_or(doc: Doc, h: int, default: int = -1) -> int:
    return default if h < 0 or doc.kind(h) == NULL else doc.int(h)


class OkxAdapter(ListSubscriptions, VenueAdapter):
    """OKX v5 books; the symbol is the ``instId`` (``BTC-USDT``)."""

    checksum = "crc32_top25_interleaved"

    def __init__(self, config: OkxConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(CHANNEL_DEPTHS[config.channel], config.channel)
        self.rule = PrevId()

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return CHANNEL_DEPTHS[self.config.channel]

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        return json.dumps({"op": op, "args": [{"channel": self.config.channel, "instId": s} for s in symbols]})

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        if frame == "pong" or frame == b"pong":
            return ()
        doc = object_doc(frame)
        event = doc.get(0, "event")
        if event >= 0:
            if doc.kind(event) == STRING and doc.str(event) == "error":
                m = doc.value(0)
                arg = m.get("arg") or {}
                inst = arg.get("instId", "") if isinstance(arg, dict) else ""
                text = f"{m.get('code', '')} {m.get('msg', '')}".strip()
                if inst:
                    return (Rejected(symbol=str(inst), reason=text),)
            return ()  # subscribe / unsubscribe replies
        arg = doc.get(0, "arg")
        if arg < 0 or doc.kind(arg) != OBJECT:
            raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")
        channel = doc.get(arg, "channel")
        if channel < 0 or doc.kind(channel) != STRING or not doc.str(channel).startswith("books"):
            return ()
        inst = doc.get(arg, "instId")
        symbol = doc.str(inst) if inst >= 0 and doc.kind(inst) == STRING else ""
        out: list[Event] = []
        try:
            action_h = doc.get(0, "action")
            action = doc.str(action_h) if action_h >= 0 else "snapshot"
            if action not in ("snapshot", "update"):
                raise ValueError(f"unknown action {action!r}")
            for d in doc.children(need(doc, 0, "data")):
                c = doc.get(d, "checksum")
                checksum = doc.int(c) if c >= 0 else None
                ts_h = doc.get(d, "ts")
                ts = doc.int(ts_h) * 1_000_000 if ts_h >= 0 else 0
                bids, asks = doc_sides(doc, need(doc, d, "bids"), need(doc, d, "asks"))
                seq = _int_or(doc, doc.get(d, "seqId"))
                if action == "snapshot":
                    out.append(
                        Snapshot(symbol=symbol, bids=bids, asks=asks, last=seq, checksum=checksum, exchange_ts_ns=ts)
                    )
                else:
                    prev = _int_or(doc, doc.get(d, "prevSeqId"))
                    delta = Delta(
                        symbol=symbol, bids=bids, asks=asks, last=seq, prev=prev, checksum=checksum, exchange_ts_ns=ts
                    )
                    out.append(delta)
        except (ExtractError, IndexError, ValueError) as exc:
            raise FrameError(f"bad books message: {type(exc).__name__}: {exc}", symbol=symbol) from None
        return out
