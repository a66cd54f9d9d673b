"""Diff-stream frames: ``json.loads`` + ``Book.apply`` against ``Doc`` + ``Book.apply_doc``.

Method
------
The book messages of three live captures (``../shared/captures`` or
``$DRAGONFLY_CAPTURES``) are loaded into memory as the text the venue sent:

* Kraken v1 ``book-1000`` (10 pairs; snapshots and 14,496 updates with a ``c`` checksum),
* OKX ``books-l2-tbt`` and ``books`` (snapshots, updates, a checksum on every message),
* Binance spot ``depth@100ms`` for BTCUSDT (hftbacktest: a REST snapshot, then 3,451 diffs;
  Binance has no checksum, the ``U``/``u`` sequence is checked instead).

Each message goes through what a diff listener does with a frame, written twice:

(a) ``json.loads`` of the frame, pick the venue's fields from the dicts and lists,
    ``Book.apply``, ``Book.top(10)``, and the venue checksum compared with the one sent;
(b) ``Doc(frame)``, the same fields through handles, ``Book.apply_doc``, ``Book.top(10)``,
    and the same checksum comparison.

Both use the compiled ``Book`` (``_timing.require_compiled``: the script refuses to run, exit
status 2, when the compiled core is not the one imported). A *round* replays every message of a capture from fresh
books once with (a) and once with (b), and also parses every frame alone with
``json.loads`` and with ``Doc`` (the "parsing alone" columns: how much of the gain the
parser gives before the book work both share); the order rotates from round to round and
``--rounds`` rounds run interleaved in one process (``_timing.interleaved_cpu``: CPU time of this
thread, not wall time), so load on a shared machine hits all
alike. The figure is the median over rounds of (round time / messages), in ns per
message, and the ratio (a)/(b). Before timing, both must agree: same number of matching
checksums (all of them), and the same top 25 (floats and text) of every book at the end.
The garbage collector is off while timing, and collected between runs.

``--stages`` breaks each side down instead: the same loops cut after each stage (parsing;
+ reading the fields, with the book calls left out; + ``apply``/``apply_doc``; + ``top(10)``;
+ the checksum), all the variants interleaved as above; a stage's figure is the difference
between the medians with and without it (so it carries the noise of two medians).

Usage: ``python benchmarks/bench_diff_parse.py [--rounds 15] [--stages]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _timing import REPO, captures_dir, header, interleaved_cpu, require_compiled

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _loads_loops import binance_loads, kraken_loads, okx_loads  # path (a)

from dragonfly.sim.diff.recordings import read_cryptofeed

TOP = 10


def compiled_or_exit() -> tuple[Any, Any]:
    require_compiled("bench_diff_parse")
    from dragonfly._core.book_c import Book
    from dragonfly._core.doc_c import Doc

    return Book, Doc


# -- workloads (the readers of bench_book.py where they fit) ---------------------------------------


def kraken_messages() -> list[str]:
    from bench_book import kraken_messages as read

    title, msgs = read()
    if "synthetic" in title:
        raise SystemExit("bench_diff_parse: the Kraken capture is missing (captures folder not found)")
    return msgs


def okx_messages(name: str) -> list[str]:
    path = captures_dir() / "okx" / name
    out = []
    for rec in read_cryptofeed(path):
        if rec.kind == "recv" and rec.body.startswith("{") and '"books' in rec.body and '"data"' in rec.body:
            out.append(rec.body)
    return out


def binance_messages() -> tuple[str, list[str]]:
    from bench_book import binance_messages as read

    got = read()
    if got is None:
        raise SystemExit("bench_diff_parse: the Binance capture is missing")
    _title, snapshot, diffs = got
    return snapshot, diffs


# -- Kraken -----------------------------------------------------------------------------------------


def kraken_doc(Book: Any, Doc: Any, msgs: list[str]) -> Callable[[], tuple[int, dict[str, Any]]]:
    def run() -> tuple[int, dict[str, Any]]:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            d = Doc(raw)
            pair = d.str(d.at(0, -1))
            first = d.at(0, 1)
            sa = d.get(first, "as")
            sb = d.get(first, "bs")
            if sa >= 0 or sb >= 0:
                book = books[pair] = Book(max_depth=1000)
                book.apply_doc(d, sb, sa)
                book.top(TOP)
                continue
            book = books[pair]
            if d.len(0) == 5:
                second = d.at(0, 2)
                book.apply_doc(d, d.get(second, "b"), d.get(first, "a"))
                c = d.get(second, "c")
            else:
                book.apply_doc(d, d.get(first, "b"), d.get(first, "a"))
                c = d.get(first, "c")
            book.top(TOP)
            if c >= 0:
                ok += book.checksum("crc32_top10_digits") == d.int(c)
        return ok, books

    return run


# -- OKX --------------------------------------------------------------------------------------------


def okx_doc(Book: Any, Doc: Any, msgs: list[str]) -> Callable[[], tuple[int, dict[str, Any]]]:
    def run() -> tuple[int, dict[str, Any]]:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            d = Doc(raw)
            inst = d.str(d.get(d.get(0, "arg"), "instId"))
            action = d.get(0, "action")
            snapshot = action < 0 or d.str(action) == "snapshot"
            for h in d.children(d.get(0, "data")):
                if snapshot:
                    book = books[inst] = Book(max_depth=400)
                else:
                    book = books[inst]
                book.apply_doc(d, d.get(h, "bids"), d.get(h, "asks"))
                book.top(TOP)
                ok += book.checksum("crc32_top25_interleaved") == d.int(d.get(h, "checksum"))
        return ok, books

    return run


# -- Binance ----------------------------------------------------------------------------------------


def binance_doc(Book: Any, Doc: Any, snapshot: str, diffs: list[str]) -> Callable[[], tuple[int, dict[str, Any]]]:
    def run() -> tuple[int, dict[str, Any]]:
        s = Doc(snapshot)
        book = Book(max_depth=5000)
        book.apply_doc(s, s.get(0, "bids"), s.get(0, "asks"))
        last = s.int(s.get(0, "lastUpdateId"))
        n = 0
        for raw in diffs:
            d = Doc(raw)
            m = d.get(0, "data")
            u = d.int(d.get(m, "u"))
            if u <= last:
                continue
            if n and d.int(d.get(m, "U")) != last + 1:
                raise AssertionError("gap")
            book.apply_doc(d, d.get(m, "b"), d.get(m, "a"))
            last = u
            book.top(TOP)
            n += 1
        return n, {"BTCUSDT": book}

    return run


# -- driver -----------------------------------------------------------------------------------------


def same_books(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].top(25) == b[k].top(25) and a[k].top_text(25) == b[k].top_text(25) for k in a
    )


def parse_only(parse: Callable[[str], Any], frames: list[str]) -> Callable[[], tuple[int, Any]]:
    def run() -> tuple[int, Any]:
        for raw in frames:
            parse(raw)
        return 0, {}

    return run


def compare(
    title: str,
    frames: list[str],
    fa: Callable[[], tuple[int, Any]],
    fb: Callable[[], tuple[int, Any]],
    rounds: int,
    expect: int | None,
    Doc: Any,
) -> float:
    ra, books_a = fa()  # warm-up, and the correctness check
    rb, books_b = fb()
    if ra != rb or (expect is not None and ra != expect) or not same_books(books_a, books_b):
        raise SystemExit(f"{title}: (a) and (b) disagree: {ra} vs {rb} (expected {expect})")
    n = len(frames)
    ta, tb, pa, pb = (
        t / n * 1e9 for t in interleaved_cpu([fa, fb, parse_only(json.loads, frames), parse_only(Doc, frames)], rounds)
    )
    print(f"  {title:44s} {n:7,d} {ta:8.0f} {tb:8.0f} {ta / tb:7.2f}x   {pa:8.0f} {pb:7.0f} {pa / pb:6.1f}x")
    return ta / tb


# -- stages -----------------------------------------------------------------------------------------
# The loops above, cut after stage ``stage`` (0 parse, 1 fields, 2 apply, 3 top, 4 checksum). Below
# stage 2 the book is a stand-in that is never called.

STAGES = ("parse", "fields", "apply", "top(10)", "checksum")


class _NoBook:
    def __init__(self, max_depth: int = 0) -> None:
        pass


def kraken_stage(Book: Any, Doc: Any, side: str, stage: int, msgs: list[str]) -> Callable[[], int]:
    loads = json.loads
    B = Book if stage >= 2 else _NoBook

    def run_a() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            m = loads(raw)
            if stage == 0:
                continue
            pair = m[-1]
            first = m[1]
            if "as" in first or "bs" in first:
                book = books[pair] = B(max_depth=1000)
                if stage >= 2:
                    book.apply(first.get("bs", ()), first.get("as", ()))
                if stage >= 3:
                    book.top(TOP)
                continue
            book = books[pair]
            if len(m) == 5:
                second = m[2]
                bids, asks = second.get("b", ()), first.get("a", ())
                c = second.get("c")
            else:
                bids, asks = first.get("b", ()), first.get("a", ())
                c = first.get("c")
            if stage >= 2:
                book.apply(bids, asks)
            if stage >= 3:
                book.top(TOP)
            if c is not None:
                ok += (book.checksum("crc32_top10_digits") if stage >= 4 else 0) == int(c)
        return ok

    def run_b() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            d = Doc(raw)
            if stage == 0:
                continue
            pair = d.str(d.at(0, -1))
            first = d.at(0, 1)
            sa = d.get(first, "as")
            sb = d.get(first, "bs")
            if sa >= 0 or sb >= 0:
                book = books[pair] = B(max_depth=1000)
                if stage >= 2:
                    book.apply_doc(d, sb, sa)
                if stage >= 3:
                    book.top(TOP)
                continue
            book = books[pair]
            if d.len(0) == 5:
                second = d.at(0, 2)
                bids, asks = d.get(second, "b"), d.get(first, "a")
                c = d.get(second, "c")
            else:
                bids, asks = d.get(first, "b"), d.get(first, "a")
                c = d.get(first, "c")
            if stage >= 2:
                book.apply_doc(d, bids, asks)
            if stage >= 3:
                book.top(TOP)
            if c >= 0:
                ok += (book.checksum("crc32_top10_digits") if stage >= 4 else 0) == d.int(c)
        return ok

    return run_a if side == "a" else run_b


def okx_stage(Book: Any, Doc: Any, side: str, stage: int, msgs: list[str]) -> Callable[[], int]:
    loads = json.loads
    B = Book if stage >= 2 else _NoBook

    def run_a() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            m = loads(raw)
            if stage == 0:
                continue
            inst = m["arg"]["instId"]
            snapshot = m.get("action", "snapshot") == "snapshot"
            for d in m["data"]:
                book = books[inst] = B(max_depth=400) if snapshot else books[inst]
                bids, asks = d["bids"], d["asks"]
                if stage >= 2:
                    book.apply(bids, asks)
                if stage >= 3:
                    book.top(TOP)
                ok += (book.checksum("crc32_top25_interleaved") if stage >= 4 else 0) == int(d["checksum"])
        return ok

    def run_b() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            d = Doc(raw)
            if stage == 0:
                continue
            inst = d.str(d.get(d.get(0, "arg"), "instId"))
            action = d.get(0, "action")
            snapshot = action < 0 or d.str(action) == "snapshot"
            for h in d.children(d.get(0, "data")):
                book = books[inst] = B(max_depth=400) if snapshot else books[inst]
                bids, asks = d.get(h, "bids"), d.get(h, "asks")
                if stage >= 2:
                    book.apply_doc(d, bids, asks)
                if stage >= 3:
                    book.top(TOP)
                ok += (book.checksum("crc32_top25_interleaved") if stage >= 4 else 0) == d.int(d.get(h, "checksum"))
        return ok

    return run_a if side == "a" else run_b


def binance_stage(Book: Any, Doc: Any, side: str, stage: int, snapshot: str, diffs: list[str]) -> Callable[[], int]:
    loads = json.loads

    def run_a() -> int:
        snap = loads(snapshot)
        book = Book(max_depth=5000)
        book.apply(snap["bids"], snap["asks"])
        last = snap["lastUpdateId"]
        n = 0
        for raw in diffs:
            m = loads(raw)
            if stage == 0:
                continue
            m = m["data"]
            if m["u"] <= last:
                continue
            if n and m["U"] != last + 1:
                raise AssertionError("gap")
            bids, asks = m["b"], m["a"]
            if stage >= 2:
                book.apply(bids, asks)
            last = m["u"]
            if stage >= 3:
                book.top(TOP)
            n += 1
        return n

    def run_b() -> int:
        s = Doc(snapshot)
        book = Book(max_depth=5000)
        book.apply_doc(s, s.get(0, "bids"), s.get(0, "asks"))
        last = s.int(s.get(0, "lastUpdateId"))
        n = 0
        for raw in diffs:
            d = Doc(raw)
            if stage == 0:
                continue
            m = d.get(0, "data")
            u = d.int(d.get(m, "u"))
            if u <= last:
                continue
            if n and d.int(d.get(m, "U")) != last + 1:
                raise AssertionError("gap")
            bids, asks = d.get(m, "b"), d.get(m, "a")
            if stage >= 2:
                book.apply_doc(d, bids, asks)
            last = u
            if stage >= 3:
                book.top(TOP)
            n += 1
        return n

    return run_a if side == "a" else run_b


def stages(title: str, n: int, make: Callable[[str, int], Callable[[], int]], count: int, rounds: int) -> None:
    keys = [(side, st) for side in "ab" for st in range(count)]
    times = interleaved_cpu([make(side, st) for side, st in keys], rounds)
    medians = dict(zip(keys, (t / n * 1e9 for t in times), strict=True))
    print(f"  {title}")
    for side in "ab":
        steps = [medians[(side, st)] - (medians[(side, st - 1)] if st else 0.0) for st in range(count)]
        cells = "  ".join(f"{name} {v:5.0f}" for name, v in zip(STAGES, steps, strict=False))
        print(f"    ({side}) {medians[(side, count - 1)]:6.0f} = {cells}")
    print(f"    (a)/(b) {medians[('a', count - 1)] / medians[('b', count - 1)]:.2f}x")


def main_stages(Book: Any, Doc: Any, rounds: int) -> None:
    print(f"CPU ns per message by stage, median of {rounds} interleaved rounds (Python {sys.version.split()[0]})")
    kmsgs = kraken_messages()
    stages(
        "Kraken v1 book-1000 (+ checksum)", len(kmsgs), lambda s, st: kraken_stage(Book, Doc, s, st, kmsgs), 5, rounds
    )
    for name, label in (
        ("cryptofeed__OKX.ws.1.0__books-l2-tbt_2022-02-27", "OKX books-l2-tbt (+ checksum)"),
        ("cryptofeed__OKX.ws.1.0__books_2022-05-13", "OKX books (+ checksum)"),
    ):
        omsgs = okx_messages(name)
        stages(label, len(omsgs), lambda s, st, m=omsgs: okx_stage(Book, Doc, s, st, m), 5, rounds)
    snapshot, diffs = binance_messages()
    stages(
        "Binance BTCUSDT depth@100ms (+ REST snapshot)",
        len(diffs) + 1,
        lambda s, st: binance_stage(Book, Doc, s, st, snapshot, diffs),
        4,
        rounds,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--stages", action="store_true", help="break each side down by stage instead")
    args = ap.parse_args()
    Book, Doc = compiled_or_exit()
    header("bench_diff_parse")
    if args.stages:
        main_stages(Book, Doc, args.rounds)
        return

    print(
        f"CPU ns per message, median of {args.rounds} interleaved rounds (compiled Book and Doc; "
        f"Python {sys.version.split()[0]})"
    )
    print(f"  {'':44s} {'':7s} {'whole frame handling':^26s}   {'parsing alone':^24s}")
    print(
        f"  {'capture':44s} {'msgs':>7s} {'(a)':>8s} {'(b)':>8s} {'(a)/(b)':>8s}   "
        f"{'loads':>8s} {'Doc':>7s} {'ratio':>7s}"
    )

    kmsgs = kraken_messages()
    expect = sum(1 for raw in kmsgs if '"c":' in raw)
    compare(
        "Kraken v1 book-1000 (+ checksum)",
        kmsgs,
        kraken_loads(Book, kmsgs),
        kraken_doc(Book, Doc, kmsgs),
        args.rounds,
        expect,
        Doc,
    )
    for name, label in (
        ("cryptofeed__OKX.ws.1.0__books-l2-tbt_2022-02-27", "OKX books-l2-tbt (+ checksum)"),
        ("cryptofeed__OKX.ws.1.0__books_2022-05-13", "OKX books (+ checksum)"),
    ):
        omsgs = okx_messages(name)
        compare(label, omsgs, okx_loads(Book, omsgs), okx_doc(Book, Doc, omsgs), args.rounds, len(omsgs), Doc)
    snapshot, diffs = binance_messages()
    compare(
        "Binance BTCUSDT depth@100ms (+ REST snapshot)",
        [snapshot, *diffs],
        binance_loads(Book, snapshot, diffs),
        binance_doc(Book, Doc, snapshot, diffs),
        args.rounds,
        None,
        Doc,
    )


if __name__ == "__main__":
    main()
