"""Benchmark: the core's direct protobuf encoders vs the protobuf library.

Method
------
* Data: a consolidated book of N bids and N asks (N = 10, 20, 50) spread over 4 venues,
  float prices and quantities, seeded: the shape ``merge_levels`` returns; for
  ``dragonfly.v1.BookUpdate`` also an instrument, seq, three timestamps and the health of
  the 4 venues (one STALE with a reason).
* Compared, in one process, on the same data; every method's bytes are checked equal:

  - ``protobuf build+serialise``: ``Summary(...)`` / ``BookUpdate(...)`` with ``Level`` (and
    ``VenueHealth``) objects, then ``SerializeToString()``, with the installed protobuf backend
    (printed): what a gRPC server building messages does per update;
  - ``protobuf serialise only``: ``SerializeToString()`` of a message built beforehand
    (for reference: the building is most of the cost);
  - ``dragonfly encode_summary`` / ``encode_book_update``: the compiled Python-facing calls
    (what :mod:`dragonfly.services.grpc` calls per update: they read the Python levels and
    write the bytes);
  - ``C level`` (Summary only): ``wire_c.encode_summary_view`` from C arrays and pre-encoded
    venue names (``wire_c._bench_encode_view_ns``);
  - the pure-Python twins.

* Methods are timed in interleaved rounds (:func:`_timing.interleaved`: rotating order, collector
  off while timing), ``--number`` calls per round, ``--rounds`` rounds; medians are printed. Ratios are
  protobuf build+serialise time divided by the method's time.

Refuses to run on the pure-Python core (it times the compiled one).

Run: ``python benchmarks/bench_wire.py``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing

VENUES = ["binance", "bitstamp", "kraken", "okx"]
HEALTH = [
    ("binance", 2, 1_764_500_000_000_000_000, ""),
    ("bitstamp", 2, 1_764_500_000_000_100_000, ""),
    ("kraken", 3, 1_764_499_990_000_000_000, "stale: no data for 10 s"),
    ("okx", 2, 1_764_500_000_000_200_000, ""),
]
TS = {"exchange_ts_ns": 1_764_500_000_000_000_000, "receive_ts_ns": 1_764_500_000_000_250_000,
      "publish_ts_ns": 1_764_500_000_000_270_000}

Levels = list[tuple[str, float, float]]


def make_levels(n: int, rng: random.Random) -> tuple[Levels, Levels]:
    bids = [(rng.choice(VENUES), 30000.0 - 0.01 * i * rng.randint(1, 3), rng.uniform(0.001, 3.0)) for i in range(n)]
    asks = [(rng.choice(VENUES), 30000.5 + 0.01 * i * rng.randint(1, 3), rng.uniform(0.001, 3.0)) for i in range(n)]
    return bids, asks


def protobuf_summary(bids: Levels, asks: Levels) -> bytes:
    from dragonfly.services.grpc.protos import orderbook_pb2

    Summary, Level = orderbook_pb2.Summary, orderbook_pb2.Level
    spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
    return Summary(
        spread=spread,
        bids=[Level(exchange=v, price=p, amount=q) for v, p, q in bids],
        asks=[Level(exchange=v, price=p, amount=q) for v, p, q in asks],
    ).SerializeToString()


def protobuf_book_update(bids: Levels, asks: Levels) -> bytes:
    from dragonfly.services.grpc.protos import book_pb2, orderbook_pb2

    Level, Health = orderbook_pb2.Level, book_pb2.VenueHealth
    return book_pb2.BookUpdate(
        instrument="BTC-USDT",
        seq=1_234_567,
        spread=asks[0][1] - bids[0][1],
        bids=[Level(exchange=v, price=p, amount=q) for v, p, q in bids],
        asks=[Level(exchange=v, price=p, amount=q) for v, p, q in asks],
        venues=[Health(venue=v, status=s, last_update_ns=t, reason=r) for v, s, t, r in HEALTH],
        **TS,
    ).SerializeToString()


def _loop(fn: Callable[[], Any], number: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(number):
            fn()

    return run


def report(what: str, n: int, methods: list[tuple[str, Callable[[], Any], int]], rounds: int,
           extra: list[tuple[str, float]]) -> None:
    """Time ``methods`` (name, call, calls per round) interleaved; print ns per call and the ratio to the first."""
    times = _timing.interleaved([_loop(fn, k) for _, fn, k in methods], rounds)
    rows = [(name, t / k * 1e9) for (name, _, k), t in zip(methods, times, strict=True)] + extra
    base = rows[0][1]
    for name, ns in rows:
        print(f"{what:<10} {n:>3}  {name:<44} {ns:>11.0f} {base / ns:>11.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per round of the protobuf build (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    args = parser.parse_args()
    _timing.require_compiled("bench_wire")
    from google.protobuf.internal import api_implementation

    from dragonfly._core import wire_c, wire_py
    from dragonfly.services.grpc.protos import orderbook_pb2

    _timing.header(f"bench_wire (protobuf backend: {api_implementation.Type()})", compared=("protobuf",))
    print(f"# median ns per call over {args.rounds} interleaved rounds; ratio = protobuf build+serialise / this\n")
    head = f"{'message':<10} {'N':>3}  {'method':<44} {'median ns':>11} {'vs protobuf':>12}"
    print(head)
    print("-" * len(head))
    rng = random.Random(20240601)
    k = args.number
    for n in (10, 20, 50):
        bids, asks = make_levels(n, rng)
        expected = protobuf_summary(bids, asks)
        assert wire_c.encode_summary(bids, asks) == expected == wire_py.encode_summary(bids, asks)
        _, out = wire_c._bench_encode_view_ns(bids, asks, 1)
        assert out == expected
        prebuilt = orderbook_pb2.Summary.FromString(expected)
        c_level = statistics.median(wire_c._bench_encode_view_ns(bids, asks, k * 20)[0] for _ in range(args.rounds))
        report("Summary", n, [
            ("protobuf build+serialise", lambda b=bids, a=asks: protobuf_summary(b, a), k),
            ("protobuf serialise only (prebuilt message)", prebuilt.SerializeToString, k * 4),
            ("dragonfly encode_summary (compiled)", lambda b=bids, a=asks: wire_c.encode_summary(b, a), k * 10),
            ("dragonfly encode_summary (pure Python)", lambda b=bids, a=asks: wire_py.encode_summary(b, a), k),
        ], args.rounds, [("dragonfly C level encode_summary_view", c_level)])

        def ours(mod: Any, b: Levels = bids, a: Levels = asks) -> bytes:
            return mod.encode_book_update("BTC-USDT", 1_234_567, b, a, venues=HEALTH, **TS)

        expected = protobuf_book_update(bids, asks)
        assert ours(wire_c) == expected == ours(wire_py)
        from dragonfly.services.grpc.protos import book_pb2

        prebuilt_bu = book_pb2.BookUpdate.FromString(expected)
        report("BookUpdate", n, [
            ("protobuf build+serialise", lambda b=bids, a=asks: protobuf_book_update(b, a), k),
            ("protobuf serialise only (prebuilt message)", prebuilt_bu.SerializeToString, k * 4),
            ("dragonfly encode_book_update (compiled)", lambda: ours(wire_c), k * 10),
            ("dragonfly encode_book_update (pure Python)", lambda: ours(wire_py), k),
        ], args.rounds, [])
        print()


if __name__ == "__main__":
    main()
