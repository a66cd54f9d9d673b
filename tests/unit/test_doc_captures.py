"""The JSON document scanner on every message of every capture in ../shared/captures.

Each message (received frames, sent frames, HTTP bodies, REST snapshot files; Huobi's
gzip frames decompressed) is parsed by ``Doc`` from ``str`` and from ``bytes``, once per
core twin, and must equal ``json.loads`` (numbers as values, and as their source text).
The captures are third-party data, read only through the ``captures`` fixture (the test
skips when they are absent); the formats are described in captures/SOURCES.md and
parsed by :mod:`dragonfly.sim.diff.recordings`.
"""

from __future__ import annotations

import ast
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import core_module

from dragonfly.sim.diff.recordings import read_cryptofeed, read_hftbacktest, read_lines


def capture_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SOURCES.md")


def capture_messages(path: Path) -> Iterator[str]:
    """Every JSON message of one capture file, as text."""
    name = path.name
    if name.startswith("hftbacktest__"):
        for _ts, body in read_hftbacktest(path):
            yield body
    elif name.startswith("cryptofeed__"):
        huobi = name.startswith("cryptofeed__HUOBI")
        for rec in read_cryptofeed(path):
            if rec.kind == "connect":
                continue
            if huobi and rec.kind == "recv":  # the Python repr of a gzip frame
                yield gzip.decompress(ast.literal_eval(rec.body)).decode("utf-8")
            else:
                yield rec.body
    elif name.endswith(".json"):  # a REST body
        yield path.read_text(encoding="utf-8")
    else:  # derived__*.jsonl, Bybit NDJSON
        yield from read_lines(path)


def test_every_capture_message(captures: Path, core_impl: str) -> None:
    dm = core_module("doc", core_impl)
    files = capture_files(captures)
    assert files
    total = 0
    for path in files:
        count = 0
        for message in capture_messages(path):
            want = json.loads(message)
            want_text = json.loads(message, parse_float=str, parse_int=str)
            for data in (message, message.encode("utf-8")):
                d = dm.Doc(data)
                assert d.value(d.root) == want, (path.name, message[:120])
                assert d.value(d.root, text_numbers=True) == want_text, (path.name, message[:120])
            count += 1
        assert count > 0, path.name  # every file holds messages; none found means the reader broke
        total += count
    assert total > 100_000


@pytest.mark.parametrize("name", ["cryptofeed__HUOBI.ws.44.0", "cryptofeed__HUOBI_LINEAR_SWAP.ws.1.0"])
def test_huobi_gzip_frames(captures: Path, core_impl: str, name: str) -> None:
    """Huobi frames are gzip: the decompressed bytes parse directly."""
    dm = core_module("doc", core_impl)
    path = captures / "huobi" / name
    if not path.is_file():
        pytest.skip(f"{name} is not in this captures folder")
    depth = 0
    for rec in read_cryptofeed(path):
        if rec.kind != "recv":
            continue
        raw = gzip.decompress(ast.literal_eval(rec.body))
        d = dm.Doc(raw)
        tick = d.get(d.root, "tick")
        if tick >= 0 and d.get(tick, "bids") >= 0:
            bids = d.get(tick, "bids")
            assert d.value(bids) == json.loads(raw)["tick"]["bids"]
            first = d.at(bids, 0)
            assert d.float(d.at(first, 0)) == json.loads(raw)["tick"]["bids"][0][0]
            depth += 1
    assert depth > 50
