"""Benchmark: the execution planner's cost per order, and what splitting saves on captured books.

Method
------
* Cost: :func:`dragonfly.services.execution.plan_order` on synthetic summed-liquidity books of K
  venues (K = 2, 4, 8) x depth D (10, 50, 200) levels, one side, seeded; each venue has a taker fee,
  a lot and a minimum size. The order is half the book's total quantity. Timed with
  ``_timing.interleaved_cpu`` (CPU time of this thread; median of ``--repeat`` interleaved rounds of
  ``--number`` calls; the two variants alternate), with and without the best-single-venue
  comparison (``compare=False`` is what the engine's re-plans cost; the comparison walks each venue
  once more).
* Improvement: the bid books of the BTC captures (Binance BTCUSDT REST snapshot, cryptofeed
  2021-04-04 and hftbacktest 2024-08-08; Kraken XBT/USD ``book-1000`` snapshot, 2021-04-05; OKX
  BTC-USDT ``books`` snapshot, 2022-05-13), read from ``../shared/captures`` (or
  ``$DRAGONFLY_CAPTURES``). They were recorded on different days at different prices, so each book
  is re-centred: its prices are scaled so that its best bid equals the first book's (relative depth
  kept). The improvement then measures what depth aggregation and fees do, not cross-venue price
  dislocations. Fees: each venue's base taker fee (Binance 0.10 %, Kraken 0.26 %, OKX 0.10 %).
  Sells of 1, 5, 20 and 50 BTC: the plan's average net price against the best single venue's on the
  quantity both fill, in basis points.

Run: ``python benchmarks/bench_execution.py``
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

from _timing import REPO, captures_dir, header, interleaved_cpu, require_compiled

sys.path.insert(0, str(REPO))

from dragonfly.services.execution import VenueRules, plan_order

Level = tuple[float, float, dict[str, float]]


def synthetic(k: int, depth: int, rng: random.Random) -> tuple[list[Level], dict[str, VenueRules]]:
    venues = [f"v{i}" for i in range(k)]
    levels: dict[float, dict[str, float]] = {}
    for v in venues:
        p = 100.0 - rng.randrange(0, 5) * 0.01
        for _ in range(depth):
            levels.setdefault(round(p, 2), {})[v] = round(rng.lognormvariate(0, 1), 4)
            p -= rng.choice((0.01, 0.01, 0.02, 0.03))
    book = [(p, math.fsum(d.values()), d) for p, d in sorted(levels.items(), reverse=True)]
    rules = {v: VenueRules(taker_fee=rng.choice((0.0005, 0.001, 0.002)), lot=0.0001, min_qty=0.001) for v in venues}
    return book, rules


def bench_cost(repeat: int, number: int) -> None:
    print("planner cost per order (sell half the book), median of runs")
    print(f"{'K':>3} {'depth':>6} {'levels':>7} {'plan only':>12} {'with comparison':>16}")
    rng = random.Random(7)
    for k in (2, 4, 8):
        for depth in (10, 50, 200):
            book, rules = synthetic(k, depth, rng)
            qty = math.fsum(t for _, t, _ in book) / 2
            times = interleaved_cpu(
                [
                    lambda b=book, r=rules, q=qty: plan_order("sell", q, b, r, compare=False),
                    lambda b=book, r=rules, q=qty: plan_order("sell", q, b, r, compare=True),
                ],
                repeat,
                number=number,
            )
            print(f"{k:>3} {depth:>6} {len(book):>7} {times[0] * 1e6:>10.1f} us {times[1] * 1e6:>14.1f} us")


def _binance(path: Path) -> list[tuple[float, float]]:
    obj = json.loads(path.read_text())
    return [(float(p), float(q)) for p, q in obj["bids"]]


def _kraken(path: Path) -> list[tuple[float, float]] | None:
    for line in path.open(errors="replace"):
        if '"bs"' in line and "XBT/USD" in line:
            msg = json.loads(line.split(": ", 1)[1])
            return [(float(p), float(q)) for p, q, *_ in msg[1]["bs"]]
    return None


def _okx(path: Path) -> list[tuple[float, float]] | None:
    for line in path.open(errors="replace"):
        if '"action":"snapshot"' in line and '"instId":"BTC-USDT"' in line:
            msg = json.loads(line.split(": ", 1)[1])
            return [(float(p), float(q)) for p, q, *_ in msg["data"][0]["bids"]]
    return None


def captured_books() -> dict[str, list[tuple[float, float]]]:
    root = captures_dir()
    books: dict[str, list[tuple[float, float]]] = {}
    for name, path, read in (
        ("binance-2021", root / "binance" / "derived__cryptofeed_ee25be_rest_depth_snapshot_BTCUSDT.json", _binance),
        ("binance-2024", root / "binance" / "derived__hftbacktest_spot_BTCUSDT_rest_depth_snapshot.json", _binance),
        ("kraken", root / "kraken" / "cryptofeed__KRAKEN-c197c0.0", _kraken),
        ("okx", root / "okx" / "cryptofeed__OKX.ws.1.0__books_2022-05-13", _okx),
    ):
        if path.is_file():
            bids = read(path)
            if bids:
                books[name] = bids
    return books


def bench_improvement() -> None:
    books = captured_books()
    if len(books) < 2:
        print(f"\ncaptured books not found under {captures_dir()}: improvement not measured")
        return
    fees = {"binance-2021": 0.001, "binance-2024": 0.001, "kraken": 0.0026, "okx": 0.001}
    ref = next(iter(books.values()))[0][0]
    levels: dict[float, dict[str, float]] = {}
    for name, bids in books.items():
        scale = ref / bids[0][0]
        for p, q in bids:
            levels.setdefault(round(p * scale, 2), {})[name] = levels.get(round(p * scale, 2), {}).get(name, 0.0) + q
    book = [(p, math.fsum(d.values()), d) for p, d in sorted(levels.items(), reverse=True)]
    rules = {n: VenueRules(taker_fee=fees[n], lot=0.00001) for n in books}
    print(
        f"\ncaptured BTC bid books re-centred on {ref:.2f}: "
        + ", ".join(f"{n} ({len(b)} levels, {math.fsum(q for _, q in b):.1f} BTC)" for n, b in books.items())
    )
    print(
        f"{'sell':>6} {'venues used':>12} {'avg net':>12} {'best single':>14} {'its avg net':>12} "
        f"{'compared':>9} {'improvement':>12} {'saving':>10}"
    )
    for qty in (1.0, 5.0, 20.0, 50.0):
        plan = plan_order("sell", qty, book, rules)
        print(
            f"{qty:>6g} {len(plan.children):>12} {plan.net_avg_price:>12.2f} {plan.best_venue:>14} "
            f"{plan.best_venue_net_avg:>12.2f} {plan.compared_qty:>9.3f} {plan.improvement_bps:>9.2f} bp "
            f"{plan.saving:>10.2f}"
        )


def main() -> None:
    require_compiled("bench_execution")
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (median reported)")
    ap.add_argument("--number", type=int, default=20, help="calls per round")
    args = ap.parse_args()
    header("bench_execution")
    bench_cost(args.repeat, args.number)
    bench_improvement()


if __name__ == "__main__":
    main()
