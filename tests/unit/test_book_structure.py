"""The L2 book's storage and caches, both twins, against the pure twin as reference.

The compiled book keeps levels in a slot pool, their keys in blocks of 32 with a two-level
directory, the texts in the level (or a separate block when long), the ``(price, qty)``
tuples ``top()`` hands out (refilled in place when nothing else holds them, kept for new
levels when their level is gone) and the CRC state of the last checksum (resumed after the
last unchanged level; Kraken's bids enter through the CRC's linearity when only asks
changed; OKX and Bitfinex in four runs joined by shifts). These tests drive each of those
paths with books large enough to span many blocks and compare every view with the pure twin
after every step.
"""

from __future__ import annotations

import random

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly._env import NO_EXTENSIONS

KINDS = ("crc32_top10_digits", "crc32_top25_interleaved", "crc32_top25_signed_amounts")


def _impls() -> list[str]:
    return ["python"] if NO_EXTENSIONS else ["python", "cython"]


@pytest.fixture(params=_impls())
def pair(request):
    """(book class under test, reference class)."""
    return core_module("book", request.param).Book, core_module("book", "python").Book


def same_state(book, ref, depth: int = 40) -> None:
    assert book.bids() == ref.bids()
    assert book.asks() == ref.asks()
    assert book.top(depth) == ref.top(depth)
    assert book.top_text(depth) == ref.top_text(depth)
    assert (book.bid_count, book.ask_count, book.truncated, len(book)) == (
        ref.bid_count,
        ref.ask_count,
        ref.truncated,
        len(ref),
    )
    assert book.best_bid() == ref.best_bid() and book.best_ask() == ref.best_ask()
    assert book.is_crossed() == ref.is_crossed()
    for kind in KINDS:
        assert book.checksum(kind) == ref.checksum(kind), kind


def text(price: float) -> str:
    return f"{price:.2f}"


# -- many blocks: inserts, deletes at the top and deep, the depth cap --------------------------------


@pytest.mark.parametrize("cap", [5, 31, 33, 64, 100, 5000])
def test_random_walk_over_many_blocks(pair, cap: int) -> None:
    Book, Ref = pair
    rnd = random.Random(cap)
    book, ref = Book(max_depth=cap), Ref(max_depth=cap)
    prices = [1000 + i * 0.25 for i in range(-600, 600)]
    for step in range(400):
        bids, asks = [], []
        for _ in range(rnd.randrange(1, 12)):
            p = rnd.choice(prices)
            # deletes at any depth, at the top (the best prices) and of absent levels
            q = 0 if rnd.random() < 0.4 else rnd.randrange(1, 500) / 100
            side = bids if p < 1000 else asks
            side.append((text(p), f"{q:.2f}"))
        if step % 50 == 7:  # the best levels of a side deleted at once
            bids.extend((text(p), "0") for p, _ in ref.top(10)[0])
        for b in (book, ref):
            b.apply(bids, asks)
        same_state(book, ref)


def test_depth_cap_drops_across_blocks(pair) -> None:
    Book, Ref = pair
    book, ref = Book(max_depth=70), Ref(max_depth=70)
    for b in (book, ref):
        # one level at a time (no snapshot load): the keys fill and split blocks
        for i in range(300):
            b.apply([(text(500 + i * 0.5), "1")], [(text(2000 - i * 0.5), "2")])
    same_state(book, ref, depth=70)
    assert book.bid_count == book.ask_count == 70
    for b in (book, ref):  # a batch far beyond the cap: it is cut after the batch only
        b.apply([(text(100 + i), "3") for i in range(500)], [(text(5000 + i), "4") for i in range(500)])
    same_state(book, ref, depth=70)
    assert book.truncated == ref.truncated > 0


@pytest.mark.parametrize("order", ["asc", "desc", "shuffled"])
def test_snapshot_then_drain_to_empty_and_reload(pair, order: str) -> None:
    """A side loaded in one go (sorted input) or level by level, emptied from the top and from
    the bottom, cleared, loaded again: the directory and its padding stay consistent."""
    Book, Ref = pair
    book, ref = Book(max_depth=1000), Ref(max_depth=1000)
    levels = [(text(100 + i * 0.01), str(i + 1)) for i in range(700)]
    if order == "desc":
        levels.reverse()
    elif order == "shuffled":
        random.Random(3).shuffle(levels)
    for b in (book, ref):
        b.apply(levels, levels)
    same_state(book, ref)
    best_first = sorted(levels, key=lambda e: -float(e[0]))
    for chunk in range(0, 700, 90):  # bids from the best, asks from the worst
        dels = [(p, "0") for p, _ in best_first[chunk : chunk + 90]]
        for b in (book, ref):
            b.apply(dels, dels[::-1])
        same_state(book, ref)
    assert len(book) == 0 and book.checksum("crc32_top25_interleaved") == 0
    for b in (book, ref):
        b.apply(levels[:200], levels[200:260])
        b.clear()
        b.apply(levels[100:400], levels[:50])
    same_state(book, ref)


def test_crossed_detection_after_structural_changes(pair) -> None:
    Book, _ = pair
    b = Book()
    b.apply([(text(100 - i * 0.5), "1") for i in range(100)], [(text(101 + i * 0.5), "1") for i in range(100)])
    assert not b.is_crossed()
    b.apply([("150", "1")], [])  # a bid above every ask
    assert b.is_crossed()
    b.apply([("150", "0")], [])
    assert not b.is_crossed()
    b.apply([], [(text(101 + i * 0.5), "0") for i in range(100)])  # no asks left
    assert not b.is_crossed()
    b.apply([], [("100", "1")])  # an ask at the best bid
    assert b.is_crossed()


# -- texts ---------------------------------------------------------------------------------------------


def test_texts_short_long_and_from_numbers(pair) -> None:
    Book, Ref = pair
    book, ref = Book(), Ref()
    long_p = "1" + "0" * 30 + ".5" + "0" * 20  # longer than the room kept inside a level
    steps = [
        ([("100.5", "2")], [("101", "1")]),
        ([("100.50", "2.000")], []),  # same price and quantity, other text: the text changes
        ([(100.5, 2.0)], []),  # numbers: rendered as repr(float)
        ([(b"100.5", b"3")], []),
        ([(long_p, "1" * 40)], [(long_p.replace("1", "2", 1), "0.5")]),
        ([(long_p, "7")], []),  # a long price with a short quantity
        ([("  99.25 ", "1_000")], []),  # whitespace and underscores: float() takes them
        ([("\u0661\u0662", "5")], []),  # non-ASCII digits
        ([(long_p, "0")], []),
    ]
    for bids, asks in steps:
        for b in (book, ref):
            b.apply(bids, asks)
        same_state(book, ref)


# -- the caches of top() and of the checksums ------------------------------------------------------------


def test_top_tuples_held_by_the_caller_never_change(pair) -> None:
    Book, _ = pair
    b = Book()
    b.apply([(text(100 - i), str(i + 1)) for i in range(40)], [(text(200 + i), str(i + 1)) for i in range(40)])
    held = b.top(10)
    copy = tuple(tuple(tuple(level) for level in side) for side in held)
    best = b.best_bid()
    first_pair = held[0][0]
    for step in range(30):
        b.apply([(text(100 - (step % 12)), str(step + 100))], [(text(200 + step % 5), "0")])
        b.top(10)
        b.apply([(text(100 - 40 - step), "9")], [(text(199 - step * 0.01), "3")])
        b.top(10)
    assert tuple(tuple(tuple(level) for level in side) for side in held) == copy
    assert best == (100.0, 1.0) and first_pair == (100.0, 1.0)


def test_top_after_every_change_at_every_rank(pair) -> None:
    """One change per step at ranks 0..35 (set, delete, insert) with top() of several depths
    in between: the refilled tuples and the tuples reused for new levels are exact."""
    Book, Ref = pair
    book, ref = Book(max_depth=60), Ref(max_depth=60)
    base = [(text(500 - i), "1") for i in range(50)]
    for b in (book, ref):
        b.apply(base, base[::-1])
    rnd = random.Random(5)
    for step in range(300):
        rank = rnd.randrange(36)
        p = 500 - rank + rnd.choice([0, 0, 0.5])
        q = rnd.choice(["0", "2", str(step)])
        for b in (book, ref):
            b.apply([(text(p), q)], [])
        depth = rnd.choice([1, 10, 10, 10, 25, 32, 40])
        assert book.top(depth) == ref.top(depth)
        if step % 3 == 0:
            kept = book.top(10)  # held: the next refill must leave it alone
            assert kept == ref.top(10)


kraken_like = st.lists(
    st.tuples(
        st.sampled_from(["bids", "asks", "both"]),
        st.integers(min_value=0, max_value=30),  # rank of the change
        st.sampled_from(["0", "1.5", "0.00000123", "12345.6789"]),
        st.sampled_from([None, *KINDS]),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=120, deadline=None)
@given(steps=kraken_like, kind=st.sampled_from(KINDS), cap=st.sampled_from([10, 25, 1000]))
def test_checksums_resumed_patched_and_folded(steps, kind: str, cap: int) -> None:
    """The checksum of one kind after every change (asks only, bids only, both; at the top
    and deep; deletes and inserts that move the others), with another kind now and then:
    always the pure twin's."""
    for impl in _impls():
        Book, Ref = core_module("book", impl).Book, core_module("book", "python").Book
        book, ref = Book(max_depth=cap), Ref(max_depth=cap)
        start = [(f"{5541.2 - i * 0.1:.5f}", f"{1 + i / 7:.8f}") for i in range(30)]
        asks = [(f"{5545.3 + i * 0.1:.5f}", f"{2 + i / 9:.8f}") for i in range(30)]
        for b in (book, ref):
            b.apply(start, asks)
        for which, rank, qty, other in steps:
            bids_d = [(f"{5541.2 - rank * 0.1 + 0.05:.5f}" if qty == "1.5" else f"{5541.2 - rank * 0.1:.5f}", qty)]
            asks_d = [(f"{5545.3 + rank * 0.1:.5f}", qty)]
            for b in (book, ref):
                b.apply(bids_d if which != "asks" else [], asks_d if which != "bids" else [])
            assert book.checksum(kind) == ref.checksum(kind)
            if other is not None:
                assert book.checksum(other) == ref.checksum(other)
        assert book.top_text(30) == ref.top_text(30)


def test_okx_checksum_with_long_parts(pair) -> None:
    """Parts longer than 16 bytes (and than 32), so the folded runs take the slower shifts."""
    Book, Ref = pair
    book, ref = Book(), Ref()
    bids = [(f"{40000 - i}.{'1' * (i % 20)}", f"0.{'9' * (i % 25 + 1)}") for i in range(30)]
    asks = [(f"{40100 + i}.{'2' * (i % 17)}", f"{i + 1}.{'3' * (i % 30)}") for i in range(30)]
    for b in (book, ref):
        b.apply(bids, asks)
    for step in range(40):
        for b in (book, ref):
            b.apply([(bids[step % 30][0], f"{step}.{'7' * step}")], [(asks[(step * 7) % 30][0], "0")])
        same_state(book, ref)
        for b in (book, ref):
            b.apply([], [(asks[(step * 7) % 30][0], asks[(step * 7) % 30][1])])


# -- apply_doc: numbers of every shape, at the end of the buffer -----------------------------------------


NUMBER_TEXTS = [
    "0", "7", "0.0", "5.", ".5", "00097.250", "1234567890123456", "123456789012345.6", "12345678901234567",
    "9007199254740993", "0.000000000000001", "1.000000000000001", "99999999.99999999", "57020.01000000",
    "0.12345000", "1e2", "1E-3", "12.5e1", "-0", "+98", "1_000", " 7 ", "3.14159265358979323846",
]  # fmt: skip


@pytest.mark.parametrize("room", [0, 30])  # 0: the numbers end the buffer (no room to read past them)
def test_apply_doc_numbers_every_shape(room: int) -> None:
    for impl in _impls():
        bm, dm = core_module("book", impl), core_module("doc", impl)
        for t in NUMBER_TEXTS:
            quoted = f'"{t}"'
            doc_text = f'{{"a":[[{quoted},{quoted}]]' + " " * room + "}"
            d = dm.Doc(doc_text)
            book = bm.Book()
            try:
                want = (float(t), float(t))
            except ValueError:
                want = None
            if want is None or want[1] < 0:
                continue
            book.apply_doc(d, -1, d.get(0, "a"))
            got = book.top(1)[1]
            if want[1] == 0.0:
                assert got == (), t
            else:
                assert got == (want,), t
                assert [x.hex() for x in got[0]] == [x.hex() for x in want], t
                assert book.top_text(1)[1] == [(t.encode(), t.encode())]
        # JSON numbers too (no quotes), last in the buffer
        d = dm.Doc("[[57020.01000000,0.12345000]]")
        book = bm.Book()
        book.apply_doc(d, -1, 0)
        assert book.top(1)[1] == ((57020.01, 0.12345),)


# -- Doc: the cache of short strings and the reused tape ------------------------------------------------


def test_doc_short_string_cache_and_collisions() -> None:
    for impl in _impls():
        dm = core_module("doc", impl)
        names = [f"X{i}-USDT" for i in range(2000)] + ["é-ü", "a" * 32, "b" * 33, ""]
        for _round in range(2):
            for name in names:
                d = dm.Doc('{"instId":' + '"' + name + '"' + ',"k":["' + name + '"]}')
                assert d.str(d.get(0, "instId")) == name
                assert d.value(0) == {"instId": name, "k": [name]}


def test_doc_tape_reused_between_documents() -> None:
    for impl in _impls():
        dm = core_module("doc", impl)
        big = "[" + ",".join(f'["{i}.5","{i}"]' for i in range(3000)) + "]"
        small = '{"a":[["1","2"]],"b":[]}'
        middle = "[" + ",".join(str(i) for i in range(200)) + "]"
        for text_ in (big, small, middle, big, middle, small):
            d = dm.Doc(text_)
            assert d.value(0, text_numbers=True) == dm.Doc(text_).value(0, text_numbers=True)
            assert len(d) == len(dm.Doc(text_))
        d1 = dm.Doc(big)
        d2 = dm.Doc(middle)  # d1 still alive: each has its own tape
        assert d1.len(0) == 3000 and d2.len(0) == 200
        assert d1.text(d1.at(d1.at(0, 2999), 0)) == "2999.5"
