"""KuCoin spot ``/market/level2`` (incremental order book) with public REST snapshots.

Connecting (KuCoin docs, "WebSocket > Basic Info"): a token first, then the socket.

* ``POST /api/v1/bullet-public`` (no authentication) on the REST base answers
  ``{"code": "200000", "data": {"token": "...", "instanceServers": [{"endpoint": "wss://ws-api-spot.kucoin.com/",
  "encrypt": true, "protocol": "websocket", "pingInterval": 18000, "pingTimeout": 10000}]}}``. The
  endpoint may change ("it is recommended to use a dynamic URL"), so the request is made before every
  connection attempt (:meth:`KucoinAdapter.connect_request`) and the socket goes to
  ``<endpoint>?token=<token>&connectId=<id>`` (:meth:`KucoinAdapter.connect_url`). The token is a
  credential for that connection: it is never logged, kept or put into an error.
* The server greets with ``{"id": <connectId>, "type": "welcome"}``; the client sends
  ``{"id": "..", "type": "ping"}`` every ``pingInterval`` ms (answered ``{"id": .., "type": "pong"}``) or
  is disconnected. Subscriptions are sent as soon as the socket is open (KuCoin queues them behind the
  welcome; no capture of a refusal exists).
* ``{"id": "7", "type": "subscribe", "topic": "/market/level2:BTC-USDT,ETH-USDT", "response": true}``
  (at most 100 symbols per topic), acknowledged ``{"id": "7", "type": "ack"}``; a refusal is
  ``{"id": "7", "type": "error", "code": 404, "data": "topic does not exist"}``: every symbol of that
  request is :class:`~dragonfly.listeners.events.Rejected`. ``unsubscribe`` has the same shape.

Updates (docs, "Orderbook - Increment")::

    {"type": "message", "topic": "/market/level2:BTC-USDT", "subject": "trade.l2update",
     "data": {"sequenceStart": 14701689783, "sequenceEnd": 14701689783, "symbol": "BTC-USDT",
              "time": 1729816425625, "changes": {"asks": [["67993.3", "1.21427407", "14701689783"]], "bids": []}}}

Every change is ``[price, size, sequence]`` with an absolute size (``"0"`` removes the level).
``["0", "0", sequence]`` entries only carry a sequence number and are skipped. Messages of one
symbol chain (``sequenceStart`` = the previous ``sequenceEnd`` + 1); against a snapshot of sequence
S the docs say: drop messages with ``sequenceEnd <= S``, and in the message that straddles S apply
only the changes whose own sequence is > S
(:class:`~dragonfly.listeners.rules.EntryUpdateIdRange`). No checksum.

Snapshots: ``GET /api/v1/market/orderbook/level2_100?symbol=BTC-USDT`` (or ``level2_20``, the
configuration's ``snapshot_depth``), ``{"code": "200000", "data": {"sequence": "3262786978",
"time": ms, "bids": [[price, size], ...], "asks": [...]}}``: the only public ones. The full book
(``/api/v3/market/orderbook/level2``, formerly ``/api/v2/...`` without a key, which the live capture
used) now needs an API key. So the book is exact within the snapshot's 100 levels: deeper levels
appear as the stream touches them, and the book is capped at ``max_depth`` (default 100) levels;
its top N stays right while the side does not lose more than ``100 - N`` of its levels between two
snapshots (any fault, or a reconnect, fetches a new one).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Sequence
from typing import Any

from yarl import URL

from ..._core.doc import ARRAY, NUMBER, OBJECT, STRING, Doc
from ...errors import ExtractError, FrameError, VenueError
from ...instruments import Instrument
from ...listeners.events import Delta, Rejected, Snapshot, doc_sides
from ...listeners.rules import EntryUpdateIdRange
from ..base import ConnectRequest, Event, VenueAdapter, need, object_doc
from .config import KucoinConfig

__all__ = ("TOPIC", "KucoinAdapter")

#: The incremental order-book topic (``/market/level2:<symbol>,<symbol>``).
TOPIC = "/market/level2:"
#: Symbols per subscribe message (KuCoin's limit per topic).
MAX_TOPIC_SYMBOLS = 100
_OK = "200000"
_SUBJECT = "trade.l2update"
_FILLER = '["0","0",'
_FILLER_B = b'["0","0",'
_MAX_REQUESTS = 1024  # requests awaiting their ack (a bound: acks remove them)


def _code(doc: Doc, h: int) -> str:
    """The ``code`` member of object ``h`` as text ("" when absent)."""
    c = doc.get(h, "code")
    return doc.text(c) if c >= 0 and doc.kind(c) in (STRING, NUMBER) else ""


class KucoinAdapter(VenueAdapter):
    """KuCoin spot incremental order book; the symbol is KuCoin's (``BTC-USDT``)."""

    snapshot_source = "rest"
    ping_interval_s: float | None = 18.0  # until a token response says otherwise

    def __init__(self, config: KucoinConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(min(config.snapshot_depth, config.max_depth), f"level2_{config.snapshot_depth}")
        self.rule = EntryUpdateIdRange()
        self._ids = itertools.count(1)
        self._requests: dict[str, tuple[str, tuple[str, ...]]] = {}  # id -> (type, symbols), until acked

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def book_depth(self, symbol: str) -> int:
        return int(self.config.max_depth)

    # -- connection -------------------------------------------------------------------------------

    def _rest(self, path: str) -> URL:
        base = URL(self.config.rest_url)
        return base.with_path(base.path.rstrip("/") + path)

    def connect_request(self, symbols: Sequence[str]) -> ConnectRequest:
        return ConnectRequest(method="POST", url=str(self._rest("/api/v1/bullet-public")))

    def connect_url(self, symbols: Sequence[str], body: bytes) -> str:
        """``<endpoint>?token=..&connectId=..`` from the ``bullet-public`` response; also takes its
        ``pingInterval``.

        Raises
        ------
        VenueError
            The response is refused (``code`` other than ``"200000"``) or malformed. The error
            names what was wrong, never the body (it holds the token).
        """
        try:
            doc = Doc(body)
            code = _code(doc, 0) if doc.kind(0) == OBJECT else ""
            if code != _OK:
                raise VenueError(f"{self.name}: token request refused (code {code[:16]!r})", venue=self.name,
                                 code=code[:16])
            data = need(doc, 0, "data")
            token = doc.str(need(doc, data, "token"))
            server = doc.at(need(doc, data, "instanceServers"), 0)
            if server < 0:
                raise IndexError("no instance server")
            endpoint = URL(doc.str(need(doc, server, "endpoint")))
            interval = doc.get(server, "pingInterval")
            interval_ms = doc.float(interval) if interval >= 0 else 0.0
        except (ExtractError, IndexError, TypeError, ValueError) as exc:
            raise VenueError(f"{self.name}: malformed token response ({type(exc).__name__})", venue=self.name) from None
        if endpoint.scheme not in ("ws", "wss") or not endpoint.host or not token:
            raise VenueError(f"{self.name}: the token response names no WebSocket endpoint", venue=self.name)
        if 1000.0 <= interval_ms <= 600_000.0:
            self.ping_interval_s = interval_ms / 1000.0
        return str(endpoint.update_query(token=token, connectId=uuid.uuid4().hex))

    def ping(self) -> str:
        return json.dumps({"id": str(next(self._ids)), "type": "ping"})

    def connected(self) -> None:
        self._requests.clear()  # requests of the previous connection will never be answered

    def _request(self, kind: str, symbols: Sequence[str]) -> list[str]:
        out = []
        for i in range(0, len(symbols), MAX_TOPIC_SYMBOLS):
            chunk = tuple(symbols[i : i + MAX_TOPIC_SYMBOLS])
            rid = str(next(self._ids))
            if len(self._requests) >= _MAX_REQUESTS:
                del self._requests[next(iter(self._requests))]
            self._requests[rid] = (kind, chunk)
            out.append(json.dumps({"id": rid, "type": kind, "topic": TOPIC + ",".join(chunk), "response": True}))
        return out

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return self._request("subscribe", symbols)

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return self._request("unsubscribe", symbols)

    # -- snapshots --------------------------------------------------------------------------------

    def snapshot_url(self, symbol: str) -> str:
        path = f"/api/v1/market/orderbook/level2_{self.config.snapshot_depth}"
        return str(self._rest(path).with_query(symbol=symbol))

    def parse_snapshot(self, symbol: str, body: bytes) -> Snapshot:
        doc = Doc(body)
        code = _code(doc, 0)
        if code != _OK:
            raise VenueError(f"{self.name}: snapshot of {symbol} refused (code {code[:16]!r})", venue=self.name,
                             code=code[:16])
        data = need(doc, 0, "data")
        bids, asks = doc_sides(doc, need(doc, data, "bids"), need(doc, data, "asks"))
        t = doc.get(data, "time")
        return Snapshot(symbol=symbol, bids=bids, asks=asks, last=doc.int(need(doc, data, "sequence")),
                        exchange_ts_ns=doc.int(t) * 1_000_000 if t >= 0 else 0)

    # -- frames -----------------------------------------------------------------------------------

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        type_h = doc.get(0, "type")
        kind = doc.str(type_h) if type_h >= 0 and doc.kind(type_h) == STRING else None
        if kind == "message":
            return self._message(doc, frame)
        if kind == "error":
            return self._error(doc)
        if kind == "ack":
            id_h = doc.get(0, "id")
            if id_h >= 0 and doc.kind(id_h) in (STRING, NUMBER):
                self._requests.pop(doc.text(id_h), None)
            return ()
        if kind is not None:
            return ()  # welcome, pong, notice, ...
        raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")

    def _message(self, doc: Doc, frame: str | bytes) -> Sequence[Event]:
        topic_h = doc.get(0, "topic")
        topic = doc.str(topic_h) if topic_h >= 0 and doc.kind(topic_h) == STRING else ""
        if not topic.startswith(TOPIC):
            return ()  # other topics of the connection
        data = doc.get(0, "data")
        s = doc.get(data, "symbol") if data >= 0 else -1
        symbol = doc.str(s) if s >= 0 and doc.kind(s) == STRING else topic[len(TOPIC) :]
        subject = doc.get(0, "subject")
        if subject >= 0 and doc.kind(subject) == STRING and doc.str(subject) != _SUBJECT:
            return ()
        try:
            changes = need(doc, data, "changes")
            bh, ah = need(doc, changes, "bids"), need(doc, changes, "asks")
            if doc.kind(bh) != ARRAY or doc.kind(ah) != ARRAY:
                raise TypeError("changes of a side must be an array")
            first = doc.int(need(doc, data, "sequenceStart"))
            last = doc.int(need(doc, data, "sequenceEnd"))
            t = doc.get(data, "time")
            ts = doc.int(t) * 1_000_000 if t >= 0 else 0
            if (_FILLER in frame) if type(frame) is str else (_FILLER_B in frame):
                bids: Any = _without_fillers(doc.value(bh, text_numbers=True))
                asks: Any = _without_fillers(doc.value(ah, text_numbers=True))
            else:
                bids, asks = doc_sides(doc, bh, ah)
        except (ExtractError, IndexError, TypeError) as exc:
            raise FrameError(f"bad l2update: {type(exc).__name__}: {exc}", symbol=symbol) from None
        return (Delta(symbol=symbol, bids=bids, asks=asks, first=first, last=last, exchange_ts_ns=ts),)

    def _error(self, doc: Doc) -> Sequence[Event]:
        id_h = doc.get(0, "id")
        rid = doc.text(id_h) if id_h >= 0 and doc.kind(id_h) in (STRING, NUMBER) else ""
        d = doc.get(0, "data")
        reason = f"{_code(doc, 0)} {doc.text(d) if d >= 0 and doc.kind(d) in (STRING, NUMBER) else ''}".strip()[:160]
        kind, symbols = self._requests.pop(rid, ("", ()))
        if kind == "subscribe":
            return tuple(Rejected(symbol=s, reason=reason) for s in symbols)
        raise FrameError(f"venue error: {reason}")


def _without_fillers(entries: list[Any]) -> list[Any]:
    """The changes of one side without ``["0", "0", sequence]`` entries (they carry only a sequence)."""
    return [e for e in entries if not (type(e) is list and len(e) > 1 and e[0] == "0" and e[1] == "0")]
