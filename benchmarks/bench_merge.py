"""Benchmark: k-way merge of K venues' top 10 into a top-10 book, vs ``heapq.merge``.

Method
------
* Data: K = 2, 4, 8 venues, each with 10 bids and 10 asks (best first, float prices on a
  0.5 grid so that prices tie across venues, random float quantities), seeded; the books are
  what a user holds: ``{venue: (bids, asks)}`` with lists of ``(price, qty)`` float tuples.
  One call merges both sides to depth 10.
* Compared, in one process, on the same data, in interleaved rounds (``_timing.interleaved_cpu``:
  CPU time of this thread):

  - ``heapq.merge(key=) + islice`` [user code, the baseline]: per-venue lists of
    ``(venue, price, qty)`` tuples built beforehand (not timed), merged by
    ``heapq.merge(*lists, key=...)`` with the same ordering key as dragonfly (bids:
    ``(-price, -qty, venue)``, asks: ``(price, -qty, venue)``), the first 10 taken with
    ``islice`` into a list, for each side; output: lists of ``(venue, price, qty)``, as
    ``merge_levels`` returns;
  - ``heapq.merge`` over pre-keyed tuples ``(-price, -qty, venue)`` [user code]: no key
    function, the fastest way to use heapq (tuples built beforehand, output not turned back
    into ``(venue, price, qty)``);
  - ``merge_levels`` [user API]: the compiled Python-facing call (reads the Python input,
    validates it, builds the output lists of tuples);
  - ``merge_side`` both sides [internal C path]: from C arrays loaded beforehand, the path the
    aggregator uses (``merge_c._bench_merge_side_ns``, its own loop);
  - ``merge_liquidity`` [user API] and its C path, and the pure-Python twin, for reference.

* Each figure is the median over ``--rounds`` interleaved rounds of ``--number`` calls.
  Ratios are the heapq (key=) time divided by the method's time.

Run: ``python benchmarks/bench_merge.py`` (after building the extensions).
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections.abc import Callable
from itertools import islice
from typing import Any

from _timing import header, interleaved_cpu, require_compiled

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


def report(k: int, books: Books, number: int, rounds: int) -> None:
    """Print one block of the table: every method on the same ``k`` venues' books."""
    from dragonfly._core import merge_c, merge_py

    expected = merge_py.merge_levels(books, DEPTH)
    key_run = heapq_key_merge(books)
    got = key_run()
    assert (got[0], got[1]) == expected
    assert merge_c.merge_levels(books, DEPTH) == expected
    names = [
        "heapq.merge(key=) + islice [user code]",
        "heapq.merge pre-keyed tuples + islice [user code]",
        "merge_levels [user API]",
        "merge_liquidity [user API]",
    ]
    fns: list[Callable[[], Any]] = [
        key_run,
        heapq_prekeyed_merge(books),
        lambda: merge_c.merge_levels(books, DEPTH),
        lambda: merge_c.merge_liquidity(books, DEPTH),
    ]
    rows = list(zip(names, (t * 1e9 for t in interleaved_cpu(fns, rounds, number=number)), strict=True))
    c_level = statistics.median(merge_c._bench_merge_side_ns(books, DEPTH, number * 20) for _ in range(rounds))
    rows.append(("merge_side, both sides [internal C path]", c_level))
    c_liq = statistics.median(merge_c._bench_merge_side_ns(books, DEPTH, number * 20, True) for _ in range(rounds))
    rows.append(("merge_liquidity_side, both sides [internal C path]", c_liq))
    py = interleaved_cpu(
        [lambda: merge_py.merge_levels(books, DEPTH)], max(3, rounds // 3), number=max(number // 10, 1)
    )
    rows.append(("merge_levels, pure-Python twin", py[0] * 1e9))
    base = rows[0][1]
    for name, ns in rows:
        print(f"{k:>2}  {name:<52} {ns:>11.0f} {base / ns:>8.1f}x")


def main() -> None:
    require_compiled("bench_merge")
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median reported)")
    args = parser.parse_args()
    header("bench_merge")
    rng = random.Random(20240601)
    print(f"merge of K venues x {LEVELS} levels per side into depth {DEPTH} (both sides per call)")
    print(f"median CPU ns per call over {args.rounds} interleaved rounds; ratio = heapq.merge(key=) time / this time\n")
    head = f"{'K':>2}  {'method':<52} {'CPU ns':>11} {'vs heapq':>9}"
    print(head)
    print("-" * len(head))
    for k in (2, 4, 8):
        report(k, make_books(k, rng), args.number, args.rounds)
        print()


if __name__ == "__main__":
    main()
