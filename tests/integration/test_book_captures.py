"""Conformance on the live recordings in ../shared/captures (through the ``captures`` fixture).

Every venue's capture is replayed through its venue adapter and one book keeper
per instrument (the exact logic the feed driver runs, without the socket), once
per core twin. After every message
the top 25 of each book must equal an independent dict-based reference book
that applies the venue's documented rules itself; checksums the venue sent
must all match (Kraken, OKX); no book may ever cross; no resync may happen.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import core_module

from dragonfly.listeners.events import Delta, Heartbeat, Snapshot
from dragonfly.listeners.keeper import BookKeeper
from dragonfly.model import VenueStatus
from dragonfly.sim.diff.recordings import read_cryptofeed, read_hftbacktest, read_lines
from dragonfly.venues.base import VenueAdapter
from dragonfly.venues.binance import BinanceDiffAdapter, BinanceDiffConfig
from dragonfly.venues.bitstamp import BitstampDiffAdapter, BitstampDiffConfig
from dragonfly.venues.bybit import BybitAdapter, BybitConfig
from dragonfly.venues.coinbase import CoinbaseAdapter, CoinbaseConfig
from dragonfly.venues.kraken import KrakenAdapter, KrakenConfig
from dragonfly.venues.okx import OkxAdapter, OkxConfig

FAULTS = ("gaps", "checksum_errors", "crossed", "invalid", "resyncs", "stale_snapshots", "buffer_overflows")


class RefBook:
    """Plain dict book: price -> qty per side; rules applied by the test itself."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.last = -1

    def load(self, bids, asks, last: int = -1) -> None:
        self.bids, self.asks, self.last = {}, {}, last
        self.apply(bids, asks)

    def apply(self, bids, asks) -> None:
        for side, entries in ((self.bids, bids), (self.asks, asks)):
            for e in entries:
                p, q = float(e[0]), float(e[1])
                if q == 0.0:
                    side.pop(p, None)
                else:
                    side[p] = q
        if len(self.bids) > self.cap:
            for p in heapq.nsmallest(len(self.bids) - self.cap, self.bids):
                del self.bids[p]
        if len(self.asks) > self.cap:
            for p in heapq.nlargest(len(self.asks) - self.cap, self.asks):
                del self.asks[p]

    def top(self, n: int):
        return (
            tuple((p, self.bids[p]) for p in heapq.nlargest(n, self.bids)),
            tuple((p, self.asks[p]) for p in heapq.nsmallest(n, self.asks)),
        )


class Replay:
    """Drives one venue adapter + a BookKeeper per symbol, checking after every message."""

    def __init__(self, venue: VenueAdapter, impl: str) -> None:
        self.venue = venue
        self.book_type = core_module("book", impl).Book
        self.syncs: dict[str, BookKeeper] = {}
        self.refs: dict[str, RefBook] = {}
        self.messages = 0
        self.heartbeats = 0

    def sync(self, symbol: str) -> BookKeeper:
        s = self.syncs.get(symbol)
        if s is None:
            v = self.venue
            s = self.syncs[symbol] = BookKeeper(
                venue=v.name,
                instrument=symbol,
                symbol=symbol,
                depth=25,
                rule=v.rule,
                checksum=v.checksum,
                max_depth=v.book_depth(symbol),
                buffer_deltas=v.snapshot_source == "rest",
                book_type=self.book_type,
            )
        return s

    def events(self, frame: str) -> list[Delta | Snapshot]:
        """The book events of ``frame``; heartbeats go to every keeper and are counted."""
        out: list[Delta | Snapshot] = []
        for ev in self.venue.parse(frame):
            if isinstance(ev, Heartbeat):
                self.heartbeats += 1
                for s in self.syncs.values():
                    s.on_heartbeat()
            else:
                assert isinstance(ev, (Delta, Snapshot)), ev
                out.append(ev)
        return out

    def feed(self, event: Delta | Snapshot) -> BookKeeper:
        s = self.sync(event.symbol)
        step = s.on_snapshot(event) if isinstance(event, Snapshot) else s.on_delta(event)
        assert not step.fault, f"{self.venue.name} {event.symbol}: {step.fault}: {step.detail}"
        assert not step.need_snapshot
        if s.status is VenueStatus.LIVE:
            assert not s.book.is_crossed()
        return s

    def feed_against_reference(self, event: Delta | Snapshot, cap: int) -> BookKeeper:
        """:meth:`feed`, the same event into an independent :class:`RefBook` (capped at
        ``cap`` levels) of that symbol, then the two top 25s must be equal."""
        sync = self.feed(event)
        ref = self.refs.setdefault(event.symbol, RefBook(cap))
        if isinstance(event, Snapshot):
            ref.load(event.bids, event.asks)
        else:
            ref.apply(event.bids, event.asks)
        _check_top(sync, ref)
        return sync

    def total(self, name: str) -> int:
        return sum(getattr(s.stats, name) for s in self.syncs.values())

    def assert_clean(self) -> None:
        for name in FAULTS:
            assert self.total(name) == 0, name
        assert self.syncs and all(s.status is VenueStatus.LIVE for s in self.syncs.values())


def _check_top(sync: BookKeeper, ref: RefBook) -> None:
    assert sync.book.top(25) == ref.top(25)


# -- Kraken: every checksum ----------------------------------------------------------------------------


def test_kraken_v1_every_checksum_matches(captures: Path, core_impl: str) -> None:
    venue = KrakenAdapter(KrakenConfig(depth=1000), depth=25)
    replay = Replay(venue, core_impl)
    with_checksum = 0
    for rec in read_cryptofeed(captures / "kraken" / "cryptofeed__KRAKEN-c197c0.0"):
        if rec.kind != "recv":
            continue
        for ev in replay.events(rec.body):
            replay.feed_against_reference(ev, 1000)
            if not isinstance(ev, Snapshot):
                with_checksum += ev.checksum is not None
    assert with_checksum == 14_496
    assert replay.total("checksums_ok") == 14_496
    assert replay.total("snapshots") == 10
    assert replay.heartbeats == 119
    replay.assert_clean()


# -- OKX: every checksum, both files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "channel", "expected"),
    [
        ("cryptofeed__OKX.ws.1.0__books_2022-05-13", "books", 290),
        ("cryptofeed__OKX.ws.1.0__books-l2-tbt_2022-02-27", "books-l2-tbt", 3679),
    ],
)
def test_okx_every_checksum_matches(captures: Path, core_impl: str, name: str, channel: str, expected: int) -> None:
    venue = OkxAdapter(OkxConfig(channel=channel), depth=25)
    replay = Replay(venue, core_impl)
    for rec in read_cryptofeed(captures / "okx" / name):
        if rec.kind != "recv":
            continue
        for ev in replay.events(rec.body):
            replay.feed_against_reference(ev, 400)
    assert replay.total("checksums_ok") == expected
    replay.assert_clean()


# -- Binance: REST snapshot + diff sync rules ------------------------------------------------------


class BinanceRef:
    """The documented procedure, written out independently of the listener."""

    def __init__(self) -> None:
        self.book = RefBook(5000)
        self.pending: list[dict[str, Any]] = []
        self.synced = False
        self.first = True
        self.applied = 0

    def snapshot(self, body: str) -> None:
        m = json.loads(body)
        self.book.load(m["bids"], m["asks"], int(m["lastUpdateId"]))
        self.synced = True
        self.first = True
        for d in self.pending:
            self._delta(d)
        self.pending = []

    def delta(self, d: dict[str, Any]) -> None:
        if not self.synced:
            self.pending.append(d)
        else:
            self._delta(d)

    def _delta(self, d: dict[str, Any]) -> None:
        if d["u"] <= self.book.last:
            return  # already in the snapshot
        if self.first:
            assert d["U"] <= self.book.last + 1 <= d["u"], "first event must straddle"
        else:
            assert d["U"] == self.book.last + 1, "gap"
        self.first = False
        self.book.apply(d["b"], d["a"])
        self.book.last = d["u"]
        self.applied += 1


def _binance_check(replay: Replay, refs: dict[str, BinanceRef], symbol: str) -> None:
    sync = replay.syncs.get(symbol)
    ref = refs[symbol]
    if sync is None or not ref.synced:
        return
    assert sync.status is VenueStatus.LIVE
    assert sync.last == ref.book.last
    assert sync.book.top(25) == ref.book.top(25)
    assert not sync.book.is_crossed()


def test_binance_cryptofeed_rest_snapshot_and_diffs(captures: Path, core_impl: str) -> None:
    venue = BinanceDiffAdapter(BinanceDiffConfig(), depth=25)
    replay = Replay(venue, core_impl)
    refs: dict[str, BinanceRef] = {}
    deltas = 0
    for rec in read_cryptofeed(captures / "binance" / "cryptofeed__BINANCE-ee25be.0"):
        if rec.kind == "http":
            symbol = parse_qs(urlsplit(rec.url).query)["symbol"][0]
            replay.feed(venue.parse_snapshot(symbol, rec.body.encode()))
            refs.setdefault(symbol, BinanceRef()).snapshot(rec.body)
            _binance_check(replay, refs, symbol)
        elif rec.kind == "recv":
            for ev in replay.events(rec.body):
                deltas += 1
                replay.feed(ev)
                refs.setdefault(ev.symbol, BinanceRef()).delta(json.loads(rec.body)["data"])
                _binance_check(replay, refs, ev.symbol)
    assert deltas == 2688
    assert replay.total("snapshots") == 3
    assert replay.total("buffered") >= 3  # the snapshots arrive after the first diffs
    assert replay.total("applied") == sum(r.applied for r in refs.values()) > 2600
    replay.assert_clean()


def test_binance_hftbacktest_rest_snapshot_and_diffs(captures: Path, core_impl: str) -> None:
    venue = BinanceDiffAdapter(BinanceDiffConfig(), depth=25)
    replay = Replay(venue, core_impl)
    ref = BinanceRef()
    refs = {"BTCUSDT": ref}
    deltas = 0
    for _ts, body in read_hftbacktest(captures / "binance" / "hftbacktest__spot_btcusdt_20240808.gz"):
        if body.startswith('{"lastUpdateId"'):
            replay.feed(venue.parse_snapshot("BTCUSDT", body.encode()))
            ref.snapshot(body)
        else:
            events = replay.events(body)
            for ev in events:
                deltas += 1
                replay.feed(ev)
                ref.delta(json.loads(body)["data"])
        _binance_check(replay, refs, "BTCUSDT")
    assert deltas == 3451
    assert replay.total("applied") == ref.applied == 3449
    replay.assert_clean()


def test_binance_derived_jsonl_matches_the_raw_capture(captures: Path) -> None:
    """The derived per-line files carry the same diffs as the cryptofeed capture."""
    venue = BinanceDiffAdapter(BinanceDiffConfig(), depth=25)
    name = "derived__cryptofeed_ee25be_spot_depth-100ms_BTCUSDT-ETHUSDT-DOTUSDT.jsonl"
    lines = list(read_lines(captures / "binance" / name))
    raw = [
        r.body
        for r in read_cryptofeed(captures / "binance" / "cryptofeed__BINANCE-ee25be.0")
        if r.kind == "recv" and venue.parse(r.body)
    ]
    assert lines == raw


# -- Bitstamp: keyed on microtimestamp -------------------------------------------------------------


def test_bitstamp_rest_snapshot_and_diffs_never_cross(captures: Path, core_impl: str) -> None:
    venue = BitstampDiffAdapter(BitstampDiffConfig(), depth=25)
    replay = Replay(venue, core_impl)
    refs: dict[str, RefBook] = {}
    pending: dict[str, list[Delta]] = {}
    for rec in read_cryptofeed(captures / "bitstamp" / "cryptofeed__BITSTAMP-b88f8b.0"):
        if rec.kind == "http":
            symbol = urlsplit(rec.url).path.rstrip("/").rsplit("/", 1)[-1]
            snap = venue.parse_snapshot(symbol, rec.body.encode())
            sync = replay.feed(snap)
            ref = refs[symbol] = RefBook(5000)
            ref.load(snap.bids, snap.asks, snap.last)
            for d in pending.pop(symbol, []):
                if d.last > ref.last:
                    ref.apply(d.bids, d.asks)
                    ref.last = d.last
            assert sync.book.top(25) == ref.top(25)
        elif rec.kind == "recv":
            for ev in replay.events(rec.body):
                sync = replay.feed(ev)
                ref = refs.get(ev.symbol)
                if ref is None:
                    pending.setdefault(ev.symbol, []).append(ev)
                    continue
                if ev.last > ref.last:
                    ref.apply(ev.bids, ev.asks)
                    ref.last = ev.last
                assert sync.book.top(25) == ref.top(25)
                assert not sync.book.is_crossed()
    assert replay.total("snapshots") == 10
    assert replay.total("applied") == 3091
    assert replay.total("skipped") == 111
    replay.assert_clean()


# -- Coinbase: snapshot + l2update -----------------------------------------------------------------


def test_coinbase_level2_never_crosses(captures: Path, core_impl: str) -> None:
    venue = CoinbaseAdapter(CoinbaseConfig(), depth=25)
    replay = Replay(venue, core_impl)
    for rec in read_cryptofeed(captures / "coinbase" / "cryptofeed__COINBASE.ws.28.0"):
        if rec.kind != "recv":
            continue
        for ev in replay.events(rec.body):
            sync = replay.feed_against_reference(ev, 5000)
            assert not sync.book.is_crossed()
    assert replay.total("snapshots") == 10
    assert replay.total("applied") == 9719
    replay.assert_clean()


# -- Bybit: snapshot / delta, u contiguous ---------------------------------------------------------


def test_bybit_ob500_snapshot_and_deltas(captures: Path, core_impl: str) -> None:
    venue = BybitAdapter(BybitConfig(depth=500), depth=25)
    replay = Replay(venue, core_impl)
    for line in read_lines(captures / "bybit" / "nautilus__2024-12-01_XRPUSDT_ob500.data"):
        for ev in replay.events(line):
            sync = replay.feed_against_reference(ev, 500)
            assert not sync.book.is_crossed()
    assert replay.total("snapshots") == 1
    assert replay.total("applied") == 49
    replay.assert_clean()


@pytest.mark.parametrize(
    "name", ["cryptofeed__BYBIT.ws.1.0__v5-linear-orderbook.1", "cryptofeed__BYBIT.ws.2.0__v5-spot-orderbook.1"]
)
def test_bybit_depth1_snapshots(captures: Path, core_impl: str, name: str) -> None:
    venue = BybitAdapter(BybitConfig(depth=1), depth=1)
    replay = Replay(venue, core_impl)
    snapshots = 0
    for rec in read_cryptofeed(captures / "bybit" / name):
        if rec.kind != "recv":
            continue
        for ev in replay.events(rec.body):
            sync = replay.feed(ev)
            snapshots += isinstance(ev, Snapshot)
            bids, asks = sync.book.top(5)
            assert len(bids) <= 1 and len(asks) <= 1
            assert (bids[0][0] if bids else None) == (float(ev.bids[0][0]) if ev.bids else None)
    assert snapshots == replay.total("snapshots") > 100
    replay.assert_clean()
