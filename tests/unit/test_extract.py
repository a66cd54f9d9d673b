"""The level extractor (``dragonfly._core.extract``), both twins, on self-generated data.

The reference for every result is a full ``json.loads`` parse (first occurrence wins on
duplicate keys, as documented) followed by ``float()`` on each price and quantity,
compared bit for bit (``float.hex``). Helpers here are reused by the other
``test_extract_*`` modules.
"""

from __future__ import annotations

import json
import math
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import DragonflyError, ExtractError

Levels = list[tuple[float, float]]

# ---------------------------------------------------------------------------------------
# Reference helpers (shared with test_extract_hypothesis.py and test_extract_captures.py)
# ---------------------------------------------------------------------------------------


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def walk(doc: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a parsed document (KeyError/IndexError if absent)."""
    node = doc
    for comp in path.split(".") if path else []:
        node = node[int(comp)] if isinstance(node, list) else node[comp]
    return node


def reference(message: str | bytes, path: str, depth: int) -> Levels:
    """``[(float(e[0]), float(e[1])) for e in <full parse at path>[:depth]]``."""
    doc = json.loads(message, object_pairs_hook=_first_wins)
    return [(float(e[0]), float(e[1])) for e in walk(doc, path)[:depth]]


def bits(levels: Any) -> list[tuple[str, str]]:
    """Bit-exact view of levels (``float.hex`` tells -0.0 from 0.0)."""
    return [(float.hex(p), float.hex(q)) for p, q in levels]


def closers(text: str) -> str:
    """The brackets that close every container left open in the JSON prefix ``text``."""
    stack: list[str] = []
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}":
            stack.pop()
    return "".join(reversed(stack))


def run(mod: ModuleType, message: str | bytes, path: str, depth: int) -> tuple[str, Any]:
    """("ok", (bits, stop)) or ("err", (message, pos)) -- comparable across twins."""
    try:
        levels, stop = mod._extract_with_stop(message, path, depth)
    except ExtractError as exc:
        return "err", (str(exc), exc.pos)
    return "ok", (bits(levels), stop)


def check_prefix_consistent(mod: ModuleType, message: str | bytes, path: str, depth: int) -> tuple[str, Any]:
    """Run one twin; when it succeeds, its levels must be exactly those that stand in the
    examined prefix of ``message`` (the prefix, closed, is valid JSON whose full parse
    gives the same levels). Returns the outcome for twin comparison."""
    outcome = run(mod, message, path, depth)
    if outcome[0] == "ok":
        got, stop = outcome[1]
        # everything before the stop point was validated, so it decodes as UTF-8
        prefix = message[:stop].decode("utf-8") if isinstance(message, bytes) else message[:stop]
        closed = prefix + closers(prefix)
        assert got == bits(reference(closed, path, depth)), (message, path, depth, stop)
    return outcome


def both_twins(message: str | bytes, path: str, depth: int) -> tuple[str, Any]:
    """Outcome of the pure twin, asserting the compiled twin (when built) agrees exactly."""
    py = check_prefix_consistent(core_module("extract", "python"), message, path, depth)
    if NO_EXTENSIONS:
        return py
    # extensions expected: a missing compiled twin is an error, not a silent pass
    c = check_prefix_consistent(core_module("extract", "cython"), message, path, depth)
    assert py == c, (message, path, depth)
    return py


# ---------------------------------------------------------------------------------------
# Synthetic venue messages (documented public formats, values generated here)
# ---------------------------------------------------------------------------------------


def _lv(n: int, base: float, step: float, kraken: bool = False, okx: bool = False) -> list[list[str]]:
    out = []
    for i in range(n):
        entry = [f"{base + i * step:.8f}", f"{(i * 7919 % 1000) / 100 + 0.001:.8f}"]
        if kraken:
            entry = [f"{base + i * step:.5f}", f"{(i * 31 % 97) / 10:.8f}", f"{1617666423.5 + i:.6f}"]
            if i % 3 == 0:
                entry.append("r")
        if okx:
            entry = [f"{base + i * step:.1f}", str(i * 3 + 1), "0", str(i % 5 + 1)]
        out.append(entry)
    return out


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def venue_messages() -> list[tuple[str, str, str]]:
    """(name, message, path) triples in each venue's shape."""
    bids20, asks20 = _lv(20, 61000.0, -0.01), _lv(20, 61000.01, 0.01)
    out: list[tuple[str, str, str]] = []
    raw = _dump({"lastUpdateId": 160, "bids": bids20, "asks": asks20})
    out += [("binance-partial", raw, "bids"), ("binance-partial", raw, "asks")]
    wrapped = _dump({"stream": "btcusdt@depth20@100ms", "data": json.loads(raw)})
    out += [("binance-partial-combined", wrapped, "data.bids"), ("binance-partial-combined", wrapped, "data.asks")]
    diff = _dump(
        {
            "stream": "btcusdt@depth@100ms",
            "data": {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 157, "u": 160, "b": bids20[:3], "a": []},
        }
    )
    out += [("binance-diff", diff, "data.b"), ("binance-diff", diff, "data.a")]
    for chan in ("order_book_btcusd", "diff_order_book_btcusd"):
        msg = _dump(
            {
                "data": {
                    "timestamp": "1",
                    "microtimestamp": "1000000",
                    "bids": _lv(100, 30000, -0.5),
                    "asks": _lv(100, 30001, 0.5),
                },
                "channel": chan,
                "event": "data",
            }
        )
        out += [(f"bitstamp-{chan}", msg, "data.bids"), (f"bitstamp-{chan}", msg, "data.asks")]
    cb = _dump({"type": "snapshot", "product_id": "BTC-USD", "asks": _lv(50, 101, 0.01), "bids": _lv(50, 100, -0.01)})
    out += [("coinbase-snapshot", cb, "bids"), ("coinbase-snapshot", cb, "asks")]
    ks = _dump(
        [
            320,
            {"as": _lv(10, 58729.4, 0.1, kraken=True), "bs": _lv(10, 58729.3, -0.1, kraken=True)},
            "book-10",
            "XBT/USD",
        ]
    )
    out += [("kraken-snapshot", ks, "1.as"), ("kraken-snapshot", ks, "1.bs")]
    ku = _dump(
        [
            320,
            {"a": _lv(3, 61308.5, 1, kraken=True)},
            {"b": _lv(2, 56123.4, -1, kraken=True), "c": "1768150633"},
            "book-10",
            "XBT/USD",
        ]
    )
    out += [("kraken-update-both", ku, "1.a"), ("kraken-update-both", ku, "2.b")]
    okx = _dump(
        {
            "arg": {"channel": "books", "instId": "BTC-USDT"},
            "action": "snapshot",
            "data": [
                {
                    "asks": _lv(400, 30000.1, 0.1, okx=True),
                    "bids": _lv(400, 30000.0, -0.1, okx=True),
                    "ts": "1",
                    "checksum": -1,
                }
            ],
        }
    )
    out += [("okx-books", okx, "data.0.bids"), ("okx-books", okx, "data.0.asks")]
    bybit = _dump(
        {
            "topic": "orderbook.50.BTCUSDT",
            "type": "snapshot",
            "ts": 1,
            "data": {"s": "BTCUSDT", "b": _lv(50, 1.95, -0.0001), "a": _lv(50, 1.96, 0.0001), "u": 1, "seq": 2},
            "cts": 1,
        }
    )
    out += [("bybit-orderbook", bybit, "data.b"), ("bybit-orderbook", bybit, "data.a")]
    return out


VENUE_CASES = venue_messages()


@pytest.fixture
def ex(core_impl: str) -> ModuleType:
    return core_module("extract", core_impl)


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def test_public_reexports() -> None:
    import dragonfly
    from dragonfly._core import extract

    assert dragonfly.extract_levels is extract.extract_levels
    assert dragonfly.TopExtractor is extract.TopExtractor


def test_error_type() -> None:
    assert issubclass(ExtractError, ValueError)
    assert issubclass(ExtractError, DragonflyError)


@pytest.mark.parametrize(("name", "message", "path"), VENUE_CASES, ids=[f"{c[0]}:{c[2]}" for c in VENUE_CASES])
@pytest.mark.parametrize("depth", [0, 1, 10, 20, 1000])
def test_venue_shapes(ex: ModuleType, name: str, message: str, path: str, depth: int) -> None:
    want = bits(reference(message, path, depth))
    assert bits(ex.extract_levels(message, path, depth)) == want
    assert bits(ex.extract_levels(message.encode(), path, depth)) == want


def test_binance_partial_raw_example(ex: ModuleType) -> None:
    msg = '{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}'
    assert ex.extract_levels(msg, "bids", 5) == [(0.0024, 10.0)]
    assert ex.extract_levels(msg, "asks", 5) == [(0.0026, 100.0)]


def test_empty_arrays_and_depth_zero(ex: ModuleType) -> None:
    assert ex.extract_levels('{"b":[],"a":[["1","2"]]}', "b", 5) == []
    assert ex.extract_levels('{"b":[ ],"a":[["1","2"]]}', "a", 0) == []
    assert ex.extract_levels("[]", "", 3) == []
    assert ex.extract_levels("[[1,2],[3,4]]", "", 1) == [(1.0, 2.0)]


def test_stops_after_depth_and_ignores_the_rest(ex: ModuleType) -> None:
    # Documented: nothing after the stop point is examined.
    msg = '{"bids":[["1","2"],["3","4"]] GARBAGE'
    assert ex.extract_levels(msg, "bids", 2) == [(1.0, 2.0), (3.0, 4.0)]
    assert ex.extract_levels('{"bids":[["1","2"],{oops', "bids", 1) == [(1.0, 2.0)]
    with pytest.raises(ExtractError):
        ex.extract_levels('{"bids":[["1","2"],{oops', "bids", 2)
    levels, stop = ex._extract_with_stop('{"bids":[["1","2"],["3","4"]]}', "bids", 1)
    assert levels == [(1.0, 2.0)] and stop == len('{"bids":[["1","2"]')
    levels, stop = ex._extract_with_stop('{"bids":[["1","2"]] ,', "bids", 5)
    assert stop == len('{"bids":[["1","2"]]')
    assert ex._extract_with_stop('{"bids":[["1","2"]]}', "bids", 0) == ([], len('{"bids":['))


def test_key_nested_elsewhere_first(ex: ModuleType) -> None:
    msg = '{"x":{"bids":[["9","9"]]},"y":[{"bids":[]}],"bids":[["1","2"]]}'
    assert ex.extract_levels(msg, "bids", 5) == [(1.0, 2.0)]
    assert ex.extract_levels(msg, "x.bids", 5) == [(9.0, 9.0)]
    assert ex.extract_levels(msg, "y.0.bids", 5) == []


def test_skips_every_value_kind(ex: ModuleType) -> None:
    msg = (
        '{"s":"a\\"b\\\\c\\/\\u00e9\\ud83d\\ude00\\b\\f\\n\\r\\t]}","t":true,"f":false,"n":null,'
        '"num":-1.5e+10,"o":{"a":[1,{"b":[]},"]"],"c":{}},"arr":[[],[[]],{}],"é":"ü€😀",'
        ' "bids" : [ [ "1.5" , 2 , {"x":[1]} , null , "r" ] ] }'
    )
    assert bits(ex.extract_levels(msg, "bids", 3)) == bits(reference(msg, "bids", 3))
    assert bits(ex.extract_levels(msg.encode(), "bids", 3)) == bits(reference(msg, "bids", 3))


@pytest.mark.parametrize(
    "key",
    ['"b\\u0069ds"', '"\\u0062\\u0069\\u0064\\u0073"', '"bid\\u0073"'],
)
def test_escaped_key_matches(ex: ModuleType, key: str) -> None:
    msg = "{" + key + ':[["1","2"]]}'
    assert ex.extract_levels(msg, "bids", 1) == [(1.0, 2.0)]


def test_escaped_unicode_keys(ex: ModuleType) -> None:
    # U+00E9 written raw, as \u00e9, as \u00E9; U+1F600 as a surrogate pair; a slash as \/.
    for key in ('"é"', '"\\u00e9"', '"\\u00E9"'):
        assert ex.extract_levels("{" + key + ":[[1,2]]}", "é", 1) == [(1.0, 2.0)]
    assert ex.extract_levels('{"\\ud83d\\ude00":[[1,2]]}', "😀", 1) == [(1.0, 2.0)]
    assert ex.extract_levels('{"a\\/b":[[1,2]]}', "a/b", 1) == [(1.0, 2.0)]
    assert ex.extract_levels('{"a\\nb":[[1,2]]}', "a\nb", 1) == [(1.0, 2.0)]
    # a lone surrogate decodes to a str no path can spell: skipped, never matched
    with pytest.raises(ExtractError, match="not found"):
        ex.extract_levels('{"\\ud83d":[[1,2]]}', "x", 1)
    # near misses do not match
    for key in ('"bid"', '"bidss"', '"Bids"', '"bids\\u0000"', '"b\\u00efds"'):
        with pytest.raises(ExtractError, match="not found"):
            ex.extract_levels("{" + key + ":[[1,2]]}", "bids", 1)


def test_duplicate_keys_first_wins(ex: ModuleType) -> None:
    assert ex.extract_levels('{"b":[[1,2]],"b":[[3,4]]}', "b", 5) == [(1.0, 2.0)]


def test_numeric_path_components(ex: ModuleType) -> None:
    assert ex.extract_levels('{"1":{"as":[[1,2]]}}', "1.as", 1) == [(1.0, 2.0)]
    assert ex.extract_levels('[0,{"as":[[1,2]]}]', "1.as", 1) == [(1.0, 2.0)]
    assert ex.extract_levels('{"01":[[1,2]]}', "01", 1) == [(1.0, 2.0)]
    with pytest.raises(ExtractError, match="expected object"):
        ex.extract_levels("[0,[[1,2]]]", "01", 1)  # not a canonical index
    with pytest.raises(ExtractError, match="not found"):
        ex.extract_levels('[0,{"as":[]}]', "2.as", 1)
    with pytest.raises(ExtractError, match="not found"):
        ex.extract_levels("[]", "0", 1)


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------

NUMBER_TOKENS = [
    "0", "-0", "0.0", "-0.0", "-0e5", "0e-999", "1", "-1", "123456789", "1.5", "-2.25",
    "58001.03000000", "0.00000001", "1e10", "1E10", "1e+10", "1e-10", "2.5E-3", "9007199254740993",
    "123456789012345678901234567890", "1" * 300, "0." + "0" * 400 + "1", "1" * 25 + "." + "9" * 25,
    "1.7976931348623157e308", "4.9e-324", "2.2250738585072011e-308", "1e-400", "-1e-400",
    "0.1", "0.2", "0.30000000000000004", "3.141592653589793238462643383279",
    "8.98846567431158e307", "1e22", "1e23", "9007199254740992", "9007199254740992e-22",
    "12345678901234567", "123456789012345678", "1234567890123456789", "12345678901234567890",
    "0.000000000000000000001", "100000000000000000000000e-30",
]  # fmt: skip


@pytest.mark.parametrize("token", NUMBER_TOKENS)
def test_number_tokens_bit_exact(ex: ModuleType, token: str) -> None:
    msg = f'{{"b":[[{token},"{token}"]]}}'
    assert bits(ex.extract_levels(msg, "b", 1)) == bits(reference(msg, "b", 1))
    msg2 = f"[[ {token} ,{token}]]"
    assert bits(ex.extract_levels(msg2.encode(), "", 1)) == bits(reference(msg2, "", 1))


def test_negative_zero(ex: ModuleType) -> None:
    # json.loads gives int 0 for the token -0, so float() of it is +0.0; other forms keep the sign.
    ((p, q),) = ex.extract_levels('[[-0,"-0"]]', "", 1)
    assert math.copysign(1, p) == 1.0 and math.copysign(1, q) == -1.0
    ((p, q),) = ex.extract_levels("[[-0.0,-0e0]]", "", 1)
    assert math.copysign(1, p) == -1.0 and math.copysign(1, q) == -1.0


@pytest.mark.parametrize("content", ["+1", "5.", ".5", "-.5e-3", "+1E+2", "00012", "1e0400000", "0e99999999999"])
def test_numeric_string_forms_float_accepts(ex: ModuleType, content: str) -> None:
    msg = f'[["{content}","1"]]'
    if math.isfinite(float(content)):
        assert bits(ex.extract_levels(msg, "", 1)) == bits([(float(content), 1.0)])
    else:
        with pytest.raises(ExtractError, match="non-finite"):
            ex.extract_levels(msg, "", 1)


@pytest.mark.parametrize(
    "content",
    ["nan", "NaN", "inf", "-inf", "Infinity", "infinity", " 1", "1 ", "1_000", "١٢", "0x10", "", ".", "-", "e5",
     "1e", "1e+", "1.2.3", "\\u0031", "1\\n", "--1", "+-1"],
)  # fmt: skip
def test_numeric_string_restrictions(ex: ModuleType, content: str) -> None:
    # Documented: only plain decimals are accepted in strings; nan/inf and float()'s
    # extras (whitespace, underscores, non-ASCII digits) raise.
    msg = '[["' + content + '","1"]]'
    with pytest.raises(ExtractError, match="invalid numeric string") as info:
        ex.extract_levels(msg, "", 1)
    assert info.value.pos == 2


@pytest.mark.parametrize("token", ["1e400", "-1e400", "1" * 400, "-" + "9" * 309])
def test_non_finite_numbers_raise(ex: ModuleType, token: str) -> None:
    with pytest.raises(ExtractError, match="non-finite") as info:
        ex.extract_levels(f"[[1,{token}]]", "", 1)
    assert info.value.pos == 4


@pytest.mark.parametrize("token", ["01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "1.e5", "0x1", "NaN", "Infinity"])
def test_invalid_json_numbers_raise(ex: ModuleType, token: str) -> None:
    with pytest.raises(ExtractError):
        ex.extract_levels(f"[[{token},1]]", "", 1)


def test_long_digit_strings_exact(ex: ModuleType) -> None:
    import random

    rnd = random.Random(7)
    for _ in range(300):
        ip = str(rnd.randint(1, 9)) + "".join(rnd.choice("0123456789") for _ in range(rnd.randint(0, 40)))
        fp = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 40)))
        exp = rnd.choice(["", f"e{rnd.randint(-330, 300)}", f"E+{rnd.randint(0, 30)}"])
        text = f"{ip}.{fp}{exp}"
        if not math.isfinite(float(text)):
            continue
        msg = f'[[{text},"{text}"]]'
        assert bits(ex.extract_levels(msg, "", 1)) == bits(reference(msg, "", 1)), text


# ---------------------------------------------------------------------------------------
# Errors and positions
# ---------------------------------------------------------------------------------------

ERROR_CASES = [
    # (message, path, depth, message fragment, pos)
    ('{"bids":[["1","2"]]', "asks", 1, "unexpected end of input", 19),
    ('{"a":1}', "bids", 1, "path 'bids': 'bids' not found", 6),
    ("{}", "bids", 1, "not found", 1),
    ('{"data":{}}', "data.bids", 1, "path 'data.bids': 'bids' not found", 9),
    ('{"bids":{}}', "bids", 1, "expected array of levels", 8),
    ('{"bids":"x"}', "bids", 1, "expected array of levels", 8),
    ('{"bids":[1]}', "bids", 1, "level entry must be an array", 9),
    ('{"bids":[["1"]]}', "bids", 1, "level entry has fewer than 2 elements", 13),
    ('{"bids":[["1" "2"]]}', "bids", 1, "expected ','", 14),
    ('{"bids":[[true,"2"]]}', "bids", 1, "price and quantity must be numbers or numeric strings", 10),
    ('{"bids":[["1",null]]}', "bids", 1, "price and quantity must be numbers or numeric strings", 14),
    ('{"bids":[["1","2",]]}', "bids", 1, "unexpected character", 18),
    ('{"bids":[["1","2"],]}', "bids", 2, "level entry must be an array", 19),
    ('{"bids":[["1","2"] ["3","4"]]}', "bids", 2, "expected ',' or ']'", 19),
    ('{"x":[1,2,}', "bids", 1, "unexpected character", 10),
    ('{"x":{"a" 1}}', "bids", 1, "expected ':'", 10),
    ('{"x":{"a":1 "b":2}}', "bids", 1, "expected ',' or '}'", 12),
    ('{"x":{1:2}}', "bids", 1, "expected string key", 6),
    ('{"x":"a\x01b"}', "bids", 1, "control character in string", 7),
    ('{"x":"a\\xb"}', "bids", 1, "invalid escape in string", 7),
    ('{"x":"\\u12G4"}', "bids", 1, "invalid escape in string", 6),
    ('{"x":tru}', "bids", 1, "invalid literal", 5),
    ('{"x":nul', "bids", 1, "unexpected end of input", 8),
    ('{"x":-}', "bids", 1, "invalid number", 6),
    ('{"x":1.}', "bids", 1, "invalid number", 7),
    ('{"x":1e}', "bids", 1, "invalid number", 7),
    ('{"x":01}', "bids", 1, "expected ',' or '}'", 6),
    ('{"x":NaN}', "bids", 1, "unexpected character", 5),
    ('[1,2]', "bids", 1, "expected object", 0),
    ('"bids"', "0", 1, "expected object or array", 0),
    ("", "", 1, "unexpected end of input", 0),
    ("   ", "bids", 1, "unexpected end of input", 3),
    ('{"é":1,"bids":[[1,x]]}', "bids", 1, "price and quantity", 18),
]  # fmt: skip


@pytest.mark.parametrize(("message", "path", "depth", "fragment", "pos"), ERROR_CASES)
def test_errors_and_positions(ex: ModuleType, message: str, path: str, depth: int, fragment: str, pos: int) -> None:
    with pytest.raises(ExtractError) as info:
        ex.extract_levels(message, path, depth)
    assert fragment in str(info.value)
    assert info.value.pos == pos
    # bytes input reports byte offsets
    data = message.encode()
    with pytest.raises(ExtractError) as binfo:
        ex.extract_levels(data, path, depth)
    assert binfo.value.pos == len(message[:pos].encode())


def test_invalid_utf8_in_bytes(ex: ModuleType) -> None:
    for raw, pos in [
        (b'{"x":"\xff"}', 6),
        (b'{"x":"\xc3("}', 6),
        (b'{"x":"\xed\xa0\x80"}', 6),  # encoded surrogate
        (b'{"x":"\xe0\x80\x80"}', 6),  # overlong
        (b'{"x":"\xf4\x90\x80\x80"}', 6),  # > U+10FFFF
        (b'{"x":"\xc0\xaf"}', 6),
    ]:
        with pytest.raises(ExtractError, match="invalid UTF-8") as info:
            ex.extract_levels(raw, "bids", 1)
        assert info.value.pos == pos
    with pytest.raises(ExtractError, match="unexpected end") as info:
        ex.extract_levels(b'{"x":"\xe2\x82', "bids", 1)
    assert info.value.pos == 8


def test_str_with_lone_surrogate(ex: ModuleType) -> None:
    with pytest.raises(ExtractError, match="surrogate") as info:
        ex.extract_levels('{"x":"\ud800","bids":[]}', "bids", 1)
    assert info.value.pos == 6


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((b"[]", 5, 1), "path must be str"),
        ((b"[]", None, 1), "path must be str"),
        ((b"[]", "a..b", 1), "empty component"),
        ((b"[]", ".", 1), "empty component"),
        ((b"[]", "a.", 1), "empty component"),
        ((b"[]", "\ud800", 1), "not encodable"),
        ((b"[]", "", -1), "depth must be >= 0"),
        ((b"[]", "", 1.0), "depth must be int"),
        ((b"[]", "", True), "depth must be int"),
        ((b"[]", "", "1"), "depth must be int"),
        ((bytearray(b"[]"), "", 1), "message must be str or bytes"),
        ((memoryview(b"[]"), "", 1), "message must be str or bytes"),
        ((None, "", 1), "message must be str or bytes"),
        (([[1, 2]], "", 1), "message must be str or bytes"),
    ],
)
def test_bad_arguments(ex: ModuleType, args: tuple[Any, ...], fragment: str) -> None:
    with pytest.raises(ExtractError, match=fragment):
        ex.extract_levels(*args)


def test_huge_depth_means_all(ex: ModuleType) -> None:
    assert ex.extract_levels("[[1,2],[3,4]]", "", 10**30) == [(1.0, 2.0), (3.0, 4.0)]


def test_deep_nesting_is_bounded(ex: ModuleType) -> None:
    limit = ex.MAX_NESTING
    ok = '{"x":' + "[" * limit + "]" * limit + ',"b":[[1,2]]}'
    assert ex.extract_levels(ok, "b", 1) == [(1.0, 2.0)]
    bad = '{"x":' + "[" * (limit + 1) + "]" * (limit + 1) + ',"b":[[1,2]]}'
    with pytest.raises(ExtractError, match="nesting too deep") as info:
        ex.extract_levels(bad, "b", 1)
    assert info.value.pos == 5 + limit
    # a million open brackets: an error, not a crash
    with pytest.raises(ExtractError):
        ex.extract_levels('{"x":' + "[" * 1_000_000, "b", 1)


def test_many_levels_grow(ex: ModuleType) -> None:
    msg = json.dumps([[str(i), i] for i in range(5000)])
    assert ex.extract_levels(msg, "", 10_000) == [(float(i), float(i)) for i in range(5000)]
    assert len(ex.extract_levels(msg, "", 4097)) == 4097


# ---------------------------------------------------------------------------------------
# Truncation and mutation of venue messages: both twins, prefix-consistent
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", range(0, len(VENUE_CASES), 3))
def test_every_truncation(case: int) -> None:
    _, message, path = VENUE_CASES[case]
    message = message[:1500]  # keeps the test quick; the levels start well before
    for depth in (1, 5):
        try:
            _, full_stop = core_module("extract", "python")._extract_with_stop(message, path, depth)
        except ExtractError:
            full_stop = len(message) + 1  # the cut message never reaches a stop point
        for cut in range(len(message) + 1):
            kind, _ = both_twins(message[:cut], path, depth)
            # A cut before the stop point leaves levels unfinished: it must raise.
            assert (kind == "err") == (cut < full_stop), (cut, full_stop)


def test_byte_mutations_agree() -> None:
    import random

    rnd = random.Random(1234)
    alphabet = b'{}[],:"\\ \t\n0123456789-+.eEtrufalsn\x00\x1f\x7f\xc3\xa9\xff'
    for _, message, path in VENUE_CASES:
        data = message.encode()[:600]
        for _ in range(150):
            buf = bytearray(data)
            for _ in range(rnd.randint(1, 3)):
                op = rnd.randrange(3)
                at = rnd.randrange(len(buf) + 1)
                if op == 0 and at < len(buf):
                    del buf[at]
                elif op == 1:
                    buf.insert(at, rnd.choice(alphabet))
                elif at < len(buf):
                    buf[at] = rnd.choice(alphabet)
            blob = bytes(buf)
            depth = rnd.choice([0, 1, 3, 50])
            both_twins(blob, path, depth)
            try:
                text = blob.decode("utf-8")
            except UnicodeDecodeError:
                continue
            both_twins(text, path, depth)


# ---------------------------------------------------------------------------------------
# TopExtractor
# ---------------------------------------------------------------------------------------


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]], uid: int = 1) -> str:
    return json.dumps({"lastUpdateId": uid, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]})


def test_top_extractor_change_detection(ex: ModuleType) -> None:
    top = ex.TopExtractor("bids", "asks", 2)
    assert top.depth == 2 and top.bids == () and top.asks == ()
    assert top.bids_path == "bids" and top.asks_path == "asks"
    m1 = _book([("10", "1"), ("9", "2"), ("8", "3")], [("11", "1"), ("12", "2")])
    assert top.update(m1) is True
    assert top.bids == ((10.0, 1.0), (9.0, 2.0)) and top.asks == ((11.0, 1.0), (12.0, 2.0))
    # same top 2 (a level below the top changed, another update id): no change
    assert top.update(_book([("10", "1"), ("9", "2"), ("7", "9")], [("11", "1"), ("12", "2")], uid=2)) is False
    # same values written differently: still no change
    assert top.update(_book([("10.0", "1.00"), ("9e0", "2")], [("11", "1"), ("12", "2")]).encode()) is False
    # quantity change
    assert top.update(_book([("10", "1"), ("9", "2.5")], [("11", "1"), ("12", "2")])) is True
    assert top.bids == ((10.0, 1.0), (9.0, 2.5))
    # price change on the ask side
    assert top.update(_book([("10", "1"), ("9", "2.5")], [("11.5", "1"), ("12", "2")])) is True
    # count change (fewer asks)
    assert top.update(_book([("10", "1"), ("9", "2.5")], [("11.5", "1")])) is True
    assert top.asks == ((11.5, 1.0),)
    assert top.update(_book([("10", "1"), ("9", "2.5")], [("11.5", "1")])) is False
    # sign of zero is a change (bitwise comparison)
    assert top.update(_book([("10", "1"), ("9", "2.5")], [("11.5", "0")])) is True
    assert top.update(_book([("10", "1"), ("9", "2.5")], [("11.5", "-0")])) is True
    # both sides empty
    assert top.update(_book([], [])) is True
    assert top.bids == () and top.asks == ()
    assert top.update(_book([], [])) is False


def test_top_extractor_bad_input_keeps_state(ex: ModuleType) -> None:
    top = ex.TopExtractor("data.bids", "data.asks", 3)
    good = '{"data":{"bids":[["1","1"]],"asks":[["2","1"]]}}'
    assert top.update(good) is True
    for bad in ['{"data":{"bids":[["1","1"]]}}', '{"data":{"bids":[["1",', "", '{"data":{"asks":[["2","1"]]}}', 42]:
        with pytest.raises(ExtractError):
            top.update(bad)
        assert top.bids == ((1.0, 1.0),) and top.asks == ((2.0, 1.0),)
    assert top.update(good) is False


def test_top_extractor_error_names_the_side(ex: ModuleType) -> None:
    top = ex.TopExtractor("1.b", "1.a", 10)
    with pytest.raises(ExtractError, match=r"path '1\.a': 'a' not found") as info:
        top.update('[1,{"b":[["1","2","3"]]},"book-10","XBT/USD"]')
    assert info.value.pos == len('[1,{"b":[["1","2","3"]]')
    with pytest.raises(ExtractError, match=r"path '1\.b': 'b' not found"):
        top.update('[1,{"a":[["1","2","3"]]},"book-10","XBT/USD"]')


def test_top_extractor_reset(ex: ModuleType) -> None:
    top = ex.TopExtractor(bids_path="b", asks_path="a", depth=5)
    assert repr(top) == "TopExtractor(bids_path='b', asks_path='a', depth=5)"
    msg = '{"a":[[2,1]],"b":[[1,1]]}'
    assert top.update(msg) is True
    assert top.update(msg) is False
    top.reset()
    assert top.bids == () and top.asks == ()
    assert top.update(msg) is True
    top.reset()
    assert top.update('{"a":[],"b":[]}') is True  # after reset even an empty book is a change


def test_top_extractor_any_side_order_and_depth(ex: ModuleType) -> None:
    top = ex.TopExtractor("bids", "asks", 3)
    levels = [[str(100 - i), str(i + 1)] for i in range(10)]
    asks_first = json.dumps({"asks": levels, "bids": levels[::-1]})
    assert top.update(asks_first) is True
    assert top.asks == tuple((float(p), float(q)) for p, q in levels[:3])
    assert top.bids == tuple((float(p), float(q)) for p, q in levels[::-1][:3])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("bids", "asks", 0), "depth must be in"),
        (("bids", "asks", -1), "depth must be >= 0"),
        (("bids", "asks", 10**9), "depth must be in"),
        (("bids", "asks", 2.0), "depth must be int"),
        ((None, "asks", 2), "path must be str"),
        (("bids", "a..b", 2), "empty component"),
    ],
)
def test_top_extractor_bad_arguments(ex: ModuleType, args: tuple[Any, ...], fragment: str) -> None:
    with pytest.raises(ExtractError, match=fragment):
        ex.TopExtractor(*args)


def test_top_extractor_matches_extract_levels(ex: ModuleType) -> None:
    for _, message, path in VENUE_CASES:
        other = {"bids": "asks", "asks": "bids", "b": "a", "a": "b"}
        head, _, last = path.rpartition(".")
        if last not in other:
            continue
        sibling = (head + "." if head else "") + other[last]
        top = ex.TopExtractor(path, sibling, 7)
        try:
            want_b = ex.extract_levels(message, path, 7)
            want_a = ex.extract_levels(message, sibling, 7)
        except ExtractError:
            with pytest.raises(ExtractError):
                top.update(message)
            continue
        assert top.update(message) is True
        assert bits(top.bids) == bits(want_b) and bits(top.asks) == bits(want_a)
