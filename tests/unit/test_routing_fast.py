"""The compact-spelling fast paths of the routing helpers agree with the general scan.

``int_field`` and the venues' ``last_update_id`` / ``microtimestamp`` / ``route`` take a
shortcut for the spelling the venues send; whatever the frame, the answer must be the one
the general pattern gives: the first place where ``"key":<digits>`` (or the quoted form)
matches, digits not followed by a digit, ``.``, ``e`` or ``E``, at most 20 of them.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.venues.binance import adapter as bn
from dragonfly.venues.bitstamp import adapter as bs
from dragonfly.venues.routing import int_field, string_field


def _reference(frame: str, key: str) -> int | None:
    m = re.search('"' + re.escape(key) + r'":(?:"(\d{1,20})"|(\d{1,20})(?![\d.eE]))', frame)
    return None if m is None else int(m.group(1) or m.group(2))


def _call(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except ValueError:
        return "ValueError"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"k":160,"b":1}', 160),
        ('{"k":"160","b":1}', 160),
        ('{"k":160}', 160),  # no comma after: the general scan
        ('{"k":1.5,"b":1}', "ValueError"),
        ('{"k":15e3,"b":1}', "ValueError"),
        ('{"k":"x","k":5,"b":1}', 5),  # first occurrence not an integer: the next one that is
        ('{"k":' + "9" * 21 + ',"b":1}', "ValueError"),
        ('{"k":' + "9" * 20 + ',"b":1}', int("9" * 20)),
        ('{"k":-1,"b":1}', "ValueError"),
        ('{"k":,"b":1}', "ValueError"),
    ],
)
def test_int_field_cases(frame: str, expected: object) -> None:
    assert _call(int_field, frame, "k") == expected
    assert _call(int_field, frame.encode(), "k") == expected
    assert _call(bn.last_update_id, frame.replace('"k"', '"lastUpdateId"')) == expected
    assert _call(bs.microtimestamp, frame.replace('"k"', '"microtimestamp"')) == expected


PIECES = st.sampled_from(
    ['"k":', '"k":"', '"k"', "1", "0", "42", '"', ",", "}", ".", "e", " ", ":", "-", "x", "9" * 21]
)


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(PIECES, max_size=10))
def test_fast_paths_agree_with_the_general_pattern(parts: list[str]) -> None:
    frame = "{" + "".join(parts)
    got = _call(int_field, frame, "k")
    ref = _reference(frame, "k")
    if ref is not None:
        assert got == ref
        assert _call(int_field, frame.encode(), "k") == ref
    assert _call(bn.last_update_id, frame.replace('"k"', '"lastUpdateId"')) == got
    assert _call(bs.microtimestamp, frame.replace('"k"', '"microtimestamp"')) == got


@pytest.mark.parametrize(
    "frame",
    [
        '{"stream":"ethbtc@depth20@100ms","data":{}}',
        '{"stream":"a\\"b","data":{}}',
        '{"stream":"","data":{}}',
        '{"stream":5}',
        '{"stream":"abc',
        '{ "stream" : "x@depth5" }',
        '{"data":{},"stream":"late"}',
    ],
)
def test_binance_route_is_string_field(frame: str) -> None:
    assert bn.route(frame) == string_field(frame, "stream")
    assert bn.route(frame.encode()) == string_field(frame, "stream")
