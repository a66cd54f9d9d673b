"""One JSON document, parsed strictly into a tape and read through integer handles (pure-Python reference).

:mod:`dragonfly._core.doc_c` is the compiled twin; both accept and reject exactly the
same documents, raise the same errors (type, message, ``pos``) and number the values
the same way. Use :mod:`dragonfly._core.doc`, which selects one of them.

Parsing
-------
``Doc(data)`` validates the whole document as strict JSON (RFC 8259) and records every
value on a *tape*, in document order. Rejected (:class:`~dragonfly.errors.ExtractError`,
with ``pos``): anything outside the grammar (``NaN``/``Infinity``, trailing commas,
comments, single quotes), leading zeros (``01``), a ``.`` or exponent without digits,
invalid escapes, control characters inside strings, invalid UTF-8 (overlong forms,
encoded surrogates, code points above U+10FFFF), more than one value or anything but
whitespace (space, tab, LF, CR) around the value, an empty document, and containers
nested deeper than :data:`MAX_DEPTH`. ``data`` is ``str`` (processed as its UTF-8
encoding; a ``str`` holding lone surrogates is rejected), ``bytes``, ``bytearray`` or
``memoryview`` (copied, so later changes to the buffer do not affect the document).
``pos`` is the offset of the offending character (the input length for a truncation),
in characters for ``str`` input and in bytes otherwise. Escapes ``\\uXXXX`` that form
a lone surrogate are accepted and decode to that surrogate, as :func:`json.loads` does.

Handles
-------
A handle is the index of a value on the tape: the top value is ``0`` (:attr:`Doc.root`),
a container is followed by its members in order, an object member by its key (a
``STRING`` value) and then its value. A handle outside ``[0, number of values)`` raises
:class:`IndexError`; a handle that is not an ``int`` raises :class:`TypeError` (and one
beyond the C ``ssize_t`` range :class:`OverflowError`). :meth:`Doc.get` and
:meth:`Doc.at` return ``-1`` for "absent".

Duplicate keys: :meth:`Doc.get` returns the **first** occurrence; :meth:`Doc.value`
builds a ``dict`` as :func:`json.loads` does, where the last one wins.

Numbers
-------
:meth:`Doc.float` accepts a JSON number, or a string whose content is an optional sign,
decimal digits with an optional point (at least one digit) and an optional exponent,
and returns exactly ``float(text)`` (``inf`` for ``1e999``). :meth:`Doc.int` accepts an
integer JSON number (no fraction, no exponent), or a string of decimal digits with an
optional leading ``-``, and returns ``int(text)``; an integer longer than Python's
``int`` digit limit (``sys.get_int_max_str_digits``) raises ExtractError.
"""

from __future__ import annotations

import builtins
import operator
import re
import sys
from typing import Any

from ..errors import ExtractError
from ._json_py import (
    E_ARR_SEP,
    E_CHAR,
    E_EOF,
    E_KEY,
    E_NESTING,
    E_OBJ_SEP,
    PLAIN_STRING,
    WS,
    Fail,
    char_pos,
    literal_end,
    member_value,
    number_end,
    string_end,
    unescape,
)

__all__ = (
    "ARRAY",
    "FALSE",
    "KIND_NAMES",
    "MAX_DEPTH",
    "NULL",
    "NUMBER",
    "OBJECT",
    "STRING",
    "TRUE",
    "Doc",
)

#: Value kinds returned by :meth:`Doc.kind`.
NULL = 0
FALSE = 1
TRUE = 2
NUMBER = 3
STRING = 4
ARRAY = 5
OBJECT = 6
#: Names of the kinds, indexed by kind.
KIND_NAMES = ("null", "false", "true", "number", "string", "array", "object")
#: Deepest nesting of arrays and objects accepted (the top value is at depth 1).
MAX_DEPTH = 128
#: Largest document accepted, in bytes of UTF-8 (tape offsets are 32-bit).
MAX_SIZE = 0xFFFFFFFE

# flags
_F_ESCAPES = 1  # a string holding at least one backslash escape
_F_INTEGER = 2  # a number without fraction or exponent

_E_EXTRA = "extra data after the document"

_NUMERIC_STRING = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER_STRING = re.compile(r"-?[0-9]+")
_LITERALS = {0x74: TRUE, 0x66: FALSE, 0x6E: NULL}
_SSIZE_MAX = sys.maxsize


def _index(h: object) -> int:
    i = operator.index(h)  # type: ignore[arg-type]
    if not -_SSIZE_MAX - 1 <= i <= _SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return i


class _Tape:
    """The parser: fills parallel lists, one entry per value."""

    __slots__ = ("buf", "flags", "kind", "n", "next", "size", "start")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.n = len(buf)
        self.kind: list[int] = []
        self.start: list[int] = []
        self.size: list[int] = []
        self.next: list[int] = []
        self.flags: list[int] = []

    def _node(self, kind: int, start: int, size: int, flags: int) -> int:
        h = len(self.kind)
        self.kind.append(kind)
        self.start.append(start)
        self.size.append(size)
        self.next.append(h + 1)
        self.flags.append(flags)
        return h

    def _string(self, p: int) -> int:
        """``p`` is at the opening quote; append the node, return the end of the token."""
        m = PLAIN_STRING.match(self.buf, p + 1)  # the usual string, inline: nothing to check in it
        if m is not None:
            end = m.end()
            self._node(STRING, p, end - p - 2, 0)
            return end
        end, escapes = string_end(self.buf, p, self.n)
        self._node(STRING, p, end - p - 2, _F_ESCAPES if escapes else 0)
        return end

    def _number(self, p: int) -> int:
        end, integer = number_end(self.buf, p, self.n)
        self._node(NUMBER, p, end - p, _F_INTEGER if integer else 0)
        return end

    def _key(self, p: int) -> int:
        """At a key (after ``{`` or ``,`` and whitespace): the key, ``:`` and whitespace."""
        buf = self.buf
        n = self.n
        if p >= n:
            raise Fail(E_EOF, n)
        if buf[p] != 0x22:
            raise Fail(E_KEY, p)
        return member_value(buf, self._string(p), n)

    def parse(self) -> None:
        buf = self.buf
        n = self.n
        ws = WS.match
        kind = self.kind
        size = self.size
        stack: list[int] = []
        p = ws(buf, 0).end()  # type: ignore[union-attr]
        while True:
            # a value at p
            if p >= n:
                raise Fail(E_EOF, n)
            ch = buf[p]
            if ch == 0x7B or ch == 0x5B:
                if len(stack) >= MAX_DEPTH:
                    raise Fail(E_NESTING, p)
                is_obj = ch == 0x7B
                h = self._node(OBJECT if is_obj else ARRAY, p, 0, 0)
                p = ws(buf, p + 1).end()  # type: ignore[union-attr]
                if p < n and buf[p] == (0x7D if is_obj else 0x5D):
                    p += 1
                else:
                    stack.append(h)
                    if is_obj:
                        p = self._key(p)
                    continue
            elif ch == 0x22:
                p = self._string(p)
            elif ch == 0x2D or 0x30 <= ch <= 0x39:
                p = self._number(p)
            elif ch in _LITERALS:
                end = literal_end(buf, p, n)
                self._node(_LITERALS[ch], p, end - p, 0)
                p = end
            else:
                raise Fail(E_CHAR, p)
            # after a complete value
            while True:
                p = ws(buf, p).end()  # type: ignore[union-attr]
                if not stack:
                    if p < n:
                        raise Fail(_E_EXTRA, p)
                    return
                parent = stack[-1]
                size[parent] += 1
                if p >= n:
                    raise Fail(E_EOF, n)
                ch = buf[p]
                is_obj = kind[parent] == OBJECT
                if ch == 0x2C:
                    p = ws(buf, p + 1).end()  # type: ignore[union-attr]
                    if is_obj:
                        p = self._key(p)
                    break
                if ch == (0x7D if is_obj else 0x5D):
                    self.next[parent] = len(kind)
                    stack.pop()
                    p += 1
                    continue
                raise Fail(E_OBJ_SEP if is_obj else E_ARR_SEP, p)


class Doc:
    """One strictly parsed JSON document, read through integer handles.

    Parameters
    ----------
    data : str, bytes, bytearray or memoryview
        The JSON text (see the module notes for what is accepted).

    Raises
    ------
    ExtractError
        Malformed or truncated JSON, nesting deeper than :data:`MAX_DEPTH`, a ``str``
        with lone surrogates, or ``data`` of another type (``pos == -1``).

    Examples
    --------
    >>> d = Doc('{"b":[["100.5","2"]],"u":7}')
    >>> d.int(d.get(d.root, "u"))
    7
    >>> lv = d.at(d.get(d.root, "b"), 0)
    >>> d.float(d.at(lv, 0)), d.text(d.at(lv, 1))
    (100.5, '2')
    """

    __slots__ = ("_buf", "_flags", "_is_str", "_kind", "_next", "_size", "_start")

    def __init__(self, data: str | bytes | bytearray | memoryview) -> None:
        if isinstance(data, str):
            try:
                buf = data.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ExtractError("message is not encodable as UTF-8 (lone surrogate)", exc.start) from None
            is_str = True
        elif isinstance(data, bytes):
            buf = data
            is_str = False
        elif isinstance(data, (bytearray, memoryview)):
            buf = bytes(data)
            is_str = False
        else:
            raise ExtractError(f"document must be str, bytes, bytearray or memoryview, not {type(data).__name__}")
        if len(buf) > MAX_SIZE:
            raise ExtractError("document too large", -1)
        tape = _Tape(buf)
        try:
            tape.parse()
        except Fail as fail:
            pos = char_pos(buf, fail.pos) if is_str else fail.pos
            raise ExtractError(fail.message, pos) from None
        self._buf = buf
        self._is_str = is_str
        self._kind = tape.kind
        self._start = tape.start
        self._size = tape.size
        self._next = tape.next
        self._flags = tape.flags

    # -- helpers ----------------------------------------------------------------------------------

    def _h(self, h: object) -> int:
        i = _index(h)
        if not 0 <= i < len(self._kind):
            raise IndexError(f"handle {i} out of range")
        return i

    def _error(self, message: str, h: int) -> ExtractError:
        pos = self._start[h]
        return ExtractError(message, char_pos(self._buf, pos) if self._is_str else pos)

    def _string(self, h: int) -> str:
        start = self._start[h] + 1
        raw = self._buf[start : start + self._size[h]]
        if self._flags[h] & _F_ESCAPES:
            return unescape(raw)
        return raw.decode("utf-8")

    def _number_text(self, h: int) -> str:
        start = self._start[h]
        return self._buf[start : start + self._size[h]].decode("ascii")

    # -- navigation -------------------------------------------------------------------------------

    @property
    def root(self) -> int:
        """Handle of the top value (always 0)."""
        return 0

    def __len__(self) -> int:
        """Number of values on the tape (object keys included)."""
        return len(self._kind)

    def kind(self, h: int) -> int:
        """Kind of value ``h``: one of NULL, FALSE, TRUE, NUMBER, STRING, ARRAY, OBJECT."""
        return self._kind[self._h(h)]

    def get(self, h: int, key: str) -> int:
        """Handle of member ``key`` of object ``h`` (the first one when duplicated), or -1
        when absent or ``h`` is not an object."""
        h = self._h(h)
        if not isinstance(key, str):
            raise TypeError(f"key must be str, not {type(key).__name__}")
        if self._kind[h] != OBJECT:
            return -1
        try:
            kb = key.encode("utf-8")
        except UnicodeEncodeError:
            kb = None  # only an escaped key can match
        buf = self._buf
        start = self._start
        size = self._size
        flags = self._flags
        nxt = self._next
        k = h + 1
        for _ in range(self._size[h]):
            if flags[k] & _F_ESCAPES:
                if self._string(k) == key:
                    return k + 1
            elif kb is not None and size[k] == len(kb):
                s = start[k] + 1
                if buf[s : s + size[k]] == kb:
                    return k + 1
            k = nxt[k + 1]
        return -1

    def at(self, h: int, i: int) -> int:
        """Handle of element ``i`` of array ``h`` (negative counts from the end), or -1
        when out of range or ``h`` is not an array."""
        h = self._h(h)
        i = _index(i)
        if self._kind[h] != ARRAY:
            return -1
        n = self._size[h]
        if i < 0:
            i += n
        if not 0 <= i < n:
            return -1
        nxt = self._next
        e = h + 1
        for _ in range(i):
            e = nxt[e]
        return e

    def len(self, h: int) -> int:
        """Members of object ``h`` or elements of array ``h``."""
        h = self._h(h)
        if self._kind[h] < ARRAY:
            raise self._error("not an array or object", h)
        return self._size[h]

    def children(self, h: int) -> list[int]:
        """Handles of the elements of array ``h`` or of the member values of object ``h``."""
        h = self._h(h)
        kind = self._kind[h]
        if kind < ARRAY:
            raise self._error("not an array or object", h)
        nxt = self._next
        out = []
        e = h + 1
        for _ in range(self._size[h]):
            if kind == OBJECT:
                e += 1
            out.append(e)
            e = nxt[e]
        return out

    # -- scalars ----------------------------------------------------------------------------------

    def str(self, h: int) -> str:
        """The decoded value of string ``h``."""
        h = self._h(h)
        if self._kind[h] != STRING:
            raise self._error("not a string", h)
        return self._string(h)

    def text(self, h: builtins.int) -> builtins.str:
        """The exact source text of number ``h``, or the decoded value of string ``h``."""
        h = self._h(h)
        kind = self._kind[h]
        if kind == NUMBER:
            return self._number_text(h)
        if kind == STRING:
            return self._string(h)
        raise self._error("not a number or string", h)

    def int(self, h: int) -> int:
        """An integer JSON number, or a string of decimal digits with an optional ``-``."""
        h = self._h(h)
        kind = self._kind[h]
        if kind == NUMBER and self._flags[h] & _F_INTEGER:
            text = self._number_text(h)
        elif kind == STRING:
            text = self._string(h)
            if _INTEGER_STRING.fullmatch(text) is None:
                raise self._error("not an integer", h)
        else:
            raise self._error("not an integer", h)
        try:
            return int(text)
        except ValueError:
            raise self._error("integer too large to convert", h) from None

    def float(self, h: builtins.int) -> builtins.float:
        """``float(text)`` of a JSON number or of a numeric string (see the module notes)."""
        h = self._h(h)
        kind = self._kind[h]
        if kind == NUMBER:
            return float(self._number_text(h))
        if kind == STRING:
            text = self._string(h)
            if _NUMERIC_STRING.fullmatch(text) is not None:
                return float(text)
        raise self._error("not a number or numeric string", h)

    # -- subtrees ---------------------------------------------------------------------------------

    def value(self, h: builtins.int, text_numbers: bool = False) -> Any:
        """Value ``h`` as Python objects, equal to ``json.loads`` of its text; with
        ``text_numbers`` every number is its source text (``str``), as
        ``json.loads(..., parse_float=str, parse_int=str)`` gives."""
        return self._value(self._h(h), bool(text_numbers))

    def _value(self, h: builtins.int, text_numbers: bool) -> Any:
        kind = self._kind[h]
        if kind == STRING:
            return self._string(h)
        if kind == NUMBER:
            text = self._number_text(h)
            if text_numbers:
                return text
            if self._flags[h] & _F_INTEGER:
                try:
                    return int(text)
                except ValueError:
                    raise self._error("integer too large to convert", h) from None
            return float(text)
        if kind == ARRAY:
            nxt = self._next
            out = []
            e = h + 1
            for _ in range(self._size[h]):
                out.append(self._value(e, text_numbers))
                e = nxt[e]
            return out
        if kind == OBJECT:
            nxt = self._next
            obj = {}
            k = h + 1
            for _ in range(self._size[h]):
                obj[self._string(k)] = self._value(k + 1, text_numbers)
                k = nxt[k + 1]
            return obj
        return (None, False, True)[kind]

    def __repr__(self) -> builtins.str:
        return f"<Doc {KIND_NAMES[self._kind[0]]} values={len(self._kind)} bytes={len(self._buf)}>"
