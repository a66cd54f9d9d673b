"""The compiled extractor's fast paths against the pure twin and ``json.loads``.

- Skipping the rest of a side after its top N: runs of plain level entries (``["p","q"]`` and entries of more
  strings, no whitespace, no escape) are validated many at a time. Every byte of such a run is mutated
  (quotes, backslashes, whitespace, brackets, commas, control and non-ASCII bytes, deletions, truncations):
  the two twins must give the same levels or the same error (message and position), and a frame that
  succeeds must hold exactly the levels ``json.loads`` finds.
- ``extract_levels`` over a stream: the compiled twin hands out again the tuples of the levels equal to those it
  returned for the same path the call before. Every result must still be exactly ``json.loads`` + ``float()``
  (bit for bit, sign of zero included), whatever the calls in between: other streams on the same path, every
  level new, a returned list mutated by the caller, equal paths that are other str objects, many paths.
"""

from __future__ import annotations

import json
import random
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module
from test_extract import both_twins, reference

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import ExtractError


def _twins() -> list[ModuleType]:
    mods = [core_module("extract", "python")]
    if not NO_EXTENSIONS:
        mods.append(core_module("extract", "cython"))
    return mods


def _entry(rnd: random.Random, i: int) -> list[str]:
    """A level entry whose string lengths vary, so entries cross the 64-byte blocks at every offset."""
    price = f"{100 + i * 0.5:.{rnd.randint(0, 9)}f}"
    qty = f"{rnd.randint(0, 10 ** rnd.randint(1, 12)) / 1000:.{rnd.randint(1, 8)}f}"
    entry = [price, qty]
    if rnd.random() < 0.15:
        entry.append(str(rnd.randint(0, 99)))  # a third string (an order count)
    return entry


def _frame(rnd: random.Random, n_bids: int, n_asks: int = 12) -> str:
    bids = [_entry(rnd, i) for i in range(n_bids)]
    asks = [_entry(rnd, i) for i in range(n_asks)]
    return json.dumps({"lastUpdateId": 7, "bids": bids, "asks": asks}, separators=(",", ":"))


def _top_outcome(mod: ModuleType, message: str | bytes, depth: int) -> tuple[str, Any]:
    top = mod.TopExtractor("bids", "asks", depth)
    try:
        top.update(message)
    except ExtractError as exc:
        return "err", (str(exc), exc.pos)
    return "ok", ([(p.hex(), q.hex()) for p, q in top.bids], [(p.hex(), q.hex()) for p, q in top.asks])


def _check(message: str | bytes, depth: int) -> tuple[str, Any]:
    """Both twins agree on ``extract_levels`` for the side after the skipped one and on ``TopExtractor``
    (which skips the rest of the bids); a success holds the levels of ``json.loads``."""
    outcome = both_twins(message, "asks", depth)
    tops = [_top_outcome(mod, message, depth) for mod in _twins()]
    assert all(t == tops[0] for t in tops), (message, tops)
    if tops[0][0] == "ok":
        want = reference(message, "bids", depth), reference(message, "asks", depth)
        assert tops[0][1] == tuple([(p.hex(), q.hex()) for p, q in side] for side in want)
    return outcome


MUTATIONS = ['"', "\\", " ", "\n", "\t", "]", "[", ",", "x", "\x01", "\u00e9", "{", "}", ":", "0", "]]", '""']


@pytest.mark.parametrize("seed", range(3))
def test_every_byte_of_a_skipped_run_mutated(seed: int) -> None:
    rnd = random.Random(seed)
    frame = _frame(rnd, 30)
    start = frame.index('"bids":[') + 8
    end = frame.index('],"asks"')
    assert _check(frame, 3)[0] == "ok"
    outcomes = set()
    for i in range(start, end + 2):
        for mut in MUTATIONS:
            outcomes.add(_check(frame[:i] + mut + frame[i + 1 :], 3)[0])
        outcomes.add(_check(frame[:i] + frame[i + 1 :], 3)[0])  # a deleted byte
        outcomes.add(_check(frame[:i], 3)[0])  # truncated
        outcomes.add(_check(frame[:i].encode() + b"\xff" + frame[i + 1 :].encode(), 3)[0])  # invalid UTF-8
    assert outcomes == {"ok", "err"}


@pytest.mark.parametrize("n_bids", [0, 1, 2, 3, 4, 5, 8, 20, 100])
@pytest.mark.parametrize("depth", [1, 3, 10])
def test_runs_of_every_length_agree(n_bids: int, depth: int) -> None:
    rnd = random.Random(n_bids * 100 + depth)
    for _ in range(10):
        frame = _frame(rnd, n_bids)
        assert _check(frame, depth)[0] == "ok"
        assert _check(frame.encode(), depth)[0] == "ok"


def test_non_plain_entries_inside_a_run() -> None:
    """Escapes, whitespace, numbers, nested arrays and objects among plain entries: the general scanner
    takes over at that entry and the run resumes after it."""
    rnd = random.Random(5)
    specials = [
        '["1.5","2"]',
        '[ "1.5","2"]',
        '["1.5" ,"2"]',
        '["1\\u0030","2"]',
        "[1.5,2]",
        '["1.5",[2]]',
        '["1.5",{"a":2}]',
        "[]",
        '["\u00e9","1"]',
        '["1.5","2",null]',
        '[["1"]]',
        '"x"',
        "7",
        "{}",
    ]
    for special in specials:
        for at in (0, 1, 2, 5, 11):
            entries = [json.dumps(_entry(rnd, i), separators=(",", ":")) for i in range(14)]
            entries.insert(at, special)
            frame = '{"bids":[' + ",".join(entries) + '],"asks":[["1","2"],["3","4"]]}'
            assert _check(frame, 1)[0] == "ok", special
    # and what is not JSON inside a run is rejected, at the same position by both twins
    for bad in ('["1.5","2"', '["1.5",]', '[,"2"]', '["1.5""2"]', '["1.5","2"]]', "[\"1.5\",'2']", '["1.5","\x1f"]'):
        entries = [json.dumps(_entry(rnd, i), separators=(",", ":")) for i in range(14)]
        entries.insert(6, bad)
        frame = '{"bids":[' + ",".join(entries) + '],"asks":[["1","2"],["3","4"]]}'
        assert _check(frame, 1)[0] == "err", bad


# ---------------------------------------------------------------------------------------
# extract_levels over streams
# ---------------------------------------------------------------------------------------


@pytest.fixture
def ex(core_impl: str) -> ModuleType:
    return core_module("extract", core_impl)


def _hexes(levels: list[tuple[float, float]]) -> list[tuple[str, str]]:
    assert type(levels) is list
    for level in levels:
        assert type(level) is tuple and len(level) == 2 and type(level[0]) is float and type(level[1]) is float
    return [(p.hex(), q.hex()) for p, q in levels]


def _want(levels: list[list[str]], depth: int) -> list[tuple[str, str]]:
    return [(float(p).hex(), float(q).hex()) for p, q in levels[:depth]]


def _step(rng: random.Random, side: list[list[str]], sign: int) -> list[list[str]]:
    """Keep most levels; change some sizes (signs of zero too), insert and drop a few."""
    out = [list(level) for level in side]
    for level in out:
        r = rng.random()
        if r < 0.2:
            level[1] = f"{rng.randint(0, 5000) / 1000:.8f}"
        elif r < 0.23:
            level[1] = rng.choice(["0", "-0", "0.0", "-0.0", "0e0"])
    for _ in range(rng.randint(0, 3)):
        if out and rng.random() < 0.5:
            out.pop(rng.randrange(len(out)))
        else:
            top = float(out[0][0]) if out else 100.0
            price = round(top + sign * rng.choice([-3, -2, -1, 1, 2]) * 0.01, 2)
            if all(abs(float(p) - price) > 1e-9 for p, _ in out):
                out.append([f"{price:.2f}", f"{rng.randint(1, 5000) / 1000:.8f}"])
    out.sort(key=lambda level: -sign * float(level[0]))
    return out[:25]


def _side_frame(bids: list[list[str]], asks: list[list[str]], uid: int) -> str:
    return json.dumps({"lastUpdateId": uid, "bids": bids, "asks": asks}, separators=(",", ":"))


@pytest.mark.parametrize("seed", range(4))
def test_extract_levels_follows_interleaved_streams(ex: ModuleType, seed: int) -> None:
    """Two books on the same paths, called alternately, with calls of other depths in between."""
    rng = random.Random(seed)
    books = [
        (
            [[f"{100 - i * 0.01:.2f}", f"{(i + 1) / 10:.8f}"] for i in range(20)],
            [[f"{100.01 + i * 0.01:.2f}", f"{(i + 2) / 10:.8f}"] for i in range(20)],
        ),
        ([[f"{50 - i * 0.5:.2f}", "1.0"] for i in range(15)], [[f"{51 + i * 0.5:.2f}", "2.0"] for i in range(15)]),
    ]
    for uid in range(300):
        k = uid % 2 if rng.random() < 0.8 else rng.randrange(2)
        bids, asks = books[k]
        bids, asks = _step(rng, bids, -1), _step(rng, asks, 1)
        books[k] = (bids, asks)
        frame = _side_frame(bids, asks, uid)
        depth = 10 if rng.random() < 0.9 else rng.choice([0, 1, 3, 25])
        message = frame.encode() if rng.random() < 0.2 else frame
        got_b = ex.extract_levels(message, "bids", depth)
        got_a = ex.extract_levels(message, "asks", depth)
        assert _hexes(got_b) == _want(bids, depth)
        assert _hexes(got_a) == _want(asks, depth)


def test_extract_levels_every_level_new(ex: ModuleType) -> None:
    """No level repeats from one frame to the next (the same prices with new sizes, then new prices)."""
    for uid in range(200):
        bids = [[f"{100 - i:.2f}", f"{uid + i / 100:.8f}"] for i in range(20)]
        asks = [[f"{101 + i + uid / 1000:.3f}", f"{i + 1}"] for i in range(20)]
        frame = _side_frame(bids, asks, uid)
        assert _hexes(ex.extract_levels(frame, "bids", 10)) == _want(bids, 10)
        assert _hexes(ex.extract_levels(frame, "asks", 10)) == _want(asks, 10)


def test_a_returned_list_is_the_callers(ex: ModuleType) -> None:
    """Mutating a returned list (or its neighbour's) changes nothing in later results."""
    frame = _side_frame([["2", "1"], ["1", "1"]], [["3", "1"], ["4", "-0"]], 1)
    first = ex.extract_levels(frame, "asks", 10)
    first.append("not a level")
    first[0] = (9.0, 9.0)
    del first[1]
    again = ex.extract_levels(frame, "asks", 10)
    assert _hexes(again) == _want([["3", "1"], ["4", "-0"]], 10)
    assert again is not first
    again.clear()
    assert _hexes(ex.extract_levels(frame, "asks", 10)) == _want([["3", "1"], ["4", "-0"]], 10)


def test_equal_paths_and_many_paths(ex: ModuleType) -> None:
    """Paths equal to earlier ones but other str objects, and more distinct paths than any cache holds."""
    frame = json.dumps({f"k{i}": [[str(i), str(i + 1)], [str(i + 0.5), "-0"]] for i in range(700)})
    for rnd in range(2):
        for i in range(700):
            path = "".join(["k", str(i)])  # a new str object every time
            want = [(float(i).hex(), float(i + 1).hex()), (float(i + 0.5).hex(), (-0.0).hex())]
            assert _hexes(ex.extract_levels(frame, path, 2)) == want, (rnd, i)
            assert _hexes(ex.extract_levels(frame.encode(), path, 1)) == want[:1]
    with pytest.raises(ExtractError):
        ex.extract_levels(frame, b"k1", 2)  # type: ignore[arg-type]
    with pytest.raises(ExtractError):
        ex.extract_levels(frame, "k1", -1)
    with pytest.raises(ExtractError):
        ex.extract_levels(frame, "k1", True)
    with pytest.raises(ExtractError):
        ex.extract_levels(frame, "k1", -(2**70))
    assert _hexes(ex.extract_levels(frame, "k1", 2**70)) == [((1.0).hex(), (2.0).hex()), ((1.5).hex(), (-0.0).hex())]


def test_top_extractor_one_side_changing(ex: ModuleType) -> None:
    """Only the bids change, then only the asks, then neither: each view is exact whenever it is read, and
    ``update`` reports a change exactly when either side changed."""
    rng = random.Random(11)
    bids = [[f"{100 - i:.1f}", "1"] for i in range(12)]
    asks = [[f"{101 + i:.1f}", "2"] for i in range(12)]
    top = ex.TopExtractor("bids", "asks", 5)
    assert top.update(_side_frame(bids, asks, 0)) is True
    for uid in range(1, 400):
        which = rng.choice(["bids", "asks", "none", "both"])
        if which in ("bids", "both"):
            bids = _step(rng, bids, -1)
        if which in ("asks", "both"):
            asks = _step(rng, asks, 1)
        before = (_hexes(list(top.bids)), _hexes(list(top.asks))) if rng.random() < 0.5 else None
        changed = top.update(_side_frame(bids, asks, uid))
        now = (_want(bids, 5), _want(asks, 5))
        if before is not None:
            assert changed == (now != before)
        if rng.random() < 0.7:
            assert _hexes(list(top.bids)) == now[0]
        if rng.random() < 0.7:
            assert _hexes(list(top.asks)) == now[1]
