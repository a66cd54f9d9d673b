"""Decode only what routing needs from a raw frame, without parsing it.

Venue feeds find a frame's routing key (Binance ``"stream"``, Bitstamp
``"channel"``/``"event"``) and a few scalar fields (``lastUpdateId``,
``microtimestamp``) with one substring search each; the levels themselves are
left to the core's extractor. These helpers accept ``str`` and ``bytes``.

They look for the first (or last, ``from_end=True``) occurrence of the quoted key;
the caller picks the direction where the venue puts the key, so a search never
scans the level arrays when it can be avoided. The full frame is still validated
by the extractor.
"""

from __future__ import annotations

import re

__all__ = ("string_field", "int_field")

# Fast paths for the compact spelling every venue uses ("key":"value" / "key":123); the
# general scanners below handle whitespace around the colon.
_STR_NEEDLE: dict[str, tuple[str, bytes]] = {}
_INT_RE: dict[str, tuple[re.Pattern[str], re.Pattern[bytes]]] = {}


def _str_needles(key: str) -> tuple[str, bytes]:
    n = _STR_NEEDLE.get(key)
    if n is None:
        n = _STR_NEEDLE[key] = (f'"{key}":"', f'"{key}":"'.encode())
    return n


def _int_res(key: str) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    r = _INT_RE.get(key)
    if r is None:
        pat = '"' + re.escape(key) + r'":(?:"(\d{1,20})"|(\d{1,20})(?![\d.eE]))'
        r = _INT_RE[key] = (re.compile(pat), re.compile(pat.encode()))
    return r

_INT_NEEDLE: dict[str, tuple[str, bytes]] = {}


def _int_fast(frame: str | bytes, key: str) -> int | None:
    """The compact spelling ``"key":123,`` / ``"key":"123"`` at the key's first occurrence, else None.

    Returns a value only where the general pattern would match first (same digits,
    at most 20, not followed by a digit, ``.``, ``e`` or ``E``); None sends the
    caller to the general search.
    """
    n = _INT_NEEDLE.get(key)
    if n is None:
        n = _INT_NEEDLE[key] = (f'"{key}":', f'"{key}":'.encode())
    if isinstance(frame, str):
        i = frame.find(n[0])
        if i < 0:
            return None
        j = i + len(n[0])
        if frame.startswith('"', j):
            j += 1
            k = frame.find('"', j)
        else:
            k = frame.find(",", j)
        if k < 0:
            return None
        v = frame[j:k]
        if 0 < len(v) <= 20 and v.isdigit() and v.isascii():
            return int(v)
        return None
    i = frame.find(n[1])
    if i < 0:
        return None
    j = i + len(n[1])
    if frame.startswith(b'"', j):
        j += 1
        k = frame.find(b'"', j)
    else:
        k = frame.find(b",", j)
    if k < 0:
        return None
    bv = frame[j:k]
    if 0 < len(bv) <= 20 and bv.isdigit():  # bytes.isdigit is ASCII-only
        return int(bv)
    return None


_WS = " \t\r\n"
_BWS = b" \t\r\n"


def _value_start(frame: str | bytes, key: str, from_end: bool) -> int:
    if isinstance(frame, str):
        needle = f'"{key}"'
        i = frame.rfind(needle) if from_end else frame.find(needle)
        if i < 0:
            return -1
        j = i + len(needle)
        n = len(frame)
        if not frame.startswith(":", j):
            while j < n and frame[j] in _WS:
                j += 1
            if j >= n or frame[j] != ":":
                return -1
        j += 1
        while j < n and frame[j] in _WS:
            j += 1
        return j
    bneedle = b'"' + key.encode() + b'"'
    i = frame.rfind(bneedle) if from_end else frame.find(bneedle)
    if i < 0:
        return -1
    j = i + len(bneedle)
    n = len(frame)
    while j < n and frame[j] in _BWS:
        j += 1
    if j >= n or frame[j] != 0x3A:  # ':'
        return -1
    j += 1
    while j < n and frame[j] in _BWS:
        j += 1
    return j


def string_field(frame: str | bytes, key: str, *, from_end: bool = False) -> str | None:
    """Value of the string field ``key`` (no escapes), or None when absent or not a plain string."""
    if isinstance(frame, str):
        needle = _str_needles(key)[0]
        i = frame.rfind(needle) if from_end else frame.find(needle)
        if i >= 0:
            j = i + len(needle)
            k = frame.find('"', j)
            if k >= 0 and frame.find("\\", j, k) < 0:
                return frame[j:k]
            return None
    j = _value_start(frame, key, from_end)
    if j < 0:
        return None
    if isinstance(frame, str):
        if not frame.startswith('"', j):
            return None
        k = frame.find('"', j + 1)
        if k < 0:
            return None
        v = frame[j + 1 : k]
        return None if "\\" in v else v
    if j >= len(frame) or frame[j] != 0x22:
        return None
    k = frame.find(b'"', j + 1)
    if k < 0:
        return None
    bv = frame[j + 1 : k]
    if b"\\" in bv:
        return None
    try:
        return bv.decode("ascii")
    except UnicodeDecodeError:
        return None


def int_field(frame: str | bytes, key: str, *, from_end: bool = False) -> int:
    """Value of the non-negative integer field ``key`` (a JSON number or a quoted one).

    Raises
    ------
    ValueError
        When absent or not a plain non-negative integer.
    """
    if not from_end:
        v = _int_fast(frame, key)
        if v is not None:
            return v
    pats = _int_res(key)
    m = pats[0].search(frame) if isinstance(frame, str) else pats[1].search(frame)
    if m is not None and not from_end:
        return int(m.group(1) or m.group(2))
    j = _value_start(frame, key, from_end)
    if j < 0:
        raise ValueError(f"field {key!r} not found")
    n = len(frame)
    if isinstance(frame, str):
        quoted = frame.startswith('"', j)
        if quoted:
            j += 1
        k = j
        while k < n and "0" <= frame[k] <= "9":
            k += 1
        if k == j or k - j > 20 or (quoted and not frame.startswith('"', k)):
            raise ValueError(f"field {key!r} is not a plain integer")
        if not quoted and k < n and frame[k] in ".eE":
            raise ValueError(f"field {key!r} is not an integer")
        return int(frame[j:k])
    quoted = j < n and frame[j] == 0x22
    if quoted:
        j += 1
    k = j
    while k < n and 0x30 <= frame[k] <= 0x39:
        k += 1
    if k == j or k - j > 20 or (quoted and (k >= n or frame[k] != 0x22)):
        raise ValueError(f"field {key!r} is not a plain integer")
    if not quoted and k < n and frame[k] in b".eE":
        raise ValueError(f"field {key!r} is not an integer")
    return int(frame[j:k])
