"""KuCoin spot ``/market/level2`` on the live capture (../shared/captures/kucoin, through the ``captures`` fixture).

The capture holds 2548 ``trade.l2update`` messages of four symbols and one REST snapshot per
symbol, received right after the symbol's first update (SOURCES.md). It is replayed through the
KuCoin adapter and one book keeper per symbol (what the feed driver runs, without the socket),
once per core twin, with each snapshot fed where it was received; an independent reference,
written here from KuCoin's documented procedure, must agree after every message. Every check
SOURCES.md lists is reproduced: each message chains on the previous one, the first message
applied after a snapshot straddles it, the numbers dropped and applied per symbol, the snapshots
arrive after the first updates (buffered), no book ever crosses, no fault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from integration.test_book_captures import RefBook, Replay

from dragonfly.listeners.events import Delta
from dragonfly.model import VenueStatus
from dragonfly.sim.diff.recordings import read_lines
from dragonfly.venues.kucoin import KucoinAdapter, KucoinConfig

STREAM = "derived__cryptofeed_KUCOIN.ws.1.0_market-level2_BCHSV-USDT_CAPP-BTC_COV-BTC_EQZ-BTC.jsonl"
#: symbol -> the derived line after which its REST snapshot was received (SOURCES.md)
SNAPSHOT_AFTER = {"BCHSV-USDT": 1, "CAPP-BTC": 22, "COV-BTC": 66, "EQZ-BTC": 215}
MESSAGES = {"BCHSV-USDT": 2361, "CAPP-BTC": 93, "COV-BTC": 52, "EQZ-BTC": 42}
DROPPED = {"BCHSV-USDT": 19, "CAPP-BTC": 1, "COV-BTC": 4, "EQZ-BTC": 2}
APPLIED = {"BCHSV-USDT": 2342, "CAPP-BTC": 92, "COV-BTC": 48, "EQZ-BTC": 40}


def _snapshot_file(captures: Path, symbol: str) -> Path:
    return captures / "kucoin" / f"derived__cryptofeed_KUCOIN.http.0.0_rest_level2_snapshot_{symbol}.json"


class KucoinRef:
    """KuCoin's documented procedure ("Orderbook - Increment"), written out independently of the keeper."""

    def __init__(self, cap: int) -> None:
        self.book = RefBook(cap)
        self.pending: list[dict[str, Any]] = []
        self.seq: int | None = None
        self.first = True
        self.prev_end: int | None = None
        self.applied = 0
        self.dropped = 0
        self.straddled = False

    def message(self, data: dict[str, Any]) -> None:
        if self.prev_end is not None:
            assert data["sequenceStart"] == self.prev_end + 1, "a message is missing"
        self.prev_end = data["sequenceEnd"]
        if self.seq is None:
            self.pending.append(data)
        else:
            self._apply(data)

    def snapshot(self, body: str) -> None:
        data = json.loads(body)["data"]
        self.book.load(data["bids"], data["asks"])
        self.seq = int(data["sequence"])
        for d in self.pending:
            self._apply(d)
        self.pending = []

    def _apply(self, d: dict[str, Any]) -> None:
        assert self.seq is not None
        if d["sequenceEnd"] <= self.seq:
            self.dropped += 1  # already in the snapshot
            return
        if self.first:
            assert d["sequenceStart"] <= self.seq + 1 <= d["sequenceEnd"], "the first message must straddle"
            self.first = False
            self.straddled = True
        sides = [
            [e for e in d["changes"][side] if int(e[2]) > self.seq and not (e[0] == "0" and e[1] == "0")]
            for side in ("bids", "asks")
        ]
        self.book.apply(*sides)
        self.seq = d["sequenceEnd"]
        self.applied += 1


@pytest.mark.parametrize("cap", [100, 5000])
def test_kucoin_level2_capture(captures: Path, core_impl: str, cap: int) -> None:
    """``cap`` 100 is the production book cap (the public snapshot's depth); 5000 keeps every level
    of the capture's full-depth snapshots."""
    venue = KucoinAdapter(KucoinConfig(max_depth=cap), depth=25)
    replay = Replay(venue, core_impl)
    refs = {s: KucoinRef(cap) for s in SNAPSHOT_AFTER}
    seen: dict[str, int] = {}

    def check(symbol: str) -> None:
        ref = refs[symbol]
        sync = replay.syncs[symbol]
        if ref.seq is None:
            assert sync.status is not VenueStatus.LIVE
            return
        assert sync.status is VenueStatus.LIVE
        assert sync.last == ref.seq
        assert sync.book.top(25) == ref.book.top(25)
        assert not sync.book.is_crossed()

    for number, line in enumerate(read_lines(captures / "kucoin" / STREAM), 1):
        (ev,) = replay.events(line)
        assert isinstance(ev, Delta)
        seen[ev.symbol] = seen.get(ev.symbol, 0) + 1
        replay.feed(ev)
        refs[ev.symbol].message(json.loads(line)["data"])
        check(ev.symbol)
        for symbol, after in SNAPSHOT_AFTER.items():
            if after == number:
                body = _snapshot_file(captures, symbol).read_text(encoding="utf-8")
                snap = venue.parse_snapshot(symbol, body.encode())
                assert snap.last == int(json.loads(body)["data"]["sequence"])
                replay.feed(snap)
                refs[symbol].snapshot(body)
                check(symbol)
    assert seen == MESSAGES
    for symbol, ref in refs.items():
        stats = replay.syncs[symbol].stats
        assert ref.straddled
        assert (ref.dropped, ref.applied) == (DROPPED[symbol], APPLIED[symbol])
        assert (stats.skipped, stats.applied) == (DROPPED[symbol], APPLIED[symbol])
        assert stats.snapshots == 1 and stats.buffered >= 1  # received after the symbol's first update
    replay.assert_clean()


def test_kucoin_capture_fillers_are_skipped(captures: Path) -> None:
    """The capture's ``["0", "0", sequence]`` entries reach no book: every other change does."""
    venue = KucoinAdapter(KucoinConfig(), depth=25)
    fillers = changes = 0
    for line in read_lines(captures / "kucoin" / STREAM):
        raw = json.loads(line)["data"]["changes"]
        (ev,) = venue.parse(line)
        for side, entries in (("bids", ev.bids), ("asks", ev.asks)):
            kept = [e for e in raw[side] if not (e[0] == "0" and e[1] == "0")]
            fillers += len(raw[side]) - len(kept)
            changes += len(kept)
            assert [list(e) for e in entries] == kept
    assert fillers > 0 and changes > 0
