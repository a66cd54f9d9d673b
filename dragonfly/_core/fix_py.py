"""FIX tag=value codec: the pure-Python reference twin of :mod:`dragonfly._core.fix_c`.

What it does
------------
* :func:`parse_message` checks and splits one complete message: ``8`` BeginString,
  ``9`` BodyLength (zero-padded values accepted), ``35`` MsgType as the first three
  fields and ``10`` CheckSum (three digits) as the last; BodyLength and CheckSum
  are verified.
* :func:`encode_message` builds a message, computing BodyLength and CheckSum.
* :class:`FixFramer` cuts a TCP byte stream into messages, keeping partial data
  between reads. Garbage is skipped up to the next ``8=FIX`` (counted in
  ``dropped_bytes``); a message that fails to parse, or whose declared size is
  above ``max_size``, is dropped (counted in ``dropped_messages``, the
  :class:`~dragonfly.errors.FixParseError` kept for :meth:`FixFramer.take_errors`).
  The buffer never holds more than ``max_size`` bytes of one message.
* :func:`market_data` is the fast path for ``35=W`` / ``35=X``: the repeating
  group ``268 NoMDEntries`` into per-entry price, size, side and update action.

Both twins raise the same errors with the same ``reason`` and ``tag`` and
return the same values; ``tests/unit/test_fix_codec.py`` holds them to it.
Raw-data fields (which may contain SOH) are not supported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from ..errors import FixParseError

__all__ = (
    "DEFAULT_MAX_SIZE",
    "SOH",
    "FixFramer",
    "FixMessage",
    "MarketData",
    "checksum",
    "encode_message",
    "format_value",
    "market_data",
    "parse_message",
)

SOH = b"\x01"
#: Default hard limit on the size of one message, in bytes.
DEFAULT_MAX_SIZE = 65536
_MAX_ERRORS = 64  # FixFramer keeps at most this many errors between take_errors() calls
_MAX_BEGIN = 32  # "8=FIX.4.4" and friends are short; a longer first field is garbage
_MAX_LEN_DIGITS = 9


def checksum(data: bytes) -> int:
    """Sum of ``data``'s bytes modulo 256 (the FIX CheckSum)."""
    return sum(data) & 0xFF


def _digits(value: bytes) -> bool:
    return len(value) > 0 and value.isdigit()


def _to_int(value: bytes, tag: int) -> int:
    if not _digits(value) or len(value) > 18:
        raise FixParseError(f"tag {tag}: not an unsigned integer: {value[:32]!r}", reason="value", tag=tag)
    return int(value)


def _to_float(value: bytes, tag: int) -> float:
    # FIX "float": optional sign, digits, optional '.' and digits; no exponent, no blanks.
    body = value[1:] if value[:1] == b"-" else value
    whole, _, frac = body.partition(b".")
    if (
        not body
        or len(value) > 400
        or (whole and not whole.isdigit())
        or (frac and not frac.isdigit())
        or not (whole or frac)
    ):
        raise FixParseError(f"tag {tag}: not a FIX float: {value[:32]!r}", reason="value", tag=tag)
    return float(value)


class FixMessage:
    """One parsed FIX message: its raw bytes and its fields in wire order.

    Attributes
    ----------
    raw : bytes
        The complete message as received, ``8=`` to the CheckSum's SOH.
    msg_type : str
        Tag 35.
    """

    __slots__ = ("_fields", "msg_type", "raw")

    def __init__(self, raw: bytes, fields: list[tuple[int, bytes]]) -> None:
        self.raw = raw
        self._fields = fields
        self.msg_type = fields[2][1].decode("ascii", "replace")

    @property
    def fields(self) -> tuple[tuple[int, bytes], ...]:
        """``(tag, value)`` pairs in wire order, including 8, 9, 35 and 10."""
        return tuple(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Value of the first occurrence of ``tag``, or ``default``."""
        for t, v in self._fields:
            if t == tag:
                return v
        return default

    def get_str(self, tag: int, default: str = "") -> str:
        """Value of ``tag`` decoded as text (latin-1), or ``default``."""
        v = self.get(tag)
        return default if v is None else v.decode("latin-1")

    def get_int(self, tag: int, default: int | None = None) -> int | None:
        """Value of ``tag`` as an unsigned integer, ``default`` when absent.

        Raises
        ------
        FixParseError
            The value is present but not an unsigned integer (reason ``"value"``).
        """
        v = self.get(tag)
        return default if v is None else _to_int(v, tag)

    def get_all(self, tag: int) -> list[bytes]:
        """Values of every occurrence of ``tag`` (repeating groups)."""
        return [v for t, v in self._fields if t == tag]

    def __repr__(self) -> str:
        return "FixMessage(" + self.raw.replace(SOH, b"|").decode("latin-1") + ")"


def _split(raw: bytes) -> list[tuple[int, bytes]]:
    fields: list[tuple[int, bytes]] = []
    pos = 0
    n = len(raw)
    while pos < n:
        eq = raw.find(b"=", pos)
        end = raw.find(SOH, pos)
        if end < 0:
            raise FixParseError(f"field at offset {pos} is not terminated by SOH", reason="truncated")
        if eq < 0 or eq > end:
            raise FixParseError(f"field at offset {pos} has no '='", reason="field")
        tag_text = raw[pos:eq]
        if not _digits(tag_text) or len(tag_text) > 9 or tag_text[0] == 0x30:
            raise FixParseError(f"bad tag {tag_text[:16]!r} at offset {pos}", reason="tag")
        tag = int(tag_text)
        if eq + 1 == end:
            raise FixParseError(f"tag {tag} has an empty value", reason="empty_value", tag=tag)
        fields.append((tag, raw[eq + 1 : end]))
        pos = end + 1
    return fields


def parse_message(data: bytes, max_size: int = DEFAULT_MAX_SIZE) -> FixMessage:
    """Parse exactly one complete FIX message.

    Parameters
    ----------
    data : bytes
        ``8=...`` up to and including the SOH after ``10=NNN``; nothing else.
    max_size : int
        Messages longer than this are refused (reason ``"too_large"``).

    Raises
    ------
    FixParseError
        With ``reason`` one of ``too_large``, ``truncated``, ``field``, ``tag``,
        ``empty_value``, ``begin_string``, ``body_length``, ``msg_type``,
        ``checksum``.
    """
    raw = bytes(data)
    if len(raw) > max_size:
        raise FixParseError(f"message of {len(raw)} bytes exceeds the limit of {max_size}", reason="too_large")
    if not raw.endswith(SOH):
        raise FixParseError("message does not end with SOH", reason="truncated")
    fields = _split(raw)
    if len(fields) < 4 or fields[0][0] != 8 or fields[1][0] != 9 or fields[2][0] != 35 or fields[-1][0] != 10:
        if not fields or fields[0][0] != 8:
            raise FixParseError("first field is not BeginString (8)", reason="begin_string", tag=8)
        if len(fields) < 2 or fields[1][0] != 9:
            raise FixParseError("second field is not BodyLength (9)", reason="body_length", tag=9)
        if len(fields) < 3 or fields[2][0] != 35:
            raise FixParseError("third field is not MsgType (35)", reason="msg_type", tag=35)
        raise FixParseError("last field is not CheckSum (10)", reason="checksum", tag=10)
    if not fields[0][1].startswith(b"FIX"):
        raise FixParseError(f"unknown BeginString {fields[0][1][:16]!r}", reason="begin_string", tag=8)
    cks = fields[-1][1]
    if len(cks) != 3 or not cks.isdigit():
        raise FixParseError(f"CheckSum {cks[:16]!r} is not three digits", reason="checksum", tag=10)
    blen_text = fields[1][1]
    if not _digits(blen_text) or len(blen_text) > _MAX_LEN_DIGITS:
        raise FixParseError(f"BodyLength {blen_text[:16]!r} is not a number", reason="body_length", tag=9)
    body_start = raw.index(SOH, raw.index(SOH) + 1) + 1
    body_end = len(raw) - 7  # "10=NNN\x01"
    if int(blen_text) != body_end - body_start:
        raise FixParseError(
            f"BodyLength {int(blen_text)} but the body has {body_end - body_start} bytes", reason="body_length", tag=9
        )
    want = checksum(raw[:body_end])
    if int(cks) != want:
        raise FixParseError(f"CheckSum {cks.decode()} but computed {want:03d}", reason="checksum", tag=10)
    return FixMessage(raw, fields)


def format_value(value: object) -> bytes:
    """Encode one field value: ``bytes``/``str`` as is, ``bool`` as ``Y``/``N``,
    ``int`` in decimal, ``float`` positionally (never with an exponent).

    Raises
    ------
    ValueError
        Empty values, values containing SOH, and non-finite floats.
    TypeError
        Any other type.
    """
    if isinstance(value, bytes):
        out = value
    elif isinstance(value, str):
        out = value.encode("latin-1")
    elif isinstance(value, bool):
        out = b"Y" if value else b"N"
    elif isinstance(value, int):
        out = str(value).encode("ascii")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode non-finite float {value!r} in FIX")
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        out = text.encode("ascii")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as a FIX value")
    if not out or SOH in out:
        raise ValueError(f"FIX values must be non-empty and free of SOH: {out[:32]!r}")
    return out


def encode_message(
    msg_type: str | bytes, fields: Iterable[tuple[int, object]], begin_string: str | bytes = b"FIX.4.4"
) -> bytes:
    """Build a complete message: ``8``, ``9`` (computed), ``35``, ``fields`` in order, ``10`` (computed).

    Parameters
    ----------
    msg_type : str or bytes
        Tag 35, e.g. ``"A"`` (Logon) or ``"W"``.
    fields : iterable of (int, value)
        Every other field in wire order (header 49/56/34/52 first, then the body).
        Values as accepted by :func:`format_value`.
    begin_string : str or bytes
        Tag 8.
    """
    parts = [b"35=", format_value(msg_type), SOH]
    for tag, value in fields:
        if not isinstance(tag, int) or isinstance(tag, bool) or tag <= 0:
            raise ValueError(f"FIX tags are positive integers, got {tag!r}")
        if tag in (8, 9, 10, 35):
            raise ValueError(f"tag {tag} is computed by encode_message")
        parts += [str(tag).encode("ascii"), b"=", format_value(value), SOH]
    body = b"".join(parts)
    head = b"8=" + format_value(begin_string) + b"\x019=" + str(len(body)).encode("ascii") + SOH
    msg = head + body
    return msg + b"10=%03d\x01" % checksum(msg)


class FixFramer:
    """Cut a byte stream into FIX messages across arbitrary read boundaries.

    Parameters
    ----------
    max_size : int
        Hard limit on one message; a larger declared size is dropped and the
        stream resynchronised at the next ``8=FIX``.

    Attributes
    ----------
    dropped_bytes : int
        Bytes discarded: garbage before ``8=FIX`` and the bytes of dropped messages.
    dropped_messages : int
        Messages dropped because they failed to parse or were too large.
    """

    __slots__ = ("_buf", "_errors", "dropped_bytes", "dropped_messages", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        if not isinstance(max_size, int) or max_size < 32:
            raise ValueError(f"max_size must be an int >= 32, got {max_size!r}")
        self.max_size = max_size
        self.dropped_bytes = 0
        self.dropped_messages = 0
        self._buf = bytearray()
        self._errors: list[FixParseError] = []

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a message."""
        return len(self._buf)

    def take_errors(self) -> list[FixParseError]:
        """Return and forget the errors of dropped messages (at most 64 are kept)."""
        errors, self._errors = self._errors, []
        return errors

    def _error(self, err: FixParseError) -> None:
        self.dropped_messages += 1
        self.dropped_bytes += 1  # the caller skips one byte, then resyncs
        if len(self._errors) < _MAX_ERRORS:
            self._errors.append(err)

    def feed(self, data: bytes) -> list[FixMessage]:
        """Add ``data`` and return every complete, valid message now available."""
        buf = self._buf
        buf += data
        out: list[FixMessage] = []
        pos = 0
        n = len(buf)
        while pos < n:
            # 1. find the start of a message
            if buf[pos : pos + 5] != b"8=FIX":
                start = buf.find(b"8=FIX", pos)
                if start < 0:
                    keep = 0
                    # keep a possible split "8=FI" at the end
                    for k in (4, 3, 2, 1):
                        if n - pos >= k and b"8=FIX".startswith(bytes(buf[n - k : n])):
                            keep = k
                            break
                    self.dropped_bytes += n - pos - keep
                    pos = n - keep
                    break
                self.dropped_bytes += start - pos
                pos = start
            # 2. header "8=FIX.x.y<SOH>9=<digits><SOH>"
            soh1 = buf.find(SOH, pos, min(n, pos + _MAX_BEGIN))
            if soh1 < 0:
                if n - pos >= _MAX_BEGIN:
                    self._error(FixParseError("BeginString is not terminated", reason="begin_string", tag=8))
                    pos += 1
                    continue
                break
            if n < soh1 + 3:
                break
            if buf[soh1 + 1 : soh1 + 3] != b"9=":
                self._error(FixParseError("second field is not BodyLength (9)", reason="body_length", tag=9))
                pos += 1
                continue
            lim = soh1 + 3 + _MAX_LEN_DIGITS + 1
            soh2 = buf.find(SOH, soh1 + 3, min(n, lim))
            if soh2 < 0:
                if n >= lim:
                    self._error(FixParseError("BodyLength is too long", reason="body_length", tag=9))
                    pos += 1
                    continue
                break
            blen_text = bytes(buf[soh1 + 3 : soh2])
            if not _digits(blen_text):
                self._error(FixParseError(f"BodyLength {blen_text!r} is not a number", reason="body_length", tag=9))
                pos += 1
                continue
            end = soh2 + 1 + int(blen_text) + 7
            if end - pos > self.max_size:
                self._error(
                    FixParseError(
                        f"message of {end - pos} bytes exceeds the limit of {self.max_size}", reason="too_large"
                    )
                )
                pos += 1
                continue
            if end > n:
                break
            try:
                out.append(parse_message(bytes(buf[pos:end]), self.max_size))
            except FixParseError as err:
                self._error(err)
                pos += 1
                continue
            pos = end
        del buf[:pos]
        return out


class MarketData:
    """The ``268 NoMDEntries`` group of a ``35=W`` or ``35=X``, bids and offers only.

    Entries of other types (trades, ...) are skipped and counted in ``skipped``.

    Attributes
    ----------
    msg_type : str
        ``"W"`` (snapshot) or ``"X"`` (incremental).
    symbol : str
        Tag 55 outside the group ("" when absent).
    md_req_id : str
        Tag 262 ("" when absent).
    skipped : int
        Entries not of type bid (0) or offer (1).
    """

    __slots__ = ("_entries", "md_req_id", "msg_type", "skipped", "symbol")

    def __init__(
        self,
        msg_type: str,
        symbol: str,
        md_req_id: str,
        skipped: int,
        entries: list[tuple[int, int, float, float, str, str]],
    ) -> None:
        self.msg_type = msg_type
        self.symbol = symbol
        self.md_req_id = md_req_id
        self.skipped = skipped
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def side(self, i: int) -> int:
        """0 for a bid, 1 for an offer."""
        return self._entries[i][1]

    def action(self, i: int) -> int:
        """279 MDUpdateAction: 0 new, 1 change, 2 delete (0 in a snapshot)."""
        return self._entries[i][0]

    def price(self, i: int) -> float:
        return self._entries[i][2]

    def size(self, i: int) -> float:
        return self._entries[i][3]

    def entry_symbol(self, i: int) -> str:
        """Tag 55 inside the entry, else the message's symbol."""
        return self._entries[i][4] or self.symbol

    def entry_market(self, i: int) -> str:
        """The entry's market: tag 275 MDMkt, else 30 LastMkt, else 207 SecurityExchange; or ""."""
        return self._entries[i][5]

    def entries(self) -> list[tuple[int, int, float, float, str, str]]:
        """``(action, side, price, size, symbol, market)`` per entry."""
        return [(a, s, p, q, sym or self.symbol, m) for a, s, p, q, sym, m in self._entries]

    def __repr__(self) -> str:
        return f"MarketData({self.msg_type!r}, {self.symbol!r}, {len(self._entries)} entries)"


#: Tags naming an entry's market, by precedence: MDMkt (the FIX 4.4 field of the 35=W/35=X entry groups),
#: then LastMkt and SecurityExchange, which some venues send instead.
_MARKET_RANK = {275: 3, 30: 2, 207: 1}


def market_data(msg: FixMessage) -> MarketData:
    """Decode the market-data entries of a ``35=W`` or ``35=X``.

    Raises
    ------
    FixParseError
        Not a W/X (reason ``msg_type``); a group that does not match its count
        (``group_count``); an entry without 269 first (``group``); a bad side,
        action, price or size (``value``); a bid/offer without a price (``missing``).
    """
    mt = msg.msg_type
    if mt != "W" and mt != "X":
        raise FixParseError(f"35={mt} is not market data", reason="msg_type", tag=35)
    fields = msg._fields
    n = len(fields) - 1  # exclude CheckSum
    symbol = ""
    req_id = ""
    i = 3
    count = -1
    while i < n:
        tag, val = fields[i]
        i += 1
        if tag == 268:
            count = _to_int(val, 268)
            break
        if tag == 55:
            symbol = val.decode("latin-1")
        elif tag == 262:
            req_id = val.decode("latin-1")
    if count < 0:
        raise FixParseError("no NoMDEntries (268)", reason="group_count", tag=268)
    entries: list[tuple[int, int, float, float, str, str]] = []
    skipped = 0
    seen = 0
    # [action, type, price, size, symbol, market, has_price, has_type, market rank]
    cur: list[object] | None = None

    def close(e: list[object] | None) -> None:
        nonlocal skipped
        if e is None:
            return
        etype = e[1]
        if etype not in (0, 1):
            skipped += 1
            return
        if not e[6]:
            raise FixParseError("bid/offer entry without MDEntryPx (270)", reason="missing", tag=270)
        # the slots of an entry hold the types the tuple declares (the parser fills them by tag)
        entries.append((e[0], etype, e[2], e[3], e[4], e[5]))  # type: ignore[arg-type]

    action = 0
    while i < n:
        tag, val = fields[i]
        i += 1
        if tag == 279 and mt == "X":
            # MDUpdateAction starts an entry in incrementals (it precedes 269).
            if cur is not None and cur[7]:
                close(cur)
                cur = None
            if len(val) != 1 or val not in (b"0", b"1", b"2"):
                raise FixParseError(f"bad MDUpdateAction {val[:8]!r}", reason="value", tag=279)
            action = val[0] - 0x30
            if cur is None:
                seen += 1
                cur = [action, -1, 0.0, 0.0, "", "", False, False, 0]
            else:
                cur[0] = action
            continue
        if tag == 269:
            if cur is not None and cur[7]:
                close(cur)
                cur = None
            if cur is None:
                seen += 1
                cur = [0, -1, 0.0, 0.0, "", "", False, False, 0]
            if len(val) != 1:
                raise FixParseError(f"bad MDEntryType {val[:8]!r}", reason="value", tag=269)
            cur[1] = val[0] - 0x30 if val in (b"0", b"1") else 100 + val[0]
            cur[7] = True
            continue
        if cur is None:
            if mt == "X" or tag in (270, 271, 275, 30, 207, 290):
                raise FixParseError(f"tag {tag} before the first MDEntryType (269)", reason="group", tag=tag)
            if tag == 55:
                symbol = val.decode("latin-1")
            continue
        if tag == 270:
            cur[2] = _to_float(val, 270)
            cur[6] = True
        elif tag == 271:
            cur[3] = _to_float(val, 271)
        elif tag == 55:
            cur[4] = val.decode("latin-1")
        elif tag in _MARKET_RANK:
            rank = _MARKET_RANK[tag]
            if rank > cur[8]:  # type: ignore[operator]
                cur[5] = val.decode("latin-1")
                cur[8] = rank
    if cur is not None:
        if not cur[7]:
            raise FixParseError("entry without MDEntryType (269)", reason="group", tag=269)
        close(cur)
    if seen != count:
        raise FixParseError(f"NoMDEntries says {count} but {seen} entries follow", reason="group_count", tag=268)
    return MarketData(mt, symbol, req_id, skipped, entries)
