"""TopState (dragonfly._core.topn): the accepted top N of a snapshot feed, both twins.

It must accept exactly what ``check_top`` accepts, answer the same text otherwise, keep the
previous levels on a refusal, and give the same levels as the extractor it reads.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly._core.merge_py import check_top


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


# -- TopReader -------------------------------------------------------------------------------------

HEAD: dict[str, object] = {"seq_key": "lastUpdateId", "route_head": '{"stream":"'}
TAIL: dict[str, object] = {
    "seq_key": "microtimestamp", "seq_quoted": True, "route_tail": ',"event":"data"}', "route_needle": '"channel":"'
}
LEVELS = '"bids":[["1.5","2"],["1.4","1"]],"asks":[["1.6","3"]]'


def head_frame(key: str = "eth@depth", seq: str = "160") -> str:
    return f'{{"stream":"{key}","data":{{"lastUpdateId":{seq},{LEVELS}}}}}'


def tail_frame(key: str = "order_book_ethbtc", seq: str = '"1700000000123456"') -> str:
    return f'{{"data":{{"timestamp":"1","microtimestamp":{seq},{LEVELS}}},"channel":"{key}","event":"data"}}'


def reader(topn: ModuleType, spec: dict[str, object]) -> object:
    return topn.TopReader("data.bids", "data.asks", 2, **spec)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_reader_routes_sequences_and_extracts(topn: ModuleType, as_bytes: bool) -> None:
    for spec, frame, key, seq in (
        (HEAD, head_frame(), "eth@depth", 160),
        (TAIL, tail_frame(), "order_book_ethbtc", 1700000000123456),
        (HEAD, head_frame("é@depth"), "é@depth", 160),  # UTF-8 keys
    ):
        r = reader(topn, spec)
        got = r.read(frame.encode() if as_bytes else frame)
        assert (got, r.key, r.seq) == (key, key, seq)
        assert r.top.bids == ((1.5, 2.0), (1.4, 1.0)) and r.top.asks == ((1.6, 3.0),)


def test_reader_keeps_one_extractor_per_key(topn: ModuleType) -> None:
    r = reader(topn, HEAD)
    r.read(head_frame("a"))
    first = r.top
    r.read(head_frame("b"))
    assert r.top is not first
    r.read(head_frame("a", "161"))
    assert r.top is first and r.seq == 161


@pytest.mark.parametrize(
    "spec, frame",
    [
        (HEAD, head_frame().replace('{"stream":"', '{ "stream":"')),  # not the compact head
        (HEAD, head_frame("")),  # empty key
        (HEAD, head_frame('a\\"b')),  # escaped key
        (HEAD, head_frame(seq='"160"')),  # quoted where a number is expected
        (HEAD, head_frame(seq="1234567890123456789")),  # 19 digits: the general path
        (HEAD, head_frame(seq="16.0")),
        (HEAD, head_frame().replace('"lastUpdateId":160,', '"lastUpdateId" : 160,')),
        (HEAD, '{"stream":"x"'),
        (HEAD, '{"stream":"'),
        (TAIL, tail_frame() + " "),  # not the compact tail
        (TAIL, tail_frame(seq="1700000000123456")),  # unquoted where a string is expected
        (TAIL, tail_frame(seq='"17x"')),
        (TAIL, tail_frame().replace('"channel":"', '"channel": "')),
        (TAIL, '{"data":{},' + " " * 200 + '"channel":"order_book_x","event":"data"}'.replace('"channel', ' "chan')),
        (HEAD, head_frame("a\ud800")),  # a lone surrogate
        (HEAD, 12),
    ],
)
def test_reader_declines_other_spellings(topn: ModuleType, spec: dict[str, object], frame: object) -> None:
    r = reader(topn, spec)
    assert r.read(frame) is None
    assert (r.key, r.seq, r.top) == ("", -1, None)


def test_reader_tail_needle_only_near_the_end(topn: ModuleType) -> None:
    r = reader(topn, TAIL)
    far = tail_frame().replace(',"channel":"order_book_ethbtc"', ',"channel":"order_book_ethbtc"' + " " * 130)
    assert r.read(far) is None  # the needle is more than 128 bytes from the end
    assert r.read(tail_frame()) == "order_book_ethbtc"


def test_reader_bad_levels_raise_with_the_key_set(topn: ModuleType, extract: ModuleType) -> None:
    from dragonfly.errors import ExtractError

    r = reader(topn, HEAD)
    assert r.read(head_frame()) == "eth@depth"
    kept = r.top.bids
    bad = head_frame("eth@depth", "170").replace('["1.4","1"]', '["1.4","x"]')
    with pytest.raises(ExtractError) as got:
        r.read(bad)
    with pytest.raises(ExtractError) as direct:
        extract.TopExtractor("data.bids", "data.asks", 2).update(bad)
    assert str(got.value) == str(direct.value)  # the extractor's own message
    assert (r.key, r.seq, r.top.bids) == ("eth@depth", 170, kept)


def test_reader_arguments_checked(topn: ModuleType) -> None:
    with pytest.raises(ValueError):
        topn.TopReader("data.bids", "data.asks", 2, seq_key="s")  # no routing
    with pytest.raises(ValueError):
        topn.TopReader("data.bids", "data.asks", 2, seq_key="s", route_head="x", route_tail="y", route_needle="z")
    with pytest.raises(ValueError):
        topn.TopReader("data.bids", "data.asks", 2, seq_key="", route_head="x")
    with pytest.raises(ValueError):  # the extractor's own check (ExtractError is a ValueError)
        topn.TopReader("data.bids", "data.asks", 0, seq_key="s", route_head="x")


def test_reader_streams_alternate(topn: ModuleType, extract: ModuleType) -> None:
    from dragonfly.errors import ExtractError

    r = reader(topn, HEAD)
    seen = {}
    for i, key in enumerate(["a", "a", "b", "a", "bb", "b", "b"]):
        assert r.read(head_frame(key, str(100 + i))) == key and r.key == key and r.seq == 100 + i
        seen.setdefault(key, r.top)
        assert r.top is seen[key]
    bad = head_frame("zz", "200").replace('["1.4","1"]', '["1.4","x"]')
    with pytest.raises(ExtractError):
        r.read(bad)  # a new stream whose first frame is malformed
    assert (r.key, r.seq) == ("zz", 200) and r.top.bids == ()
    assert r.read(head_frame("zz", "201")) == "zz" and r.top.bids == ((1.5, 2.0), (1.4, 1.0))
    assert r.read(head_frame("b", "202")) == "b" and r.top is seen["b"]


# -- TopState's sequence position, TopReader.bind/take ---------------------------------------------


def test_state_keeps_the_sequence_of_its_top(topn: ModuleType, extract: ModuleType) -> None:
    ext = extract.TopExtractor("data.bids", "data.asks", 2)
    state = topn.TopState()
    assert (state.held, state.seq) == (False, -1)
    ext.update(_frame(*GOOD))
    assert state.accept(ext, 160) == "" and (state.held, state.seq) == (True, 160)
    ext.update(_frame([("11", "1")], [("10", "1")]))
    assert state.accept(ext, 170) and (state.held, state.seq) == (True, 160)  # refused: unchanged
    assert state.accept(topn.TopState()) == "" and (state.held, state.seq, state.bids) == (True, -1, ())  # empty top
    state.accept(ext.__class__("data.bids", "data.asks", 2), 2**70)  # beyond 64 bits: kept as given
    assert state.seq == 2**70
    state.clear()
    assert (state.held, state.seq, state.accepted) == (False, -1, 3)
    with pytest.raises(TypeError):
        state.accept(ext, "161")


def _taken(r: object, state: object) -> tuple[object, ...]:
    return (state.held, state.seq, state.accepted, state.bids, state.asks)  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec, make", [(HEAD, head_frame), (TAIL, tail_frame)])
def test_take_accepts_a_routine_frame_of_a_bound_stream(topn: ModuleType, spec: dict[str, object], make: Any) -> None:
    quote = '"' if spec is TAIL else ""
    r = reader(topn, spec)
    key = "eth@depth" if spec is HEAD else "order_book_ethbtc"
    state, item = topn.TopState(), object()
    r.bind(key, state, item)
    assert r.take(make(key, f"{quote}160{quote}")) is None  # no top held yet: the caller's first snapshot
    assert _taken(r, state) == (False, -1, 0, (), ()) and (r.key, r.seq) == (key, 160)
    assert state.accept(r.top if r.read(make(key, f"{quote}160{quote}")) else None, 160) == ""  # the general path
    for accepted, seq in enumerate((161, 161, 175), start=2):  # newer or equal: accepted
        assert r.take(make(key, f"{quote}{seq}{quote}")) is item
        assert _taken(r, state) == (True, seq, accepted, ((1.5, 2.0), (1.4, 1.0)), ((1.6, 3.0),))
        assert (r.key, r.seq) == (key, seq)
    assert r.take((make(key, f"{quote}176{quote}")).encode()) is item and state.seq == 176  # bytes alike


def test_take_leaves_everything_else_to_the_caller(topn: ModuleType) -> None:
    r = reader(topn, HEAD)
    state, item = topn.TopState(), "item"
    r.bind("a", state, item)
    r.read(head_frame("a", "100"))
    state.accept(r.top, 100)
    before = _taken(r, state)
    for frame in (
        head_frame("a", "99"),  # older
        head_frame("b", "101"),  # not bound
        head_frame("a", "101").replace('["1.4","1"]', '["1.4","x"]'),  # malformed levels: no exception
        head_frame("a", "101").replace('["1.6","3"]', '["1.45","3"]'),  # crossed
        head_frame("a", "101").replace('["1.4","1"]', '["1.7","1"]'),  # bids not best first
        head_frame("a", "1234567890123456789"),  # 19 digits: the general path
        head_frame("a", "101").replace('{"stream"', '{ "stream"'),  # not the compact spelling
        12,
    ):
        assert r.take(frame) is None
        assert _taken(r, state) == before
    assert r.take(head_frame("a", "101")) == "item" and state.seq == 101
    state.clear()
    assert r.take(head_frame("a", "102")) is None and (state.held, state.accepted) == (False, 2)


def test_take_after_a_top_beyond_64_bits_or_below_zero(topn: ModuleType) -> None:
    r = reader(topn, HEAD)
    state = topn.TopState()
    r.bind("a", state, 1)
    r.read(head_frame("a", "5"))
    state.accept(r.top, 2**64)  # a sequence the reader cannot read: every frame is older
    assert r.take(head_frame("a", "999999999999999999")) is None and state.seq == 2**64
    state.accept(r.top, -7)  # no position: any frame is newer
    assert r.take(head_frame("a", "0")) == 1 and state.seq == 0


def test_bind_replaces_and_checks(topn: ModuleType) -> None:
    r = reader(topn, HEAD)
    first, second = topn.TopState(), topn.TopState()
    r.read(head_frame("a", "1"))
    first.accept(r.top, 1)
    second.accept(r.top, 1)
    r.bind("a", first, "first")
    assert r.take(head_frame("a", "2")) == "first"
    r.bind("a", second, "second")  # the current stream's binding is replaced at once
    assert r.take(head_frame("a", "3")) == "second" and (first.seq, second.seq) == (2, 3)
    with pytest.raises(TypeError):
        r.bind("a", object(), "x")
    with pytest.raises(TypeError):
        r.bind(None, first, "x")
