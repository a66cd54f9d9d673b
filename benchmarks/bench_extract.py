"""Top-of-book extraction: dragonfly's partial-frame extractor vs full JSON parsers.

Method
------
Task: read the best 10 bid and the best 10 ask levels of one order-book message as
floats. Each full parser (``json``, ``orjson``, ``yyjson``, ``msgspec``) parses the whole
message, then ``float()`` converts the 2 x 10 ``[price, qty]`` pairs. dragonfly runs:

* ``TopExtractor.update`` -- the listeners' hot path: both sides into C arrays, no
  Python objects (the change flag is computed too);
* ``extract_levels`` x 2 -- the Python-facing view, building the lists of tuples;
* the pure-Python twin of ``extract_levels``, for reference.

Every candidate's output is checked against ``json.loads`` before timing. Timing:
``perf_counter_ns`` around a loop of calls (``--number`` for a 2 KB message, scaled to
the message size), ``--repeat`` samples per candidate taken round robin across the
candidates (so load on a shared machine hits all alike), garbage collector off while
timing (as ``timeit`` does); the figure is the median per call, and the ratio is
candidate median / dragonfly ``TopExtractor`` median. One process, same messages. Messages: generated ones in the
venues' documented shapes (always), and real ones from ../shared/captures when that folder
exists (read-only, never copied).

Run: ``python benchmarks/bench_extract.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.metadata
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dragonfly import core_implementation
from dragonfly._core import extract_py

try:
    extract_c: Any = importlib.import_module("dragonfly._core.extract_c")
except ImportError:  # pure build
    extract_c = None

HERE = Path(__file__).resolve().parent
CAPTURES = HERE.parent.parent / "shared" / "captures"
DEPTH = 10


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


orjson = _optional("orjson")
yyjson = _optional("yyjson")
msgspec = _optional("msgspec")


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------


def _levels(n: int, base: float, step: float, decimals: int = 8) -> list[list[str]]:
    return [
        [f"{base + i * step:.2f}{'0' * (decimals - 2)}", f"{0.001 + (i * 7919 % 5000) / 1000:.{decimals}f}"]
        for i in range(n)
    ]


def binance_depth20() -> str:
    """``<symbol>@depth20@100ms``, raw stream: ``{"lastUpdateId", "bids", "asks"}``."""
    msg = {"lastUpdateId": 50093239218, "bids": _levels(20, 61837.63, -0.01), "asks": _levels(20, 61837.64, 0.01)}
    return json.dumps(msg, separators=(",", ":"))


def bitstamp_order_book_100() -> str:
    """``order_book_<pair>`` data message with 100 levels a side."""
    msg = {
        "data": {
            "timestamp": "1617654355",
            "microtimestamp": "1617654355388853",
            "bids": _levels(100, 58001.0, -1.0),
            "asks": _levels(100, 58002.0, 1.0),
        },
        "channel": "order_book_btcusd",
        "event": "data",
    }
    return json.dumps(msg, separators=(",", ":"))


def real_messages() -> list[tuple[str, str, str, str]]:
    """(label, message, bids path, asks path) from ../shared/captures, when present."""
    out: list[tuple[str, str, str, str]] = []
    if not (CAPTURES / "SOURCES.md").is_file():
        return out
    snap = CAPTURES / "binance" / "derived__hftbacktest_spot_BTCUSDT_rest_depth_snapshot.json"
    if snap.is_file():
        text = snap.read_text().strip()
        doc = json.loads(text)
        # a depth20-sized message made of the real snapshot's first 20 levels (real values and formatting)
        d20 = json.dumps(
            {"lastUpdateId": doc["lastUpdateId"], "bids": doc["bids"][:20], "asks": doc["asks"][:20]},
            separators=(",", ":"),
        )
        out.append(("real Binance top 20 (from REST snapshot)", d20, "bids", "asks"))
        out.append(("real Binance REST snapshot 1000/1000", text, "bids", "asks"))
    bitstamp = CAPTURES / "bitstamp" / "cryptofeed__BITSTAMP-b88f8b.0"
    if bitstamp.is_file():
        best = None
        for line in bitstamp.open(encoding="utf-8"):
            _, sep, body = line.rstrip("\n").partition(": ")
            if not sep or not body.startswith('{"data"'):
                continue
            data = json.loads(body).get("data", {})
            deep = isinstance(data, dict) and len(data.get("bids", [])) >= 10 and len(data.get("asks", [])) >= 10
            if deep and (best is None or len(body) > len(best)):
                best = body
        if best is not None:
            doc = json.loads(best)
            label = f"real Bitstamp diff_order_book ({len(doc['data']['bids'])}/{len(doc['data']['asks'])} levels)"
            out.append((label, best, "data.bids", "data.asks"))
    return out


# ---------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------


def _walk(doc: Any, path: str) -> Any:
    for comp in path.split("."):
        doc = doc[int(comp)] if isinstance(doc, list) else doc[comp]
    return doc


def candidates(bids: str, asks: str) -> list[tuple[str, Callable[[str], Any] | None]]:
    out: list[tuple[str, Callable[[str], Any] | None]] = []
    if extract_c is not None:
        top = extract_c.TopExtractor(bids, asks, DEPTH)

        def c_top(msg: str) -> Any:
            top.update(msg)  # full work every call: parse both sides, compare with the last
            return top

        out.append(("dragonfly TopExtractor.update (C arrays)", c_top))
        c_el = extract_c.extract_levels
        out.append(("dragonfly extract_levels x2 (lists)", lambda m: (c_el(m, bids, DEPTH), c_el(m, asks, DEPTH))))
    py_el = extract_py.extract_levels
    out.append(("dragonfly pure-Python twin x2", lambda m: (py_el(m, bids, DEPTH), py_el(m, asks, DEPTH))))

    def full(loads: Callable[[Any], Any]) -> Callable[[str], Any]:
        if "." not in bids and "." not in asks:

            def run(msg: str) -> Any:
                d = loads(msg)
                return (
                    [(float(e[0]), float(e[1])) for e in d[bids][:DEPTH]],
                    [(float(e[0]), float(e[1])) for e in d[asks][:DEPTH]],
                )

        else:

            def run(msg: str) -> Any:
                d = loads(msg)
                return (
                    [(float(e[0]), float(e[1])) for e in _walk(d, bids)[:DEPTH]],
                    [(float(e[0]), float(e[1])) for e in _walk(d, asks)[:DEPTH]],
                )

        return run

    out.append(("json.loads + float()", full(json.loads)))
    out.append(("orjson.loads + float()", full(orjson.loads) if orjson else None))  # type: ignore[arg-type]
    out.append(("yyjson.loads + float()", full(yyjson.loads) if yyjson else None))  # type: ignore[arg-type]
    out.append(("msgspec.json.decode + float()", full(msgspec.json.Decoder().decode) if msgspec else None))  # type: ignore[arg-type]
    return out


def _result(obj: Any) -> Any:
    if isinstance(obj, (extract_c.TopExtractor if extract_c else (), extract_py.TopExtractor)):
        return (list(obj.bids), list(obj.asks))
    return (list(obj[0]), list(obj[1]))


def measure(
    cands: Sequence[tuple[str, Callable[[str], Any] | None]], msg: str, number: int, repeat: int
) -> dict[str, float]:
    """Median ns per call of each candidate. Samples are interleaved (round robin) so
    that load on a shared machine hits every candidate alike; the garbage collector is
    off while timing, as in ``timeit``."""
    samples: dict[str, list[float]] = {name: [] for name, fn in cands if fn is not None}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            for name, fn in cands:
                if fn is None:
                    continue
                t0 = time.perf_counter_ns()
                for _ in range(number):
                    fn(msg)
                samples[name].append((time.perf_counter_ns() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


def run_case(label: str, msg: str, bids: str, asks: str, number: int, repeat: int) -> None:
    want = (
        [(float(e[0]), float(e[1])) for e in _walk(json.loads(msg), bids)[:DEPTH]],
        [(float(e[0]), float(e[1])) for e in _walk(json.loads(msg), asks)[:DEPTH]],
    )
    cands = candidates(bids, asks)
    for name, fn in cands:
        if fn is not None:
            got = _result(fn(msg))
            assert got == want, f"{name} disagrees with json.loads on {label}"
    # scale the loop to the message size so that one sample takes a few ms for the slow candidates
    n = max(5, number * 2000 // max(len(msg), 2000))
    fast = [(name, fn) for name, fn in cands if "pure-Python" not in name]
    slow = [(name, fn) for name, fn in cands if "pure-Python" in name]
    timings = measure(fast, msg, n, repeat)
    timings.update(measure(slow, msg, max(1, n // 50), max(3, repeat // 3)))
    base_name = cands[0][0]
    base = timings[base_name]
    print(f"\n{label}: {len(msg)} bytes, top {DEPTH} bids + top {DEPTH} asks ({bids!r}, {asks!r})")
    print(f"  {'candidate':44} {'median':>12} {'vs ' + base_name.split(' (')[0]:>34}")
    for name, _ in cands:
        if name not in timings:
            print(f"  {name:44} {'not installed':>12}")
            continue
        t = timings[name]
        unit = f"{t / 1000:.2f} us" if t >= 1000 else f"{t:.0f} ns"
        ratio = t / base
        print(f"  {name:44} {unit:>12} {ratio:>33.1f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=500, help="calls per sample for a 2 KB message")
    ap.add_argument("--repeat", type=int, default=31, help="samples per candidate (interleaved)")
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    args = ap.parse_args(argv)
    if args.quick:
        args.number, args.repeat = 200, 7
    print(f"python {sys.version.split()[0]}, dragonfly core: {core_implementation()}")
    print("versions:", ", ".join(f"{m.__name__} {_version(m.__name__)}" for m in (orjson, yyjson, msgspec) if m))
    for name, mod in (("orjson", orjson), ("yyjson", yyjson), ("msgspec", msgspec)):
        if mod is None:
            print(f"{name}: not installed")
    cases = [
        ("generated Binance depth20", binance_depth20(), "bids", "asks"),
        ("generated Bitstamp order_book, 100 levels", bitstamp_order_book_100(), "data.bids", "data.asks"),
    ]
    cases += real_messages()
    for label, msg, bids, asks in cases:
        run_case(label, msg, bids, asks, args.number, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
