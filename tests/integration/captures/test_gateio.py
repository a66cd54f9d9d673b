"""Gate.io ``order_book_update`` on the live captures (../shared/captures/gateio, through the ``captures`` fixture).

Spot (80 ``spot.order_book_update`` messages of five pairs) and USDT-settled futures (186
``futures.order_book_update`` messages of five contracts), each with one REST snapshot per
instrument, received right after the instrument's first update (SOURCES.md). Each is replayed
through the Gate.io adapter and one book keeper per instrument (what the feed driver runs, without
the socket), once per core twin, with each snapshot fed where it was received; an independent
reference written here from Gate.io's documented procedure must agree after every message. The
checks SOURCES.md lists are reproduced: ``U`` = previous ``u`` + 1 everywhere, the first update
applied straddles the snapshot id (``U <= id + 1 <= u``), the numbers applied and dropped per
instrument (spot 76/4, futures 170/16), INK_USDT's only update predates its snapshot, DIS_USDT's
first update starts exactly at ``id + 1``, no book ever crosses, no fault.
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
from dragonfly.venues.gateio import GateioAdapter, GateioConfig

SPOT = {
    "stream": "derived__cryptofeed_GATEIO.ws.1.0_spot.order_book_update_"
              "OMG_USDT_DIS_USDT_HAI_ETH_INK_USDT_NANO_USDT.jsonl",
    "snapshot": "derived__cryptofeed_GATEIO.http.0.0_rest_spot_order_book_snapshot_{}.json",
    # symbol -> (derived line after which its snapshot was received, messages, applied, dropped)
    "symbols": {"OMG_USDT": (2, 51, 50, 1), "DIS_USDT": (7, 17, 17, 0), "HAI_ETH": (1, 6, 5, 1),
                "INK_USDT": (3, 1, 0, 1), "NANO_USDT": (67, 5, 4, 1)},
    "totals": (80, 76, 4),
}
FUTURES = {
    "stream": "derived__cryptofeed_GATEIO_FUTURES.ws.1.0_futures.order_book_update_"
              "OMG_USDT_WOO_USDT_FRONT_USDT_DIA_USDT_SFP_USDT.jsonl",
    "snapshot": "derived__cryptofeed_GATEIO_FUTURES.http.0.0_rest_futures_order_book_snapshot_{}.json",
    "symbols": {"OMG_USDT": (1, 109, 101, 8), "WOO_USDT": (9, 60, 57, 3), "FRONT_USDT": (2, 6, 5, 1),
                "DIA_USDT": (113, 2, 0, 2), "SFP_USDT": (61, 9, 7, 2)},
    "totals": (186, 170, 16),
}


def _levels(levels: list[Any]) -> list[Any]:
    """Spot ``[price, amount]`` as they are; futures ``{"p", "s"}`` as ``[p, s]``."""
    return [[e["p"], e["s"]] if isinstance(e, dict) else e for e in levels]


class GateRef:
    """Gate.io's documented procedure ("How to maintain local order book"), independent of the keeper."""

    def __init__(self, cap: int) -> None:
        self.book = RefBook(cap)
        self.pending: list[dict[str, Any]] = []
        self.base: int | None = None
        self.last: int | None = None
        self.prev_u: int | None = None
        self.first_applied: dict[str, Any] | None = None
        self.applied = 0
        self.dropped = 0

    def update(self, r: dict[str, Any]) -> None:
        if self.prev_u is not None:
            assert r["U"] == self.prev_u + 1, "an update is missing"
        self.prev_u = r["u"]
        if self.last is None:
            self.pending.append(r)
        else:
            self._apply(r)

    def snapshot(self, body: str) -> None:
        m = json.loads(body)
        self.book.load(_levels(m["bids"]), _levels(m["asks"]))
        self.base = self.last = int(m["id"])
        for r in self.pending:
            self._apply(r)
        self.pending = []

    def _apply(self, r: dict[str, Any]) -> None:
        assert self.last is not None and self.base is not None
        if r["u"] < self.last + 1:
            self.dropped += 1
            return
        if self.first_applied is None:
            assert r["U"] <= self.base + 1 <= r["u"], "the first update applied must contain the snapshot id"
            self.first_applied = r
        else:
            assert r["U"] == self.last + 1
        self.book.apply(_levels(r["b"]), _levels(r["a"]))
        self.last = r["u"]
        self.applied += 1


@pytest.mark.parametrize("capture", [SPOT, FUTURES], ids=["spot", "futures"])
def test_gateio_order_book_update_capture(captures: Path, core_impl: str, capture: dict[str, Any]) -> None:
    futures = capture is FUTURES
    venue = GateioAdapter(GateioConfig(market="futures" if futures else "spot"), depth=25)
    replay = Replay(venue, core_impl)
    symbols: dict[str, tuple[int, int, int, int]] = capture["symbols"]
    refs = {s: GateRef(venue.book_depth(s)) for s in symbols}
    seen: dict[str, int] = {}

    def check(symbol: str) -> None:
        ref, sync = refs[symbol], replay.syncs[symbol]
        if ref.last is None:
            assert sync.status is not VenueStatus.LIVE and sync.buffered == len(ref.pending)
            return
        assert sync.status is VenueStatus.LIVE and sync.last == ref.last
        assert sync.book.top(25) == ref.book.top(25)
        assert not sync.book.is_crossed()

    lines = 0
    for number, line in enumerate(read_lines(captures / "gateio" / capture["stream"]), 1):
        lines += 1
        (ev,) = replay.events(line)
        assert isinstance(ev, Delta)
        seen[ev.symbol] = seen.get(ev.symbol, 0) + 1
        replay.feed(ev)
        refs[ev.symbol].update(json.loads(line)["result"])
        check(ev.symbol)
        for symbol, (after, *_) in symbols.items():
            if after == number:
                body = (captures / "gateio" / capture["snapshot"].format(symbol)).read_text(encoding="utf-8")
                snap = venue.parse_snapshot(symbol, body.encode())
                assert snap.last == json.loads(body)["id"]
                assert (snap.exchange_ts_ns > 0) == futures  # the 2021 spot bodies carry no "update" time
                replay.feed(snap)
                refs[symbol].snapshot(body)
                check(symbol)
    total, applied, dropped = capture["totals"]
    assert lines == total
    assert seen == {s: v[1] for s, v in symbols.items()}
    for symbol, (_, _, n_applied, n_dropped) in symbols.items():
        ref, stats = refs[symbol], replay.syncs[symbol].stats
        assert (ref.applied, ref.dropped) == (n_applied, n_dropped), symbol
        assert (stats.applied, stats.skipped) == (n_applied, n_dropped), symbol
        assert stats.snapshots == 1 and stats.buffered >= 1  # received after the instrument's first update
    assert replay.total("applied") == applied and replay.total("skipped") == dropped
    if not futures:
        assert refs["DIS_USDT"].first_applied["U"] == refs["DIS_USDT"].base + 1  # starts exactly at id + 1
        assert refs["INK_USDT"].applied == 0 and refs["INK_USDT"].first_applied is None
    replay.assert_clean()
