"""Bitfinex conformance on the live capture ../shared/captures/bitfinex (through the ``captures`` fixture).

The capture (SOURCES.md) is one WebSocket v2 connection with conf flags 65536 (SEQ_ALL, no
checksums): eight P0 books of ``len`` 100, plus ticker and trades channels. It is replayed
through the Bitfinex adapter (configured as it was recorded: length 100, no checksum) and one
book keeper per book, once per core twin, and checked against an independent reference written
here from Bitfinex's documented rules, reading the raw JSON itself: a snapshot
``[chanId, [[price, count, amount], ...], seq]`` is the whole book, bids with positive amounts and
asks with negative ones; an update ``[chanId, [price, count, amount], seq]`` sets the level to
``|amount|``, or with count 0 deletes it (amount 1 from the bids, -1 from the asks). Every check
SOURCES.md lists is reproduced: the message counts, the connection's sequence number running
1..22649 over every array message without a gap, books that never cross and never exceed 100
levels a side, and a keeper that stays clean (no fault, every book LIVE). The capture has no
``cs`` message, so the Bitfinex checksum is compared here between the core Book and an
independent computation over the venue's own number text after every update.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from integration.test_book_captures import RefBook, Replay

from dragonfly.errors import SequenceGapError
from dragonfly.listeners.events import Delta, Snapshot
from dragonfly.model import VenueStatus
from dragonfly.sim.diff.recordings import read_cryptofeed
from dragonfly.venues.bitfinex import BitfinexAdapter, BitfinexConfig

CAPTURE = ("bitfinex", "cryptofeed__BITFINEX-58bafb.0")
UPDATES = {
    "tETHJPY": 17142,
    "tZRXETH": 4613,
    "tCHZUST": 521,
    "tKNCBTC": 133,
    "tGTXUST": 31,
    "tREQUSD": 12,
    "tLRCBTC": 8,
    "tETH2X:ETH": 6,
}
LENGTH = 100


def _bodies(captures: Path) -> list[str]:
    return [r.body for r in read_cryptofeed(captures.joinpath(*CAPTURE)) if r.kind == "recv"]


class Reference:
    """The capture read independently: raw JSON (numbers as their text), Bitfinex's documented rules."""

    def __init__(self) -> None:
        self.books: dict[str, RefBook] = {}
        self.text: dict[str, tuple[dict[str, str], dict[str, str]]] = {}  # price text -> amount text, per side
        self.channels: dict[str, str] = {}  # chanId -> book symbol
        self.seqs: list[int] = []
        self.kinds: Counter[str] = Counter()
        self.book_heartbeats = 0
        self.largest = 0

    def read(self, body: str) -> tuple[str, str] | None:
        """Apply one message; ``(kind, symbol)`` for a book message."""
        msg: Any = json.loads(body, parse_float=str, parse_int=str)
        if isinstance(msg, dict):
            self.kinds["event"] += 1
            if msg.get("event") == "subscribed" and msg.get("channel") == "book":
                self.channels[msg["chanId"]] = msg["symbol"]
            return None
        self.seqs.append(int(msg[-1]))
        symbol = self.channels.get(msg[0])
        if symbol is None:
            self.kinds["hb" if msg[1] == "hb" else "other"] += 1
            return None
        if msg[1] == "hb":
            self.kinds["hb"] += 1
            self.book_heartbeats += 1
            return "hb", symbol
        if not msg[1] or isinstance(msg[1][0], list):
            self.kinds["snapshot"] += 1
            self.books[symbol] = RefBook(10**6)  # uncapped: the venue keeps it within len
            self.text[symbol] = ({}, {})
            for entry in msg[1]:
                self._set(symbol, *entry)
            return "snapshot", symbol
        self.kinds["update"] += 1
        self._set(symbol, *msg[1])
        return "update", symbol

    def _set(self, symbol: str, price: str, count: str, amount: str) -> None:
        book, (bid_text, ask_text) = self.books[symbol], self.text[symbol]
        if int(count) == 0:
            side, text = (book.bids, bid_text) if float(amount) > 0 else (book.asks, ask_text)
            side.pop(float(price), None)
            text.pop(price, None)
        elif float(amount) > 0:
            book.bids[float(price)] = float(amount)
            bid_text[price] = amount
        else:
            book.asks[float(price)] = -float(amount)
            ask_text[price] = amount  # with its "-", as the checksum takes it
        self.largest = max(self.largest, len(book.bids), len(book.asks))

    def checksum(self, symbol: str) -> int:
        """Bitfinex's checksum, written out: the top 25 bids and asks interleaved bid, ask as
        ``price:amount`` (asks' amounts negative, as the venue wrote them), joined with ':',
        signed CRC32."""
        bid_text, ask_text = self.text[symbol]
        bids = sorted(bid_text.items(), key=lambda kv: -float(kv[0]))[:25]
        asks = sorted(ask_text.items(), key=lambda kv: float(kv[0]))[:25]
        items: list[str] = []
        for i in range(max(len(bids), len(asks))):
            for side in (bids, asks):
                if i < len(side):
                    items.extend(side[i])
        crc = zlib.crc32(":".join(items).encode())
        return crc - (1 << 32) if crc >= 1 << 31 else crc


def _replay(captures: Path, core_impl: str, adapter: BitfinexAdapter, cs: bool = False) -> tuple[Replay, Reference]:
    """Every received message through the adapter and the keepers, and through the reference;
    after each book message their top 25s agree and no book is crossed. ``cs``: after every
    update, also feed a ``cs`` message carrying the reference's checksum (the capture has none)."""
    replay, ref = Replay(adapter, core_impl), Reference()
    for body in _bodies(captures):
        events = replay.events(body)
        seen = ref.read(body)
        if seen is not None and seen[0] == "update" and cs:
            assert events == []  # held until its checksum
            chan = next(c for c, s in ref.channels.items() if s == seen[1])
            events = replay.events(f'[{chan},"cs",{ref.checksum(seen[1])}]')
        for ev in events:
            assert isinstance(ev, (Snapshot, Delta)) and seen is not None and ev.symbol == seen[1]
            keeper = replay.feed(ev)  # no fault, never crossed while LIVE
            book = ref.books[ev.symbol]
            assert keeper.book.top(25) == book.top(25)
            assert not book.top(1)[0] or not book.top(1)[1] or book.top(1)[0][0][0] < book.top(1)[1][0][0]
            if not cs:  # the core Book's checksum is Bitfinex's, over the venue's own text
                assert keeper.book.checksum("crc32_top25_signed_amounts") == ref.checksum(ev.symbol)
    return replay, ref


def test_bitfinex_capture_replays_clean(captures: Path, core_impl: str) -> None:
    adapter = BitfinexAdapter(BitfinexConfig(length=LENGTH, checksum=False), depth=25)
    replay, ref = _replay(captures, core_impl, adapter)
    # what SOURCES.md counts: 22675 received = 26 events + 8 snapshots + 22466 updates + 93 heartbeats
    # + 82 ticker and trades messages
    assert ref.kinds == {"event": 26, "snapshot": 8, "update": 22466, "hb": 93, "other": 82}
    assert ref.seqs == list(range(1, 22650))  # one number per array message, no gap
    assert ref.largest <= LENGTH  # the venue kept every book within len 100
    assert all(k.book.truncated == 0 for k in replay.syncs.values())
    assert {s: k.stats.applied for s, k in replay.syncs.items()} == UPDATES
    assert replay.total("snapshots") == 8
    assert replay.heartbeats == ref.book_heartbeats == 14  # the other 79 are ticker and trades channels'
    replay.assert_clean()
    assert all(k.status is VenueStatus.LIVE for k in replay.syncs.values())


def test_bitfinex_capture_with_checksums(captures: Path, core_impl: str) -> None:
    """Checksum mode on the live books: every update is held until a ``cs`` message (computed here by
    the reference, the capture has none) and then applied and verified: all 22466 match."""
    adapter = BitfinexAdapter(BitfinexConfig(length=LENGTH), depth=25)
    replay, _ = _replay(captures, core_impl, adapter, cs=True)
    assert replay.total("checksums_ok") == 22466
    assert {s: k.stats.applied for s, k in replay.syncs.items()} == UPDATES
    replay.assert_clean()


@pytest.mark.parametrize("lost", [100, 5000, 22648])
def test_bitfinex_capture_lost_message_is_a_gap(captures: Path, lost: int) -> None:
    """Leave out one numbered message: the next one raises SequenceGapError naming both numbers."""
    adapter = BitfinexAdapter(BitfinexConfig(length=LENGTH, checksum=False), depth=25)
    numbered = 0
    for body in _bodies(captures):
        if body.startswith("["):
            numbered += 1
            if numbered == lost:
                continue
            if numbered == lost + 1:
                with pytest.raises(SequenceGapError) as err:
                    adapter.parse(body)
                assert (err.value.expected, err.value.got) == (lost, lost + 1)
                return
        adapter.parse(body)
    pytest.fail("the capture ended before the gap")
