"""Strict JSON scanning shared by the pure-Python twins :mod:`~dragonfly._core.doc_py` and
:mod:`~dragonfly._core.extract_py` (the compiled twins share ``_json_c.pxd`` the same way).

Positions are byte offsets in the UTF-8 text ``b`` of length ``n``; a primitive that finds the text malformed
raises :class:`Fail` with the message and the offset of the offending byte (``n`` for a truncation), which each
module turns into an :class:`~dragonfly.errors.ExtractError` at its public boundary. The messages are those of
RFC 8259's grammar, checked strictly: string escapes, control characters, UTF-8 (no overlong forms, encoded
surrogates or code points above U+10FFFF), the number grammar, the three literals.
"""

from __future__ import annotations

import json
import re

__all__ = (
    "E_ARR_SEP",
    "E_CHAR",
    "E_COLON",
    "E_CTRL",
    "E_EOF",
    "E_ESCAPE",
    "E_KEY",
    "E_LITERAL",
    "E_NESTING",
    "E_NUMBER",
    "E_OBJ_SEP",
    "E_UTF8",
    "LITERALS",
    "MESSAGES",
    "PLAIN_STRING",
    "WS",
    "Fail",
    "char_pos",
    "digits_end",
    "literal_end",
    "member_value",
    "number_end",
    "string_end",
    "unescape",
    "ws",
)

E_EOF = "unexpected end of input"
E_CHAR = "unexpected character"
E_CTRL = "control character in string"
E_ESCAPE = "invalid escape in string"
E_UTF8 = "invalid UTF-8 in string"
E_NUMBER = "invalid number"
E_LITERAL = "invalid literal"
E_KEY = "expected string key"
E_COLON = "expected ':'"
E_OBJ_SEP = "expected ',' or '}'"
E_ARR_SEP = "expected ',' or ']'"
E_NESTING = "nesting too deep"
#: The messages in the order of the compiled scanner's codes (``E_OK`` ... ``E_NESTING`` in ``_json_c.pxd``).
MESSAGES = (
    "",
    E_EOF,
    E_CHAR,
    E_CTRL,
    E_ESCAPE,
    E_UTF8,
    E_NUMBER,
    E_LITERAL,
    E_KEY,
    E_COLON,
    E_OBJ_SEP,
    E_ARR_SEP,
    E_NESTING,
)

#: The literals by their first byte.
LITERALS = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}

#: JSON whitespace: ``WS.match(b, i).end()`` is the offset past the whitespace at ``i``.
WS = re.compile(rb"[ \t\n\r]*")
_DIGITS = re.compile(rb"[0-9]*")
_PLAIN = re.compile(rb'[^"\\\x00-\x1f\x80-\xff]*')
#: The rest of a plain string (no escape, control character or byte >= 0x80) and its closing quote.
PLAIN_STRING = re.compile(rb'[^"\\\x00-\x1f\x80-\xff]*"')
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = frozenset(b'"\\/bfnrt')


class Fail(Exception):
    """Malformed text: carries a message and a byte offset up to the public boundary."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def ws(b: bytes, i: int) -> int:
    """The offset past the JSON whitespace (space, tab, LF, CR) at ``i``."""
    try:
        if b[i] > 0x20:  # the usual case: no whitespace at all
            return i
    except IndexError:
        return i
    return WS.match(b, i).end()  # type: ignore[union-attr]


def digits_end(b: bytes, i: int) -> int:
    """The offset past the ASCII digits at ``i``."""
    return _DIGITS.match(b, i).end()  # type: ignore[union-attr]


def char_pos(b: bytes, pos: int) -> int:
    """Byte offset ``pos`` in the UTF-8 text ``b`` -> character offset."""
    return pos - sum(1 for c in b[:pos] if 0x80 <= c <= 0xBF)


def _utf8_end(b: bytes, i: int, n: int) -> int:
    """The end of the UTF-8 sequence whose lead byte (>= 0x80) is at ``i``."""
    c = b[i]
    if 0xC2 <= c <= 0xDF:
        need, lo, hi = 1, 0x80, 0xBF
    elif c == 0xE0:
        need, lo, hi = 2, 0xA0, 0xBF
    elif 0xE1 <= c <= 0xEC or 0xEE <= c <= 0xEF:
        need, lo, hi = 2, 0x80, 0xBF
    elif c == 0xED:
        need, lo, hi = 2, 0x80, 0x9F
    elif c == 0xF0:
        need, lo, hi = 3, 0x90, 0xBF
    elif 0xF1 <= c <= 0xF3:
        need, lo, hi = 3, 0x80, 0xBF
    elif c == 0xF4:
        need, lo, hi = 3, 0x80, 0x8F
    else:
        raise Fail(E_UTF8, i)
    for k in range(1, need + 1):
        if i + k >= n:
            raise Fail(E_EOF, n)
        d = b[i + k]
        if k == 1:
            if not lo <= d <= hi:
                raise Fail(E_UTF8, i)
        elif not 0x80 <= d <= 0xBF:
            raise Fail(E_UTF8, i)
    return i + need + 1


def string_end(b: bytes, p: int, n: int) -> tuple[int, bool]:
    """``b[p]`` is the opening quote: validate the string; return the offset after the closing quote and
    whether the string holds a backslash escape."""
    m = PLAIN_STRING.match(b, p + 1)
    if m is not None:
        return m.end(), False
    q = p + 1
    escapes = False
    while True:
        q = _PLAIN.match(b, q).end()  # type: ignore[union-attr]
        if q >= n:
            raise Fail(E_EOF, n)
        c = b[q]
        if c == 0x22:
            return q + 1, escapes
        if c == 0x5C:
            escapes = True
            if q + 1 >= n:
                raise Fail(E_EOF, n)
            c = b[q + 1]
            if c == 0x75:  # u
                for k in range(2, 6):
                    if q + k >= n:
                        raise Fail(E_EOF, n)
                    if b[q + k] not in _HEX:
                        raise Fail(E_ESCAPE, q)
                q += 6
            elif c in _SIMPLE_ESCAPES:
                q += 2
            else:
                raise Fail(E_ESCAPE, q)
        elif c < 0x20:
            raise Fail(E_CTRL, q)
        else:
            q = _utf8_end(b, q, n)


def unescape(body: bytes) -> str:
    """The value of a validated string body that holds escapes (lone surrogates kept, as :func:`json.loads`
    gives them)."""
    text: str = json.loads('"' + body.decode("utf-8") + '"')
    return text


def _digits_after(b: bytes, q: int, n: int) -> int:
    """At least one digit at ``q`` (a fraction's or an exponent's): the end of the run."""
    if q >= n:
        raise Fail(E_EOF, n)
    if not 0x30 <= b[q] <= 0x39:
        raise Fail(E_NUMBER, q)
    return digits_end(b, q)


def number_end(b: bytes, p: int, n: int) -> tuple[int, bool]:
    """``b[p]`` is ``-`` or a digit: validate the JSON number; return its end and whether it has neither
    fraction nor exponent."""
    m = _NUMBER.match(b, p)
    if m is not None:
        t = m.end()
        if t >= n or b[t] not in b".eE":
            token = m.group()
            return t, b"." not in token and b"e" not in token and b"E" not in token
    # the exact rules and error positions
    q = p
    if b[q] == 0x2D:
        q += 1
    if q >= n:
        raise Fail(E_EOF, n)
    c = b[q]
    if c == 0x30:
        q += 1
    elif 0x31 <= c <= 0x39:
        q = digits_end(b, q)
    else:
        raise Fail(E_NUMBER, q)
    integer = True
    if q < n and b[q] == 0x2E:
        integer = False
        q = _digits_after(b, q + 1, n)
    if q < n and b[q] in b"eE":
        integer = False
        q += 1
        if q < n and b[q] in b"+-":
            q += 1
        q = _digits_after(b, q, n)
    return q, integer


def member_value(b: bytes, p: int, n: int) -> int:
    """``p`` is after an object member's name: past whitespace, the ``:`` and whitespace, the offset of the
    member's value."""
    p = WS.match(b, p).end()  # type: ignore[union-attr]
    if p >= n:
        raise Fail(E_EOF, n)
    if b[p] != 0x3A:
        raise Fail(E_COLON, p)
    return WS.match(b, p + 1).end()  # type: ignore[union-attr]


def literal_end(b: bytes, p: int, n: int) -> int:
    """``b[p]`` is ``t``, ``f`` or ``n``: validate ``true``, ``false`` or ``null``; return its end."""
    lit = LITERALS[b[p]]
    for k in range(len(lit)):
        if p + k >= n:
            raise Fail(E_EOF, n)
        if b[p + k] != lit[k]:
            raise Fail(E_LITERAL, p)
    return p + len(lit)
