"""``Book.apply_doc`` on the live recordings in ../shared/captures, both twins.

Every book message of the Kraken v1, OKX (both files), Binance diff (both captures, with
their REST snapshots) and Bybit captures feeds two books per instrument: one through the
the same arrays as ``json.loads`` lists (numbers kept as their text) and :meth:`Book.apply`, one
through ``Doc`` handles and :meth:`Book.apply_doc`. After every message the two must have
the same top 25 (floats and text) and the same checksum; where the venue sends a
checksum (Kraken, OKX) both must match it. Sequence rules are not applied here: both
books see every message in order, snapshots reset them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import core_module

from dragonfly._core.doc_py import ARRAY, OBJECT
from dragonfly.sim.diff.recordings import read_cryptofeed, read_hftbacktest, read_lines

# (symbol, bids handle, asks handle, snapshot?, checksum handle or -1) per book update in a frame
Update = tuple[str, int, int, bool, int]


def _path(d: Any, h: int) -> list[Any]:
    """The keys/indexes from the root to handle ``h`` (found by a walk over the document)."""

    def walk(node: int, trail: list[Any]) -> list[Any] | None:
        if node == h:
            return trail
        kind = d.kind(node)
        if kind == ARRAY:
            for i, child in enumerate(d.children(node)):
                found = walk(child, [*trail, i])
                if found is not None:
                    return found
        elif kind == OBJECT:
            for key in d.value(node):
                child = d.get(node, key)
                found = walk(child, [*trail, key])
                if found is not None:
                    return found
        return None

    found = walk(0, [])
    assert found is not None
    return found


def _lists(raw: str, d: Any, h: int) -> Any:
    """What ``json.loads`` (numbers as their text) has at the place of handle ``h``; () for -1."""
    if h < 0:
        return ()
    value = json.loads(raw, parse_float=str, parse_int=str)
    for step in _path(d, h):
        value = value[step]
    return value


def kraken_updates(d: Any) -> list[Update]:
    if d.kind(0) != ARRAY:  # objects are events and heartbeats
        return []
    n = d.len(0)
    if not d.str(d.at(0, n - 2)).startswith("book"):
        return []
    pair = d.str(d.at(0, n - 1))
    parts = [d.at(0, i) for i in range(1, n - 2)]
    sa, sb = d.get(parts[0], "as"), d.get(parts[0], "bs")
    if sa >= 0 or sb >= 0:
        return [(pair, sb, sa, True, -1)]
    bids = asks = c = -1
    for part in parts:
        for key, got in (("b", d.get(part, "b")), ("a", d.get(part, "a"))):
            if got >= 0:
                assert (bids if key == "b" else asks) == -1, "one array per side per frame"
                if key == "b":
                    bids = got
                else:
                    asks = got
        if d.get(part, "c") >= 0:
            c = d.get(part, "c")
    return [(pair, bids, asks, False, c)]


def okx_updates(d: Any) -> list[Update]:
    if d.kind(0) != OBJECT or d.get(0, "event") >= 0:
        return []
    arg = d.get(0, "arg")
    if not d.str(d.get(arg, "channel")).startswith("books"):
        return []
    inst = d.str(d.get(arg, "instId"))
    action = d.get(0, "action")
    snapshot = action < 0 or d.str(action) == "snapshot"
    return [
        (inst, d.get(h, "bids"), d.get(h, "asks"), snapshot, d.get(h, "checksum")) for h in d.children(d.get(0, "data"))
    ]


def binance_updates(d: Any) -> list[Update]:
    data = max(d.get(0, "data"), 0)  # combined-stream wrapper or the bare event
    e = d.get(data, "e")
    if e < 0 or d.str(e) != "depthUpdate":
        return []
    return [(d.str(d.get(data, "s")), d.get(data, "b"), d.get(data, "a"), False, -1)]


def bybit_updates(d: Any) -> list[Update]:
    topic = d.get(0, "topic")
    if topic < 0 or not d.str(topic).startswith("orderbook."):
        return []
    data = d.get(0, "data")
    snapshot = d.str(d.get(0, "type")) == "snapshot"
    return [(d.str(d.get(data, "s")), d.get(data, "b"), d.get(data, "a"), snapshot, -1)]


class Pair:
    """Two books per instrument: the adapter's lists with apply(), the Doc with apply_doc()."""

    def __init__(self, impl: str, updates: Any, cap: int, checksum: str | None) -> None:
        self.Book = core_module("book", impl).Book
        self.Doc = core_module("doc", impl).Doc
        self.updates = updates
        self.cap = cap
        self.kind = checksum
        self.lists: dict[str, Any] = {}
        self.docs: dict[str, Any] = {}
        self.messages = 0
        self.checksums = 0

    def _book(self, books: dict[str, Any], symbol: str, reset: bool) -> Any:
        book = books.get(symbol)
        if book is None:
            book = books[symbol] = self.Book(max_depth=self.cap)
        elif reset:
            book.clear()
        return book

    def frame(self, raw: str) -> None:
        d = self.Doc(raw)
        ups = self.updates(d)
        for symbol, bh, ah, snapshot, ch in ups:
            self._book(self.lists, symbol, snapshot).apply(_lists(raw, d, bh), _lists(raw, d, ah))
            self._book(self.docs, symbol, snapshot).apply_doc(d, bh, ah)
            self.check(symbol, d, ch)
        self.messages += bool(ups)

    def rest_snapshot(self, symbol: str, body: str) -> None:
        m = json.loads(body, parse_float=str, parse_int=str)
        self._book(self.lists, symbol, True).apply(m["bids"], m["asks"])
        d = self.Doc(body)
        self._book(self.docs, symbol, True).apply_doc(d, d.get(0, "bids"), d.get(0, "asks"))
        self.check(symbol, d, -1)

    def check(self, symbol: str, d: Any, ch: int) -> None:
        a, b = self.lists[symbol], self.docs[symbol]
        assert b.top(25) == a.top(25)
        assert b.top_text(25) == a.top_text(25)
        assert (b.bid_count, b.ask_count, b.truncated) == (a.bid_count, a.ask_count, a.truncated)
        if self.kind is not None:
            assert b.checksum(self.kind) == a.checksum(self.kind)
            if ch >= 0:
                assert b.checksum(self.kind) == d.int(ch)
                self.checksums += 1


def _recv(path: Path) -> Iterator[str]:
    for rec in read_cryptofeed(path):
        if rec.kind == "recv":
            yield rec.body


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path.name} is not in this captures folder")
    return path


def test_kraken_v1(captures: Path, core_impl: str) -> None:
    pair = Pair(core_impl, kraken_updates, 1000, "crc32_top10_digits")
    for raw in _recv(_need(captures / "kraken" / "cryptofeed__KRAKEN-c197c0.0")):
        pair.frame(raw)
    assert pair.checksums == 14_496
    assert pair.messages == 14_506


@pytest.mark.parametrize(
    ("name", "channel", "expected"),
    [
        ("cryptofeed__OKX.ws.1.0__books_2022-05-13", "books", 290),
        ("cryptofeed__OKX.ws.1.0__books-l2-tbt_2022-02-27", "books-l2-tbt", 3679),
    ],
)
def test_okx(captures: Path, core_impl: str, name: str, channel: str, expected: int) -> None:
    pair = Pair(core_impl, okx_updates, 400, "crc32_top25_interleaved")
    for raw in _recv(_need(captures / "okx" / name)):
        pair.frame(raw)
    assert pair.checksums == expected


def test_binance_cryptofeed(captures: Path, core_impl: str) -> None:
    pair = Pair(core_impl, binance_updates, 5000, None)
    snapshots = 0
    for rec in read_cryptofeed(_need(captures / "binance" / "cryptofeed__BINANCE-ee25be.0")):
        if rec.kind == "http":
            pair.rest_snapshot(parse_qs(urlsplit(rec.url).query)["symbol"][0], rec.body)
            snapshots += 1
        elif rec.kind == "recv":
            pair.frame(rec.body)
    assert snapshots == 3 and pair.messages == 2688


def test_binance_hftbacktest(captures: Path, core_impl: str) -> None:
    pair = Pair(core_impl, binance_updates, 5000, None)
    snapshots = 0
    for _ts, body in read_hftbacktest(_need(captures / "binance" / "hftbacktest__spot_btcusdt_20240808.gz")):
        if body.startswith('{"lastUpdateId"'):
            pair.rest_snapshot("BTCUSDT", body)
            snapshots += 1
        else:
            pair.frame(body)
    assert snapshots == 1 and pair.messages == 3451


def test_bybit_ob500(captures: Path, core_impl: str) -> None:
    pair = Pair(core_impl, bybit_updates, 500, None)
    for line in read_lines(_need(captures / "bybit" / "nautilus__2024-12-01_XRPUSDT_ob500.data")):
        pair.frame(line)
    assert pair.messages == 50


@pytest.mark.parametrize(
    "name", ["cryptofeed__BYBIT.ws.1.0__v5-linear-orderbook.1", "cryptofeed__BYBIT.ws.2.0__v5-spot-orderbook.1"]
)
def test_bybit_depth1(captures: Path, core_impl: str, name: str) -> None:
    pair = Pair(core_impl, bybit_updates, 1, None)
    for raw in _recv(_need(captures / "bybit" / name)):
        pair.frame(raw)
    assert pair.messages > 100
