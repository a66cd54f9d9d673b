"""The L2 book core (``dragonfly._core.book``), both twins, on self-generated data."""

from __future__ import annotations

import zlib

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import BookIntegrityError, InvalidLevelError


@pytest.fixture
def Book(core_impl: str):  # named like the class it returns
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
    assert b.checksum("crc32_top10_digits") == zlib.crc32(expected.encode())


def test_kraken_checksum_uses_top_10_only(Book) -> None:
    b = Book()
    b.apply([(f"{100 - i}.0", "1.0") for i in range(15)], [(f"{200 + i}.0", "2.0") for i in range(15)])
    s = "".join(f"{200 + i}020" for i in range(10)) + "".join(f"{100 - i}010" for i in range(10))
    assert b.checksum("crc32_top10_digits") == zlib.crc32(s.encode())
    b.apply([("50.0", "9")], [("900.0", "9")])  # deep levels do not change it
    assert b.checksum("crc32_top10_digits") == zlib.crc32(s.encode())


def test_okx_checksum_definition_signed_and_interleaved(Book) -> None:
    b = Book()
    b.apply([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8"), ("3372", "1")])
    s = "3366.1:7:3366.8:9:3366:6:3368:8:3372:1"
    crc = zlib.crc32(s.encode())
    expected = crc - 2**32 if crc >= 2**31 else crc
    assert b.checksum("crc32_top25_interleaved") == expected
    assert -(2**31) <= b.checksum("crc32_top25_interleaved") < 2**31


def test_okx_checksum_is_signed_when_high_bit_set(Book) -> None:
    # search a small book whose CRC has the high bit set: the result must be negative
    for i in range(200):
        b = Book()
        b.apply([(f"{i}.5", "1")], [(f"{i + 1}.5", "2")])
        crc = zlib.crc32(f"{i}.5:1:{i + 1}.5:2".encode())
        if crc >= 2**31:
            assert b.checksum("crc32_top25_interleaved") == crc - 2**32 < 0
            return
    pytest.fail("no CRC with the high bit set found")  # pragma: no cover


def _signed(crc: int) -> int:
    return crc - 2**32 if crc >= 2**31 else crc


def test_bitfinex_checksum_definition(Book) -> None:
    """Bitfinex "WebSocket Checksum" (P-precision books): the 25 best bids and asks
    interleaved bid, ask, each ``price:amount`` with the ask amounts negative, joined
    with ':', CRC32 as a signed 32-bit integer."""
    b = Book()
    b.apply([("7254.7", "0.3"), ("7254.6", "1.25")], [("7256", "10"), ("7255.1", "0.5"), ("7255.2", "2")])
    s = "7254.7:0.3:7255.1:-0.5:7254.6:1.25:7255.2:-2:7256:-10"  # the bids run out first
    assert b.checksum("crc32_top25_signed_amounts") == _signed(zlib.crc32(s.encode()))
    assert "crc32_top25_signed_amounts" in core_module("book", "python").CHECKSUM_KINDS


def test_bitfinex_checksum_top_25_and_number_input(Book) -> None:
    b = Book()
    b.apply([(f"{500 - i}.5", f"{i + 1}") for i in range(30)], [(600.0 + i, 0.25 * (i + 1)) for i in range(27)])
    parts = []
    for i in range(25):
        parts += [f"{500 - i}.5", f"{i + 1}", repr(600.0 + i), "-" + repr(0.25 * (i + 1))]
    assert b.checksum("crc32_top25_signed_amounts") == _signed(zlib.crc32(":".join(parts).encode()))
    assert -(2**31) <= b.checksum("crc32_top25_signed_amounts") < 2**31
    b.apply([("1", "1")], [("9999", "1")])  # beyond the top 25: unchanged
    assert b.checksum("crc32_top25_signed_amounts") == _signed(zlib.crc32(":".join(parts).encode()))
    b.apply([], [("600.0", "0")])  # the best ask goes: everything shifts
    assert b.checksum("crc32_top25_signed_amounts") != _signed(zlib.crc32(":".join(parts).encode()))


def test_bitfinex_checksum_one_sided_books(Book) -> None:
    b = Book()
    b.apply([], [("10", "1"), ("11", "2")])
    assert b.checksum("crc32_top25_signed_amounts") == _signed(zlib.crc32(b"10:-1:11:-2"))
    b = Book()
    b.apply([("10", "1"), ("9", "2")], [])
    assert b.checksum("crc32_top25_signed_amounts") == _signed(zlib.crc32(b"10:1:9:2"))


def test_checksum_of_empty_book_and_unknown_kind(Book) -> None:
    b = Book()
    assert b.checksum("crc32_top10_digits") == zlib.crc32(b"")
    assert b.checksum("crc32_top25_interleaved") == 0
    assert b.checksum("crc32_top25_signed_amounts") == 0
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
        assert book.checksum("crc32_top10_digits") == py.checksum("crc32_top10_digits")
        assert book.checksum("crc32_top25_interleaved") == py.checksum("crc32_top25_interleaved")
        assert book.checksum("crc32_top25_signed_amounts") == py.checksum("crc32_top25_signed_amounts")
        assert book.bids() == py.bids() and book.asks() == py.asks()


@settings(max_examples=200, deadline=None)
@given(
    cap=st.sampled_from([2, 12, 30, 1000]),
    depth=st.sampled_from([1, 5, 10, 25, 32]),
    kind=st.sampled_from(["crc32_top10_digits", "crc32_top25_interleaved", "crc32_top25_signed_amounts"]),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["bid", "ask", "both", "both", "clear"]),
            st.lists(st.tuples(prices, qtys), min_size=1, max_size=3),
            st.sampled_from([None, None, None, 0, 3, 33, 40, "crc32_top25_interleaved", "crc32_top10_digits"]),
        ),
        max_size=60,
    ),
)
def test_views_after_every_change(core_impl: str, cap: int, depth: int, kind: str, steps) -> None:
    """top() and checksum() after single changes at any rank (the compiled twin keeps the
    last views while the levels they cover are unchanged, so the same depth and kind are
    asked after every step, with another one now and then): always equal to the pure twin."""
    book = core_module("book", core_impl).Book(max_depth=cap)
    py = core_module("book", "python").Book(max_depth=cap)
    for which, levels, other in steps:
        entries = [(f"{p:.2f}", f"{q:.8f}") for p, q in levels]
        for b in (book, py):
            if which == "clear":
                b.clear()
            else:
                b.apply(entries if which != "ask" else [], entries if which != "bid" else [])
        assert book.top(depth) == py.top(depth)
        assert book.checksum(kind) == py.checksum(kind)
        if isinstance(other, int):
            assert book.top(other) == py.top(other)
        elif other is not None:
            assert book.checksum(other) == py.checksum(other)
    assert book.top_text(40) == py.top_text(40)


@st.composite
def snapshots(draw):
    """A batch for an empty side: sorted either way (as venues send snapshots) or not,
    sometimes with duplicates and zero quantities."""
    levels = draw(st.lists(st.tuples(prices, qtys), min_size=0, max_size=80))
    order = draw(st.sampled_from(["asc", "desc", "asis"]))
    if order != "asis":
        uniq = dict(levels)
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
    assert book.checksum("crc32_top25_interleaved") == py.checksum("crc32_top25_interleaved")


def test_invalid_level_inside_a_large_snapshot_applies_the_prefix(Book) -> None:
    b = Book()
    good = [(f"{100 - i}", "1") for i in range(40)]
    with pytest.raises(InvalidLevelError):
        b.apply([*good[:20], ("bad", "1"), *good[20:]], [])
    assert [p for p, _ in b.bids()] == [float(100 - i) for i in range(20)]


def test_large_snapshot_with_unsorted_prices_and_duplicates(Book) -> None:
    b = Book()
    levels = [(str(p), "1") for p in (5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 11, 12, 13, 14, 15, 16, 17, 3)]
    levels.append(("9", "0"))
    b.apply([], levels)
    assert [p for p, _ in b.asks()] == [
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0
    ]


# -- apply_doc: the level arrays of a parsed document ----------------------------------------------


def _impls() -> list[str]:
    from dragonfly._env import NO_EXTENSIONS

    return ["python"] if NO_EXTENSIONS else ["python", "cython"]


def _outcome(fn) -> tuple:
    try:
        fn()
    except Exception as exc:  # any exception: compared as data
        return type(exc), str(exc), getattr(exc, "entry", None)
    return ("ok",)


def _state(book) -> tuple:
    sums = tuple(book.checksum(kind) for kind in core_module("book", "python").CHECKSUM_KINDS)
    return book.bids(), book.asks(), book.top_text(10**6), book.truncated, sums


def apply_doc_matches_apply(
    book_mod, doc_mod, text: str, bids_key: str = "b", asks_key: str = "a", cap: int = 5000, before: tuple = ((), ())
) -> tuple:
    """``apply_doc`` on a fresh book (preloaded with ``before``) against ``apply`` of the
    document's values with text numbers: same outcome (error type, message, entry) and
    the same state. Returns the outcome."""
    d = doc_mod.Doc(text)
    bh, ah = d.get(d.root, bids_key), d.get(d.root, asks_key)
    fast, slow = book_mod.Book(max_depth=cap), book_mod.Book(max_depth=cap)
    for b in (fast, slow):
        b.apply(*before)
    got = _outcome(lambda: fast.apply_doc(d, bh, ah))
    want = _outcome(
        lambda: slow.apply(
            d.value(bh, text_numbers=True) if bh != -1 else (), d.value(ah, text_numbers=True) if ah != -1 else ()
        )
    )
    assert got == want, text
    assert _state(fast) == _state(slow), text
    return got


@pytest.fixture
def book_doc(core_impl: str):
    return core_module("book", core_impl), core_module("doc", core_impl)


def test_apply_doc_basics(book_doc) -> None:
    bm, dm = book_doc
    text = '{"b":[["100.5","2",1617666423.1],[99, 1.50000],["98.0","0"]],"a":[[101,"1","x"],["101.50","3"]],"u":7}'
    d = dm.Doc(text)
    b = bm.Book()
    b.apply_doc(d, d.get(0, "b"), d.get(0, "a"))
    assert b.top(5) == (((100.5, 2.0), (99.0, 1.5)), ((101.0, 1.0), (101.5, 3.0)))
    # the venue's text is kept: numbers as their source text, strings as sent
    assert b.top_text(5) == ([(b"100.5", b"2"), (b"99", b"1.50000")], [(b"101", b"1"), (b"101.50", b"3")])
    assert apply_doc_matches_apply(bm, dm, text) == ("ok",)
    # -1: that side is unchanged; qty 0 deletes
    d2 = dm.Doc('{"a":[["101","0"]]}')
    b.apply_doc(d2, -1, d2.get(0, "a"))
    assert b.top(5) == (((100.5, 2.0), (99.0, 1.5)), ((101.5, 3.0),))
    b.apply_doc(d2, -1, -1)
    assert len(b) == 3


def test_apply_doc_depth_cap_and_text_forms(book_doc) -> None:
    bm, dm = book_doc
    levels = ",".join(f'["{100 - i}.{i % 10}0", "{i + 1}"]' for i in range(30))
    for cap in (1, 3, 25, 1000):
        apply_doc_matches_apply(bm, dm, f'{{"b":[{levels}],"a":[{levels}]}}', cap=cap)
    odd = [
        '"\\u0031\\u0030\\u0030.5"',  # escapes: decoded, then float()
        '" 99.5 "', '"1_000"', '"+98"', '"-0"', '"5."', '".5"', '"1e2"', "-0", "0.0", "1E1", '"١٢"',
        "12345678901234567890123", '"00097.250"', "1e-7",
    ]  # fmt: skip
    for p in odd:
        for q in ('"1"', "2.5", '" 3 "', '"0.0"', "0"):
            apply_doc_matches_apply(bm, dm, f'{{"b":[[{p},{q}]],"a":[[{p},{q},"r"]]}}', before=([("7", "1")], []))


BAD_ENTRIES = [
    '"x"', "12", '"12"', "[]", '["1"]', "[1]", '{"p":1}', "null", "true", '["x","1"]', '["nan","1"]', '["inf","1"]',
    '["Infinity","1"]', '["1","-1"]', "[1,-0.5]", '["1","1e999"]', "[1e999,1]", "[-1e400,1]", '[null,"1"]',
    '["1",""]', '["1",[1]]', '[{"p":1},"1"]', '["1\\u00002","1"]', '["\\ud800","1"]', '["0x10","1"]',
]  # fmt: skip


@pytest.mark.parametrize("entry", BAD_ENTRIES)
@pytest.mark.parametrize("size", [2, 40])  # 40: an empty side takes the snapshot path first
def test_apply_doc_bad_entries_as_apply(book_doc, entry: str, size: int) -> None:
    bm, dm = book_doc
    good = [f'["{100 - i}","1"]' for i in range(size)]
    text = '{"b":[' + ",".join([*good[:size // 2], entry, *good[size // 2:]]) + '],"a":[["200","1"]]}'
    got = apply_doc_matches_apply(bm, dm, text)
    assert got[0] is InvalidLevelError
    for before in (([("1", "1")], [("300", "1")]), ((), ())):
        apply_doc_matches_apply(bm, dm, text, before=before)


@pytest.mark.parametrize("entry", ['[true,"1"]', "[false,true]", '[1,"2",null]', '["1","2",{"x":[]}]'])
def test_apply_doc_odd_but_accepted_entries(book_doc, entry: str) -> None:
    """apply() takes booleans as numbers (float(True) == 1.0); apply_doc does the same."""
    bm, dm = book_doc
    assert apply_doc_matches_apply(bm, dm, '{"b":[' + entry + '],"a":[]}', before=([("3", "1")], [])) == ("ok",)


@pytest.mark.parametrize("side", ['{"x":1}', "{}", '"abc"', '""', "5", '"5"', "null", "true", "false", "[]"])
def test_apply_doc_side_that_is_not_an_array(book_doc, side: str) -> None:
    """Whatever apply() does with that value: an object iterates its keys, a string its
    characters, null and booleans are not iterable."""
    bm, dm = book_doc
    got = apply_doc_matches_apply(bm, dm, f'{{"b":{side},"a":[["200","1"]]}}', before=([("1", "1")], []))
    if side in ("{}", '""', "[]"):
        assert got == ("ok",)
    elif side in ("null", "true", "false"):
        assert got[0] is TypeError
    else:
        assert got[0] is InvalidLevelError


def test_apply_doc_bad_handles_change_nothing(book_doc) -> None:
    bm, dm = book_doc
    d = dm.Doc('{"b":[["100","1"]],"a":[["101","1"]]}')
    b = bm.Book()
    for bids, asks in ((d.get(0, "b"), 99), (99, d.get(0, "a")), (-2, -1), (len(d), -1)):
        with pytest.raises(IndexError, match="out of range"):
            b.apply_doc(d, bids, asks)
        assert len(b) == 0
    with pytest.raises(TypeError):
        b.apply_doc(d, 1.0, -1)
    with pytest.raises(OverflowError):
        b.apply_doc(d, 2**70, -1)
    assert len(b) == 0


@pytest.mark.parametrize("book_impl", _impls())
@pytest.mark.parametrize("doc_impl", _impls())
def test_apply_doc_across_implementations(book_impl: str, doc_impl: str) -> None:
    """Either Book takes either Doc (the compiled one falls back to the document's values)."""
    text = '{"b":[["100.5","2"],[99,1.5]],"a":[["101","1"],{"bad":1}]}'
    apply_doc_matches_apply(core_module("book", book_impl), core_module("doc", doc_impl), text)
    assert apply_doc_matches_apply(core_module("book", book_impl), core_module("doc", doc_impl), text)[0] is (
        InvalidLevelError
    )


@pytest.mark.parametrize("order", ["asc", "desc", "unsorted", "duplicates", "zeros"])
@pytest.mark.parametrize("kind", ["str", "num"])
def test_apply_doc_snapshots(book_doc, order: str, kind: str) -> None:
    bm, dm = book_doc
    prices = [1000 + i * 0.5 for i in range(60)]
    if order == "desc":
        prices.reverse()
    elif order == "unsorted":
        prices = prices[::7] + [p for i, p in enumerate(prices) if i % 7]
    elif order == "duplicates":
        prices = prices[:30] + prices[10:40]
    qtys = [0 if order == "zeros" and i % 4 == 0 else i + 1 for i in range(len(prices))]
    fmt = (lambda x: f'"{x}"') if kind == "str" else (lambda x: repr(x))
    levels = ",".join(f"[{fmt(p)},{fmt(q)}]" for p, q in zip(prices, qtys, strict=True))
    for cap in (10, 5000):
        apply_doc_matches_apply(bm, dm, f'{{"b":[{levels}],"a":[{levels}]}}', cap=cap)


entry_texts = st.one_of(
    st.tuples(prices, qtys).map(lambda pq: f'["{pq[0]:.2f}","{pq[1]:.8f}","1617666423.1"]'),
    st.tuples(prices, qtys).map(lambda pq: f"[{pq[0]!r},{pq[1]!r}]"),
    st.tuples(prices, qtys).map(lambda pq: f'[{pq[0]:.4f}, "{pq[1]}" ,[1]]'),
    st.sampled_from([*BAD_ENTRIES, '["1000.25", "0"]', "[1000.25, 0]"]),
)


@settings(max_examples=150, deadline=None)
@given(
    cap=st.sampled_from([1, 3, 25, 1000]),
    batches=st.lists(
        st.tuples(st.lists(entry_texts, max_size=20), st.lists(entry_texts, max_size=20), st.sampled_from(["b", "x"])),
        max_size=12,
    ),
)
def test_apply_doc_equals_apply_generated(core_impl: str, cap: int, batches) -> None:
    bm, dm = core_module("book", core_impl), core_module("doc", core_impl)
    fast, slow = bm.Book(max_depth=cap), bm.Book(max_depth=cap)
    for bids, asks, bkey in batches:
        d = dm.Doc('{"' + bkey + '":[' + ",".join(bids) + '],"a":[' + ",".join(asks) + "]}")
        bh, ah = d.get(0, "b"), d.get(0, "a")
        got = _outcome(lambda d=d, bh=bh, ah=ah: fast.apply_doc(d, bh, ah))
        want = _outcome(lambda d=d, bh=bh, ah=ah: slow.apply(d.value(bh, True) if bh != -1 else (), d.value(ah, True)))
        assert got == want
        assert _state(fast) == _state(slow)
