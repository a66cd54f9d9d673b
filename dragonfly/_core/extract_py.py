"""Partial-frame JSON extraction of the top N ``[price, qty]`` levels (pure-Python reference).

This module is the reference implementation; :mod:`dragonfly._core.extract_c` is the
compiled twin and must behave identically: same results, same exception type, same
message and same ``pos`` for every input.

Semantics
---------
``extract_levels(message, path, depth)`` walks ``message`` (JSON text, ``str`` or
``bytes``; a ``str`` is processed as its UTF-8 encoding) along ``path`` and reads the
first ``depth`` entries of the array found there. Every entry must be an array whose
first two elements are the price and the quantity, each a JSON number or a JSON string
holding a decimal number; further elements (Kraken's timestamp and ``"r"`` flag, OKX's
order counts) are validated as JSON and ignored.

For every valid JSON document without duplicate keys the result equals::

    [(float(e[0]), float(e[1])) for e in json.loads(message)<at path>[:depth]]

bit for bit, with the documented restrictions below.

*Stop point.* Parsing stops right after the ``depth``-th entry, or right after the
closing ``]`` of the level array when it has fewer entries (right after its ``[`` when
``depth == 0``). Nothing after the stop point is examined: trailing garbage, a missing
closing brace or a truncation after that point is **not detected**. Everything before
the stop point is validated as strict JSON (RFC 8259): grammar, string escapes, control
characters, UTF-8, number grammar; values skipped on the way (other keys, the entries of
other arrays) are validated too, without being converted.

*Path.* Dot-separated components. A component that is a canonical non-negative decimal
integer (``0``, ``1``, ``17``, not ``01``) is an array index when the value at that
point is an array, and a key when it is an object; any other component is an object
key. ``""`` is the empty path (the document itself is the level array). Keys containing
``.`` and the empty key cannot be expressed. Keys are compared after decoding JSON
escapes, so ``"b\\u0069ds"`` matches ``bids``. With duplicate keys the **first**
occurrence wins (``json.loads`` keeps the last one).

*Numbers.* JSON numbers follow the JSON grammar and convert exactly as ``float(text)``;
an integer token converts like ``float(int(text))``, which differs from it only for
``-0`` (``+0.0``, as ``json.loads`` gives the int ``0``). Numeric strings must be an
optional sign, decimal digits with an optional point (``"5."`` and ``".5"`` are allowed,
as ``float`` allows them) and an optional exponent; they convert as ``float(content)``.
Deliberate restrictions, all raising :class:`~dragonfly.errors.ExtractError`: strings
that ``float()`` would accept but that are not plain decimals (surrounding whitespace,
underscores, escapes, non-ASCII digits, ``nan``/``inf``/``infinity``), and any price or
quantity whose value is not finite (``1e999``, or an integer token too large for a
float): non-finite prices never describe a real book.

*Errors.* Malformed, truncated or wrongly typed input before the stop point, an absent
path, an invalid path, ``depth < 0`` and wrong argument types raise
:class:`~dragonfly.errors.ExtractError` (a ``ValueError``). ``pos`` is the offset of the
offending character (the input length for a truncation), in characters for ``str``
input and in bytes for ``bytes`` input. A ``str`` holding lone surrogates (not
encodable as UTF-8) is rejected. Nesting deeper than :data:`MAX_NESTING` inside a
skipped value is rejected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ExtractError
from ._json_py import (
    E_ARR_SEP,
    E_CHAR,
    E_EOF,
    E_KEY,
    E_NESTING,
    E_OBJ_SEP,
    LITERALS,
    Fail,
    char_pos,
    digits_end,
    literal_end,
    member_value,
    number_end,
    string_end,
    unescape,
    ws,
)

__all__ = ("MAX_NESTING", "MAX_TOP_DEPTH", "TopExtractor", "extract_levels")

#: Deepest nesting of containers accepted inside a value that is skipped.
MAX_NESTING = 1024
#: Largest ``depth`` a :class:`TopExtractor` accepts.
MAX_TOP_DEPTH = 100_000

_E_LEVELS = "expected array of levels"
_E_ENTRY = "level entry must be an array"
_E_SHORT = "level entry has fewer than 2 elements"
_E_COMMA = "expected ','"
_E_NUMTYPE = "price and quantity must be numbers or numeric strings"
_E_NUMSTR = "invalid numeric string"
_E_FINITE = "non-finite number"
_E_OBJECT = "expected object"
_E_CONTAINER = "expected object or array"

# A compiled path step: (key as UTF-8 bytes, array index or -1 when not an index).
_Step = tuple[bytes, int]


# ---------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------


def _compile_path(path: object) -> tuple[_Step, ...]:
    if not isinstance(path, str):
        raise ExtractError(f"path must be str, not {type(path).__name__}")
    if path == "":
        return ()
    steps: list[_Step] = []
    for comp in path.split("."):
        if comp == "":
            raise ExtractError(f"invalid path {path!r}: empty component")
        try:
            key = comp.encode("utf-8")
        except UnicodeEncodeError:
            raise ExtractError(f"invalid path {path!r}: not encodable as UTF-8") from None
        index = -1
        if key.isdigit() and key.isascii() and (key == b"0" or key[0] != 0x30) and len(key) <= 18:
            index = int(key)
        steps.append((key, index))
    return tuple(steps)


def _as_bytes(message: object) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        try:
            return message.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ExtractError("message is not encodable as UTF-8 (lone surrogate)", exc.start) from None
    raise ExtractError(f"message must be str or bytes, not {type(message).__name__}")


def _check_depth(depth: object) -> int:
    if type(depth) is bool or not isinstance(depth, int):
        raise ExtractError(f"depth must be int, not {type(depth).__name__}")
    if depth < 0:
        raise ExtractError(f"depth must be >= 0, got {depth}")
    return depth


def _char_pos(message: str | bytes, data: bytes, pos: int) -> int:
    """Byte offset in ``data`` -> offset in ``message`` (characters for ``str``)."""
    return char_pos(data, pos) if isinstance(message, str) else pos


def _raise(message: str | bytes, data: bytes, fail: Fail) -> None:
    raise ExtractError(fail.message, _char_pos(message, data, fail.pos)) from None


# ---------------------------------------------------------------------------------------
# Scanning (positions are byte offsets in ``b``; ``n == len(b)``; the primitives are _json_py's)
# ---------------------------------------------------------------------------------------


def _member(b: bytes, i: int, n: int, key: bytes | None) -> tuple[int, bool]:
    """At an object member: validate ``"name" :``; return the offset of the value (after whitespace) and
    whether the name, decoded, is the UTF-8 ``key``."""
    if i >= n:
        raise Fail(E_EOF, n)
    if b[i] != 0x22:
        raise Fail(E_KEY, i)
    end, escapes = string_end(b, i, n)
    hit = False
    if key is not None:
        name = b[i + 1 : end - 1]
        if not escapes:
            hit = name == key
        else:
            try:
                hit = unescape(name).encode("utf-8") == key
            except UnicodeEncodeError:
                hit = False  # a lone surrogate never equals a UTF-8 path component
    return member_value(b, end, n), hit


def _skip_value(b: bytes, i: int, n: int) -> int:
    """Validate the JSON value starting at ``i`` (no leading whitespace); return its end.

    Iterative, with an explicit stack bounded by :data:`MAX_NESTING`.
    """
    stack: list[bool] = []  # True: inside an object
    while True:
        # --- one value at i ---
        if i >= n:
            raise Fail(E_EOF, n)
        c = b[i]
        if c == 0x7B or c == 0x5B:  # { [
            if len(stack) >= MAX_NESTING:
                raise Fail(E_NESTING, i)
            is_obj = c == 0x7B
            i = ws(b, i + 1)
            if i < n and b[i] == (0x7D if is_obj else 0x5D):
                i += 1
            else:
                stack.append(is_obj)
                if is_obj:
                    i = _member(b, i, n, None)[0]
                continue
        elif c == 0x22:
            i = string_end(b, i, n)[0]
        elif c == 0x2D or 0x30 <= c <= 0x39:
            i = number_end(b, i, n)[0]
        elif c in LITERALS:
            i = literal_end(b, i, n)
        else:
            raise Fail(E_CHAR, i)
        # --- after a complete value ---
        while True:
            if not stack:
                return i
            i = ws(b, i)
            if i >= n:
                raise Fail(E_EOF, n)
            c = b[i]
            is_obj = stack[-1]
            if c == 0x2C:  # ,
                i = ws(b, i + 1)
                if is_obj:
                    i = _member(b, i, n, None)[0]
                break
            if c == (0x7D if is_obj else 0x5D):
                stack.pop()
                i += 1
                continue
            raise Fail(E_OBJ_SEP if is_obj else E_ARR_SEP, i)


def _check_finite(value: float, pos: int) -> float:
    if math.isinf(value) or math.isnan(value):
        raise Fail(_E_FINITE, pos)
    return value


def _parse_num(b: bytes, i: int, n: int) -> tuple[float, int]:
    """A price or quantity at ``i``: a JSON number or a numeric string."""
    if i >= n:
        raise Fail(E_EOF, n)
    c = b[i]
    if c == 0x22:
        j = i + 1
        # [+-]? (digits ('.' digits*)? | '.' digits) ([eE] [+-]? digits)? '"'
        if j < n and b[j] in (0x2B, 0x2D):
            j += 1
        k = digits_end(b, j)
        ok = k > j
        if k < n and b[k] == 0x2E:
            f = k + 1
            k = digits_end(b, f)
            ok = ok or k > f
        if ok and k < n and b[k] in (0x65, 0x45):
            k += 1
            if k < n and b[k] in (0x2B, 0x2D):
                k += 1
            f = k
            k = digits_end(b, f)
            ok = k > f
        if k >= n:
            raise Fail(E_EOF, n)
        if not ok or b[k] != 0x22:
            raise Fail(_E_NUMSTR, i)
        return _check_finite(float(b[i + 1 : k].decode("ascii")), i), k + 1
    if c == 0x2D or 0x30 <= c <= 0x39:
        end, integer = number_end(b, i, n)
        value = float(b[i:end].decode("ascii"))
        if integer and value == 0.0:
            # json.loads gives the int 0 for "-0", and float(0) is +0.0. For every other
            # integer token float(int(text)) == float(text): both are correctly rounded.
            value = 0.0
        return _check_finite(value, i), end
    raise Fail(_E_NUMTYPE, i)


# ---------------------------------------------------------------------------------------
# Navigation and extraction
# ---------------------------------------------------------------------------------------


def _not_found(path: str, key: bytes, pos: int) -> Fail:
    return Fail(f"path {path!r}: {key.decode('utf-8')!r} not found", pos)


def _next_member(b: bytes, i: int, n: int, is_obj: bool, path: str, key: bytes) -> int:
    """Skip the member value at ``i`` of an object (``is_obj``) or array searched for ``key`` and the ``,``
    after it; return the offset of the next member. At the container's end, ``key`` is not found."""
    i = ws(b, _skip_value(b, i, n))
    if i >= n:
        raise Fail(E_EOF, n)
    c = b[i]
    if c == 0x2C:
        return ws(b, i + 1)
    if c == (0x7D if is_obj else 0x5D):
        raise _not_found(path, key, i)
    raise Fail(E_OBJ_SEP if is_obj else E_ARR_SEP, i)


def _navigate(b: bytes, n: int, steps: Sequence[_Step], path: str) -> int:
    """Return the offset of the value at ``steps`` (not yet checked, may be ``n``)."""
    i = ws(b, 0)
    for key, index in steps:
        if i >= n:
            raise Fail(E_EOF, n)
        c = b[i]
        if c == 0x7B or c == 0x5B:  # { [
            is_obj = c == 0x7B
            if not is_obj and index < 0:
                raise Fail(_E_OBJECT, i)
            i = ws(b, i + 1)
            if i < n and b[i] == (0x7D if is_obj else 0x5D):
                raise _not_found(path, key, i)
            k = 0
            while True:
                if is_obj:
                    i, hit = _member(b, i, n, key)
                    if hit:
                        break
                elif k == index:
                    break
                i = _next_member(b, i, n, is_obj, path, key)
                k += 1
        else:
            raise Fail(_E_CONTAINER if index >= 0 else _E_OBJECT, i)
    return i


def _extract(b: bytes, steps: Sequence[_Step], path: str, depth: int) -> tuple[list[tuple[float, float]], int]:
    """Return the levels and the stop offset."""
    n = len(b)
    i = _navigate(b, n, steps, path)
    if i >= n:
        raise Fail(E_EOF, n)
    if b[i] != 0x5B:
        raise Fail(_E_LEVELS, i)
    i += 1
    out: list[tuple[float, float]] = []
    if depth == 0:
        return out, i
    i = ws(b, i)
    if i < n and b[i] == 0x5D:
        return out, i + 1
    while True:
        if i >= n:
            raise Fail(E_EOF, n)
        if b[i] != 0x5B:
            raise Fail(_E_ENTRY, i)
        price, i = _parse_num(b, ws(b, i + 1), n)
        i = ws(b, i)
        if i >= n:
            raise Fail(E_EOF, n)
        if b[i] != 0x2C:
            raise Fail(_E_SHORT if b[i] == 0x5D else _E_COMMA, i)
        qty, i = _parse_num(b, ws(b, i + 1), n)
        while True:
            i = ws(b, i)
            if i >= n:
                raise Fail(E_EOF, n)
            c = b[i]
            if c == 0x5D:
                i += 1
                break
            if c != 0x2C:
                raise Fail(E_ARR_SEP, i)
            i = _skip_value(b, ws(b, i + 1), n)
        out.append((price, qty))
        if len(out) == depth:
            return out, i
        i = ws(b, i)
        if i >= n:
            raise Fail(E_EOF, n)
        c = b[i]
        if c == 0x2C:
            i = ws(b, i + 1)
        elif c == 0x5D:
            return out, i + 1
        else:
            raise Fail(E_ARR_SEP, i)


def _extract_with_stop(message: str | bytes, path: str, depth: int) -> tuple[list[tuple[float, float]], int]:
    """Like :func:`extract_levels`, also returning the stop offset (same unit as ``pos``).

    For tests: the input before the stop offset is everything that was examined.
    """
    steps = _compile_path(path)
    depth = _check_depth(depth)
    data = _as_bytes(message)
    try:
        levels, stop = _extract(data, steps, path, depth)
    except Fail as fail:
        _raise(message, data, fail)
        raise AssertionError("unreachable") from None
    return levels, _char_pos(message, data, stop)


def extract_levels(message: str | bytes, path: str, depth: int) -> list[tuple[float, float]]:
    """Read the first ``depth`` ``(price, qty)`` levels of the array at ``path``.

    Parameters
    ----------
    message : str or bytes
        A JSON document as the venue sent it.
    path : str
        Dotted path of object keys and array indexes, e.g. ``"data.bids"``, ``"b"``,
        ``"1.as"`` (Kraken), ``"data.0.asks"`` (OKX); ``""`` is the document itself.
    depth : int
        Maximum number of levels to return (``>= 0``).

    Returns
    -------
    list of (float, float)
        At most ``depth`` ``(price, qty)`` tuples, in message order.

    Raises
    ------
    ExtractError
        Malformed, truncated or wrongly typed input before the stop point, absent path,
        invalid arguments. Nothing after the stop point is examined (see the module
        documentation).
    """
    steps = _compile_path(path)
    depth = _check_depth(depth)
    data = _as_bytes(message)
    try:
        return _extract(data, steps, path, depth)[0]
    except Fail as fail:
        _raise(message, data, fail)
        raise AssertionError("unreachable") from None


class TopExtractor:
    """Top-N change detector for snapshot feeds (Binance ``depth20``, Bitstamp ``order_book``).

    Both paths are compiled once. :meth:`update` extracts the first ``depth`` levels of
    each side and reports whether they differ from the last successful update.

    Parameters
    ----------
    bids_path, asks_path : str
        Dotted paths to the bid and ask level arrays (any order in the message).
    depth : int
        Levels kept per side, ``>= 1``.

    Notes
    -----
    Both sides must be present: an absent side raises
    :class:`~dragonfly.errors.ExtractError` (the extractor is meant for snapshot feeds).
    Levels compare bit for bit (``-0.0`` differs from ``0.0``). A failed update leaves
    the previous state untouched.
    """

    __slots__ = ("_asks", "_asks_path", "_asks_steps", "_bids", "_bids_path", "_bids_steps", "_depth", "_valid")

    def __init__(self, bids_path: str, asks_path: str, depth: int) -> None:
        self._bids_steps = _compile_path(bids_path)
        self._asks_steps = _compile_path(asks_path)
        depth = _check_depth(depth)
        if depth < 1 or depth > MAX_TOP_DEPTH:
            raise ExtractError(f"depth must be in 1..{MAX_TOP_DEPTH}, got {depth}")
        self._bids_path = bids_path
        self._asks_path = asks_path
        self._depth = depth
        self._bids: tuple[tuple[float, float], ...] = ()
        self._asks: tuple[tuple[float, float], ...] = ()
        self._valid = False

    def update(self, message: str | bytes) -> bool:
        """Extract both sides from ``message``.

        Returns
        -------
        bool
            True when prices, quantities or level counts differ (bitwise) from the last
            successful update, or when there was none since construction or :meth:`reset`.

        Raises
        ------
        ExtractError
            Bad input; the previous state is kept.
        """
        data = _as_bytes(message)
        try:
            bids, _ = _extract(data, self._bids_steps, self._bids_path, self._depth)
            asks, _ = _extract(data, self._asks_steps, self._asks_path, self._depth)
        except Fail as fail:
            _raise(message, data, fail)
            raise AssertionError("unreachable") from None
        new_bids = tuple(bids)
        new_asks = tuple(asks)
        changed = not self._valid or not (_same(new_bids, self._bids) and _same(new_asks, self._asks))
        self._bids = new_bids
        self._asks = new_asks
        self._valid = True
        return changed

    def reset(self) -> None:
        """Forget the state: the next successful :meth:`update` returns True."""
        self._bids = ()
        self._asks = ()
        self._valid = False

    @property
    def bids(self) -> tuple[tuple[float, float], ...]:
        """Bid levels of the last successful update (``()`` before any)."""
        return self._bids

    @property
    def asks(self) -> tuple[tuple[float, float], ...]:
        """Ask levels of the last successful update (``()`` before any)."""
        return self._asks

    @property
    def depth(self) -> int:
        """Levels kept per side."""
        return self._depth

    @property
    def bids_path(self) -> str:
        """The bid path as given."""
        return self._bids_path

    @property
    def asks_path(self) -> str:
        """The ask path as given."""
        return self._asks_path

    def __repr__(self) -> str:
        return f"TopExtractor(bids_path={self._bids_path!r}, asks_path={self._asks_path!r}, depth={self._depth})"


def _same(a: tuple[tuple[float, float], ...], b: tuple[tuple[float, float], ...]) -> bool:
    """Bitwise equality of two level tuples (``-0.0 != 0.0``)."""
    if len(a) != len(b):
        return False
    for (p1, q1), (p2, q2) in zip(a, b, strict=True):
        if math.copysign(1.0, p1) != math.copysign(1.0, p2) or p1 != p2:
            return False
        if math.copysign(1.0, q1) != math.copysign(1.0, q2) or q1 != q2:
            return False
    return True
