"""Property tests of the JSON document scanner: generated documents, then mutated ones.

Generated values (``json.dumps`` of hypothesis values, with random indentation,
separators and escaping; and hand-written text with random whitespace and escapes)
must round-trip: ``Doc(text).value(0) == json.loads(text)``, and every accessor must
agree with the parsed value. Mutated and truncated documents must raise ExtractError in
both twins with the same message and position, or parse to the same value in both, and
be accepted exactly when the strict reference (``json.loads`` with strict UTF-8, no
NaN/Infinity, nesting <= 128) accepts them.
"""

from __future__ import annotations

import json
import math
import random
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_doc import both, fbits
from test_extract import VENUE_CASES
from test_extract_hypothesis import rand_value, rand_ws

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import ExtractError

IMPLS = ("python",) if NO_EXTENSIONS else ("python", "cython")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text with every kind of character: surrogates too (json.dumps escapes them with ensure_ascii)
_ANY_TEXT = st.text(st.characters(categories=["Cs"]) | st.characters(exclude_categories=()), max_size=12)
_TEXT = st.text(max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_TEXT, children, max_size=5),
    max_leaves=30,
)


def _dumps(value: Any, rnd: random.Random, ascii_only: bool | None = None) -> str:
    indent = rnd.choice([None, None, 0, 1, 2, "\t"])
    seps = rnd.choice([None, (",", ":"), (" , ", " : ")])
    ensure_ascii = rnd.random() < 0.5 if ascii_only is None else ascii_only
    return (
        rnd.choice(["", " ", "\n", "\t\r\n "])
        + json.dumps(value, indent=indent, separators=seps, ensure_ascii=ensure_ascii)
        + rnd.choice(["", " ", "\r\n"])
    )


def _check_accessors(d: Any, dm: ModuleType, h: int, value: Any) -> None:
    """Every accessor on handle ``h`` agrees with the parsed ``value``."""
    kind = d.kind(h)
    if value is None:
        assert kind == dm.NULL
    elif value is True or value is False:
        assert kind == (dm.TRUE if value else dm.FALSE)
    elif isinstance(value, (int, float)):
        assert kind == dm.NUMBER
        text = d.text(h)
        assert json.loads(text) == value
        assert fbits(d.float(h)) == fbits(float(text))
        if isinstance(value, int):
            assert d.int(h) == value
        else:
            with pytest.raises(ExtractError):
                d.int(h)
    elif isinstance(value, str):
        assert kind == dm.STRING and d.str(h) == value and d.text(h) == value
    elif isinstance(value, list):
        assert kind == dm.ARRAY and d.len(h) == len(value)
        kids = d.children(h)
        assert kids == [d.at(h, i) for i in range(len(value))]
        if value:
            assert d.at(h, -1) == kids[-1]
        for k, v in zip(kids, value, strict=True):
            _check_accessors(d, dm, k, v)
    else:
        assert kind == dm.OBJECT and d.len(h) >= len(value)
        kids = d.children(h)
        keys = [d.str(k - 1) for k in kids]
        assert set(keys) == set(value)
        for key in value:
            first = d.get(h, key)
            assert first == kids[keys.index(key)]  # the first occurrence
            last = kids[len(keys) - 1 - keys[::-1].index(key)]
            _check_accessors(d, dm, last, value[key])  # value() keeps the last


@SETTINGS
@given(value=JSON_VALUES, rnd=st.randoms(use_true_random=False), as_bytes=st.booleans())
def test_generated_round_trip(core_impl: str, value: Any, rnd: random.Random, as_bytes: bool) -> None:
    dm = core_module("doc", core_impl)
    text = _dumps(value, rnd)
    data: Any = text.encode() if as_bytes else text
    d = dm.Doc(data)
    assert d.value(0) == json.loads(text)
    assert d.value(0, text_numbers=True) == json.loads(text, parse_float=str, parse_int=str)
    _check_accessors(d, dm, 0, json.loads(text))


@SETTINGS
@given(value=st.recursive(_ANY_TEXT, lambda c: st.lists(c, max_size=3) | st.dictionaries(_ANY_TEXT, c, max_size=3)))
def test_generated_strings_with_surrogates(core_impl: str, value: Any) -> None:
    """ensure_ascii escapes every character, lone surrogates included; both twins decode
    them as json.loads does."""
    dm = core_module("doc", core_impl)
    text = json.dumps(value, ensure_ascii=True)
    want = json.loads(text)  # equals value except where a high and a low surrogate meet (they combine)
    assert dm.Doc(text).value(0) == want
    assert dm.Doc(text.encode()).value(0) == want


@st.composite
def handwritten(draw: st.DrawFn) -> str:
    """JSON text written piece by piece: random whitespace, escapes, number forms."""
    rnd = draw(st.randoms(use_true_random=False))
    return rand_ws(rnd) + rand_value(rnd) + rand_ws(rnd)


@SETTINGS
@given(text=handwritten())
def test_handwritten_documents(text: str) -> None:
    kind, _ = both(text)
    assert kind == "ok"
    both(text.encode())


# ---------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------

_ALPHABET = b'{}[],:"\\ \t\n\r0123456789-+.eEtrufalsnu\x00\x1f\x7f\xc3\xa9\xed\xa0\xf0\x9f\xff/'


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(5)
        at = rnd.randrange(len(buf) + 1)
        if op == 0 and at < len(buf):
            del buf[at]
        elif op == 1:
            buf.insert(at, rnd.choice(_ALPHABET))
        elif op == 2 and at < len(buf):
            buf[at] = rnd.choice(_ALPHABET)
        elif op == 3:
            del buf[at:]  # truncation
        elif at < len(buf):
            buf[at] ^= 1 << rnd.randrange(8)  # bit flip
    return bytes(buf)


@SETTINGS
@given(value=JSON_VALUES, rnd=st.randoms(use_true_random=False))
def test_mutated_documents_agree(value: Any, rnd: random.Random) -> None:
    data = _mutate(_dumps(value, rnd, ascii_only=rnd.random() < 0.3).encode(), rnd)
    both(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    both(text)


@SETTINGS
@given(text=handwritten(), rnd=st.randoms(use_true_random=False))
def test_mutated_handwritten_agree(text: str, rnd: random.Random) -> None:
    data = _mutate(text.encode(), rnd)
    both(data)
    try:
        both(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass


def _corpus() -> list[str]:
    out = list(dict.fromkeys(m for _, m, _ in VENUE_CASES if len(m) <= 2500))
    out += [
        '{"a":[1,-2.5e+3,true,false,null,"\\u00e9\\ud83d\\ude00\\n"],"b":{"":{}}}',
        '[320,{"a":[["61308.50000","0.10000000","1617666423.500000","r"]]},{"c":"1768150633"},"book-10","XBT/USD"]',
        ' ["é€😀", 0, -0.0, 1E5, 12345678901234567890] ',
    ]
    return out


@pytest.mark.parametrize("index", range(len(_corpus())))
def test_every_truncation(index: int) -> None:
    text = _corpus()[index]
    data = text.encode()
    end = len(data.rstrip())
    for cut in range(len(data) + 1):
        kind, _ = both(data[:cut])
        # every value of the corpus is a container: only the whole text (and trailing
        # whitespace cut off) is a document
        assert kind == ("ok" if cut >= end else "err"), cut
    for cut in range(0, len(text) + 1, 3):
        both(text[:cut])


@pytest.mark.parametrize("index", range(len(_corpus())))
def test_every_byte_flip(index: int) -> None:
    data = _corpus()[index].encode()[:400]
    rnd = random.Random(index)
    for at in range(len(data)):
        for b in (data[at] ^ 0x01, data[at] ^ 0x20, data[at] ^ 0x80, rnd.choice(_ALPHABET)):
            both(data[:at] + bytes([b]) + data[at + 1 :])


def test_random_mutations_of_the_corpus() -> None:
    rnd = random.Random(20240808)
    for text in _corpus():
        data = text.encode()
        for _ in range(300):
            blob = _mutate(data, rnd)
            both(blob)
            try:
                both(blob.decode("utf-8"))
            except UnicodeDecodeError:
                pass


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False), st.booleans())
def test_float_bits(x: float, as_string: bool) -> None:
    text = repr(x)
    doc_text = json.dumps(text) if as_string else text
    for impl in IMPLS:
        dm = core_module("doc", impl)
        d = dm.Doc(doc_text)
        assert fbits(d.float(0)) == fbits(float(text))
        if not as_string:
            assert fbits(d.value(0)) == fbits(json.loads(text))
    assert math.isfinite(x)


@SETTINGS
@given(
    st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.booleans(),
)
def test_number_tokens_bits(token: str, as_string: bool) -> None:
    """Arbitrary JSON number tokens (long mantissas, exponents to 9999): bit-identical
    to float(text) in both twins, as token and as numeric string."""
    doc_text = json.dumps(token) if as_string else token
    got = []
    for impl in IMPLS:
        dm = core_module("doc", impl)
        got.append(fbits(dm.Doc(doc_text).float(0)))
    assert set(got) == {fbits(float(token))}
