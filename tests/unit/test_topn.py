"""TopState (dragonfly._core.topn): the accepted top N of a snapshot feed, both twins.

It must accept exactly what ``check_top`` accepts, answer the same text otherwise, keep the
previous levels on a refusal, and give the same levels as the extractor it reads.
"""

from __future__ import annotations

from types import ModuleType

import pytest

from dragonfly._core.merge_py import check_top
from tests.conftest import core_module


@pytest.fixture
def topn(core_impl: str) -> ModuleType:
    return core_module("topn", core_impl)


@pytest.fixture
def extract(core_impl: str) -> ModuleType:
    return core_module("extract", core_impl)


def _frame(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    side = lambda lv: ",".join(f'["{p}","{q}"]' for p, q in lv)  # noqa: E731
    return '{"data":{"bids":[' + side(bids) + '],"asks":[' + side(asks) + "]}}"


GOOD = ([("10.5", "1"), ("10.4", "2"), ("10.4", "0")], [("10.6", "3"), ("10.7", "0.5")])
CASES = [
    GOOD,
    ([("10.5", "1")], [("10.5", "1")]),  # crossed (equal)
    ([("10.8", "1")], [("10.6", "1")]),  # crossed
    ([("10.5", "1"), ("10.6", "1")], [("10.7", "1")]),  # bids not best first
    ([("10.5", "1")], [("10.7", "1"), ("10.6", "1")]),  # asks not best first
    ([("10.5", "-1")], [("10.7", "1")]),  # negative qty
    ([("0", "1")], [("10.7", "1")]),  # zero price
    ([("10.5", "1")], [("-1", "1")]),  # negative ask price (also crossed)
    ([], [("10.7", "1")]),  # one side empty
    ([], []),
]


@pytest.mark.parametrize("bids, asks", CASES)
def test_accept_agrees_with_check_top(topn: ModuleType, extract: ModuleType, bids: list, asks: list) -> None:
    ext = extract.TopExtractor("data.bids", "data.asks", 10)
    ext.update(_frame(bids, asks))
    state = topn.TopState()
    expected = check_top(ext.bids, ext.asks)
    assert state.accept(ext) == expected
    if expected:
        assert (state.bids, state.asks, state.accepted) == ((), (), 0)
    else:
        assert (state.bids, state.asks, state.accepted) == (ext.bids, ext.asks, 1)


def test_refusal_keeps_the_previous_levels(topn: ModuleType, extract: ModuleType) -> None:
    ext = extract.TopExtractor("data.bids", "data.asks", 2)
    state = topn.TopState()
    ext.update(_frame(*GOOD))
    assert state.accept(ext) == ""
    kept = (state.bids, state.asks)
    assert kept == (((10.5, 1.0), (10.4, 2.0)), ((10.6, 3.0), (10.7, 0.5)))
    ext.update(_frame([("11", "1")], [("10", "1")]))
    assert state.accept(ext).startswith("crossed book: best bid 11.0 >= best ask 10.0")
    assert (state.bids, state.asks) == kept
    state.clear()
    assert (state.bids, state.asks) == ((), ())


def test_levels_follow_each_accepted_top(topn: ModuleType, extract: ModuleType) -> None:
    ext = extract.TopExtractor("data.bids", "data.asks", 3)
    state = topn.TopState()
    for i in range(1, 40):  # sides grow and shrink: the storage follows
        n = i % 4
        bids = [(f"{100 - k}.{i}", f"{k + 1}") for k in range(n)]
        asks = [(f"{200 + k}.{i}", f"{k + 2}") for k in range(n % 3)]
        ext.update(_frame(bids, asks))
        assert state.accept(ext) == ""
        assert (state.bids, state.asks) == (ext.bids, ext.asks)
    assert state.accepted == 39


def test_any_source_with_bids_and_asks(topn: ModuleType) -> None:
    class Source:
        bids = ((2.0, 1.0), (1.0, 1.0))
        asks = ((3.0, 1.0),)

    state = topn.TopState()
    assert state.accept(Source()) == ""
    assert (state.bids, state.asks) == (Source.bids, Source.asks)
    Source.asks = ((1.5, 1.0),)
    assert state.accept(Source()) == check_top(Source.bids, Source.asks) != ""


def test_levels_as_numbers_only(topn: ModuleType) -> None:
    class Source:
        bids: tuple = ([2, 1, "extra"],)
        asks: tuple = ((3.0, 1.0),)

    state = topn.TopState()
    assert state.accept(Source()) == ""
    assert state.bids == ((2.0, 1.0),) and type(state.bids[0][0]) is float
    Source.bids = (("2.0", "1"),)
    with pytest.raises(TypeError):
        state.accept(Source())
    Source.bids = ((2.0,),)
    with pytest.raises(IndexError):
        state.accept(Source())
    assert state.bids == ((2.0, 1.0),)


def test_unchanged_levels_are_the_same_objects(topn: ModuleType, extract: ModuleType) -> None:
    ext = extract.TopExtractor("data.bids", "data.asks", 10)
    state = topn.TopState()
    ext.update(_frame(*GOOD))
    state.accept(ext)
    bids, asks = state.bids, state.asks
    ext.update(_frame(GOOD[0], [("10.6", "3"), ("10.7", "0.25")]))
    state.accept(ext)
    assert state.bids is bids and state.asks is not asks and state.asks[1] == (10.7, 0.25)
    ext.update(_frame([("10.5", "1"), ("10.4", "2"), ("10.4", "-0")], GOOD[1]))  # -0.0: a change, bit for bit
    state.accept(ext)
    assert state.bids is not bids and str(state.bids[2][1]) == "-0.0"
