"""encode_summary: both twins byte for byte against the protobuf library."""

from __future__ import annotations

import math
import random
import struct
import types
from typing import Any

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import DragonflyError, LevelsError, LevelsTypeError
from dragonfly.services.grpc._gen import orderbook_pb2  # generated from proto/ by setup.py


def reference(bids: list, asks: list, spread: float | None = None) -> bytes:
    """What the protobuf library serialises for the same content."""
    if spread is None:
        spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
    return orderbook_pb2.Summary(
        spread=spread,
        bids=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in bids],
        asks=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in asks],
    ).SerializeToString()


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


@pytest.fixture
def wire(core_impl: str) -> types.ModuleType:
    return core_module("wire", core_impl)


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest) -> list[types.ModuleType]:
    from conftest import _impls

    return [core_module("wire", impl) for impl in _impls(request.config)]


# doubles: everything hypothesis finds interesting, plus NaNs with sign and payload bits
NAN_BITS = st.integers(min_value=1, max_value=(1 << 52) - 1).flatmap(
    lambda m: st.sampled_from([0x7FF0000000000000 | m, 0xFFF0000000000000 | m])
)
DOUBLES = st.one_of(
    st.floats(),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, 5e-324, -5e-324, 1.7976931348623157e308]),
    NAN_BITS.map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]),
)
# venue names: any Unicode scalar value (no lone surrogates), short and long (multi-byte varints)
VENUE = st.one_of(
    st.sampled_from(["", "binance", "bitstamp", "é", "漢字", "😀"]),
    st.text(max_size=20),
    st.text(min_size=100, max_size=400),
)
LEVEL = st.tuples(VENUE, DOUBLES, DOUBLES)
SIDE = st.lists(LEVEL, max_size=25)


@settings(max_examples=250, deadline=None)
@given(bids=SIDE, asks=SIDE)
def test_encode_matches_protobuf(core_impl: str, bids: list, asks: list) -> None:
    wire = core_module("wire", core_impl)
    assert wire.encode_summary(bids, asks) == reference(bids, asks)


@settings(max_examples=200, deadline=None)
@given(bids=SIDE, asks=SIDE, spread=DOUBLES)
def test_encode_explicit_spread_matches_protobuf(core_impl: str, bids: list, asks: list, spread: float) -> None:
    wire = core_module("wire", core_impl)
    assert wire.encode_summary(bids, asks, spread=spread) == reference(bids, asks, spread)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), n=st.integers(min_value=100, max_value=600))
def test_encode_many_levels(core_impl: str, seed: int, n: int) -> None:
    """Messages well past the compiled encoder's 4 KiB stack buffer."""
    wire = core_module("wire", core_impl)
    rng = random.Random(seed)
    names = ["binance", "bitstamp", "é" * 70, "x" * 300, ""]

    def level() -> tuple[str, float, float]:
        return (rng.choice(names), rng.choice([0.0, -0.0, rng.uniform(-1e6, 1e6)]), rng.expovariate(1.0))

    bids = [level() for _ in range(n)]
    asks = [level() for _ in range(rng.randrange(n))]
    out = wire.encode_summary(bids, asks)
    assert len(out) > 4096
    assert out == reference(bids, asks)


@settings(max_examples=200, deadline=None)
@given(bids=SIDE, asks=SIDE)
def test_encode_roundtrip_through_protobuf(core_impl: str, bids: list, asks: list) -> None:
    wire = core_module("wire", core_impl)
    msg = orderbook_pb2.Summary.FromString(wire.encode_summary(bids, asks))
    expected_spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
    assert _bits(msg.spread) == _bits(expected_spread)
    for got, want in ((msg.bids, bids), (msg.asks, asks)):
        assert [(lv.exchange, _bits(lv.price), _bits(lv.amount)) for lv in got] == [
            (v, _bits(p), _bits(q)) for v, p, q in want
        ]


def test_proto3_defaults(wire: types.ModuleType) -> None:
    # empty side: spread is 0.0, the proto3 default, so it is absent from the bytes
    assert wire.encode_summary([], []) == b""
    assert wire.encode_summary([("a", 1.0, 1.0)], []) == b"\x12\x15\x0a\x01a\x11" + _bits(1.0) + b"\x19" + _bits(1.0)
    # +0.0 and "" are omitted, the level itself is still written (empty body)
    assert wire.encode_summary([("", 0.0, 0.0)], [("", 0.0, 0.0)]) == b"\x12\x00\x1a\x00"
    # -0.0 is written (its bits are not all zero), as the protobuf library does
    assert wire.encode_summary([], [], spread=-0.0) == b"\x09" + _bits(-0.0)
    assert wire.encode_summary([("", -0.0, 0.0)], []) == b"\x12\x09\x11" + _bits(-0.0)
    # spread computed from the first level of each side
    assert wire.encode_summary([("a", 2.0, 1.0), ("a", 1.0, 1.0)], [("b", 2.5, 1.0)])[:9] == b"\x09" + _bits(0.5)
    # equal best bid and ask: spread +0.0, omitted
    assert wire.encode_summary([("a", 2.0, 1.0)], [("b", 2.0, 1.0)])[:1] == b"\x12"


def test_long_venue_name_uses_multibyte_varints(wire: types.ModuleType) -> None:
    name = "x" * 200  # name length 200 and level length 218 each take two varint bytes
    out = wire.encode_summary([(name, 0.0, 0.0)], [])
    assert out == b"\x12\xcb\x01\x0a\xc8\x01" + name.encode()
    assert out == reference([(name, 0.0, 0.0)], [])


def test_input_types_accepted(wire: types.ModuleType) -> None:
    class Level(tuple):
        pass

    bids = (Level(("a", 1, 2)), ["b", True, 0.5])
    asks = [("c", 3.0, 4)]
    expected = reference([("a", 1.0, 2.0), ("b", 1.0, 0.5)], [("c", 3.0, 4.0)])
    assert wire.encode_summary(bids, asks) == expected
    assert wire.encode_summary(list(bids), tuple(asks)) == expected


def test_encode_name_field(wire: types.ModuleType) -> None:
    for name in ["", "binance", "é", "😀" * 50]:
        assert wire.encode_name_field(name) == orderbook_pb2.Level(exchange=name).SerializeToString()
    with pytest.raises(LevelsError):
        wire.encode_name_field("\ud800")
    with pytest.raises(LevelsTypeError):
        wire.encode_name_field(b"binance")


def test_merge_output_encodes(core_impl: str) -> None:
    merge = core_module("merge", core_impl)
    wire = core_module("wire", core_impl)
    books = {
        "binance": ([(100.0, 1.0), (99.5, 2.0)], [(100.5, 1.5), (101.0, 2.0)]),
        "bitstamp": ([(100.0, 3.0), (99.0, 1.0)], [(100.25, 0.5)]),
    }
    bids, asks = merge.merge_levels(books, 3)
    assert wire.encode_summary(bids, asks) == reference(bids, asks)
    msg = orderbook_pb2.Summary.FromString(wire.encode_summary(bids, asks))
    assert msg.spread == 0.25
    assert [lv.exchange for lv in msg.bids] == ["bitstamp", "binance", "binance"]


@settings(max_examples=100, deadline=None)
@given(bids=SIDE, asks=SIDE)
def test_c_level_encoder_matches(request: pytest.FixtureRequest, bids: list, asks: list) -> None:
    """The cdef encoder on C arrays (wire_c.pxd) gives the same bytes as encode_summary."""
    from conftest import _impls

    if "cython" not in _impls(request.config):
        pytest.skip("compiled core not under test (DRAGONFLY_NO_EXTENSIONS / --no-c-extensions)")
    wire_c = core_module("wire", "cython")
    _, out = wire_c._bench_encode_view_ns(bids, asks, 1)
    assert out == reference(bids, asks)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------

BAD: list[tuple[Any, Any, dict[str, Any], type[Exception]]] = [
    ("bids", [], {}, LevelsTypeError),
    ([], None, {}, LevelsTypeError),
    ([("a", 1.0)], [], {}, LevelsError),
    ([("a", 1.0, 2.0, 3.0)], [], {}, LevelsError),
    ([["a", 1.0]], [], {}, LevelsError),
    ([("a", "1.0", 1.0)], [], {}, LevelsTypeError),
    ([("a", 1.0, None)], [], {}, LevelsTypeError),
    ([(b"a", 1.0, 1.0)], [], {}, LevelsTypeError),
    ([(None, 1.0, 1.0)], [], {}, LevelsTypeError),
    ([], [("\udc80", 1.0, 1.0)], {}, LevelsError),
    ([], [("a", 10**400, 1.0)], {}, LevelsError),
    ([], [1.0], {}, LevelsTypeError),
    ([], [], {"spread": "0.1"}, LevelsTypeError),
    ([], [], {"spread": 10**400}, LevelsError),
]


@pytest.mark.parametrize(("bids", "asks", "kwargs", "exc"), BAD)
def test_bad_input_raises_typed_error(wire: types.ModuleType, bids: Any, asks: Any, kwargs: dict, exc: type) -> None:
    with pytest.raises(exc) as info:
        wire.encode_summary(bids, asks, **kwargs)
    assert isinstance(info.value, DragonflyError)
    assert isinstance(info.value, TypeError if exc is LevelsTypeError else ValueError)


def test_error_attributes(wire: types.ModuleType) -> None:
    with pytest.raises(LevelsTypeError) as info:
        wire.encode_summary([("a", 1.0, 1.0)], [("a", 1.0, 1.0), ("b", 2.0, "3")])
    assert (info.value.side, info.value.index) == ("asks", 1)


LEAF = st.one_of(
    st.floats(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=2),
)
ANY_LEVEL = st.one_of(
    st.tuples(st.one_of(VENUE, LEAF, st.just("\ud800")), LEAF, LEAF), st.lists(LEAF, max_size=4), LEAF
)
ANY_SIDE = st.one_of(st.lists(ANY_LEVEL, max_size=4), LEAF)


@settings(max_examples=200, deadline=None)
@given(bids=ANY_SIDE, asks=ANY_SIDE, spread=st.one_of(st.none(), LEAF))
def test_twins_agree_on_arbitrary_input(both: list[types.ModuleType], bids: Any, asks: Any, spread: Any) -> None:
    outcomes = []
    for mod in both:
        try:
            outcomes.append(("ok", mod.encode_summary(bids, asks, spread=spread)))
        except DragonflyError as exc:
            outcomes.append((type(exc).__name__, str(exc), exc.side, exc.index))  # type: ignore[attr-defined]
    assert all(o == outcomes[0] for o in outcomes), outcomes


def test_level_that_mutates_its_side_does_not_crash(both: list[types.ModuleType]) -> None:
    """A tuple subclass whose __getitem__ empties the side being read: the twins agree."""
    outcomes = []
    for mod in both:
        bids: list[Any] = []

        class Hostile(tuple):
            def __getitem__(self, i: Any) -> Any:
                bids.clear()  # noqa: B023 - this iteration's list: encoded before the loop moves on
                return tuple.__getitem__(self, i)

        bids.extend([("é" * 3, 3.0, 1.0), Hostile(("b" * 5, 2.0, 1.0)), ("c", 1.0, 1.0)])
        outcomes.append(mod.encode_summary(bids, [("d", 4.0, 1.0)]))
    assert outcomes[0] == reference([("é" * 3, 3.0, 1.0), ("b" * 5, 2.0, 1.0)], [("d", 4.0, 1.0)])
    assert all(o == outcomes[0] for o in outcomes)
