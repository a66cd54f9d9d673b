"""The bus's binary ``BookUpdate`` message (pure Python).

This is the reference implementation and the fallback of :mod:`dragonfly._core.busmsg_c`;
both twins produce the same bytes and raise the same :class:`~dragonfly.errors.BusMessageError`
(same ``reason`` and ``offset``) for the same input.

One message carries one :class:`~dragonfly.model.BookUpdate`, little-endian, version 1::

    offset  size  field
    0       2     magic 0xDF 0xB1
    2       1     version (1)
    3       1     status: 0 SYNCING, 1 LIVE, 2 STALE
    4       2     n_bids (u16)
    6       2     n_asks (u16)
    8       8     exchange_ts_ns (i64, >= 0)
    16      8     receive_ts_ns (i64, >= 0)
    24      1     venue length V (u8, >= 1)
    25      1     instrument length I (u8, >= 1)
    26      2     reason length R (u16)
    28      V+I+R venue, instrument, reason (UTF-8)
    ...     16 n  n = n_bids + n_asks levels: price (f64), qty (f64); the bids best first, then the asks

A message is exactly that long (nothing may follow). Decoding checks, in this order: the type
(``bytes``, ``bytearray`` or ``memoryview``), the fixed header's length, the magic, the version,
the status, the venue and instrument lengths, the total length (short: ``truncated``, long:
``trailing``), that only a LIVE update has levels, the timestamps, the three texts (strict UTF-8)
and every level (finite, price > 0, qty >= 0). A depth-10 update is about 360 bytes.
"""

from __future__ import annotations

import math
import struct
from typing import Final

from ..errors import BusMessageError
from ..model import BookUpdate, VenueStatus

__all__ = ("encode_update", "decode_update", "MAGIC", "VERSION", "HEADER_SIZE", "MAX_LEVELS")

#: The first two bytes of every message.
MAGIC: Final = b"\xdf\xb1"
#: The format version this module writes and reads.
VERSION: Final = 1
#: Bytes before the texts.
HEADER_SIZE: Final = 28
#: Most levels a side can have (u16).
MAX_LEVELS: Final = 65535

_HEADER = struct.Struct("<2sBBHHqqBBH")
_LEVEL = struct.Struct("<dd")
_STATUS_CODE = {VenueStatus.SYNCING: 0, VenueStatus.LIVE: 1, VenueStatus.STALE: 2}
_STATUSES = (VenueStatus.SYNCING, VenueStatus.LIVE, VenueStatus.STALE)
_INT64_MAX = (1 << 63) - 1
_make = BookUpdate._make
_isfinite = math.isfinite


def _fail(message: str, reason: str, offset: int = -1) -> BusMessageError:
    return BusMessageError(message, reason=reason, offset=offset)


def _text(value: object, what: str, limit: int) -> bytes:
    if type(value) is not str:
        raise _fail(f"{what} must be str, not {type(value).__name__}", "type")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(f"{what} is not valid UTF-8", "utf8") from None
    if len(raw) > limit:
        raise _fail(f"{what} is {len(raw)} bytes; at most {limit}", "too_long")
    return raw


def _stamp(value: object, what: str) -> int:
    if type(value) is not int:
        raise _fail(f"{what} must be int, not {type(value).__name__}", "type")
    if not 0 <= value <= _INT64_MAX:
        raise _fail(f"{what} out of range: {value}", "number")
    return value


def _side(out: bytearray, side: object, what: str) -> int:
    if type(side) is not tuple and type(side) is not list:
        raise _fail(f"{what} must be a tuple of (price, qty), not {type(side).__name__}", "type")
    if len(side) > MAX_LEVELS:
        raise _fail(f"{what} has {len(side)} levels; at most {MAX_LEVELS}", "too_long")
    pack = _LEVEL.pack
    for i, level in enumerate(side):
        if (type(level) is not tuple and type(level) is not list) or len(level) != 2:
            raise _fail(f"{what}[{i}] must be a (price, qty) pair", "type")
        p, q = level
        if type(p) is not float:
            if type(p) is not int:
                raise _fail(f"{what}[{i}] price must be a number, not {type(p).__name__}", "type")
            p = float(p)
        if type(q) is not float:
            if type(q) is not int:
                raise _fail(f"{what}[{i}] qty must be a number, not {type(q).__name__}", "type")
            q = float(q)
        if not (_isfinite(p) and _isfinite(q) and p > 0.0 and q >= 0.0):
            raise _fail(f"{what}[{i}] is not a finite level with price > 0 and qty >= 0: {p!r}, {q!r}", "number")
        out += pack(p, q)
    return len(side)


def encode_update(update: BookUpdate) -> bytes:
    """Encode one :class:`~dragonfly.model.BookUpdate` (see the module notes for the layout).

    Raises
    ------
    BusMessageError
        Not a BookUpdate (``type``), a field of the wrong type (``type``), a venue or instrument
        that is empty (``length``), longer than 255 bytes or a reason longer than 65535 bytes
        (``too_long``), a text that is not valid UTF-8 (``utf8``), a level that is not finite,
        has a price <= 0 or a qty < 0, or a timestamp outside 0..2**63-1 (``number``), levels on
        an update that is not LIVE (``levels``), more than 65535 levels a side (``too_long``).
    """
    if not isinstance(update, BookUpdate):
        raise _fail(f"expected a BookUpdate, not {type(update).__name__}", "type")
    venue, instrument, bids, asks, status, ex_ts, rx_ts, reason = update
    code = _STATUS_CODE.get(status) if isinstance(status, VenueStatus) else None
    if code is None:
        raise _fail(f"status must be a VenueStatus, not {status!r}", "type")
    v = _text(venue, "venue", 255)
    i = _text(instrument, "instrument", 255)
    r = _text(reason, "reason", 65535)
    if not v or not i:
        raise _fail("venue and instrument must not be empty", "length")
    ex = _stamp(ex_ts, "exchange_ts_ns")
    rx = _stamp(rx_ts, "receive_ts_ns")
    levels = bytearray()
    nb = _side(levels, bids, "bids")
    na = _side(levels, asks, "asks")
    if code != 1 and nb + na:
        raise _fail(f"a {status.value} update carries no levels", "levels")
    head = _HEADER.pack(MAGIC, VERSION, code, nb, na, ex, rx, len(v), len(i), len(r))
    return b"".join((head, v, i, r, levels))


def decode_update(data: bytes) -> BookUpdate:
    """Decode one message (``bytes``, ``bytearray`` or ``memoryview``) into a BookUpdate.

    The levels come back as tuples of ``(price, qty)`` float tuples, the status as a
    :class:`~dragonfly.model.VenueStatus`.

    Raises
    ------
    BusMessageError
        Whatever is not exactly one valid message; ``reason`` and ``offset`` say what and where
        (see the module notes for the order of the checks).
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _fail(f"expected bytes, not {type(data).__name__}", "type")
        data = bytes(data)
    size = len(data)
    if size < HEADER_SIZE:
        raise _fail(f"truncated: {size} bytes, a message has at least {HEADER_SIZE}", "truncated", size)
    magic, version, code, nb, na, ex, rx, vl, il, rl = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise _fail("not a bus message (bad magic)", "magic", 0)
    if version != VERSION:
        raise _fail(f"unsupported bus message version {version}", "version", 2)
    if code > 2:
        raise _fail(f"bad status code {code}", "status", 3)
    if vl == 0 or il == 0:
        raise _fail("empty venue or instrument", "length", 24)
    n = nb + na
    levels_at = HEADER_SIZE + vl + il + rl
    end = levels_at + 16 * n
    if size < end:
        raise _fail(f"truncated: {size} bytes of {end}", "truncated", size)
    if size > end:
        raise _fail(f"{size - end} bytes after the message", "trailing", end)
    if code != 1 and n:
        raise _fail("levels on an update that is not LIVE", "levels", 4)
    if ex < 0:
        raise _fail("negative exchange_ts_ns", "number", 8)
    if rx < 0:
        raise _fail("negative receive_ts_ns", "number", 16)
    pos = HEADER_SIZE
    try:
        venue = data[pos : pos + vl].decode("utf-8")
        pos += vl
        instrument = data[pos : pos + il].decode("utf-8")
        pos += il
        reason = data[pos : pos + rl].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("a text is not valid UTF-8", "utf8", pos) from None
    if n:
        values = struct.unpack_from(f"<{2 * n}d", data, levels_at)
        for k in range(n):
            p = values[2 * k]
            q = values[2 * k + 1]
            if not (_isfinite(p) and _isfinite(q) and p > 0.0 and q >= 0.0):
                raise _fail(f"level {k} is not finite with price > 0 and qty >= 0", "number", levels_at + 16 * k)
        pairs = tuple(zip(values[0::2], values[1::2], strict=True))
        bids = pairs[:nb]
        asks = pairs[nb:]
    else:
        bids = asks = ()
    return _make((venue, instrument, bids, asks, _STATUSES[code], ex, rx, reason))
