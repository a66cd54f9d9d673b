"""encode_book_update: both twins byte for byte against the protobuf library's dragonfly.v1.BookUpdate."""

from __future__ import annotations

import struct
import types
from typing import Any

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st
from test_wire import DOUBLES, SIDE, VENUE

from dragonfly.errors import DragonflyError, LevelsError, LevelsTypeError
from dragonfly.services.grpc.protos import book_pb2, orderbook_pb2

U64 = st.integers(min_value=0, max_value=2**64 - 1)
I64 = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 1_764_500_000_123_456_789]),
)
I32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
STATUS = st.one_of(st.sampled_from([0, 1, 2, 3]), I32)
HEALTH = st.tuples(VENUE, STATUS, I64, st.one_of(st.sampled_from(["", "no data yet", "stale: 5 s silent"]), VENUE))


def reference(
    instrument: str, seq: int, bids: list, asks: list, *, spread: float | None = None,
    exchange_ts_ns: int = 0, receive_ts_ns: int = 0, publish_ts_ns: int = 0, venues: Any = (),
) -> bytes:
    """What the protobuf library serialises for the same content."""
    if spread is None:
        spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
    return book_pb2.BookUpdate(
        instrument=instrument,
        seq=seq,
        spread=spread,
        bids=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in bids],
        asks=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in asks],
        exchange_ts_ns=exchange_ts_ns,
        receive_ts_ns=receive_ts_ns,
        publish_ts_ns=publish_ts_ns,
        venues=[book_pb2.VenueHealth(venue=v, status=s, last_update_ns=t, reason=r) for v, s, t, r in venues],
    ).SerializeToString()


@pytest.fixture
def wire(core_impl: str) -> types.ModuleType:
    return core_module("wire", core_impl)


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest) -> list[types.ModuleType]:
    from conftest import _impls

    return [core_module("wire", impl) for impl in _impls(request.config)]


@settings(max_examples=250, deadline=None)
@given(
    instrument=VENUE, seq=U64, bids=SIDE, asks=SIDE, spread=st.one_of(st.none(), DOUBLES),
    ts=st.tuples(I64, I64, I64), venues=st.lists(HEALTH, max_size=6),
)
def test_encode_matches_protobuf(
    core_impl: str, instrument: str, seq: int, bids: list, asks: list, spread: float | None,
    ts: tuple[int, int, int], venues: list,
) -> None:
    wire = core_module("wire", core_impl)
    kw = {"spread": spread, "exchange_ts_ns": ts[0], "receive_ts_ns": ts[1], "publish_ts_ns": ts[2], "venues": venues}
    out = wire.encode_book_update(instrument, seq, bids, asks, **kw)
    assert out == reference(instrument, seq, bids, asks, **kw)
    msg = book_pb2.BookUpdate.FromString(out)
    assert (msg.instrument, msg.seq, msg.exchange_ts_ns, msg.receive_ts_ns, msg.publish_ts_ns) == (
        instrument, seq, *ts
    )
    assert [(h.venue, h.status, h.last_update_ns, h.reason) for h in msg.venues] == venues


def test_defaults_and_edges(wire: types.ModuleType) -> None:
    # everything at its proto3 default: nothing written
    assert wire.encode_book_update("", 0, [], []) == b""
    # empty sides: spread 0.0, absent; the rest written
    out = wire.encode_book_update("ETH-BTC", 1, [], [], publish_ts_ns=5)
    assert out == b"\x0a\x07ETH-BTC\x10\x01\x40\x05" == reference("ETH-BTC", 1, [], [], publish_ts_ns=5)
    # one side empty, an explicit -0.0 spread is written
    assert wire.encode_book_update("", 0, [("a", 1.0, 1.0)], [], spread=-0.0)[:9] == b"\x19" + struct.pack(
        "<d", -0.0
    )
    # the largest seq, negative timestamps and status: 10-byte varints
    out = wire.encode_book_update(
        "é漢😀", 2**64 - 1, [], [], exchange_ts_ns=-1, venues=[("binance", -1, -(2**63), "")]
    )
    assert out == reference("é漢😀", 2**64 - 1, [], [], exchange_ts_ns=-1, venues=[("binance", -1, -(2**63), "")])
    # a health entry with every field at its default is still written (empty body)
    assert wire.encode_book_update("", 0, [], [], venues=[("", 0, 0, "")]) == b"\x4a\x00"


def test_realistic_update(wire: types.ModuleType) -> None:
    bids = [("binance", 0.0521 - i * 1e-5, 1.5 + i) for i in range(10)]
    asks = [("bitstamp", 0.0522 + i * 1e-5, 0.25 * (i + 1)) for i in range(10)]
    health = [("binance", 2, 1_764_500_000_000_000_000, ""), ("bitstamp", 3, 0, "stale: no data for 5 s")]
    kw = {"exchange_ts_ns": 1_764_500_000_000_000_000, "receive_ts_ns": 1_764_500_000_000_100_000,
              "publish_ts_ns": 1_764_500_000_000_120_000, "venues": health}
    assert wire.encode_book_update("ETH-BTC", 123_456, bids, asks, **kw) == reference(
        "ETH-BTC", 123_456, bids, asks, **kw
    )


def test_large_message_past_the_stack_buffer(wire: types.ModuleType) -> None:
    bids = [("x" * 300, float(i), 1.0) for i in range(30)]
    venues = [("v" * 200, 2, i, "r" * 100) for i in range(10)]
    out = wire.encode_book_update("I" * 5000, 7, bids, [], venues=venues)
    assert len(out) > 4096 * 2
    assert out == reference("I" * 5000, 7, bids, [], venues=venues)


def test_input_types_accepted(wire: types.ModuleType) -> None:
    class Health(tuple):
        pass

    class Code(int):
        pass

    venues = [Health(("a", Code(2), True, "")), ["b", 3, 10, "why"]]
    out = wire.encode_book_update("X", True, [("a", 1, 2)], [], venues=venues, receive_ts_ns=Code(9))
    assert out == reference(
        "X", 1, [("a", 1.0, 2.0)], [], venues=[("a", 2, 1, ""), ("b", 3, 10, "why")], receive_ts_ns=9
    )


BAD: list[tuple[tuple[Any, ...], dict[str, Any], type[Exception], tuple[str, int]]] = [
    ((None, 0, [], []), {}, LevelsTypeError, ("", -1)),
    (("\udc80", 0, [], []), {}, LevelsError, ("", -1)),
    (("X", -1, [], []), {}, LevelsError, ("", -1)),
    (("X", 2**64, [], []), {}, LevelsError, ("", -1)),
    (("X", 1.0, [], []), {}, LevelsTypeError, ("", -1)),
    (("X", 0, None, []), {}, LevelsTypeError, ("bids", -1)),
    (("X", 0, [], []), {"spread": "1"}, LevelsTypeError, ("", -1)),
    (("X", 0, [], []), {"exchange_ts_ns": 2**63}, LevelsError, ("", -1)),
    (("X", 0, [], []), {"receive_ts_ns": -(2**63) - 1}, LevelsError, ("", -1)),
    (("X", 0, [], []), {"publish_ts_ns": "1"}, LevelsTypeError, ("", -1)),
    (("X", 0, [], []), {"venues": "binance"}, LevelsTypeError, ("venues", -1)),
    (("X", 0, [], []), {"venues": [("a", 2, 0)]}, LevelsError, ("venues", 0)),
    (("X", 0, [], []), {"venues": [("a", 2, 0, ""), "a"]}, LevelsTypeError, ("venues", 1)),
    (("X", 0, [], []), {"venues": [(b"a", 2, 0, "")]}, LevelsTypeError, ("venues", 0)),
    (("X", 0, [], []), {"venues": [("a", 2**31, 0, "")]}, LevelsError, ("venues", 0)),
    (("X", 0, [], []), {"venues": [("a", 2, 0.5, "")]}, LevelsTypeError, ("venues", 0)),
    (("X", 0, [], []), {"venues": [("a", 2, 0, None)]}, LevelsTypeError, ("venues", 0)),
    (("X", 0, [], []), {"venues": [("a", 2, 0, "\ud800")]}, LevelsError, ("venues", 0)),
    (("X", 0, [("a", 1.0, 1.0)], [("b", 1.0)]), {}, LevelsError, ("asks", 0)),
]


@pytest.mark.parametrize(("args", "kwargs", "exc", "where"), BAD)
def test_bad_input_raises_typed_error(
    wire: types.ModuleType, args: tuple, kwargs: dict, exc: type, where: tuple[str, int]
) -> None:
    with pytest.raises(exc) as info:
        wire.encode_book_update(*args, **kwargs)
    assert type(info.value) is exc
    assert isinstance(info.value, DragonflyError)
    assert (info.value.side, info.value.index) == where  # type: ignore[attr-defined]


LEAF = st.one_of(
    st.floats(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.none(),
    st.text(max_size=3),
    st.binary(max_size=2),
    st.just("\ud800"),
)
ANY_HEALTH = st.one_of(st.tuples(LEAF, LEAF, LEAF, LEAF), st.lists(LEAF, max_size=5), LEAF)


@settings(max_examples=300, deadline=None)
@given(
    instrument=LEAF, seq=LEAF, spread=st.one_of(st.none(), LEAF), ts=st.tuples(LEAF, LEAF, LEAF),
    venues=st.one_of(st.lists(ANY_HEALTH, max_size=4), LEAF),
)
def test_twins_agree_on_arbitrary_input(
    both: list[types.ModuleType], instrument: Any, seq: Any, spread: Any, ts: tuple, venues: Any
) -> None:
    outcomes = []
    for mod in both:
        try:
            outcomes.append(("ok", mod.encode_book_update(
                instrument, seq, [("a", 1.0, 1.0)], [], spread=spread, exchange_ts_ns=ts[0], receive_ts_ns=ts[1],
                publish_ts_ns=ts[2], venues=venues,
            )))
        except DragonflyError as exc:
            outcomes.append((type(exc).__name__, str(exc), exc.side, exc.index))  # type: ignore[attr-defined]
    assert all(o == outcomes[0] for o in outcomes), outcomes


def test_health_entry_that_mutates_the_list(both: list[types.ModuleType]) -> None:
    """A health entry whose __getitem__ empties the list being read: the twins agree, nothing crashes."""
    outcomes = []
    for mod in both:
        venues: list[Any] = []

        class Hostile(tuple):
            def __getitem__(self, i: Any) -> Any:
                venues.clear()  # noqa: B023 - this iteration's list
                return tuple.__getitem__(self, i)

        venues.extend([("a", 2, 1, ""), Hostile(("b", 3, 2, "x")), ("c", 2, 3, "")])
        outcomes.append(mod.encode_book_update("X", 1, [], [], venues=venues))
    assert outcomes[0] == reference("X", 1, [], [], venues=[("a", 2, 1, ""), ("b", 3, 2, "x")])
    assert all(o == outcomes[0] for o in outcomes)
