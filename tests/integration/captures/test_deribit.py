"""Deribit conformance on the live capture ../shared/captures/deribit (through the ``captures`` fixture).

The capture (``book.<instrument>.raw`` on ten option books, SOURCES.md) is replayed through the
Deribit adapter and one book keeper per instrument, once per core twin, and checked against an
independent reference written here from Deribit's documented rules: a ``snapshot`` is the whole
book; in a ``change`` each level is ``[action, price, amount]`` where ``new`` adds a level the book
lacks, ``change`` sets one it has and ``delete`` removes one it has; ``prev_change_id`` equals the
instrument's previous ``change_id``. After every message the keeper's top 25 and sequence position
equal the reference's; no delta is refused as a gap or as a change of an unknown level; no book
ever crosses.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from integration.test_book_captures import Replay

from dragonfly.listeners.events import Delta, Snapshot
from dragonfly.model import VenueStatus
from dragonfly.sim.diff.recordings import read_cryptofeed
from dragonfly.venues.deribit import DeribitAdapter, DeribitConfig

CAPTURE = ("deribit", "cryptofeed__DERIBIT-5dd9ce.0")
CHANGES = {
    "ETH-9APR21-1950-C": 69,
    "ETH-30APR21-2240-P": 65,
    "ETH-16APR21-1600-C": 26,
    "ETH-24SEP21-320-P": 13,
    "ETH-23APR21-2000-C": 2,
    "ETH-16APR21-1400-P": 2,
}


class DeribitRef:
    """One instrument's book by the documented actions, with the change-id chain."""

    def __init__(self, data: dict) -> None:
        assert all(a == "new" for a, _, _ in data["bids"] + data["asks"])
        self.bids = {float(p): float(q) for _, p, q in data["bids"]}
        self.asks = {float(p): float(q) for _, p, q in data["asks"]}
        self.last = data["change_id"]

    def change(self, data: dict) -> None:
        assert data["prev_change_id"] == self.last, "a break in the change-id chain"
        for side, entries in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for action, price, amount in entries:
                p = float(price)
                if action == "new":
                    assert p not in side
                    side[p] = float(amount)
                elif action == "change":
                    assert p in side
                    side[p] = float(amount)
                else:
                    assert action == "delete" and p in side
                    del side[p]
        self.last = data["change_id"]

    def top(self, n: int) -> tuple:
        return (
            tuple((p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:n]),
            tuple((p, self.asks[p]) for p in sorted(self.asks)[:n]),
        )

    def crossed(self) -> bool:
        return bool(self.bids and self.asks) and max(self.bids) >= min(self.asks)


def test_deribit_book_raw_changes_chain_and_apply(captures: Path, core_impl: str) -> None:
    venue = DeribitAdapter(DeribitConfig(interval="raw"), depth=25)
    replay = Replay(venue, core_impl)
    refs: dict[str, DeribitRef] = {}
    received = 0
    channels: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    for rec in read_cryptofeed(captures.joinpath(*CAPTURE)):
        if rec.kind != "recv":
            continue
        received += 1
        msg = json.loads(rec.body)
        params = msg.get("params") or {}
        channels[str(params.get("channel", "result" if "result" in msg else "?")).split(".")[0]] += 1
        events = replay.events(rec.body)
        if not str(params.get("channel", "")).startswith("book."):
            assert events == []  # ticker notifications, the subscribe answer
            continue
        (ev,) = events
        data = params["data"]
        sym = data["instrument_name"]
        if data["type"] == "snapshot":
            assert isinstance(ev, Snapshot) and ev.last == data["change_id"]
            refs[sym] = DeribitRef(data)
        else:
            assert (
                isinstance(ev, Delta)
                and ev.strict
                and (ev.prev, ev.last) == (data["prev_change_id"], data["change_id"])
            )
            refs[sym].change(data)
            changes[sym] += 1
        keeper = replay.feed(ev)  # no gap, no unknown level, never crossed
        ref = refs[sym]
        assert not ref.crossed()
        assert keeper.status is VenueStatus.LIVE and keeper.last == ref.last
        assert keeper.book.top(25) == ref.top(25)
    assert received == 461
    assert channels == {"book": 187, "ticker": 273, "result": 1}
    assert replay.total("snapshots") == 10 and len(refs) == 10
    assert dict(changes) == CHANGES and replay.total("applied") == 177
    only_snapshot = [s for s in refs if s not in changes]
    assert len(only_snapshot) == 4
    assert [s for s in only_snapshot if not refs[s].bids and not refs[s].asks] == ["ETH-6APR21-2400-P"]
    assert replay.syncs["ETH-6APR21-2400-P"].book.top(25) == ((), ())  # the empty book is LIVE and empty
    replay.assert_clean()
