"""Gate.io ``order_book_update``: spot v4 (``wss://api.gateio.ws/ws/v4/``) or USDT/BTC-settled
perpetual futures (``wss://fx-ws.gateio.ws/v4/ws/usdt``), with REST snapshots.

Requests and answers (Gate.io API v4 WebSocket docs, "Changed order book levels")::

    -> {"time": 1606294781, "id": 7, "channel": "spot.order_book_update", "event": "subscribe",
        "payload": ["BTC_USDT", "100ms"]}                      (futures: ["BTC_USDT", "100ms", "100"])
    <- {"time": .., "id": 7, "channel": "spot.order_book_update", "event": "subscribe",
        "error": null, "result": {"status": "success"}}        (refused: "error": {"code": 2, "message": ..})
    <- {"time": .., "channel": "spot.order_book_update", "event": "update",
        "result": {"t": 1606294781123, "e": "depthUpdate", "E": 1606294781, "s": "BTC_USDT",
                   "U": 48776301, "u": 48776306, "b": [["19137.74", "0.0001"], ["19088.37", "0"]],
                   "a": [["19137.75", "0.6135"]]}}
    futures:  "result": {"t": ms, "s": "BTC_USDT", "U": .., "u": .., "b": [{"p": "54672.1", "s": 0}], "a": [..],
                         "l": "100"}
    -> {"time": .., "channel": "spot.ping"}   <- {"time": .., "channel": "spot.pong", "event": "", ...}

One pair per subscription; the request ``id`` comes back in the answer, so a refusal is the
:class:`~dragonfly.listeners.events.Rejected` of that pair. Amounts are absolute (``"0"`` removes
the level). The channel covers the top ``depth`` levels (spot: 100 at ``100ms``, 20 at ``20ms``),
which is also the book's cap. Current feeds may send ``"full": true`` in a message: the whole
top ``depth`` at update id ``u``, to replace the book (a :class:`~dragonfly.listeners.events.Snapshot`).

Snapshots: ``GET /api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true`` ->
``{"id": N, "current": ms, "update": ms, "asks": [[p, a], ...], "bids": [...]}`` (futures:
``/api/v4/futures/usdt/order_book?contract=BTC_USDT&...`` with ``{"p", "s"}`` levels and times in
seconds). Sync as Gate.io documents it (:class:`~dragonfly.listeners.rules.UpdateIdRange`): drop
updates with ``u < id + 1``, the first one applied has ``U <= id + 1 <= u``, then each ``U`` is the
previous ``u + 1``; a snapshot older than the live book (a REST answer overtaken by a
``full`` message) is skipped. No checksum.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from typing import Any

from yarl import URL

from ..._core.doc import ARRAY, NULL, NUMBER, STRING, TRUE, Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Rejected, Snapshot, doc_sides
from ...listeners.rules import UpdateIdRange
from ..base import Event, VenueAdapter, need, object_doc
from .config import GateioConfig

__all__ = ("GateioAdapter",)

_MAX_REQUESTS = 1024  # subscriptions awaiting their answer (a bound: answers remove them)


class GateioAdapter(VenueAdapter):
    """Gate.io spot or futures ``order_book_update``; the symbol is the pair or contract (``BTC_USDT``)."""

    snapshot_source = "rest"
    ping_interval_s: float | None = 10.0

    def __init__(self, config: GateioConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.depth, f"{config.market}.order_book_update at depth {config.depth}")
        self.rule = UpdateIdRange()
        self.futures = config.market == "futures"
        self.channel = f"{config.market}.order_book_update"
        self._ping_channel = f"{config.market}.ping"
        self._ids = itertools.count(1)
        self._requests: dict[int, tuple[str, str]] = {}  # id -> (event, symbol), until answered

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}_{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return int(self.config.depth)

    # -- requests ---------------------------------------------------------------------------------

    def _request(self, event: str, symbol: str) -> str:
        rid = next(self._ids)
        if len(self._requests) >= _MAX_REQUESTS:
            del self._requests[next(iter(self._requests))]
        self._requests[rid] = (event, symbol)
        cfg = self.config
        payload = [symbol, cfg.interval, str(cfg.depth)] if self.futures else [symbol, cfg.interval]
        return json.dumps({"time": int(time.time()), "id": rid, "channel": self.channel, "event": event,
                           "payload": payload})

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("subscribe", s) for s in symbols]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("unsubscribe", s) for s in symbols]

    def ping(self) -> str:
        return json.dumps({"time": int(time.time()), "channel": self._ping_channel})

    def connected(self) -> None:
        self._requests.clear()  # requests of the previous connection will never be answered

    # -- snapshots --------------------------------------------------------------------------------

    def snapshot_url(self, symbol: str) -> str:
        cfg = self.config
        base = URL(cfg.rest_url)
        if self.futures:
            path, key = f"/api/v4/futures/{cfg.settle}/order_book", "contract"
        else:
            path, key = "/api/v4/spot/order_book", "currency_pair"
        url = base.with_path(base.path.rstrip("/") + path)
        return str(url.with_query({key: symbol, "limit": cfg.depth, "with_id": "true"}))

    def parse_snapshot(self, symbol: str, body: bytes) -> Snapshot:
        doc = Doc(body)
        bh, ah = need(doc, 0, "bids"), need(doc, 0, "asks")
        if self.futures:
            bids: Any = _objects(doc, bh)
            asks: Any = _objects(doc, ah)
        else:
            bids, asks = doc_sides(doc, bh, ah)
        return Snapshot(symbol=symbol, bids=bids, asks=asks, last=doc.int(need(doc, 0, "id")),
                        exchange_ts_ns=_snapshot_ns(doc, doc.get(0, "update"), self.futures))

    # -- frames -----------------------------------------------------------------------------------

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        ch = doc.get(0, "channel")
        channel = doc.str(ch) if ch >= 0 and doc.kind(ch) == STRING else ""
        ev = doc.get(0, "event")
        event = doc.str(ev) if ev >= 0 and doc.kind(ev) == STRING else ""
        if channel == self.channel and event == "update":
            return self._update(doc)
        error = doc.get(0, "error")
        if error >= 0 and doc.kind(error) != NULL:
            return self._error(doc, error)
        if event in ("subscribe", "unsubscribe"):
            i = doc.get(0, "id")
            if i >= 0 and doc.kind(i) == NUMBER:
                self._requests.pop(doc.int(i), None)
            return ()
        if channel:
            return ()  # pongs, other channels
        raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")

    def _update(self, doc: Doc) -> Sequence[Event]:
        result = doc.get(0, "result")
        s = doc.get(result, "s") if result >= 0 else -1
        symbol = doc.str(s) if s >= 0 and doc.kind(s) == STRING else ""
        try:
            bh, ah = need(doc, result, "b"), need(doc, result, "a")
            if doc.kind(bh) != ARRAY or doc.kind(ah) != ARRAY:
                raise TypeError("b and a must be arrays")
            if self.futures:
                bids: Any = _objects(doc, bh)
                asks: Any = _objects(doc, ah)
            else:
                bids, asks = doc_sides(doc, bh, ah)
            first = doc.int(need(doc, result, "U"))
            last = doc.int(need(doc, result, "u"))
            t = doc.get(result, "t")
            ts = doc.int(t) * 1_000_000 if t >= 0 else 0
            full = doc.get(result, "full")
        except (ExtractError, IndexError, TypeError) as exc:
            raise FrameError(f"bad order_book_update: {type(exc).__name__}: {exc}", symbol=symbol) from None
        if full >= 0 and doc.kind(full) == TRUE:
            return (Snapshot(symbol=symbol, bids=bids, asks=asks, last=last, exchange_ts_ns=ts),)
        return (Delta(symbol=symbol, bids=bids, asks=asks, first=first, last=last, exchange_ts_ns=ts),)

    def _error(self, doc: Doc, error: int) -> Sequence[Event]:
        code = doc.get(error, "code")
        message = doc.get(error, "message")
        reason = " ".join(
            doc.text(h) for h in (code, message) if h >= 0 and doc.kind(h) in (STRING, NUMBER)
        ).strip()[:160]
        i = doc.get(0, "id")
        event, symbol = self._requests.pop(doc.int(i), ("", "")) if i >= 0 and doc.kind(i) == NUMBER else ("", "")
        if event == "subscribe":
            return (Rejected(symbol=symbol, reason=reason),)
        raise FrameError(f"venue error: {reason}")


def _objects(doc: Doc, h: int) -> list[tuple[str, str]]:
    """Futures levels ``[{"p": price, "s": size}, ...]`` as ``(price_text, size_text)`` pairs."""
    if doc.kind(h) != ARRAY:
        raise TypeError("levels must be an array")
    return [(doc.text(need(doc, e, "p")), doc.text(need(doc, e, "s"))) for e in doc.children(h)]


def _snapshot_ns(doc: Doc, h: int, seconds: bool) -> int:
    """The snapshot's ``update`` time (spot: ms, futures: seconds with a fraction) in ns, 0 if unusable."""
    if h < 0 or doc.kind(h) != NUMBER:
        return 0
    if seconds:
        return round(doc.float(h) * 1000) * 1_000_000
    try:
        return doc.int(h) * 1_000_000
    except ExtractError:  # not an integer
        return round(doc.float(h)) * 1_000_000
