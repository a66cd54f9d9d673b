"""Property tests of the level extractor: generated messages, then mutated ones.

Generated documents are valid JSON written with random whitespace, escapes (also inside
keys on the path), numbers as tokens or strings (exponents, -0, long digit strings),
empty arrays, keys in any order and the target key nested elsewhere first. For these
the result must equal the full-parse reference bit for bit. Mutated and truncated
documents must raise ExtractError or give exactly the levels standing in the examined
prefix; and the two twins must agree exactly (same levels and stop point, or same error
message and position).
"""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

from conftest import core_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_extract import bits, both_twins, reference

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import ExtractError

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rand_digits(rnd: random.Random) -> str:
    n = rnd.choice([1, 1, 2, 3, 5, 8, 12, 16, 17, 19, 20, 25, 40, 400])
    return "".join(rnd.choice("0123456789") for _ in range(n))


def rand_number(rnd: random.Random) -> str:
    """A JSON number token: sign, exponents, long digit strings, -0."""
    ip = "0" if rnd.random() < 0.2 else str(rnd.randint(1, 9)) + (rand_digits(rnd) if rnd.random() < 0.7 else "")
    frac = "" if rnd.random() < 0.4 else "." + rand_digits(rnd)
    exp = "" if rnd.random() < 0.7 else rnd.choice("eE") + rnd.choice(["", "+", "-"]) + str(rnd.randint(0, 330))
    return rnd.choice(["", "", "-"]) + ip + frac + exp


def rand_numeric_string(rnd: random.Random) -> str:
    """Content of a numeric string: also '+1', '5.', '.5'."""
    body = rnd.choice(
        [
            lambda: rand_digits(rnd),
            lambda: rand_digits(rnd) + "." + rand_digits(rnd),
            lambda: "." + rand_digits(rnd),
            lambda: rand_digits(rnd) + ".",
        ]
    )()
    exp = "" if rnd.random() < 0.7 else rnd.choice(["e", "E", "e-", "E+"]) + str(rnd.randint(0, 330))
    return rnd.choice(["", "", "-", "+"]) + body + exp


def rand_price(rnd: random.Random) -> str:
    while True:
        kind = rnd.randrange(4)
        if kind == 0:
            tok = rand_number(rnd)
            text = tok
        elif kind == 1:
            tok = rand_numeric_string(rnd)
            text = '"' + tok + '"'
        else:
            value = (
                struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0] if kind == 2 else rnd.uniform(0, 1e5)
            )
            if not math.isfinite(value):
                continue
            tok = repr(value)
            text = tok if rnd.random() < 0.5 else '"' + tok + '"'
        if math.isfinite(float(tok)):
            return text


def escape_text(s: str, rnd: random.Random) -> str:
    """JSON string literal for ``s`` with randomly chosen (valid) escapes."""
    out = ['"']
    for ch in s:
        cp = ord(ch)
        mode = rnd.randrange(4)
        if ch in '"\\' or cp < 0x20 or mode == 0:
            if cp > 0xFFFF:
                v = cp - 0x10000
                out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04X}")
            elif ch == "/" and mode == 1:
                out.append("\\/")
            elif ch in "\b\f\n\r\t" and mode != 3:
                out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
            elif ch in '"\\' and mode == 2:
                out.append("\\" + ch)
            else:
                out.append(f"\\u{cp:04x}" if mode % 2 else f"\\u{cp:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_KEY_CHARS = 'abcxyz019_-/ "\\\n\t\x00\x1féü€😀\U0010fffd'


def rand_key(rnd: random.Random) -> str:
    return "".join(rnd.choice(_KEY_CHARS) for _ in range(rnd.randint(1, 6)))


def rand_ws(rnd: random.Random) -> str:
    return "".join(rnd.choice(" \t\n\r") for _ in range(rnd.choice([0, 0, 0, 1, 2])))


def rand_value(rnd: random.Random, depth: int = 0) -> str:
    """Random JSON text (for values that are skipped)."""
    kind = rnd.choice(["num", "str", "lit"] + (["arr", "obj"] if depth < 4 else []))
    if kind == "num":
        return rand_number(rnd)
    if kind == "str":
        return escape_text(rand_key(rnd) if rnd.random() < 0.8 else "", rnd)
    if kind == "lit":
        return rnd.choice(["true", "false", "null"])
    items = [rand_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    if kind == "arr":
        return "[" + rand_ws(rnd) + ("," + rand_ws(rnd)).join(i + rand_ws(rnd) for i in items) + "]"
    keys = list(dict.fromkeys(rand_key(rnd) for _ in items))
    members = [
        escape_text(k, rnd) + rand_ws(rnd) + ":" + rand_ws(rnd) + v + rand_ws(rnd)
        for k, v in zip(keys, items, strict=False)  # duplicate keys were dropped: their items go too
    ]
    return "{" + rand_ws(rnd) + ("," + rand_ws(rnd)).join(members) + "}"


def level_array(rnd: random.Random) -> str:
    entries = []
    for _ in range(rnd.choice([0, 1, 2, 3, 5, 8, 12])):
        parts = [rand_price(rnd), rand_price(rnd)]
        parts += [rand_value(rnd, 2) for _ in range(rnd.choice([0, 0, 1, 2]))]
        entries.append("[" + rand_ws(rnd) + ("," + rand_ws(rnd)).join(p + rand_ws(rnd) for p in parts) + "]")
    return "[" + rand_ws(rnd) + ("," + rand_ws(rnd)).join(e + rand_ws(rnd) for e in entries) + "]"


@st.composite
def document(draw: st.DrawFn) -> tuple[str, str]:
    """(message, path): a valid JSON document and the dotted path of its level array."""
    rnd = draw(st.randoms(use_true_random=False))
    comps: list[str | int] = []
    for _ in range(rnd.randint(0, 3)):
        if rnd.random() < 0.4:
            comps.append(rnd.randint(0, 3))
        else:
            key = rand_key(rnd).replace(".", "")
            comps.append(key if key and not (key.isdigit() and key.isascii()) else "k" + key)
    node = level_array(rnd)
    for comp in reversed(comps):

        def w() -> str:
            return rand_ws(rnd)

        if isinstance(comp, int):
            items = (
                [rand_value(rnd, 1) for _ in range(comp)]
                + [node]
                + [rand_value(rnd, 1) for _ in range(rnd.randint(0, 2))]
            )
            node = "[" + w() + ("," + w()).join(i + w() for i in items) + "]"
        else:
            others = list(dict.fromkeys(k for k in (rand_key(rnd) for _ in range(rnd.randint(0, 3))) if k != comp))
            members = []
            for k in others:
                # sometimes a decoy: the target key nested inside another member, first
                if rnd.random() < 0.5:
                    value = "{" + escape_text(comp, rnd) + ":" + level_array(rnd) + "}"
                else:
                    value = rand_value(rnd, 1)
                members.append(escape_text(k, rnd) + w() + ":" + w() + value)
            target = escape_text(comp, rnd) + w() + ":" + w() + node
            members.insert(rnd.randint(0, len(members)), target)
            node = "{" + w() + ("," + w()).join(m + w() for m in members) + "}"
    path = ".".join(str(c) for c in comps)
    return rand_ws(rnd) + node + rand_ws(rnd), path


@SETTINGS
@given(doc=document(), depth=st.integers(0, 15), as_bytes=st.booleans())
def test_generated_documents_exact(core_impl: str, doc: tuple[str, str], depth: int, as_bytes: bool) -> None:
    message, path = doc
    json.loads(message)  # the generator makes valid JSON
    ex = core_module("extract", core_impl)
    msg: Any = message.encode() if as_bytes else message
    assert bits(ex.extract_levels(msg, path, depth)) == bits(reference(message, path, depth))


@SETTINGS
@given(doc=document(), depth=st.integers(0, 15))
def test_generated_documents_twins_agree(doc: tuple[str, str], depth: int) -> None:
    message, path = doc
    kind, _ = both_twins(message, path, depth)
    assert kind == "ok"
    both_twins(message.encode(), path, depth)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str, int]:
    message, path = draw(document())
    data = bytearray(message.encode())
    alphabet = b'{}[],:"\\ \t\n0123456789-+.eEtrufalsnu\x00\x1f\x7f\xc3\xa9\xed\xa0\x80\xff'
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "del", "ins", "set", "dup"]))
        at = draw(st.integers(0, len(data)))
        if op == "cut":
            del data[at:]
        elif op == "del" and at < len(data):
            del data[at : at + draw(st.integers(1, 3))]
        elif op == "ins":
            data[at:at] = bytes([draw(st.sampled_from(alphabet))])
        elif op == "set" and at < len(data):
            data[at] = draw(st.sampled_from(alphabet))
        elif op == "dup" and at < len(data):
            end = draw(st.integers(at, len(data)))
            data[at:at] = data[at:end]
    return bytes(data), path, draw(st.integers(0, 15))


@SETTINGS
@given(case=mutated())
def test_mutated_documents(case: tuple[bytes, str, int]) -> None:
    data, path, depth = case
    both_twins(data, path, depth)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    both_twins(text, path, depth)


@SETTINGS
@given(data=st.binary(max_size=64), path=st.sampled_from(["", "a", "0", "a.0", "0.b"]), depth=st.integers(0, 4))
def test_random_bytes(data: bytes, path: str, depth: int) -> None:
    both_twins(data, path, depth)
    both_twins(b'{"a":[' + data, path, depth)
    both_twins(b"[[" + data, path, depth)


@SETTINGS
@given(rnd=st.randoms(use_true_random=False), depth=st.integers(1, 8))
def test_top_extractor_against_extract_levels(core_impl: str, rnd: random.Random, depth: int) -> None:
    levels = [(rand_price(rnd), rand_price(rnd)) for _ in range(rnd.randint(0, 6))]
    arr = "[" + ",".join(f"[{p},{q}]" for p, q in levels) + "]"
    rev = "[" + ",".join(f"[{p},{q}]" for p, q in reversed(levels)) + "]"
    msg = '{"asks":' + arr + ',"bids":' + rev + "}"
    top = core_module("extract", core_impl).TopExtractor("bids", "asks", depth)
    assert top.update(msg) is True
    assert bits(top.bids) == bits(reference(msg, "bids", depth))
    assert bits(top.asks) == bits(reference(msg, "asks", depth))
    assert top.update(msg.encode()) is False


@st.composite
def two_sided(draw: st.DrawFn) -> tuple[bytes, str, str]:
    """A document with bid and ask arrays under a shared (random) prefix, then mutated."""
    rnd = draw(st.randoms(use_true_random=False))
    in_array = rnd.random() < 0.3
    if in_array:
        ib, ia = rnd.sample(range(4), 2)
        items = [
            level_array(rnd) if i in (ib, ia) else rand_value(rnd, 1)
            for i in range(max(ib, ia) + 1 + rnd.randint(0, 1))
        ]
        node = "[" + ",".join(items) + "]"
        last_b, last_a = str(ib), str(ia)
    else:
        last_b, last_a = rnd.choice([("bids", "asks"), ("b", "a"), ("bs", "as")])
        members = [escape_text(last_b, rnd) + ":" + level_array(rnd), escape_text(last_a, rnd) + ":" + level_array(rnd)]
        for _ in range(rnd.randint(0, 3)):
            k = rnd.choice(["x", "u", "lastUpdateId", last_b if rnd.random() < 0.2 else "y"])
            v = (
                "{" + escape_text(last_a, rnd) + ":" + level_array(rnd) + "}"
                if rnd.random() < 0.3
                else rand_value(rnd, 1)
            )
            members.insert(rnd.randint(0, len(members)), escape_text(k, rnd) + ":" + v)
        node = "{" + ",".join(members) + "}"
    prefix = rnd.choice(["", "data", "data.0", "1"])
    for comp in reversed(prefix.split(".") if prefix else []):
        if comp.isdigit():
            node = "[" + ",".join([rand_value(rnd, 1) for _ in range(int(comp))] + [node]) + "]"
        else:
            node = '{"stream":"x","' + comp + '":' + node + "}"
    bids = (prefix + "." if prefix else "") + last_b
    asks = (prefix + "." if prefix else "") + last_a
    data = node.encode()
    if rnd.random() < 0.7:
        data = draw(st.sampled_from(list(_mutate(rnd, data))))
    return data, bids, asks


def _mutate(rnd: random.Random, data: bytes) -> list[bytes]:
    alphabet = b'{}[],:"\\ 0123456789-.eEtn\x00\xff'
    out = [data[: rnd.randint(0, len(data))]]
    for _ in range(3):
        buf = bytearray(data)
        at = rnd.randrange(len(buf) + 1)
        if rnd.random() < 0.5 and at < len(buf):
            buf[at] = rnd.choice(alphabet)
        else:
            buf[at:at] = bytes([rnd.choice(alphabet)])
        out.append(bytes(buf))
    return out


def _top_outcome(ex: Any, bids: str, asks: str, depth: int, data: bytes) -> tuple[str, Any]:
    top = ex.TopExtractor(bids, asks, depth)
    try:
        top.update(data)
    except ExtractError as exc:
        return "err", (str(exc), exc.pos)
    return "ok", (bits(top.bids), bits(top.asks))


def _two_calls(ex: Any, bids: str, asks: str, depth: int, data: bytes) -> tuple[str, Any]:
    """TopExtractor's specification: extract_levels on each side, bids first."""
    try:
        b = ex.extract_levels(data, bids, depth)
        a = ex.extract_levels(data, asks, depth)
    except ExtractError as exc:
        return "err", (str(exc), exc.pos)
    return "ok", (bits(b), bits(a))


@SETTINGS
@given(case=two_sided(), depth=st.integers(1, 6))
def test_top_extractor_equals_two_extractions(case: tuple[bytes, str, str], depth: int) -> None:
    """The compiled TopExtractor reads both sides in one pass; whatever the input, its
    outcome (levels, or error message and position) equals two extract_levels calls."""
    data, bids, asks = case
    want = _two_calls(core_module("extract", "python"), bids, asks, depth, data)
    for impl in ("python",) if NO_EXTENSIONS else ("python", "cython"):
        assert _top_outcome(core_module("extract", impl), bids, asks, depth, data) == want, impl
