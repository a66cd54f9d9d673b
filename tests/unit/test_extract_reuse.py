"""``TopExtractor.bids``/``.asks`` over a stream of changing frames, both twins.

The compiled twin lends the objects of the last tuple it built to the next one (an unchanged level is
the same tuple, a level whose price is unchanged shares the price float). These tests drive sequences
where levels stay, shift by a few places, change quantity, change the sign of zero, appear and
disappear, and check every view bit for bit (``float.hex``) against ``json.loads`` + ``float()``.
"""

from __future__ import annotations

import json
import random
from types import ModuleType

import pytest
from conftest import core_module


@pytest.fixture
def ex(core_impl: str) -> ModuleType:
    return core_module("extract", core_impl)


def _frame(bids: list[list[str]], asks: list[list[str]], uid: int) -> str:
    return json.dumps({"lastUpdateId": uid, "bids": bids, "asks": asks}, separators=(",", ":"))


def _want(levels: list[list[str]], depth: int) -> list[tuple[str, str]]:
    return [(float(p).hex(), float(q).hex()) for p, q in levels[:depth]]


def _got(levels: tuple[tuple[float, float], ...]) -> list[tuple[str, str]]:
    assert type(levels) is tuple
    for level in levels:
        assert type(level) is tuple and len(level) == 2
        assert type(level[0]) is float and type(level[1]) is float
    return [(p.hex(), q.hex()) for p, q in levels]


def _evolve(rng: random.Random, side: list[list[str]], sign: int) -> list[list[str]]:
    """One step of a book side: keep most levels, change some quantities, insert or drop a few."""
    out = [list(level) for level in side]
    for level in out:
        r = rng.random()
        if r < 0.2:
            level[1] = f"{rng.randint(0, 5000) / 1000:.8f}"
        elif r < 0.23:
            level[1] = rng.choice(["0", "-0", "0.0", "-0.0"])  # sign of zero differs bit for bit
    for _ in range(rng.randint(0, 3)):
        if out and rng.random() < 0.5:
            out.pop(rng.randrange(len(out)))
        else:
            top = float(out[0][0]) if out else 100.0
            price = top + sign * rng.choice([-3, -2, -1, 1, 2]) * 0.01
            if all(abs(float(p) - price) > 1e-9 for p, _ in out):
                out.append([f"{price:.2f}", f"{rng.randint(1, 5000) / 1000:.8f}"])
    out.sort(key=lambda level: -sign * float(level[0]))
    return out[: rng.randint(12, 25)] if len(out) > 25 else out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("read_every", [1, 3])
def test_views_follow_a_changing_stream(ex: ModuleType, seed: int, read_every: int) -> None:
    rng = random.Random(seed)
    depth = 10
    bids = [[f"{100 - i * 0.01:.2f}", f"{(i + 1) / 10:.8f}"] for i in range(20)]
    asks = [[f"{100.01 + i * 0.01:.2f}", f"{(i + 2) / 10:.8f}"] for i in range(20)]
    top = ex.TopExtractor("bids", "asks", depth)
    last: tuple[list[tuple[str, str]], list[tuple[str, str]]] | None = None
    for uid in range(400):
        bids = _evolve(rng, bids, -1)
        asks = _evolve(rng, asks, 1)
        want = (_want(bids, depth), _want(asks, depth))
        changed = top.update(_frame(bids, asks, uid))
        assert changed == (want != last)
        last = want
        if uid % read_every == 0:  # views skipped for a few updates: still exact when read
            assert (_got(top.bids), _got(top.asks)) == want


def test_shifted_and_reordered_levels(ex: ModuleType) -> None:
    top = ex.TopExtractor("b", "a", 6)
    frames = [
        ([["6", "1"], ["5", "1"], ["4", "1"], ["3", "1"], ["2", "1"], ["1", "1"]]),
        ([["7", "2"], ["6", "1"], ["5", "1"], ["4", "1"], ["3", "1"], ["2", "1"]]),  # everything shifted down
        ([["5", "1"], ["4", "1"], ["3", "1"], ["2", "1"], ["1", "1"], ["0.5", "1"]]),  # shifted up by two
        ([["1", "1"], ["2", "1"], ["3", "1"], ["4", "1"], ["5", "1"], ["6", "1"]]),  # reversed: far from the hint
        ([["1", "-0"], ["2", "0"], ["3", "1"], ["4", "1.5"], ["5", "1"], ["6", "1"]]),  # same prices, new sizes
        ([["1", "0"], ["2", "-0"], ["3", "1"], ["4", "1.5"], ["5", "1"], ["6", "1"]]),  # only the signs of zero
        ([["1", "0"]]),
        ([]),
        ([["1", "0"], ["1", "0"], ["1", "0"], ["1", "1"]]),  # repeated levels
    ]
    for levels in frames:
        assert top.update(json.dumps({"a": [], "b": levels})) is True
        assert _got(top.bids) == _want(levels, 6)
        assert top.asks == ()
    top.reset()
    assert top.bids == ()
    assert top.update(json.dumps({"a": [["9", "9"]], "b": frames[0]})) is True
    assert _got(top.bids) == _want(frames[0], 6) and _got(top.asks) == _want([["9", "9"]], 6)
