"""Binance spot: partial book depth (top N every period) and diff depth with the REST snapshot.

Formats (Binance public docs, ``web-socket-streams.md`` and ``rest-api.md``), on the combined
stream ``/stream?streams=a/b/c`` where every frame is ``{"stream": <name>, "data": <payload>}``:

* ``<symbol>@depth20@100ms``: ``{"lastUpdateId": 160, "bids": [["0.0024", "10"], ...], "asks": [...]}``
  -- a top-N snapshot (no event time);
* ``<symbol>@depth@100ms``: ``{"e": "depthUpdate", "E": ms, "s": "BNBBTC", "U": first, "u": last,
  "b": [[price, qty], ...], "a": [...]}``;
* REST ``GET /api/v3/depth?symbol=BNBBTC&limit=1000``: ``{"lastUpdateId": N, "bids": [...], "asks": [...]}``.

Diff sync as Binance documents it: buffer the stream, fetch a snapshot, drop events with
``u <= lastUpdateId``, the first applied event straddles ``lastUpdateId + 1``, then each ``U``
is the previous ``u + 1`` (:class:`~dragonfly.listeners.rules.UpdateIdRange`). No checksum.
Live subscribe on an open connection: ``{"method": "SUBSCRIBE", "params": [...], "id": 1}``,
answered ``{"result": null, "id": 1}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from yarl import URL

from ..._core.doc import OBJECT, STRING, Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Snapshot, TopSnapshot, doc_sides
from ...listeners.rules import UpdateIdRange
from ..base import Event, TopNAdapter, VenueAdapter, need, object_doc
from ..routing import int_field, string_field
from .config import BinanceConfig, BinanceDiffConfig

__all__ = ("BinanceAdapter", "BinanceDiffAdapter", "route", "last_update_id", "stream_url")

log = logging.getLogger(__name__)

_STREAM_HEAD = '{"stream":"'
_SEQ_NEEDLE = '"lastUpdateId":'


def route(frame: str | bytes) -> str | None:
    """The ``stream`` key of a combined-stream frame (Binance puts it first), or None."""
    if type(frame) is str and frame.startswith(_STREAM_HEAD):  # the compact spelling Binance sends
        k = frame.find('"', 11)
        if k > 11:
            key = frame[11:k]
            if "\\" not in key:
                return key
    return string_field(frame, "stream")


def last_update_id(frame: str | bytes) -> int:
    """``data.lastUpdateId`` (ValueError when absent)."""
    if type(frame) is str:  # fast path: ``"lastUpdateId":123,`` at its first occurrence, as Binance sends it
        i = frame.find(_SEQ_NEEDLE)
        if i >= 0:
            j = i + 15
            k = frame.find(",", j)
            if 0 < k - j <= 20:
                v = frame[j:k]
                if v.isdigit() and v.isascii():
                    return int(v)
    return int_field(frame, "lastUpdateId")


def stream_url(base_url: str, streams: Sequence[str]) -> str:
    """``<base>/stream?streams=a/b/c``; '/' and '@' stay literal, as Binance expects them."""
    base = URL(base_url)
    path = base.path.rstrip("/") + "/stream"
    return str(base.with_path(path).with_query(None)) + "?streams=" + "/".join(streams)


def _method(method: str, streams: Sequence[str]) -> str:
    return json.dumps({"method": method, "params": list(streams), "id": 1}, separators=(",", ":"))


def _control(frame: str | bytes) -> list[Event]:
    """A frame without a known stream: a method reply (``result``/``error``) or garbage."""
    try:
        message = json.loads(frame)
    except ValueError as exc:
        raise FrameError(f"not JSON: {exc}") from None
    if isinstance(message, dict) and "error" in message:
        log.warning("binance: error reply %s", str(message["error"])[:200])
    return []


class BinanceAdapter(TopNAdapter):
    """Partial book depth: every frame a top-N snapshot; the symbol is the stream name."""

    reader_spec: ClassVar[dict[str, Any] | None] = {"seq_key": "lastUpdateId", "route_head": _STREAM_HEAD}

    def __init__(self, config: BinanceConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.levels, f"depth{config.levels}")

    def symbol(self, instrument: Instrument) -> str:
        suffix = "" if self.config.speed == "1000ms" else f"@{self.config.speed}"
        return f"{instrument.base}{instrument.quote}".lower() + f"@depth{self.config.levels}{suffix}"

    def url(self, symbols: Sequence[str]) -> str:
        return stream_url(self.config.base_url, symbols)  # the streams are in the URL: a reconnect resubscribes

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [_method("UNSUBSCRIBE", symbols)]

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return []

    def resubscribe(self, symbol: str) -> list[str]:
        return []  # every frame is a snapshot

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        snap = self._read(frame)
        if snap is not None:
            return (snap,)
        key = route(frame)
        if key is None:
            return _control(frame)
        try:
            seq = last_update_id(frame)
            ext = self._top(key, frame)
        except (ExtractError, ValueError) as exc:
            raise FrameError(f"{type(exc).__name__}: {exc}", symbol=key) from None
        return (TopSnapshot(symbol=key, top=ext, last=seq),)


class BinanceDiffAdapter(VenueAdapter):
    """Diff depth with the REST snapshot; the symbol is Binance's (``BTCUSDT``), as in ``data.s``."""

    snapshot_source = "rest"

    def __init__(self, config: BinanceDiffConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.rule = UpdateIdRange()

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}".upper()

    def _stream(self, symbol: str) -> str:
        return f"{symbol.lower()}@depth@{self.config.speed}"

    def url(self, symbols: Sequence[str]) -> str:
        return stream_url(self.config.base_url, [self._stream(s) for s in symbols])

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [_method("UNSUBSCRIBE", [self._stream(s) for s in symbols])]

    def snapshot_url(self, symbol: str) -> str:
        base = URL(self.config.rest_url)
        path = base.path.rstrip("/") + "/api/v3/depth"
        return str(base.with_path(path).with_query(symbol=symbol, limit=self.config.snapshot_limit))

    def parse_snapshot(self, symbol: str, body: bytes) -> Snapshot:
        doc = Doc(body)
        bids, asks = doc_sides(doc, need(doc, 0, "bids"), need(doc, 0, "asks"))
        return Snapshot(symbol=symbol, bids=bids, asks=asks, last=doc.int(need(doc, 0, "lastUpdateId")))

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        data = doc.get(0, "data")
        if data < 0:
            data = 0
        e = doc.get(data, "e") if doc.kind(data) == OBJECT else -1
        if e < 0 or doc.kind(e) != STRING or doc.str(e) != "depthUpdate":
            stream = doc.get(0, "stream")
            if doc.get(0, "result") >= 0 or doc.get(0, "id") >= 0:
                error = doc.get(0, "error")
                if error >= 0:
                    log.warning("binance: error reply %s", str(doc.value(error))[:200])
                return ()  # method replies
            if e >= 0 or (stream >= 0 and doc.kind(stream) == STRING and "@depth" not in doc.str(stream)):
                return ()  # other streams of the connection (trades, bookTicker, ...)
            raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")
        s = doc.get(data, "s")
        symbol = doc.str(s) if s >= 0 and doc.kind(s) == STRING else ""
        try:
            bids, asks = doc_sides(doc, need(doc, data, "b"), need(doc, data, "a"))
            return (
                Delta(
                    symbol=symbol,
                    bids=bids,
                    asks=asks,
                    first=doc.int(need(doc, data, "U")),
                    last=doc.int(need(doc, data, "u")),
                    exchange_ts_ns=doc.int(need(doc, data, "E")) * 1_000_000,
                ),
            )
        except (ExtractError, IndexError) as exc:
            raise FrameError(f"bad depthUpdate: {type(exc).__name__}: {exc}", symbol=symbol) from None
