"""The L2 book core (``dragonfly._core.book``), both twins, on self-generated data."""

from __future__ import annotations

import zlib

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import BookIntegrityError, InvalidLevelError


@pytest.fixture
def Book(core_impl: str):  # noqa: N802 - a class
    return core_module("book", core_impl).Book


# -- an independent reference: a dict per side, sorted on demand --------------------------------------


class RefBook:
    def __init__(self, max_depth: int) -> None:
        self.cap = max_depth
        self.bids: dict[float, tuple[float, object, object]] = {}
        self.asks: dict[float, tuple[float, object, object]] = {}
        self.truncated = 0

    def apply(self, bids, asks) -> None:
        for side, entries in ((self.bids, bids), (self.asks, asks)):
            for e in entries:
                p, q = float(e[0]), float(e[1])
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = (q, e[0], e[1])
        for side, rev in ((self.bids, True), (self.asks, False)):
            keep = sorted(side, reverse=rev)
            for p in keep[self.cap :]:
                del side[p]
                self.truncated += 1

    def top(self, n: int):
        b = tuple((p, self.bids[p][0]) for p in sorted(self.bids, reverse=True)[:n])
        a = tuple((p, self.asks[p][0]) for p in sorted(self.asks)[:n])
        return b, a


# -- basics ---------------------------------------------------------------------------------------


def test_set_replace_delete_and_order(Book) -> None:
    b = Book(max_depth=100)
    b.apply([("100", "1"), ("102", "2"), ("101", "3")], [("105", "1"), ("103", "2"), ("104", "3")])
    assert b.top(10) == (((102.0, 2.0), (101.0, 3.0), (100.0, 1.0)), ((103.0, 2.0), (104.0, 3.0), (105.0, 1.0)))
    assert b.top(2) == (((102.0, 2.0), (101.0, 3.0)), ((103.0, 2.0), (104.0, 3.0)))
    assert b.top(0) == ((), ())
    b.apply([("101", "7")], [("103", "0")])  # replace, delete
    assert b.bids() == ((102.0, 2.0), (101.0, 7.0), (100.0, 1.0))
    assert b.asks() == ((104.0, 3.0), (105.0, 1.0))
    assert b.best_bid() == (102.0, 2.0) and b.best_ask() == (104.0, 3.0)
    assert (b.bid_count, b.ask_count, len(b)) == (3, 2, 5)
    b.apply([("99", "0")], [("200", "0.0")])  # deleting an absent level is a no-op
    assert len(b) == 5
    b.clear()
    assert len(b) == 0 and b.best_bid() is None and b.best_ask() is None and b.top(5) == ((), ())


def test_price_keyed_on_float_text_of_last_delta_kept(Book) -> None:
    b = Book()
    b.apply([("5541.2", "1.0")], [])
    b.apply([("5541.20000", "2.50000000")], [])
    assert b.bids() == ((5541.2, 2.5),)
    assert b.top_text(5) == ([(b"5541.20000", b"2.50000000")], [])
    b.apply([(5541.2, 3)], [])  # numbers: rendered with repr(float) for checksums
    assert b.top_text(1) == ([(b"5541.2", b"3.0")], [])
    b.apply([(b"5541.2", b"4")], [])
    assert b.top_text(1) == ([(b"5541.2", b"4")], [])


def test_extra_fields_are_ignored(Book) -> None:
    b = Book()
    b.apply([["1.5", "2", "1617666423.69", "r"]], [["2.5", "3", "0", "4"]])
    assert b.top(1) == (((1.5, 2.0),), ((2.5, 3.0),))


def test_crossed_detection(Book) -> None:
    b = Book()
    assert not b.is_crossed()
    b.apply([("100", "1")], [])
    assert not b.is_crossed()
    b.apply([], [("101", "1")])
    assert not b.is_crossed()
    b.apply([], [("100", "1")])  # equal prices count as crossed
    assert b.is_crossed()
    b.apply([], [("100", "0")])
    assert not b.is_crossed()
    b.apply([("102", "1")], [])
    assert b.is_crossed()


# -- the depth cap --------------------------------------------------------------------------------


def test_depth_cap_drops_worst_levels_after_each_batch(Book) -> None:
    b = Book(max_depth=3)
    b.apply([(str(p), "1") for p in range(1, 7)], [(str(p), "1") for p in range(11, 17)])
    assert [p for p, _ in b.bids()] == [6.0, 5.0, 4.0]
    assert [p for p, _ in b.asks()] == [11.0, 12.0, 13.0]
    assert b.truncated == 6
    # within one batch the cap is applied at the end (Kraken: "after each update")
    b.apply([("3", "1"), ("6", "0")], [])
    assert [p for p, _ in b.bids()] == [5.0, 4.0, 3.0]
    assert b.truncated == 6
    b.apply([("10", "1")], [])
    assert [p for p, _ in b.bids()] == [10.0, 5.0, 4.0]
    assert b.truncated == 7
    assert b.max_depth == 3


@pytest.mark.parametrize("bad", [0, -1, 1_000_001])
def test_max_depth_range(Book, bad: int) -> None:
    with pytest.raises(ValueError):
        Book(max_depth=bad)


@pytest.mark.parametrize("bad", [1.5, "10", True, None])
def test_max_depth_type(Book, bad: object) -> None:
    with pytest.raises(TypeError):
        Book(max_depth=bad)


def test_negative_depth_rejected(Book) -> None:
    with pytest.raises(ValueError):
        Book().top(-1)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        ("x", "1"),
        ("1",),
        "12",
        b"12",
        {"p": 1},
        None,
        ("nan", "1"),
        ("inf", "1"),
        ("1", "-1"),
        ("1", "1e999"),
        (None, "1"),
        ("1", ""),
        ("1\x002", "1"),
    ],
)
def test_invalid_levels_raise_typed_error(Book, entry: object) -> None:
    b = Book()
    b.apply([("1", "1")], [])
    with pytest.raises(InvalidLevelError) as info:
        b.apply([("2", "1"), entry], [])
    assert isinstance(info.value, BookIntegrityError) and isinstance(info.value, ValueError)
    assert info.value.entry is entry
    # entries before the bad one were applied: the caller must resync
    assert b.best_bid() == (2.0, 1.0)


def test_float_semantics_for_odd_but_valid_text(Book) -> None:
    b = Book()
    b.apply([(" 1.5 ", "1_000"), ("+2", "1e2"), ("-0", "1")], [])
    assert b.bids() == ((2.0, 100.0), (1.5, 1000.0), (0.0, 1.0))


# -- checksums -------------------------------------------------------------------------------------


def test_kraken_checksum_definition(Book) -> None:
    b = Book()
    asks = [("0.05005", "0.00000500"), ("0.05010", "0.00001000")]
    bids = [("0.05000", "0.00000500"), ("0.04990", "1.50000000")]
    b.apply(bids, asks)
    # asks low to high, then bids high to low; '.' removed, leading zeros stripped
    expected = "5005" + "500" + "5010" + "1000" + "5000" + "500" + "4990" + "150000000"
    assert b.checksum("kraken") == zlib.crc32(expected.encode())


def test_kraken_checksum_uses_top_10_only(Book) -> None:
    b = Book()
    b.apply([(f"{100 - i}.0", "1.0") for i in range(15)], [(f"{200 + i}.0", "2.0") for i in range(15)])
    s = "".join(f"{200 + i}020" for i in range(10)) + "".join(f"{100 - i}010" for i in range(10))
    assert b.checksum("kraken") == zlib.crc32(s.encode())
    b.apply([("50.0", "9")], [("900.0", "9")])  # deep levels do not change it
    assert b.checksum("kraken") == zlib.crc32(s.encode())


def test_okx_checksum_definition_signed_and_interleaved(Book) -> None:
    b = Book()
    b.apply([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8"), ("3372", "1")])
    s = "3366.1:7:3366.8:9:3366:6:3368:8:3372:1"
    crc = zlib.crc32(s.encode())
    expected = crc - 2**32 if crc >= 2**31 else crc
    assert b.checksum("okx") == expected
    assert -(2**31) <= b.checksum("okx") < 2**31


def test_okx_checksum_is_signed_when_high_bit_set(Book) -> None:
    # search a small book whose CRC has the high bit set: the result must be negative
    for i in range(200):
        b = Book()
        b.apply([(f"{i}.5", "1")], [(f"{i + 1}.5", "2")])
        crc = zlib.crc32(f"{i}.5:1:{i + 1}.5:2".encode())
        if crc >= 2**31:
            assert b.checksum("okx") == crc - 2**32 < 0
            return
    pytest.fail("no CRC with the high bit set found")  # pragma: no cover


def test_checksum_of_empty_book_and_unknown_kind(Book) -> None:
    b = Book()
    assert b.checksum("kraken") == zlib.crc32(b"")
    assert b.checksum("okx") == 0
    with pytest.raises(ValueError):
        b.checksum("binance")


# -- differential: both twins against the dict reference ------------------------------------------

prices = st.integers(min_value=-40, max_value=40).map(lambda i: 1000 + i * 0.25)
qtys = st.one_of(st.just(0.0), st.integers(min_value=1, max_value=10_000).map(lambda i: i / 100))


@st.composite
def entries(draw):
    out = []
    for p, q in draw(st.lists(st.tuples(prices, qtys), max_size=12)):
        style = draw(st.sampled_from(["str", "float", "bytes", "padded"]))
        if style == "str":
            out.append([f"{p:.2f}", f"{q:.8f}", "1617666423.1"])
        elif style == "float":
            out.append((p, q))
        elif style == "bytes":
            out.append((repr(p).encode(), repr(q).encode()))
        else:
            out.append((f"{p:.6f}", f"{q:.3f}"))
    return out


@settings(max_examples=150, deadline=None)
@given(cap=st.sampled_from([1, 2, 5, 25, 1000]), batches=st.lists(st.tuples(entries(), entries()), max_size=25))
def test_matches_reference_and_pure_twin(core_impl: str, cap: int, batches) -> None:
    book = core_module("book", core_impl).Book(max_depth=cap)
    py = core_module("book", "python").Book(max_depth=cap)
    ref = RefBook(cap)
    for bids, asks in batches:
        ref.apply(bids, asks)
        book.apply(bids, asks)
        py.apply(bids, asks)
        assert book.top(30) == ref.top(30)
        assert book.truncated == ref.truncated
        rb, ra = ref.top(30)
        assert book.is_crossed() == bool(rb and ra and rb[0][0] >= ra[0][0])
        assert book.top_text(30) == py.top_text(30)
        assert book.checksum("kraken") == py.checksum("kraken")
        assert book.checksum("okx") == py.checksum("okx")
        assert book.bids() == py.bids() and book.asks() == py.asks()


@st.composite
def snapshots(draw):
    """A batch for an empty side: sorted either way (as venues send snapshots) or not,
    sometimes with duplicates and zero quantities."""
    levels = draw(st.lists(st.tuples(prices, qtys), min_size=0, max_size=80))
    order = draw(st.sampled_from(["asc", "desc", "asis"]))
    if order != "asis":
        uniq = {p: q for p, q in levels}
        levels = sorted(uniq.items(), reverse=order == "desc")
    return [(f"{p:.2f}", f"{q:.8f}") for p, q in levels]


@settings(max_examples=150, deadline=None)
@given(bids=snapshots(), asks=snapshots(), cap=st.sampled_from([3, 25, 1000]), more=entries())
def test_snapshot_loads_match_reference(core_impl: str, bids, asks, cap: int, more) -> None:
    book = core_module("book", core_impl).Book(max_depth=cap)
    py = core_module("book", "python").Book(max_depth=cap)
    ref = RefBook(cap)
    for b in (book, py, ref):
        b.apply(bids, asks)
        b.apply(more, more)  # and updates on top of the loaded book
    assert book.top(100) == ref.top(100) == py.top(100)
    assert book.truncated == ref.truncated == py.truncated
    assert book.top_text(100) == py.top_text(100)
    assert book.checksum("okx") == py.checksum("okx")


def test_invalid_level_inside_a_large_snapshot_applies_the_prefix(Book) -> None:
    b = Book()
    good = [(f"{100 - i}", "1") for i in range(40)]
    with pytest.raises(InvalidLevelError):
        b.apply(good[:20] + [("bad", "1")] + good[20:], [])
    assert [p for p, _ in b.bids()] == [float(100 - i) for i in range(20)]


def test_large_snapshot_with_unsorted_prices_and_duplicates(Book) -> None:
    b = Book()
    levels = [(str(p), "1") for p in (5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 11, 12, 13, 14, 15, 16, 17, 3)]
    levels.append(("9", "0"))
    b.apply([], levels)
    assert [p for p, _ in b.asks()] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]
