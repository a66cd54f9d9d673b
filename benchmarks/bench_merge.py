"""Benchmark: k-way merge of K venues' top 10 into a top-10 book, vs ``heapq.merge``.

Method
------
* Data: K = 2, 4, 8 venues, each with 10 bids and 10 asks (best first, float prices on a
  0.5 grid so that prices tie across venues, random float quantities), seeded.
  One call merges both sides to depth 10.
* Compared, in one process, on the same data:

  - ``heapq.merge(key=...)`` + ``islice(depth)`` over per-venue lists of
    ``(venue, price, qty)`` tuples built beforehand (not timed), with the same ordering
    key as dragonfly (price, then qty descending, then venue);
  - ``heapq.merge`` + ``islice`` over pre-keyed tuples ``(-price, -qty, venue)``
    (no key function: the fastest way to use heapq; the tuples are built beforehand);
  - ``dragonfly merge_levels``: the compiled Python-facing call (reads the Python
    input, validates it, builds the output list of tuples);
  - ``C level``: ``merge_c.merge_side`` on both sides from C arrays loaded beforehand,
    the path the aggregator uses (``merge_c._bench_merge_side_ns``);
  - the pure-Python twin, and ``merge_liquidity`` (compiled) for reference.

* Each figure is the median over ``--repeat`` runs of the time per call (``timeit``
  with ``--number`` calls per run; the C-level loop times ``--number * 20`` calls).
  Ratios are heapq (key=) time divided by the method's time.

Run: ``python benchmarks/bench_merge.py`` (after building the extensions).
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import timeit
from collections.abc import Callable
from itertools import islice
from typing import Any

from dragonfly._core import merge_py

try:
    from dragonfly._core import merge_c
except ImportError:  # pure build
    merge_c = None  # type: ignore[assignment]

DEPTH = 10
LEVELS = 10


Books = dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]]


def make_books(k: int, rng: random.Random) -> Books:
    names = ["binance", "bitstamp", "kraken", "okx", "bybit", "coinbase", "gemini", "huobi"][:k]
    books = {}
    for name in names:
        mid = 100.0 + rng.randrange(-2, 3) * 0.5
        bids = [(mid - 0.5 * (i + 1), round(rng.uniform(0.1, 5.0), 3)) for i in range(LEVELS)]
        asks = [(mid + 0.5 * (i + 1), round(rng.uniform(0.1, 5.0), 3)) for i in range(LEVELS)]
        books[name] = (bids, asks)
    return books


def heapq_key_merge(books: dict[str, Any]) -> Callable[[], Any]:
    bid_lists = [[(v, p, q) for p, q in books[v][0]] for v in sorted(books)]
    ask_lists = [[(v, p, q) for p, q in books[v][1]] for v in sorted(books)]

    def bid_key(t: tuple[str, float, float]) -> tuple[float, float, str]:
        return (-t[1], -t[2], t[0])

    def ask_key(t: tuple[str, float, float]) -> tuple[float, float, str]:
        return (t[1], -t[2], t[0])

    def run() -> Any:
        return (
            list(islice(heapq.merge(*bid_lists, key=bid_key), DEPTH)),
            list(islice(heapq.merge(*ask_lists, key=ask_key), DEPTH)),
        )

    return run


def heapq_prekeyed_merge(books: dict[str, Any]) -> Callable[[], Any]:
    bid_lists = [[(-p, -q, v) for p, q in books[v][0]] for v in sorted(books)]
    ask_lists = [[(p, -q, v) for p, q in books[v][1]] for v in sorted(books)]

    def run() -> Any:
        return (
            list(islice(heapq.merge(*bid_lists), DEPTH)),
            list(islice(heapq.merge(*ask_lists), DEPTH)),
        )

    return run


def median_ns(func: Callable[[], Any], number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e9


def report(k: int, books: Books, number: int, repeat: int) -> None:
    """Print one block of the table: every method on the same ``k`` venues' books."""
    expected = merge_py.merge_levels(books, DEPTH)
    key_run = heapq_key_merge(books)
    got = key_run()
    assert [(v, p, q) for v, p, q in got[0]] == expected[0] and list(got[1]) == expected[1]
    rows: list[tuple[str, float]] = []
    base = median_ns(key_run, number, repeat)
    rows.append(("heapq.merge(key=) + islice", base))
    rows.append(("heapq.merge pre-keyed tuples + islice", median_ns(heapq_prekeyed_merge(books), number, repeat)))
    if merge_c is not None:
        assert merge_c.merge_levels(books, DEPTH) == expected
        ns = median_ns(lambda: merge_c.merge_levels(books, DEPTH), number, repeat)
        rows.append(("dragonfly merge_levels (compiled)", ns))
        c_level = statistics.median(merge_c._bench_merge_side_ns(books, DEPTH, number * 20) for _ in range(repeat))
        rows.append(("dragonfly C level merge_side (both sides)", c_level))
        ns = median_ns(lambda: merge_c.merge_liquidity(books, DEPTH), number, repeat)
        rows.append(("dragonfly merge_liquidity (compiled)", ns))
        c_liq = statistics.median(merge_c._bench_merge_side_ns(books, DEPTH, number * 20, True) for _ in range(repeat))
        rows.append(("dragonfly C level merge_liquidity_side", c_liq))
    ns = median_ns(lambda: merge_py.merge_levels(books, DEPTH), max(number // 10, 1), repeat)
    rows.append(("dragonfly merge_levels (pure Python)", ns))
    for name, ns in rows:
        print(f"{k:>2}  {name:<40} {ns:>11.0f} {base / ns:>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(20240601)
    print(f"merge of K venues x {LEVELS} levels per side into depth {DEPTH} (both sides per call)")
    print(f"median ns per call over {args.repeat} runs; ratio = heapq.merge(key=) time / this time\n")
    header = f"{'K':>2}  {'method':<40} {'median ns':>11} {'vs heapq':>9}"
    print(header)
    print("-" * len(header))
    for k in (2, 4, 8):
        report(k, make_books(k, rng), args.number, args.repeat)
        print()
    if merge_c is None:
        print("compiled core not available: only the pure-Python twin was measured")


if __name__ == "__main__":
    main()
