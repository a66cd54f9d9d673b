"""Bitstamp WebSocket API v2: ``order_book_<pair>`` (top 100 snapshots) and ``diff_order_book_<pair>``.

Formats (Bitstamp public docs, "Websocket API v2"):

* subscribe ``{"event": "bts:subscribe", "data": {"channel": "order_book_ethbtc"}}``, answered
  ``{"event": "bts:subscription_succeeded", "channel": ..., "data": {}}``;
* data ``{"data": {"timestamp": "..", "microtimestamp": "..", "bids": [["p", "q"], ...], "asks": [...]},
  "channel": "order_book_ethbtc", "event": "data"}`` (``diff_order_book_*``: the changed levels, qty 0 deletes);
* ``bts:request_reconnect`` (the server asks the client to reconnect), ``bts:heartbeat``, ``bts:error``;
* REST ``GET /api/v2/order_book/<pair>/``: ``{"timestamp", "microtimestamp", "bids", "asks"}``.

Both feeds are keyed on ``microtimestamp`` (also the exchange time): order book snapshots older
than the last one arrived out of order and are skipped; diff deltas not newer than the snapshot
are dropped (:class:`~dragonfly.listeners.rules.Timestamp`). Bitstamp sends neither sequence
numbers nor a checksum, so a lost delta shows only as a crossed book; a malformed frame resyncs
every pair of the connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from yarl import URL

from ..._core.doc import Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Reconnect, Rejected, Snapshot, TopSnapshot, doc_sides
from ...listeners.rules import Timestamp
from ..base import Event, TopNAdapter, VenueAdapter, need
from ..routing import int_field, string_field
from .config import BitstampDiffConfig

__all__ = ("BitstampAdapter", "BitstampDiffAdapter", "route", "microtimestamp")

log = logging.getLogger(__name__)

_DATA_TAIL = ',"event":"data"}'
_CHANNEL = '"channel":"'
_MICROTS = '"microtimestamp":'


def route(frame: str | bytes) -> str | None:
    """The channel of an ``"event": "data"`` frame, else None. Bitstamp puts both keys last."""
    if type(frame) is str and frame.endswith(_DATA_TAIL):  # the documented key order, compact
        i = frame.rfind(_CHANNEL, max(0, len(frame) - 128))
        if i >= 0:
            j = i + len(_CHANNEL)
            k = frame.find('"', j)
            if k >= 0 and "\\" not in frame[j:k]:
                return frame[j:k]
    if string_field(frame, "event", from_end=True) != "data":
        return None
    return string_field(frame, "channel", from_end=True)


def microtimestamp(frame: str | bytes) -> int:
    """``data.microtimestamp`` in microseconds (ValueError when absent)."""
    if type(frame) is str:  # fast path: ``"microtimestamp":"123"`` at its first occurrence, as Bitstamp sends it
        i = frame.find(_MICROTS)
        if i >= 0 and frame.startswith('"', i + 17):
            j = i + 18
            k = frame.find('"', j)
            if 0 < k - j <= 20:
                v = frame[j:k]
                if v.isdigit() and v.isascii():
                    return int(v)
    return int_field(frame, "microtimestamp")


def _pair(instrument: Instrument) -> str:
    return f"{instrument.base}{instrument.quote}".lower()


def _op(event: str, channel: str) -> str:
    return json.dumps({"event": event, "data": {"channel": channel}}, separators=(",", ":"))


def _control(frame: str | bytes, prefix: str) -> list[Event]:
    """A frame that is not book data: subscription replies, reconnect requests, errors."""
    try:
        message = json.loads(frame)
    except ValueError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise FrameError("not a JSON object")
    event = message.get("event")
    if event == "bts:request_reconnect":
        return [Reconnect(reason="bts:request_reconnect")]
    if event == "bts:error":
        channel = str(message.get("channel", ""))
        text = str((message.get("data") or {}).get("message", "")) if isinstance(message.get("data"), dict) else ""
        if channel.startswith(prefix):
            return [Rejected(symbol=channel, reason=text or "bts:error")]
        log.warning("bitstamp: error event %s", text[:200])
        return []
    if isinstance(event, str):
        return []  # subscription_succeeded, unsubscription_succeeded, heartbeat, trades, ...
    raise FrameError(f"unexpected message: {str(message)[:80]}")


class BitstampAdapter(TopNAdapter):
    """``order_book_<pair>``: every frame the top 100 levels; the symbol is the channel name."""

    #: the core's one-call path for the documented key order (channel and event last)
    reader_spec: ClassVar[dict[str, Any] | None] = {
        "seq_key": "microtimestamp", "seq_quoted": True, "route_tail": _DATA_TAIL, "route_needle": _CHANNEL
    }
    seq_ts_ns: ClassVar[int] = 1000  # the microtimestamp is the exchange time

    def symbol(self, instrument: Instrument) -> str:
        return "order_book_" + _pair(instrument)

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [_op("bts:subscribe", s) for s in symbols]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [_op("bts:unsubscribe", s) for s in symbols]

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        snap = self._read(frame)
        if snap is not None:
            return (snap,)
        key = route(frame)
        if key is None:
            return _control(frame, "order_book_")
        try:
            micro = microtimestamp(frame)
            ext = self._top(key, frame)
        except (ExtractError, ValueError) as exc:
            raise FrameError(f"{type(exc).__name__}: {exc}", symbol=key) from None
        return (TopSnapshot(symbol=key, top=ext, last=micro, exchange_ts_ns=micro * 1000),)


class BitstampDiffAdapter(VenueAdapter):
    """``diff_order_book_<pair>`` + REST snapshot; the symbol is the pair (``btcusd``)."""

    snapshot_source = "rest"

    def __init__(self, config: BitstampDiffConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.rule = Timestamp()

    def symbol(self, instrument: Instrument) -> str:
        return _pair(instrument)

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [_op("bts:subscribe", f"diff_order_book_{s}") for s in symbols]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [_op("bts:unsubscribe", f"diff_order_book_{s}") for s in symbols]

    def snapshot_url(self, symbol: str) -> str:
        base = URL(self.config.rest_url)
        return str(base.with_path(base.path.rstrip("/") + f"/api/v2/order_book/{symbol}/"))

    def parse_snapshot(self, symbol: str, body: bytes) -> Snapshot:
        doc = Doc(body)
        micro = doc.int(need(doc, 0, "microtimestamp"))
        bids, asks = doc_sides(doc, need(doc, 0, "bids"), need(doc, 0, "asks"))
        return Snapshot(symbol=symbol, bids=bids, asks=asks, last=micro, exchange_ts_ns=micro * 1000)

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        channel = route(frame)
        if channel is None:
            events = _control(frame, "diff_order_book_")
            for ev in events:
                if isinstance(ev, Rejected):
                    ev.symbol = ev.symbol[len("diff_order_book_") :]
            return events
        if not channel.startswith("diff_order_book_"):
            return ()
        symbol = channel[len("diff_order_book_") :]
        try:
            doc = Doc(frame)
            data = need(doc, 0, "data")
            micro = doc.int(need(doc, data, "microtimestamp"))
            bids, asks = doc_sides(doc, need(doc, data, "bids"), need(doc, data, "asks"))
            return (Delta(symbol=symbol, bids=bids, asks=asks, last=micro, exchange_ts_ns=micro * 1000),)
        except (ExtractError, IndexError) as exc:
            raise FrameError(f"bad diff_order_book data: {type(exc).__name__}: {exc}", symbol=symbol) from None
