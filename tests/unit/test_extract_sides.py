"""``extract_levels`` for the two sides of one message, one call after the other.

The compiled twin goes on, for the second side, from where the call for the first side stopped on the same
message (its sibling path: the same but for the last component), instead of scanning from the start. These
frames put the sides in either order, repeat a side's key before or after the other's, escape a key, put
many members first, break the frame after the first side's stop point, and pass an equal message that is
another object: every result and every error (message and position) must be what a call on a fresh message
gives, and the pure twin's.
"""

from __future__ import annotations

import json
import sys
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import ExtractError


def _twins() -> list[ModuleType]:
    mods = [core_module("extract", "python")]
    if not NO_EXTENSIONS:
        mods.append(core_module("extract", "cython"))
    return mods


def _call(mod: ModuleType, message: str | bytes, path: str, depth: int) -> Any:
    try:
        return [(p.hex(), q.hex()) for p, q in mod.extract_levels(message, path, depth)]
    except ExtractError as exc:
        return ("error", str(exc), exc.pos)


def _fresh(message: str | bytes) -> str | bytes:
    """An equal message that is another object (nothing kept from a call on ``message`` applies to it)."""
    if isinstance(message, bytes):
        return bytes(bytearray(message))
    return "".join(list(message))


LV = '[["1.5","2"],["1.25","3"],["1","4"]]'
LV2 = '[["9.5","1"],["9.75","2"]]'
FRAMES = [
    '{"lastUpdateId":1,"bids":' + LV + ',"asks":' + LV2 + "}",
    '{"asks":' + LV2 + ',"bids":' + LV + "}",  # the second side before the first
    '{"bids":' + LV + ',"asks":' + LV2 + ',"asks":[["7","7"]]}',  # a side's key twice: the first counts
    '{"asks":[["7","7"]],"bids":' + LV + ',"asks":' + LV2 + "}",  # ... also when it comes before the other
    '{"bids":' + LV + ',"a\\u0073ks":' + LV2 + "}",  # an escaped key
    '{"b\\u0069ds":' + LV + ',"asks":' + LV2 + "}",
    "{" + "".join(f'"k{i}":{i},' for i in range(12)) + '"bids":' + LV + ',"asks":' + LV2 + "}",  # many members
    "{" + "".join(f'"k{i}":{i},' for i in range(12)) + '"asks":' + LV2 + ',"bids":' + LV + "}",
    "{" + "".join(f'"k{i}":{i},' for i in range(12)) + '"asks":[["7","7"]],"bids":' + LV + ',"asks":' + LV2 + "}",
    '[[["1","2"],["3","4"]],[["5","6"]],{"bids":' + LV + "}]",
    '{"bids":' + LV + ',"x":{"asks":[["5","5"]]},"asks":' + LV2 + "}",  # the key nested in another value
    '{"bids":' + LV + "}",  # no second side
    '{"bids":' + LV + ',"asks":' + LV2,  # truncated after the second side
    '{"bids":[["1.5","2"],["1.25","3"],["1","4"]' + ',"asks":' + LV2 + "}",  # the first side never closed
    '{"bids":[["1.5","2"],["1.25","3"],["1",4x]],"asks":' + LV2 + "}",  # broken after the first's stop point
    '{"bids":[["1.5","2"],["1.25","3"],["1","4"],{"a":[1,{"b":2}]},[1,2,3]],"asks":' + LV2 + "}",
    '{"bids":' + LV + ' , "asks" : ' + LV2 + " }",  # whitespace
    '{"bids":' + LV + ',"asks":[]}',
    '{"bids":[],"asks":' + LV2 + "}",
    '{"bids":' + LV + ',"asks":"no"}',
    '{"data":{"bids":' + LV + ',"asks":' + LV2 + '},"asks":[["3","3"]]}',
    '[{"bids":' + LV + ',"asks":' + LV2 + "}]",
]
PATHS = [
    ("bids", "asks"),
    ("asks", "bids"),
    ("data.bids", "data.asks"),
    ("0.bids", "0.asks"),
    ("bids", "bids"),
    ("0", "1"),
    ("1", "0"),
    ("2.bids", "1"),
]


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("depth", [0, 1, 2, 3, 10])
def test_the_second_side_as_on_a_fresh_message(frame: str, depth: int) -> None:
    for first, second in PATHS:
        for message in (frame, frame.encode()):
            outcomes = []
            for mod in _twins():
                a = _call(mod, message, first, depth)
                b = _call(mod, message, second, depth)
                again = _call(mod, message, second, depth)  # a third call, after the one that went on
                alone = _call(mod, _fresh(message), second, depth)
                assert b == alone == again, (mod.__name__, frame, first, second, depth)
                outcomes.append((a, b))
            assert all(o == outcomes[0] for o in outcomes), (frame, first, second, depth, outcomes)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("a key twice (json.loads keeps the last, extract_levels reads the first)")
    return dict(pairs)


def test_results_agree_with_json() -> None:
    checked = 0
    for frame in FRAMES[:10]:
        try:
            doc = json.loads(frame, object_pairs_hook=_unique_keys)
        except ValueError:
            continue
        checked += 1
        for mod in _twins():
            for side in ("bids", "asks"):
                want = [(float(p).hex(), float(q).hex()) for p, q in doc[side][:2]] if side in doc else None
                if want is not None:
                    assert _call(mod, frame, side, 2) == want, (frame, side)
    assert checked == 7


@pytest.mark.skipif(NO_EXTENSIONS, reason="the compiled twin's memory of the last message")
def test_the_last_message_is_held_until_the_next_call_only() -> None:
    mod = core_module("extract", "cython")
    message = "".join(list(FRAMES[0]))
    base = sys.getrefcount(message)
    mod.extract_levels(message, "bids", 2)
    assert sys.getrefcount(message) == base + 1  # held for the call for its other side
    mod.extract_levels(message, "asks", 2)
    assert sys.getrefcount(message) == base  # used once, then let go
    mod.extract_levels(message, "bids", 2)
    mod.extract_levels(FRAMES[1], "bids", 2)  # another message replaces it
    assert sys.getrefcount(message) == base
    mod.extract_levels(message, "bids", 2)
    with pytest.raises(ExtractError):
        mod.extract_levels(message, "nope", 2)
    assert sys.getrefcount(message) == base
