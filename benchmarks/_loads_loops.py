"""The ``json.loads`` replay loops, path (a) of ``bench_diff_parse.py``, shared with ``bench_diff_history.py``.

Each takes the ``Book`` class to run on and imports nothing from dragonfly, so that ``bench_diff_history.py``
runs them on the code of an old tree too. The checksum kinds are parameters: the old tree's Book (2b95a0b) names
them ``"kraken"`` and ``"okx"``, today's ``"crc32_top10_digits"`` and ``"crc32_top25_interleaved"`` (the
defaults).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

TOP = 10


def kraken_loads(
    Book: Any, msgs: list[str], kind: str = "crc32_top10_digits"
) -> Callable[[], tuple[int, dict[str, Any]]]:
    loads = json.loads

    def run() -> tuple[int, dict[str, Any]]:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            m = loads(raw)
            pair = m[-1]
            first = m[1]
            if "as" in first or "bs" in first:
                book = books[pair] = Book(max_depth=1000)
                book.apply(first.get("bs", ()), first.get("as", ()))
                book.top(TOP)
                continue
            book = books[pair]
            if len(m) == 5:
                second = m[2]
                book.apply(second.get("b", ()), first.get("a", ()))
                c = second.get("c")
            else:
                book.apply(first.get("b", ()), first.get("a", ()))
                c = first.get("c")
            book.top(TOP)
            if c is not None:
                ok += book.checksum(kind) == int(c)
        return ok, books

    return run


def okx_loads(
    Book: Any, msgs: list[str], kind: str = "crc32_top25_interleaved"
) -> Callable[[], tuple[int, dict[str, Any]]]:
    loads = json.loads

    def run() -> tuple[int, dict[str, Any]]:
        books: dict[str, Any] = {}
        ok = 0
        for raw in msgs:
            m = loads(raw)
            inst = m["arg"]["instId"]
            snapshot = m.get("action", "snapshot") == "snapshot"
            for d in m["data"]:
                if snapshot:
                    book = books[inst] = Book(max_depth=400)
                else:
                    book = books[inst]
                book.apply(d["bids"], d["asks"])
                book.top(TOP)
                ok += book.checksum(kind) == int(d["checksum"])
        return ok, books

    return run


def binance_loads(Book: Any, snapshot: str, diffs: list[str]) -> Callable[[], tuple[int, dict[str, Any]]]:
    loads = json.loads

    def run() -> tuple[int, dict[str, Any]]:
        snap = loads(snapshot)
        book = Book(max_depth=5000)
        book.apply(snap["bids"], snap["asks"])
        last = snap["lastUpdateId"]
        n = 0
        for raw in diffs:
            m = loads(raw)["data"]
            if m["u"] <= last:
                continue
            if n and m["U"] != last + 1:
                raise AssertionError("gap")
            book.apply(m["b"], m["a"])
            last = m["u"]
            book.top(TOP)
            n += 1
        return n, {"BTCUSDT": book}

    return run
