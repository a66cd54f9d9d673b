"""The compiled extractor's fast paths against the pure twin and ``json.loads``.

- Skipping the rest of a side after its top N: runs of plain level entries (``["p","q"]`` and entries of more
  strings, no whitespace, no escape) are validated many at a time. Every byte of such a run is mutated
  (quotes, backslashes, whitespace, brackets, commas, control and non-ASCII bytes, deletions, truncations):
  the two twins must give the same levels or the same error (message and position), and a frame that
  succeeds must hold exactly the levels ``json.loads`` finds.
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
    qty = f"{rnd.randint(0, 10**rnd.randint(1, 12)) / 1000:.{rnd.randint(1, 8)}f}"
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
    specials = ['["1.5","2"]', '[ "1.5","2"]', '["1.5" ,"2"]', '["1\\u0030","2"]', "[1.5,2]", '["1.5",[2]]',
                '["1.5",{"a":2}]', "[]", '["\u00e9","1"]', '["1.5","2",null]', '[["1"]]', '"x"', "7", "{}"]
    for special in specials:
        for at in (0, 1, 2, 5, 11):
            entries = [json.dumps(_entry(rnd, i), separators=(",", ":")) for i in range(14)]
            entries.insert(at, special)
            frame = '{"bids":[' + ",".join(entries) + '],"asks":[["1","2"],["3","4"]]}'
            assert _check(frame, 1)[0] == "ok", special
    # and what is not JSON inside a run is rejected, at the same position by both twins
    for bad in ('["1.5","2"', '["1.5",]', '[,"2"]', '["1.5""2"]', '["1.5","2"]]', '["1.5",\'2\']', '["1.5","\x1f"]'):
        entries = [json.dumps(_entry(rnd, i), separators=(",", ":")) for i in range(14)]
        entries.insert(6, bad)
        frame = '{"bids":[' + ",".join(entries) + '],"asks":[["1","2"],["3","4"]]}'
        assert _check(frame, 1)[0] == "err", bad
