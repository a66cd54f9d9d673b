"""``Book.top`` returns a ``(bids, asks)`` pair that the compiled twin refills in place while
nothing else holds it: a pair (or a side) the caller kept never changes afterwards."""

from __future__ import annotations

from conftest import core_module


def test_kept_top_pairs_and_sides_never_change(core_impl: str) -> None:
    book = core_module("book", core_impl).Book(max_depth=50)
    ref = core_module("book", "python").Book(max_depth=50)
    for b in (book, ref):
        b.apply([(f"{100 - i}", "1") for i in range(20)], [(f"{101 + i}", "2") for i in range(20)])
    kept = []
    for step in range(60):
        bids = [(f"{100 - step % 7}.5", "0" if step % 3 == 0 else f"{step}")]
        asks = [(f"{101 + step % 5}", f"{step % 4}")]
        for b in (book, ref):
            b.apply(bids if step % 2 else [], asks)
        got = book.top(10)
        assert got == ref.top(10)
        if step % 4 == 0:
            kept.append((got, got[0], got[1], [tuple(x) for x in got[0]], [tuple(x) for x in got[1]]))
        else:
            del got  # nothing holds it: the next call may refill it
    for pair, bids, asks, bids_copy, asks_copy in kept:
        assert pair[0] is bids and pair[1] is asks
        assert [tuple(x) for x in bids] == bids_copy and [tuple(x) for x in asks] == asks_copy
