"""merge_top / check_top (the aggregator's and the snapshot listener's core calls): both twins.

``merge_top`` must equal ``merge_levels`` with tuples out, bit for bit, and raise the same
errors; the compiled twin has a fast path for dicts of tuples of float pairs, so the
inputs here are mostly of that shape, with ties, -0.0, infinities, runs of equal prices
in any quantity order, and big inputs that leave the fast path. ``check_top`` must return
the same description (or ``""``) in both twins.
"""

from __future__ import annotations

import math
import struct
import types
from typing import Any

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import DragonflyError, LevelsError, LevelsTypeError


def _exact(value: Any) -> Any:
    """Floats as their bit patterns, containers with their type name (tuple vs list matters)."""
    if isinstance(value, float):
        return ("f", struct.pack("<d", value).hex())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_exact(v) for v in value])
    return value


PRICES = st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 100.25, -1.0, math.inf, -math.inf, 1e-300])
QTYS = st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 3.0, 1e9, 0.1, 0.30000000000000004, math.inf, -1.0])
VENUES = st.sampled_from(["binance", "bitstamp", "kraken", "okx", "Bybit", "a", "é", ""])


@st.composite
def tuple_side(draw: Any, bids: bool) -> tuple[tuple[float, float], ...]:
    levels = draw(st.lists(st.tuples(PRICES, QTYS), max_size=12))
    levels.sort(key=lambda lv: -lv[0] if bids else lv[0])  # equal prices keep a random quantity order
    return tuple(levels)


@st.composite
def tuple_books(draw: Any) -> dict[str, tuple[tuple, tuple]]:
    names = draw(st.lists(VENUES, unique=True, max_size=6))
    return {name: (draw(tuple_side(True)), draw(tuple_side(False))) for name in names}


@pytest.fixture
def merge(core_impl: str) -> types.ModuleType:
    return core_module("merge", core_impl)


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest) -> list[types.ModuleType]:
    """Every implementation under test (a missing compiled one is an error, as in conftest)."""
    from conftest import _impls

    return [core_module("merge", impl) for impl in _impls(request.config)]


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", _exact(fn(*args)))
    except DragonflyError as exc:
        return (type(exc).__name__, str(exc), exc.venue, exc.side, exc.index)  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(books=tuple_books(), depth=st.integers(min_value=0, max_value=30))
def test_merge_top_is_merge_levels_as_tuples(core_impl: str, books: dict, depth: int) -> None:
    merge = core_module("merge", core_impl)
    expected = _outcome(lambda b, d: tuple(tuple(side) for side in merge.merge_levels(b, d)), books, depth)
    assert _outcome(merge.merge_top, books, depth) == expected
    # the same state with list sides (off the compiled fast path) gives the same result
    listed = {v: (list(b), list(a)) for v, (b, a) in books.items()}
    assert _outcome(merge.merge_top, listed, depth) == expected


def test_merge_top_orders_ties_and_reads_only_depth(merge: types.ModuleType) -> None:
    books = {
        "b": ((2.0, 1.0), (1.0, 5.0)),
        "a": ((2.0, 1.0), (1.0, 7.0), (0.5, 1.0)),
    }
    bids, asks = merge.merge_top({v: (s, ()) for v, s in books.items()}, 3)
    assert bids == (("a", 2.0, 1.0), ("b", 2.0, 1.0), ("a", 1.0, 7.0))
    assert asks == ()
    # an equal-price run with the larger quantity second is reordered (fast path refused)
    bids, _ = merge.merge_top({"a": (((2.0, 1.0), (2.0, 3.0)), ())}, 2)
    assert bids == (("a", 2.0, 3.0), ("a", 2.0, 1.0))
    # levels beyond depth are not examined: a bad one there does not matter
    assert merge.merge_top({"a": (((2.0, 1.0), (9.0, math.nan)), ())}, 1) == ((("a", 2.0, 1.0),), ())


def test_merge_top_large_inputs_leave_the_fast_path(merge: types.ModuleType) -> None:
    many = {f"v{i:03d}": (((1.0 + i, 1.0),), ((1000.0 + i, 2.0),)) for i in range(80)}  # more venues than the stack
    bids, asks = merge.merge_top(many, 5)
    assert [lv[0] for lv in bids] == ["v079", "v078", "v077", "v076", "v075"]
    assert [lv[0] for lv in asks] == ["v000", "v001", "v002", "v003", "v004"]
    deep = {"a": (tuple((1000.0 - i, 1.0) for i in range(400)), ())}  # deeper than the fast path takes
    bids, _ = merge.merge_top(deep, 300)
    assert len(bids) == 300 and bids[-1] == ("a", 701.0, 1.0)


@pytest.mark.parametrize(
    ("books", "depth", "exc"),
    [
        ({"a": (((math.nan, 1.0),), ())}, 1, LevelsError),
        ({"a": (((1.0, 1.0), (2.0, 1.0)), ())}, 2, LevelsError),  # bids ascending
        ({"a": ((), ((2.0, 1.0), (1.0, 1.0)))}, 2, LevelsError),  # asks descending
        ({"a": ((("1", 1.0),), ())}, 1, LevelsTypeError),
        ({"a": (((1.0,),), ())}, 1, LevelsError),
        ({"a": ((), ())}, True, LevelsTypeError),
        ({"a": ((), ())}, -1, LevelsError),
        ({1: ((), ())}, 1, LevelsTypeError),
        ([], 1, LevelsTypeError),
    ],
)
def test_merge_top_refuses_what_merge_levels_refuses(
    merge: types.ModuleType, books: Any, depth: Any, exc: type
) -> None:
    with pytest.raises(exc):
        merge.merge_top(books, depth)


LEAF = st.one_of(st.floats(), st.integers(min_value=-(10**30), max_value=10**30), st.none(), st.text(max_size=2))
LEVEL = st.one_of(st.tuples(LEAF, LEAF), st.tuples(st.floats(), st.floats()), st.lists(LEAF, max_size=3), LEAF)
SIDE = st.one_of(st.lists(LEVEL, max_size=4), st.tuples(LEVEL, LEVEL), st.tuples(LEVEL), LEAF)


@settings(max_examples=300, deadline=None)
@given(
    books=st.one_of(st.dictionaries(st.text(max_size=2), st.one_of(st.tuples(SIDE, SIDE), LEAF), max_size=3), LEAF),
    depth=st.one_of(st.integers(min_value=-1, max_value=5), LEAF),
)
def test_merge_top_twins_agree_on_arbitrary_input(both: list[types.ModuleType], books: Any, depth: Any) -> None:
    outcomes = [_outcome(m.merge_top, books, depth) for m in both]
    assert all(o == outcomes[0] for o in outcomes), outcomes


# ---------------------------------------------------------------------------
# check_top
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "asks", "message"),
    [
        (((2.0, 1.0), (1.0, 1.0)), ((3.0, 1.0), (4.0, 1.0)), ""),
        ((), (), ""),
        (((2.0, 1.0),), (), ""),
        (((2.0, 1.0),), ((2.0, 1.0),), "crossed book: best bid 2.0 >= best ask 2.0"),
        (((1.0, 1.0), (2.0, 1.0)), (), "bids not a valid best-first side at price 2.0"),
        (((2.0, -1.0),), (), "bids not a valid best-first side at price 2.0"),
        (((0.0, 1.0),), (), "bids not a valid best-first side at price 0.0"),
        ((), ((2.0, 1.0), (1.5, 1.0)), "asks not a valid best-first side at price 1.5"),
        ((), ((-1.0, 1.0),), "asks not a valid best-first side at price -1.0"),
        ((), ((1.0, 1.0), (1.0, -0.5)), "asks not a valid best-first side at price 1.0"),
        (((2.0, 1.0), (2.0, 1.0)), ((3.0, 0.0),), ""),  # equal prices and zero quantity are fine
    ],
)
def test_check_top_messages(merge: types.ModuleType, bids: Any, asks: Any, message: str) -> None:
    assert merge.check_top(bids, asks) == message
    assert merge.check_top(list(bids), list(asks)) == message


CHECK_LEAF = st.one_of(st.floats(), st.integers(min_value=-5, max_value=5), st.none())
CHECK_LEVEL = st.one_of(
    st.tuples(CHECK_LEAF, CHECK_LEAF), st.tuples(st.floats(), st.floats()), st.lists(CHECK_LEAF, max_size=3)
)
GOOD_LEVELS = st.lists(
    st.tuples(st.floats(min_value=0.5, max_value=4), st.floats(min_value=-1, max_value=4)), max_size=5
)
CHECK_SIDE = st.one_of(
    st.tuples(*[CHECK_LEVEL] * 3),
    st.lists(CHECK_LEVEL, max_size=4),
    GOOD_LEVELS.map(lambda s: tuple(sorted(s, reverse=True))),  # mostly-valid bids
    GOOD_LEVELS.map(lambda s: tuple(sorted(s))),  # mostly-valid asks
)


@settings(max_examples=400, deadline=None)
@given(bids=CHECK_SIDE, asks=CHECK_SIDE)
def test_check_top_twins_agree(both: list[types.ModuleType], bids: Any, asks: Any) -> None:
    outcomes = []
    for mod in both:
        try:
            outcomes.append(("ok", mod.check_top(bids, asks)))
        except Exception as exc:  # the same exception type and message in both
            outcomes.append((type(exc).__name__, str(exc)))
    assert all(o == outcomes[0] for o in outcomes), outcomes
