"""Fuzz corpus for the level extractor: (bytes, path, depth) cases, deterministic per seed.

Generated here from the venues' documented message shapes and from random JSON, then
mutated (truncated at every offset, bytes flipped, inserted, deleted, duplicated). With
``captures`` given, real messages from ../shared/captures are added at run time (they
are third-party data and are never written into the repository).

Run ``python tests/fuzz/corpus.py --out DIR`` to write the corpus as files
(``NNNNNN.json`` plus ``index.tsv`` with path and depth), e.g. for an external fuzzer.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from pathlib import Path

Case = tuple[bytes, str, int]

_PATHS = [
    "bids",
    "asks",
    "data.bids",
    "data.asks",
    "data.b",
    "data.a",
    "1.as",
    "1.bs",
    "1.a",
    "2.b",
    "data.0.bids",
    "data.0.asks",
    "",
    "0",
]


def _levels(rnd: random.Random, n: int, extra: int = 0) -> list[list[object]]:
    out: list[list[object]] = []
    price = rnd.uniform(0.0001, 100000)
    for _ in range(n):
        price += rnd.uniform(-5, 5)
        p: object = f"{abs(price):.{rnd.randint(0, 9)}f}"
        q: object = f"{rnd.uniform(0, 1000):.{rnd.randint(0, 9)}f}"
        if rnd.random() < 0.2:
            p = float(p)  # type: ignore[arg-type]
        if rnd.random() < 0.1:
            q = rnd.randint(0, 10**6)
        entry = [p, q] + [rnd.choice(["r", 0, "1617666423.606671", None, {"x": []}]) for _ in range(extra)]
        out.append(entry)
    return out


def venue_messages(rnd: random.Random) -> Iterator[tuple[str, list[str]]]:
    """(message, paths) in the venues' documented shapes."""
    n = rnd.choice([0, 1, 5, 20, 100])
    raw = {"lastUpdateId": rnd.randint(1, 10**11), "bids": _levels(rnd, n), "asks": _levels(rnd, n)}
    yield json.dumps(raw, separators=(",", ":")), ["bids", "asks"]
    yield json.dumps({"stream": "btcusdt@depth20@100ms", "data": raw}), ["data.bids", "data.asks"]
    diff = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 1, "u": 2, "b": _levels(rnd, n), "a": _levels(rnd, 3)}
    yield json.dumps({"stream": "btcusdt@depth@100ms", "data": diff}), ["data.b", "data.a"]
    bs = {
        "data": {"timestamp": "1", "microtimestamp": "2", "bids": _levels(rnd, n), "asks": _levels(rnd, n)},
        "channel": "order_book_btcusd",
        "event": "data",
    }
    yield json.dumps(bs), ["data.bids", "data.asks"]
    yield (
        json.dumps({"type": "snapshot", "product_id": "BTC-USD", "asks": _levels(rnd, n), "bids": _levels(rnd, n)}),
        ["bids", "asks"],
    )
    yield (
        json.dumps([320, {"as": _levels(rnd, n, 1), "bs": _levels(rnd, n, 2)}, "book-10", "XBT/USD"]),
        ["1.as", "1.bs"],
    )
    yield (
        json.dumps([320, {"a": _levels(rnd, 2, 2)}, {"b": _levels(rnd, 1, 1), "c": "123"}, "book-10", "XBT/USD"]),
        ["1.a", "2.b"],
    )
    okx = {
        "arg": {"channel": "books", "instId": "BTC-USDT"},
        "action": "snapshot",
        "data": [{"asks": _levels(rnd, n, 2), "bids": _levels(rnd, n, 2), "ts": "1", "checksum": -1}],
    }
    yield json.dumps(okx), ["data.0.bids", "data.0.asks"]
    bybit = {
        "topic": "orderbook.50.BTCUSDT",
        "type": "snapshot",
        "ts": 1,
        "data": {"s": "BTCUSDT", "b": _levels(rnd, n), "a": _levels(rnd, n), "u": 1, "seq": 2},
    }
    yield json.dumps(bybit, ensure_ascii=rnd.random() < 0.5), ["data.b", "data.a"]


def random_json(rnd: random.Random, depth: int = 0) -> str:
    kind = rnd.choice(["num", "str", "lit", "arr", "obj", "lv"] if depth < 5 else ["num", "str", "lit"])
    if kind == "num":
        return rnd.choice(["0", "-0", "1.5e300", "-2E-300", "12345678901234567890123", "0.1", str(rnd.random())])
    if kind == "str":
        return json.dumps(
            "".join(rnd.choice('ab"\\/\b\n\x00é€😀') for _ in range(rnd.randint(0, 6))), ensure_ascii=rnd.random() < 0.5
        )
    if kind == "lit":
        return rnd.choice(["true", "false", "null"])
    if kind == "lv":
        return json.dumps(_levels(rnd, rnd.randint(0, 4), rnd.randint(0, 2)))
    items = [random_json(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    if kind == "arr":
        return "[" + " , ".join(items) + "]"
    return (
        "{" + ",".join(f"{json.dumps(rnd.choice(['a', 'b', 'bids', 'asks', 'data', '1']))} : {v}" for v in items) + "}"
    )


def mutations(rnd: random.Random, data: bytes, count: int) -> Iterator[bytes]:
    alphabet = b'{}[],:"\\ \t\n0123456789-+.eEtrufalsnu\x00\x1f\x7f\x80\xbf\xc3\xa9\xed\xa0\xf0\xf4\xff'
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            op = rnd.randrange(5)
            at = rnd.randrange(len(buf) + 1)
            if op == 0:
                del buf[at:]
            elif op == 1 and at < len(buf):
                del buf[at : at + rnd.randint(1, 4)]
            elif op == 2:
                buf[at:at] = bytes([rnd.choice(alphabet)])
            elif op == 3 and at < len(buf):
                buf[at] = rnd.choice(alphabet)
            elif op == 4 and at < len(buf):
                buf[at:at] = buf[at : rnd.randint(at, len(buf))]
        yield bytes(buf)


def capture_messages(root: Path, per_file: int, rnd: random.Random) -> Iterator[str]:
    """A sample of raw messages from the captures folder (read-only)."""
    for path in sorted(root.glob("*/*")):
        if path.suffix == ".gz" or not path.is_file():
            continue
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        for line in rnd.sample(lines, min(per_file, len(lines))):
            _, sep, body = line.partition(": ")
            yield body if (path.name.startswith("cryptofeed__") and sep) else line


def corpus(seed: int = 0, scale: int = 1, captures: Path | None = None) -> Iterator[Case]:
    """The fuzz cases. ``scale`` multiplies the number of random and mutated cases."""
    rnd = random.Random(seed)
    bases: list[tuple[bytes, list[str]]] = []
    for _ in range(3 * scale):
        bases += [(m.encode(), p) for m, p in venue_messages(rnd)]
    for _ in range(30 * scale):
        bases.append((random_json(rnd).encode(), ["a", "b", "bids", "0", "", "a.0", "data.bids"]))
    if captures is not None and (captures / "SOURCES.md").is_file():
        for raw in capture_messages(captures, 3 * scale, rnd):
            bases.append((raw.encode(), _PATHS))
    for data, paths in bases:
        for path in paths:
            yield data, path, rnd.choice([0, 1, 2, 10, 1000])
        # every truncation of short messages (long ones: a sample of cut points)
        cuts = range(len(data) + 1) if len(data) <= 400 else sorted(rnd.sample(range(len(data) + 1), 200))
        for cut in cuts:
            yield data[:cut], rnd.choice(paths), rnd.choice([1, 5, 100])
        for mutated in mutations(rnd, data[:2000], 20 * scale):
            yield mutated, rnd.choice(paths), rnd.choice([0, 1, 3, 50])
    for _ in range(300 * scale):
        yield bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 40))), rnd.choice(_PATHS), rnd.randint(0, 5)
    # deep nesting and long tokens
    yield b'{"x":' + b"[" * 5000, "bids", 1
    yield b'{"bids":[["' + b"1" * 10000 + b'","2"]]}', "bids", 1
    yield b'{"bids":[[' + b"9" * 400 + b"." + b"9" * 400 + b",2]]}", "bids", 1
    yield b'{"bids":[["1e' + b"9" * 50 + b'","2"]]}', "bids", 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=1)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "index.tsv").open("w", encoding="utf-8") as index:
        for i, (data, path, depth) in enumerate(corpus(args.seed, args.scale)):
            (args.out / f"{i:06d}.json").write_bytes(data)
            index.write(f"{i:06d}.json\t{path}\t{depth}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
