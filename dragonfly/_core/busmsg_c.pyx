# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The bus's binary ``BookUpdate`` message (compiled).

The compiled twin of :mod:`dragonfly._core.busmsg_py`, which documents the layout and the
order of the checks; both produce the same bytes and raise the same errors. The fast path of
:func:`encode_update` takes a BookUpdate whose sides are tuples of ``(float, float)`` tuples (what
the keepers emit); anything else, and every error, goes to the reference encoder, so messages
and exceptions are the same by construction. :func:`decode_update` is all C.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_Clear
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint16_t, uint64_t
from libc.string cimport memcpy

from dragonfly._core.busmsg_py import encode_update as _encode_py
from dragonfly.errors import BusMessageError
from dragonfly.model import BookUpdate, VenueStatus

__all__ = ("encode_update", "decode_update", "MAGIC", "VERSION", "HEADER_SIZE", "MAX_LEVELS")

cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size)

MAGIC = b"\xdf\xb1"
VERSION = 1
HEADER_SIZE = 28
MAX_LEVELS = 65535

cdef enum:
    _HEADER = 28
    _MAGIC0 = 0xDF
    _MAGIC1 = 0xB1
    _VERSION = 1

cdef object _SYNCING = VenueStatus.SYNCING
cdef object _LIVE = VenueStatus.LIVE
cdef object _STALE = VenueStatus.STALE
cdef tuple _STATUSES = (_SYNCING, _LIVE, _STALE)
cdef object _BookUpdate = BookUpdate
cdef tuple _EMPTY = ()


cdef inline void _put_u16(unsigned char* p, Py_ssize_t v) noexcept nogil:
    p[0] = <unsigned char>(v & 0xFF)
    p[1] = <unsigned char>((v >> 8) & 0xFF)


cdef inline void _put_u64(unsigned char* p, uint64_t v) noexcept nogil:
    cdef int i
    for i in range(8):
        p[i] = <unsigned char>((v >> (8 * i)) & 0xFF)


cdef inline uint16_t _get_u16(const unsigned char* p) noexcept nogil:
    return <uint16_t>(p[0] | (p[1] << 8))


cdef inline uint64_t _get_u64(const unsigned char* p) noexcept nogil:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v |= (<uint64_t>p[i]) << (8 * i)
    return v


cdef inline double _get_f64(const unsigned char* p) noexcept nogil:
    cdef uint64_t u = _get_u64(p)
    cdef double x
    memcpy(&x, &u, 8)
    return x


cdef inline void _put_f64(unsigned char* p, double x) noexcept nogil:
    cdef uint64_t u
    memcpy(&u, &x, 8)
    _put_u64(p, u)


cdef inline bint _good_level(double p, double q) noexcept nogil:
    return isfinite(p) and isfinite(q) and p > 0.0 and q >= 0.0


cdef bint _fast_side(object side) except -1:
    """Exact tuple of exact (float, float) tuples, every level good, within the u16 bound."""
    cdef Py_ssize_t i, n
    cdef PyObject* lv
    cdef PyObject* a
    cdef PyObject* b
    if not PyTuple_CheckExact(side):
        return False
    n = PyTuple_GET_SIZE(side)
    if n > 65535:
        return False
    for i in range(n):
        lv = PyTuple_GET_ITEM(side, i)
        if not PyTuple_CheckExact(<object>lv) or PyTuple_GET_SIZE(<object>lv) != 2:
            return False
        a = PyTuple_GET_ITEM(<object>lv, 0)
        b = PyTuple_GET_ITEM(<object>lv, 1)
        if not (PyFloat_CheckExact(<object>a) and PyFloat_CheckExact(<object>b)):
            return False
        if not _good_level(PyFloat_AS_DOUBLE(<object>a), PyFloat_AS_DOUBLE(<object>b)):
            return False
    return True


cdef unsigned char* _write_side(unsigned char* p, tuple side) noexcept:
    cdef Py_ssize_t i
    cdef PyObject* lv
    for i in range(PyTuple_GET_SIZE(side)):
        lv = PyTuple_GET_ITEM(side, i)
        _put_f64(p, PyFloat_AS_DOUBLE(<object>PyTuple_GET_ITEM(<object>lv, 0)))
        _put_f64(p + 8, PyFloat_AS_DOUBLE(<object>PyTuple_GET_ITEM(<object>lv, 1)))
        p += 16
    return p


def encode_update(update):
    """Encode one BookUpdate; see :func:`dragonfly._core.busmsg_py.encode_update`."""
    cdef Py_ssize_t vl, il, rl, nb, na, total
    cdef const char* vs
    cdef const char* ins
    cdef const char* rs
    cdef unsigned char* p
    cdef int code
    if type(update) is not _BookUpdate:
        return _encode_py(update)
    venue = <object>PyTuple_GET_ITEM(update, 0)
    instrument = <object>PyTuple_GET_ITEM(update, 1)
    bids = <object>PyTuple_GET_ITEM(update, 2)
    asks = <object>PyTuple_GET_ITEM(update, 3)
    status = <object>PyTuple_GET_ITEM(update, 4)
    ex = <object>PyTuple_GET_ITEM(update, 5)
    rx = <object>PyTuple_GET_ITEM(update, 6)
    reason = <object>PyTuple_GET_ITEM(update, 7)
    if status is _LIVE:
        code = 1
    elif status is _STALE:
        code = 2
    elif status is _SYNCING:
        code = 0
    else:
        return _encode_py(update)
    if (type(venue) is not str or type(instrument) is not str or type(reason) is not str
            or type(ex) is not int or type(rx) is not int):
        return _encode_py(update)
    if not (0 <= ex <= 0x7FFFFFFFFFFFFFFF and 0 <= rx <= 0x7FFFFFFFFFFFFFFF):
        return _encode_py(update)
    if not (_fast_side(bids) and _fast_side(asks)):
        return _encode_py(update)
    vs = PyUnicode_AsUTF8AndSize(venue, &vl)
    ins = PyUnicode_AsUTF8AndSize(instrument, &il) if vs != NULL else NULL
    rs = PyUnicode_AsUTF8AndSize(reason, &rl) if ins != NULL else NULL
    if rs == NULL:  # lone surrogates: the reference raises the typed error
        PyErr_Clear()
        return _encode_py(update)
    nb = PyTuple_GET_SIZE(bids)
    na = PyTuple_GET_SIZE(asks)
    if vl == 0 or il == 0 or vl > 255 or il > 255 or rl > 65535 or (code != 1 and nb + na):
        return _encode_py(update)
    total = _HEADER + vl + il + rl + 16 * (nb + na)
    out = PyBytes_FromStringAndSize(NULL, total)
    p = <unsigned char*>PyBytes_AS_STRING(out)
    p[0] = _MAGIC0
    p[1] = _MAGIC1
    p[2] = _VERSION
    p[3] = <unsigned char>code
    _put_u16(p + 4, nb)
    _put_u16(p + 6, na)
    _put_u64(p + 8, <uint64_t><int64_t>ex)
    _put_u64(p + 16, <uint64_t><int64_t>rx)
    p[24] = <unsigned char>vl
    p[25] = <unsigned char>il
    _put_u16(p + 26, rl)
    p += _HEADER
    memcpy(p, vs, vl)
    p += vl
    memcpy(p, ins, il)
    p += il
    memcpy(p, rs, rl)
    p += rl
    p = _write_side(p, <tuple>bids)
    _write_side(p, <tuple>asks)
    return out


cdef inline object _fail(str message, str reason, Py_ssize_t offset):
    return BusMessageError(message, reason=reason, offset=offset)


cdef object _text(const unsigned char* s, Py_ssize_t n, Py_ssize_t at):
    try:
        return PyUnicode_DecodeUTF8(<const char*>s, n, NULL)
    except UnicodeDecodeError:
        raise _fail("a text is not valid UTF-8", "utf8", at) from None


cdef tuple _levels(const unsigned char* p, Py_ssize_t n):
    cdef tuple out = PyTuple_New(n)
    cdef Py_ssize_t i
    cdef tuple t
    cdef object x, y
    for i in range(n):
        t = PyTuple_New(2)
        x = _get_f64(p)
        y = _get_f64(p + 8)
        Py_INCREF(x)
        PyTuple_SET_ITEM(t, 0, x)
        Py_INCREF(y)
        PyTuple_SET_ITEM(t, 1, y)
        Py_INCREF(t)
        PyTuple_SET_ITEM(out, i, t)
        p += 16
    return out


def decode_update(data):
    """Decode one message into a BookUpdate; see :func:`dragonfly._core.busmsg_py.decode_update`."""
    cdef Py_ssize_t size, vl, il, rl, nb, na, n, levels_at, end, pos, k
    cdef const unsigned char* s
    cdef int code
    cdef int64_t ex, rx
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _fail(f"expected bytes, not {type(data).__name__}", "type", -1)
        data = bytes(data)
    size = PyBytes_GET_SIZE(data)
    s = <const unsigned char*>PyBytes_AS_STRING(data)
    if size < _HEADER:
        raise _fail(f"truncated: {size} bytes, a message has at least {_HEADER}", "truncated", size)
    if s[0] != _MAGIC0 or s[1] != _MAGIC1:
        raise _fail("not a bus message (bad magic)", "magic", 0)
    if s[2] != _VERSION:
        raise _fail(f"unsupported bus message version {s[2]}", "version", 2)
    code = s[3]
    if code > 2:
        raise _fail(f"bad status code {code}", "status", 3)
    vl = s[24]
    il = s[25]
    if vl == 0 or il == 0:
        raise _fail("empty venue or instrument", "length", 24)
    rl = _get_u16(s + 26)
    nb = _get_u16(s + 4)
    na = _get_u16(s + 6)
    n = nb + na
    levels_at = _HEADER + vl + il + rl
    end = levels_at + 16 * n
    if size < end:
        raise _fail(f"truncated: {size} bytes of {end}", "truncated", size)
    if size > end:
        raise _fail(f"{size - end} bytes after the message", "trailing", end)
    if code != 1 and n:
        raise _fail("levels on an update that is not LIVE", "levels", 4)
    ex = <int64_t>_get_u64(s + 8)
    rx = <int64_t>_get_u64(s + 16)
    if ex < 0:
        raise _fail("negative exchange_ts_ns", "number", 8)
    if rx < 0:
        raise _fail("negative receive_ts_ns", "number", 16)
    pos = _HEADER
    venue = _text(s + pos, vl, pos)
    pos += vl
    instrument = _text(s + pos, il, pos)
    pos += il
    reason = _text(s + pos, rl, pos)
    for k in range(n):
        if not _good_level(_get_f64(s + levels_at + 16 * k), _get_f64(s + levels_at + 16 * k + 8)):
            raise _fail(f"level {k} is not finite with price > 0 and qty >= 0", "number", levels_at + 16 * k)
    if n:
        bids = _levels(s + levels_at, nb)
        asks = _levels(s + levels_at + 16 * nb, na)
    else:
        bids = asks = _EMPTY
    return tuple.__new__(_BookUpdate, (venue, instrument, bids, asks, <object>_STATUSES[code], ex, rx, reason))
