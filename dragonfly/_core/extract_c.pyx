# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Partial-frame JSON extraction of the top N ``[price, qty]`` levels (compiled twin).

Behaves exactly like :mod:`dragonfly._core.extract_py` (the reference, where the
semantics are documented): same results, same exception, message and ``pos``. The
scanner (``_json_c.pxd``, shared with the JSON document) works on raw bytes with pointer
arithmetic, never reads past the end of the buffer (``buf[n]`` included) and creates no
Python object on the success path except the returned levels.

Speed notes: SSE2 or 8-byte SWAR scans for string bodies and digit runs (little-endian
targets; elsewhere a byte loop), Clinger's exact fast path for decimals with at most 2**53
as mantissa and a power of ten up to 1e22 (correctly rounded, so identical to ``float()``;
``_Py_dg_strtod`` through ``PyOS_string_to_double`` otherwise), and a one-pass
``TopExtractor`` when the two paths share a prefix (the side met first is read, then
skipped to its end). Whenever that one pass fails, the two independent extractions run
and define the outcome, so results and errors are those of two ``extract_levels`` calls.
Skipping the rest of a side validates runs of plain level entries (``["p","q"]``, no
whitespace or escape) from a mask of the bytes needing attention, 64 at a time
(``_skip_plain_levels``); anything else goes through the general scanner. Levels equal to
those last returned (``extract_levels``: for the same path; ``TopExtractor``: the last view
of that side) are handed out again as the very same tuples, and a ``TopExtractor`` view is
only rebuilt for a side that changed. The tuples and floats of a last result that only this
module still references (the caller dropped it) are filled with new levels' values rather
than freed and allocated again. ``extract_levels`` holds the message of its last successful
call until the next call: a call on that same object for a sibling path (``bids`` then
``asks``) goes on from where the first stopped (see ``_resume``).

Cython modules can ``cimport`` :class:`CompiledPath`, :func:`extract_into` and
:class:`TopExtractor` (``update_buffer``, and the ``bid_px``/``bid_qty``/``ask_px``/
``ask_qty`` arrays with ``n_bids``/``n_asks``); see ``extract_c.pxd``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches, PyErr_Occurred
from cpython.long cimport PyLong_CheckExact
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact, PyFloat_FromDouble
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.list cimport PyList_GET_ITEM, PyList_New, PyList_SET_ITEM
from cpython.sequence cimport PySequence_Fast_ITEMS
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_Check
from libc.math cimport isfinite
from libc.stdint cimport uint64_t
from libc.string cimport memchr, memcmp, memcpy

from ._json_c cimport DF_FAST_FLOAT, DF_LE, DF_SSE2, E_ARR_SEP, E_CHAR, E_KEY, E_NESTING, E_NUMBER, E_OBJ_SEP, E_OK
from ._json_c cimport E_SCAN_CODES, Scan, char_pos, cptr, df_acc, df_acc_exp, df_ctz64, df_digit_run8, df_load8
from ._json_c cimport df_pow10, df_pow10_u64, df_special8, df_special16, df_strtod, df_value_k, expect_digit
from ._json_c cimport df_prefetch, is_digit, literal_end
from ._json_c cimport member_value, number_end, scan_eof, scan_fail, skip_ws, string_end, unescape

from ..errors import ExtractError
from ._json_py import MESSAGES

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_COMPACT_ASCII(object unicode)
    void* PyUnicode_DATA(object unicode)
    Py_ssize_t PyUnicode_GET_LENGTH(object unicode)
    Py_ssize_t PY_SSIZE_T_MAX
    Py_ssize_t _as_ssize "PyLong_AsSsize_t"(object o) noexcept  # -1 with an error set: the caller clears it

__all__ = ("extract_levels", "TopExtractor", "MAX_NESTING", "MAX_TOP_DEPTH")

cdef extern from *:
    """
    static inline void df_set_fval(PyObject* f, double v) { ((PyFloatObject*)f)->ob_fval = v; }
    """
    Py_ssize_t df_refcnt "Py_REFCNT"(PyObject* o) noexcept
    void df_set_fval(PyObject* f, double v) noexcept

#: Deepest nesting of containers accepted inside a value that is skipped.
MAX_NESTING = 1024
#: Largest ``depth`` a :class:`TopExtractor` accepts.
MAX_TOP_DEPTH = 100_000
DEF C_MAX_NESTING = 1024
DEF STACK_LEVELS = 64

cdef enum:
    E_LEVELS = E_SCAN_CODES
    E_ENTRY
    E_SHORT
    E_COMMA
    E_NUMTYPE
    E_NUMSTR
    E_FINITE
    E_OBJECT
    E_CONTAINER
    E_NOTFOUND
    E_CONVERT
    E_MEMORY

# The scanner's messages (shared with the reference twin), then this module's, in E_* order.
cdef tuple _MESSAGES = MESSAGES + (
    "expected array of levels",
    "level entry must be an array",
    "level entry has fewer than 2 elements",
    "expected ','",
    "price and quantity must be numbers or numeric strings",
    "invalid numeric string",
    "non-finite number",
    "expected object",
    "expected object or array",
    "path not found",
    "number conversion failed",
    "out of memory",
)


cdef struct Ctx:
    Scan s             # the scanner: the text, and the error and its position
    Py_ssize_t step    # E_NOTFOUND: the path step not found
    cptr stop          # after a successful extraction: where it stopped


DEF RESUME_NAMES = 8   # the most members before a side's key that a later call for its sibling re-checks


# Where the last successful ``extract_levels`` call stopped, for the next call on the same message.
cdef struct Resume:
    Py_ssize_t stop                          # the stop point (an offset in the buffer)
    bint closed                              # the array's ``]`` was consumed
    Py_ssize_t nnames                        # the members passed in the side's object before its key, -1: not kept
    Py_ssize_t names[2 * RESUME_NAMES]       # their names' bodies, as [start, end) offsets


cdef struct Sink:
    double* px
    double* qx
    Py_ssize_t cap
    Py_ssize_t n
    bint heap      # px/qx were allocated here and may be reallocated


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


cdef int _raise(Ctx* c, CompiledPath path, object message, const char* buf) except -1:
    if c.s.err == E_MEMORY:
        raise MemoryError()
    cdef Py_ssize_t pos = c.s.pos
    if message is not None:
        pos = char_pos(message, <cptr>buf, pos)
    if c.s.err == E_NOTFOUND:
        text = f"path {path.path!r}: {path._keys[c.step]!r} not found"
    else:
        text = _MESSAGES[c.s.err]
    raise ExtractError(text, pos)


# ---------------------------------------------------------------------------------------
# Scanning (the primitives are _json_c.pxd's)
# ---------------------------------------------------------------------------------------


cdef cptr _skip_string(Scan* c, cptr p) noexcept:
    """Past the string at ``p``, its opening quote (``string_end`` compiled once here, not
    inline at every call)."""
    return string_end(c, p, NULL)


cdef inline cptr _plain_string_end(cptr p, cptr e) noexcept:
    """The end of the string at ``p`` (its opening quote) when it is plain (no escape, control
    character or byte >= 0x80) and at most 15 bytes long, and 17 bytes may be read from ``p``;
    NULL for any other string, left to :func:`_skip_string`."""
    cdef uint64_t m
    cdef int k
    if DF_LE and e - p >= 17:
        m = df_special8(df_load8(p + 1))
        if m:
            k = df_ctz64(m) >> 3
            if p[1 + k] == 0x22:
                return p + k + 2
        else:
            m = df_special8(df_load8(p + 9))
            if m:
                k = df_ctz64(m) >> 3
                if p[9 + k] == 0x22:
                    return p + k + 10
    return NULL


cdef inline cptr _skip_short_string(Scan* c, cptr p) noexcept:
    """:func:`_skip_string` with an inline fast path for plain strings of up to 15 bytes."""
    cdef cptr r = _plain_string_end(p, c.end)
    if r != NULL:
        return r
    return _skip_string(c, p)


cdef inline uint64_t _special64(cptr p) noexcept:
    """A bit per byte of ``p[0:64]`` that is a quote, a backslash, a control character or >= 0x80."""
    return (<uint64_t>df_special16(p) | (<uint64_t>df_special16(p + 16) << 16)
            | (<uint64_t>df_special16(p + 32) << 32) | (<uint64_t>df_special16(p + 48) << 48))


DEF RUN_READ = 72   # bytes readable from a block for _skip_plain_levels (64, and 8 past its last byte)


cdef cptr _skip_plain_levels(cptr p, cptr e) noexcept:
    """``p`` is at a ``[`` that is an element of an array: past as many consecutive plain entries as follow,
    joined by ``,``; the end of the last one (after its ``]``), or NULL when the first is not one. A plain
    entry is ``[``, plain strings (no escape, control character, quote or byte >= 0x80 inside) joined by
    ``,``, then ``]``, without whitespace, e.g. ``["61837.63000000","0.00120000"]``: valid JSON. What follows
    the returned position (a ``,``, the array's ``]``, anything else) is left to the caller, which validates
    it as after any value; so is everything from the first entry that is not plain.

    The strings of an entry past the top N are validated as JSON strings, not as numbers: that is the
    documented contract of both twins (``extract_py``: values skipped on the way are validated as JSON,
    without being converted), and what makes the two agree on every input. A level that is never returned
    cannot hand out a wrong number, and a frame whose structure is broken anywhere before the stop point
    (truncated, a bad string, a missing bracket or comma) is still an ExtractError.

    The bytes needing attention are flagged 64 at a time, independently of where the entries are; the walk
    then takes the flags in order, two per string. Inside a string (its opening quote's flag taken), the next
    flag ends it: the bytes between are not flagged, so they are a valid string body, and it must be a quote
    followed by ``,"`` (another string of the entry), ``],["`` (the next entry) or ``]`` (the last entry of
    the run), checked with one 8-byte load. Those bytes put the next opening quote at a known place, so its
    flag, the next one, is taken without looking at it. The flags are cleared one by one, which keeps the
    dependency chain from one string to the next a few cycles long."""
    cdef cptr last = NULL
    cdef cptr base = p
    cdef cptr q
    cdef uint64_t m, w
    if not (DF_SSE2 and DF_LE) or e - base < RUN_READ or p[0] != 0x5B or p[1] != 0x22:
        return NULL
    m = _special64(base) & ~(<uint64_t>3)    # the opening quote at p + 1 (bit 1) is taken
    while True:
        # inside a string: its closing quote, at the next flag
        while m == 0:
            base += 64
            if e - base < RUN_READ:
                return last
            m = _special64(base)
        q = base + df_ctz64(m)
        m &= m - 1
        w = df_load8(q)
        if (w & 0xFFFFFFFFFFULL) == 0x225B2C5D22ULL:     # '"],["': the entry ends, the next one starts
            last = q + 2
        elif (w & 0xFFFFFFULL) != 0x222C22ULL:           # not '","' (another string of the entry)
            if (w & 0xFFFFULL) == 0x5D22ULL:             # '"]': the last entry of the run
                return q + 2
            return last
        # the next string's opening quote (at q + 2 or q + 4): the next flag
        while m == 0:
            base += 64
            if e - base < RUN_READ:
                return last
            m = _special64(base)
        m &= m - 1


cdef bint _escaped_equals(cptr s, cptr t, const char* key, Py_ssize_t klen) noexcept:
    """Compare the validated string body ``[s, t)`` (with escapes) with UTF-8 ``key``."""
    cdef Py_ssize_t ki = 0
    cdef unsigned char ch
    cdef unsigned char enc[4]
    cdef int elen, k
    cdef Py_UCS4 u
    cdef unsigned int cp
    while s < t:
        ch = s[0]
        if ch != 0x5C:
            if ki >= klen or <unsigned char>key[ki] != ch:
                return False
            ki += 1
            s += 1
            continue
        s = unescape(s, t, &u)
        cp = u
        if 0xD800 <= cp <= 0xDFFF:
            return False  # a lone surrogate never equals a UTF-8 path component
        if cp < 0x80:
            enc[0] = <unsigned char>cp
            elen = 1
        elif cp < 0x800:
            enc[0] = <unsigned char>(0xC0 | (cp >> 6))
            enc[1] = <unsigned char>(0x80 | (cp & 0x3F))
            elen = 2
        elif cp < 0x10000:
            enc[0] = <unsigned char>(0xE0 | (cp >> 12))
            enc[1] = <unsigned char>(0x80 | ((cp >> 6) & 0x3F))
            enc[2] = <unsigned char>(0x80 | (cp & 0x3F))
            elen = 3
        else:
            enc[0] = <unsigned char>(0xF0 | (cp >> 18))
            enc[1] = <unsigned char>(0x80 | ((cp >> 12) & 0x3F))
            enc[2] = <unsigned char>(0x80 | ((cp >> 6) & 0x3F))
            enc[3] = <unsigned char>(0x80 | (cp & 0x3F))
            elen = 4
        for k in range(elen):
            if ki >= klen or <unsigned char>key[ki] != enc[k]:
                return False
            ki += 1
    return ki == klen


cdef inline bint _key_equals(cptr s, cptr t, const char* key, Py_ssize_t klen) noexcept:
    """The validated string body ``[s, t)`` decodes to the UTF-8 bytes ``key``."""
    if memchr(s, 0x5C, t - s) == NULL:
        return (t - s) == klen and memcmp(s, key, klen) == 0
    return _escaped_equals(s, t, key, klen)


cdef inline cptr _member(Scan* c, cptr p, cptr* name) noexcept:
    """At an object member: validate ``"name" :`` and return the position of the value (after
    whitespace); the name's body is ``[name[0], name[1])``."""
    cdef cptr e = c.end
    cdef cptr r
    if p >= e:
        return scan_eof(c)
    if p[0] != 0x22:
        return scan_fail(c, E_KEY, p)
    r = _skip_string(c, p)
    if r == NULL:
        return NULL
    name[0] = p + 1
    name[1] = r - 1
    return member_value(c, r)


cdef inline cptr _key_colon(Scan* c, cptr p) noexcept:
    """At an object member: past ``"name" :`` and whitespace."""
    cdef cptr name[2]
    return _member(c, p, name)


cdef cptr _skip_nested(Scan* c, cptr p, unsigned char* stack, Py_ssize_t top, bint after) noexcept:
    """Validate JSON from ``p`` until the containers in ``stack[0:top]`` are closed.

    ``stack`` has room for ``C_MAX_NESTING`` entries (1: object, 0: array). With
    ``after`` false, ``p`` is at a value (no leading whitespace); with ``after`` true,
    ``p`` is right after a complete value inside ``stack[top - 1]``. ``top == 0`` and
    ``after`` false skips one value. Iterative: nesting is bounded by the stack.
    """
    cdef cptr e = c.end
    cdef cptr r
    cdef unsigned char ch, close
    cdef bint is_obj, integer
    while True:
        if not after:
            # one value at p
            if p >= e:
                return scan_eof(c)
            ch = p[0]
            if ch == 0x5B and top > 0 and stack[top - 1] == 0:
                # a run of plain level entries inside an array (the rest of a side after its top N)
                r = _skip_plain_levels(p, e)
                if r != NULL:
                    p = r
                    after = True
                    continue
            if ch == 0x5B and top < C_MAX_NESTING and e - p > 1 and p[1] == 0x22:
                # fast path for a level entry ["price","qty"] of plain short strings; anything
                # else is left to the general loop below, from the same position
                r = _plain_string_end(p + 1, e)
                if r != NULL and e - r > 1 and r[0] == 0x2C and r[1] == 0x22:
                    r = _plain_string_end(r + 1, e)
                    if r != NULL and r < e and r[0] == 0x5D:
                        p = r + 1
                        after = True
                        continue
            if ch == 0x7B or ch == 0x5B:
                if top >= C_MAX_NESTING:
                    return scan_fail(c, E_NESTING, p)
                is_obj = ch == 0x7B
                p = skip_ws(p + 1, e)
                if p < e and p[0] == (0x7D if is_obj else 0x5D):
                    p += 1
                else:
                    stack[top] = is_obj
                    top += 1
                    if is_obj:
                        p = _key_colon(c, p)
                        if p == NULL:
                            return NULL
                    continue
            elif ch == 0x22:
                p = _skip_short_string(c, p)
            elif ch == 0x2D or is_digit(ch):
                p = number_end(c, p, &integer)
            elif ch == 0x74 or ch == 0x66 or ch == 0x6E:
                p = literal_end(c, p)
            else:
                return scan_fail(c, E_CHAR, p)
            if p == NULL:
                return NULL
        after = False
        # after a complete value
        while True:
            if top == 0:
                return p
            p = skip_ws(p, e)
            if p >= e:
                return scan_eof(c)
            ch = p[0]
            is_obj = stack[top - 1]
            if ch == 0x2C:
                p = skip_ws(p + 1, e)
                if is_obj:
                    p = _key_colon(c, p)
                    if p == NULL:
                        return NULL
                break
            close = 0x7D if is_obj else 0x5D
            if ch == close:
                top -= 1
                p += 1
                continue
            return scan_fail(c, E_OBJ_SEP if is_obj else E_ARR_SEP, p)


cdef inline cptr _skip_value(Scan* c, cptr p) noexcept:
    """Validate the JSON value at ``p`` (no leading whitespace); return its end."""
    cdef unsigned char stack[C_MAX_NESTING]
    return _skip_nested(c, p, stack, 0, False)


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------


cdef inline cptr _parse_num(Scan* c, cptr p, double* out) noexcept:
    """A price or quantity at ``p``: a JSON number or a numeric string."""
    cdef cptr q = p + 1
    cdef int k1, k2
    cdef uint64_t x, y, m
    if DF_LE and DF_FAST_FLOAT and c.end - q >= 17 and p[0] == 0x22:
        # Fast path for the usual venue format "ddd.ddddd" (1-7 integer digits, 1-8
        # fraction digits): two 8-byte loads, then Clinger's exact division. Every other
        # form, and every error, goes through the general parser.
        x = df_load8(q)
        k1 = df_digit_run8(x)
        if 0 < k1 < 8 and q[k1] == 0x2E:
            y = df_load8(q + k1 + 1)
            k2 = df_digit_run8(y)
            if k2 > 0 and q[k1 + 1 + k2] == 0x22:
                m = <uint64_t>df_value_k(x, k1) * df_pow10_u64[k2] + df_value_k(y, k2)
                if m <= 9007199254740992ULL:
                    out[0] = <double>m / df_pow10[k2]
                    return q + k1 + k2 + 2
    return _parse_num_general(c, p, out)


cdef cptr _parse_num_general(Scan* c, cptr p, double* out) noexcept:
    """:func:`_parse_num` for any input: a JSON number (``strict``: its grammar and error positions), or a
    numeric string ``[+-]? (D+ ('.' D*)? | '.' D+) ([eE] [+-]? D+)?``, walked once and converted as it goes."""
    cdef cptr e = c.end
    cdef cptr q
    cdef cptr r
    cdef cptr s      # token start
    cdef cptr t      # token end
    cdef cptr after
    cdef unsigned char ch
    cdef bint strict, neg = False, integer = True, ok = True, eneg = False
    cdef uint64_t m = 0
    cdef int nd = 0, slow = 0
    cdef Py_ssize_t nfrac = 0
    cdef long ex = 0, e10
    cdef double v
    if p >= e:
        return scan_eof(c)
    ch = p[0]
    if ch == 0x22:
        strict = False
        q = p + 1
        if q < e and (q[0] == 0x2B or q[0] == 0x2D):
            neg = q[0] == 0x2D
            q += 1
    elif ch == 0x2D or is_digit(ch):
        strict = True
        q = p
        if ch == 0x2D:
            neg = True
            q += 1
    else:
        return scan_fail(c, E_NUMTYPE, p)
    s = p if strict else p + 1
    # the integer part
    if strict:
        if q >= e:
            return scan_eof(c)
        ch = q[0]
        if ch == 0x30:
            q += 1
        elif 0x31 <= ch <= 0x39:
            q = df_acc(q, e, &m, &nd, &slow)
        else:
            return scan_fail(c, E_NUMBER, q)
    else:
        r = df_acc(q, e, &m, &nd, &slow)
        ok = r > q
        q = r
    # the fraction
    if q < e and q[0] == 0x2E:
        integer = False
        q += 1
        if strict and not expect_digit(c, q):
            return NULL
        r = df_acc(q, e, &m, &nd, &slow)
        nfrac = r - q
        ok = ok or r > q
        q = r
    # the exponent
    if ok and q < e and (q[0] == 0x65 or q[0] == 0x45):
        integer = False
        q += 1
        if q < e and (q[0] == 0x2B or q[0] == 0x2D):
            eneg = q[0] == 0x2D
            q += 1
        if strict and not expect_digit(c, q):
            return NULL
        r = df_acc_exp(q, e, &ex)
        ok = r > q
        q = r
    t = q
    after = q
    if not strict:
        if q >= e:
            return scan_eof(c)
        if not ok or q[0] != 0x22:
            return scan_fail(c, E_NUMSTR, p)
        after = q + 1
        integer = False   # numeric strings keep the sign of zero: float("-0") == -0.0

    if not slow and m == 0:
        # json.loads gives the int 0 for "-0", and float(0) is +0.0
        v = -0.0 if (neg and not integer) else 0.0
    else:
        if eneg:
            ex = -ex
        e10 = ex - nfrac
        if DF_FAST_FLOAT and not slow and m <= 9007199254740992ULL and -22 <= e10 <= 22:
            # exact operands, one correctly rounded operation; always finite
            v = -<double>m if neg else <double>m
            if e10 >= 0:
                v = v * df_pow10[e10]
            else:
                v = v / df_pow10[-e10]
            out[0] = v
            return after
        if df_strtod(s, t - s, &v) < 0:
            if PyErr_ExceptionMatches(MemoryError):
                PyErr_Clear()
                c.err = E_MEMORY
                return NULL
            PyErr_Clear()
            return scan_fail(c, E_CONVERT, p)
        if integer and v == 0.0:
            v = 0.0
    if not isfinite(v):
        return scan_fail(c, E_FINITE, p)
    out[0] = v
    return after


# ---------------------------------------------------------------------------------------
# Navigation and extraction
# ---------------------------------------------------------------------------------------


cdef cptr _next_member(Ctx* x, cptr p, bint is_obj, Py_ssize_t step) noexcept:
    """Skip the member value at ``p`` of the object (``is_obj``) or array searched for path step
    ``step``, and the ``,`` after it: the position of the next member. At the container's end,
    the step is not found."""
    cdef Scan* c = &x.s
    cdef cptr e = c.end
    p = _skip_value(c, p)
    if p == NULL:
        return NULL
    p = skip_ws(p, e)
    if p >= e:
        return scan_eof(c)
    if p[0] == 0x2C:
        return skip_ws(p + 1, e)
    if p[0] == (0x7D if is_obj else 0x5D):
        x.step = step
        return scan_fail(c, E_NOTFOUND, p)
    return scan_fail(c, E_OBJ_SEP if is_obj else E_ARR_SEP, p)


cdef cptr _navigate_range(Ctx* x, cptr p, CompiledPath path, Py_ssize_t first, Py_ssize_t last,
                          unsigned char* kinds, Resume* names) noexcept:
    """From the value at ``p``, follow ``path.steps[first:last]``; return the position of the
    value reached. ``kinds[i]`` (when given) records the container searched for step ``i``
    (1: object, 0: array); ``names`` (when given), the members passed in the last container searched
    when it is an object (see :class:`Resume`)."""
    cdef Scan* c = &x.s
    cdef cptr e = c.end
    cdef Py_ssize_t i, k
    cdef PathStep* st
    cdef cptr name[2]
    cdef bint is_obj, record
    for i in range(first, last):
        st = &path.steps[i]
        if p >= e:
            return scan_eof(c)
        if p[0] != 0x7B and p[0] != 0x5B:
            return scan_fail(c, E_CONTAINER if st.index >= 0 else E_OBJECT, p)
        is_obj = p[0] == 0x7B
        if not is_obj and st.index < 0:
            return scan_fail(c, E_OBJECT, p)
        if kinds != NULL:
            kinds[i] = is_obj
        record = names != NULL and i == last - 1
        if record:
            names.nnames = 0 if is_obj else -1
        p = skip_ws(p + 1, e)
        if p < e and p[0] == (0x7D if is_obj else 0x5D):
            x.step = i
            return scan_fail(c, E_NOTFOUND, p)
        k = 0
        while True:
            if is_obj:
                p = _member(c, p, name)
                if p == NULL:
                    return NULL
                if _key_equals(name[0], name[1], st.key, st.keylen):
                    break
                if record and names.nnames >= 0:
                    if names.nnames == RESUME_NAMES:
                        names.nnames = -1
                    else:
                        names.names[2 * names.nnames] = name[0] - c.start
                        names.names[2 * names.nnames + 1] = name[1] - c.start
                        names.nnames += 1
            elif k == st.index:
                break
            p = _next_member(x, p, is_obj, i)
            if p == NULL:
                return NULL
            k += 1
    return p


cdef inline cptr _navigate(Ctx* x, CompiledPath path, Resume* names) noexcept:
    """Follow all of ``path`` from the start of the message (see :func:`_navigate_range`)."""
    return _navigate_range(x, skip_ws(x.s.start, x.s.end), path, 0, path.nsteps, NULL, names)


cdef inline void _sink_init(Sink* s, double* px, double* qx, Py_ssize_t cap) noexcept:
    """An empty sink writing into ``px``/``qx`` (room for ``cap`` levels, not owned)."""
    s.px = px
    s.qx = qx
    s.cap = cap
    s.n = 0
    s.heap = False


cdef bint _grow(Sink* s) noexcept:
    cdef Py_ssize_t cap = s.cap * 2
    cdef double* px
    cdef double* qx
    if s.heap:
        px = <double*>PyMem_Realloc(s.px, cap * sizeof(double))
        if px == NULL:
            return False
        s.px = px
        qx = <double*>PyMem_Realloc(s.qx, cap * sizeof(double))
        if qx == NULL:
            return False
        s.qx = qx
    else:
        px = <double*>PyMem_Malloc(cap * sizeof(double))
        qx = <double*>PyMem_Malloc(cap * sizeof(double))
        if px == NULL or qx == NULL:
            PyMem_Free(px)
            PyMem_Free(qx)
            return False
        memcpy(px, s.px, s.n * sizeof(double))
        memcpy(qx, s.qx, s.n * sizeof(double))
        s.px = px
        s.qx = qx
        s.heap = True
    s.cap = cap
    return True


cdef cptr _levels_at(Scan* c, cptr p, Py_ssize_t depth, Sink* s, bint* closed) noexcept:
    """Read at most ``depth`` levels of the array at ``p`` into ``s``; return the stop
    position (``closed``: the array's ``]`` was consumed), or NULL with ``c.err`` set."""
    cdef cptr e = c.end
    cdef unsigned char ch
    cdef double price, qty
    closed[0] = False
    if p >= e:
        return scan_eof(c)
    if p[0] != 0x5B:
        return scan_fail(c, E_LEVELS, p)
    p += 1
    s.n = 0
    if depth == 0:
        return p
    p = skip_ws(p, e)
    if p < e and p[0] == 0x5D:
        closed[0] = True
        return p + 1
    while True:
        if p >= e:
            return scan_eof(c)
        if p[0] != 0x5B:
            return scan_fail(c, E_ENTRY, p)
        p = _parse_num(c, skip_ws(p + 1, e), &price)
        if p == NULL:
            return NULL
        p = skip_ws(p, e)
        if p >= e:
            return scan_eof(c)
        if p[0] != 0x2C:
            return scan_fail(c, E_SHORT if p[0] == 0x5D else E_COMMA, p)
        p = _parse_num(c, skip_ws(p + 1, e), &qty)
        if p == NULL:
            return NULL
        while True:
            p = skip_ws(p, e)
            if p >= e:
                return scan_eof(c)
            ch = p[0]
            if ch == 0x5D:
                p += 1
                break
            if ch != 0x2C:
                return scan_fail(c, E_ARR_SEP, p)
            p = _skip_value(c, skip_ws(p + 1, e))
            if p == NULL:
                return NULL
        if s.n == s.cap:
            if not _grow(s):
                c.err = E_MEMORY
                return NULL
        s.px[s.n] = price
        s.qx[s.n] = qty
        s.n += 1
        if s.n == depth:
            return p
        p = skip_ws(p, e)
        if p >= e:
            return scan_eof(c)
        ch = p[0]
        if ch == 0x2C:
            p = skip_ws(p + 1, e)
        elif ch == 0x5D:
            closed[0] = True
            return p + 1
        else:
            return scan_fail(c, E_ARR_SEP, p)


cdef Py_ssize_t _extract(Ctx* x, CompiledPath path, Py_ssize_t depth, Sink* s, Resume* r) noexcept:
    """Fill ``s`` with at most ``depth`` levels; return the count, or -1 with ``x.s.err`` set. ``r`` (when
    given) receives what a call for a sibling path needs to go on from here (see :func:`_resume`)."""
    cdef bint closed
    cdef cptr p = _navigate(x, path, r)
    if p == NULL:
        return -1
    p = _levels_at(&x.s, p, depth, s, &closed)
    if p == NULL:
        return -1
    x.stop = p
    if r != NULL:
        r.stop = p - x.s.start
        r.closed = closed
    return s.n


cdef bint _siblings(CompiledPath a, CompiledPath b) noexcept:
    """``a`` and ``b`` differ only in their last component (``"bids"`` and ``"asks"``, ``"data.b"`` and
    ``"data.a"``)."""
    cdef Py_ssize_t k, last = a.nsteps - 1
    if last < 0 or b.nsteps != a.nsteps:
        return False
    for k in range(last):
        if not _same_step(&a.steps[k], &b.steps[k]):
            return False
    return not _same_step(&a.steps[last], &b.steps[last])


cdef inline bint _same_step(PathStep* a, PathStep* b) noexcept:
    """The same path component (key bytes, and so the same index)."""
    return a.keylen == b.keylen and a.index == b.index and memcmp(a.key, b.key, a.keylen) == 0


cdef Py_ssize_t _resume(Ctx* x, CompiledPath path, Py_ssize_t depth, Sink* s, Resume* r) noexcept:
    """:func:`_extract` for ``path``, going on from where the last call, for a sibling path on the same
    message, stopped (``r``): past the rest of that side's array, then through the members after its key.
    The members before that key were validated by that call, and their names are checked here against
    ``path``'s key, so the first member of that name, and everything a fresh call would examine on the
    way to it, are the same. -2 when this cannot say (the key not after the sibling's, or anything
    unexpected on the way): the caller then extracts from the start, which defines the result or error."""
    cdef Scan* c = &x.s
    cdef cptr e = c.end
    cdef cptr p
    cdef cptr name[2]
    cdef PathStep* st = &path.steps[path.nsteps - 1]
    cdef unsigned char stack[C_MAX_NESTING]
    cdef Py_ssize_t k
    cdef bint closed
    for k in range(r.nnames):
        if _key_equals(c.start + r.names[2 * k], c.start + r.names[2 * k + 1], st.key, st.keylen):
            return -2
    p = c.start + r.stop
    if not r.closed:
        stack[0] = 0  # inside the sibling's array, after a complete entry
        p = _skip_nested(c, p, stack, 1, True)
        if p == NULL:
            return -2
    while True:
        p = skip_ws(p, e)
        if p >= e or p[0] != 0x2C:
            return -2
        p = _member(c, skip_ws(p + 1, e), name)
        if p == NULL:
            return -2
        if _key_equals(name[0], name[1], st.key, st.keylen):
            break
        p = _skip_value(c, p)
        if p == NULL:
            return -2
    p = _levels_at(c, p, depth, s, &closed)
    if p == NULL:
        return -2
    x.stop = p
    return s.n


cdef inline void _ctx_init(Ctx* x, const char* buf, Py_ssize_t n) noexcept:
    x.s.start = <cptr>buf
    x.s.end = <cptr>buf + n
    x.s.err = E_OK
    x.s.pos = -1
    x.step = -1
    x.stop = NULL


# ---------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------


cdef class CompiledPath:
    """A dotted path parsed once (see ``extract_levels`` for the syntax)."""

    def __cinit__(self, path):
        self.steps = NULL
        self.nsteps = 0
        if not isinstance(path, str):
            raise ExtractError(f"path must be str, not {type(path).__name__}")
        self.path = path
        comps = [] if path == "" else path.split(".")
        blobs = []
        for comp in comps:
            if comp == "":
                raise ExtractError(f"invalid path {path!r}: empty component")
            try:
                blobs.append(comp.encode("utf-8"))
            except UnicodeEncodeError:
                raise ExtractError(f"invalid path {path!r}: not encodable as UTF-8") from None
        self._keys = tuple(comps)
        self._blob = b"".join(blobs)
        self.nsteps = len(blobs)
        if self.nsteps:
            self.steps = <PathStep*>PyMem_Malloc(self.nsteps * sizeof(PathStep))
            if self.steps == NULL:
                raise MemoryError()
        cdef const char* base = PyBytes_AS_STRING(self._blob)
        cdef Py_ssize_t off = 0, i
        cdef bytes key
        for i in range(self.nsteps):
            key = blobs[i]
            self.steps[i].key = base + off
            self.steps[i].keylen = len(key)
            self.steps[i].index = _index_of(key)
            off += len(key)

    def __dealloc__(self):
        PyMem_Free(self.steps)

    def __repr__(self):
        return f"CompiledPath({self.path!r})"


DEF REUSE_MAX = 64        # the most levels a path keeps for reuse


cdef class _PathState:
    """A path compiled once, and the levels :func:`extract_levels` last returned for it."""
    cdef CompiledPath path
    cdef PyObject* prev[REUSE_MAX]   # those (price, qty) tuples (owned references; a C array rather than a
    cdef Py_ssize_t nprev            # tuple: no tuple to build and free per call)
    cdef double ppx[REUSE_MAX]   # their values
    cdef double pqx[REUSE_MAX]

    def __dealloc__(self):
        _drop_prev(self)


cdef void _drop_prev(_PathState st) noexcept:
    cdef Py_ssize_t i, n = st.nprev
    st.nprev = 0
    for i in range(n):
        Py_XDECREF(st.prev[i])


cdef void _keep_prev(_PathState st, list out, Py_ssize_t n) noexcept:
    """Hold the ``n`` (<= REUSE_MAX) levels of ``out`` for the next call (its values are in ``st.ppx``/``pqx``)."""
    cdef PyObject* tmp[REUSE_MAX]
    cdef Py_ssize_t i
    for i in range(n):
        tmp[i] = PyList_GET_ITEM(out, i)
        Py_INCREF(<object>tmp[i])
    _drop_prev(st)
    memcpy(st.prev, tmp, n * sizeof(PyObject*))
    st.nprev = n


cdef dict _path_cache = {}
DEF PATH_CACHE_SIZE = 512


DEF RECENT = 4
cdef PyObject* _recent_keys[RECENT]     # the last str paths looked up (owned references, or NULL) ...
cdef PyObject* _recent_states[RECENT]   # ... and their states (owned)
cdef int _recent_next = 0


cdef _PathState _path_state(object path):
    """The state of ``path``, from a small bounded cache (venues use a handful of paths). The last few
    paths looked up are found by identity first (a path is usually the same str object call after call);
    they are held, so an identity can never be that of a freed object."""
    global _recent_next
    cdef object hit
    cdef _PathState st
    cdef int i
    cdef PyObject* old_key
    cdef PyObject* old_state
    for i in range(RECENT):
        if _recent_keys[i] == <PyObject*>path:
            return <_PathState>_recent_states[i]
    if type(path) is not str:
        st = _PathState.__new__(_PathState)
        st.path = CompiledPath(path)  # raises: a path is a str
        return st
    hit = _path_cache.get(path)
    if hit is not None:
        st = <_PathState>hit
    else:
        st = _PathState.__new__(_PathState)
        st.path = CompiledPath(path)
        st.nprev = 0
        if len(_path_cache) >= PATH_CACHE_SIZE:
            _path_cache.clear()
        _path_cache[path] = st
    i = _recent_next
    _recent_next = (i + 1) % RECENT
    old_key = _recent_keys[i]
    old_state = _recent_states[i]
    Py_INCREF(path)
    Py_INCREF(st)
    _recent_keys[i] = <PyObject*>path
    _recent_states[i] = <PyObject*>st
    Py_XDECREF(old_key)
    Py_XDECREF(old_state)
    return st


cdef inline CompiledPath _compiled(object path):
    """The compiled form of ``path`` (see :func:`_path_state`)."""
    return _path_state(path).path


cdef Py_ssize_t _index_of(bytes key):
    cdef Py_ssize_t n = len(key), i, v = 0
    cdef const unsigned char* k = <const unsigned char*>PyBytes_AS_STRING(key)
    if n == 0 or n > 18 or (n > 1 and k[0] == 0x30):
        return -1
    for i in range(n):
        if not (0x30 <= k[i] <= 0x39):
            return -1
        v = v * 10 + (k[i] - 0x30)
    return v


cdef Py_ssize_t _check_depth(object depth) except -1:
    cdef Py_ssize_t d
    if PyLong_CheckExact(depth):  # the usual argument: a small int
        d = _as_ssize(depth)
        if d >= 0:
            return d
        if d == -1 and PyErr_Occurred():  # beyond Py_ssize_t: the checks below
            PyErr_Clear()
    if type(depth) is bool or not isinstance(depth, int):
        raise ExtractError(f"depth must be int, not {type(depth).__name__}")
    if depth < 0:
        raise ExtractError(f"depth must be >= 0, got {depth}")
    if depth > PY_SSIZE_T_MAX:
        return PY_SSIZE_T_MAX
    return depth


cdef int _buffer(object message, const char** buf, Py_ssize_t* n, bint prefetch=True) except -1:
    if PyBytes_Check(message):
        buf[0] = PyBytes_AS_STRING(message)
        n[0] = PyBytes_GET_SIZE(message)
        return 0
    if PyUnicode_Check(message):
        if PyUnicode_IS_COMPACT_ASCII(message):  # the usual frame: its data is the UTF-8
            buf[0] = <const char*>PyUnicode_DATA(message)
            n[0] = PyUnicode_GET_LENGTH(message)
            if prefetch:
                df_prefetch(<const unsigned char*>buf[0], n[0])
            return 0
        try:
            buf[0] = PyUnicode_AsUTF8AndSize(message, n)
        except UnicodeEncodeError as exc:
            raise ExtractError("message is not encodable as UTF-8 (lone surrogate)", exc.start) from None
        return 0
    raise ExtractError(f"message must be str or bytes, not {type(message).__name__}")


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


cdef Py_ssize_t extract_into(const char* buf, Py_ssize_t n, CompiledPath path, Py_ssize_t depth,
                             double* prices, double* qtys) except -1:
    cdef Ctx c
    cdef Sink s
    if depth < 0:
        raise ExtractError(f"depth must be >= 0, got {depth}")
    _ctx_init(&c, buf, n)
    _sink_init(&s, prices, qtys, depth)
    cdef Py_ssize_t got = _extract(&c, path, depth, &s, NULL)
    if got < 0:
        _raise(&c, path, None, buf)
    return got


cdef PyObject* _memo_msg = NULL       # the message of the last successful call (owned), when it can go on ...
cdef CompiledPath _memo_path = None   # ... its path ...
cdef Resume _memo                     # ... and where it stopped


cdef object _levels(object message, object path, object depth, bint with_stop):
    global _memo_msg, _memo_path, _memo
    cdef _PathState st = _path_state(path)
    cdef CompiledPath cp = st.path
    cdef Py_ssize_t d = _check_depth(depth)
    cdef const char* buf
    cdef Py_ssize_t n, got = -2, i
    # the same message as the last call, for a sibling path (the other side of the book): go on from there
    cdef PyObject* held = _memo_msg
    cdef bint again = held != NULL and held == <PyObject*>message
    _buffer(message, &buf, &n, not again)
    cdef double px[STACK_LEVELS]
    cdef double qx[STACK_LEVELS]
    cdef Ctx c
    cdef Sink s
    cdef Resume rec
    _ctx_init(&c, buf, n)
    _sink_init(&s, px, qx, STACK_LEVELS)
    if again and d > 0 and _siblings(_memo_path, cp):
        got = _resume(&c, cp, d, &s, &_memo)
        if got == -2:
            _ctx_init(&c, buf, n)
            s.n = 0
    # the memo is used once (a third side would start again), and only the last call's is kept
    _memo_msg = NULL
    _memo_path = None
    try:
        if got == -2:
            rec.nnames = -1
            got = _extract(&c, cp, d, &s, &rec)
            if got < 0:
                _raise(&c, cp, message, buf)
            if rec.nnames >= 0 and d > 0:
                Py_INCREF(message)
                _memo_msg = <PyObject*>message
                _memo_path = cp
                _memo = rec
        # the levels equal (bit for bit) to one the last call for this path returned are those very tuples
        # (immutable: sharing them is invisible); consecutive frames of a stream repeat most of their levels
        if got <= REUSE_MAX:
            out = _build_levels(s.px, s.qx, got, st.prev, st.nprev, st.ppx, st.pqx, True, True)
            _keep_prev(st, out, got)
        else:
            _drop_prev(st)
            out = PyList_New(got)
            for i in range(got):
                level = (s.px[i], s.qx[i])
                Py_INCREF(level)
                PyList_SET_ITEM(out, i, level)
    finally:
        if s.heap:
            PyMem_Free(s.px)
            PyMem_Free(s.qx)
        Py_XDECREF(held)
    if with_stop:
        return out, char_pos(message, <cptr>buf, c.stop - c.s.start)
    return out


def extract_levels(message, path, depth):
    """Read the first ``depth`` ``(price, qty)`` levels of the array at ``path``.

    See :func:`dragonfly._core.extract_py.extract_levels`, the reference, for the parameters,
    the result, the stop point and the errors.
    """
    return _levels(message, path, depth, False)


def _extract_with_stop(message, path, depth):
    """Like :func:`extract_levels`, also returning the stop offset (for tests)."""
    return _levels(message, path, depth, True)


cdef class TopExtractor:
    """Top-N change detector for snapshot feeds (Binance ``depth20``, Bitstamp ``order_book``).

    See :class:`dragonfly._core.extract_py.TopExtractor`, the reference, for the parameters
    and the behaviour. Here the levels live in C arrays; :attr:`bids` and :attr:`asks` build
    tuples only when read.
    """

    def __cinit__(self, bids_path, asks_path, depth):
        self._mem = NULL
        self._bids_path = CompiledPath(bids_path)
        self._asks_path = CompiledPath(asks_path)
        cdef Py_ssize_t d = _check_depth(depth)
        if d < 1 or d > MAX_TOP_DEPTH:
            raise ExtractError(f"depth must be in 1..{MAX_TOP_DEPTH}, got {depth}")
        self._depth = d
        self._joint_k = _joint_prefix(self._bids_path, self._asks_path)
        # current and scratch levels (8 arrays), then the values of the last views built (see _tuple_levels)
        self._mem = <double*>PyMem_Malloc(12 * d * sizeof(double))
        if self._mem == NULL:
            raise MemoryError()
        self.bid_px = self._mem
        self.bid_qty = self._mem + d
        self.ask_px = self._mem + 2 * d
        self.ask_qty = self._mem + 3 * d
        self._s_bid_px = self._mem + 4 * d
        self._s_bid_qty = self._mem + 5 * d
        self._s_ask_px = self._mem + 6 * d
        self._s_ask_qty = self._mem + 7 * d
        self.n_bids = 0
        self.n_asks = 0
        self._valid = False
        self._bids_cache = None
        self._asks_cache = None
        self._bids_prev = None
        self._asks_prev = None

    def __dealloc__(self):
        PyMem_Free(self._mem)

    cdef int update_buffer(self, const char* buf, Py_ssize_t n) except -1:
        cdef Ctx c
        return _top_outcome(self, &c, _top_run(self, &c, buf, n), None, buf)

    def update(self, message):
        """Extract both sides from ``message``; True when the levels changed (see
        :meth:`dragonfly._core.extract_py.TopExtractor.update`)."""
        cdef const char* buf
        cdef Py_ssize_t n
        cdef Ctx c
        _buffer(message, &buf, &n)
        return _top_outcome(self, &c, _top_run(self, &c, buf, n), message, buf) == 1

    def reset(self):
        """Forget the state: the next successful :meth:`update` returns True."""
        self.n_bids = 0
        self.n_asks = 0
        self._valid = False
        self._bids_cache = None
        self._asks_cache = None
        self._bids_prev = None
        self._asks_prev = None

    @property
    def bids(self):
        """Bid levels of the last successful update (``()`` before any)."""
        if self._bids_cache is None:
            if _sole_view(<PyObject*>self._bids_prev, self.n_bids):
                # the last view, held by nobody else: filled again rather than a new tuple built
                _refill(self._bids_prev, self.bid_px, self.bid_qty, self.n_bids,
                        self._mem + 8 * self._depth, self._mem + 9 * self._depth)
                self._bids_cache = self._bids_prev
            else:
                self._bids_cache = _tuple_levels(self.bid_px, self.bid_qty, self.n_bids, self._bids_prev,
                                                 self._mem + 8 * self._depth, self._mem + 9 * self._depth)
                self._bids_prev = self._bids_cache
        return self._bids_cache

    @property
    def asks(self):
        """Ask levels of the last successful update (``()`` before any)."""
        if self._asks_cache is None:
            if _sole_view(<PyObject*>self._asks_prev, self.n_asks):
                # the last view, held by nobody else: filled again rather than a new tuple built
                _refill(self._asks_prev, self.ask_px, self.ask_qty, self.n_asks,
                        self._mem + 10 * self._depth, self._mem + 11 * self._depth)
                self._asks_cache = self._asks_prev
            else:
                self._asks_cache = _tuple_levels(self.ask_px, self.ask_qty, self.n_asks, self._asks_prev,
                                                 self._mem + 10 * self._depth, self._mem + 11 * self._depth)
                self._asks_prev = self._asks_cache
        return self._asks_cache

    @property
    def depth(self):
        """Levels kept per side."""
        return self._depth

    @property
    def bids_path(self):
        """The bid path as given."""
        return self._bids_path.path

    @property
    def asks_path(self):
        """The ask path as given."""
        return self._asks_path.path

    def __repr__(self):
        return (f"TopExtractor(bids_path={self._bids_path.path!r}, "
                f"asks_path={self._asks_path.path!r}, depth={self._depth})")


DEF JOINT_MAX_STEPS = 64


cdef cptr _side(Ctx* x, cptr p, CompiledPath path, Py_ssize_t first, Py_ssize_t depth, Sink* s,
                bint finish, unsigned char* kinds, unsigned char* stack) noexcept:
    """Follow ``path.steps[first:]`` from the value at ``p`` and read the levels (depth >= 1).
    With ``finish``, also skip the rest of the value at ``p`` and return its end."""
    cdef bint closed
    cdef Py_ssize_t i, top = 0
    p = _navigate_range(x, p, path, first, path.nsteps, kinds, NULL)
    if p == NULL:
        return NULL
    p = _levels_at(&x.s, p, depth, s, &closed)
    if p == NULL or not finish:
        return p
    for i in range(first, path.nsteps):
        stack[top] = kinds[i]
        top += 1
    if not closed:
        stack[top] = 0
        top += 1
    if top == 0:
        return p
    return _skip_nested(&x.s, p, stack, top, True)


cdef int _top_joint(TopExtractor self, Ctx* x, Sink* sb, Sink* sa) noexcept:
    """Both sides in one pass over the shared prefix of the two paths.

    Returns 0 on success. On any failure returns -1 and the caller re-runs the two
    independent extractions, which define the result and the error reported. On success
    the levels equal what the two extractions give: same scanner, and the input examined
    is the same (the side met first is finished -- skipped to its end -- exactly as the
    other side's extraction would skip it)."""
    cdef CompiledPath A = self._bids_path
    cdef CompiledPath B = self._asks_path
    cdef Py_ssize_t k = self._joint_k, depth = self._depth, i = 0
    cdef PathStep* sta = &A.steps[k]
    cdef PathStep* stb = &B.steps[k]
    cdef unsigned char kinds[JOINT_MAX_STEPS]
    cdef unsigned char stack[C_MAX_NESTING]
    cdef Scan* c = &x.s
    cdef cptr e = c.end
    cdef cptr name[2]
    cdef bint got_a = False, got_b = False, hit_a, hit_b, is_obj
    cdef cptr p = _navigate_range(x, skip_ws(c.start, e), A, 0, k, NULL, NULL)
    if p == NULL or p >= e or (p[0] != 0x7B and p[0] != 0x5B):
        return -1
    is_obj = p[0] == 0x7B
    if not is_obj and (sta.index < 0 or stb.index < 0):
        return -1
    p = skip_ws(p + 1, e)
    while True:
        if is_obj:
            p = _member(c, p, name)
            if p == NULL:
                return -1
            hit_a = not got_a and _key_equals(name[0], name[1], sta.key, sta.keylen)
            hit_b = not got_b and not hit_a and _key_equals(name[0], name[1], stb.key, stb.keylen)
        else:
            hit_a = i == sta.index
            hit_b = i == stb.index
        if hit_a:
            p = _side(x, p, A, k + 1, depth, sb, not got_b, kinds, stack)
            got_a = True
        elif hit_b:
            p = _side(x, p, B, k + 1, depth, sa, not got_a, kinds, stack)
            got_b = True
        else:
            p = _skip_value(c, p)
        if p == NULL:
            return -1
        if got_a and got_b:
            x.stop = p
            return 0
        p = skip_ws(p, e)
        if p >= e or p[0] != 0x2C:
            return -1
        p = skip_ws(p + 1, e)
        i += 1


cdef int _top_run(TopExtractor self, Ctx* c, const char* buf, Py_ssize_t n) noexcept:
    """Parse into the scratch arrays and commit: 0 the same levels, else 1 with 2 (the bids changed) and 4 (the
    asks changed) set; -1/-2 a bids/asks error (``c``)."""
    cdef Sink sb, sa
    cdef Py_ssize_t nb, na
    _sink_init(&sb, self._s_bid_px, self._s_bid_qty, self._depth)
    _sink_init(&sa, self._s_ask_px, self._s_ask_qty, self._depth)
    _ctx_init(c, buf, n)
    if self._joint_k >= 0 and _top_joint(self, c, &sb, &sa) == 0:
        nb = sb.n
        na = sa.n
    else:
        # the reference behaviour: two independent extractions
        sb.n = 0
        sa.n = 0
        _ctx_init(c, buf, n)
        nb = _extract(c, self._bids_path, self._depth, &sb, NULL)
        if nb < 0:
            return -1
        _ctx_init(c, buf, n)
        na = _extract(c, self._asks_path, self._depth, &sa, NULL)
        if na < 0:
            return -2
    cdef bint bids_changed = (not self._valid or nb != self.n_bids
                              or not _same_bits(self._s_bid_px, self.bid_px, self._s_bid_qty, self.bid_qty, nb))
    cdef bint asks_changed = (not self._valid or na != self.n_asks
                              or not _same_bits(self._s_ask_px, self.ask_px, self._s_ask_qty, self.ask_qty, na))
    if bids_changed or asks_changed:
        # both sides swap: the scratch of an unchanged side holds the same values
        self._s_bid_px, self.bid_px = self.bid_px, self._s_bid_px
        self._s_bid_qty, self.bid_qty = self.bid_qty, self._s_bid_qty
        self._s_ask_px, self.ask_px = self.ask_px, self._s_ask_px
        self._s_ask_qty, self.ask_qty = self.ask_qty, self._s_ask_qty
        self.n_bids = nb
        self.n_asks = na
        self._valid = True
        return 1 | (2 if bids_changed else 0) | (4 if asks_changed else 0)
    return 0


cdef inline bint _same_bits(double* a, double* b, double* c, double* d, Py_ssize_t n) noexcept:
    """``a[0:n]`` and ``b[0:n]``, and ``c[0:n]`` and ``d[0:n]``, are equal bit for bit."""
    cdef Py_ssize_t i
    cdef uint64_t diff = 0
    for i in range(n):
        diff |= ((<uint64_t*>a)[i] ^ (<uint64_t*>b)[i]) | ((<uint64_t*>c)[i] ^ (<uint64_t*>d)[i])
    return diff == 0


cdef int _top_outcome(TopExtractor self, Ctx* c, int rc, object message, const char* buf) except -1:
    """Take the outcome ``rc`` of :func:`_top_run`: raise its error (``pos`` in ``message``, or in
    bytes without one), or drop the cached tuples of the sides that changed; return 1 (changed) or 0."""
    if rc < 0:
        _raise(c, self._bids_path if rc == -1 else self._asks_path, message, buf)
    if rc == 0:
        return 0
    if rc & 2:
        self._bids_cache = None
    if rc & 4:
        self._asks_cache = None
    return 1


cdef Py_ssize_t _joint_prefix(CompiledPath a, CompiledPath b):
    """Length of the shared prefix of two paths when one pass can serve both, else -1."""
    cdef Py_ssize_t k = 0
    if a.nsteps > JOINT_MAX_STEPS or b.nsteps > JOINT_MAX_STEPS:
        return -1
    while k < a.nsteps and k < b.nsteps:
        if not _same_step(&a.steps[k], &b.steps[k]):
            return k
        k += 1
    return -1  # equal paths, or one a prefix of the other


DEF REUSE_WINDOW = 4


cdef inline bint _same_double(double a, double b) noexcept:
    """Bit-identical (``-0.0`` differs from ``0.0``; values here are finite)."""
    return memcmp(&a, &b, sizeof(double)) == 0


cdef inline int _match(PyObject** prev, double* ppx, double* pqx, Py_ssize_t j, double p, double q,
                       PyObject** found) noexcept:
    """Compare level ``j`` of ``prev`` (its values are ``ppx[j]``, ``pqx[j]``) with ``(p, q)``: 2
    (``found``: that level), 1 (``found``: its price float) or 0."""
    if not _same_double(ppx[j], p):
        return 0
    cdef PyObject* old = prev[j]
    if _same_double(pqx[j], q):
        found[0] = old
        return 2
    found[0] = PyTuple_GET_ITEM(<object>old, 0)
    return 1


cdef inline bint _sole_view(PyObject* view, Py_ssize_t n) noexcept:
    """``view`` (a ``TopExtractor``'s last view of a side, or None) is a tuple of ``n`` levels, at least one,
    at most REUSE_MAX, whose only reference is the extractor's."""
    return (n > 0 and n <= REUSE_MAX and df_refcnt(view) == 1 and PyTuple_CheckExact(<object>view)
            and PyTuple_GET_SIZE(<object>view) == n)


cdef inline tuple _tuple_levels(double* px, double* qx, Py_ssize_t n, object prev, double* ppx, double* pqx):
    """:func:`_build_levels` as a tuple, lending the levels of ``prev`` (None, or a tuple built here before)."""
    if prev is None:
        return <tuple>_build_levels(px, qx, n, NULL, 0, ppx, pqx, False, False)
    return <tuple>_build_levels(px, qx, n, PySequence_Fast_ITEMS(prev), PyTuple_GET_SIZE(prev), ppx, pqx, False,
                                False)


cdef object _build_levels(double* px, double* qx, Py_ssize_t n, PyObject** prev, Py_ssize_t m, double* ppx,
                          double* pqx, bint as_list, bint recycle):
    """The levels as a tuple (a list with ``as_list``) of ``(price, qty)`` tuples (see :func:`_fill_levels`,
    and its ``recycle``)."""
    cdef object out = PyList_New(n) if as_list else PyTuple_New(n)
    _fill_levels(px, qx, n, prev, m, ppx, pqx, PySequence_Fast_ITEMS(out), recycle)
    return out


cdef int _refill(tuple view, double* px, double* qx, Py_ssize_t n, double* ppx, double* pqx) except -1:
    """Put the levels in ``view``, a tuple of ``n`` (<= REUSE_MAX) levels built here before, in place of its
    own, lending them as :func:`_fill_levels` does. Only for a tuple nobody else holds (its one reference is
    the caller's): nothing can tell it from a new tuple, and no tuple is allocated and freed."""
    cdef PyObject* tmp[REUSE_MAX]
    cdef PyObject** items = PySequence_Fast_ITEMS(view)
    cdef PyObject* old
    cdef Py_ssize_t i
    _fill_levels(px, qx, n, items, n, ppx, pqx, tmp, True)
    for i in range(n):
        old = items[i]
        items[i] = tmp[i]
        Py_XDECREF(old)
    return 0


cdef int _fill_levels(double* px, double* qx, Py_ssize_t n, PyObject** prev, Py_ssize_t m, double* ppx,
                      double* pqx, PyObject** items, bint recycle) except -1:
    """Store ``n`` ``(price, qty)`` tuples (new references) in ``items``.

    ``prev[0:m]`` (borrowed; levels built here before) lend their objects: a level equal to one of them (bit
    for bit, searched near the expected index) is that very tuple, and a level whose price equals one of
    theirs shares that price float. On a depth stream most of the top N is unchanged from one frame to the
    next, so most levels cost no allocation. Floats and tuples are immutable, so sharing them is invisible
    to the caller (equality, hashing and values are the same). ``ppx`` and ``pqx`` hold the values of
    ``prev`` (compared there, not in the float objects); they receive those of the result (room for ``n``).

    With ``recycle`` the container holding ``prev`` is the caller's alone (a C array, or a view nobody else
    holds): a level of ``prev`` that no new level matched and that nothing else references (one reference:
    that container's) is filled with a new level's values rather than freed while a new tuple is allocated,
    and so is each of its floats that only it references. Nothing can see those objects, so nothing can tell
    them from new ones; a stream's changed levels then cost no allocation either.
    """
    cdef Py_ssize_t i, j, j0, lo, hi, hint = 0, r = 0
    cdef int kind
    cdef PyObject* found = NULL
    cdef PyObject* t
    cdef PyObject* price_of[REUSE_MAX]   # kind 1: the lent price float (a new reference), else NULL
    cdef uint64_t taken = 0              # the levels of prev lent whole, or recycled (bit j; m <= 64 here)
    cdef double p, q
    recycle = recycle and m <= REUSE_MAX and n <= REUSE_MAX
    # pass 1: the levels equal to one of prev (lent whole), and the prices lent; without recycling, the
    # other levels built here too
    for i in range(n):
        p = px[i]
        q = qx[i]
        kind = 0
        if m:
            # the expected index first (the previous level's shift kept), then a small window around it
            j0 = hint if hint < m else m - 1
            j = j0
            kind = _match(prev, ppx, pqx, j0, p, q, &found)
            if kind:
                hint = j0 + 1
            else:
                lo = j0 - REUSE_WINDOW if j0 > REUSE_WINDOW else 0
                hi = j0 + REUSE_WINDOW + 1 if j0 + REUSE_WINDOW + 1 < m else m
                for j in range(lo, hi):
                    if j != j0:
                        kind = _match(prev, ppx, pqx, j, p, q, &found)
                        if kind:
                            hint = j + 1
                            break
                if not kind:
                    hint += 1
        if kind == 2:
            Py_INCREF(<object>found)
            items[i] = found
            if recycle:
                taken |= (<uint64_t>1) << j
            continue
        if recycle:
            items[i] = NULL
            if kind == 1:
                Py_INCREF(<object>found)   # held from here: a float two levels share is never rewritten
                price_of[i] = found
            else:
                price_of[i] = NULL
            continue
        items[i] = _new_level(p, q, found if kind == 1 else NULL)
    if not recycle:
        memcpy(ppx, px, n * sizeof(double))
        memcpy(pqx, qx, n * sizeof(double))
        return 0
    # pass 2: the other levels, in recycled tuples while there are some, else in new ones
    for i in range(n):
        if items[i] != NULL:
            continue
        t = NULL
        while r < m:
            if not (taken >> r) & 1 and df_refcnt(prev[r]) == 1:
                t = prev[r]
                r += 1
                break
            r += 1
        if t == NULL:
            items[i] = _new_level(px[i], qx[i], price_of[i])
            Py_XDECREF(price_of[i])
            continue
        Py_INCREF(<object>t)
        if price_of[i] != NULL:
            _set_item(t, 0, price_of[i])   # the reference taken in pass 1
        else:
            _set_float(t, 0, px[i])
        _set_float(t, 1, qx[i])
        items[i] = t
    memcpy(ppx, px, n * sizeof(double))
    memcpy(pqx, qx, n * sizeof(double))
    return 0


cdef PyObject* _new_level(double p, double q, PyObject* price) except NULL:
    """A new ``(p, q)`` tuple (a new reference), with ``price`` (borrowed) as its price float when given."""
    level = PyTuple_New(2)
    if price != NULL:
        Py_INCREF(<object>price)
        PyTuple_SET_ITEM(level, 0, <object>price)
    else:
        f = PyFloat_FromDouble(p)
        Py_INCREF(f)
        PyTuple_SET_ITEM(level, 0, f)
    f = PyFloat_FromDouble(q)
    Py_INCREF(f)
    PyTuple_SET_ITEM(level, 1, f)
    Py_INCREF(level)
    return <PyObject*>level


cdef inline void _set_item(PyObject* t, Py_ssize_t k, PyObject* v) noexcept:
    """Item ``k`` of the tuple ``t`` (nobody else's) becomes ``v`` (a reference given)."""
    cdef PyObject** slot = &PySequence_Fast_ITEMS(<object>t)[k]
    cdef PyObject* old = slot[0]
    slot[0] = v
    Py_XDECREF(old)


cdef int _set_float(PyObject* t, Py_ssize_t k, double v) except -1:
    """Item ``k`` of the tuple ``t`` (nobody else's) becomes a float of value ``v``: its float itself,
    rewritten, when that one is referenced by ``t`` alone."""
    cdef PyObject* old = PySequence_Fast_ITEMS(<object>t)[k]
    if old != NULL and df_refcnt(old) == 1 and PyFloat_CheckExact(<object>old):
        df_set_fval(old, v)
        return 0
    f = PyFloat_FromDouble(v)
    Py_INCREF(f)
    _set_item(t, k, <PyObject*>f)
    return 0
