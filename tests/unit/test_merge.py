"""merge_levels / merge_liquidity: both twins against a plain sort-based reference.

The reference sorts every level of every venue (not only the part the merge examines)
with ``sorted()``: when the venue sides are best-first, the heap merge must give the
same result, bit for bit (``-0.0`` vs ``0.0`` included).
"""

from __future__ import annotations

import math
import struct
import types
from collections import UserList
from typing import Any

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import DragonflyError, LevelsError, LevelsTypeError

# ---------------------------------------------------------------------------
# reference and helpers
# ---------------------------------------------------------------------------


def _bits(x: float) -> str:
    """A float as its exact bit pattern (so -0.0 != 0.0 and NaN == NaN)."""
    return struct.pack("<d", x).hex()


def _exact(value: Any) -> Any:
    """Replace every float by its bits, recursively (dicts become item lists, in order)."""
    if isinstance(value, float):
        return ("f", _bits(value))
    if isinstance(value, dict):
        return ("d", [(_exact(k), _exact(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_exact(v) for v in value])
    return value


def _entries(books: dict[str, Any], s: int) -> list[tuple[str, float, float]]:
    """Every level of side ``s``, venues in name order, each venue in its input order."""
    return [(v, float(p), float(q)) for v in sorted(books) for p, q in books[v][s]]


def _key(s: int):
    if s == 0:
        return lambda t: (-t[1], -t[2], t[0])
    return lambda t: (t[1], -t[2], t[0])


def ref_merge(books: dict[str, Any], depth: int) -> tuple[list, list]:
    return tuple(sorted(_entries(books, s), key=_key(s))[:depth] for s in (0, 1))  # type: ignore[return-value]


def ref_liquidity(books: dict[str, Any], depth: int) -> tuple[list, list]:
    result = []
    for s in (0, 1):
        groups: list[list[Any]] = []
        for venue, price, qty in sorted(_entries(books, s), key=_key(s)):
            if groups and groups[-1][0] == price:
                group = groups[-1]
                group[1] += qty
                group[2][venue] = group[2][venue] + qty if venue in group[2] else qty
            else:
                groups.append([price, qty, {venue: qty}])
        result.append([tuple(g) for g in groups[:depth]])
    return result[0], result[1]


# ---------------------------------------------------------------------------
# strategies: few distinct prices and quantities, so ties are common
# ---------------------------------------------------------------------------

PRICES = st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 100.25, -1.0, math.inf, -math.inf, 1e-300, 1e300])
QTYS = st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 3.0, 1e9, 0.1, 0.2, 0.30000000000000004, math.inf])
VENUES = st.sampled_from(["binance", "bitstamp", "kraken", "okx", "Bybit", "a", "b", "é", "z" * 40, ""])


@st.composite
def venue_side(draw: Any, bids: bool) -> list[tuple[float, float]]:
    levels = draw(st.lists(st.tuples(PRICES, QTYS), max_size=12))
    # best-first by price only: equal prices keep their random quantity order
    levels.sort(key=lambda lv: -lv[0] if bids else lv[0])
    return levels


@st.composite
def books_strategy(draw: Any) -> dict[str, tuple[list, list]]:
    names = draw(st.lists(VENUES, unique=True, max_size=6))
    return {name: (draw(venue_side(True)), draw(venue_side(False))) for name in names}


DEPTHS = st.integers(min_value=0, max_value=30)


@pytest.fixture
def merge(core_impl: str) -> types.ModuleType:
    return core_module("merge", core_impl)


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest) -> list[types.ModuleType]:
    """Every implementation under test (a missing compiled one is an error, as in conftest)."""
    from conftest import _impls

    return [core_module("merge", impl) for impl in _impls(request.config)]


# ---------------------------------------------------------------------------
# against the reference
# ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(books=books_strategy(), depth=DEPTHS)
def test_merge_levels_matches_sort_reference(core_impl: str, books: dict, depth: int) -> None:
    merge = core_module("merge", core_impl)
    assert _exact(merge.merge_levels(books, depth)) == _exact(ref_merge(books, depth))


@settings(max_examples=200, deadline=None)
@given(books=books_strategy(), depth=DEPTHS)
def test_merge_liquidity_matches_sort_reference(core_impl: str, books: dict, depth: int) -> None:
    merge = core_module("merge", core_impl)
    assert _exact(merge.merge_liquidity(books, depth)) == _exact(ref_liquidity(books, depth))


@settings(max_examples=200, deadline=None)
@given(
    books=st.dictionaries(
        st.text(max_size=8),
        st.tuples(
            st.lists(st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)), max_size=15).map(
                lambda lv: sorted(lv, key=lambda t: -t[0])
            ),
            st.lists(st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)), max_size=15).map(
                lambda lv: sorted(lv, key=lambda t: t[0])
            ),
        ),
        max_size=9,
    ),
    depth=DEPTHS,
)
def test_merge_any_floats_matches_reference(core_impl: str, books: dict, depth: int) -> None:
    merge = core_module("merge", core_impl)
    assert _exact(merge.merge_levels(books, depth)) == _exact(ref_merge(books, depth))
    assert _exact(merge.merge_liquidity(books, depth)) == _exact(ref_liquidity(books, depth))


def test_merge_levels_example(merge: types.ModuleType) -> None:
    books = {
        "bitstamp": ([(10.0, 1.0), (9.0, 2.0), (9.0, 3.0)], [(11.0, 1.0), (12.0, 1.0)]),
        "binance": ([(10.0, 1.0), (8.0, 5.0)], [(11.0, 2.0), (11.0, 3.0), (13.0, 1.0)]),
    }
    bids, asks = merge.merge_levels(books, 4)
    assert bids == [("binance", 10.0, 1.0), ("bitstamp", 10.0, 1.0), ("bitstamp", 9.0, 3.0), ("bitstamp", 9.0, 2.0)]
    assert asks == [("binance", 11.0, 3.0), ("binance", 11.0, 2.0), ("bitstamp", 11.0, 1.0), ("bitstamp", 12.0, 1.0)]
    assert merge.merge_levels(books, 0) == ([], [])
    bids, asks = merge.merge_levels(books, 100)
    assert len(bids) == 5 and len(asks) == 5
    assert all(type(p) is float and type(q) is float for _, p, q in bids + asks)


def test_huge_depth_is_clamped(merge: types.ModuleType) -> None:
    books = {"a": ([(2.0, 1.0), (1.0, 1.0)], [(3.0, 1.0)]), "b": ([(2.0, 5.0)], [])}
    assert merge.merge_levels(books, 10**30) == merge.merge_levels(books, 3)
    assert merge.merge_liquidity(books, 10**30) == (
        [(2.0, 6.0, {"b": 5.0, "a": 1.0}), (1.0, 1.0, {"a": 1.0})],
        [(3.0, 1.0, {"a": 1.0})],
    )


def test_merge_liquidity_same_price_twice_in_a_venue_is_summed(merge: types.ModuleType) -> None:
    books = {"a": ([(10, 1), (10, 2), (9, 1)], [(11, 1)]), "b": ([(10, 4)], [(11, 0.5), (12, 1)])}
    bids, asks = merge.merge_liquidity(books, 1)
    assert bids == [(10.0, 7.0, {"b": 4.0, "a": 3.0})]
    assert list(bids[0][2]) == ["b", "a"]  # merge order: qty descending, then venue
    assert asks == [(11.0, 1.5, {"a": 1.0, "b": 0.5})]
    bids, asks = merge.merge_liquidity(books, 5)
    assert bids == [(10.0, 7.0, {"b": 4.0, "a": 3.0}), (9.0, 1.0, {"a": 1.0})]
    assert asks == [(11.0, 1.5, {"a": 1.0, "b": 0.5}), (12.0, 1.0, {"b": 1.0})]


def test_liquidity_reads_past_depth_levels_for_repeated_prices(merge: types.ModuleType) -> None:
    # depth counts distinct prices, so one venue may contribute more than depth levels
    books = {"a": ([(5.0, 1.0)] * 4 + [(4.0, 1.0)], [])}
    assert merge.merge_liquidity(books, 1) == ([(5.0, 4.0, {"a": 4.0})], [])
    assert merge.merge_levels(books, 1) == ([("a", 5.0, 1.0)], [])


def test_many_venues_beyond_stack_buffer(merge: types.ModuleType) -> None:
    books = {f"v{i:03d}": ([(100.0 - i % 7, float(i))], [(101.0 + i % 5, float(i % 3))]) for i in range(150)}
    assert _exact(merge.merge_levels(books, 40)) == _exact(ref_merge(books, 40))
    assert _exact(merge.merge_liquidity(books, 10)) == _exact(ref_liquidity(books, 10))


def test_input_types_accepted(merge: types.ModuleType) -> None:
    class Level(tuple):  # a tuple subclass, e.g. a namedtuple
        pass

    books = types.MappingProxyType(
        {
            "x": (UserList([Level((3, 1)), [2, True]]), ((4, 1),)),
            "y": [[(3.0, 2.0)], []],
        }
    )
    bids, asks = merge.merge_levels(books, 10)
    assert bids == [("y", 3.0, 2.0), ("x", 3.0, 1.0), ("x", 2.0, 1.0)]
    assert asks == [("x", 4.0, 1.0)]
    assert all(type(p) is float and type(q) is float for _, p, q in bids + asks)


def test_levels_beyond_what_is_examined_are_not_read(merge: types.ModuleType) -> None:
    # merge_levels reads the first `depth` levels of each side, the run of levels at the
    # depth-th price, and the price (only) of the next level
    books = {"a": ([(2.0, 1.0), (1.0, "garbage"), "x"], [(1.0, 1.0), (1.0, 3.0), (1.5, None), None])}
    assert merge.merge_levels(books, 1) == ([("a", 2.0, 1.0)], [("a", 1.0, 3.0)])
    assert merge.merge_levels(books, 0) == ([], [])
    with pytest.raises(LevelsTypeError):
        merge.merge_levels(books, 2)
    # merge_liquidity reads up to the depth-th distinct price, and the price (only) of the
    # level after it
    books = {"a": ([(2.0, 1.0), (2.0, 2.0), (1.0, "garbage"), "x"], [(1.0, 1.0), (1.5, None), None])}
    assert merge.merge_liquidity(books, 1) == ([(2.0, 3.0, {"a": 3.0})], [(1.0, 1.0, {"a": 1.0})])
    assert merge.merge_liquidity(books, 0) == ([], [])
    with pytest.raises(LevelsTypeError):
        merge.merge_liquidity(books, 2)


def test_equal_prices_in_any_quantity_order(merge: types.ModuleType) -> None:
    books = {"a": ([(5.0, 1.0), (5.0, 3.0), (5.0, 2.0), (4.0, 9.0)], [(6.0, 0.0), (6.0, 0.5)])}
    assert merge.merge_levels(books, 1) == ([("a", 5.0, 3.0)], [("a", 6.0, 0.5)])
    assert merge.merge_levels(books, 3) == (
        [("a", 5.0, 3.0), ("a", 5.0, 2.0), ("a", 5.0, 1.0)],
        [("a", 6.0, 0.5), ("a", 6.0, 0.0)],
    )


# ---------------------------------------------------------------------------
# bad input: typed errors, same in both twins
# ---------------------------------------------------------------------------

BAD: list[tuple[Any, Any, type[Exception]]] = [
    ({"a": ([], [])}, -1, LevelsError),
    ({"a": ([], [])}, 1.0, LevelsTypeError),
    ({"a": ([], [])}, True, LevelsTypeError),
    ({"a": ([], [])}, "3", LevelsTypeError),
    ([("a", ([], []))], 1, LevelsTypeError),
    ({1: ([], [])}, 1, LevelsTypeError),
    ({"a": "xy"}, 1, LevelsTypeError),
    ({"a": ([],)}, 1, LevelsError),
    ({"a": ([], [], [])}, 1, LevelsError),
    ({"a": ("bids", [])}, 1, LevelsTypeError),
    ({"a": (None, [])}, 1, LevelsTypeError),
    ({"a": ([1.0], [])}, 1, LevelsTypeError),
    ({"a": ([(1.0,)], [])}, 1, LevelsError),
    ({"a": ([(1.0, 2.0, 3.0)], [])}, 1, LevelsError),
    ({"a": ([("1.0", 2.0)], [])}, 1, LevelsTypeError),
    ({"a": ([(1.0, None)], [])}, 1, LevelsTypeError),
    ({"a": ([(math.nan, 1.0)], [])}, 1, LevelsError),
    ({"a": ([(1.0, math.nan)], [])}, 1, LevelsError),
    ({"a": ([(10**400, 1.0)], [])}, 1, LevelsError),
    ({"a": ([(1.0, 1.0), (2.0, 1.0)], [])}, 2, LevelsError),  # bids ascending
    ({"a": ([], [(2.0, 1.0), (1.0, 1.0)])}, 2, LevelsError),  # asks descending
]


@pytest.mark.parametrize("func", ["merge_levels", "merge_liquidity"])
@pytest.mark.parametrize(("books", "depth", "exc"), BAD)
def test_bad_input_raises_typed_error(merge: types.ModuleType, func: str, books: Any, depth: Any, exc: type) -> None:
    with pytest.raises(exc) as info:
        getattr(merge, func)(books, depth)
    assert isinstance(info.value, DragonflyError)
    assert isinstance(info.value, TypeError if exc is LevelsTypeError else ValueError)


def test_error_attributes(merge: types.ModuleType) -> None:
    with pytest.raises(LevelsError) as info:
        merge.merge_levels({"okx": ([(3.0, 1.0)], [(1.0, 1.0), (2.0, 1.0), (0.5, 1.0)])}, 5)
    assert (info.value.venue, info.value.side, info.value.index) == ("okx", "asks", 2)
    assert "not best-first" in str(info.value)


LEAF = st.one_of(
    st.floats(), st.integers(min_value=-(10**400), max_value=10**400), st.none(), st.text(max_size=2), st.booleans()
)
LEVEL = st.one_of(st.tuples(LEAF, LEAF), st.lists(LEAF, max_size=3), LEAF)
SIDE = st.one_of(st.lists(LEVEL, max_size=5), st.tuples(LEVEL, LEVEL), LEAF)
BOOK = st.one_of(st.tuples(SIDE, SIDE), st.lists(SIDE, max_size=3), LEAF)


@settings(max_examples=200, deadline=None)
@given(
    books=st.one_of(st.dictionaries(st.one_of(st.text(max_size=3)), BOOK, max_size=4), LEAF),
    depth=st.one_of(st.integers(min_value=-2, max_value=6), LEAF),
)
def test_twins_agree_on_arbitrary_input(both: list[types.ModuleType], books: Any, depth: Any) -> None:
    for func in ("merge_levels", "merge_liquidity"):
        outcomes = []
        for mod in both:
            try:
                outcomes.append(("ok", _exact(getattr(mod, func)(books, depth))))
            except DragonflyError as exc:
                outcomes.append((type(exc).__name__, str(exc), exc.venue, exc.side, exc.index))  # type: ignore[attr-defined]
        assert all(o == outcomes[0] for o in outcomes), outcomes


def test_level_that_mutates_its_side_does_not_crash(both: list[types.ModuleType]) -> None:
    """A tuple subclass whose __getitem__ empties the side being read: the twins agree."""
    outcomes = []
    for mod in both:
        bids: list[Any] = []

        class Hostile(tuple):
            def __getitem__(self, i: Any) -> Any:
                bids.clear()  # noqa: B023 - this iteration's list: merged before the loop moves on
                return tuple.__getitem__(self, i)

        bids.extend([(3.0, 1.0), Hostile((2.0, 1.0)), (1.0, 1.0), (0.5, 1.0)])
        outcomes.append(_exact(mod.merge_levels({"a": (bids, [])}, 10)))
    assert outcomes[0] == _exact(([("a", 3.0, 1.0), ("a", 2.0, 1.0)], []))
    assert all(o == outcomes[0] for o in outcomes)
