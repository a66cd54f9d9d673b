"""``merge_levels``/``merge_top`` on the inputs the compiled fast path takes, both twins.

The compiled twin merges a ``dict`` of venue to lists or tuples of ``(float, float)`` pairs (tuples or
lists) without a heap allocation but the output, reusing the input's float objects. These tests check it
against the pure twin on random books of every container shape (ties across venues, equal-price runs,
unsorted venue names, depth cuts inside a run), that inputs off the fast path still get the reference's
values and errors, and that a finalizer mutating the input while the output is allocated cannot make
the compiled twin read freed memory.
"""

from __future__ import annotations

import gc
import random
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly._core import merge_py
from dragonfly.errors import LevelsError, LevelsTypeError


@pytest.fixture
def mg(core_impl: str) -> ModuleType:
    return core_module("merge", core_impl)


def _side(rng: random.Random, bids: bool, n: int) -> list[tuple[float, float]]:
    price = 100.0 + rng.randrange(-4, 5) * 0.5
    out = []
    for _ in range(n):
        qty = rng.choice([0.0, 1.0, 2.5, rng.uniform(0.1, 5.0)])
        out.append((price, qty))
        if rng.random() < 0.7:  # else an equal-price run
            price += -0.5 if bids else 0.5
    # merge order inside equal-price runs: quantity descending
    out.sort(key=lambda level: (-level[0] if bids else level[0], -level[1]))
    return out


def _shape(rng: random.Random, side: list[tuple[float, float]]) -> Any:
    levels = [lv if rng.random() < 0.5 else list(lv) for lv in side]
    return levels if rng.random() < 0.5 else tuple(levels)


def _books(rng: random.Random, k: int) -> dict[str, Any]:
    names = rng.sample(["okx", "binance", "kraken", "bitstamp", "bybit", "coinbase", "gemini", "a", "Z", "é"], k)
    books: dict[str, Any] = {}
    for name in names:
        pair = (_shape(rng, _side(rng, True, rng.randint(0, 14))), _shape(rng, _side(rng, False, rng.randint(0, 14))))
        books[name] = pair if rng.random() < 0.5 else list(pair)
    return books


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_matches_the_reference(mg: ModuleType, seed: int) -> None:
    rng = random.Random(seed)
    books = _books(rng, rng.randint(1, 8))
    for depth in (1, 3, 10, 25):
        want = merge_py.merge_levels(books, depth)
        got = mg.merge_levels(books, depth)
        assert type(got) is tuple and type(got[0]) is list and type(got[1]) is list
        assert got == want
        assert [[(v, p.hex(), q.hex()) for v, p, q in side] for side in got] == [
            [(v, p.hex(), q.hex()) for v, p, q in side] for side in want
        ]
        top = mg.merge_top(books, depth)
        assert type(top[0]) is tuple and type(top[1]) is tuple
        assert (list(top[0]), list(top[1])) == want


def test_off_the_fast_path_same_values_and_errors(mg: ModuleType) -> None:
    base = {"b": ([(2.0, 1.0)], [(3.0, 1.0)]), "a": ([(2.0, 2.0)], [(3.0, 1.0)])}
    assert mg.merge_levels(base, 5) == merge_py.merge_levels(base, 5)
    ints = {"a": ([(2, 1)], [(3, 1)])}  # ints: the reference converts them
    assert mg.merge_levels(ints, 5) == merge_py.merge_levels(ints, 5)
    unordered_run = {"a": ([(2.0, 1.0), (2.0, 3.0)], [])}  # an equal-price run to reorder
    assert mg.merge_levels(unordered_run, 5) == merge_py.merge_levels(unordered_run, 5)
    for bad, exc in [
        ({"a": ([(2.0, float("nan"))], [])}, LevelsError),
        ({"a": ([(1.0, 1.0), (2.0, 1.0)], [])}, LevelsError),  # bids not best first
        ({"a": ([(1.0, 1.0, 1.0)], [])}, LevelsError),
        ({1: ([], [])}, LevelsTypeError),
        ({"a": ([], [], [])}, LevelsError),
    ]:
        with pytest.raises(exc):
            merge_py.merge_levels(bad, 5)
        with pytest.raises(exc):
            mg.merge_levels(bad, 5)
    with pytest.raises(LevelsTypeError):
        mg.merge_levels(base, True)
    assert mg.merge_levels(base, 0) == merge_py.merge_levels(base, 0) == ([], [])


class _Saboteur:
    """Cyclic garbage whose finalizer empties the input's lists and dict when a collection runs."""

    def __init__(self, books: dict[str, Any]) -> None:
        self.books = books
        self.me = self
        self.fired = False

    def __del__(self) -> None:
        for book in self.books.values():
            for side in book:
                if isinstance(side, list):
                    for level in side:
                        if isinstance(level, list):
                            level[:] = [-1.0, -1.0]
                    side.clear()
            if isinstance(book, list):
                book.clear()
        self.books.clear()
        _FIRED.append(_IN_CALL[0])


_FIRED: list[bool] = []
_IN_CALL = [False]


def test_finalizer_mutating_the_input_is_harmless(mg: ModuleType, core_impl: str) -> None:
    rng = random.Random(7)
    old = gc.get_threshold()
    try:
        for trial in range(30):
            books = {
                name: [
                    [[float(100 - i), float(i + 1 + trial)] for i in range(10)],
                    [(float(101 + i), 1.0) for i in range(10)],
                ]
                for name in ("x", "y", "z")
            }
            want = merge_py.merge_levels(books, 10)
            depth = rng.choice([5, 10])
            _FIRED.clear()
            gc.collect()
            _Saboteur(books)  # garbage now, collected by the next collection
            gc.set_threshold(1, 1, 1)  # collect at (nearly) every allocation: inside the output building
            _IN_CALL[0] = True
            got = mg.merge_levels(books, depth)
            _IN_CALL[0] = False
            gc.set_threshold(*old)
            gc.collect()
            assert _FIRED  # the finalizer ran
            if core_impl == "cython":
                # it ran inside the call, while the output was allocated; the compiled twin had read
                # everything before: the values of the input before the mutation
                assert _FIRED == [True]
                assert got == tuple(side[:depth] for side in want)
            else:
                # the reference reads as it goes: whatever it read, it returns well-formed levels
                assert all(isinstance(v, str) and isinstance(p, float) for side in got for v, p, _ in side)
    finally:
        gc.set_threshold(*old)
