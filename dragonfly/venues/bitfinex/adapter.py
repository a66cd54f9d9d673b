"""Bitfinex WebSocket v2 ``book`` channel (public, ``wss://api-pub.bitfinex.com/ws/2``), precision P0.

What Bitfinex's documentation says ("WebSocket General", "Books", "WebSocket Checksum"):

* Every (re)connect first sends ``{"event": "conf", "flags": 196608}``: SEQ_ALL (65536) makes
  every array message of the connection end with the connection's next sequence number (one
  counter for every channel: books, heartbeats, checksums, and channels this feed ignores);
  OB_CHECKSUM (131072) adds, after every book iteration, the CRC32 of the book's top 25.
* ``{"event": "subscribe", "channel": "book", "symbol": "tETHBTC", "prec": "P0", "freq": "F0",
  "len": "25"}`` is answered ``{"event": "subscribed", "channel": "book", "chanId": N, "symbol":
  "tETHBTC", ...}``; from then on the book's messages carry only ``N`` (connection-scoped). A
  refused subscription is ``{"event": "error", "msg": "symbol: invalid", "code": 10300, "symbol":
  ..., ...}`` (the request's fields echoed). ``{"event": "unsubscribe", "chanId": N}`` is answered
  ``{"event": "unsubscribed", "status": "OK", "chanId": N}``.
* Channel messages (``seq``: the SEQ_ALL number, last)::

      [N, [[price, count, amount], ...], seq]   snapshot: bids (amount > 0), then asks (amount < 0)
      [N, [price, count, amount], seq]          one level: count > 0 sets it (|amount|, side by sign);
                                                count 0 deletes it (amount 1: bid, -1: ask)
      [N, "cs", checksum, seq]                  signed CRC32 of the top 25 after the updates before it
      [N, "hb", seq]                            heartbeat (no change on the channel for 15 s)

* ``{"event": "info", "code": 20051}``: the server restarts, reconnect; ``20061``: maintenance
  ended, re-subscribe every channel (a reconnect does). ``len`` is 1, 25, 100 or 250 price
  points per side; the venue sends a delete for a level that leaves them and the level when it
  comes back, so the book is capped at ``len``.

How this adapter reads it: the sequence number is checked on every array message; a jump is a
:class:`~dragonfly.errors.SequenceGapError` (lost data of unknown instrument: every book of the
connection resyncs). A book's snapshot is a :class:`Snapshot`; with checksums on, its level
messages are held until the ``cs`` that follows them and come out as one :class:`Delta` carrying
that checksum (the keeper applies them, then verifies: no change is published before the checksum
that covers it, and the book is only seen at the venue's own iteration boundaries, never half
way through one); without checksums each level message is a :class:`Delta` of its own. Quantities are the absolute
amounts with the venue's number text (an ask's ``-`` dropped; the ``"crc32_top25_signed_amounts"`` checksum kind
of the core Book writes it back). A fresh snapshot is asked for by unsubscribing the channel
and subscribing again. A frame that is not JSON but still reads ``[N, [...], seq]`` at its ends
has its number checked and is blamed on channel ``N``'s instrument. Data on a channel that no
``subscribed`` event announced is an event of no instrument (``Delta(symbol="")``, counted
unroutable by the driver); channels of other kinds (ticker, trades) are ignored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import NoReturn

from ..._core.doc import ARRAY, NUMBER, OBJECT, STRING, Doc
from ...errors import ExtractError, FrameError, SequenceGapError
from ...instruments import Instrument
from ...listeners.events import Delta, Heartbeat, Reconnect, Rejected, Snapshot
from ...listeners.rules import NoSequence
from ..base import Event, VenueAdapter
from .config import OB_CHECKSUM, SEQ_ALL, BitfinexConfig, trading_symbol

__all__ = ("MAX_PENDING", "RECONNECT_CODES", "BitfinexAdapter")

#: ``info`` codes that ask for a new connection (server restart; maintenance ended).
RECONNECT_CODES = frozenset({20051, 20061})
#: Level messages of one book held while waiting for their ``cs``; more is a fault of that book.
MAX_PENDING = 10_000
#: A frame that failed to parse but still shows ``[chanId, [...], seq]`` at its ends.
_ENVELOPE = re.compile(rb"\A\s*\[\s*(\d+)\s*,\s*\[.*\]\s*,\s*(\d+)\s*\]\s*\Z", re.DOTALL)
_SEPARATORS = (",", ":")
#: Book data on a channel no subscription announced: an event of no instrument kept (the driver
#: counts it unroutable).
_UNROUTABLE = (Delta(symbol=""),)

Pending = tuple[list[tuple[str, str]], list[tuple[str, str]]]


class BitfinexAdapter(VenueAdapter):
    """Bitfinex ``book`` P0/F0; the symbol is Bitfinex's trading symbol (``tETHBTC``)."""

    snapshot_source = "resubscribe"

    def __init__(self, config: BitfinexConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.length, f"book length {config.length}")
        self.checksum = "crc32_top25_signed_amounts" if config.checksum else None
        self.rule = NoSequence()  # per channel nothing is numbered; the connection is (SequenceGapError)
        self.flags = SEQ_ALL | (OB_CHECKSUM if config.checksum else 0)
        self._hold = bool(config.checksum)
        self._symbols: dict[int, str] = {}  # chanId -> symbol (this connection)
        self._channels: dict[str, int] = {}  # symbol -> chanId
        self._pending: dict[int, Pending] = {}  # chanId -> levels waiting for their cs
        self._foreign: set[int] = set()  # channels of other kinds announced on this connection
        self._seq = -1

    # -- instruments and subscriptions ---------------------------------------------------------

    def symbol(self, instrument: Instrument) -> str:
        return trading_symbol(instrument, self.config.currencies)

    def book_depth(self, symbol: str) -> int:
        return int(self.config.length)

    def channel(self, symbol: str) -> int | None:
        """The channel id of ``symbol``'s book on this connection (None: not subscribed)."""
        return self._channels.get(symbol)

    def connected(self) -> None:
        self._symbols.clear()
        self._channels.clear()
        self._pending.clear()
        self._foreign.clear()
        self._seq = -1

    def _subscribe(self, symbol: str) -> str:
        msg = {"event": "subscribe", "channel": "book", "symbol": symbol, "prec": "P0", "freq": "F0",
               "len": str(self.config.length)}
        return json.dumps(msg, separators=_SEPARATORS)

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        conf = json.dumps({"event": "conf", "flags": self.flags}, separators=_SEPARATORS)
        return [conf, *(self._subscribe(s) for s in symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        out = []
        for s in symbols:
            chan = self._channels.get(s)
            if chan is not None:
                out.append(json.dumps({"event": "unsubscribe", "chanId": chan}, separators=_SEPARATORS))
        return out

    def resubscribe(self, symbol: str) -> list[str]:
        """Unsubscribe the book's channel (when it has one), then subscribe again: the venue
        answers with a new channel id and a snapshot (the connection's ``conf`` still holds)."""
        return [*self.unsubscribe([symbol]), self._subscribe(symbol)]

    # -- frames ---------------------------------------------------------------------------------

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        try:
            doc = Doc(frame)
        except ExtractError as exc:
            self._unreadable(frame, exc)
        kind = doc.kind(0)
        if kind == ARRAY:
            return self._channel_message(doc)
        if kind == OBJECT:
            return self._event(doc)
        raise FrameError("not a Bitfinex message")

    def _check(self, seq: int) -> None:
        expected = self._seq + 1
        self._seq = seq
        if expected > 0 and seq != expected:
            self._pending.clear()  # the books will be reloaded
            raise SequenceGapError(f"bitfinex connection sequence jumped from {expected - 1} to {seq}",
                                   venue="bitfinex", expected=expected, got=seq)

    def _unreadable(self, frame: str | bytes, exc: ExtractError) -> NoReturn:
        """A frame that is not JSON: blamed on its channel when its ends still read ``[N, [...], seq]``."""
        m = _ENVELOPE.match(frame.encode() if isinstance(frame, str) else bytes(frame))
        if m is None:
            raise FrameError(f"not JSON: {exc}") from None
        chan, seq = int(m.group(1)), int(m.group(2))
        self._check(seq)
        self._pending.pop(chan, None)
        raise FrameError(f"malformed book message: {exc}", symbol=self._symbols.get(chan, "")) from None

    def _channel_message(self, doc: Doc) -> Sequence[Event]:
        n = doc.len(0)
        chan_h = doc.at(0, 0)
        if n < 2 or doc.kind(chan_h) != NUMBER:
            raise FrameError("not a channel message")
        try:
            chan = doc.int(chan_h)
        except ExtractError:
            raise FrameError("channel id is not an integer") from None
        symbol = self._symbols.get(chan)
        body = doc.at(0, 1)
        body_kind = doc.kind(body)
        tag = doc.str(body) if body_kind == STRING else ""
        base = 3 if tag == "cs" else 2  # elements before the sequence number
        if n > base:
            seq_h = doc.at(0, -1)
            if doc.kind(seq_h) == NUMBER:
                try:
                    seq = doc.int(seq_h)
                except ExtractError:
                    raise FrameError("sequence number is not an integer", symbol=symbol or "") from None
                self._check(seq)
            elif symbol is not None:
                raise FrameError("no sequence number at the end of a book message", symbol=symbol)
        if symbol is None:
            # a channel this connection never subscribed: its book events (where a known channel's
            # would come out) are events of no instrument; other kinds of channel are ignored
            if chan in self._foreign:
                return ()
            if tag == "cs" and self._hold:
                return _UNROUTABLE
            if body_kind == ARRAY and not (self._hold and doc.len(body) and doc.kind(doc.at(body, 0)) != ARRAY):
                return _UNROUTABLE
            return ()
        try:
            if body_kind == ARRAY:
                if doc.len(body) == 0 or doc.kind(doc.at(body, 0)) == ARRAY:
                    return self._snapshot(doc, chan, symbol, body)
                return self._level(doc, chan, symbol, body)
            if tag == "hb":
                return (Heartbeat(symbol=symbol),)
            if tag == "cs":
                checksum = doc.int(doc.at(0, 2))
                bids, asks = self._pending.pop(chan, ((), ()))
                return (Delta(symbol=symbol, bids=bids, asks=asks, checksum=checksum),)
        except (ExtractError, IndexError, ValueError) as exc:
            self._pending.pop(chan, None)
            raise FrameError(f"bad book message: {type(exc).__name__}: {exc}", symbol=symbol) from None
        if body_kind == STRING:
            return ()  # a message kind the book channel does not document
        raise FrameError("bad book message", symbol=symbol)

    def _snapshot(self, doc: Doc, chan: int, symbol: str, body: int) -> Sequence[Event]:
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        for entry in doc.children(body):
            price, count, amount = _entry(doc, entry)
            if count <= 0:
                raise ValueError(f"snapshot level with count {count}")
            _side(bids, asks, price, amount)
        self._pending.pop(chan, None)
        return (Snapshot(symbol=symbol, bids=bids, asks=asks),)

    def _level(self, doc: Doc, chan: int, symbol: str, body: int) -> Sequence[Event]:
        price, count, amount = _entry(doc, body)
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        if count == 0:  # a delete: amount 1 names the bid side, -1 the ask side
            value = float(amount)
            if value == 0 or math.isnan(value):
                raise ValueError(f"delete of {price} names no side (amount {amount!r})")
            (bids if value > 0 else asks).append((price, "0"))
        elif count > 0:
            _side(bids, asks, price, amount)
        else:
            raise ValueError(f"negative count {count}")
        if not self._hold:
            return (Delta(symbol=symbol, bids=bids, asks=asks),)
        pending = self._pending.get(chan)
        if pending is None:
            pending = self._pending[chan] = ([], [])
        pending[0].extend(bids)
        pending[1].extend(asks)
        if len(pending[0]) + len(pending[1]) > MAX_PENDING:
            del self._pending[chan]
            raise ValueError(f"{MAX_PENDING} level messages without a checksum")
        return ()

    def _event(self, doc: Doc) -> Sequence[Event]:
        ev_h = doc.get(0, "event")
        event = doc.str(ev_h) if ev_h >= 0 and doc.kind(ev_h) == STRING else ""
        channel_h = doc.get(0, "channel")
        channel = doc.str(channel_h) if channel_h >= 0 and doc.kind(channel_h) == STRING else "book"
        try:
            if event == "subscribed" and channel != "book":
                self._foreign.add(doc.int(doc.get(0, "chanId")))
            elif event == "subscribed":
                chan = doc.int(doc.get(0, "chanId"))
                symbol = doc.str(doc.get(0, "symbol"))
                old = self._channels.pop(symbol, None)
                if old is not None:
                    self._symbols.pop(old, None)
                    self._pending.pop(old, None)
                self._symbols[chan] = symbol
                self._channels[symbol] = chan
            elif event == "unsubscribed":
                chan = doc.int(doc.get(0, "chanId"))
                gone = self._symbols.pop(chan, None)
                self._pending.pop(chan, None)
                self._foreign.discard(chan)
                if gone is not None and self._channels.get(gone) == chan:
                    del self._channels[gone]
            elif event == "error":
                sym_h = doc.get(0, "symbol")
                if sym_h >= 0 and doc.kind(sym_h) == STRING and channel == "book":
                    return (Rejected(symbol=doc.str(sym_h), reason=_reason(doc)),)
            elif event == "info":
                code_h = doc.get(0, "code")
                if code_h >= 0 and doc.kind(code_h) == NUMBER and doc.int(code_h) in RECONNECT_CODES:
                    return (Reconnect(reason=f"bitfinex info {_reason(doc)}"),)
            elif event == "conf":
                status_h = doc.get(0, "status")
                if status_h >= 0 and doc.kind(status_h) == STRING and doc.str(status_h) != "OK":
                    raise FrameError(f"conf flags refused: {_reason(doc)}")
        except (ExtractError, IndexError) as exc:
            raise FrameError(f"bad {event or 'event'} message: {type(exc).__name__}: {exc}") from None
        return ()  # conf OK, pong, info, events of other channels


def _entry(doc: Doc, entry: int) -> tuple[str, int, str]:
    """``(price_text, count, amount_text)`` of a ``[price, count, amount]`` entry."""
    if doc.kind(entry) != ARRAY or doc.len(entry) < 3:
        raise ValueError("a book entry is not [price, count, amount]")
    return doc.text(doc.at(entry, 0)), doc.int(doc.at(entry, 1)), doc.text(doc.at(entry, 2))


def _side(bids: list[tuple[str, str]], asks: list[tuple[str, str]], price: str, amount: str) -> None:
    """A level set to ``amount``: a bid when positive, an ask (its absolute text) when negative."""
    value = float(amount)
    if value > 0:
        bids.append((price, amount))
    elif value < 0:
        asks.append((price, amount[1:]))
    else:
        raise ValueError(f"level {price} with amount {amount!r}")


def _reason(doc: Doc) -> str:
    """``"<code> <msg>"`` of an event, for logs and reasons."""
    parts = []
    for key in ("code", "msg"):
        h = doc.get(0, key)
        if h >= 0 and doc.kind(h) in (NUMBER, STRING):
            parts.append(doc.text(h))
    return " ".join(parts)[:160]
