"""Simulator building blocks without sockets: the seeded market and the recording formats."""

from __future__ import annotations

import gzip
from itertools import pairwise
from pathlib import Path

import pytest

from dragonfly.instruments import parse_instrument
from dragonfly.sim import Recording, read_recording, write_cryptofeed
from dragonfly.sim.market import MidPrice, VenueBookModel, VenueStyle, _fmt


def test_mid_price_is_deterministic_per_seed() -> None:
    a = MidPrice(seed=5, start=0.05)
    b = MidPrice(seed=5, start=0.05)
    c = MidPrice(seed=6, start=0.05)
    assert [b.at(k) for k in (10, 3, 0)] == [a.at(10), a.at(3), 0.05]  # order of access does not matter
    assert a.at(10) != c.at(10)


@pytest.mark.parametrize(
    ("ticks", "exp", "dec", "text"),
    [(5123, -5, 8, "0.05123000"), (7, -8, 8, "0.00000007"), (6001, 1, 0, "60010"), (123, -2, 2, "1.23")],
)
def test_price_text_is_exact(ticks: int, exp: int, dec: int, text: str) -> None:
    assert _fmt(ticks, exp, dec) == text


def test_venue_books_are_valid_and_venue_shaped() -> None:
    inst = parse_instrument("ETH-BTC")
    mid = MidPrice(seed=1, start=0.05)
    style = VenueStyle(tick_exp=-3, qty_decimals=4, text_decimals=8, levels=20, unchanged_prob=0.5)
    model = VenueBookModel(venue="binance", instrument=inst, mid=mid, style=style, seed=1)
    changed_flags = []
    for i in range(200):
        book, changed = model.next_book(i * 0.01)
        changed_flags.append(changed)
        assert len(book.bids) == 20 and len(book.asks) == 20
        assert all(a[0] > b[0] for a, b in pairwise(book.bids))
        assert all(a[0] < b[0] for a, b in pairwise(book.asks))
        assert book.bids[0][0] < book.asks[0][0]
        assert all(len(p.split(".")[1]) == 8 for p, _ in book.bids_text)  # Binance writes 8 decimals
        assert book.bids == tuple((float(p), float(q)) for p, q in book.bids_text)
    assert 40 < sum(not c for c in changed_flags) < 160  # quiet ticks happen, as on a real market


def test_recording_formats(tmp_path: Path) -> None:
    cf = tmp_path / "rec.0"
    write_cryptofeed(cf, [(1.0, '{"a":1}'), (1.5, '{"a":2}')])
    text = cf.read_text()
    assert text.splitlines()[0].endswith("<-> 1.000000")
    (tmp_path / "x.0").write_text(
        'configuration: {}\nwss://h <-> 1.0\nwss://h <- 1.1: {"sub":1}\n\n1.2: {"m":1}\n'
        'https://h -> 1.3: {"rest":1}\n1.4: {"m":2}\n'
    )
    assert list(read_recording(tmp_path / "x.0")) == [(1.2, '{"m":1}'), (1.4, '{"m":2}')]
    assert list(read_recording(cf)) == [(1.0, '{"a":1}'), (1.5, '{"a":2}')]
    gz = tmp_path / "h.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write('1000000000 {"x":1}\n{"lastUpdateId":5}\n2500000000 {"x":2}\n')
    assert list(read_recording(gz)) == [(1.0, '{"x":1}'), (None, '{"lastUpdateId":5}'), (2.5, '{"x":2}')]
    jl = tmp_path / "d.jsonl"
    jl.write_text('{"a":1}\n{"a":2}\n')
    assert len(Recording.load(jl)) == 2 and len(Recording.load(jl, limit=1)) == 1
    with pytest.raises(ValueError):
        write_cryptofeed(tmp_path / "bad", [(0.0, "a\nb")])


def test_reads_the_live_captures(captures: Path) -> None:
    name = "derived__cryptofeed_ee25be_spot_depth-100ms_BTCUSDT-ETHUSDT-DOTUSDT.jsonl"
    rows = list(read_recording(captures / "binance" / name))
    assert len(rows) == 2688  # as SOURCES.md counts them
    assert all(ts is None and p.startswith("{") for ts, p in rows)
    cf = list(read_recording(captures / "bitstamp" / "cryptofeed__BITSTAMP-b88f8b.0"))
    assert sum('"event":"data"' in p and "diff_order_book_" in p for _, p in cf) == 3202
    assert all(isinstance(ts, float) for ts, _ in cf)
    assert [ts for ts, _ in cf] == sorted(ts for ts, _ in cf)


def test_mid_price_memory_is_bounded_over_a_long_run() -> None:
    """``--simulate`` runs for hours: the path keeps a bounded window, not every 10 ms step (issue 12)."""
    import tracemalloc

    mid = MidPrice(seed=3, start=0.05)
    mid.at(1_000)  # warm up (lazy allocations)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k in range(0, 200_001, 50):  # 2000 s of simulated time, asked as the venues ask: moving forward
            mid.at(k)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000  # a list of every step would hold 200k floats: about 6.4 MB


def test_mid_price_window_keeps_recent_steps_and_the_start_exact() -> None:
    a = MidPrice(seed=9, start=0.05, window=100)
    b = MidPrice(seed=9, start=0.05)  # the default window is much larger
    ref = [b.at(k) for k in range(1_000)]
    assert [a.at(k) for k in range(0, 1_000, 7)] == ref[0:1_000:7]  # same path, whatever the window
    assert [a.at(k) for k in range(900, 1_000)] == ref[900:]  # the last `window` steps stay addressable
    assert a.at(0) == 0.05  # the start is always known
    assert a.at(10) == a.at(900)  # a step older than the window reads as the oldest one kept
    with pytest.raises(ValueError):
        MidPrice(seed=1, start=0.05, window=0)
