"""The JSON document scanner (``dragonfly._core.doc``), both twins: every accessor and every error path.

References are computed independently: ``json.loads`` for values (with
``parse_float=str, parse_int=str`` for the source text of numbers), ``float()``/``int()``
on the text for conversions (compared bit for bit with ``float.hex``), and positions
written out by hand. Helpers here (``outcome``, ``strict_loads``, ``both``) are reused
by the other ``test_doc_*`` modules.
"""

from __future__ import annotations

import json
import math
import sys
from types import ModuleType
from typing import Any

import pytest
from conftest import core_module

from dragonfly._env import NO_EXTENSIONS
from dragonfly.errors import DragonflyError, ExtractError

# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def strict_loads(data: str | bytes) -> Any:
    """The strict RFC 8259 reference: strict UTF-8, no NaN/Infinity, nesting <= 128;
    numbers as their source text. Raises ValueError for anything the Doc must reject."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    text.encode("utf-8")  # lone surrogates in a str: UnicodeEncodeError (a ValueError)
    value = json.loads(text, parse_constant=_reject_constant, parse_float=str, parse_int=str)
    if _depth(value) > 128:
        raise ValueError("too deep")
    return value


def outcome(mod: ModuleType, data: Any) -> tuple[str, Any]:
    """("ok", value with text numbers) or ("err", (message, pos)): comparable across twins."""
    try:
        doc = mod.Doc(data)
    except ExtractError as exc:
        return "err", (str(exc), exc.pos)
    return "ok", doc.value(doc.root, text_numbers=True)


def both(data: Any) -> tuple[str, Any]:
    """Outcome of the pure twin; the compiled twin (when built) must agree exactly, and
    the document must be accepted exactly when the strict reference accepts it."""
    py = outcome(core_module("doc", "python"), data)
    if not NO_EXTENSIONS:
        assert outcome(core_module("doc", "cython"), data) == py, data
    try:
        want: tuple[str, Any] = ("ok", strict_loads(data))
    except (ValueError, RecursionError):
        want = ("err", None)
    assert py[0] == want[0], (data, py)
    if want[0] == "ok":
        assert py[1] == want[1]
    return py


def fbits(x: float) -> str:
    return float.hex(x)


@pytest.fixture
def dm(core_impl: str) -> ModuleType:
    return core_module("doc", core_impl)


# ---------------------------------------------------------------------------------------
# Module surface
# ---------------------------------------------------------------------------------------


def test_selector_and_constants() -> None:
    from dragonfly._core import doc, doc_py

    assert (doc.NULL, doc.FALSE, doc.TRUE, doc.NUMBER, doc.STRING, doc.ARRAY, doc.OBJECT) == tuple(range(7))
    assert doc.MAX_DEPTH == 128
    assert doc.KIND_NAMES == ("null", "false", "true", "number", "string", "array", "object")
    if NO_EXTENSIONS:
        assert doc.Doc is doc_py.Doc
    else:
        assert doc.Doc is core_module("doc", "cython").Doc
        c = core_module("doc", "cython")
        for name in ("NULL", "FALSE", "TRUE", "NUMBER", "STRING", "ARRAY", "OBJECT", "MAX_DEPTH", "KIND_NAMES"):
            assert getattr(c, name) == getattr(doc_py, name)


def test_error_type() -> None:
    assert issubclass(ExtractError, ValueError) and issubclass(ExtractError, DragonflyError)


# ---------------------------------------------------------------------------------------
# Navigation
# ---------------------------------------------------------------------------------------

SAMPLE = '{"s":"x","n":-1.5e3,"i":42,"t":true,"f":false,"z":null,"a":[1,[2,3],{"k":"v"}],"o":{},"e":[]}'


def test_kinds_and_tape_order(dm: ModuleType) -> None:
    d = dm.Doc(SAMPLE)
    assert d.root == 0 and d.kind(0) == dm.OBJECT
    kinds = {k: d.kind(d.get(0, k)) for k in "snitfzaoe"}
    assert kinds == {
        "s": dm.STRING, "n": dm.NUMBER, "i": dm.NUMBER, "t": dm.TRUE, "f": dm.FALSE,
        "z": dm.NULL, "a": dm.ARRAY, "o": dm.OBJECT, "e": dm.ARRAY,
    }  # fmt: skip
    # document order: object, then key/value pairs; keys are string values on the tape
    assert d.get(0, "s") == 2 and d.kind(1) == dm.STRING and d.str(1) == "s"
    assert len(d) == 1 + 2 * 9 + 3 + 2 + 2  # root, 9 members, [1,[2,3],{..}] contents, [2,3], {"k":"v"}
    assert repr(d) == f"<Doc object values={len(d)} bytes={len(SAMPLE)}>"


def test_get(dm: ModuleType) -> None:
    d = dm.Doc('{"a":1,"b\\u0069ds":2,"a":3,"é":4,"\\ud800":5,"":6,"x\\"y":7}')
    assert d.int(d.get(0, "a")) == 1  # first of duplicates
    assert d.int(d.get(0, "bids")) == 2  # keys compare decoded
    assert d.int(d.get(0, "é")) == 4
    assert d.int(d.get(0, "\ud800")) == 5  # a lone surrogate key only matches an escaped one
    assert d.int(d.get(0, "")) == 6
    assert d.int(d.get(0, 'x"y')) == 7
    assert d.get(0, "missing") == -1 and d.get(0, "A") == -1 and d.get(0, "bid") == -1
    arr = dm.Doc('[{"a":1}]')
    assert arr.get(0, "a") == -1  # not an object
    assert arr.get(1, "a") == 3
    assert arr.get(3, "a") == -1  # a number
    with pytest.raises(TypeError, match="key must be str"):
        arr.get(1, b"a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key must be str"):
        arr.get(1, 1)  # type: ignore[arg-type]


def test_at(dm: ModuleType) -> None:
    d = dm.Doc('[[10,11,12,13,14,15],[20,21],"x",{"a":1}]')
    outer = d.root
    inner = d.at(outer, 0)
    second = d.at(outer, 1)
    assert [d.int(d.at(inner, i)) for i in range(6)] == [10, 11, 12, 13, 14, 15]
    # out of order and interleaved reads (the compiled twin remembers the last position)
    assert [d.int(d.at(inner, i)) for i in (4, 1, 5, 0, 3, 3)] == [14, 11, 15, 10, 13, 13]
    assert [d.int(d.at(x, i)) for x, i in ((inner, 2), (second, 1), (inner, 3), (second, 0))] == [12, 21, 13, 20]
    assert d.int(d.at(inner, -1)) == 15 and d.int(d.at(inner, -6)) == 10
    assert d.at(inner, 6) == -1 and d.at(inner, -7) == -1 and d.at(inner, 10**6) == -1
    assert d.str(d.at(outer, -2)) == "x"
    assert d.at(d.at(outer, 2), 0) == -1  # not an array
    assert d.at(d.at(outer, 3), 0) == -1  # an object is not indexable
    assert dm.Doc("[]").at(0, 0) == -1 and dm.Doc("[]").at(0, -1) == -1


def test_len_and_children(dm: ModuleType) -> None:
    text = ' {"a" : [1, [2], {}], "b": {"c": null, "d": "e"}} '
    d = dm.Doc(text)
    a, b = d.get(0, "a"), d.get(0, "b")
    assert d.len(0) == 2 and d.len(a) == 3 and d.len(b) == 2 and d.len(d.at(a, 2)) == 0
    assert d.children(0) == [a, b]
    assert [d.kind(h) for h in d.children(a)] == [dm.NUMBER, dm.ARRAY, dm.OBJECT]
    assert d.children(b) == [d.get(b, "c"), d.get(b, "d")]
    assert d.children(d.at(a, 2)) == []
    for h, pos in (
        (d.at(a, 0), text.index("1")),
        (d.get(b, "c"), text.index("null")),
        (d.get(b, "d"), text.index('"e"')),
    ):
        with pytest.raises(ExtractError, match="not an array or object") as info:
            d.len(h)
        assert info.value.pos == pos
        with pytest.raises(ExtractError, match="not an array or object"):
            d.children(h)


# ---------------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------------

ESCAPED = [
    ('"plain"', "plain"),
    ('""', ""),
    ('"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\/\b\f\n\r\t'),
    ('"\\u00e9\\u00E9é€😀"', "ééé€😀"),
    ('"\\ud83d\\ude00"', "😀"),
    ('"\\ud800"', "\ud800"),  # lone high surrogate, as json.loads gives it
    ('"\\udc00x"', "\udc00x"),  # lone low surrogate
    ('"\\ud800\\u0041"', "\ud800A"),  # high surrogate then a non-surrogate escape
    ('"\\ud800\\ud800\\udc00"', "\ud800\U00010000"),
    ('"a\\u0000b"', "a\x00b"),
    ('"' + "x" * 300 + '\\n"', "x" * 300 + "\n"),  # longer than the compiled twin's stack buffer
]


@pytest.mark.parametrize(("literal", "value"), ESCAPED)
def test_str_decodes(dm: ModuleType, literal: str, value: str) -> None:
    assert json.loads(literal) == value  # the table itself is right
    for data in (literal, literal.encode(), "[" + literal + "]"):
        d = dm.Doc(data)
        h = d.at(0, 0) if d.kind(0) == dm.ARRAY else 0
        assert d.str(h) == value and d.text(h) == value and d.value(h) == value


def test_str_and_text_errors(dm: ModuleType) -> None:
    d = dm.Doc('[1, true, null, [], {}, "é", 2]')
    for i, pos in ((0, 1), (1, 4), (2, 10), (3, 16), (4, 20)):
        with pytest.raises(ExtractError, match="not a string") as info:
            d.str(d.at(0, i))
        assert info.value.pos == pos
    for i in (1, 2, 3, 4):
        with pytest.raises(ExtractError, match="not a number or string"):
            d.text(d.at(0, i))
    with pytest.raises(ExtractError, match="not a string") as info:
        d.str(d.at(0, 6))
    assert info.value.pos == 29  # characters for str input ("é" is one)
    b = dm.Doc('[1, true, null, [], {}, "é", 2]'.encode())
    with pytest.raises(ExtractError, match="not a string") as info:
        b.str(b.at(0, 6))
    assert info.value.pos == 30  # bytes for bytes input


NUMBER_TEXTS = ["0", "-0", "1", "-1", "1.50000", "-0.0", "1E+5", "2e-3", "5e-324", "1e400", "-1e400",
                "123456789012345678901234567890", "0.1", "9007199254740993", "1.7976931348623157e308",
                "2.2250738585072011e-308", "0." + "0" * 30 + "1", "1" + "0" * 40 + ".5e-20",
                "-0e-5", "0.000e99", "-0.00000000", "0e-999999"]  # fmt: skip


@pytest.mark.parametrize("token", NUMBER_TEXTS)
def test_number_text_and_float(dm: ModuleType, token: str) -> None:
    d = dm.Doc(f'[{token}, "{token}"]')
    num, s = d.at(0, 0), d.at(0, 1)
    assert d.text(num) == token and d.text(s) == token
    assert fbits(d.float(num)) == fbits(float(token))
    assert fbits(d.float(s)) == fbits(float(token))
    assert d.value(num, text_numbers=True) == token
    want = json.loads(token)
    got = d.value(num)
    assert type(got) is type(want) and (got == want or (math.isnan(got) and math.isnan(want)))
    if isinstance(want, float):
        assert fbits(got) == fbits(want)


@pytest.mark.parametrize("content", ["+1", "5.", ".5", "-.5e-3", "+1E+2", "00012", "1e0400000", "0e99999999999"])
def test_numeric_strings(dm: ModuleType, content: str) -> None:
    d = dm.Doc(f'"{content}"')
    assert fbits(d.float(0)) == fbits(float(content))
    escaped = dm.Doc('"' + "".join(f"\\u{ord(c):04x}" for c in content) + '"')
    assert fbits(escaped.float(0)) == fbits(float(content))


@pytest.mark.parametrize(
    "content",
    ["", " 1", "1 ", "1_0", "nan", "inf", "-Infinity", "0x10", "1e", "1e+", ".", "-", "+-1", "١٢", "1.2.3", "e5"],
)
def test_float_rejects(dm: ModuleType, content: str) -> None:
    d = dm.Doc(json.dumps(["ab", content]))
    with pytest.raises(ExtractError, match="not a number or numeric string") as info:
        d.float(d.at(0, 1))
    assert info.value.pos == 7


def test_float_rejects_other_kinds(dm: ModuleType) -> None:
    d = dm.Doc("[true, false, null, [], {}]")
    for i, pos in enumerate((1, 7, 14, 20, 24)):
        with pytest.raises(ExtractError, match="not a number or numeric string") as info:
            d.float(d.at(0, i))
        assert info.value.pos == pos


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("0", 0), ("-0", 0), ("42", 42), ("-42", -42), ("9" * 18, int("9" * 18)), ("-" + "9" * 18, -int("9" * 18)),
        ("1" * 19, int("1" * 19)), ("-" + "7" * 60, -int("7" * 60)), ('"123"', 123), ('"-5"', -5), ('"007"', 7),
        ('"-0"', 0), ('"\\u0031\\u0032"', 12), ('"' + "3" * 40 + '"', int("3" * 40)),
    ],
)  # fmt: skip
def test_int(dm: ModuleType, literal: str, value: int) -> None:
    d = dm.Doc(literal)
    got = d.int(0)
    assert type(got) is int and got == value


@pytest.mark.parametrize(
    "literal",
    [
        "1.0", "1e5", "-0.0", '"+5"', '" 5"', '"5 "', '""', '"-"', '"1.5"', '"1_0"', '"\u0661"',  # an Arabic-Indic 1
        "true", "null", "[]", "{}",
    ],
)
def test_int_rejects(dm: ModuleType, literal: str) -> None:
    d = dm.Doc("[ " + literal + "]")
    with pytest.raises(ExtractError, match="not an integer") as info:
        d.int(d.at(0, 0))
    assert info.value.pos == 2


def test_int_beyond_the_digit_limit(dm: ModuleType) -> None:
    limit = sys.get_int_max_str_digits()
    if limit == 0:
        pytest.skip("the interpreter has no int digit limit")
    big = "9" * (limit + 1)
    d = dm.Doc(f'[{big}, "{big}", {{"k": [{big}]}}]')
    for h in (d.at(0, 0), d.at(0, 1)):
        with pytest.raises(ExtractError, match="integer too large to convert"):
            d.int(h)
    with pytest.raises(ExtractError, match="integer too large to convert") as info:
        d.value(0)
    assert info.value.pos == 1
    assert d.value(0, text_numbers=True) == [big, big, {"k": [big]}]
    assert d.float(d.at(0, 0)) == math.inf
    ok = "9" * limit
    assert dm.Doc(ok).int(0) == int(ok)


# ---------------------------------------------------------------------------------------
# value()
# ---------------------------------------------------------------------------------------

VALUES = [
    SAMPLE,
    '{"a":1,"a":2}',  # duplicates: value() keeps the last, as json.loads
    '[1, 2.5, -0, -0.0, 1e2, 1E-2, 12345678901234567890123, "x", [], {}, [[[]]], {"":{"":null}}]',
    '"\\ud83d\\ude00\\u00e9"',
    "  \t\r\n 3 \n",
    "[" * 128 + "]" * 128,
]


@pytest.mark.parametrize("text", VALUES)
def test_value_equals_json_loads(dm: ModuleType, text: str) -> None:
    for data in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
        d = dm.Doc(data)
        assert d.value(0) == json.loads(text)
        assert d.value(0, text_numbers=True) == json.loads(text, parse_float=str, parse_int=str)
        assert d.value(d.root, True) == d.value(0, text_numbers=1)


def test_value_of_subtrees(dm: ModuleType) -> None:
    d = dm.Doc(SAMPLE)
    ref = json.loads(SAMPLE)
    for key in ref:
        assert d.value(d.get(0, key)) == ref[key]
        assert d.value(d.get(0, key) - 1) == key  # the key's own handle
    a = d.get(0, "a")
    assert d.value(d.at(a, 2)) == {"k": "v"}
    assert d.value(d.at(d.at(a, 1), 1), text_numbers=True) == "3"


def test_value_float_bits(dm: ModuleType) -> None:
    tokens = ["-0.0", "5e-324", "1e400", "0.30000000000000004", "123.456e-7", "1" * 30 + ".5"]
    d = dm.Doc("[" + ",".join(tokens) + "]")
    got = d.value(0)
    assert [fbits(x) for x in got] == [fbits(float(t)) for t in tokens]


# ---------------------------------------------------------------------------------------
# Handles and input types
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["kind", "len", "children", "str", "text", "int", "float", "value"])
def test_bad_handles(dm: ModuleType, method: str) -> None:
    d = dm.Doc("[1,2]")
    fn = getattr(d, method)
    for h in (-1, -2, 3, 1000, -(2**40)):
        with pytest.raises(IndexError, match=f"handle {h} out of range"):
            fn(h)
    with pytest.raises(TypeError):
        fn(1.0)
    with pytest.raises(TypeError):
        fn("0")
    with pytest.raises(OverflowError):
        fn(2**70)
    if method in ("kind", "text", "int", "float", "value"):
        assert fn(True) == fn(1)  # bool is an int


def test_bad_handles_get_at(dm: ModuleType) -> None:
    d = dm.Doc('[{"a":1}]')
    for h in (-1, 4):
        with pytest.raises(IndexError, match="out of range"):
            d.get(h, "a")
        with pytest.raises(IndexError, match="out of range"):
            d.at(h, 0)
    with pytest.raises(TypeError):
        d.at(0, 0.5)
    with pytest.raises(OverflowError):
        d.at(0, 2**70)


def test_input_types(dm: ModuleType) -> None:
    text = '{"é":["1.5",2]}'
    data = bytearray(text.encode())
    d = dm.Doc(data)
    data[2:4] = b"zz"  # the document keeps its own copy
    assert d.value(0) == {"é": ["1.5", 2]}
    for bad in (None, 1, 1.5, ["[]"], {"a": 1}, object()):
        with pytest.raises(ExtractError, match="document must be str, bytes, bytearray or memoryview") as info:
            dm.Doc(bad)
        assert info.value.pos == -1
    mv = memoryview(b"xx[1, 2]xx")[2:-2]
    assert dm.Doc(mv).value(0) == [1, 2]


def test_str_with_lone_surrogate(dm: ModuleType) -> None:
    with pytest.raises(ExtractError, match="lone surrogate") as info:
        dm.Doc('{"x":"\ud800"}')
    assert info.value.pos == 6


# ---------------------------------------------------------------------------------------
# Parse errors and positions
# ---------------------------------------------------------------------------------------

PARSE_ERRORS = [
    # (document, message fragment, pos in characters)
    ("", "unexpected end of input", 0),
    ("   ", "unexpected end of input", 3),
    ("[1,2", "unexpected end of input", 4),
    ('{"a":1', "unexpected end of input", 6),
    ('{"a"', "unexpected end of input", 4),
    ('{"a":', "unexpected end of input", 5),
    ('"abc', "unexpected end of input", 4),
    ('"ab\\', "unexpected end of input", 4),
    ('"\\u12', "unexpected end of input", 5),
    ("tru", "unexpected end of input", 3),
    ("-", "unexpected end of input", 1),
    ("1.", "unexpected end of input", 2),
    ("1e", "unexpected end of input", 2),
    ("1e+", "unexpected end of input", 3),
    ("[1,]", "unexpected character", 3),
    ("[,1]", "unexpected character", 1),
    ('{"a":1,}', "expected string key", 7),
    ("{1:2}", "expected string key", 1),
    ("{'a':1}", "expected string key", 1),
    ('{"a" 1}', "expected ':'", 5),
    ('{"a":1 "b":2}', "expected ',' or '}'", 7),
    ("[1 2]", "expected ',' or ']'", 3),
    ("[1}", "expected ',' or ']'", 2),
    ('{"a":1]', "expected ',' or '}'", 6),
    ("NaN", "unexpected character", 0),
    ("[Infinity]", "unexpected character", 1),
    ("-Infinity", "invalid number", 1),
    ("[-]", "invalid number", 2),
    ("01", "extra data after the document", 1),
    ("1.e5", "invalid number", 2),
    ("1.5e", "unexpected end of input", 4),
    ("[1e+x]", "invalid number", 4),
    ("+1", "unexpected character", 0),
    (".5", "unexpected character", 0),
    ("[truE]", "invalid literal", 1),
    ("nul", "unexpected end of input", 3),
    ("nulL", "invalid literal", 0),
    ('"a\x01b"', "control character in string", 2),
    ('"a\nb"', "control character in string", 2),
    ('"\\x"', "invalid escape in string", 1),
    ('"\\U0041"', "invalid escape in string", 1),
    ('"\\u12G4"', "invalid escape in string", 1),
    ("1 2", "extra data after the document", 2),
    ("[] []", "extra data after the document", 3),
    ('{"a":1}}', "extra data after the document", 7),
    ("[1] x", "extra data after the document", 4),
    ("/* c */ 1", "unexpected character", 0),
    ("[1] // c", "extra data after the document", 4),
    ("\ufeff[]", "unexpected character", 0),  # a BOM is not whitespace
    ("\u00a0[]", "unexpected character", 0),  # neither is a no-break space
    ('["é", x]', "unexpected character", 6),  # characters, not bytes
    ("[" * 129 + "]" * 129, "nesting too deep", 128),
    ('{"a":' * 129 + "1" + "}" * 129, "nesting too deep", 5 * 128),
]


@pytest.mark.parametrize(("text", "fragment", "pos"), PARSE_ERRORS)
def test_parse_errors_and_positions(dm: ModuleType, text: str, fragment: str, pos: int) -> None:
    with pytest.raises(ExtractError) as info:
        dm.Doc(text)
    assert fragment in str(info.value)
    assert info.value.pos == pos
    data = text.encode()
    with pytest.raises(ExtractError) as binfo:
        dm.Doc(data)
    assert str(binfo.value).split(" at offset")[0] == str(info.value).split(" at offset")[0]
    assert binfo.value.pos == len(text[:pos].encode())


def test_nesting_limit(dm: ModuleType) -> None:
    ok = "[" * 128 + "]" * 128
    assert dm.Doc(ok).len(0) == 1
    assert dm.Doc('{"a":' * 127 + "[]" + "}" * 127).value(0) == json.loads('{"a":' * 127 + "[]" + "}" * 127)
    with pytest.raises(ExtractError, match="nesting too deep") as info:
        dm.Doc('{"a":' * 128 + "[]" + "}" * 128)
    assert info.value.pos == 5 * 128  # the array would be the 129th container
    with pytest.raises(ExtractError, match="nesting too deep"):
        dm.Doc("[" * 1_000_000)  # an error, not a crash


def test_invalid_utf8_in_bytes(dm: ModuleType) -> None:
    for raw, pos in [
        (b'["\xff"]', 2),
        (b'["\xc3("]', 2),
        (b'["\xed\xa0\x80"]', 2),  # encoded surrogate
        (b'["\xe0\x80\x80"]', 2),  # overlong
        (b'["\xf4\x90\x80\x80"]', 2),  # > U+10FFFF
        (b'["\xc0\xaf"]', 2),
        (b'["ok\x80"]', 4),  # a lone continuation byte
    ]:
        with pytest.raises(ExtractError, match="invalid UTF-8") as info:
            dm.Doc(raw)
        assert info.value.pos == pos
    with pytest.raises(ExtractError, match="unexpected end") as info:
        dm.Doc(b'["\xe2\x82')
    assert info.value.pos == 4
    with pytest.raises(ExtractError, match="unexpected character") as info:
        dm.Doc(b"[\xc3\xa9]")  # valid UTF-8, but outside a string
    assert info.value.pos == 1


def test_long_documents(dm: ModuleType) -> None:
    levels = [[f"{100 + i / 100:.2f}", str(i)] for i in range(5000)]
    text = json.dumps({"bids": levels, "pad": "x" * 10_000})
    d = dm.Doc(text)
    bids = d.get(0, "bids")
    assert d.len(bids) == 5000 and d.value(bids) == levels
    assert d.text(d.at(d.at(bids, -1), 0)) == levels[-1][0]
    assert d.str(d.get(0, "pad")) == "x" * 10_000


def test_twins_agree_on_the_error_tables() -> None:
    from test_extract import ERROR_CASES

    for text, _fragment, _pos in PARSE_ERRORS:
        assert both(text)[0] == "err"
        assert both(text.encode())[0] == "err"
    for message, *_ in ERROR_CASES:  # the extractor's error inputs: whole-document verdicts
        both(message)
        both(message.encode())
    for text in VALUES:
        assert both(text)[0] == "ok"
