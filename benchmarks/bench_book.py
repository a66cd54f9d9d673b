"""Diff-book throughput: deltas applied per second replaying recorded Kraken and Binance feeds.

Method
------
The book messages of a capture are loaded into memory as the raw text the
venue sent (Kraken v1 ``book-1000``: 10 pairs, 14,496 checksummed updates;
Binance ``depth@100ms``: REST snapshot + 3,451 diffs). One *run* replays
every message from a fresh state, in one process, doing per message what a
listener must do:

* ``json.loads`` of the frame,
* apply every level (qty 0 deletes); Kraken: truncate to the subscribed depth,
* read the top 10 of both sides as Python tuples,
* Kraken: compute the CRC32 checksum and compare it with the venue's ``c``.

Contenders (same loop, same ``json.loads``; only the book differs):

* ``dragonfly Book (cython)`` / ``(python)``: :class:`dragonfly._core.book.Book`
  fed the venue's strings directly (the checksum uses them).
* ``dragonfly feed``: what a running feed does per frame, minus the socket: the feed
  driver hands the frame to the venue adapter (parsed by the core's ``Doc``), the
  instrument's ``BookKeeper`` applies it (``Book.apply_doc``), checks the sequence rule,
  the checksum and crossing, and emits a ``BookUpdate`` when the top 10 changed.
* ``order-book (bmoscon)``: the ``order-book`` C extension (``pip install
  order-book``), keyed on ``Decimal`` as cryptofeed does (its Kraken checksum
  needs the venue's digits, which floats lose); for Binance also with
  ``float`` keys. Skipped when not installed.
* cryptofeed itself is not driven: its feed handlers need the exchange's
  symbol list from the network at start-up, which the benchmark must not reach.

Each contender runs ``--runs`` times (after one warm-up); the median run is
reported as deltas (price levels applied) per second and ns per delta, with
the ratio to the fastest. Every contender's checksums must all match, or the
benchmark fails. Captures are read from ``../shared/captures`` (or
``$DRAGONFLY_CAPTURES``); without them, a synthetic Kraken-format stream from
:mod:`dragonfly.sim.diff` is used instead.

Usage: ``python benchmarks/bench_book.py [--runs 7]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dragonfly.clients.base import ClientStats  # noqa: E402
from dragonfly.sim.diff.recordings import read_cryptofeed, read_hftbacktest  # noqa: E402
from dragonfly.venues import create_feed, get_venue  # noqa: E402
from dragonfly.venues.binance import BinanceDiffConfig  # noqa: E402
from dragonfly.venues.kraken import KrakenConfig  # noqa: E402

TOP = 10


def captures_dir() -> Path:
    env = os.environ.get("DRAGONFLY_CAPTURES")
    return Path(env) if env else REPO.parent / "shared" / "captures"


# -- workloads ------------------------------------------------------------------------------------


def kraken_messages() -> tuple[str, list[str]]:
    path = captures_dir() / "kraken" / "cryptofeed__KRAKEN-c197c0.0"
    if path.is_file():
        out = [r.body for r in read_cryptofeed(path) if r.kind == "recv" and r.body.startswith("[")]
        return "Kraken v1 capture (book-1000, 10 pairs)", [m for m in out if '"book-' in m]
    from dragonfly.sim.diff.server import DiffSim, DiffSimConfig
    from dragonfly.venues.kraken.sim import KrakenEncoder

    symbols = ("XBT/USD", "ETH/USD")
    sim = DiffSim(KrakenEncoder(KrakenConfig(depth=1000)), DiffSimConfig(symbols=symbols, levels=100))
    msgs = [sim.encoder.snapshot_frame(sim.book_state(s)) for s in symbols]
    for _ in range(7000):
        for s in symbols:
            msgs.append(sim.encoder.delta_frame(sim.generate(s)))
    return "synthetic Kraken v1 stream (captures not found)", msgs


def binance_messages() -> tuple[str, str, list[str]] | None:
    path = captures_dir() / "binance" / "hftbacktest__spot_btcusdt_20240808.gz"
    if not path.is_file():
        return None
    snapshot = ""
    diffs: list[str] = []
    for _ts, body in read_hftbacktest(path):
        if body.startswith('{"lastUpdateId"'):
            snapshot = body
        elif "depthUpdate" in body:
            diffs.append(body)  # those before the snapshot are buffered by a real listener
    return "Binance spot capture (BTCUSDT depth@100ms, REST snapshot)", snapshot, diffs


def count_kraken_deltas(msgs: list[str]) -> int:
    n = 0
    for raw in msgs:
        m = json.loads(raw)
        for part in m[1:-2]:
            for key in ("as", "bs", "a", "b"):
                n += len(part.get(key, ()))
    return n


# -- Kraken contenders ------------------------------------------------------------------------------


def kraken_dragonfly(book_cls: Any, msgs: list[str]) -> Callable[[], int]:
    loads = json.loads

    def run() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            m = loads(raw)
            pair = m[-1]
            first = m[1]
            if "as" in first or "bs" in first:
                book = books[pair] = book_cls(max_depth=1000)
                book.apply(first.get("bs", ()), first.get("as", ()))
                book.top(TOP)
                continue
            book = books[pair]
            c = None
            if len(m) == 5:
                a = first.get("a", ())
                second = m[2]
                b = second.get("b", ())
                c = second.get("c")
                book.apply(b, a)
            else:
                book.apply(first.get("b", ()), first.get("a", ()))
                c = first.get("c")
            book.top(TOP)
            if c is not None:
                ok += book.checksum("crc32_top10_digits") == int(c)
        return ok

    return run


class _NoClient:
    """The feed's layer-1 stand-in: frames are handed to the driver here, no socket."""

    def __init__(self) -> None:
        self.stats = ClientStats()
        self.on_connect = self.on_disconnect = self.on_gap = None


class _NullSink:
    published = 0

    def publish(self, update: Any) -> None:
        self.published += 1


def _feed(venue: str, config: Any, symbols: list[str], impl_book: Any) -> Any:
    """The venue's feed (adapter + one keeper per instrument + driver), as create_feed builds it."""
    return create_feed(get_venue(venue), instruments=symbols, depth=TOP, sink=_NullSink(), config=config,
                       client=_NoClient(), book_type=impl_book)


def kraken_feed(impl_book: Any, msgs: list[str]) -> Callable[[], int]:
    pairs = sorted({json.loads(raw)[-1] for raw in msgs})
    instruments = [p.replace("XBT", "BTC").replace("/", "-") for p in pairs]

    def run() -> int:
        feed = _feed("kraken", KrakenConfig(depth=1000), instruments, impl_book)
        on_frame = feed.on_frame
        for i, raw in enumerate(msgs):
            on_frame(raw, i + 1)
        if feed.stats.faults or feed.stats.bad_frames:
            raise AssertionError(f"feed faults: {feed.stats.as_dict()}")
        return sum(k.stats.checksums_ok for k in feed.keepers.values())

    return run


def kraken_orderbook(msgs: list[str]) -> Callable[[], int] | None:
    try:
        from order_book import OrderBook
    except ImportError:
        return None
    loads = json.loads
    D = Decimal

    def apply(side: Any, entries: Any) -> None:
        for e in entries:
            price = D(e[0])
            size = D(e[1])
            if size == 0:
                if price in side:
                    del side[price]
            else:
                side[price] = size

    def top(side: Any) -> list[Any]:
        return [side.index(i) for i in range(min(TOP, len(side)))]

    def run() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            m = loads(raw)
            pair = m[-1]
            first = m[1]
            if "as" in first or "bs" in first:
                ob = books[pair] = OrderBook(max_depth=1000, checksum_format="KRAKEN")
                apply(ob.bids, first.get("bs", ()))
                apply(ob.asks, first.get("as", ()))
                top(ob.bids), top(ob.asks)
                continue
            ob = books[pair]
            c = None
            for part in m[1:-2]:
                apply(ob.asks, part.get("a", ()))
                apply(ob.bids, part.get("b", ()))
                c = part.get("c", c)
            ob.bids.truncate()
            ob.asks.truncate()
            top(ob.bids), top(ob.asks)
            if c is not None:
                ok += ob.checksum() == int(c)
        return ok

    return run


# -- Binance contenders -----------------------------------------------------------------------------


def binance_dragonfly(book_cls: Any, snapshot: str, diffs: list[str]) -> Callable[[], int]:
    loads = json.loads

    def run() -> int:
        snap = loads(snapshot)
        book = book_cls(max_depth=5000)
        book.apply(snap["bids"], snap["asks"])
        last = snap["lastUpdateId"]
        n = 0
        for raw in diffs:
            d = loads(raw)["data"]
            if d["u"] <= last:
                continue
            book.apply(d["b"], d["a"])
            last = d["u"]
            book.top(TOP)
            if book.is_crossed():
                raise AssertionError("crossed")
            n += 1
        return n

    return run


def binance_feed(impl_book: Any, snapshot: str, diffs: list[str]) -> Callable[[], int]:
    def run() -> int:
        feed = _feed("binance-diff", BinanceDiffConfig(), ["BTC-USDT"], impl_book)
        (k,) = feed.keepers.values()
        feed._handle(k, k.on_snapshot(feed.adapter.parse_snapshot("BTCUSDT", snapshot.encode())), 0)  # the REST answer
        on_frame = feed.on_frame
        for i, raw in enumerate(diffs):
            on_frame(raw, i + 1)
        if feed.stats.faults or feed.stats.bad_frames:
            raise AssertionError(f"feed faults: {feed.stats.as_dict()}")
        return int(k.stats.applied)

    return run


def binance_orderbook(snapshot: str, diffs: list[str], key: Callable[[str], Any]) -> Callable[[], int] | None:
    try:
        from order_book import OrderBook
    except ImportError:
        return None
    loads = json.loads

    def apply(side: Any, entries: Any) -> None:
        for e in entries:
            price = key(e[0])
            size = key(e[1])
            if size == 0:
                if price in side:
                    del side[price]
            else:
                side[price] = size

    def run() -> int:
        snap = loads(snapshot)
        ob = OrderBook(max_depth=5000)
        apply(ob.bids, snap["bids"])
        apply(ob.asks, snap["asks"])
        last = snap["lastUpdateId"]
        n = 0
        for raw in diffs:
            d = loads(raw)["data"]
            if d["u"] <= last:
                continue
            apply(ob.bids, d["b"])
            apply(ob.asks, d["a"])
            last = d["u"]
            [ob.bids.index(i) for i in range(min(TOP, len(ob.bids)))]
            [ob.asks.index(i) for i in range(min(TOP, len(ob.asks)))]
            if len(ob.bids) and len(ob.asks) and ob.bids.index(0)[0] >= ob.asks.index(0)[0]:
                raise AssertionError("crossed")
            n += 1
        return n

    return run


# -- driver -----------------------------------------------------------------------------------------


def measure(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    result = fn()  # warm-up, and the correctness figure
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        again = fn()
        times.append(time.perf_counter() - t0)
        assert again == result
    return statistics.median(times), result


def report(title: str, deltas: int, messages: int, rows: list[tuple[str, float, int]], expect: int | None) -> None:
    print(f"\n{title}: {messages:,} messages, {deltas:,} deltas per run")
    best = min(t for _, t, _ in rows)
    head = f"{'median s':>9s} {'msgs/s':>10s} {'deltas/s':>12s} {'ns/delta':>9s} {'vs best':>8s}"
    print(f"  {'contender':46s} {head}  check")
    for name, t, result in rows:
        flag = "" if expect is None else ("all ok" if result == expect else f"MISMATCH {result}/{expect}")
        rates = f"{messages / t:10,.0f} {deltas / t:12,.0f} {t / deltas * 1e9:9.1f}"
        print(f"  {name:46s} {t:9.4f} {rates} {t / best:7.2f}x  {flag}")
        if expect is not None and result != expect:
            raise SystemExit(f"{name}: checksums do not all match")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()

    impls: list[tuple[str, Any]] = [("python", importlib.import_module("dragonfly._core.book_py").Book)]
    try:
        impls.insert(0, ("cython", importlib.import_module("dragonfly._core.book_c").Book))
    except ImportError:
        print("note: dragonfly._core.book_c is not built; only the pure twin is measured")

    title, kmsgs = kraken_messages()
    deltas = count_kraken_deltas(kmsgs)
    expect = sum(1 for raw in kmsgs if '"c":' in raw)
    rows = []
    for name, cls in impls:
        t, r = measure(kraken_dragonfly(cls, kmsgs), args.runs)
        rows.append((f"dragonfly Book ({name})", t, r))
        t, r = measure(kraken_feed(cls, kmsgs), args.runs)
        rows.append((f"dragonfly feed: adapter + keeper ({name} Book)", t, r))
    ob = kraken_orderbook(kmsgs)
    if ob is not None:
        t, r = measure(ob, args.runs)
        rows.append(("order-book (bmoscon), Decimal keys", t, r))
    else:
        print("note: order-book is not installed (pip install order-book); skipped")
    report(title + " - parse + apply + truncate + top 10 + checksum", deltas, len(kmsgs), rows, expect)

    binance = binance_messages()
    if binance is None:
        print("\nBinance capture not found; skipped")
        return
    title, snapshot, diffs = binance
    snap = json.loads(snapshot)
    deltas = len(snap["bids"]) + len(snap["asks"]) + sum(
        len(d["b"]) + len(d["a"]) for d in (json.loads(x)["data"] for x in diffs) if d["u"] > snap["lastUpdateId"]
    )
    rows = []
    for name, cls in impls:
        t, r = measure(binance_dragonfly(cls, snapshot, diffs), args.runs)
        rows.append((f"dragonfly Book ({name})", t, r))
        t, r = measure(binance_feed(cls, snapshot, diffs), args.runs)
        rows.append((f"dragonfly feed: adapter + keeper ({name} Book)", t, r))
    for label, key in (("Decimal", Decimal), ("float", float)):
        fn = binance_orderbook(snapshot, diffs, key)
        if fn is not None:
            t, r = measure(fn, args.runs)
            rows.append((f"order-book (bmoscon), {label} keys", t, r))
    report(title + " - parse + apply + top 10 + crossed check", deltas, len(diffs) + 1, rows, None)


if __name__ == "__main__":
    main()
