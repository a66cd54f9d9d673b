"""Differential test of the level extractor on every order-book message in ../shared/captures.

Each message goes through ``extract_levels`` (both twins, ``str`` and ``bytes``) at
depths 1, 10 and "all", and must equal the full ``json.loads`` parse bit for bit. The
captures are third-party data, read only through the ``captures`` fixture (the test
skips when they are absent); see captures/SOURCES.md for the formats.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import core_module
from test_extract import bits, reference

from dragonfly._env import NO_EXTENSIONS

# venue folder -> how to get the order-book paths of one parsed message
Paths = list[str]


def _binance(doc: Any) -> Paths:
    if isinstance(doc, dict) and "lastUpdateId" in doc:
        return ["bids", "asks"]  # REST snapshot
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict) and doc["data"].get("e") == "depthUpdate":
        return ["data.b", "data.a"]
    return []


def _bitstamp(doc: Any) -> Paths:
    if not isinstance(doc, dict):
        return []
    if isinstance(doc.get("data"), dict) and "bids" in doc["data"]:
        return ["data.bids", "data.asks"]
    if "bids" in doc and "asks" in doc:
        return ["bids", "asks"]  # REST /api/v2/order_book
    return []


def _coinbase(doc: Any) -> Paths:
    # l2update carries ["side", price, size] changes, not [price, qty] levels: skipped
    return ["bids", "asks"] if isinstance(doc, dict) and doc.get("type") == "snapshot" else []


def _kraken(doc: Any) -> Paths:
    if not isinstance(doc, list):
        return []
    out = []
    for i, item in enumerate(doc):
        if isinstance(item, dict):
            out += [f"{i}.{k}" for k in ("as", "bs", "a", "b") if k in item]
    return out


def _okx(doc: Any) -> Paths:
    if isinstance(doc, dict) and str(doc.get("arg", {}).get("channel", "")).startswith("books") and "data" in doc:
        return ["data.0.bids", "data.0.asks"]
    return []


def _bybit(doc: Any) -> Paths:
    if isinstance(doc, dict) and str(doc.get("topic", "")).startswith("orderbook"):
        return ["data.b", "data.a"]
    return []


VENUES = {
    "binance": _binance,
    "bitstamp": _bitstamp,
    "coinbase": _coinbase,
    "kraken": _kraken,
    "okx": _okx,
    "bybit": _bybit,
}


def _raw_messages(path: Path) -> Iterator[str]:
    """The raw JSON payloads of one capture file."""
    name = path.name
    if name.endswith(".gz"):  # hftbacktest: "<local_ts_ns> <raw JSON>"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                if line:
                    yield line.split(" ", 1)[1] if line[0].isdigit() else line
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            if name.startswith("cryptofeed__"):
                # strip the prefix up to the first ": "; connect lines ("URL <-> ts") have none
                head, sep, body = line.partition(": ")
                if not sep or " <- " in head or head == "configuration":
                    continue
                yield body
            else:  # derived__*.jsonl / *.json and nautilus NDJSON: one message per line
                yield line


def _cases(root: Path) -> Iterator[tuple[str, str, str]]:
    for venue, paths_of in VENUES.items():
        for path in sorted((root / venue).glob("*")):
            for raw in _raw_messages(path):
                try:
                    doc = json.loads(raw)
                except ValueError:
                    continue  # non-JSON lines (none expected in order-book channels)
                for p in paths_of(doc):
                    yield path.name, raw, p


def _count_or_skip(captures: Path) -> None:
    if not any((captures / v).is_dir() for v in VENUES):
        pytest.skip("no venue folders in captures")


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_captures_match_full_parse(captures: Path, core_impl: str, venue: str) -> None:
    _count_or_skip(captures)
    ex = core_module("extract", core_impl)
    paths_of = VENUES[venue]
    checked = 0
    files = sorted((captures / venue).glob("*"))
    for path in files:
        for raw in _raw_messages(path):
            try:
                doc = json.loads(raw)
            except ValueError:
                continue
            for p in paths_of(doc):
                full = len(reference(raw, p, 10**9))
                for depth in (1, 10, full):
                    want = bits(reference(raw, p, depth))
                    assert bits(ex.extract_levels(raw, p, depth)) == want, (path.name, p, depth)
                assert bits(ex.extract_levels(raw.encode(), p, full + 1)) == bits(reference(raw, p, full)), (
                    path.name,
                    p,
                )
                checked += 1
    # every venue folder holds order-book messages; finding none means the reader broke
    assert checked > 0, f"no order-book messages found for {venue} in {files}"


def test_captures_twins_agree_with_stop_points(captures: Path) -> None:
    """Both twins give the same levels and the same stop offset on a sample of every file."""
    _count_or_skip(captures)
    if NO_EXTENSIONS:
        pytest.skip("pure-Python build: there is no compiled twin to compare")
    py = core_module("extract", "python")
    c = core_module("extract", "cython")
    seen: dict[str, int] = {}
    for name, raw, p in _cases(captures):
        n = seen.get(name, 0)
        if n >= 300:
            continue
        seen[name] = n + 1
        for depth in (0, 1, 5, 25):
            assert py._extract_with_stop(raw, p, depth) == c._extract_with_stop(raw, p, depth)
            data = raw.encode()
            assert py._extract_with_stop(data, p, depth) == c._extract_with_stop(data, p, depth)
    assert seen


def test_captures_top_extractor(captures: Path, core_impl: str) -> None:
    """TopExtractor over Binance diff streams and Bybit/Bitstamp data: change flags match a
    reference built from full parses."""
    _count_or_skip(captures)
    ex = core_module("extract", core_impl)
    feeds = [
        ("binance", "derived__hftbacktest_spot_BTCUSDT_depth-100ms.jsonl", "data.b", "data.a"),
        ("bybit", "nautilus__2024-12-01_XRPUSDT_ob500.data", "data.b", "data.a"),
    ]
    ran = 0
    for venue, fname, bp, ap in feeds:
        path = captures / venue / fname
        if not path.is_file():
            continue
        top = ex.TopExtractor(bp, ap, 5)
        prev: Any = None
        for raw in _raw_messages(path):
            want = (bits(reference(raw, bp, 5)), bits(reference(raw, ap, 5)))
            assert top.update(raw) is (want != prev)
            assert (bits(top.bids), bits(top.asks)) == want
            prev = want
            ran += 1
    if ran == 0:
        pytest.skip("the feeds used here are not in this captures folder")
