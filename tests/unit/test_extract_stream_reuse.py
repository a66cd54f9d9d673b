"""The compiled extractor on streams of frames that differ by little: what it keeps from one call to the next.

The compiled twin keeps state across calls (``extract_levels``: the levels it last returned for a path;
``TopExtractor``: its views, filled again in place when nobody else holds them). Each stream here changes the
frames by a single byte, a shift of the levels, an entry made longer or shorter, whitespace, extra elements,
or a truncation, and checks every call against the pure twin and ``json.loads`` + ``float()`` (bit for bit):
a stale level, a view changed under its holder, or an error that differs between the twins, fails.
"""

from __future__ import annotations

import json
import random
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import ExtractError

DIGITS = "0123456789"
BYTES = DIGITS + '.-+eE" ,[]\\x'


def _twins() -> list[ModuleType]:
    mods = [core_module("extract", "python")]
    if not NO_EXTENSIONS:
        mods.append(core_module("extract", "cython"))
    return mods


def _expected(message: str, path: str, depth: int) -> Any:
    try:
        doc = json.loads(message)
        side = doc
        for comp in path.split("."):
            side = side[comp]
        out = []
        for entry in side[:depth]:
            p, q = float(entry[0]), float(entry[1])
            out.append((p.hex(), q.hex()))
        return out
    except (ValueError, KeyError, TypeError, IndexError):
        return None


class _Stream:
    """The same calls on both twins, each with its own state kept across the frames of a stream."""

    def __init__(self, depth: int, prefix: str = "") -> None:
        self.mods = _twins()
        self.depth = depth
        self.bids, self.asks = prefix + "bids", prefix + "asks"
        self.tops = [mod.TopExtractor(self.bids, self.asks, depth) for mod in self.mods]

    def feed(self, message: str | bytes) -> bool:
        outcomes = []
        for mod, top in zip(self.mods, self.tops, strict=True):
            got: list[Any] = []
            for path in (self.bids, self.asks):
                try:
                    got.append([(p.hex(), q.hex()) for p, q in mod.extract_levels(message, path, self.depth)])
                except ExtractError as exc:
                    got.append(("err", str(exc), exc.pos))
            try:
                top.update(message)
                got.append(([(p.hex(), q.hex()) for p, q in top.bids], [(p.hex(), q.hex()) for p, q in top.asks]))
            except ExtractError as exc:
                got.append(("err", str(exc), exc.pos))
            outcomes.append(got)
        assert all(o == outcomes[0] for o in outcomes), (message, outcomes)
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        got = outcomes[0]
        ok = not any(isinstance(g, tuple) and g[0] == "err" for g in got)
        if ok:
            want_b = _expected(text, self.bids, self.depth)
            want_a = _expected(text, self.asks, self.depth)
            # a frame broken only after the stop points is accepted; json.loads then rejects it whole
            if want_b is not None and want_a is not None:
                assert got[0] == want_b and got[1] == want_a and got[2] == (want_b, want_a), text
        return ok


def _side(rnd: random.Random, n: int, base: float, step: float) -> list[list[str]]:
    return [
        [f"{base + i * step:.{rnd.choice([2, 8])}f}", f"{rnd.randint(0, 10**6) / 1000:.{rnd.choice([3, 8])}f}"]
        for i in range(n)
    ]


def _frame(bids: list[list[str]], asks: list[list[str]], uid: int, wrap: bool = False) -> str:
    body = {"lastUpdateId": uid, "bids": bids, "asks": asks}
    return json.dumps({"data": body} if wrap else body, separators=(",", ":"))


@pytest.mark.parametrize("seed", range(4))
def test_one_byte_changed_per_frame(seed: int) -> None:
    """Each frame is the last valid one with one byte of its levels replaced: an entry of the same length as
    one parsed before, differing in any single byte (first, last, a digit, a quote, a bracket)."""
    rnd = random.Random(seed)
    depth = rnd.choice([3, 10, 20])
    stream = _Stream(depth)
    bids, asks = _side(rnd, 25, 100.0, -0.01), _side(rnd, 25, 100.01, 0.01)
    frame = _frame(bids, asks, 1)
    assert stream.feed(frame)
    start = frame.index('"bids":[') + 8
    for uid in range(400):
        i = rnd.randrange(start, len(frame) - 2)
        mutated = frame[:i] + rnd.choice(BYTES) + frame[i + 1 :]
        if stream.feed(mutated) and _expected(mutated, "bids", depth) is not None:
            frame = mutated  # go on from the changed frame: its entries are now the known ones
        if uid % 7 == 0:
            assert stream.feed(frame)  # and back to the valid frame


@pytest.mark.parametrize("seed", range(4))
def test_levels_shift_grow_and_shrink(seed: int) -> None:
    """Levels inserted at the top, removed, an entry made longer or shorter, past the length kept (48 bytes),
    with whitespace or a third element; bytes and str frames alike, and one frame truncated now and then."""
    rnd = random.Random(100 + seed)
    stream = _Stream(10, "data.")
    bids, asks = _side(rnd, 30, 500.0, -0.5), _side(rnd, 30, 500.5, 0.5)
    for uid in range(300):
        side = rnd.choice([bids, asks])
        r = rnd.random()
        if r < 0.2:
            side.insert(rnd.randrange(3), [f"{rnd.uniform(1, 999):.2f}", f"{rnd.uniform(0, 9):.8f}"])
        elif r < 0.35 and len(side) > 12:
            side.pop(rnd.randrange(len(side)))
        elif r < 0.5:
            k = rnd.randrange(min(len(side), 12))
            side[k] = [side[k][0], rnd.choice(["1", "0.5", "-0", "12345678.123456789012345", "1e3", "0.00000001"])]
        elif r < 0.6:
            k = rnd.randrange(min(len(side), 12))
            side[k] = side[k][:2] + [str(rnd.randint(0, 10**12))] * rnd.randint(1, 3)
        elif r < 0.7:
            k = rnd.randrange(min(len(side), 12))
            side[k] = side[k][:2]
        frame = _frame(bids, asks, uid, wrap=True)
        if rnd.random() < 0.1:
            frame = frame.replace(",", ", ", rnd.randint(1, 40))  # whitespace in some entries
        message: str | bytes = frame.encode() if rnd.random() < 0.3 else frame
        if rnd.random() < 0.05:
            message = message[: rnd.randrange(len(message))]
            stream.feed(message)
        else:
            assert stream.feed(message), frame


def test_entries_at_the_end_of_the_buffer() -> None:
    """Known entries within the last 48 bytes of a frame (compared without reading past its end)."""
    rnd = random.Random(7)
    stream = _Stream(10)
    for uid in range(200):
        asks = [["1.5", "2.25"], ["1.75", f"{uid % 3}.5"], ["2", "3"]][: rnd.randint(1, 3)]
        frame = '{"bids":[["1.25","1"]],"asks":' + json.dumps(asks, separators=(",", ":"))
        cut = frame + rnd.choice(["]}", "]", "", "}"])
        stream.feed(cut)
        stream.feed(cut[:-1])


@pytest.mark.parametrize("depth", [1, 2, 10])
def test_a_known_entry_changed_in_its_last_byte(depth: int) -> None:
    """An entry parsed before, then the same bytes but the last one, near the end of the frame and far from it
    (the two ways entries are compared): the changed entry is parsed, never taken for the known one."""
    for pad in (0, 60):
        stream = _Stream(depth)
        tail = " " * pad
        known = '{"bids":[["1.25","1"]],"asks":[["1.5","2.25"],["1.75","3"]' + tail + "]}"
        assert stream.feed(known)
        at = known.index('"2.25"]') + 6
        for ch in BYTES + "}:":
            changed = known[:at] + ch + known[at + 1 :]
            stream.feed(changed)
            stream.feed(changed.encode())
            assert stream.feed(known)


@pytest.mark.parametrize("seed", range(3))
def test_views_held_by_the_caller_never_change(seed: int) -> None:
    """``TopExtractor`` views: some kept by the caller (directly, or inside another tuple), most dropped at
    once; every view read is exact, and every view kept still holds the levels it held when read."""
    rnd = random.Random(seed)
    for mod in _twins():
        kept: list[tuple[bool, Any, list[tuple[str, str]]]] = []
        top = mod.TopExtractor("bids", "asks", rnd.choice([1, 5, 10]))
        depth = top.depth
        bids, asks = _side(rnd, 15, 100.0, -0.5), _side(rnd, 15, 100.5, 0.5)
        for uid in range(300):
            for side in (bids, asks):
                for _ in range(rnd.randint(0, 3)):
                    k = rnd.randrange(len(side))
                    side[k] = [side[k][0], f"{rnd.randint(0, 5000) / 1000:.8f}"]
            top.update(_frame(bids, asks, uid))
            for name, side in (("bids", bids), ("asks", asks)):
                if rnd.random() < 0.8:
                    want = [(float(p).hex(), float(q).hex()) for p, q in side[:depth]]
                    assert [(p.hex(), q.hex()) for p, q in getattr(top, name)] == want
                    if rnd.random() < 0.15:
                        wrapped = rnd.random() < 0.5
                        kept.append((wrapped, (getattr(top, name),) if wrapped else getattr(top, name), want))
            for wrapped, held, want in kept:
                view = held[0] if wrapped else held
                assert [(p.hex(), q.hex()) for p, q in view] == want


@pytest.mark.parametrize("seed", range(3))
def test_levels_and_floats_held_by_the_caller_never_change(seed: int) -> None:
    """The objects of a result a caller drops may be filled again with the next frame's levels (compiled twin):
    every level tuple or float the caller still holds (without its list or view, inside another container, or
    a price float two levels share) keeps the value it had when read, and every result read is exact."""
    rnd = random.Random(50 + seed)
    for mod in _twins():
        kept: list[tuple[Any, str]] = []
        depth = rnd.choice([1, 5, 10])
        top = mod.TopExtractor("bids", "asks", depth)
        bids, asks = _side(rnd, 15, 100.0, -0.5), _side(rnd, 15, 100.5, 0.5)
        for uid in range(400):
            for side in (bids, asks):
                for _ in range(rnd.randint(0, 4)):
                    k = rnd.randrange(len(side))
                    r = rnd.random()
                    if r < 0.6:  # a new quantity: the price float is lent to the new level
                        side[k] = [side[k][0], f"{rnd.randint(0, 5000) / 1000:.8f}"]
                    elif r < 0.8:  # a level removed and one added at the top: everything shifts
                        side.pop(k)
                        side.insert(0, [f"{float(side[0][0]) + (0.5 if side is asks else -0.5) * -1:.2f}", "1.5"])
                    else:  # a new price
                        side[k] = [f"{float(side[k][0]) + 0.001:.3f}", side[k][1]]
            frame = _frame(bids, asks, uid)
            top.update(frame)
            results = [
                ("bids", mod.extract_levels(frame, "bids", depth)),
                ("asks", mod.extract_levels(frame, "asks", depth)),
            ]
            results += [("bids", top.bids), ("asks", top.asks)]
            for name, levels in results:
                want = [(float(p).hex(), float(q).hex()) for p, q in (bids if name == "bids" else asks)[:depth]]
                assert [(p.hex(), q.hex()) for p, q in levels] == want
                if levels and rnd.random() < 0.3:
                    level = rnd.choice(list(levels))
                    what = rnd.choice(["level", "price", "qty", "wrapped"])
                    if what == "level":
                        kept.append((level, repr((level[0].hex(), level[1].hex()))))
                    elif what == "wrapped":
                        kept.append(([level], repr([(level[0].hex(), level[1].hex())])))
                    else:
                        f = level[0] if what == "price" else level[1]
                        kept.append((f, f.hex()))
            del results, levels
            if uid % 5 == 0:
                for obj, want_repr in kept:
                    if isinstance(obj, float):
                        assert obj.hex() == want_repr
                    elif isinstance(obj, tuple):
                        assert repr((obj[0].hex(), obj[1].hex())) == want_repr
                    else:
                        assert repr([(lv[0].hex(), lv[1].hex()) for lv in obj]) == want_repr
            if len(kept) > 60:
                del kept[: rnd.randint(1, 30)]
