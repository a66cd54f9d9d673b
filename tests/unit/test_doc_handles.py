"""``Doc.handles``: several paths under one value in one call, both twins, against ``get``/``at``."""

from __future__ import annotations

import json
import random
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly.errors import ExtractError


@pytest.fixture
def dm(core_impl: str) -> ModuleType:
    return core_module("doc", core_impl)


def _follow(doc: Any, h: int, path: Any) -> int:
    """The reference: ``get``/``at`` step by step, -1 as soon as a step finds nothing."""
    for step in path if type(path) is tuple else (path,):
        h = doc.get(h, step) if isinstance(step, str) else doc.at(h, step)
        if h < 0:
            return -1
    return h


FRAME = json.dumps(
    {
        "e": "depthUpdate",
        "s": "BTCUSDT",
        "U": 1,
        "u": 2,
        "b": [["1.5", "2"], ["1.4", "0"]],
        "a": [],
        "nested": {"x": [10, {"y": "z"}, [1, 2, 3]], "é": 1, 'q"k': 2},
        "arr": [[1, [2, [3]]]],
    }
)


def test_handles_equal_get_and_at(dm: ModuleType) -> None:
    doc = dm.Doc(FRAME)
    paths: tuple[Any, ...] = (
        "e",
        "s",
        "b",
        "missing",
        ("b", 0, 1),
        ("b", -1, 0),
        ("b", 5),
        ("a", 0),
        ("nested", "x", 1, "y"),
        ("nested", "x", -1, -1),
        ("nested", "x", 1, 0),  # an index into an object: -1
        ("nested", "é"),
        ("nested", 'q"k'),
        ("e", "x"),  # a key into a string: -1
        ("arr", 0, 1, 1, 0),
        (),  # the empty path: the value itself
        0,  # an index into an object: -1
    )
    got = doc.handles(0, paths)
    assert type(got) is tuple
    assert got == tuple(_follow(doc, 0, p) for p in paths)
    assert got[0] >= 0 and doc.str(got[0]) == "depthUpdate"
    assert doc.str(got[8]) == "z" and doc.int(got[9]) == 3 and doc.int(got[14]) == 3
    assert got[3] == got[6] == got[7] == got[10] == got[13] == got[16] == -1
    assert got[15] == 0
    assert doc.handles(0, ["e", "u"]) == (doc.get(0, "e"), doc.get(0, "u"))  # a list of paths
    assert doc.handles(0, ()) == ()
    b = doc.get(0, "b")
    assert doc.handles(b, (0, -1, 2, (0, 0), (1, True))) == (
        doc.at(b, 0),
        doc.at(b, -1),
        -1,
        doc.at(doc.at(b, 0), 0),
        doc.at(doc.at(b, 1), 1),
    )


@pytest.mark.parametrize("seed", range(20))
def test_handles_random_paths(dm: ModuleType, seed: int) -> None:
    rng = random.Random(seed)

    def value(depth: int) -> Any:
        r = rng.random()
        if depth > 3 or r < 0.3:
            return rng.choice([1, "s", 2.5, None, True])
        if r < 0.65:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice("abcde"): value(depth + 1) for _ in range(rng.randint(0, 4))}

    doc = dm.Doc(json.dumps(value(0)))
    steps = ["a", "b", "c", "e", "z", 0, 1, 2, -1, -3, 7]
    paths = tuple(tuple(rng.choice(steps) for _ in range(rng.randint(0, 4))) for _ in range(30))
    paths += tuple(rng.choice(steps) for _ in range(10))
    for start in {0, len(doc) - 1, len(doc) // 2}:
        assert doc.handles(start, paths) == tuple(_follow(doc, start, p) for p in paths)


def test_handles_errors(dm: ModuleType) -> None:
    doc = dm.Doc('{"a": [1, 2]}')
    with pytest.raises(IndexError):
        doc.handles(-1, ("a",))
    with pytest.raises(IndexError):
        doc.handles(len(doc), ("a",))
    for bad in ("a", b"a", 3, None, {"a": 1}):
        with pytest.raises(TypeError):
            doc.handles(0, bad)
    for bad_step in (1.5, None, b"a", ["a"]):
        with pytest.raises(TypeError):
            doc.handles(0, (("a", bad_step),))
    with pytest.raises(TypeError):
        doc.handles(0, (1.5,))
    with pytest.raises(OverflowError):
        doc.handles(0, (("a", 2**70),))
    with pytest.raises(ExtractError):
        dm.Doc('{"a": [1, 2}')  # (a parse error stays the constructor's)


def test_handles_beyond_the_small_ints(dm: ModuleType) -> None:
    # handles past 256 are fresh int objects: the tuple must own them (a refcount slip shows up here)
    levels = [[f"{100 + i}.5", str(i)] for i in range(400)]
    doc = dm.Doc(json.dumps({"pad": levels, "bids": levels[:5], "ts": 1, "checksum": -5, "asks": levels[:3]}))
    keys = ("checksum", "ts", "bids", "asks", "missing")
    want = tuple(doc.get(0, k) for k in keys)
    assert min(h for h in want if h >= 0) > 256
    results = [doc.handles(0, keys) for _ in range(2000)]
    deep = [doc.handles(0, (("pad", i, 1),)) for i in range(400)]
    assert all(r == want for r in results)
    assert [doc.str(h[0]) for h in deep] == [str(i) for i in range(400)]
    assert doc.int(want[0]) == -5 and doc.len(want[3]) == 3
