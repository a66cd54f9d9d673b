"""Template venue: the simulator encoder, how :mod:`dragonfly.sim` speaks this venue.

An encoder is built from the same configuration as the adapter, does no I/O, and imports only
``dragonfly._core``, ``dragonfly.instruments``, ``dragonfly.errors``, ``dragonfly.venues.simkit``
and this folder (never ``dragonfly.sim``: the simulators import venues, not the reverse). Its
``engine`` names the generic server that runs it; the protocols it satisfies are documented in
:mod:`dragonfly.sim.encoder`:

``"snapshot"``  every frame is a whole top N (kind ``"top"``): ``style``, ``sends_unchanged``,
                ``next_seq``, ``render``, ``recorded``;
``"diff"``      deltas on true books (kinds ``"resubscribe"`` and ``"rest"``): ``snapshots``,
                ``checksum``, ``depth``, ``connection_sequence``, ``level``, ``id_step``,
                ``delta_frame``, ``snapshot_frame`` / ``rest_symbol`` + ``rest_body``, ``stamp``;
``"fix"``       FIX 4.4 market data: ``comp_id``, ``counterparties``.

WebSocket encoders also have ``symbol``, ``connect`` (subscriptions in the URL),
``client_message`` (subscribe/unsubscribe messages, through the connection's
``subscribe``/``unsubscribe``), ``heartbeat`` and ``reconnect_request``. A real venue has one
engine per encoder class; this one picks it from ``TemplateConfig.kind``.

:class:`~dragonfly.venues.simkit.DiffEncoderBase` (or ``SnapshotEncoderBase``) gives the answers
most venues share (no URL subscriptions, no heartbeat or reconnect request of its own, ids growing
by one, ``level`` with the tick's decimals, NotImplementedError for the members the engine never
calls); override what the venue does differently.

``SIM_VARIANTS`` lists other configurations the shared venue tests run (label -> config).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, compact_json, text_side
from .config import TemplateConfig

__all__ = ("SIM_VARIANTS", "TemplateEncoder")

#: Other setups the shared venue tests run (a real venue lists e.g. another API version).
SIM_VARIANTS = {"rest": TemplateConfig(kind="rest"), "top": TemplateConfig(kind="top")}


class TemplateEncoder(DiffEncoderBase):
    """The template venue's wire format (see ``adapter.py`` for the protocol). Inherited: no number
    on every frame of a connection, no checksum (a venue with one sets ``checksum`` to the core
    Book's kind), ids growing by one, ``level`` with the tick's decimals."""

    sends_unchanged = False  # a top-N venue that re-sends an unchanged book says True

    def __init__(self, config: TemplateConfig) -> None:
        super().__init__(config, depth=config.max_depth)
        self.engine = "snapshot" if config.kind == "top" else "diff"
        self.snapshots = "rest" if config.kind == "rest" else "stream"
        #: top-N feeds: the book's shape and rate (fields of dragonfly.sim.market.VenueStyle)
        self.style: Mapping[str, Any] = {"tick_exp": -4, "qty_decimals": 4, "text_decimals": 8, "levels": 20,
                                         "interval_s": 0.1}

    # -- every WebSocket encoder -------------------------------------------------------------------

    def symbol(self, instrument: Instrument) -> str:
        return instrument.name  # as the adapter's symbol()

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
            op = msg["op"]
            symbols = [str(s) for s in msg.get("symbols", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return [compact_json({"op": "error", "message": "bad request"})]
        if op not in ("subscribe", "unsubscribe") or msg.get("channel") != "book":
            return [compact_json({"op": "error", "message": f"unknown op {op!r}"})]
        out = []
        for s in symbols:
            if op == "unsubscribe":
                conn.unsubscribe(s)
                out.append(compact_json({"op": "unsubscribed", "symbol": s}))
            elif conn.subscribe(s):
                out.append(compact_json({"op": "subscribed", "symbol": s}))
            else:
                out.append(compact_json({"op": "error", "symbol": s, "message": "unknown symbol"}))
        return out

    def heartbeat(self) -> str | None:
        return compact_json({"channel": "heartbeat"})

    # -- top-N snapshot engine (kind "top") --------------------------------------------------------

    def next_seq(self, current: int, rng: random.Random) -> int:
        return current + 1

    def render(self, key: str, bids: Any, asks: Any, seq: int) -> str:
        return self._book("snapshot", key, [list(lv) for lv in bids], [list(lv) for lv in asks], seq, 0)

    def recorded(self, payload: str) -> tuple[str, Any, Any] | None:
        try:
            m = json.loads(payload)
            if m.get("channel") != "book" or m.get("type") != "snapshot":
                return None
            bids = text_side(m["bids"])
            asks = text_side(m["asks"])
            return str(m["symbol"]), bids, asks
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    # -- diff engine (kinds "resubscribe" and "rest") ----------------------------------------------

    def _book(self, kind: str, symbol: str, bids: Any, asks: Any, seq: int, ts_ms: int, prev: int | None = None) -> str:
        msg: dict[str, Any] = {"channel": "book", "type": kind, "symbol": symbol, "seq": seq}
        if prev is not None:
            msg["prev"] = prev
        msg.update(ts=ts_ms, bids=bids, asks=asks)
        return compact_json(msg)

    def delta_frame(self, u: Any) -> str:
        return self._book("update", u.symbol, u.bids, u.asks, u.last, u.ts_ms, prev=u.prev)

    def snapshot_frame(self, book: Any) -> str:
        return self._book("snapshot", book.symbol, book.bids, book.asks, book.last, book.ts_ms)

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        return query.get("symbol", "") if path == "/book" else None

    def rest_body(self, book: Any) -> str:
        return compact_json({"seq": book.last, "bids": book.bids, "asks": book.asks})
