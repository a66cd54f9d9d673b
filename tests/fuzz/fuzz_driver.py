"""Feed the fuzz corpus through the compiled extractor (run by run_sanitized.sh).

Every case goes through the ``cdef`` API on an exact-size buffer (``_harness.run``),
through ``TopExtractor.update_buffer`` and through the Python API (``str`` and
``bytes``); the outcome is compared with the pure-Python twin. The sanitizer aborts the
process on any invalid read or write; a disagreement with the twin exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# the imports below come after sys.path is set: the script runs from any directory
import _harness  # noqa: E402
from corpus import corpus  # noqa: E402

from dragonfly._core import extract_c, extract_py  # noqa: E402
from dragonfly.errors import ExtractError  # noqa: E402

PAIRS = [
    ("bids", "asks"),
    ("data.bids", "data.asks"),
    ("data.b", "data.a"),
    ("1.bs", "1.as"),
    ("data.0.bids", "data.0.asks"),
]


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except ExtractError as exc:
        return "err", (str(exc), exc.pos)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--captures", type=Path, default=None)
    ap.add_argument("--selftest", action="store_true", help="read past a buffer on purpose (must crash)")
    args = ap.parse_args()
    if args.selftest:
        _harness.selftest_overflow(b"[]")
        print("selftest: the out-of-bounds read was NOT detected")
        return 0
    t0 = time.monotonic()
    tops = [(extract_c.TopExtractor(b, a, 5), extract_py.TopExtractor(b, a, 5)) for b, a in PAIRS]
    cases = ok = mismatches = 0
    for data, path, depth in corpus(args.seed, args.scale, args.captures):
        cases += 1
        got = _harness.run(data, path, depth)
        c_res = outcome(extract_c._extract_with_stop, data, path, depth)
        p_res = outcome(extract_py._extract_with_stop, data, path, depth)
        if c_res != p_res or (got >= 0) != (c_res[0] == "ok") or (got >= 0 and got != len(c_res[1][0])):
            mismatches += 1
            print(f"MISMATCH {data[:120]!r} path={path!r} depth={depth}: harness={got} c={c_res} py={p_res}")
        ok += c_res[0] == "ok"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and outcome(extract_c.extract_levels, text, path, depth) != outcome(
            extract_py.extract_levels, text, path, depth
        ):
            mismatches += 1
            print(f"MISMATCH (str) {data[:120]!r} path={path!r} depth={depth}")
        if cases % 7 == 0:
            for c_top, p_top in tops:
                rc = _harness.run_top(c_top, data)
                pr = outcome(p_top.update, data)
                if (rc < 0) != (pr[0] == "err") or (rc >= 0 and (c_top.bids, c_top.asks) != (p_top.bids, p_top.asks)):
                    mismatches += 1
                    print(f"MISMATCH (top) {data[:120]!r}: c={rc} py={pr}")
    print(
        f"{cases} cases ({ok} extracted, {cases - ok} rejected), {mismatches} mismatches, {time.monotonic() - t0:.1f}s"
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
