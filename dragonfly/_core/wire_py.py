"""Direct protobuf encoding of ``orderbook.Summary`` and ``dragonfly.v1.BookUpdate`` (pure Python).

This is the reference implementation and the fallback of :mod:`dragonfly._core.wire_c`;
both twins return the same bytes and raise the same exceptions.

The messages (``proto/orderbook.proto``)::

    message Summary { double spread = 1; repeated Level bids = 2; repeated Level asks = 3; }
    message Level   { string exchange = 1; double price = 2; double amount = 3; }

and (``proto/dragonfly/v1/book.proto``)::

    message BookUpdate  { string instrument = 1; uint64 seq = 2; double spread = 3;
                          repeated orderbook.Level bids = 4; repeated orderbook.Level asks = 5;
                          int64 exchange_ts_ns = 6; int64 receive_ts_ns = 7; int64 publish_ts_ns = 8;
                          repeated VenueHealth venues = 9; }
    message VenueHealth { string venue = 1; VenueStatus status = 2; int64 last_update_ns = 3; string reason = 4; }

The bytes are exactly those of ``Summary(...).SerializeToString()`` (``BookUpdate(...)``) from the protobuf
library (upb and pure-Python backends alike) for the same content, field by field in
field-number order, with the proto3 rules for implicit presence:

* a ``double`` is written (tag, then 8 bytes little-endian IEEE 754) unless its bit
  pattern is that of ``+0.0``: ``-0.0`` *is* written, and so is every NaN (with its
  sign and payload bits as they are) and both infinities;
* a ``string`` is written (tag, varint length, UTF-8) unless it is empty;
* an integer (``uint64``, ``int64``, an enum) is written (tag, varint) unless it is 0; a
  negative ``int64`` or enum value is written as its 64-bit two's complement (10 bytes);
* each ``Level`` and ``VenueHealth`` is a length-delimited sub-message (tag, varint length,
  body), written even when its body is empty.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ..errors import LevelsError, LevelsTypeError
from .merge_py import as_double

__all__ = ("encode_summary", "encode_book_update", "encode_name_field")

_pack_double = struct.Struct("<d").pack
_PLUS_ZERO = bytes(8)

_TAG_SPREAD = b"\x09"  # field 1, wire type 1 (64-bit)
_TAG_BIDS = 0x12  # field 2, wire type 2 (length-delimited)
_TAG_ASKS = 0x1A  # field 3, wire type 2
_TAG_EXCHANGE = b"\x0a"  # Level field 1, length-delimited
_TAG_PRICE = b"\x11"  # Level field 2, 64-bit
_TAG_AMOUNT = b"\x19"  # Level field 3, 64-bit

# dragonfly.v1.BookUpdate
_TAG_INSTRUMENT = b"\x0a"  # field 1, length-delimited
_TAG_SEQ = b"\x10"  # field 2, varint
_TAG_BU_SPREAD = b"\x19"  # field 3, 64-bit
_TAG_BU_BIDS = 0x22  # field 4, length-delimited
_TAG_BU_ASKS = 0x2A  # field 5
_TAG_EXCHANGE_TS = b"\x30"  # field 6, varint
_TAG_RECEIVE_TS = b"\x38"  # field 7
_TAG_PUBLISH_TS = b"\x40"  # field 8
_TAG_VENUES = b"\x4a"  # field 9, length-delimited
# dragonfly.v1.VenueHealth
_TAG_VH_VENUE = b"\x0a"
_TAG_VH_STATUS = b"\x10"
_TAG_VH_LAST = b"\x18"
_TAG_VH_REASON = b"\x22"

_U64 = (0, (1 << 64) - 1)
_I64 = (-(1 << 63), (1 << 63) - 1)
_I32 = (-(1 << 31), (1 << 31) - 1)

#: One level to encode: ``(venue, price, qty)``.
WireLevel = tuple[str, float, float]
#: One venue's health to encode: ``(venue, status, last_update_ns, reason)``, ``status`` the
#: ``dragonfly.v1.VenueStatus`` number (0 unspecified, 1 syncing, 2 live, 3 stale).
WireHealth = tuple[str, int, int, str]


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _as_sequence(side: object, what: str) -> Sequence[Any]:
    if type(side) is list or type(side) is tuple:
        return side
    if isinstance(side, Sequence) and not isinstance(side, (str, bytes, bytearray)):
        return list(side)
    raise LevelsTypeError(f"{what} must be a sequence, not {type(side).__name__}", side=what)


def _utf8(venue: object, side: str, index: int) -> bytes:
    if not isinstance(venue, str):
        raise LevelsTypeError(
            f"{side}[{index}] venue must be str, not {type(venue).__name__}", side=side, index=index
        )
    try:
        return str.encode(venue, "utf-8")
    except UnicodeEncodeError as exc:
        raise LevelsError(f"{side}[{index}] venue is not valid UTF-8: {exc.reason}", side=side, index=index) from None


def encode_name_field(venue: str) -> bytes:
    """Return the encoded ``Level.exchange`` field for ``venue`` (``b""`` for ``""``).

    Tag, varint length and UTF-8 bytes, as the C-level encoder of ``wire_c`` takes them
    per venue. Raises :class:`~dragonfly.errors.LevelsTypeError` if ``venue`` is not a
    ``str`` and :class:`~dragonfly.errors.LevelsError` if it cannot be UTF-8 encoded
    (lone surrogates).
    """
    raw = _utf8(venue, "venue", 0)
    return _TAG_EXCHANGE + _varint(len(raw)) + raw if raw else b""


def _double_field(tag: bytes, x: float) -> bytes:
    packed = _pack_double(x)
    return b"" if packed == _PLUS_ZERO else tag + packed


def _encode_side(out: bytearray, tag: int, levels: Sequence[Any], side: str) -> tuple[bool, float]:
    """Append each level of ``levels``; return (non-empty, first price)."""
    first = 0.0
    i = 0
    while i < len(levels):
        level = levels[i]
        if not isinstance(level, (tuple, list)):
            raise LevelsTypeError(
                f"{side}[{i}] must be a (venue, price, qty) tuple, not {type(level).__name__}", side=side, index=i
            )
        if len(level) != 3:
            raise LevelsError(f"{side}[{i}] must have 3 elements, has {len(level)}", side=side, index=i)
        raw = _utf8(level[0], side, i)
        price = as_double(level[1], "price", "", side, i)
        qty = as_double(level[2], "qty", "", side, i)
        if i == 0:
            first = price
        body = (_TAG_EXCHANGE + _varint(len(raw)) + raw if raw else b"") + _double_field(
            _TAG_PRICE, price
        ) + _double_field(_TAG_AMOUNT, qty)
        out.append(tag)
        out += _varint(len(body))
        out += body
        i += 1
    return i > 0, first


def encode_summary(
    bids: Sequence[WireLevel], asks: Sequence[WireLevel], *, spread: float | None = None
) -> bytes:
    """Encode an ``orderbook.Summary`` straight to protobuf bytes.

    Parameters
    ----------
    bids, asks : Sequence[tuple[str, float, float]]
        ``(venue, price, qty)`` levels, best first, as :func:`dragonfly.merge_levels`
        returns them; each level is a ``tuple`` or ``list`` of a ``str`` and two numbers
        (``float`` or ``int``). They are written in the order given.
    spread : float or int, optional, keyword-only
        The ``spread`` field. When omitted (``None``) it is the best ask minus the best
        bid, ``asks[0][1] - bids[0][1]``; when either side is empty it is ``0.0``, the
        proto3 default, which is therefore absent from the bytes (a reader sees 0.0).

    Returns
    -------
    bytes
        Byte-identical to ``orderbook_pb2.Summary(spread=..., bids=[Level(exchange=venue,
        price=price, amount=qty), ...], asks=[...]).SerializeToString()``: see the module
        docstring for the proto3 rules (``+0.0`` and ``""`` omitted, ``-0.0``, NaN and
        infinities written as they are).

    Raises
    ------
    LevelsTypeError
        A side is not a sequence, a level not a tuple/list, a venue not ``str``, a number
        neither ``float`` nor ``int``, or ``spread`` not a number.
    LevelsError
        A level without exactly 3 elements, an ``int`` too large for a double, or a venue
        that cannot be encoded as UTF-8 (lone surrogates).
    """
    bid_seq = _as_sequence(bids, "bids")
    ask_seq = _as_sequence(asks, "asks")
    explicit = None if spread is None else as_double(spread, "spread")
    body = bytearray()
    has_bid, best_bid = _encode_side(body, _TAG_BIDS, bid_seq, "bids")
    has_ask, best_ask = _encode_side(body, _TAG_ASKS, ask_seq, "asks")
    if explicit is not None:
        value = explicit
    elif has_bid and has_ask:
        value = best_ask - best_bid
    else:
        value = 0.0
    return _double_field(_TAG_SPREAD, value) + bytes(body)


def _check_int(x: object, field: str, bits: str, side: str = "", index: int = -1) -> int:
    """``x`` as an ``int`` in the range of ``bits`` (``"u64"``, ``"i64"`` or ``"i32"``), else a typed error.

    ``bool`` is an ``int`` here, as the protobuf library takes it. ``field``, ``side`` and ``index``
    only describe ``x`` in the error raised.
    """
    what = f"{side}[{index}] {field}" if side else field
    if not isinstance(x, int):
        raise LevelsTypeError(f"{what} must be an int, not {type(x).__name__}", side=side, index=index)
    lo, hi = _U64 if bits == "u64" else _I64 if bits == "i64" else _I32
    if not lo <= x <= hi:
        raise LevelsError(f"{what} out of range for {bits}: {x}", side=side, index=index)
    return int(x)


def _int_field(tag: bytes, n: int) -> bytes:
    return tag + _varint(n & 0xFFFFFFFFFFFFFFFF) if n else b""


def _str_field(tag: bytes, raw: bytes) -> bytes:
    return tag + _varint(len(raw)) + raw if raw else b""


def _text(x: object, field: str, side: str = "", index: int = -1) -> bytes:
    what = f"{side}[{index}] {field}" if side else field
    if not isinstance(x, str):
        raise LevelsTypeError(f"{what} must be str, not {type(x).__name__}", side=side, index=index)
    try:
        return str.encode(x, "utf-8")
    except UnicodeEncodeError as exc:
        raise LevelsError(f"{what} is not valid UTF-8: {exc.reason}", side=side, index=index) from None


def _encode_health(out: bytearray, venues: Sequence[Any]) -> None:
    i = 0
    while i < len(venues):
        h = venues[i]
        if not isinstance(h, (tuple, list)):
            raise LevelsTypeError(
                f"venues[{i}] must be a (venue, status, last_update_ns, reason) tuple, not {type(h).__name__}",
                side="venues", index=i,
            )
        if len(h) != 4:
            raise LevelsError(f"venues[{i}] must have 4 elements, has {len(h)}", side="venues", index=i)
        name = _text(h[0], "venue", "venues", i)
        status = _check_int(h[1], "status", "i32", "venues", i)
        last = _check_int(h[2], "last_update_ns", "i64", "venues", i)
        reason = _text(h[3], "reason", "venues", i)
        body = (
            _str_field(_TAG_VH_VENUE, name) + _int_field(_TAG_VH_STATUS, status)
            + _int_field(_TAG_VH_LAST, last) + _str_field(_TAG_VH_REASON, reason)
        )
        out += _TAG_VENUES
        out += _varint(len(body))
        out += body
        i += 1


def encode_book_update(
    instrument: str,
    seq: int,
    bids: Sequence[WireLevel],
    asks: Sequence[WireLevel],
    *,
    spread: float | None = None,
    exchange_ts_ns: int = 0,
    receive_ts_ns: int = 0,
    publish_ts_ns: int = 0,
    venues: Sequence[WireHealth] = (),
) -> bytes:
    """Encode a ``dragonfly.v1.BookUpdate`` straight to protobuf bytes.

    Parameters
    ----------
    instrument : str
        The ``instrument`` field (``""`` is omitted, as proto3 does).
    seq : int
        The ``seq`` field, ``0 <= seq < 2**64``.
    bids, asks : Sequence[tuple[str, float, float]]
        ``(venue, price, qty)`` levels, as for :func:`encode_summary`.
    spread : float or int, optional, keyword-only
        As for :func:`encode_summary`: best ask minus best bid when omitted, 0.0 when a side
        is empty.
    exchange_ts_ns, receive_ts_ns, publish_ts_ns : int, keyword-only
        The timestamps (``int64``), 0 when not known.
    venues : Sequence[tuple[str, int, int, str]], keyword-only
        ``(venue, status, last_update_ns, reason)`` per reported venue, in order; ``status``
        is the ``dragonfly.v1.VenueStatus`` number (any ``int32``), ``last_update_ns`` an
        ``int64``.

    Returns
    -------
    bytes
        Byte-identical to ``book_pb2.BookUpdate(instrument=..., seq=..., spread=..., bids=[Level(...)],
        asks=[...], exchange_ts_ns=..., receive_ts_ns=..., publish_ts_ns=..., venues=[VenueHealth(venue=...,
        status=..., last_update_ns=..., reason=...)]).SerializeToString()``.

    Raises
    ------
    LevelsTypeError
        A wrong type: as for :func:`encode_summary`, or ``instrument``/a venue name/a reason not ``str``,
        an integer field not ``int``, a health entry not a tuple/list.
    LevelsError
        As for :func:`encode_summary`, or an integer out of its field's range, a health entry without
        exactly 4 elements, a string that cannot be UTF-8 encoded.

    The arguments are checked in this order: ``instrument``, ``seq``, the two sides' types, ``spread``,
    the three timestamps, each bid, each ask, each health entry.
    """
    name = _text(instrument, "instrument")
    seq_n = _check_int(seq, "seq", "u64")
    bid_seq = _as_sequence(bids, "bids")
    ask_seq = _as_sequence(asks, "asks")
    explicit = None if spread is None else as_double(spread, "spread")
    ts = [_check_int(t, f, "i64") for t, f in (
        (exchange_ts_ns, "exchange_ts_ns"), (receive_ts_ns, "receive_ts_ns"), (publish_ts_ns, "publish_ts_ns")
    )]
    health_seq = _as_sequence(venues, "venues")
    body = bytearray()
    has_bid, best_bid = _encode_side(body, _TAG_BU_BIDS, bid_seq, "bids")
    has_ask, best_ask = _encode_side(body, _TAG_BU_ASKS, ask_seq, "asks")
    if explicit is not None:
        value = explicit
    elif has_bid and has_ask:
        value = best_ask - best_bid
    else:
        value = 0.0
    body += _int_field(_TAG_EXCHANGE_TS, ts[0])
    body += _int_field(_TAG_RECEIVE_TS, ts[1])
    body += _int_field(_TAG_PUBLISH_TS, ts[2])
    _encode_health(body, health_seq)
    return (
        _str_field(_TAG_INSTRUMENT, name) + _int_field(_TAG_SEQ, seq_n) + _double_field(_TAG_BU_SPREAD, value)
        + bytes(body)
    )
