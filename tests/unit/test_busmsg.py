"""The bus's BookUpdate message (dragonfly._core.busmsg): round trips, the layout, and bad input
(truncated, garbage, corrupted, wrong types) -> BusMessageError, on both twins, which agree."""

from __future__ import annotations

import math
import struct
import types

import pytest
from conftest import _impls, core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import BusMessageError, DragonflyError
from dragonfly.model import BookUpdate, VenueStatus


@pytest.fixture
def codec(core_impl: str) -> types.ModuleType:
    return core_module("busmsg", core_impl)


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest) -> list[types.ModuleType]:
    return [core_module("busmsg", impl) for impl in _impls(request.config)]


PRICE = st.floats(min_value=5e-324, max_value=1e300, allow_nan=False, allow_infinity=False)
QTY = st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False)
SIDE = st.lists(st.tuples(PRICE, QTY), max_size=30).map(tuple)
NAME = st.text(min_size=1, max_size=20).filter(lambda s: 1 <= len(s.encode("utf-8", "surrogatepass")) <= 255)
NAME = NAME.filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
REASON = st.text(max_size=300).filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
STAMP = st.integers(min_value=0, max_value=(1 << 63) - 1)


@st.composite
def updates(draw: st.DrawFn) -> BookUpdate:
    status = draw(st.sampled_from(list(VenueStatus)))
    live = status is VenueStatus.LIVE
    return BookUpdate(
        draw(NAME),
        draw(NAME),
        draw(SIDE) if live else (),
        draw(SIDE) if live else (),
        status,
        draw(STAMP),
        draw(STAMP),
        draw(REASON),
    )


def _outcome(mod: types.ModuleType, data: object) -> object:
    try:
        return mod.decode_update(data)
    except BusMessageError as exc:
        return ("error", exc.reason, exc.offset)


LIVE = BookUpdate("binance", "ETH-BTC", ((0.05, 1.5), (0.0499, 2.0)), ((0.0501, 3.0),), VenueStatus.LIVE, 7, 9, "")


# -- round trips ---------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(update=updates())
def test_round_trip(both: list[types.ModuleType], update: BookUpdate) -> None:
    encoded = [m.encode_update(update) for m in both]
    assert len(set(encoded)) == 1  # the twins write the same bytes
    for m in both:
        back = m.decode_update(encoded[0])
        assert back == update
        assert type(back) is BookUpdate and back.status is update.status
        assert all(type(p) is float and type(q) is float for p, q in back.bids + back.asks)
        assert type(back.bids) is tuple and type(back.asks) is tuple


def test_layout(codec: types.ModuleType) -> None:
    data = codec.encode_update(LIVE)
    head = struct.unpack_from("<2sBBHHqqBBH", data)
    assert head == (b"\xdf\xb1", 1, 1, 2, 1, 7, 9, 7, 7, 0)
    assert data[28:42] == b"binanceETH-BTC"
    assert struct.unpack_from("<6d", data, 42) == (0.05, 1.5, 0.0499, 2.0, 0.0501, 3.0)
    assert len(data) == codec.HEADER_SIZE + 14 + 16 * 3
    assert (codec.MAGIC, codec.VERSION, codec.HEADER_SIZE, codec.MAX_LEVELS) == (b"\xdf\xb1", 1, 28, 65535)


def test_accepts_bytearray_and_memoryview(codec: types.ModuleType) -> None:
    data = codec.encode_update(LIVE)
    assert codec.decode_update(bytearray(data)) == LIVE
    assert codec.decode_update(memoryview(data)) == LIVE
    assert codec.decode_update(memoryview(b"xx" + data)[2:]) == LIVE


def test_int_levels_and_lists_encode_as_floats(both: list[types.ModuleType]) -> None:
    upd = BookUpdate("v", "ETH-BTC", [[1, 2]], [(3, 4.5)], VenueStatus.LIVE)  # type: ignore[arg-type]
    out = {m.encode_update(upd) for m in both}
    assert len(out) == 1
    back = both[0].decode_update(out.pop())
    assert back.bids == ((1.0, 2.0),) and back.asks == ((3.0, 4.5),)


# -- bad input to decode -------------------------------------------------------------------------------------------


def test_every_truncation_is_a_typed_error(codec: types.ModuleType) -> None:
    data = codec.encode_update(LIVE._replace(reason=""))
    for n in range(len(data)):
        with pytest.raises(BusMessageError) as info:
            codec.decode_update(data[:n])
        assert info.value.reason == "truncated"
        assert info.value.offset == n
        assert isinstance(info.value, (DragonflyError, ValueError))


def test_trailing_bytes(codec: types.ModuleType) -> None:
    data = codec.encode_update(LIVE)
    with pytest.raises(BusMessageError) as info:
        codec.decode_update(data + b"\x00")
    assert (info.value.reason, info.value.offset) == ("trailing", len(data))


@pytest.mark.parametrize(
    ("patch", "reason", "offset"),
    [
        ((0, b"\x00"), "magic", 0),
        ((2, b"\x02"), "version", 2),
        ((3, b"\x03"), "status", 3),
        ((24, b"\x00"), "length", 24),
        ((25, b"\x00"), "length", 24),
        ((3, b"\x02"), "levels", 4),  # STALE with levels
        ((15, b"\x80"), "number", 8),  # negative exchange time
        ((23, b"\x80"), "number", 16),
        ((28, b"\xff"), "utf8", 28),
        ((35, b"\xc3"), "utf8", 35),  # the instrument
        ((42, struct.pack("<d", math.nan)), "number", 42),
        ((42 + 16, struct.pack("<d", math.inf)), "number", 58),
        ((42 + 8, struct.pack("<d", -1.0)), "number", 42),  # a negative qty
        ((42 + 32, struct.pack("<d", 0.0)), "number", 74),  # a zero price (the ask)
        ((4, b"\x09"), "truncated", None),  # more levels than the bytes hold
        ((4, b"\x00"), "trailing", None),  # fewer
    ],
)
def test_corruptions(
    both: list[types.ModuleType], patch: tuple[int, bytes], reason: str, offset: int | None
) -> None:
    data = bytearray(both[0].encode_update(LIVE))
    at, raw = patch
    data[at : at + len(raw)] = raw
    for m in both:
        with pytest.raises(BusMessageError) as info:
            m.decode_update(bytes(data))
        assert info.value.reason == reason
        if offset is not None:
            assert info.value.offset == offset


@pytest.mark.parametrize("value", [None, "text", 123, [1, 2], object()])
def test_not_bytes(codec: types.ModuleType, value: object) -> None:
    with pytest.raises(BusMessageError) as info:
        codec.decode_update(value)
    assert info.value.reason == "type"


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=200))
def test_garbage_never_crashes_and_twins_agree(both: list[types.ModuleType], data: bytes) -> None:
    outcomes = [_outcome(m, data) for m in both]
    assert all(o == outcomes[0] for o in outcomes)


@settings(max_examples=300, deadline=None)
@given(update=updates(), at=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_byte_flipped_is_an_error_or_a_valid_update(
    both: list[types.ModuleType], update: BookUpdate, at: int, value: int
) -> None:
    data = bytearray(both[0].encode_update(update))
    data[at % len(data)] = value
    outcomes = [_outcome(m, bytes(data)) for m in both]
    assert all(o == outcomes[0] for o in outcomes)
    if isinstance(outcomes[0], BookUpdate):  # what decodes is a well-formed update
        again = both[0].decode_update(both[0].encode_update(outcomes[0]))
        assert again == outcomes[0]


# -- bad input to encode -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        (("binance", "ETH-BTC", (), ()), "type"),  # a plain tuple
        (LIVE._replace(venue=""), "length"),
        (LIVE._replace(instrument="x" * 256), "too_long"),
        (LIVE._replace(reason="r" * 65536), "too_long"),
        (LIVE._replace(venue="\ud800"), "utf8"),
        (LIVE._replace(venue=b"binance"), "type"),
        (LIVE._replace(status="LIVE"), "type"),
        (LIVE._replace(bids=((math.nan, 1.0),)), "number"),
        (LIVE._replace(asks=((1.0, math.inf),)), "number"),
        (LIVE._replace(bids=((-1.0, 1.0),)), "number"),
        (LIVE._replace(bids=(("1.0", 1.0),)), "type"),
        (LIVE._replace(bids=((1.0,),)), "type"),
        (LIVE._replace(bids=None), "type"),
        (LIVE._replace(bids=((1.0, 1.0),) * 65536), "too_long"),
        (LIVE._replace(exchange_ts_ns=-1), "number"),
        (LIVE._replace(receive_ts_ns=1 << 63), "number"),
        (LIVE._replace(receive_ts_ns=1.5), "type"),
        (LIVE._replace(receive_ts_ns=True), "type"),
        (LIVE._replace(status=VenueStatus.STALE), "levels"),
    ],
)
def test_encode_refuses(both: list[types.ModuleType], update: object, reason: str) -> None:
    messages = set()
    for m in both:
        with pytest.raises(BusMessageError) as info:
            m.encode_update(update)
        assert info.value.reason == reason
        messages.add(str(info.value))
    assert len(messages) == 1
