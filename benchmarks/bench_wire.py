"""Benchmark: direct ``orderbook.Summary`` encoding vs the protobuf library.

Method
------
* Data: a consolidated book of N bids and N asks (N = 10, 20, 50) spread over 4 venues,
  float prices and quantities, seeded: the shape ``merge_levels`` returns.
* Compared, in one process, on the same data; every method's bytes are checked equal:

  - ``protobuf build+serialise``: ``Summary(spread=..., bids=[Level(...), ...],
    asks=[...]).SerializeToString()`` with the installed protobuf backend (printed),
    i.e. what a gRPC server would do per update;
  - ``protobuf serialise only``: ``SerializeToString()`` of a message built beforehand
    (for reference: the building is most of the cost);
  - ``dragonfly encode_summary``: the compiled Python-facing call (reads the Python
    levels, writes the bytes);
  - ``C level``: ``wire_c.encode_summary_view`` from C arrays and pre-encoded venue
    names, the path the aggregator uses (``wire_c._bench_encode_view_ns``);
  - the pure-Python twin.

* Each figure is the median over ``--repeat`` runs of the time per call (``timeit``
  with ``--number`` calls per run). Ratios are protobuf build+serialise time divided by
  the method's time.

Run: ``python benchmarks/bench_wire.py`` (after building the extensions and generating
the protobuf code, which ``pip install -e .`` / ``setup.py`` both do).
"""

from __future__ import annotations

import argparse
import random
import statistics
import timeit
from collections.abc import Callable
from typing import Any

from google.protobuf.internal import api_implementation

from dragonfly._core import wire_py
from dragonfly.services.grpc._gen import orderbook_pb2

try:
    from dragonfly._core import wire_c
except ImportError:  # pure build
    wire_c = None  # type: ignore[assignment]

VENUES = ["binance", "bitstamp", "kraken", "okx"]


Levels = list[tuple[str, float, float]]


def make_levels(n: int, rng: random.Random) -> tuple[Levels, Levels]:
    bids = [(rng.choice(VENUES), 30000.0 - 0.01 * i * rng.randint(1, 3), rng.uniform(0.001, 3.0)) for i in range(n)]
    asks = [(rng.choice(VENUES), 30000.5 + 0.01 * i * rng.randint(1, 3), rng.uniform(0.001, 3.0)) for i in range(n)]
    return bids, asks


def protobuf_build(bids: list, asks: list) -> bytes:
    Summary, Level = orderbook_pb2.Summary, orderbook_pb2.Level
    spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
    return Summary(
        spread=spread,
        bids=[Level(exchange=v, price=p, amount=q) for v, p, q in bids],
        asks=[Level(exchange=v, price=p, amount=q) for v, p, q in asks],
    ).SerializeToString()


def median_ns(func: Callable[[], Any], number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e9


def report(n: int, bids: Levels, asks: Levels, number: int, repeat: int) -> None:
    """Print one block of the table: every method on the same ``n`` levels per side."""
    expected = protobuf_build(bids, asks)
    assert wire_py.encode_summary(bids, asks) == expected
    prebuilt = orderbook_pb2.Summary.FromString(expected)
    rows: list[tuple[str, float]] = []
    base = median_ns(lambda: protobuf_build(bids, asks), number, repeat)
    rows.append(("protobuf build+serialise", base))
    ns = median_ns(prebuilt.SerializeToString, number * 4, repeat)
    rows.append(("protobuf serialise only (prebuilt message)", ns))
    if wire_c is not None:
        assert wire_c.encode_summary(bids, asks) == expected
        ns = median_ns(lambda: wire_c.encode_summary(bids, asks), number * 10, repeat)
        rows.append(("dragonfly encode_summary (compiled)", ns))
        ns, out = wire_c._bench_encode_view_ns(bids, asks, 1)
        assert out == expected
        c_level = statistics.median(wire_c._bench_encode_view_ns(bids, asks, number * 20)[0] for _ in range(repeat))
        rows.append(("dragonfly C level encode_summary_view", c_level))
    ns = median_ns(lambda: wire_py.encode_summary(bids, asks), number, repeat)
    rows.append(("dragonfly encode_summary (pure Python)", ns))
    for name, ns in rows:
        print(f"{n:>3}  {name:<42} {ns:>11.0f} {base / ns:>11.1f}x")


def main() -> None:
    from _timing import require_compiled

    require_compiled("bench_wire")
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(20240601)
    print(f"encode orderbook.Summary; protobuf {api_implementation.Type()} backend")
    print(f"median ns per call over {args.repeat} runs; ratio = protobuf build+serialise time / this time\n")
    header = f"{'N':>3}  {'method':<42} {'median ns':>11} {'vs protobuf':>12}"
    print(header)
    print("-" * len(header))
    for n in (10, 20, 50):
        bids, asks = make_levels(n, rng)
        report(n, bids, asks, args.number, args.repeat)
        print()
    if wire_c is None:
        print("compiled core not available: only the pure-Python twin was measured")


if __name__ == "__main__":
    main()
