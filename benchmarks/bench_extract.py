"""Top-of-book extraction: dragonfly's public extraction API vs what a user would otherwise write.

Method
------
Task: the best 10 bids and the best 10 asks of a snapshot frame as ``(price, qty)`` floats, frame after
frame. One process, the same frames for every candidate, candidates timed in interleaved rounds
(``_timing.interleaved_cpu``: CPU time of this thread, rotating order, collector off while timing,
median per frame).

User-facing API (what a user calls; each builds the Python floats and tuples the user gets):

* ``TopExtractor.update(frame)`` then reading ``.bids`` and ``.asks`` (the listener's API);
* ``extract_levels(frame, "bids", 10)`` and ``extract_levels(frame, "asks", 10)``.

What the user would otherwise write (same output: lists of ``(float, float)``):

* ``orjson.loads`` (or ``json.loads``/``yyjson``) then ``[(float(p), float(q)) for p, q in d["bids"][:10]]``
  for each side;
* a typed msgspec decode: ``msgspec.json.Decoder(Depth, strict=False)`` with
  ``class Depth(msgspec.Struct): lastUpdateId: int; bids: list[tuple[float, float]]; asks: ...``
  (msgspec converts the numeric strings itself, all 20 levels a side), then ``[:10]`` of each side.

Internal C path, for reference (no Python objects): ``TopExtractor.update`` without reading the views.

Frames:

* ``Binance depth20 stream``: the ``btcusdt@depth20@100ms`` frames Binance would have sent, rebuilt
  from the live ``depth@100ms`` capture (REST snapshot + 3,449 diffs applied, top 20 after each diff,
  the venue's own price/qty text). Consecutive frames share most levels, as live ones do; the
  ``TopExtractor`` views reuse the tuples of unchanged levels, and ``extract_levels`` those of the levels it
  returned for the same path the call before.
* ``all levels new``: the same frames with every price and quantity made unique per frame, so no level
  equals one returned before: every tuple and float holds a new value. The compiled core fills the tuples
  and floats of the last result again where nothing else references them (the benchmark drops each result
  at once, as a loop that only reads the levels does), so this is the cost of new values, not of new
  allocations; a caller keeping every result would pay those too.
* single large frames (Bitstamp 100 levels generated, real Bitstamp diff, real Binance REST 1000):
  ``extract_levels`` x 2 against the full parsers.

Every candidate's output is checked against ``json.loads`` + ``float()`` before timing. Each timed call
handles a chunk of 100 frames (the next one of the stream each round, the same for every candidate), so
that the rounds are short and the load of a shared machine falls on all candidates alike.

Run: ``python benchmarks/bench_extract.py [--rounds 101] [--frames 1000]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from _timing import captures_dir, header, interleaved_cpu, require_compiled

DEPTH = 10
CHUNK = 100  # frames per timed call
PROG = "bench_extract"


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


# ---------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------


def _levels(n: int, base: float, step: float, decimals: int = 8) -> list[list[str]]:
    return [
        [f"{base + i * step:.2f}{'0' * (decimals - 2)}", f"{0.001 + (i * 7919 % 5000) / 1000:.{decimals}f}"]
        for i in range(n)
    ]


def generated_depth20_stream(n: int) -> list[str]:
    """A synthetic depth20 stream (only when the captures are absent): a slowly moving book."""
    out = []
    for k in range(n):
        mid = 61837.63 + (k % 7) * 0.01
        bids = _levels(20, mid, -0.01)
        asks = _levels(20, mid + 0.01, 0.01)
        bids[k % 20][1] = f"{k / 1000:.8f}"
        out.append(json.dumps({"lastUpdateId": 50093239218 + k, "bids": bids, "asks": asks}, separators=(",", ":")))
    return out


def binance_depth20_stream() -> list[str] | None:
    """depth20 frames rebuilt from the live BTCUSDT depth@100ms capture (see the module docstring)."""
    from dragonfly.sim.diff.recordings import read_hftbacktest

    path = captures_dir() / "binance" / "hftbacktest__spot_btcusdt_20240808.gz"
    if not path.is_file():
        return None
    snapshot = None
    diffs = []
    for _ts, body in read_hftbacktest(path):
        if body.startswith('{"lastUpdateId"'):
            snapshot = body
        elif "depthUpdate" in body:
            diffs.append(body)
    if snapshot is None:
        return None
    snap = json.loads(snapshot)
    last = snap["lastUpdateId"]
    bids = dict(snap["bids"])
    asks = dict(snap["asks"])
    frames = []
    for raw in diffs:
        d = json.loads(raw)
        d = d.get("data", d)
        if d["u"] <= last:
            continue
        for side, key in ((bids, "b"), (asks, "a")):
            for p, q in d[key]:
                if float(q) == 0.0:
                    side.pop(p, None)
                else:
                    side[p] = q
        last = d["u"]
        top_b = sorted(bids.items(), key=lambda lv: -float(lv[0]))[:20]
        top_a = sorted(asks.items(), key=lambda lv: float(lv[0]))[:20]
        frames.append(
            json.dumps(
                {"lastUpdateId": last, "bids": [list(lv) for lv in top_b], "asks": [list(lv) for lv in top_a]},
                separators=(",", ":"),
            )
        )
    return frames


def all_new(frames: list[str]) -> list[str]:
    """The frames with every price and quantity unique to its frame (the frame number in the last digits;
    the same text format): no level, and no price, repeats from one frame to the next."""
    out = []
    for k, raw in enumerate(frames):
        d = json.loads(raw)
        for side in ("bids", "asks"):
            for i, lv in enumerate(d[side]):
                lv[0] = f"{float(lv[0]) + (k % 999 + 1) * 1e-8:.8f}"
                lv[1] = f"{float(lv[1]) + (k * 40 + i + 1 + (0 if side == 'bids' else 20)) * 1e-8:.8f}"
        out.append(json.dumps(d, separators=(",", ":")))
    return out


def single_frames() -> list[tuple[str, str, str, str]]:
    """(label, frame, bids path, asks path): one generated and the real large frames."""
    out = []
    gen = {
        "data": {"timestamp": "1617654355", "bids": _levels(100, 58001.0, -1.0), "asks": _levels(100, 58002.0, 1.0)},
        "channel": "order_book_btcusd",
        "event": "data",
    }
    out.append(
        ("generated Bitstamp order_book, 100 levels", json.dumps(gen, separators=(",", ":")), "data.bids", "data.asks")
    )
    snap = captures_dir() / "binance" / "derived__hftbacktest_spot_BTCUSDT_rest_depth_snapshot.json"
    if snap.is_file():
        out.append(("real Binance REST snapshot, 1000/1000 levels", snap.read_text().strip(), "bids", "asks"))
    bitstamp = captures_dir() / "bitstamp" / "cryptofeed__BITSTAMP-b88f8b.0"
    if bitstamp.is_file():
        best = None
        for line in bitstamp.open(encoding="utf-8"):
            _, sep, body = line.rstrip("\n").partition(": ")
            if sep and body.startswith('{"data"') and (best is None or len(body) > len(best)):
                data = json.loads(body).get("data", {})
                if isinstance(data, dict) and len(data.get("bids", [])) >= 10 and len(data.get("asks", [])) >= 10:
                    best = body
        if best is not None:
            out.append(("real Bitstamp diff_order_book (largest)", best, "data.bids", "data.asks"))
    return out


# ---------------------------------------------------------------------------------------
# Candidates: each takes one frame and returns (bids, asks)
# ---------------------------------------------------------------------------------------


def _walk(doc: Any, path: str) -> Any:
    for comp in path.split("."):
        doc = doc[comp]
    return doc


def reference(frame: str, bids: str, asks: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    d = json.loads(frame)
    return (
        [(float(p), float(q)) for p, q, *_ in _walk(d, bids)[:DEPTH]],
        [(float(p), float(q)) for p, q, *_ in _walk(d, asks)[:DEPTH]],
    )


Candidate = tuple[str, Callable[[str], Any], Callable[[Sequence[str]], None]]


def parser_candidate(name: str, loads: Callable[[Any], Any], bids: str, asks: str) -> Candidate:
    """What a user writes with a full parser: parse, then ``float()`` over the top of each side.

    Returns the per-frame function (checked against the reference) and the same code as a loop over a chunk
    of frames (timed: the loop is the user's, no harness call per frame)."""
    b = bids.split(".")
    a = asks.split(".")
    if len(b) == 1 and len(a) == 1:
        kb, ka = b[0], a[0]

        def one(frame: str) -> Any:
            d = loads(frame)
            return [(float(p), float(q)) for p, q in d[kb][:DEPTH]], [(float(p), float(q)) for p, q in d[ka][:DEPTH]]

        def loop(chunk: Sequence[str]) -> None:
            for frame in chunk:
                d = loads(frame)
                [(float(p), float(q)) for p, q in d[kb][:DEPTH]]
                [(float(p), float(q)) for p, q in d[ka][:DEPTH]]

    else:
        (b1, b2), (a1, a2) = b, a

        def one(frame: str) -> Any:
            d = loads(frame)
            return (
                [(float(p), float(q)) for p, q in d[b1][b2][:DEPTH]],
                [(float(p), float(q)) for p, q in d[a1][a2][:DEPTH]],
            )

        def loop(chunk: Sequence[str]) -> None:
            for frame in chunk:
                d = loads(frame)
                [(float(p), float(q)) for p, q in d[b1][b2][:DEPTH]]
                [(float(p), float(q)) for p, q in d[a1][a2][:DEPTH]]

    return name, one, loop


def msgspec_candidate(msgspec: Any) -> Candidate:
    """A typed msgspec decode of the depth20 shape; msgspec converts the numeric strings (``strict=False``)."""

    class Depth(msgspec.Struct):
        lastUpdateId: int
        bids: list[tuple[float, float]]
        asks: list[tuple[float, float]]

    decode = msgspec.json.Decoder(Depth, strict=False).decode

    def one(frame: str) -> Any:
        d = decode(frame)
        return d.bids[:DEPTH], d.asks[:DEPTH]

    def loop(chunk: Sequence[str]) -> None:
        for frame in chunk:
            d = decode(frame)
            d.bids[:DEPTH]
            d.asks[:DEPTH]

    return "msgspec typed decode (Struct) [user code]", one, loop


def candidates(bids: str, asks: str, stream: bool) -> list[Candidate]:
    from dragonfly._core import extract

    out: list[Candidate] = []
    if stream:
        top = extract.TopExtractor(bids, asks, DEPTH)

        def top_one(frame: str) -> Any:
            top.update(frame)
            return top.bids, top.asks

        def top_loop(chunk: Sequence[str]) -> None:
            update = top.update
            for frame in chunk:
                update(frame)
                top.bids  # noqa: B018 (reading the views is part of what is timed)
                top.asks  # noqa: B018

        out.append(("TopExtractor.update + .bids/.asks [user API]", top_one, top_loop))
    el = extract.extract_levels

    def el_loop(chunk: Sequence[str]) -> None:
        for frame in chunk:
            el(frame, bids, DEPTH)
            el(frame, asks, DEPTH)

    out.append(("extract_levels x2 [user API]", lambda f: (el(f, bids, DEPTH), el(f, asks, DEPTH)), el_loop))
    orjson = _optional("orjson")
    if orjson is not None:
        out.append(parser_candidate("orjson.loads + float() [user code]", orjson.loads, bids, asks))
    msgspec = _optional("msgspec")
    if msgspec is not None:
        if bids == "bids" and asks == "asks":
            out.append(msgspec_candidate(msgspec))
        out.append(parser_candidate("msgspec.json.decode + float() [user code]", msgspec.json.decode, bids, asks))
    yyjson = _optional("yyjson")
    if yyjson is not None:
        out.append(parser_candidate("yyjson.loads + float() [user code]", yyjson.loads, bids, asks))
    out.append(parser_candidate("json.loads + float() [user code]", json.loads, bids, asks))
    return out


def _as_lists(result: Any) -> tuple[list[Any], list[Any]]:
    return [tuple(lv) for lv in result[0]], [tuple(lv) for lv in result[1]]


def _chunked(loop: Callable[[Sequence[str]], None], chunks: list[Sequence[str]]) -> Callable[[], None]:
    """One call runs ``loop`` on the next chunk of frames (in stream order, wrapping around): each round times
    every candidate on the same chunk, short enough that the load of a shared machine changes little in it."""
    state = [0]

    def run() -> None:
        chunk = chunks[state[0] % len(chunks)]
        state[0] += 1
        loop(chunk)

    return run


def run_case(label: str, frames: Sequence[str], bids: str, asks: str, rounds: int, stream: bool) -> None:
    from dragonfly._core import extract

    cands = candidates(bids, asks, stream)
    for name, one, _ in cands:
        for frame in frames:
            assert _as_lists(one(frame)) == reference(frame, bids, asks), f"{name} disagrees with json.loads ({label})"
    chunks = [frames[i : i + CHUNK] for i in range(0, len(frames), CHUNK)]
    names = [name for name, _, _ in cands]
    fns = [_chunked(loop, chunks) for _, _, loop in cands]
    if stream:
        top = extract.TopExtractor(bids, asks, DEPTH)

        def update_loop(chunk: Sequence[str]) -> None:
            update = top.update
            for frame in chunk:
                update(frame)

        fns.append(_chunked(update_loop, chunks))
        names.append("TopExtractor.update only [internal C path: no Python objects]")
    times = interleaved_cpu(fns, rounds)
    per = [t / len(chunks[0]) * 1e9 for t in times]
    size = sum(len(f) for f in frames) // len(frames)
    print(f"\n{label}: {len(frames)} frames of ~{size} bytes; top {DEPTH} of {bids!r} and {asks!r} as floats")
    base = dict(zip(names, per, strict=True))
    print(f"  {'candidate':62} {'CPU ns/frame':>12}   user code's time / the API's time")
    firsts = [n for n in names if "[user API]" in n]
    for name, ns in zip(names, per, strict=True):
        extra = ""
        if "[user code]" in name:
            extra = "  ".join(f"{ns / base[f]:5.1f}x vs {f.split(' ')[0]}" for f in firsts)
        print(f"  {name:62} {ns:12.0f}   {extra}")


def floor(frames: Sequence[str], rounds: int) -> None:
    """Where the time of TopExtractor.update + reading goes, on frames where every level is new."""
    from dragonfly._core import extract

    top = extract.TopExtractor("bids", "asks", DEPTH)
    el = extract.extract_levels
    f0 = frames[0]
    frames = frames[:CHUNK]  # every level differs from one frame to the next, also across rounds

    def upd_read() -> None:
        for f in frames:
            top.update(f)
            top.bids  # noqa: B018 (the read is what is timed)
            top.asks  # noqa: B018

    def upd() -> None:
        for f in frames:
            top.update(f)

    times = interleaved_cpu(
        [upd_read, upd, lambda: [el(f0, "bids", 0) for _ in frames], lambda: [(0.5, 1.5) for _ in frames]], rounds
    )
    per = [t / len(frames) * 1e9 for t in times]
    print(f"\nfloor, on {len(frames)} frames where every level is new (CPU ns per frame):")
    print(f"  update + read both views: {per[0]:.0f}; update alone (parse both sides into C arrays): {per[1]:.0f}")
    print(
        f"  -> handing out 2 x {DEPTH} (price, qty) tuples + {4 * DEPTH} floats of new values + 2 tuples"
        f" (the dropped last result's objects filled again): {per[0] - per[1]:.0f}"
    )
    print(f"  one extract_levels call that reads nothing (depth 0: call, arguments, path lookup): {per[2]:.0f}")
    print(f"  (an empty Python loop step with a constant tuple, for scale: {per[3]:.0f})")


def main(argv: list[str] | None = None) -> int:
    require_compiled(PROG)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=101, help="interleaved rounds (median reported)")
    ap.add_argument("--frames", type=int, default=1000, help="frames of the depth20 stream per round")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and frames")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.frames = 21, 300
    header(PROG, ("orjson", "msgspec", "yyjson"))
    stream = binance_depth20_stream()
    label = "Binance depth20 stream rebuilt from the live BTCUSDT depth@100ms capture"
    if stream is None:
        stream = generated_depth20_stream(args.frames)
        label = "generated depth20 stream (captures not found)"
    stream = stream[: args.frames]
    run_case(label, stream, "bids", "asks", args.rounds, True)
    fresh = all_new(stream)
    run_case(
        "the same frames, every level new (no level equal to one returned before)",
        fresh,
        "bids",
        "asks",
        args.rounds,
        True,
    )
    floor(fresh, args.rounds)
    for lbl, frame, bids, asks in single_frames():
        run_case(lbl, [frame] * 20, bids, asks, args.rounds, False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
