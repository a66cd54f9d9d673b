"""Gemini conformance on the live captures ../shared/captures/gemini (through the ``captures`` fixture).

Both recordings of the market data v2 ``l2`` channel (SOURCES.md) are replayed through the
Gemini adapter and one book keeper per symbol, once per core twin, and checked against an
independent reference written here from Gemini's documented rules: the first ``l2_updates`` of a
symbol is its whole book, later ones set absolute quantities, ``"0"`` removing the level (and
doing nothing for a level the book does not have: counted). After every message the keeper's top
25 equals the reference's; no book ever crosses; nothing resyncs.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from integration.test_book_captures import RefBook, Replay

from dragonfly.listeners.events import Delta, Snapshot
from dragonfly.sim.diff.recordings import read_cryptofeed
from dragonfly.venues.gemini import GeminiAdapter, GeminiConfig

CASES = [
    pytest.param(
        "cryptofeed__GEMINI-e6096f.0",
        {"received": 1804, "l2_updates": 1758, "trade": 22, "heartbeat": 24},
        {
            "LTCUSD": 595,
            "LINKUSD": 397,
            "ETHEUR": 294,
            "LRCUSD": 185,
            "SANDUSD": 108,
            "ENJUSD": 92,
            "UMAUSD": 72,
            "DAIUSD": 5,
        },
        ["LTCBCH", "ZECLTC"],
        321,
        id="e6096f",
    ),
    pytest.param(
        "cryptofeed__GEMINI.ws.1.0",
        {"received": 678, "l2_updates": 655, "trade": 16, "heartbeat": 7},
        {
            "FILUSD": 167,
            "BTCGBP": 152,
            "ANKRUSD": 106,
            "GRTUSD": 75,
            "ETHEUR": 55,
            "BATBTC": 46,
            "ALCXUSD": 21,
            "LINKETH": 15,
            "ZECLTC": 6,
            "LTCETH": 2,
        },
        [],
        34,
        id="ws.1.0",
    ),
]


@pytest.mark.parametrize(("name", "kinds", "deltas", "book_only", "unknown_zeros"), CASES)
def test_gemini_l2_books_and_deltas_never_cross(
    captures: Path, core_impl: str, name: str, kinds: dict, deltas: dict, book_only: list, unknown_zeros: int
) -> None:
    venue = GeminiAdapter(GeminiConfig(), depth=25)
    replay = Replay(venue, core_impl)
    refs: dict[str, RefBook] = {}
    seen: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    zeros_of_unknown = 0
    for rec in read_cryptofeed(captures / "gemini" / name):
        if rec.kind == "connect":
            venue.connected()
            continue
        if rec.kind != "recv":
            continue
        seen["received"] += 1
        msg = json.loads(rec.body)
        seen[msg["type"]] += 1
        events = replay.events(rec.body)  # a heartbeat goes to every keeper
        if msg["type"] != "l2_updates":
            assert events == []
            continue
        (ev,) = events
        sym = msg["symbol"]
        levels = [(float(p), q) for _, p, q in msg["changes"]]
        bids = [lv for (side, *_), lv in zip(msg["changes"], levels, strict=True) if side == "buy"]
        asks = [lv for (side, *_), lv in zip(msg["changes"], levels, strict=True) if side == "sell"]
        if sym not in refs:  # the documented rule: the first message of a symbol is its book
            assert isinstance(ev, Snapshot) and "trades" in msg
            refs[sym] = RefBook(5000)
            refs[sym].load(bids, asks)
        else:
            assert isinstance(ev, Delta) and "trades" not in msg and not ev.strict
            ref = refs[sym]
            for side, entries in ((ref.bids, bids), (ref.asks, asks)):
                zeros_of_unknown += sum(1 for p, q in entries if float(q) == 0.0 and p not in side)
            ref.apply(bids, asks)
            changes[sym] += 1
        keeper = replay.feed(ev)  # no fault, never crossed
        ref = refs[sym]
        assert not (ref.bids and ref.asks and max(ref.bids) >= min(ref.asks))
        assert keeper.book.top(25) == ref.top(25)
    assert dict(seen) == kinds
    assert replay.heartbeats == kinds["heartbeat"]
    assert replay.total("snapshots") == len(refs) == 10
    assert dict(changes) == deltas and replay.total("applied") == sum(deltas.values())
    assert sorted(s for s in refs if s not in changes) == book_only
    assert zeros_of_unknown == unknown_zeros
    replay.assert_clean()
