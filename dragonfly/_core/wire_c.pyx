# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Direct protobuf encoding of ``orderbook.Summary`` and ``dragonfly.v1.BookUpdate`` (compiled).

The compiled twin of :mod:`dragonfly._core.wire_py`, which documents the encoding and
the proto3 rules it follows; both return the same bytes and raise the same exceptions.
The C-level API (:c:func:`summary_size`, :c:func:`write_summary`,
:c:func:`encode_summary_view` on :c:type:`LevelsView` arrays) is declared in
``wire_c.pxd`` for other Cython modules; :func:`encode_summary` is the Python-facing view.
"""

from collections.abc import Sequence
from time import perf_counter_ns

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_Clear
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

from ._levels_c cimport exact_items, item_at

from dragonfly._core.merge_py import as_double as _as_double_py
from dragonfly._core.wire_py import _check_int as _check_int_py
from dragonfly._core.wire_py import _text as _text_py
from dragonfly.errors import LevelsError, LevelsTypeError

__all__ = ("encode_summary", "encode_book_update", "encode_name_field")

cdef extern from "Python.h":
    # no `except` clause: NULL (with an exception set) is handled by the callers
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size)


cdef enum:
    _STACK_BYTES = 4096
    _TAG_SPREAD = 0x09
    _TAG_BIDS = 0x12
    _TAG_ASKS = 0x1A
    _TAG_EXCHANGE = 0x0A
    _TAG_PRICE = 0x11
    _TAG_AMOUNT = 0x19
    # dragonfly.v1.BookUpdate
    _TAG_INSTRUMENT = 0x0A
    _TAG_SEQ = 0x10
    _TAG_BU_SPREAD = 0x19
    _TAG_BU_BIDS = 0x22
    _TAG_BU_ASKS = 0x2A
    _TAG_EXCHANGE_TS = 0x30
    _TAG_RECEIVE_TS = 0x38
    _TAG_PUBLISH_TS = 0x40
    _TAG_VENUES = 0x4A
    # dragonfly.v1.VenueHealth
    _TAG_VH_VENUE = 0x0A
    _TAG_VH_STATUS = 0x10
    _TAG_VH_LAST = 0x18
    _TAG_VH_REASON = 0x22


# ---------------------------------------------------------------------------
# C level
# ---------------------------------------------------------------------------

cdef inline bint _present(double x) noexcept nogil:
    """False only for +0.0 (all bits zero), the proto3 default."""
    cdef uint64_t u
    memcpy(&u, &x, 8)
    return u != 0


cdef inline Py_ssize_t _varint_size(uint64_t v) noexcept nogil:
    cdef Py_ssize_t n = 1
    while v >= 0x80:
        v >>= 7
        n += 1
    return n


cdef inline char* _put_varint(char* p, uint64_t v) noexcept nogil:
    while v >= 0x80:
        p[0] = <char>((v & 0x7F) | 0x80)
        p += 1
        v >>= 7
    p[0] = <char>v
    return p + 1


cdef inline char* _put_double(char* p, unsigned char tag, double x) noexcept nogil:
    """Tag and 8 bytes little-endian, whatever the host byte order."""
    cdef uint64_t u
    cdef int i
    memcpy(&u, &x, 8)
    p[0] = <char>tag
    for i in range(8):
        p[1 + i] = <char>((u >> (8 * i)) & 0xFF)
    return p + 9


cdef inline Py_ssize_t _body_size(Py_ssize_t name_field, double price, double qty) noexcept nogil:
    return name_field + (9 if _present(price) else 0) + (9 if _present(qty) else 0)


cdef double summary_spread(const LevelsView* bids, const LevelsView* asks) noexcept nogil:
    if bids.n > 0 and asks.n > 0:
        return asks.price[0] - bids.price[0]
    return 0.0


cdef inline Py_ssize_t _side_size(const LevelsView* side, const NamesView* names) noexcept nogil:
    cdef Py_ssize_t i, body, total = 0
    for i in range(side.n):
        body = _body_size(names.size[side.venue[i]], side.price[i], side.qty[i])
        total += 1 + _varint_size(<size_t>body) + body
    return total


cdef Py_ssize_t summary_size(double spread, const LevelsView* bids, const LevelsView* asks,
                             const NamesView* names) noexcept nogil:
    return (9 if _present(spread) else 0) + _side_size(bids, names) + _side_size(asks, names)


cdef inline char* _write_side(char* p, unsigned char tag, const LevelsView* side,
                              const NamesView* names) noexcept nogil:
    cdef Py_ssize_t i, v, nf
    cdef double price, qty
    for i in range(side.n):
        v = side.venue[i]
        nf = names.size[v]
        price = side.price[i]
        qty = side.qty[i]
        p[0] = <char>tag
        p = _put_varint(p + 1, <size_t>_body_size(nf, price, qty))
        if nf:
            memcpy(p, names.field[v], <size_t>nf)
            p += nf
        if _present(price):
            p = _put_double(p, _TAG_PRICE, price)
        if _present(qty):
            p = _put_double(p, _TAG_AMOUNT, qty)
    return p


cdef Py_ssize_t write_summary(char* out, double spread, const LevelsView* bids, const LevelsView* asks,
                              const NamesView* names) noexcept nogil:
    cdef char* p = out
    if _present(spread):
        p = _put_double(p, _TAG_SPREAD, spread)
    p = _write_side(p, _TAG_BIDS, bids, names)
    p = _write_side(p, _TAG_ASKS, asks, names)
    return p - out


cdef bytes encode_summary_view(double spread, const LevelsView* bids, const LevelsView* asks,
                               const NamesView* names):
    cdef Py_ssize_t size = summary_size(spread, bids, asks, names)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    write_summary(PyBytes_AS_STRING(out), spread, bids, asks, names)
    return out


# ---------------------------------------------------------------------------
# Python-facing view
# ---------------------------------------------------------------------------

cdef struct _Buf:
    char* data
    Py_ssize_t len
    Py_ssize_t cap
    char* stack


cdef int _reserve(_Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char* data
    if b.len + extra <= b.cap:
        return 0
    cap = b.cap * 2
    if cap < b.len + extra:
        cap = b.len + extra
    data = <char*>PyMem_Malloc(<size_t>cap)
    if data == NULL:
        raise MemoryError()
    memcpy(data, b.data, <size_t>b.len)
    if b.data != b.stack:
        PyMem_Free(b.data)
    b.data = data
    b.cap = cap
    return 0


cdef object _as_sequence(object side, str what):
    if type(side) is list or type(side) is tuple:
        return side
    if isinstance(side, Sequence) and not isinstance(side, (str, bytes, bytearray)):
        return list(side)
    raise LevelsTypeError(f"{what} must be a sequence, not {type(side).__name__}", side=what)


cdef inline double _as_double(object x, str field, str venue, str side, Py_ssize_t index) except? -1.0:
    # a float read in place; anything else (an int, or an error to raise) by the reference itself
    if PyFloat_Check(x):
        return PyFloat_AS_DOUBLE(x)
    return _as_double_py(x, field, venue, side, index)


cdef int _raise_utf8(object venue, str side, Py_ssize_t index) except -1:
    """Raise the error for a venue that is not a str or cannot be UTF-8 encoded."""
    if not isinstance(venue, str):
        raise LevelsTypeError(f"{side}[{index}] venue must be str, not {type(venue).__name__}", side=side, index=index)
    try:
        str.encode(venue, "utf-8")
    except UnicodeEncodeError as exc:
        raise LevelsError(f"{side}[{index}] venue is not valid UTF-8: {exc.reason}", side=side, index=index) from None
    raise LevelsError(f"{side}[{index}] venue cannot be encoded", side=side, index=index)


cdef inline const char* _utf8(object venue, str side, Py_ssize_t index, Py_ssize_t* size) except NULL:
    cdef const char* raw
    if PyUnicode_Check(venue):
        raw = PyUnicode_AsUTF8AndSize(venue, size)
        if raw != NULL:
            return raw
        PyErr_Clear()
    _raise_utf8(venue, side, index)
    return NULL


cdef int _write_level(_Buf* b, unsigned char tag, const char* name, Py_ssize_t name_len,
                      double price, double qty) except -1:
    cdef Py_ssize_t nf = 1 + _varint_size(<size_t>name_len) + name_len if name_len else 0
    cdef Py_ssize_t body = _body_size(nf, price, qty)
    cdef char* p
    _reserve(b, 11 + body)
    p = b.data + b.len
    p[0] = <char>tag
    p = _put_varint(p + 1, <size_t>body)
    if name_len:
        p[0] = <char>_TAG_EXCHANGE
        p = _put_varint(p + 1, <size_t>name_len)
        memcpy(p, name, <size_t>name_len)
        p += name_len
    if _present(price):
        p = _put_double(p, _TAG_PRICE, price)
    if _present(qty):
        p = _put_double(p, _TAG_AMOUNT, qty)
    b.len = p - b.data
    return 0


cdef int _encode_level_generic(_Buf* b, unsigned char tag, object level, str side, Py_ssize_t i,
                               double* first) except -1:
    """Any level: the checks and conversions of wire_py, in the same order."""
    cdef Py_ssize_t name_len, size
    cdef const char* name
    cdef double price, qty
    cdef object venue, a, c
    if not isinstance(level, (tuple, list)):
        raise LevelsTypeError(
            f"{side}[{i}] must be a (venue, price, qty) tuple, not {type(level).__name__}", side=side, index=i
        )
    size = len(level)
    if size != 3:
        raise LevelsError(f"{side}[{i}] must have 3 elements, has {size}", side=side, index=i)
    venue = level[0]
    a = level[1]
    c = level[2]
    name = _utf8(venue, side, i, &name_len)
    price = _as_double(a, "price", "", side, i)
    qty = _as_double(c, "qty", "", side, i)
    if i == 0:
        first[0] = price
    # Nothing from here runs Python code, so `name` (owned by `venue`) stays valid.
    return _write_level(b, tag, name, name_len, price, qty)


cdef Py_ssize_t _encode_side(_Buf* b, unsigned char tag, object seq, str side, double* first) except -1:
    """Append each level (each written before the next is read); return the count.

    Fast path: an exact tuple/list of (str, float, float), read through borrowed
    references (no Python code runs until the level is written). Anything else goes
    through _encode_level_generic.
    """
    cdef Py_ssize_t i = 0, name_len
    cdef const char* name
    cdef double price
    cdef PyObject* lv
    cdef PyObject** vpq
    cdef PyObject* v
    cdef PyObject* a
    cdef PyObject* c
    cdef object owned
    cdef bint is_list = type(seq) is list
    while True:
        lv = item_at(seq, is_list, i)
        if lv == NULL:
            break
        vpq = exact_items(lv, 3)
        if vpq != NULL:
            v = vpq[0]
            a = vpq[1]
            c = vpq[2]
        if vpq != NULL and PyUnicode_Check(<object>v) and PyFloat_Check(<object>a) and PyFloat_Check(<object>c):
            name = PyUnicode_AsUTF8AndSize(<object>v, &name_len)
            if name != NULL:
                price = PyFloat_AS_DOUBLE(<object>a)
                if i == 0:
                    first[0] = price
                _write_level(b, tag, name, name_len, price, PyFloat_AS_DOUBLE(<object>c))
                i += 1
                continue
            PyErr_Clear()
        owned = <object>lv  # a strong reference: the generic path may run Python code
        _encode_level_generic(b, tag, owned, side, i, first)
        i += 1
    return i


def encode_summary(bids, asks, *, spread=None):
    """Encode an ``orderbook.Summary`` straight to protobuf bytes.

    See :func:`dragonfly._core.wire_py.encode_summary`, the reference, for the
    parameters (``spread`` is the best ask minus the best bid unless given, and 0.0,
    hence absent from the bytes, when a side is empty), the exact bytes and the
    exceptions raised.
    """
    cdef char stack[_STACK_BYTES]
    cdef _Buf b
    cdef double value = 0.0, best_bid = 0.0, best_ask = 0.0
    cdef Py_ssize_t n_bids, n_asks
    cdef bint explicit = spread is not None
    cdef object bid_seq = _as_sequence(bids, "bids")
    cdef object ask_seq = _as_sequence(asks, "asks")
    cdef bytes out
    cdef char* p
    if explicit:
        value = _as_double(spread, "spread", "", "", -1)
    b.stack = stack
    b.data = stack
    b.cap = _STACK_BYTES
    b.len = 9  # room for the spread field, which comes first but is known last
    try:
        n_bids = _encode_side(&b, _TAG_BIDS, bid_seq, "bids", &best_bid)
        n_asks = _encode_side(&b, _TAG_ASKS, ask_seq, "asks", &best_ask)
        if not explicit:
            value = best_ask - best_bid if n_bids and n_asks else 0.0
        if _present(value):
            _put_double(b.data, _TAG_SPREAD, value)
            out = PyBytes_FromStringAndSize(b.data, b.len)
        else:
            out = PyBytes_FromStringAndSize(b.data + 9, b.len - 9)
    finally:
        if b.data != b.stack:
            PyMem_Free(b.data)
    return out


def encode_name_field(venue):
    """Return the encoded ``Level.exchange`` field for ``venue`` (``b""`` for ``""``).

    See :func:`dragonfly._core.wire_py.encode_name_field`; these are the per-venue bytes
    the C-level encoder (:c:type:`NamesView`) takes.
    """
    cdef Py_ssize_t n
    cdef const char* raw = _utf8(venue, "venue", 0, &n)
    cdef char head[11]
    cdef char* p
    if n == 0:
        return b""
    head[0] = <char>_TAG_EXCHANGE
    p = _put_varint(head + 1, <size_t>n)
    return PyBytes_FromStringAndSize(head, p - head) + PyBytes_FromStringAndSize(raw, n)


# ---------------------------------------------------------------------------
# dragonfly.v1.BookUpdate
# ---------------------------------------------------------------------------

cdef inline Py_ssize_t _int_field_size(uint64_t v) noexcept nogil:
    return 1 + _varint_size(v) if v else 0


cdef inline char* _put_int_field(char* p, unsigned char tag, uint64_t v) noexcept nogil:
    if v:
        p[0] = <char>tag
        p = _put_varint(p + 1, v)
    return p


cdef inline Py_ssize_t _str_field_size(Py_ssize_t n) noexcept nogil:
    return 1 + _varint_size(<size_t>n) + n if n else 0


cdef inline char* _put_str_field(char* p, unsigned char tag, const char* raw, Py_ssize_t n) noexcept nogil:
    if n:
        p[0] = <char>tag
        p = _put_varint(p + 1, <size_t>n)
        memcpy(p, raw, <size_t>n)
        p += n
    return p


cdef uint64_t _u64(object x, str field) except? 0:
    """``seq``: an exact int read in place; anything else (or an error to raise) by the reference."""
    if type(x) is int:
        try:
            return <uint64_t>x
        except OverflowError:
            pass
    return <uint64_t>_check_int_py(x, field, "u64")


cdef int64_t _i64(object x, str field, bint i32, str side, Py_ssize_t index) except? -1:
    """An int64 (or int32 when ``i32``) field, read as :func:`wire_py._check_int` reads it."""
    cdef int64_t v
    if type(x) is int:
        try:
            v = <int64_t>x
        except OverflowError:
            pass
        else:
            if not i32 or -2147483648 <= v <= 2147483647:
                return v
    return <int64_t>_check_int_py(x, field, "i32" if i32 else "i64", side, index)


cdef inline const char* _text(object x, str field, str side, Py_ssize_t index, Py_ssize_t* size) except NULL:
    cdef const char* raw
    if PyUnicode_Check(x):
        raw = PyUnicode_AsUTF8AndSize(x, size)
        if raw != NULL:
            return raw
        PyErr_Clear()
    _text_py(x, field, side, index)  # raises the reference's error
    raise LevelsError(f"{field} cannot be encoded", side=side, index=index)


cdef int _encode_health(_Buf* b, object seq) except -1:
    """Append each ``(venue, status, last_update_ns, reason)`` as a VenueHealth, checked as wire_py checks it."""
    cdef Py_ssize_t i = 0, nlen, rlen, body
    cdef const char* name
    cdef const char* reason
    cdef int64_t status, last
    cdef object h, venue, reason_obj
    cdef char* p
    while i < len(seq):  # re-read: an entry's own code may change the sequence (as wire_py does)
        h = seq[i]
        if not isinstance(h, (tuple, list)):
            raise LevelsTypeError(
                f"venues[{i}] must be a (venue, status, last_update_ns, reason) tuple, not {type(h).__name__}",
                side="venues", index=i,
            )
        if len(h) != 4:
            raise LevelsError(f"venues[{i}] must have 4 elements, has {len(h)}", side="venues", index=i)
        venue = h[0]
        name = _text(venue, "venue", "venues", i, &nlen)
        status = _i64(h[1], "status", True, "venues", i)
        last = _i64(h[2], "last_update_ns", False, "venues", i)
        reason_obj = h[3]
        reason = _text(reason_obj, "reason", "venues", i, &rlen)
        body = (_str_field_size(nlen) + _int_field_size(<uint64_t>status) + _int_field_size(<uint64_t>last)
                + _str_field_size(rlen))
        _reserve(b, 11 + body)
        p = b.data + b.len
        p[0] = <char>_TAG_VENUES
        p = _put_varint(p + 1, <size_t>body)
        p = _put_str_field(p, _TAG_VH_VENUE, name, nlen)
        p = _put_int_field(p, _TAG_VH_STATUS, <uint64_t>status)
        p = _put_int_field(p, _TAG_VH_LAST, <uint64_t>last)
        p = _put_str_field(p, _TAG_VH_REASON, reason, rlen)
        b.len = p - b.data
        i += 1
    return 0


def encode_book_update(instrument, seq, bids, asks, *, spread=None, exchange_ts_ns=0, receive_ts_ns=0,
                       publish_ts_ns=0, venues=()):
    """Encode a ``dragonfly.v1.BookUpdate`` straight to protobuf bytes.

    See :func:`dragonfly._core.wire_py.encode_book_update`, the reference, for the
    parameters, the exact bytes, the exceptions raised and the order of the checks.
    """
    cdef char stack[_STACK_BYTES]
    cdef _Buf b
    cdef Py_ssize_t name_len, head, start, n_bids, n_asks
    cdef const char* name = _text(instrument, "instrument", "", -1, &name_len)
    cdef uint64_t seq_n = _u64(seq, "seq")
    cdef object bid_seq = _as_sequence(bids, "bids")
    cdef object ask_seq = _as_sequence(asks, "asks")
    cdef bint explicit = spread is not None
    cdef double value = 0.0, best_bid = 0.0, best_ask = 0.0
    cdef int64_t ets, rts, pts
    cdef object health
    cdef bytes out
    cdef char* p
    if explicit:
        value = _as_double(spread, "spread", "", "", -1)
    ets = _i64(exchange_ts_ns, "exchange_ts_ns", False, "", -1)
    rts = _i64(receive_ts_ns, "receive_ts_ns", False, "", -1)
    pts = _i64(publish_ts_ns, "publish_ts_ns", False, "", -1)
    health = _as_sequence(venues, "venues")
    # room for instrument, seq and spread, which come first; spread is known last
    head = _str_field_size(name_len) + _int_field_size(seq_n) + 9
    b.stack = stack
    b.data = stack
    b.cap = _STACK_BYTES
    b.len = 0
    try:
        _reserve(&b, head)
        b.len = head
        n_bids = _encode_side(&b, _TAG_BU_BIDS, bid_seq, "bids", &best_bid)
        n_asks = _encode_side(&b, _TAG_BU_ASKS, ask_seq, "asks", &best_ask)
        if not explicit:
            value = best_ask - best_bid if n_bids and n_asks else 0.0
        _reserve(&b, 33)
        p = b.data + b.len
        p = _put_int_field(p, _TAG_EXCHANGE_TS, <uint64_t>ets)
        p = _put_int_field(p, _TAG_RECEIVE_TS, <uint64_t>rts)
        p = _put_int_field(p, _TAG_PUBLISH_TS, <uint64_t>pts)
        b.len = p - b.data
        _encode_health(&b, health)
        start = 0 if _present(value) else 9
        p = b.data + start
        p = _put_str_field(p, _TAG_INSTRUMENT, name, name_len)
        p = _put_int_field(p, _TAG_SEQ, seq_n)
        if _present(value):
            p = _put_double(p, _TAG_BU_SPREAD, value)
        out = PyBytes_FromStringAndSize(b.data + start, b.len - start)
    finally:
        if b.data != b.stack:
            PyMem_Free(b.data)
    return out


# ---------------------------------------------------------------------------
# Benchmark hook: time the C-level path alone (used by benchmarks/bench_wire.py)
# ---------------------------------------------------------------------------

def _bench_encode_view_ns(bids, asks, Py_ssize_t loops):
    """Nanoseconds per ``encode_summary_view`` call (bytes object included).

    Builds the C arrays and the per-venue name fields from ``bids``/``asks``
    (``(venue, price, qty)`` levels) once, then encodes ``loops`` times. Returns
    ``(ns_per_call, bytes)`` so the caller can check the bytes.
    """
    cdef list venues = sorted({lv[0] for lv in bids} | {lv[0] for lv in asks})
    cdef dict index = {v: i for i, v in enumerate(venues)}
    cdef list fields = [encode_name_field(v) for v in venues]
    cdef Py_ssize_t nv = len(venues), nb = len(bids), na = len(asks), i
    cdef Py_ssize_t total = nb + na + 1
    cdef char** fptr = <char**>PyMem_Malloc(sizeof(char*) * (nv + 1))
    cdef Py_ssize_t* fsize = <Py_ssize_t*>PyMem_Malloc(sizeof(Py_ssize_t) * (nv + 1))
    cdef Py_ssize_t* ven = <Py_ssize_t*>PyMem_Malloc(sizeof(Py_ssize_t) * total)
    cdef double* num = <double*>PyMem_Malloc(sizeof(double) * 2 * total)
    cdef LevelsView vb, va
    cdef NamesView names
    cdef bytes out = b""
    try:
        if fptr == NULL or fsize == NULL or ven == NULL or num == NULL:
            raise MemoryError()
        for i in range(nv):
            fptr[i] = PyBytes_AS_STRING(fields[i])
            fsize[i] = len(fields[i])
        for i in range(nb):
            ven[i] = index[bids[i][0]]
            num[i] = bids[i][1]
            num[total + i] = bids[i][2]
        for i in range(na):
            ven[nb + i] = index[asks[i][0]]
            num[nb + i] = asks[i][1]
            num[total + nb + i] = asks[i][2]
        vb.venue = ven
        vb.price = num
        vb.qty = num + total
        vb.n = nb
        va.venue = ven + nb
        va.price = num + nb
        va.qty = num + total + nb
        va.n = na
        names.field = <const char**>fptr
        names.size = fsize
        t0 = perf_counter_ns()
        for i in range(loops):
            out = encode_summary_view(summary_spread(&vb, &va), &vb, &va, &names)
        t1 = perf_counter_ns()
    finally:
        PyMem_Free(fptr)
        PyMem_Free(fsize)
        PyMem_Free(ven)
        PyMem_Free(num)
    return (t1 - t0) / (loops if loops > 0 else 1), out
