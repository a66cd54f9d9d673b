"""Deribit API v2 (JSON-RPC 2.0 over WebSocket): the ``book.<instrument>.<interval>`` channel.

Per Deribit's docs ("book.{instrument_name}.{interval}", "Notifications", ``public/subscribe``,
``public/set_heartbeat``): the first notification after subscribing is the whole book
(``type: "snapshot"``), every later one carries only the changed levels (``type: "change"``) as
``[action, price, amount]`` with action ``new``, ``change`` or ``delete``. Every notification has a
``change_id``; every one but the first also has ``prev_change_id``, equal to the previous
notification's ``change_id`` when nothing was missed
(:class:`~dragonfly.listeners.rules.PrevId`). The actions say which levels exist, so deltas are
strict: a ``change`` or ``delete`` of a level the book does not have is an integrity fault. A gap,
a crossed book or such a fault re-subscribes that instrument, whose next notification is a
snapshot again. ``raw`` notifies every change (authorised connections only); ``100ms``
aggregates them (public).

Messages::

    -> {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 30}}
    -> {"jsonrpc": "2.0", "id": 2, "method": "public/subscribe", "params": {"channels": ["book.BTC-PERPETUAL.100ms"]}}
    <- {"jsonrpc": "2.0", "id": 2, "result": ["book.BTC-PERPETUAL.100ms"]}      (a channel left out: not subscribed)
    <- {"jsonrpc": "2.0", "id": 2, "error": {"code": n, "message": "..."}}       (the request refused)
    <- {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "book.BTC-PERPETUAL.100ms",
        "data": {"type": "snapshot"|"change", "timestamp": ms, "instrument_name": "BTC-PERPETUAL",
                 "change_id": n, "prev_change_id": m, "bids": [["new", price, amount], ...], "asks": [...]}}}
    <- {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"}}
    <- {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
    -> {"jsonrpc": "2.0", "id": 3, "method": "public/test", "params": {}}       (the answer; else Deribit disconnects)

Instruments (:func:`instrument_name`): dragonfly names an instrument ``BASE-QUOTE``; the quote
says what kind of Deribit instrument it is:

=========================  ==========================  ==============================================
dragonfly instrument       Deribit instrument          kind
=========================  ==========================  ==============================================
``BTC-PERPETUAL``          ``BTC-PERPETUAL``           inverse perpetual
``SOL-USDCPERPETUAL``      ``SOL_USDC-PERPETUAL``      linear perpetual (settlement currency first)
``BTC-25MAR22``            ``BTC-25MAR22``             future (expiry ``DMMMYY``)
``ETH-9APR211950C``        ``ETH-9APR21-1950-C``       option: expiry, strike, ``C``/``P``
``XRP-USDC29NOV240D6C``    ``XRP_USDC-29NOV24-0d6-C``  linear option (``D`` is Deribit's ``d`` decimal mark)
``BTC-USDC``               ``BTC_USDC``                spot pair (anything else)
=========================  ==========================  ==============================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..._core.doc import ARRAY, NUMBER, Doc
from ...errors import ExtractError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Heartbeat, Rejected, Reply, Snapshot
from ...listeners.rules import PrevId
from ..base import Event, VenueAdapter, need, object_doc, string_or
from .config import DeribitConfig

__all__ = ("DeribitAdapter", "instrument_name")

_HEARTBEAT = (Heartbeat(),)
_ACTIONS = ("new", "change", "delete")
#: A derivative's quote: an optional settlement currency, then PERPETUAL, or an expiry
#: (``DMMMYY``) optionally followed by an option's strike and type.
_DERIVATIVE = re.compile(
    r"(?P<settle>[A-Z]*?)(?:(?P<perp>PERPETUAL)|(?P<expiry>\d{1,2}[A-Z]{3}\d{2})(?:(?P<strike>\d+(?:D\d+)?)(?P<kind>[CP]))?)"
)
#: Requests whose answer is still awaited, kept per connection (a venue that never answers
#: must not grow it without limit).
_MAX_PENDING = 1024


def instrument_name(instrument: Instrument) -> str:
    """Deribit's name of ``instrument`` (see the module notes): ``ETH-9APR211950C`` -> ``ETH-9APR21-1950-C``."""
    base, quote = instrument.base, instrument.quote
    m = _DERIVATIVE.fullmatch(quote)
    if m is None:
        return f"{base}_{quote}"
    underlying = f"{base}_{m['settle']}" if m["settle"] else base
    if m["perp"]:
        return f"{underlying}-PERPETUAL"
    if m["strike"]:
        return f"{underlying}-{m['expiry']}-{m['strike'].replace('D', 'd')}-{m['kind']}"
    return f"{underlying}-{m['expiry']}"


def _levels(doc: Doc, side: int, with_action: bool) -> list[tuple[str, ...]]:
    """``[[action, price, amount], ...]`` as ``(price, amount, action)`` entries (``(price, amount)``
    for a snapshot); a ``delete`` removes the level whatever amount it carries."""
    if side < 0:
        return []
    if doc.kind(side) != ARRAY:
        raise ValueError("a side is not an array")
    out: list[tuple[str, ...]] = []
    for e in doc.children(side):
        if doc.kind(e) != ARRAY or doc.len(e) < 3:
            raise ValueError("a level is not [action, price, amount]")
        action = doc.str(doc.at(e, 0))
        if action not in _ACTIONS:
            raise ValueError(f"unknown level action {action!r}")
        p, a = doc.at(e, 1), doc.at(e, 2)
        if doc.kind(p) != NUMBER or doc.kind(a) != NUMBER:
            raise ValueError("a price or amount is not a number")
        price = doc.text(p)
        amount = "0" if action == "delete" else doc.text(a)
        out.append((price, amount, action) if with_action else (price, amount))
    return out


class DeribitAdapter(VenueAdapter):
    """Deribit ``book.<instrument>.<interval>``; the symbol is Deribit's instrument name
    (``BTC-PERPETUAL``, ``ETH-9APR21-1950-C``, ``BTC_USDC``)."""

    def __init__(self, config: DeribitConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.max_depth, "the configured book cap")
        self.rule = PrevId()
        self._suffix = f".{config.interval}"
        self._next_id = 0
        #: request id -> the symbols a pending ``public/subscribe`` asked for (this connection)
        self._subscribes: dict[int, tuple[str, ...]] = {}

    def symbol(self, instrument: Instrument) -> str:
        return instrument_name(instrument)

    def book_depth(self, symbol: str) -> int:
        return int(self.config.max_depth)

    def channel(self, symbol: str) -> str:
        """The book channel of ``symbol`` (``book.BTC-PERPETUAL.100ms``)."""
        return f"book.{symbol}{self._suffix}"

    # -- requests ---------------------------------------------------------------------------------

    def connected(self) -> None:
        self._subscribes.clear()  # answers to the old connection's requests never come

    def _request(self, method: str, params: dict[str, Any]) -> tuple[int, str]:
        self._next_id += 1
        rid = self._next_id
        return rid, json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, separators=(",", ":"))

    def _subscribe(self, symbols: Sequence[str]) -> str:
        rid, msg = self._request("public/subscribe", {"channels": [self.channel(s) for s in symbols]})
        if len(self._subscribes) >= _MAX_PENDING:
            del self._subscribes[next(iter(self._subscribes))]
        self._subscribes[rid] = tuple(symbols)
        return msg

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        """Heartbeats first (Deribit then sends ``test_request``s the feed answers), then the channels."""
        _, heartbeat = self._request("public/set_heartbeat", {"interval": self.config.heartbeat_s})
        return [heartbeat, self._subscribe(symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self._request("public/unsubscribe", {"channels": [self.channel(s) for s in symbols]})[1]]

    def resubscribe(self, symbol: str) -> list[str]:
        """Unsubscribe and subscribe the channel again (its next notification is a snapshot)."""
        return [*self.unsubscribe([symbol]), self._subscribe([symbol])]

    # -- frames -----------------------------------------------------------------------------------

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        doc = object_doc(frame)
        method = string_or(doc, doc.get(0, "method"))
        if method == "subscription":
            return self._notification(doc)
        if method == "heartbeat":
            params = doc.get(0, "params")
            kind = string_or(doc, doc.get(params, "type")) if params >= 0 else ""
            if kind == "test_request":
                return (Reply(data=self._request("public/test", {})[1]),)
            return _HEARTBEAT
        if method:
            return ()  # other notifications
        return self._response(doc)

    def _response(self, doc: Doc) -> Sequence[Event]:
        """An answer to one of our requests: a refused subscription becomes Rejected."""
        id_h = doc.get(0, "id")
        if id_h < 0:
            raise FrameError(f"unexpected message: {str(doc.value(0))[:80]}")
        try:
            rid = doc.int(id_h)
        except ExtractError:
            return ()  # not one of ours
        symbols = self._subscribes.pop(rid, None)
        if symbols is None:
            return ()  # set_heartbeat, unsubscribe, test
        err = doc.get(0, "error")
        if err >= 0:
            reason = " ".join(str(doc.value(h)) for h in (doc.get(err, "code"), doc.get(err, "message")) if h >= 0)
            return tuple(Rejected(symbol=s, reason=reason or "subscribe refused") for s in symbols)
        result = doc.get(0, "result")
        if result < 0 or doc.kind(result) != ARRAY:
            raise FrameError("a subscribe answer with neither a channel list nor an error")
        granted = {string_or(doc, h) for h in doc.children(result)}
        # Deribit leaves a channel it does not have out of the result
        return tuple(Rejected(symbol=s, reason="no such channel") for s in symbols if self.channel(s) not in granted)

    def _notification(self, doc: Doc) -> Sequence[Event]:
        params = need(doc, 0, "params")
        channel = string_or(doc, doc.get(params, "channel"))
        if not channel.startswith("book."):
            return ()  # ticker, trades, ...
        symbol = channel[5 : channel.rfind(".")] if channel.count(".") >= 2 else ""
        try:
            data = need(doc, params, "data")
            name = doc.get(data, "instrument_name")
            if name >= 0:
                symbol = doc.str(name)
            kind = doc.str(need(doc, data, "type"))
            change_id = doc.int(need(doc, data, "change_id"))
            ts_h = doc.get(data, "timestamp")
            ts = doc.int(ts_h) * 1_000_000 if ts_h >= 0 else 0
            if kind == "snapshot":
                bids = _levels(doc, doc.get(data, "bids"), False)
                asks = _levels(doc, doc.get(data, "asks"), False)
                return (Snapshot(symbol=symbol, bids=bids, asks=asks, last=change_id, exchange_ts_ns=ts),)
            if kind == "change":
                prev_h = doc.get(data, "prev_change_id")
                prev = doc.int(prev_h) if prev_h >= 0 else -1
                bids = _levels(doc, doc.get(data, "bids"), True)
                asks = _levels(doc, doc.get(data, "asks"), True)
                return (
                    Delta(
                        symbol=symbol, bids=bids, asks=asks, last=change_id, prev=prev, exchange_ts_ns=ts, strict=True
                    ),
                )
            raise ValueError(f"unknown book notification type {kind!r}")
        except (ExtractError, IndexError, ValueError) as exc:
            raise FrameError(f"bad book notification: {type(exc).__name__}: {exc}", symbol=symbol) from None
