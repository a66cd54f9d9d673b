"""Direct protobuf encoding of ``orderbook.Summary`` (pure Python).

This is the reference implementation and the fallback of :mod:`dragonfly._core.wire_c`;
both twins return the same bytes and raise the same exceptions.

The messages (``proto/orderbook.proto``)::

    message Summary { double spread = 1; repeated Level bids = 2; repeated Level asks = 3; }
    message Level   { string exchange = 1; double price = 2; double amount = 3; }

The bytes are exactly those of ``Summary(...).SerializeToString()`` from the protobuf
library (upb and pure-Python backends alike) for the same content, field by field in
field-number order, with the proto3 rules for implicit presence:

* a ``double`` is written (tag, then 8 bytes little-endian IEEE 754) unless its bit
  pattern is that of ``+0.0``: ``-0.0`` *is* written, and so is every NaN (with its
  sign and payload bits as they are) and both infinities;
* a ``string`` is written (tag, varint length, UTF-8) unless it is empty;
* each ``Level`` is a length-delimited sub-message (tag, varint length, body), written
  even when its body is empty.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from ..errors import LevelsError, LevelsTypeError
from .merge_py import as_double

__all__ = ("encode_summary", "encode_name_field")

_pack_double = struct.Struct("<d").pack
_PLUS_ZERO = bytes(8)

_TAG_SPREAD = b"\x09"  # field 1, wire type 1 (64-bit)
_TAG_BIDS = 0x12  # field 2, wire type 2 (length-delimited)
_TAG_ASKS = 0x1A  # field 3, wire type 2
_TAG_EXCHANGE = b"\x0a"  # Level field 1, length-delimited
_TAG_PRICE = b"\x11"  # Level field 2, 64-bit
_TAG_AMOUNT = b"\x19"  # Level field 3, 64-bit

#: One level to encode: ``(venue, price, qty)``.
WireLevel = tuple[str, float, float]


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
