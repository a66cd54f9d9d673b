"""Diff replay against the code at issue 9's filing (2b95a0b): that version's listener next to today's feed.

Issue 9 asks for "diff replay (parse + apply + top N + checksum) on the Kraken, OKX and Binance
captures at least 3x faster than today's ``json.loads`` path", today being the code when the issue
was filed: commit 2b95a0b. ``bench_diff_parse.py`` compares today's ``Doc`` path with a
``json.loads`` path written on *today's* (rewritten, faster) ``Book``, a stricter baseline. This
script measures the one the issue names: the 2b95a0b tree itself, built, doing per frame what its
running feed did, next to what today's running feed does per frame.

What each side times, per frame (no socket, frames' text in memory, ``receive_ns`` given):

* **old** (2b95a0b, ``--old-tree``): ``DiffListener.on_frame(frame)`` of
  ``dragonfly.listeners.diff`` with that version's venue adapter (``KrakenBookVenue`` v1 depth 1000,
  ``OkxBookVenue`` with the capture's channel, ``BinanceDiffVenue``): the adapter's ``parse``
  (stdlib ``json.loads`` into ``Delta``/``Snapshot``), the ``InstrumentSync`` (sequence rule,
  ``Book.apply``, the venue checksum, crossed check) and ``_publish`` (``Book.top(10)``, compare with
  the last one, a ``BookUpdate`` to a counting sink). Binance: the REST snapshot body goes through
  ``parse_snapshot`` + ``on_snapshot`` + ``_publish``, what its ``_fetch`` does with the answer.
* **new** (this checkout): ``FeedDriver.on_frame(frame)``, the feed ``create_feed`` builds (the venue
  adapter parsing with the core's ``Doc``, one ``BookKeeper`` per instrument: sequence rule,
  ``Book.apply_doc``, checksum, crossed check, top 10, a ``BookUpdate`` to a counting sink). The
  keepers are built as ``create_feed`` builds them, but from the venue's own symbols (the OKX
  captures hold options, futures and swaps, which ``create_feed``'s instrument names do not spell).
  Binance: ``parse_snapshot`` + ``on_snapshot`` of the REST body, as the driver does with the answer.

The frames are the ones ``bench_diff_parse.py`` replays (its readers, same files, same frame lists):
Kraken v1 ``book-1000``, OKX ``books-l2-tbt`` and ``books``, Binance ``depth@100ms`` after a REST
snapshot (the snapshot counts as one message). Both versions are the package ``dragonfly``, so each
side runs in its own process (old: ``PYTHONPATH=<old tree>``; new: this checkout, which must be the
compiled core: ``_timing.require_compiled``; the old side checks its own
``dragonfly.core_implementation() == "cython"`` and its ``book_c`` module). The frames are read once
here and handed to both through a temporary file.

Before timing, both sides replay every capture once and must agree: the same number of verified
checksums (Kraken, OKX: every one the capture carries), no fault, no bad frame, and the same top 25
of every book at the end (floats and the venue's text). Then ``--rounds`` rounds: in each, every
capture is replayed once by each side from fresh books, the two sides alternating which goes first;
a replay is timed with ``time.thread_time`` (CPU time of the replaying thread) with the garbage
collector off, and a side waits idle while the other runs. The figure is the median over rounds of
(replay time / messages), in ns per message, and the ratio old/new.

Usage (the old tree is prepared once, outside the checkout; nothing is fetched from the network)::

    git worktree add --detach /tmp/df_2b95a0b 2b95a0b
    # or: mkdir /tmp/df_2b95a0b && git archive 2b95a0b | tar -x -C /tmp/df_2b95a0b
    (cd /tmp/df_2b95a0b && PYTHONPATH=/tmp/df_2b95a0b python setup.py build_ext --inplace -q)
    python benchmarks/bench_diff_history.py --old-tree /tmp/df_2b95a0b [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from _timing import REPO, captures_dir, header, require_compiled

TOP = 10
CHECK_DEPTH = 25
PROG = "bench_diff_history"

#: (key, label, venue, OKX channel or None): the captures, in report order.
CAPTURES = (
    ("kraken", "Kraken v1 book-1000 (+ checksum)", "kraken", None),
    ("okx-tbt", "OKX books-l2-tbt (+ checksum)", "okx", "books-l2-tbt"),
    ("okx-books", "OKX books (+ checksum)", "okx", "books"),
    ("binance", "Binance BTCUSDT depth@100ms (+ REST snapshot)", "binance", None),
)
_OKX_FILES = {
    "okx-tbt": "cryptofeed__OKX.ws.1.0__books-l2-tbt_2022-02-27",
    "okx-books": "cryptofeed__OKX.ws.1.0__books_2022-05-13",
}


# -- the parent: frames, workers, rounds --------------------------------------------------------------


def old_tree_or_exit(path: str) -> Path:
    root = Path(path).resolve()
    need = ("dragonfly/__init__.py", "dragonfly/listeners/diff.py", "dragonfly/venues/kraken/diff.py")
    missing = [n for n in need if not (root / n).is_file()]
    if missing:
        print(
            f"{PROG}: {root} is not a checkout of 2b95a0b (missing {', '.join(missing)}). Prepare it with "
            f"`git worktree add --detach {root} 2b95a0b` and `python setup.py build_ext --inplace -q` in it.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if not list((root / "dragonfly" / "_core").glob("book_c*.so")):
        print(
            f"{PROG}: the old tree's core is not built; run `python setup.py build_ext --inplace -q` in {root}.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return root


def load_workloads() -> dict[str, dict[str, Any]]:
    """The frames bench_diff_parse.py replays, with the instruments each capture holds."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_diff_parse import binance_messages, kraken_messages, okx_messages

    root = captures_dir()
    need = [
        "kraken/cryptofeed__KRAKEN-c197c0.0",
        *(f"okx/{name}" for name in _OKX_FILES.values()),
        "binance/hftbacktest__spot_btcusdt_20240808.gz",
    ]
    missing = [n for n in need if not (root / n).is_file()]
    if missing:
        print(f"{PROG}: captures missing under {root}: {', '.join(missing)} (set DRAGONFLY_CAPTURES)", file=sys.stderr)
        raise SystemExit(2)
    out: dict[str, dict[str, Any]] = {}
    kmsgs = kraken_messages()
    out["kraken"] = {"frames": kmsgs, "symbols": sorted({json.loads(m)[-1] for m in kmsgs}), "snapshot": None}
    for key, name in _OKX_FILES.items():
        omsgs = okx_messages(name)
        if not omsgs:
            raise SystemExit(f"{PROG}: the OKX capture {name} is missing")
        out[key] = {
            "frames": omsgs,
            "symbols": sorted({json.loads(m)["arg"]["instId"] for m in omsgs}),
            "snapshot": None,
        }
    snapshot, diffs = binance_messages()
    out["binance"] = {"frames": diffs, "symbols": ["BTCUSDT"], "snapshot": snapshot}
    return out


class Worker:
    """One side in its own process, driven line by line over its stdin/stdout."""

    def __init__(self, side: str, pythonpath: Path, workload: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(pythonpath)
        env.pop("DRAGONFLY_NO_EXTENSIONS", None)
        self.side = side
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--workload", str(workload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=tempfile.gettempdir(),
            text=True,
        )

    def ask(self, request: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise SystemExit(f"{PROG}: the {self.side} side exited (status {code}); see its message above")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def parent(old_tree: Path, rounds: int) -> None:
    require_compiled(PROG)
    workloads = load_workloads()
    header(PROG)
    with tempfile.TemporaryDirectory(prefix="bench_diff_history_") as tmp:
        path = Path(tmp) / "frames.json"
        path.write_text(json.dumps(workloads), encoding="utf-8")
        old = Worker("old", old_tree, path)
        new = Worker("new", REPO, path)
        try:
            run(old, new, workloads, rounds)
        finally:
            old.close()
            new.close()


#: (side, path): what is timed; "feed" is a running feed's per-frame work, "loads"/"doc" bench_diff_parse.py's loops.
JOBS = (("old", "feed"), ("new", "feed"), ("old", "loads"), ("new", "loads"), ("new", "doc"))


def run(old: Worker, new: Worker, workloads: dict[str, dict[str, Any]], rounds: int) -> None:
    sides = {"old": old, "new": new}
    print(f"# old: the code at the issue's filing (2b95a0b), {old.ask({'op': 'info'})}")
    print(f"# new: this checkout, {new.ask({'op': 'info'})}")
    print("# feed: per frame, what a running feed does. old: DiffListener.on_frame (adapter parse with json.loads,")
    print("#       InstrumentSync, _publish); new: FeedDriver.on_frame (adapter parse with Doc, BookKeeper,")
    print("#       BookUpdate)")
    print("# loops: bench_diff_parse.py's; (a) json.loads + Book.apply + top 10 + checksum, on each side's Book;")
    print("#       (b) Doc + Book.apply_doc + top 10 + checksum (new side only)")
    for key, label, _venue, _channel in CAPTURES:
        fa = old.ask({"op": "check", "path": "feed", "capture": key})
        fb = new.ask({"op": "check", "path": "feed", "capture": key})
        pa, pb = fa.pop("published"), fb.pop("published")  # what each publishes may differ; the books may not
        if fa != fb:
            raise SystemExit(f"{PROG}: {label}: the two feeds disagree:\n  old {_brief(fa)}\n  new {_brief(fb)}")
        loops = [sides[s].ask({"op": "check", "path": p, "capture": key}) for s, p in JOBS if p != "feed"]
        if any(x != loops[0] for x in loops) or loops[0]["books"] != fa["books"]:
            raise SystemExit(f"{PROG}: {label}: the loops disagree with each other or with the feeds")
        frames = workloads[key]["frames"]
        expect = sum('"c":' in f for f in frames) if key == "kraken" else sum(f.count('"checksum"') for f in frames)
        if fa["checksums_ok"] != expect or (key != "binance" and loops[0]["checks"] != expect):
            raise SystemExit(f"{PROG}: {label}: not every checksum verified ({expect} sent): {_brief(fa)}")
        print(f"# {label}: the same top {CHECK_DEPTH} of every book at the end, all five; feeds: {_brief(fa)}")
        print(f"#   BookUpdates published: old {pa}, new {pb}")
    times: dict[tuple[str, str, str], list[float]] = {}
    for r in range(rounds):
        for i, (key, _label, _venue, _channel) in enumerate(CAPTURES):
            for k in range(len(JOBS)):
                side, path = JOBS[(k + r + i) % len(JOBS)]
                t = sides[side].ask({"op": "time", "path": path, "capture": key})
                times.setdefault((side, path, key), []).append(t)
    print(
        f"CPU ns per message (thread CPU time), median of {rounds} rounds, the five replays of a capture in rotating "
        f"order, each side in its own process (Python {sys.version.split()[0]})"
    )
    print(f"  {'':44s} {'':5s} {'running feed, per frame':^26s}   {'bench_diff_parse loops':^49s}")
    print(
        f"  {'capture':44s} {'msgs':>5s} {'old':>8s} {'new':>8s} {'old/new':>8s}   "
        f"{'(a) old':>8s} {'(a) new':>8s} {'(b)':>7s} {'(a)old/(b)':>11s} {'(a)new/(b)':>11s}"
    )
    for key, label, _venue, _channel in CAPTURES:
        w = workloads[key]
        n = len(w["frames"]) + (1 if w["snapshot"] is not None else 0)
        m = {job: statistics.median(times[(*job, key)]) / n * 1e9 for job in JOBS}
        fo, fn_ = m["old", "feed"], m["new", "feed"]
        ao, an, bd = m["old", "loads"], m["new", "loads"], m["new", "doc"]
        print(
            f"  {label:44s} {n:5d} {fo:8.0f} {fn_:8.0f} {fo / fn_:7.2f}x   "
            f"{ao:8.0f} {an:8.0f} {bd:7.0f} {ao / bd:10.2f}x {an / bd:10.2f}x"
        )


def _brief(check: dict[str, Any]) -> str:
    return (
        f"checksums verified {check['checksums_ok']}, deltas applied {check['applied']}, "
        f"snapshots {check['snapshots']}, faults {check['faults']}, bad frames {check['bad_frames']}, "
        f"books {len(check['books'])}"
    )


# -- the workers (one per side, in its own process) ---------------------------------------------------


class _Sink:
    published = 0

    def publish(self, update: Any) -> None:
        self.published += 1


def _side_text(side: Any) -> list[list[str]]:
    return [[str(p), str(q)] for p, q, *_ in side]


def _feed_result(units: Iterable[Any], sink: Any, stats: Any) -> dict[str, Any]:
    """What a replayed feed ends with, the same fields for both versions: its per-instrument units
    (2b95a0b's InstrumentSyncs, today's BookKeepers), its sink and its feed stats."""
    units = list(units)
    return {
        "checksums_ok": sum(u.stats.checksums_ok for u in units),
        "applied": sum(u.stats.applied for u in units),
        "snapshots": sum(u.stats.snapshots for u in units),
        "published": sink.published,
        "faults": stats.faults,
        "bad_frames": stats.bad_frames,
        "books": {u.symbol: _book_state(u.book) for u in units},
    }


def _book_state(book: Any) -> dict[str, Any]:
    bids, asks = book.top(CHECK_DEPTH)
    tb, ta = book.top_text(CHECK_DEPTH)
    return {
        "bids": [[float(p), float(q)] for p, q, *_ in bids],
        "asks": [[float(p), float(q)] for p, q, *_ in asks],
        "bids_text": _side_text(tb),
        "asks_text": _side_text(ta),
    }


class _OldClient:
    """The old listener's layer-1 stand-in: it only sets the callbacks; frames are handed over directly."""

    on_connect: Any = None
    on_disconnect: Any = None


def old_replayer(key: str, w: dict[str, Any]) -> Callable[[], tuple[Callable[[], None], Callable[[], dict[str, Any]]]]:
    from dragonfly.listeners.diff import DiffListener

    venue_name = {c[0]: c[2] for c in CAPTURES}[key]
    channel = {c[0]: c[3] for c in CAPTURES}[key]
    if venue_name == "kraken":
        from dragonfly.venues.kraken.diff import KrakenBookConfig, KrakenBookVenue

        venue: Any = KrakenBookVenue(KrakenBookConfig(depth=1000))
    elif venue_name == "okx":
        from dragonfly.venues.okx.diff import OkxBookConfig, OkxBookVenue

        venue = OkxBookVenue(OkxBookConfig(channel=channel))
    else:
        from dragonfly.venues.binance.diff import BinanceDiffConfig, BinanceDiffVenue

        venue = BinanceDiffVenue(BinanceDiffConfig())
    frames, symbols, snapshot = w["frames"], w["symbols"], w["snapshot"]

    def make() -> tuple[Callable[[], None], Callable[[], dict[str, Any]]]:
        sink = _Sink()
        lst = DiffListener(venue=venue, symbols=symbols, sink=sink, depth=TOP, client=_OldClient())

        def replay() -> None:
            if snapshot is not None:  # what _fetch does with the REST answer
                (sym,) = symbols
                sync = lst.syncs[sym]
                sync.on_snapshot(venue.parse_snapshot(sym, snapshot.encode()))
                lst._publish(sync, 1)
            on_frame = lst.on_frame
            for i, raw in enumerate(frames):
                on_frame(raw, i + 2)

        def result() -> dict[str, Any]:
            return _feed_result(lst.syncs.values(), sink, lst.stats)

        return replay, result

    return make


class _NewClient:
    """The feed's layer-1 stand-in (as in bench_book.py): frames are handed to the driver, no socket."""

    def __init__(self) -> None:
        from dragonfly.clients.base import ClientStats

        self.stats = ClientStats()
        self.on_connect = self.on_disconnect = self.on_gap = None


def new_replayer(key: str, w: dict[str, Any]) -> Callable[[], tuple[Callable[[], None], Callable[[], dict[str, Any]]]]:
    from dragonfly.listeners.driver import FeedDriver, SnapshotSource
    from dragonfly.listeners.keeper import BookKeeper
    from dragonfly.venues import get_venue

    venue_name = {c[0]: c[2] for c in CAPTURES}[key]
    channel = {c[0]: c[3] for c in CAPTURES}[key]
    if venue_name == "kraken":
        from dragonfly.venues.kraken import KrakenConfig

        spec, config = get_venue("kraken"), KrakenConfig(depth=1000)
    elif venue_name == "okx":
        from dragonfly.venues.okx import OkxConfig

        spec, config = get_venue("okx"), OkxConfig(channel=channel)
    else:
        from dragonfly.venues.binance import BinanceDiffConfig

        spec, config = get_venue("binance-diff"), BinanceDiffConfig()
    frames, symbols, snapshot = w["frames"], w["symbols"], w["snapshot"]

    def make() -> tuple[Callable[[], None], Callable[[], dict[str, Any]]]:
        # what create_feed builds, from the venue's own symbols
        adapter = spec.adapter(spec.make_config(base_url=None, rest_url=None, config=config), depth=TOP)
        keepers = [
            BookKeeper(
                venue=spec.name,
                instrument=sym,
                symbol=sym,
                depth=TOP,
                rule=adapter.rule,
                checksum=adapter.checksum,
                full_book=adapter.full_book,
                max_depth=adapter.book_depth(sym),
                buffer_deltas=adapter.snapshot_source == SnapshotSource.REST,
            )
            for sym in symbols
        ]
        sink = _Sink()
        feed = FeedDriver(venue=spec.name, adapter=adapter, client=_NewClient(), keepers=keepers, sink=sink)

        def replay() -> None:
            if snapshot is not None:  # what the driver does with the REST answer
                (sym,) = symbols
                k = feed.keepers[sym]
                feed._handle(k, k.on_snapshot(adapter.parse_snapshot(sym, snapshot.encode())), 1)
            on_frame = feed.on_frame
            for i, raw in enumerate(frames):
                on_frame(raw, i + 2)

        def result() -> dict[str, Any]:
            return _feed_result(feed.keepers.values(), sink, feed.stats)

        return replay, result

    return make


# -- the hand-written loops of bench_diff_parse.py ------------------------------------------------------
# (a), its json.loads path, is in _loads_loops.py, which the old side can import (bench_diff_parse.py imports
# today's package); the checksum kinds are passed in: 2b95a0b's Book names them "kraken" and "okx", today's
# "crc32_top10_digits" and "crc32_top25_interleaved".

_KINDS = {"old": ("kraken", "okx"), "new": ("crc32_top10_digits", "crc32_top25_interleaved")}


def loop_replayer(
    side: str, path: str, key: str, w: dict[str, Any]
) -> Callable[[], tuple[Callable[[], None], Callable[[], dict[str, Any]]]]:
    """bench_diff_parse.py's (a) ``json.loads`` loop on this side's Book, or (b) its ``Doc`` loop (new side)."""
    from dragonfly._core.book_c import Book

    venue = {c[0]: c[2] for c in CAPTURES}[key]
    frames, snapshot = w["frames"], w["snapshot"]
    kraken_kind, okx_kind = _KINDS[side]
    fn: Callable[[], tuple[int, dict[str, Any]]]
    if path == "loads":
        from _loads_loops import binance_loads, kraken_loads, okx_loads

        if venue == "kraken":
            fn = kraken_loads(Book, frames, kraken_kind)
        elif venue == "okx":
            fn = okx_loads(Book, frames, okx_kind)
        else:
            fn = binance_loads(Book, snapshot, frames)
    else:
        from bench_diff_parse import binance_doc, kraken_doc, okx_doc

        from dragonfly._core.doc_c import Doc

        if venue == "kraken":
            fn = kraken_doc(Book, Doc, frames)
        elif venue == "okx":
            fn = okx_doc(Book, Doc, frames)
        else:
            fn = binance_doc(Book, Doc, snapshot, frames)

    def make() -> tuple[Callable[[], None], Callable[[], dict[str, Any]]]:
        got: list[tuple[int, dict[str, Any]]] = []

        def replay() -> None:
            got.append(fn())

        def result() -> dict[str, Any]:
            ok, books = got[-1]
            return {"checks": ok, "books": {k: _book_state(b) for k, b in books.items()}}

        return replay, result

    return make


def worker(side: str, workload: Path) -> None:
    import gc
    import time

    import dragonfly

    where = Path(dragonfly.__file__).resolve().parent.parent
    if side == "new":
        require_compiled(PROG)
    else:
        from dragonfly._core import book

        if dragonfly.core_implementation() != "cython" or book.Book.__module__ != "dragonfly._core.book_c":
            print(
                f"{PROG}: the old tree's core is not the compiled one (core_implementation()="
                f"{dragonfly.core_implementation()!r}); run `python setup.py build_ext --inplace -q` in {where}.",
                file=sys.stderr,
            )
            raise SystemExit(2)
    from dragonfly._core import book as book_mod

    workloads = json.loads(workload.read_text(encoding="utf-8"))
    feed_maker = old_replayer if side == "old" else new_replayer
    makers = {("feed", key): feed_maker(key, workloads[key]) for key, *_ in CAPTURES}
    for path in ("loads",) if side == "old" else ("loads", "doc"):
        makers.update({(path, key): loop_replayer(side, path, key, workloads[key]) for key, *_ in CAPTURES})
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        reply: Any
        if req["op"] == "info":
            reply = (
                f"dragonfly from {where}, core={dragonfly.core_implementation()} "
                f"({book_mod.Book.__module__}), Python {sys.version.split()[0]}"
            )
        elif req["op"] == "check":
            replay, result = makers[req["path"], req["capture"]]()
            replay()
            reply = result()
        else:
            replay, _result = makers[req["path"], req["capture"]]()
            gc.collect()
            gc.disable()
            t0 = time.thread_time()
            replay()
            reply = time.thread_time() - t0
            gc.enable()
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old-tree", help="a built checkout of 2b95a0b (see the module docstring)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--worker", choices=("old", "new"), help=argparse.SUPPRESS)
    ap.add_argument("--workload", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, Path(args.workload))
        return
    if not args.old_tree:
        ap.error("--old-tree is required (a built checkout of 2b95a0b; see --help)")
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    parent(old_tree_or_exit(args.old_tree), args.rounds)


if __name__ == "__main__":
    main()
