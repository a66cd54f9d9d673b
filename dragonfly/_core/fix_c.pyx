# cython: language_level=3
"""FIX tag=value codec, compiled twin of :mod:`dragonfly._core.fix_py` (the reference).

Messages are split once into C arrays of (tag, value start, value end) offsets
into the raw bytes; values become Python objects only when asked for. The
market-data fast path reads the ``268`` group straight into C arrays of
action, side, price and size. Errors, reasons and values match the pure twin.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from libc.string cimport memchr, memcmp
from libc.math cimport isfinite

from collections.abc import Iterable
from decimal import Decimal

from ..errors import FixParseError

__all__ = (
    "SOH",
    "DEFAULT_MAX_SIZE",
    "FixMessage",
    "FixFramer",
    "MarketData",
    "parse_message",
    "encode_message",
    "format_value",
    "market_data",
    "checksum",
)

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, object overflow_exception) except? -1.0

SOH = b"\x01"
DEFAULT_MAX_SIZE = 65536
cdef Py_ssize_t _MAX_ERRORS = 64
cdef Py_ssize_t _MAX_BEGIN = 32
cdef Py_ssize_t _MAX_LEN_DIGITS = 9


cpdef int checksum(bytes data):
    """Sum of ``data``'s bytes modulo 256 (the FIX CheckSum)."""
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t i, n = PyBytes_GET_SIZE(data)
    cdef unsigned int s = 0
    for i in range(n):
        s += p[i]
    return s & 0xFF


cdef inline bint _all_digits(const char* p, Py_ssize_t a, Py_ssize_t b) noexcept:
    cdef Py_ssize_t i
    if b <= a:
        return False
    for i in range(a, b):
        if p[i] < 48 or p[i] > 57:
            return False
    return True


cdef long long _c_int(const char* p, Py_ssize_t a, Py_ssize_t b, int tag) except? -1:
    cdef Py_ssize_t i
    cdef long long v = 0
    if not _all_digits(p, a, b) or b - a > 18:
        raise FixParseError(f"tag {tag}: not an unsigned integer: {p[a:min(b, a + 32)]!r}", reason="value", tag=tag)
    for i in range(a, b):
        v = v * 10 + (p[i] - 48)
    return v


cdef double[23] _POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                          1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]


cdef double _c_float(const char* p, Py_ssize_t a, Py_ssize_t b, int tag) except? -1.0:
    cdef Py_ssize_t i = a, digits = 0, dots = 0, frac = 0, sig = 0
    cdef char* endp
    cdef double v
    cdef bint neg = False
    cdef unsigned long long m = 0
    if i < b and p[i] == 45:  # '-'
        neg = True
        i += 1
    if b - a > 400 or i >= b:
        raise FixParseError(f"tag {tag}: not a FIX float: {p[a:min(b, a + 32)]!r}", reason="value", tag=tag)
    while i < b:
        if p[i] == 46:
            dots += 1
        elif 48 <= p[i] <= 57:
            digits += 1
            if dots:
                frac += 1
            if m or p[i] != 48:
                sig += 1
                if sig <= 19:
                    m = m * 10 + <unsigned long long>(p[i] - 48)
        else:
            dots = 2
            break
        i += 1
    if dots > 1 or digits == 0:
        raise FixParseError(f"tag {tag}: not a FIX float: {p[a:min(b, a + 32)]!r}", reason="value", tag=tag)
    if sig <= 15 and frac <= 22:
        # Exact integer over an exact power of ten: one correctly rounded IEEE division,
        # bit-identical to float(text) (Clinger's fast path).
        v = <double>m / _POW10[frac]
        return -v if neg else v
    v = PyOS_string_to_double(p + a, &endp, None)
    if endp != p + b:  # cannot happen after the check above; defensive
        raise FixParseError(f"tag {tag}: not a FIX float", reason="value", tag=tag)
    return v


cdef class FixMessage:
    """One parsed FIX message: its raw bytes and its fields in wire order.

    Attributes
    ----------
    raw : bytes
        The complete message as received, ``8=`` to the CheckSum's SOH.
    msg_type : str
        Tag 35.
    """

    def __cinit__(self):
        self.n = 0
        self.tags = NULL
        self.vs = NULL
        self.ve = NULL

    def __dealloc__(self):
        PyMem_Free(self.tags)
        PyMem_Free(self.vs)
        PyMem_Free(self.ve)

    def __init__(self, *args, **kwargs):
        raise TypeError("FixMessage objects are created by parse_message() and FixFramer")

    cdef Py_ssize_t find(self, int tag) noexcept:
        cdef Py_ssize_t i
        for i in range(self.n):
            if self.tags[i] == tag:
                return i
        return -1

    cdef bytes _value(self, Py_ssize_t i):
        return PyBytes_FromStringAndSize(PyBytes_AS_STRING(self.raw) + self.vs[i], self.ve[i] - self.vs[i])

    @property
    def fields(self):
        """``(tag, value)`` pairs in wire order, including 8, 9, 35 and 10."""
        return tuple([(self.tags[i], self._value(i)) for i in range(self.n)])

    def __len__(self):
        return self.n

    def get(self, int tag, default=None):
        """Value of the first occurrence of ``tag``, or ``default``."""
        cdef Py_ssize_t i = self.find(tag)
        return default if i < 0 else self._value(i)

    def get_str(self, int tag, str default=""):
        """Value of ``tag`` decoded as text (latin-1), or ``default``."""
        cdef Py_ssize_t i = self.find(tag)
        return default if i < 0 else self._value(i).decode("latin-1")

    def get_int(self, int tag, default=None):
        """Value of ``tag`` as an unsigned integer, ``default`` when absent."""
        cdef Py_ssize_t i = self.find(tag)
        if i < 0:
            return default
        return _c_int(PyBytes_AS_STRING(self.raw), self.vs[i], self.ve[i], tag)

    def get_all(self, int tag):
        """Values of every occurrence of ``tag`` (repeating groups)."""
        return [self._value(i) for i in range(self.n) if self.tags[i] == tag]

    def __repr__(self):
        return "FixMessage(" + self.raw.replace(b"\x01", b"|").decode("latin-1") + ")"


cdef FixMessage _parse(bytes raw, Py_ssize_t max_size):
    cdef const char* p = PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    cdef Py_ssize_t i, pos, eq, end, nf = 0, k
    cdef long long tag
    cdef FixMessage msg
    if n > max_size:
        raise FixParseError(f"message of {n} bytes exceeds the limit of {max_size}", reason="too_large")
    if n == 0 or p[n - 1] != 1:
        raise FixParseError("message does not end with SOH", reason="truncated")
    for i in range(n):
        if p[i] == 1:
            nf += 1
    msg = FixMessage.__new__(FixMessage)
    msg.raw = raw
    msg.tags = <int*>PyMem_Malloc(nf * sizeof(int))
    msg.vs = <Py_ssize_t*>PyMem_Malloc(nf * sizeof(Py_ssize_t))
    msg.ve = <Py_ssize_t*>PyMem_Malloc(nf * sizeof(Py_ssize_t))
    if msg.tags == NULL or msg.vs == NULL or msg.ve == NULL:
        raise MemoryError()
    pos = 0
    while pos < n:
        eq = pos
        while p[eq] != 61 and p[eq] != 1:  # '=' or SOH; p[n-1] is SOH so this stops
            eq += 1
        if p[eq] == 1:
            raise FixParseError(f"field at offset {pos} has no '='", reason="field")
        end = eq + 1
        while p[end] != 1:
            end += 1
        if not _all_digits(p, pos, eq) or eq - pos > 9 or p[pos] == 48:
            raise FixParseError(f"bad tag {p[pos:min(eq, pos + 16)]!r} at offset {pos}", reason="tag")
        tag = 0
        for k in range(pos, eq):
            tag = tag * 10 + (p[k] - 48)
        if eq + 1 == end:
            raise FixParseError(f"tag {tag} has an empty value", reason="empty_value", tag=tag)
        msg.tags[msg.n] = <int>tag
        msg.vs[msg.n] = eq + 1
        msg.ve[msg.n] = end
        msg.n += 1
        pos = end + 1
    if msg.n < 4 or msg.tags[0] != 8 or msg.tags[1] != 9 or msg.tags[2] != 35 or msg.tags[msg.n - 1] != 10:
        if msg.n == 0 or msg.tags[0] != 8:
            raise FixParseError("first field is not BeginString (8)", reason="begin_string", tag=8)
        if msg.n < 2 or msg.tags[1] != 9:
            raise FixParseError("second field is not BodyLength (9)", reason="body_length", tag=9)
        if msg.n < 3 or msg.tags[2] != 35:
            raise FixParseError("third field is not MsgType (35)", reason="msg_type", tag=35)
        raise FixParseError("last field is not CheckSum (10)", reason="checksum", tag=10)
    if msg.ve[0] - msg.vs[0] < 3 or memcmp(p + msg.vs[0], b"FIX", 3) != 0:
        raise FixParseError(f"unknown BeginString {p[msg.vs[0]:min(msg.ve[0], msg.vs[0] + 16)]!r}",
                            reason="begin_string", tag=8)
    i = msg.n - 1
    if msg.ve[i] - msg.vs[i] != 3 or not _all_digits(p, msg.vs[i], msg.ve[i]):
        raise FixParseError(f"CheckSum {p[msg.vs[i]:min(msg.ve[i], msg.vs[i] + 16)]!r} is not three digits",
                            reason="checksum", tag=10)
    if not _all_digits(p, msg.vs[1], msg.ve[1]) or msg.ve[1] - msg.vs[1] > _MAX_LEN_DIGITS:
        raise FixParseError(f"BodyLength {p[msg.vs[1]:min(msg.ve[1], msg.vs[1] + 16)]!r} is not a number",
                            reason="body_length", tag=9)
    cdef long long blen = 0
    for k in range(msg.vs[1], msg.ve[1]):
        blen = blen * 10 + (p[k] - 48)
    cdef Py_ssize_t body_start = msg.ve[1] + 1
    cdef Py_ssize_t body_end = n - 7
    if blen != body_end - body_start:
        raise FixParseError(f"BodyLength {blen} but the body has {body_end - body_start} bytes",
                            reason="body_length", tag=9)
    cdef unsigned int s = 0
    for k in range(body_end):
        s += <unsigned char>p[k]
    s &= 0xFF
    cdef int got = (p[msg.vs[i]] - 48) * 100 + (p[msg.vs[i] + 1] - 48) * 10 + (p[msg.vs[i] + 2] - 48)
    if got != <int>s:
        raise FixParseError(f"CheckSum {got:03d} but computed {s:03d}", reason="checksum", tag=10)
    msg.msg_type = PyBytes_FromStringAndSize(p + msg.vs[2], msg.ve[2] - msg.vs[2]).decode("ascii", "replace")
    return msg


def parse_message(data, Py_ssize_t max_size=DEFAULT_MAX_SIZE):
    """Parse exactly one complete FIX message (see :func:`dragonfly._core.fix_py.parse_message`)."""
    return _parse(bytes(data), max_size)


def format_value(value):
    """Encode one field value: ``bytes``/``str`` as is, ``bool`` as ``Y``/``N``,
    ``int`` in decimal, ``float`` positionally (never with an exponent)."""
    cdef bytes out
    if isinstance(value, bytes):
        out = value
    elif isinstance(value, str):
        out = (<str>value).encode("latin-1")
    elif isinstance(value, bool):
        out = b"Y" if value else b"N"
    elif isinstance(value, int):
        out = str(value).encode("ascii")
    elif isinstance(value, float):
        if not isfinite(<double>value):
            raise ValueError(f"cannot encode non-finite float {value!r} in FIX")
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        out = text.encode("ascii")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as a FIX value")
    if PyBytes_GET_SIZE(out) == 0 or memchr(PyBytes_AS_STRING(out), 1, PyBytes_GET_SIZE(out)) != NULL:
        raise ValueError(f"FIX values must be non-empty and free of SOH: {out[:32]!r}")
    return out


def encode_message(msg_type, fields, begin_string=b"FIX.4.4"):
    """Build a complete message: ``8``, ``9`` (computed), ``35``, ``fields`` in order, ``10`` (computed)."""
    cdef bytearray body = bytearray(b"35=")
    body += format_value(msg_type)
    body += b"\x01"
    for tag, value in fields:
        if not isinstance(tag, int) or isinstance(tag, bool) or tag <= 0:
            raise ValueError(f"FIX tags are positive integers, got {tag!r}")
        if tag == 8 or tag == 9 or tag == 10 or tag == 35:
            raise ValueError(f"tag {tag} is computed by encode_message")
        body += str(tag).encode("ascii")
        body += b"="
        body += format_value(value)
        body += b"\x01"
    cdef bytearray msg = bytearray(b"8=")
    msg += format_value(begin_string)
    msg += b"\x019="
    msg += str(len(body)).encode("ascii")
    msg += b"\x01"
    msg += body
    cdef const unsigned char* p = <const unsigned char*>PyByteArray_AS_STRING(msg)
    cdef Py_ssize_t i, n = PyByteArray_GET_SIZE(msg)
    cdef unsigned int s = 0
    for i in range(n):
        s += p[i]
    msg += b"10=%03d\x01" % (s & 0xFF)
    return bytes(msg)


cdef class FixFramer:
    """Cut a byte stream into FIX messages across arbitrary read boundaries
    (see :class:`dragonfly._core.fix_py.FixFramer`)."""

    cdef readonly Py_ssize_t max_size
    cdef public Py_ssize_t dropped_bytes
    cdef public Py_ssize_t dropped_messages
    cdef bytearray _buf
    cdef list _errors

    def __init__(self, max_size=DEFAULT_MAX_SIZE):
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 32:
            raise ValueError(f"max_size must be an int >= 32, got {max_size!r}")
        self.max_size = max_size
        self.dropped_bytes = 0
        self.dropped_messages = 0
        self._buf = bytearray()
        self._errors = []

    @property
    def pending(self):
        """Bytes held back waiting for the rest of a message."""
        return PyByteArray_GET_SIZE(self._buf)

    def take_errors(self):
        """Return and forget the errors of dropped messages (at most 64 are kept)."""
        errors = self._errors
        self._errors = []
        return errors

    cdef void _error(self, err) noexcept:
        self.dropped_messages += 1
        self.dropped_bytes += 1  # the caller skips one byte, then resyncs
        if len(self._errors) < _MAX_ERRORS:
            self._errors.append(err)

    def feed(self, data):
        """Add ``data`` and return every complete, valid message now available."""
        cdef bytearray buf = self._buf
        buf += data
        cdef list out = []
        cdef Py_ssize_t pos = 0, n = PyByteArray_GET_SIZE(buf)
        cdef Py_ssize_t start, keep, k, soh1, soh2, lim, end, j
        cdef long long blen
        cdef const char* p = PyByteArray_AS_STRING(buf)
        while pos < n:
            if n - pos < 5 or memcmp(p + pos, b"8=FIX", 5) != 0:
                start = -1
                j = pos
                while j + 5 <= n:
                    if p[j] == 56 and memcmp(p + j, b"8=FIX", 5) == 0:
                        start = j
                        break
                    j += 1
                if start < 0:
                    keep = 0
                    for k in range(4, 0, -1):
                        if n - pos >= k and memcmp(p + n - k, b"8=FIX", k) == 0:
                            keep = k
                            break
                    self.dropped_bytes += n - pos - keep
                    pos = n - keep
                    break
                self.dropped_bytes += start - pos
                pos = start
            soh1 = -1
            for j in range(pos, min(n, pos + _MAX_BEGIN)):
                if p[j] == 1:
                    soh1 = j
                    break
            if soh1 < 0:
                if n - pos >= _MAX_BEGIN:
                    self._error(FixParseError("BeginString is not terminated", reason="begin_string", tag=8))
                    pos += 1
                    continue
                break
            if n < soh1 + 3:
                break
            if p[soh1 + 1] != 57 or p[soh1 + 2] != 61:
                self._error(FixParseError("second field is not BodyLength (9)", reason="body_length", tag=9))
                pos += 1
                continue
            lim = soh1 + 3 + _MAX_LEN_DIGITS + 1
            soh2 = -1
            for j in range(soh1 + 3, min(n, lim)):
                if p[j] == 1:
                    soh2 = j
                    break
            if soh2 < 0:
                if n >= lim:
                    self._error(FixParseError("BodyLength is too long", reason="body_length", tag=9))
                    pos += 1
                    continue
                break
            if not _all_digits(p, soh1 + 3, soh2):
                self._error(FixParseError(f"BodyLength {p[soh1 + 3:soh2]!r} is not a number",
                                          reason="body_length", tag=9))
                pos += 1
                continue
            blen = 0
            for j in range(soh1 + 3, soh2):
                blen = blen * 10 + (p[j] - 48)
            end = soh2 + 1 + blen + 7
            if end - pos > self.max_size:
                self._error(FixParseError(f"message of {end - pos} bytes exceeds the limit of {self.max_size}",
                                          reason="too_large"))
                pos += 1
                continue
            if end > n:
                break
            try:
                out.append(_parse(PyBytes_FromStringAndSize(p + pos, end - pos), self.max_size))
            except FixParseError as err:
                self._error(err)
                pos += 1
                continue
            pos = end
        del buf[:pos]
        return out


cdef void* _resized(void* block, size_t size) except NULL:
    """``PyMem_Realloc``, raising MemoryError when it fails (``block`` is then unchanged)."""
    cdef void* out = PyMem_Realloc(block, size)
    if out == NULL:
        raise MemoryError()
    return out


cdef class MarketData:
    """The ``268 NoMDEntries`` group of a ``35=W`` or ``35=X``, bids and offers only
    (see :class:`dragonfly._core.fix_py.MarketData`)."""

    def __cinit__(self):
        self.n = 0
        self.cap = 0
        self.actions = NULL
        self.sides = NULL
        self.prices = NULL
        self.sizes = NULL
        self.sym_field = NULL
        self.mkt_field = NULL

    def __dealloc__(self):
        PyMem_Free(self.actions)
        PyMem_Free(self.sides)
        PyMem_Free(self.prices)
        PyMem_Free(self.sizes)
        PyMem_Free(self.sym_field)
        PyMem_Free(self.mkt_field)

    def __init__(self, *args, **kwargs):
        raise TypeError("MarketData objects are created by market_data()")

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = 32 if self.cap == 0 else self.cap * 2
        self.actions = <signed char*>_resized(self.actions, cap * sizeof(signed char))
        self.sides = <signed char*>_resized(self.sides, cap * sizeof(signed char))
        self.prices = <double*>_resized(self.prices, cap * sizeof(double))
        self.sizes = <double*>_resized(self.sizes, cap * sizeof(double))
        self.sym_field = <Py_ssize_t*>_resized(self.sym_field, cap * sizeof(Py_ssize_t))
        self.mkt_field = <Py_ssize_t*>_resized(self.mkt_field, cap * sizeof(Py_ssize_t))
        self.cap = cap
        return 0

    def __len__(self):
        return self.n

    cdef Py_ssize_t _check(self, Py_ssize_t i) except -1:
        if i < 0:
            i += self.n
        if i < 0 or i >= self.n:
            raise IndexError("MarketData index out of range")
        return i

    def side(self, Py_ssize_t i):
        """0 for a bid, 1 for an offer."""
        return self.sides[self._check(i)]

    def action(self, Py_ssize_t i):
        """279 MDUpdateAction: 0 new, 1 change, 2 delete (0 in a snapshot)."""
        return self.actions[self._check(i)]

    def price(self, Py_ssize_t i):
        return self.prices[self._check(i)]

    def size(self, Py_ssize_t i):
        return self.sizes[self._check(i)]

    def entry_symbol(self, Py_ssize_t i):
        """Tag 55 inside the entry, else the message's symbol."""
        i = self._check(i)
        if self.sym_field[i] < 0:
            return self.symbol
        return self.msg._value(self.sym_field[i]).decode("latin-1")

    def entry_market(self, Py_ssize_t i):
        """The entry's market: tag 275 MDMkt, else 30 LastMkt, else 207 SecurityExchange; or ""."""
        i = self._check(i)
        if self.mkt_field[i] < 0:
            return ""
        return self.msg._value(self.mkt_field[i]).decode("latin-1")

    def entries(self):
        """``(action, side, price, size, symbol, market)`` per entry."""
        return [
            (self.actions[i], self.sides[i], self.prices[i], self.sizes[i], self.entry_symbol(i), self.entry_market(i))
            for i in range(self.n)
        ]

    def __repr__(self):
        return f"MarketData({self.msg_type!r}, {self.symbol!r}, {self.n} entries)"


cdef int _close(MarketData md, int action, int etype, double price, double size, bint has_price,
                Py_ssize_t sym, Py_ssize_t mkt) except -1:
    if etype != 0 and etype != 1:
        md.skipped += 1
        return 0
    if not has_price:
        raise FixParseError("bid/offer entry without MDEntryPx (270)", reason="missing", tag=270)
    if md.n == md.cap:
        md._grow()
    md.actions[md.n] = action
    md.sides[md.n] = etype
    md.prices[md.n] = price
    md.sizes[md.n] = size
    md.sym_field[md.n] = sym
    md.mkt_field[md.n] = mkt
    md.n += 1
    return 0


def market_data(FixMessage msg not None):
    """Decode the market-data entries of a ``35=W`` or ``35=X``
    (see :func:`dragonfly._core.fix_py.market_data`)."""
    cdef str mt = msg.msg_type
    cdef bint is_x
    if mt == "W":
        is_x = False
    elif mt == "X":
        is_x = True
    else:
        raise FixParseError(f"35={mt} is not market data", reason="msg_type", tag=35)
    cdef const char* p = PyBytes_AS_STRING(msg.raw)
    cdef Py_ssize_t nf = msg.n - 1
    cdef Py_ssize_t i = 3, sym_i = -1, req_i = -1, seen = 0
    cdef long long count = -1
    cdef int tag
    cdef MarketData md = MarketData.__new__(MarketData)
    md.msg = msg
    md.msg_type = mt
    md.skipped = 0
    while i < nf:
        tag = msg.tags[i]
        i += 1
        if tag == 268:
            count = _c_int(p, msg.vs[i - 1], msg.ve[i - 1], 268)
            break
        if tag == 55:
            sym_i = i - 1
        elif tag == 262:
            req_i = i - 1
    if count < 0:
        raise FixParseError("no NoMDEntries (268)", reason="group_count", tag=268)
    # current entry
    cdef bint cur = False, has_type = False, has_price = False
    cdef int action = 0, etype = -1
    cdef double price = 0.0, size = 0.0
    cdef Py_ssize_t esym = -1, emkt = -1, vs, ve
    cdef int mrank = 0, r
    while i < nf:
        tag = msg.tags[i]
        vs = msg.vs[i]
        ve = msg.ve[i]
        i += 1
        if tag == 279 and is_x:
            if cur and has_type:
                _close(md, action, etype, price, size, has_price, esym, emkt)
                cur = False
            if ve - vs != 1 or p[vs] < 48 or p[vs] > 50:
                raise FixParseError(f"bad MDUpdateAction {p[vs:min(ve, vs + 8)]!r}", reason="value", tag=279)
            if not cur:
                seen += 1
                cur = True
                has_type = has_price = False
                etype = -1
                price = size = 0.0
                esym = emkt = -1
                mrank = 0
            action = p[vs] - 48
            continue
        if tag == 269:
            if cur and has_type:
                _close(md, action, etype, price, size, has_price, esym, emkt)
                cur = False
            if not cur:
                seen += 1
                cur = True
                has_type = has_price = False
                action = 0
                price = size = 0.0
                esym = emkt = -1
                mrank = 0
            if ve - vs != 1:
                raise FixParseError(f"bad MDEntryType {p[vs:min(ve, vs + 8)]!r}", reason="value", tag=269)
            etype = p[vs] - 48 if (p[vs] == 48 or p[vs] == 49) else 100 + <unsigned char>p[vs]
            has_type = True
            continue
        if not cur:
            if is_x or tag == 270 or tag == 271 or tag == 275 or tag == 30 or tag == 207 or tag == 290:
                raise FixParseError(f"tag {tag} before the first MDEntryType (269)", reason="group", tag=tag)
            if tag == 55:
                sym_i = i - 1
            continue
        if tag == 270:
            price = _c_float(p, vs, ve, 270)
            has_price = True
        elif tag == 271:
            size = _c_float(p, vs, ve, 271)
        elif tag == 55:
            esym = i - 1
        elif tag == 275 or tag == 30 or tag == 207:
            r = 3 if tag == 275 else (2 if tag == 30 else 1)
            if r > mrank:
                emkt = i - 1
                mrank = r
    if cur:
        if not has_type:
            raise FixParseError("entry without MDEntryType (269)", reason="group", tag=269)
        _close(md, action, etype, price, size, has_price, esym, emkt)
    if seen != count:
        raise FixParseError(f"NoMDEntries says {count} but {seen} entries follow", reason="group_count", tag=268)
    md.symbol = "" if sym_i < 0 else msg._value(sym_i).decode("latin-1")
    md.md_req_id = "" if req_i < 0 else msg._value(req_i).decode("latin-1")
    return md
