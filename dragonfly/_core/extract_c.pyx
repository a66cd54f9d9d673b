# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Partial-frame JSON extraction of the top N ``[price, qty]`` levels (compiled twin).

Behaves exactly like :mod:`dragonfly._core.extract_py` (the reference, where the
semantics are documented): same results, same exception, message and ``pos``. The
scanner works on raw bytes with pointer arithmetic, never reads past the end of the
buffer (``buf[n]`` included) and creates no Python object on the success path except
the returned levels.

Speed notes: 8-byte SWAR scans for string bodies and digit runs (little-endian targets;
elsewhere a byte loop), Clinger's exact fast path for decimals with at most 2**53 as
mantissa and a power of ten up to 1e22 (correctly rounded, so identical to ``float()``;
``_Py_dg_strtod`` through ``PyOS_string_to_double`` otherwise), and a one-pass
``TopExtractor`` when the two paths share a prefix (the side met first is read, then
skipped to its end). Whenever that one pass fails, the two independent extractions run
and define the outcome, so results and errors are those of two ``extract_levels`` calls.

Cython modules can ``cimport`` :class:`CompiledPath`, :func:`extract_into` and
:class:`TopExtractor` (``update_buffer``, and the ``bid_px``/``bid_qty``/``ask_px``/
``ask_qty`` arrays with ``n_bids``/``n_asks``); see ``extract_c.pxd``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_Check
from libc.math cimport isfinite
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy

from ..errors import ExtractError

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_ASCII(object unicode)
    bint PyUnicode_IS_COMPACT_ASCII(object unicode)
    void* PyUnicode_DATA(object unicode)
    Py_ssize_t PyUnicode_GET_LENGTH(object unicode)
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()
    Py_ssize_t PY_SSIZE_T_MAX

cdef extern from *:
    """
    #include <float.h>
    #include <stdint.h>
    #include <string.h>

    #if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #  define DF_SWAR 1
    #elif defined(_M_X64) || defined(_M_IX86) || defined(_M_ARM64)
    #  define DF_SWAR 1
    #else
    #  define DF_SWAR 0
    #endif

    /* m * 10^k and m / 10^k with m <= 2^53 and k <= 22 are exact operands, so one IEEE
       operation gives the correctly rounded result (Clinger's fast path) -- provided
       doubles are evaluated in double precision. */
    #if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    #  define DF_FAST_FLOAT 1
    #else
    #  define DF_FAST_FLOAT 0
    #endif

    static const double df_pow10[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

    static inline uint64_t df_load8(const unsigned char* p) {
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
    }

    /* Nonzero when any byte of x is < 0x20, '"', '\\\\' or >= 0x80. */
    static inline uint64_t df_special8(uint64_t x) {
        const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
        uint64_t q = x ^ (ones * 0x22), s = x ^ (ones * 0x5C);
        return (x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((s - ones) & ~s)) & high;
    }

    /* Index of the lowest set bit (x != 0). */
    #if defined(_MSC_VER) && !defined(__clang__)
    #  include <intrin.h>
    #endif
    static inline int df_ctz64(uint64_t x) {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctzll(x);
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
        unsigned long i;
        _BitScanForward64(&i, x);
        return (int)i;
    #else
        int n = 0;
        while (!(x & 1)) { x >>= 1; n++; }
        return n;
    #endif
    }

    /* All eight bytes are ASCII digits. */
    static inline int df_digits8(uint64_t x) {
        return (((x & 0xF0F0F0F0F0F0F0F0ULL) |
                 (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL);
    }

    /* Number of leading ASCII digits among the eight bytes (little-endian load), 0..8.
       The lowest flagged byte is exact: a carry only leaves a byte that is >= 0x80. */
    static inline int df_digit_run8(uint64_t x) {
        uint64_t a = x ^ 0x3030303030303030ULL;
        uint64_t m = ((a + 0x7676767676767676ULL) | a) & 0x8080808080808080ULL;
        return m ? (df_ctz64(m) >> 3) : 8;
    }

    static const uint64_t df_pow10_u64[9] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL};

    /* Value of eight ASCII digits loaded little-endian (first digit in the low byte). */
    static inline uint32_t df_value8(uint64_t x) {
        const uint64_t mask = 0x000000FF000000FFULL;
        const uint64_t mul1 = 100ULL + (1000000ULL << 32);
        const uint64_t mul2 = 1ULL + (10000ULL << 32);
        x -= 0x3030303030303030ULL;
        x = (x * 10) + (x >> 8);
        x = (((x & mask) * mul1) + (((x >> 16) & mask) * mul2)) >> 32;
        return (uint32_t)x;
    }

    /* Value of the first k (1..8) ASCII digits of x (little-endian load). */
    static inline uint32_t df_value_k(uint64_t x, int k) {
        if (k < 8)
            x = (x << (8 * (8 - k))) | (0x3030303030303030ULL >> (8 * k));
        return df_value8(x);
    }
    """
    int DF_SWAR
    int DF_FAST_FLOAT
    const double* df_pow10
    uint64_t df_load8(const unsigned char* p) noexcept nogil
    uint64_t df_special8(uint64_t x) noexcept nogil
    int df_ctz64(uint64_t x) noexcept nogil
    int df_digits8(uint64_t x) noexcept nogil
    uint32_t df_value8(uint64_t x) noexcept nogil
    int df_digit_run8(uint64_t x) noexcept nogil
    uint32_t df_value_k(uint64_t x, int k) noexcept nogil
    const uint64_t* df_pow10_u64

__all__ = ("extract_levels", "TopExtractor", "MAX_NESTING", "MAX_TOP_DEPTH")

#: Deepest nesting of containers accepted inside a value that is skipped.
MAX_NESTING = 1024
#: Largest ``depth`` a :class:`TopExtractor` accepts.
MAX_TOP_DEPTH = 100_000
DEF C_MAX_NESTING = 1024
DEF STACK_LEVELS = 64
DEF MAX_EXP = 100000000

ctypedef const unsigned char* cptr

cdef enum:
    E_OK = 0
    E_EOF
    E_CHAR
    E_CTRL
    E_ESCAPE
    E_UTF8
    E_NUMBER
    E_LITERAL
    E_KEY
    E_COLON
    E_OBJ_SEP
    E_ARR_SEP
    E_NESTING
    E_LEVELS
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

# Same strings as the reference twin, in E_* order.
cdef tuple _MESSAGES = (
    "",
    "unexpected end of input",
    "unexpected character",
    "control character in string",
    "invalid escape in string",
    "invalid UTF-8 in string",
    "invalid number",
    "invalid literal",
    "expected string key",
    "expected ':'",
    "expected ',' or '}'",
    "expected ',' or ']'",
    "nesting too deep",
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

# Byte classes.
cdef unsigned char C_WS = 1        # JSON whitespace
cdef unsigned char C_DIGIT = 2
cdef unsigned char C_HEX = 4
cdef unsigned char C_ESC = 8       # the character after a backslash in a two-character escape
cdef unsigned char C_PLAIN = 16    # needs no attention inside a string
cdef unsigned char _cls[256]


cdef void _init_classes() noexcept:
    cdef int i
    for i in range(256):
        _cls[i] = 0
        if 0x20 <= i < 0x80 and i != 0x22 and i != 0x5C:
            _cls[i] |= C_PLAIN
    for i in b" \t\n\r":
        _cls[i] |= C_WS
    for i in b"0123456789":
        _cls[i] |= C_DIGIT | C_HEX
    for i in b"abcdefABCDEF":
        _cls[i] |= C_HEX
    for i in b'"\\/bfnrt':
        _cls[i] |= C_ESC


_init_classes()


cdef struct Ctx:
    const unsigned char* start
    const unsigned char* end
    int err
    Py_ssize_t pos
    Py_ssize_t step
    const unsigned char* stop


cdef struct Sink:
    double* px
    double* qx
    Py_ssize_t cap
    Py_ssize_t n
    bint heap      # px/qx were allocated here and may be reallocated


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


cdef inline cptr _fail(Ctx* c, int err, cptr at) noexcept:
    c.err = err
    c.pos = at - c.start
    return NULL


cdef inline cptr _eof(Ctx* c) noexcept:
    c.err = E_EOF
    c.pos = c.end - c.start
    return NULL


cdef Py_ssize_t _char_pos(object message, const char* buf, Py_ssize_t pos):
    """Byte offset -> offset in ``message`` (characters for ``str``)."""
    cdef Py_ssize_t i, count = 0
    cdef unsigned char b
    if not PyUnicode_Check(message) or PyUnicode_IS_ASCII(message):
        return pos
    for i in range(pos):
        b = <unsigned char>buf[i]
        if b < 0x80 or b > 0xBF:
            count += 1
    return count


cdef int _raise(Ctx* c, CompiledPath path, object message, const char* buf) except -1:
    if c.err == E_MEMORY:
        raise MemoryError()
    cdef Py_ssize_t pos = c.pos
    if message is not None:
        pos = _char_pos(message, buf, pos)
    if c.err == E_NOTFOUND:
        text = f"path {path.path!r}: {path._keys[c.step]!r} not found"
    else:
        text = _MESSAGES[c.err]
    raise ExtractError(text, pos)


# ---------------------------------------------------------------------------------------
# Scanning primitives
# ---------------------------------------------------------------------------------------


cdef inline cptr _ws(cptr p, cptr e) noexcept:
    if p < e and p[0] > 0x20:  # the usual case: no whitespace at all
        return p
    while p < e and (_cls[p[0]] & C_WS):
        p += 1
    return p


cdef cptr _utf8_seq(Ctx* c, cptr p) noexcept:
    cdef cptr e = c.end
    cdef unsigned char ch = p[0], d
    cdef int need, k
    cdef unsigned char lo, hi
    if 0xC2 <= ch <= 0xDF:
        need = 1; lo = 0x80; hi = 0xBF
    elif ch == 0xE0:
        need = 2; lo = 0xA0; hi = 0xBF
    elif (0xE1 <= ch <= 0xEC) or (0xEE <= ch <= 0xEF):
        need = 2; lo = 0x80; hi = 0xBF
    elif ch == 0xED:
        need = 2; lo = 0x80; hi = 0x9F
    elif ch == 0xF0:
        need = 3; lo = 0x90; hi = 0xBF
    elif 0xF1 <= ch <= 0xF3:
        need = 3; lo = 0x80; hi = 0xBF
    elif ch == 0xF4:
        need = 3; lo = 0x80; hi = 0x8F
    else:
        return _fail(c, E_UTF8, p)
    for k in range(1, need + 1):
        if p + k >= e:
            return _eof(c)
        d = p[k]
        if k == 1:
            if d < lo or d > hi:
                return _fail(c, E_UTF8, p)
        elif d < 0x80 or d > 0xBF:
            return _fail(c, E_UTF8, p)
    return p + need + 1


cdef inline cptr _scan_plain(cptr p, cptr e) noexcept:
    """Advance over string bytes that need no attention."""
    cdef uint64_t m
    if DF_SWAR:
        while e - p >= 8:
            m = df_special8(df_load8(p))
            if m:
                # the lowest flagged byte is exact (borrows only propagate upwards)
                return p + (df_ctz64(m) >> 3)
            p += 8
    while p < e and (_cls[p[0]] & C_PLAIN):
        p += 1
    return p


cdef cptr _skip_string(Ctx* c, cptr p) noexcept:
    """``p`` is at the opening quote; return the position after the closing quote."""
    cdef cptr e = c.end
    cdef unsigned char ch
    cdef int k
    p += 1
    while True:
        p = _scan_plain(p, e)
        if p >= e:
            return _eof(c)
        ch = p[0]
        if ch == 0x22:
            return p + 1
        if ch == 0x5C:
            if p + 1 >= e:
                return _eof(c)
            ch = p[1]
            if ch == 0x75:
                for k in range(2, 6):
                    if p + k >= e:
                        return _eof(c)
                    if not (_cls[p[k]] & C_HEX):
                        return _fail(c, E_ESCAPE, p)
                p += 6
            elif _cls[ch] & C_ESC:
                p += 2
            else:
                return _fail(c, E_ESCAPE, p)
        elif ch < 0x20:
            return _fail(c, E_CTRL, p)
        else:
            p = _utf8_seq(c, p)
            if p == NULL:
                return NULL


cdef inline cptr _skip_short_string(Ctx* c, cptr p) noexcept:
    """``_skip_string`` with an inline fast path for plain strings of up to 15 bytes."""
    cdef uint64_t m
    cdef int k
    if DF_SWAR and c.end - p >= 17:
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
    return _skip_string(c, p)


cdef inline unsigned int _hexval(cptr p) noexcept:
    cdef unsigned int v = 0
    cdef int k
    cdef unsigned char ch
    for k in range(4):
        ch = p[k]
        if ch <= 0x39:
            v = (v << 4) | (ch - 0x30)
        elif ch <= 0x46:
            v = (v << 4) | (ch - 0x37)
        else:
            v = (v << 4) | (ch - 0x57)
    return v


cdef bint _escaped_equals(cptr s, cptr t, const char* key, Py_ssize_t klen) noexcept:
    """Compare the validated string body ``[s, t)`` (with escapes) with UTF-8 ``key``."""
    cdef Py_ssize_t ki = 0
    cdef unsigned char ch
    cdef unsigned char enc[4]
    cdef int elen, k
    cdef unsigned int cp, lo
    while s < t:
        ch = s[0]
        if ch != 0x5C:
            if ki >= klen or <unsigned char>key[ki] != ch:
                return False
            ki += 1
            s += 1
            continue
        ch = s[1]
        if ch != 0x75:
            if ch == 0x62:
                ch = 0x08
            elif ch == 0x66:
                ch = 0x0C
            elif ch == 0x6E:
                ch = 0x0A
            elif ch == 0x72:
                ch = 0x0D
            elif ch == 0x74:
                ch = 0x09
            if ki >= klen or <unsigned char>key[ki] != ch:
                return False
            ki += 1
            s += 2
            continue
        cp = _hexval(s + 2)
        s += 6
        if 0xD800 <= cp <= 0xDBFF and t - s >= 6 and s[0] == 0x5C and s[1] == 0x75:
            lo = _hexval(s + 2)
            if 0xDC00 <= lo <= 0xDFFF:
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                s += 6
        if 0xD800 <= cp <= 0xDFFF:
            return False
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


cdef inline bint _key_equals(cptr s, cptr t, bint escaped, const char* key, Py_ssize_t klen) noexcept:
    """The validated string body ``[s, t)`` decodes to the UTF-8 bytes ``key``."""
    if not escaped:
        return (t - s) == klen and memcmp(s, key, klen) == 0
    return _escaped_equals(s, t, key, klen)


cdef cptr _match_key(Ctx* c, cptr p, const char* key, Py_ssize_t klen, bint* hit) noexcept:
    """Validate the string at ``p`` and compare its decoded UTF-8 with ``key``."""
    cdef cptr r = _skip_string(c, p)
    if r == NULL:
        return NULL
    cdef cptr s = p + 1
    hit[0] = _key_equals(s, r - 1, memchr(s, 0x5C, (r - 1) - s) != NULL, key, klen)
    return r


cdef cptr _skip_number(Ctx* c, cptr p, bint* integer) noexcept:
    cdef cptr e = c.end
    cdef unsigned char ch
    if p[0] == 0x2D:
        p += 1
    if p >= e:
        return _eof(c)
    ch = p[0]
    if ch == 0x30:
        p += 1
    elif 0x31 <= ch <= 0x39:
        p += 1
        while p < e and (_cls[p[0]] & C_DIGIT):
            p += 1
    else:
        return _fail(c, E_NUMBER, p)
    integer[0] = True
    if p < e and p[0] == 0x2E:
        integer[0] = False
        p += 1
        if p >= e:
            return _eof(c)
        if not (_cls[p[0]] & C_DIGIT):
            return _fail(c, E_NUMBER, p)
        while p < e and (_cls[p[0]] & C_DIGIT):
            p += 1
    if p < e and (p[0] == 0x65 or p[0] == 0x45):
        integer[0] = False
        p += 1
        if p < e and (p[0] == 0x2B or p[0] == 0x2D):
            p += 1
        if p >= e:
            return _eof(c)
        if not (_cls[p[0]] & C_DIGIT):
            return _fail(c, E_NUMBER, p)
        while p < e and (_cls[p[0]] & C_DIGIT):
            p += 1
    return p


cdef cptr _skip_literal(Ctx* c, cptr p) noexcept:
    cdef const char* lit
    cdef int k, n
    if p[0] == 0x74:
        lit = b"true"; n = 4
    elif p[0] == 0x66:
        lit = b"false"; n = 5
    else:
        lit = b"null"; n = 4
    for k in range(n):
        if p + k >= c.end:
            return _eof(c)
        if p[k] != <unsigned char>lit[k]:
            return _fail(c, E_LITERAL, p)
    return p + n


cdef inline cptr _key_colon(Ctx* c, cptr p) noexcept:
    cdef cptr e = c.end
    if p >= e:
        return _eof(c)
    if p[0] != 0x22:
        return _fail(c, E_KEY, p)
    p = _skip_string(c, p)
    if p == NULL:
        return NULL
    p = _ws(p, e)
    if p >= e:
        return _eof(c)
    if p[0] != 0x3A:
        return _fail(c, E_COLON, p)
    return _ws(p + 1, e)


cdef cptr _skip_nested(Ctx* c, cptr p, unsigned char* stack, Py_ssize_t top, bint after) noexcept:
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
                return _eof(c)
            ch = p[0]
            if ch == 0x5B and top < C_MAX_NESTING and e - p > 1 and p[1] == 0x22:
                # fast path for a level entry ["price","qty"]; anything else (and any
                # error) is left to the general loop below, from the same position
                r = _skip_short_string(c, p + 1)
                if r != NULL and e - r > 1 and r[0] == 0x2C and r[1] == 0x22:
                    r = _skip_short_string(c, r + 1)
                    if r != NULL and r < e and r[0] == 0x5D:
                        p = r + 1
                        after = True
                        continue
                c.err = E_OK
            if ch == 0x7B or ch == 0x5B:
                if top >= C_MAX_NESTING:
                    return _fail(c, E_NESTING, p)
                is_obj = ch == 0x7B
                p = _ws(p + 1, e)
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
            elif ch == 0x2D or (0x30 <= ch <= 0x39):
                p = _skip_number(c, p, &integer)
            elif ch == 0x74 or ch == 0x66 or ch == 0x6E:
                p = _skip_literal(c, p)
            else:
                return _fail(c, E_CHAR, p)
            if p == NULL:
                return NULL
        after = False
        # after a complete value
        while True:
            if top == 0:
                return p
            p = _ws(p, e)
            if p >= e:
                return _eof(c)
            ch = p[0]
            is_obj = stack[top - 1]
            if ch == 0x2C:
                p = _ws(p + 1, e)
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
            return _fail(c, E_OBJ_SEP if is_obj else E_ARR_SEP, p)


cdef inline cptr _skip_value(Ctx* c, cptr p) noexcept:
    """Validate the JSON value at ``p`` (no leading whitespace); return its end."""
    cdef unsigned char stack[C_MAX_NESTING]
    return _skip_nested(c, p, stack, 0, False)


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------


cdef inline cptr _acc_digits(cptr q, cptr e, uint64_t* m, int* nd, bint* slow) noexcept:
    """Consume ``[0-9]*``, accumulating at most 19 significant digits into ``m``."""
    cdef uint64_t mm = m[0]
    cdef int n = nd[0], k
    cdef uint64_t x
    cdef unsigned int d
    if DF_SWAR:
        # up to eight digits per step; n may over-count leading zeros (then the exact
        # slow path is taken sooner, never a wrong value): mm < 10**n <= 10**19 < 2**64
        while e - q >= 8:
            x = df_load8(q)
            k = df_digit_run8(x)
            if k == 0 or n + k > 19:
                break
            mm = mm * df_pow10_u64[k] + df_value_k(x, k)
            n = n + k if mm != 0 else 0
            q += k
            if k < 8:
                m[0] = mm
                nd[0] = n
                return q
    while q < e:
        d = <unsigned int>q[0] - 0x30
        if d > 9:
            break
        if n < 19:
            mm = mm * 10 + d
            if mm != 0:
                n += 1
        else:
            slow[0] = True
        q += 1
    m[0] = mm
    nd[0] = n
    return q


cdef inline cptr _acc_exp(cptr q, cptr e, long* ex) noexcept:
    cdef long v = 0
    cdef unsigned int d
    while q < e:
        d = <unsigned int>q[0] - 0x30
        if d > 9:
            break
        if v < MAX_EXP:
            v = v * 10 + d
        q += 1
    ex[0] = v
    return q


cdef int _slow_convert(cptr s, Py_ssize_t n, double* out) noexcept:
    """``float(text)`` on the validated token ``[s, s+n)`` (the reference conversion)."""
    cdef char local[128]
    cdef char* buf = local
    cdef char* endp = NULL
    cdef double v
    if n >= 128:
        buf = <char*>PyMem_Malloc(n + 1)
        if buf == NULL:
            return -2
    memcpy(buf, s, n)
    buf[n] = 0
    v = PyOS_string_to_double(buf, &endp, NULL)
    cdef bint ok = endp == buf + n and not (v == -1.0 and PyErr_Occurred() != NULL)
    if buf != local:
        PyMem_Free(buf)
    if not ok:
        PyErr_Clear()
        return -1
    out[0] = v
    return 0


cdef inline cptr _parse_num(Ctx* c, cptr p, double* out) noexcept:
    """A price or quantity at ``p``: a JSON number or a numeric string."""
    cdef cptr q = p + 1
    cdef int k1, k2
    cdef uint64_t x, y, m
    if DF_SWAR and DF_FAST_FLOAT and c.end - q >= 17 and p[0] == 0x22:
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


cdef cptr _parse_num_general(Ctx* c, cptr p, double* out) noexcept:
    cdef cptr e = c.end
    cdef cptr q
    cdef cptr r
    cdef cptr s      # token start
    cdef cptr t      # token end
    cdef cptr after
    cdef unsigned char ch
    cdef bint neg = False, slow = False, integer = True, ok, eneg = False
    cdef uint64_t m = 0
    cdef int nd = 0, rc
    cdef Py_ssize_t nfrac = 0
    cdef long ex = 0, e10
    cdef double v
    if p >= e:
        return _eof(c)
    ch = p[0]
    if ch == 0x22:
        q = p + 1
        s = q
        if q < e and (q[0] == 0x2B or q[0] == 0x2D):
            neg = q[0] == 0x2D
            q += 1
        r = _acc_digits(q, e, &m, &nd, &slow)
        ok = r > q
        q = r
        if q < e and q[0] == 0x2E:
            integer = False
            q += 1
            r = _acc_digits(q, e, &m, &nd, &slow)
            nfrac = r - q
            ok = ok or r > q
            q = r
        if ok and q < e and (q[0] == 0x65 or q[0] == 0x45):
            integer = False
            q += 1
            if q < e and (q[0] == 0x2B or q[0] == 0x2D):
                eneg = q[0] == 0x2D
                q += 1
            r = _acc_exp(q, e, &ex)
            ok = r > q
            q = r
        if q >= e:
            return _eof(c)
        if not ok or q[0] != 0x22:
            return _fail(c, E_NUMSTR, p)
        t = q
        after = q + 1
        integer = False   # numeric strings keep the sign of zero: float("-0") == -0.0
    elif ch == 0x2D or (0x30 <= ch <= 0x39):
        s = p
        q = p
        if q[0] == 0x2D:
            neg = True
            q += 1
        if q >= e:
            return _eof(c)
        ch = q[0]
        if ch == 0x30:
            q += 1
        elif 0x31 <= ch <= 0x39:
            q = _acc_digits(q, e, &m, &nd, &slow)
        else:
            return _fail(c, E_NUMBER, q)
        if q < e and q[0] == 0x2E:
            integer = False
            q += 1
            if q >= e:
                return _eof(c)
            if not (_cls[q[0]] & C_DIGIT):
                return _fail(c, E_NUMBER, q)
            r = _acc_digits(q, e, &m, &nd, &slow)
            nfrac = r - q
            q = r
        if q < e and (q[0] == 0x65 or q[0] == 0x45):
            integer = False
            q += 1
            if q < e and (q[0] == 0x2B or q[0] == 0x2D):
                eneg = q[0] == 0x2D
                q += 1
            if q >= e:
                return _eof(c)
            if not (_cls[q[0]] & C_DIGIT):
                return _fail(c, E_NUMBER, q)
            q = _acc_exp(q, e, &ex)
        t = q
        after = q
    else:
        return _fail(c, E_NUMTYPE, p)

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
        else:
            rc = _slow_convert(s, t - s, &v)
            if rc == -2:
                c.err = E_MEMORY
                return NULL
            if rc != 0:
                return _fail(c, E_CONVERT, p)
            if integer and v == 0.0:
                v = 0.0
    if not isfinite(v):
        return _fail(c, E_FINITE, p)
    out[0] = v
    return after


# ---------------------------------------------------------------------------------------
# Navigation and extraction
# ---------------------------------------------------------------------------------------


cdef cptr _navigate_range(Ctx* c, cptr p, CompiledPath path, Py_ssize_t first, Py_ssize_t last,
                          unsigned char* kinds) noexcept:
    """From the value at ``p``, follow ``path.steps[first:last]``; return the position of the
    value reached. ``kinds[i]`` (when given) records the container searched for step ``i``
    (1: object, 0: array)."""
    cdef cptr e = c.end
    cdef Py_ssize_t i, k, index
    cdef PathStep* st
    cdef unsigned char ch
    cdef bint hit
    for i in range(first, last):
        st = &path.steps[i]
        index = st.index
        if p >= e:
            return _eof(c)
        ch = p[0]
        if ch == 0x7B:
            if kinds != NULL:
                kinds[i] = 1
            p = _ws(p + 1, e)
            if p < e and p[0] == 0x7D:
                c.step = i
                return _fail(c, E_NOTFOUND, p)
            while True:
                if p >= e:
                    return _eof(c)
                if p[0] != 0x22:
                    return _fail(c, E_KEY, p)
                p = _match_key(c, p, st.key, st.keylen, &hit)
                if p == NULL:
                    return NULL
                p = _ws(p, e)
                if p >= e:
                    return _eof(c)
                if p[0] != 0x3A:
                    return _fail(c, E_COLON, p)
                p = _ws(p + 1, e)
                if hit:
                    break
                p = _skip_value(c, p)
                if p == NULL:
                    return NULL
                p = _ws(p, e)
                if p >= e:
                    return _eof(c)
                ch = p[0]
                if ch == 0x2C:
                    p = _ws(p + 1, e)
                elif ch == 0x7D:
                    c.step = i
                    return _fail(c, E_NOTFOUND, p)
                else:
                    return _fail(c, E_OBJ_SEP, p)
        elif ch == 0x5B:
            if index < 0:
                return _fail(c, E_OBJECT, p)
            if kinds != NULL:
                kinds[i] = 0
            p = _ws(p + 1, e)
            if p < e and p[0] == 0x5D:
                c.step = i
                return _fail(c, E_NOTFOUND, p)
            k = 0
            while k < index:
                p = _skip_value(c, p)
                if p == NULL:
                    return NULL
                p = _ws(p, e)
                if p >= e:
                    return _eof(c)
                ch = p[0]
                if ch == 0x2C:
                    p = _ws(p + 1, e)
                    k += 1
                elif ch == 0x5D:
                    c.step = i
                    return _fail(c, E_NOTFOUND, p)
                else:
                    return _fail(c, E_ARR_SEP, p)
        else:
            return _fail(c, E_CONTAINER if index >= 0 else E_OBJECT, p)
    return p


cdef inline cptr _navigate(Ctx* c, CompiledPath path) noexcept:
    return _navigate_range(c, _ws(c.start, c.end), path, 0, path.nsteps, NULL)


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


cdef cptr _levels_at(Ctx* c, cptr p, Py_ssize_t depth, Sink* s, bint* closed) noexcept:
    """Read at most ``depth`` levels of the array at ``p`` into ``s``; return the stop
    position (``closed``: the array's ``]`` was consumed), or NULL with ``c.err`` set."""
    cdef cptr e = c.end
    cdef unsigned char ch
    cdef double price, qty
    closed[0] = False
    if p >= e:
        return _eof(c)
    if p[0] != 0x5B:
        return _fail(c, E_LEVELS, p)
    p += 1
    s.n = 0
    if depth == 0:
        return p
    p = _ws(p, e)
    if p < e and p[0] == 0x5D:
        closed[0] = True
        return p + 1
    while True:
        if p >= e:
            return _eof(c)
        if p[0] != 0x5B:
            return _fail(c, E_ENTRY, p)
        p = _parse_num(c, _ws(p + 1, e), &price)
        if p == NULL:
            return NULL
        p = _ws(p, e)
        if p >= e:
            return _eof(c)
        if p[0] != 0x2C:
            return _fail(c, E_SHORT if p[0] == 0x5D else E_COMMA, p)
        p = _parse_num(c, _ws(p + 1, e), &qty)
        if p == NULL:
            return NULL
        while True:
            p = _ws(p, e)
            if p >= e:
                return _eof(c)
            ch = p[0]
            if ch == 0x5D:
                p += 1
                break
            if ch != 0x2C:
                return _fail(c, E_ARR_SEP, p)
            p = _skip_value(c, _ws(p + 1, e))
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
        p = _ws(p, e)
        if p >= e:
            return _eof(c)
        ch = p[0]
        if ch == 0x2C:
            p = _ws(p + 1, e)
        elif ch == 0x5D:
            closed[0] = True
            return p + 1
        else:
            return _fail(c, E_ARR_SEP, p)


cdef Py_ssize_t _extract(Ctx* c, CompiledPath path, Py_ssize_t depth, Sink* s) noexcept:
    """Fill ``s`` with at most ``depth`` levels; return the count, or -1 with ``c.err`` set."""
    cdef bint closed
    cdef cptr p = _navigate(c, path)
    if p == NULL:
        return -1
    p = _levels_at(c, p, depth, s, &closed)
    if p == NULL:
        return -1
    c.stop = p
    return s.n


cdef inline void _ctx_init(Ctx* c, const char* buf, Py_ssize_t n) noexcept:
    c.start = <cptr>buf
    c.end = <cptr>buf + n
    c.err = E_OK
    c.pos = -1
    c.step = -1
    c.stop = NULL


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


cdef dict _path_cache = {}
DEF PATH_CACHE_SIZE = 512


cdef CompiledPath _compiled(object path):
    """The compiled form of ``path``, from a small bounded cache (venues use a handful)."""
    cdef object hit
    if type(path) is str:
        hit = _path_cache.get(path)
        if hit is not None:
            return <CompiledPath>hit
    cdef CompiledPath cp = CompiledPath(path)
    if type(path) is str:
        if len(_path_cache) >= PATH_CACHE_SIZE:
            _path_cache.clear()
        _path_cache[path] = cp
    return cp


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
    if type(depth) is bool or not isinstance(depth, int):
        raise ExtractError(f"depth must be int, not {type(depth).__name__}")
    if depth < 0:
        raise ExtractError(f"depth must be >= 0, got {depth}")
    if depth > PY_SSIZE_T_MAX:
        return PY_SSIZE_T_MAX
    return depth


cdef int _buffer(object message, const char** buf, Py_ssize_t* n) except -1:
    if PyBytes_Check(message):
        buf[0] = PyBytes_AS_STRING(message)
        n[0] = PyBytes_GET_SIZE(message)
        return 0
    if PyUnicode_Check(message):
        if PyUnicode_IS_COMPACT_ASCII(message):  # the usual frame: its data is the UTF-8
            buf[0] = <const char*>PyUnicode_DATA(message)
            n[0] = PyUnicode_GET_LENGTH(message)
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
    s.px = prices
    s.qx = qtys
    s.cap = depth
    s.n = 0
    s.heap = False
    cdef Py_ssize_t got = _extract(&c, path, depth, &s)
    if got < 0:
        _raise(&c, path, None, buf)
    return got


cdef object _levels(object message, object path, object depth, bint with_stop):
    cdef CompiledPath cp = _compiled(path)
    cdef Py_ssize_t d = _check_depth(depth)
    cdef const char* buf
    cdef Py_ssize_t n, got, i
    _buffer(message, &buf, &n)
    cdef double px[STACK_LEVELS]
    cdef double qx[STACK_LEVELS]
    cdef Ctx c
    cdef Sink s
    _ctx_init(&c, buf, n)
    s.px = px
    s.qx = qx
    s.cap = STACK_LEVELS
    s.n = 0
    s.heap = False
    try:
        got = _extract(&c, cp, d, &s)
        if got < 0:
            _raise(&c, cp, message, buf)
        out = [None] * got
        for i in range(got):
            out[i] = (s.px[i], s.qx[i])
    finally:
        if s.heap:
            PyMem_Free(s.px)
            PyMem_Free(s.qx)
    if with_stop:
        return out, _char_pos(message, buf, c.stop - c.start)
    return out


def extract_levels(message, path, depth):
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
        invalid arguments. Nothing after the stop point is examined.
    """
    return _levels(message, path, depth, False)


def _extract_with_stop(message, path, depth):
    """Like :func:`extract_levels`, also returning the stop offset (for tests)."""
    return _levels(message, path, depth, True)


cdef class TopExtractor:
    """Top-N change detector for snapshot feeds (Binance ``depth20``, Bitstamp ``order_book``).

    Parameters
    ----------
    bids_path, asks_path : str
        Dotted paths to the bid and ask level arrays (any order in the message).
    depth : int
        Levels kept per side, ``>= 1``.

    Notes
    -----
    The levels live in C arrays; :attr:`bids` and :attr:`asks` build tuples only when
    read. Both sides must be present (an absent side raises ExtractError). Levels compare
    bit for bit. A failed update leaves the previous state untouched.
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
        self._mem = <double*>PyMem_Malloc(8 * d * sizeof(double))
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

    def __dealloc__(self):
        PyMem_Free(self._mem)

    cdef int update_buffer(self, const char* buf, Py_ssize_t n) except -1:
        cdef Ctx c
        cdef int rc = _top_run(self, &c, buf, n)
        if rc < 0:
            _raise(&c, self._bids_path if rc == -1 else self._asks_path, None, buf)
        if rc == 1:
            self._bids_cache = None
            self._asks_cache = None
        return rc

    def update(self, message):
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
        cdef const char* buf
        cdef Py_ssize_t n
        cdef Ctx c
        _buffer(message, &buf, &n)
        cdef int rc = _top_run(self, &c, buf, n)
        if rc < 0:
            _raise(&c, self._bids_path if rc == -1 else self._asks_path, message, buf)
        if rc == 1:
            self._bids_cache = None
            self._asks_cache = None
            return True
        return False

    def reset(self):
        """Forget the state: the next successful :meth:`update` returns True."""
        self.n_bids = 0
        self.n_asks = 0
        self._valid = False
        self._bids_cache = None
        self._asks_cache = None

    @property
    def bids(self):
        """Bid levels of the last successful update (``()`` before any)."""
        if self._bids_cache is None:
            self._bids_cache = _tuple_levels(self.bid_px, self.bid_qty, self.n_bids)
        return self._bids_cache

    @property
    def asks(self):
        """Ask levels of the last successful update (``()`` before any)."""
        if self._asks_cache is None:
            self._asks_cache = _tuple_levels(self.ask_px, self.ask_qty, self.n_asks)
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


cdef cptr _side(Ctx* c, cptr p, CompiledPath path, Py_ssize_t first, Py_ssize_t depth, Sink* s,
                bint finish, unsigned char* kinds, unsigned char* stack) noexcept:
    """Follow ``path.steps[first:]`` from the value at ``p`` and read the levels (depth >= 1).
    With ``finish``, also skip the rest of the value at ``p`` and return its end."""
    cdef bint closed
    cdef Py_ssize_t i, top = 0
    p = _navigate_range(c, p, path, first, path.nsteps, kinds)
    if p == NULL:
        return NULL
    p = _levels_at(c, p, depth, s, &closed)
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
    return _skip_nested(c, p, stack, top, True)


cdef int _top_joint(TopExtractor self, Ctx* c, Sink* sb, Sink* sa) noexcept:
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
    cdef cptr e = c.end
    cdef cptr r
    cdef bint got_a = False, got_b = False, hit_a, hit_b, escaped
    cdef unsigned char ch
    cdef cptr p = _navigate_range(c, _ws(c.start, e), A, 0, k, NULL)
    if p == NULL or p >= e:
        return -1
    ch = p[0]
    if ch == 0x7B:
        p = _ws(p + 1, e)
        while True:
            if p >= e or p[0] != 0x22:
                return -1
            r = _skip_string(c, p)
            if r == NULL:
                return -1
            escaped = memchr(p + 1, 0x5C, (r - 1) - (p + 1)) != NULL
            hit_a = not got_a and _key_equals(p + 1, r - 1, escaped, sta.key, sta.keylen)
            hit_b = not got_b and not hit_a and _key_equals(p + 1, r - 1, escaped, stb.key, stb.keylen)
            p = _ws(r, e)
            if p >= e or p[0] != 0x3A:
                return -1
            p = _ws(p + 1, e)
            if hit_a:
                p = _side(c, p, A, k + 1, depth, sb, not got_b, kinds, stack)
                got_a = True
            elif hit_b:
                p = _side(c, p, B, k + 1, depth, sa, not got_a, kinds, stack)
                got_b = True
            else:
                p = _skip_value(c, p)
            if p == NULL:
                return -1
            if got_a and got_b:
                c.stop = p
                return 0
            p = _ws(p, e)
            if p >= e or p[0] != 0x2C:
                return -1
            p = _ws(p + 1, e)
    elif ch == 0x5B:
        if sta.index < 0 or stb.index < 0:
            return -1
        p = _ws(p + 1, e)
        while True:
            if i == sta.index:
                p = _side(c, p, A, k + 1, depth, sb, not got_b, kinds, stack)
                got_a = True
            elif i == stb.index:
                p = _side(c, p, B, k + 1, depth, sa, not got_a, kinds, stack)
                got_b = True
            else:
                p = _skip_value(c, p)
            if p == NULL:
                return -1
            if got_a and got_b:
                c.stop = p
                return 0
            p = _ws(p, e)
            if p >= e or p[0] != 0x2C:
                return -1
            p = _ws(p + 1, e)
            i += 1
    return -1


cdef int _top_run(TopExtractor self, Ctx* c, const char* buf, Py_ssize_t n) noexcept:
    """Parse into the scratch arrays and commit: 1 changed, 0 same, -1/-2 bids/asks error (``c``)."""
    cdef Sink sb, sa
    cdef Py_ssize_t nb, na
    sb.px = self._s_bid_px
    sb.qx = self._s_bid_qty
    sb.cap = self._depth
    sb.n = 0
    sb.heap = False
    sa.px = self._s_ask_px
    sa.qx = self._s_ask_qty
    sa.cap = self._depth
    sa.n = 0
    sa.heap = False
    _ctx_init(c, buf, n)
    if self._joint_k >= 0 and _top_joint(self, c, &sb, &sa) == 0:
        nb = sb.n
        na = sa.n
    else:
        # the reference behaviour: two independent extractions
        sb.n = 0
        sa.n = 0
        _ctx_init(c, buf, n)
        nb = _extract(c, self._bids_path, self._depth, &sb)
        if nb < 0:
            return -1
        _ctx_init(c, buf, n)
        na = _extract(c, self._asks_path, self._depth, &sa)
        if na < 0:
            return -2
    cdef bint changed = (
        not self._valid
        or nb != self.n_bids
        or na != self.n_asks
        or memcmp(self._s_bid_px, self.bid_px, nb * sizeof(double)) != 0
        or memcmp(self._s_bid_qty, self.bid_qty, nb * sizeof(double)) != 0
        or memcmp(self._s_ask_px, self.ask_px, na * sizeof(double)) != 0
        or memcmp(self._s_ask_qty, self.ask_qty, na * sizeof(double)) != 0
    )
    if changed:
        self._s_bid_px, self.bid_px = self.bid_px, self._s_bid_px
        self._s_bid_qty, self.bid_qty = self.bid_qty, self._s_bid_qty
        self._s_ask_px, self.ask_px = self.ask_px, self._s_ask_px
        self._s_ask_qty, self.ask_qty = self.ask_qty, self._s_ask_qty
        self.n_bids = nb
        self.n_asks = na
        self._valid = True
        return 1
    return 0


cdef Py_ssize_t _joint_prefix(CompiledPath a, CompiledPath b):
    """Length of the shared prefix of two paths when one pass can serve both, else -1."""
    cdef Py_ssize_t k = 0
    if a.nsteps > JOINT_MAX_STEPS or b.nsteps > JOINT_MAX_STEPS:
        return -1
    while k < a.nsteps and k < b.nsteps:
        if (a.steps[k].keylen != b.steps[k].keylen or a.steps[k].index != b.steps[k].index
                or memcmp(a.steps[k].key, b.steps[k].key, a.steps[k].keylen) != 0):
            return k
        k += 1
    return -1  # equal paths, or one a prefix of the other


cdef tuple _tuple_levels(double* px, double* qx, Py_ssize_t n):
    cdef Py_ssize_t i
    return tuple([(px[i], qx[i]) for i in range(n)])
