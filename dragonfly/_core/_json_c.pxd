# Strict JSON scanning shared by the compiled JSON modules: the primitives of doc_c (the document tape) and
# extract_c (the level extractor), and the decimal conversion doc_c and book_c read numbers with. Everything here
# is inline (C ``static inline`` or ``cdef inline``): each module compiles its own copy into its fast paths, and
# there is no module ``_json_c`` to import at run time. The pure twins share ``_json_py.py`` the same way.
#
#     from dragonfly._core._json_c cimport Scan, cptr, E_EOF, scan_eof, skip_ws, string_end, df_decimal
#
# The scanner reads the UTF-8 text ``[scan.start, scan.end)`` through byte pointers and never reads at or past
# ``scan.end``. A primitive that fails returns NULL with ``scan.err`` (an ``E_*`` code below) and ``scan.pos``
# (the byte offset of the offending character, the length of the text for a truncation) set; the message of each
# code is ``_json_py.MESSAGES[code]``. A module's own codes start at ``E_SCAN_CODES``.

from libc.stdint cimport uint32_t, uint64_t

cdef extern from *:
    """
    #ifndef DF_JSON_C_H
    #define DF_JSON_C_H
    #include <float.h>
    #include <stdint.h>
    #include <string.h>
    #if defined(_MSC_VER) && !defined(__clang__)
    #  include <intrin.h>
    #endif

    #if defined(__GNUC__) || defined(__clang__)
    #  define DF_NOINLINE __attribute__((noinline))
    #elif defined(_MSC_VER)
    #  define DF_NOINLINE __declspec(noinline)
    #else
    #  define DF_NOINLINE
    #endif

    /* Eight bytes at a time (SWAR) on little-endian targets; a byte loop elsewhere. */
    #if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #  define DF_LE 1
    #elif defined(_M_X64) || defined(_M_IX86) || defined(_M_ARM64)
    #  define DF_LE 1
    #else
    #  define DF_LE 0
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

    static const uint64_t df_pow10_u64[17] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
        1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
        100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL};

    static inline uint64_t df_load8(const unsigned char* p) {
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
    }

    /* Ask for the cache lines of p[0:min(n, DF_PREFETCH_MAX)] at once (a hint: no fault, no effect on
       the result). A frame that is not in the cache then arrives in the time of one line's miss rather
       than one miss after another as the scan reaches each line. */
    #define DF_PREFETCH_MAX 2048
    static inline void df_prefetch(const unsigned char* p, Py_ssize_t n) {
    #if defined(__GNUC__) || defined(__clang__)
        Py_ssize_t k;
        if (n > DF_PREFETCH_MAX) n = DF_PREFETCH_MAX;
        for (k = 0; k < n; k += 64) __builtin_prefetch(p + k, 0, 3);
    #else
        (void)p; (void)n;
    #endif
    }

    /* Index of the lowest set bit (x != 0). */
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

    /* Nonzero when any byte of x is < 0x20, '"', backslash or >= 0x80; the lowest flagged
       byte is exact (borrows only propagate upwards). */
    static inline uint64_t df_special8(uint64_t x) {
        const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
        uint64_t q = x ^ (ones * 0x22), s = x ^ (ones * 0x5C);
        return (x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((s - ones) & ~s)) & high;
    }

    /* The same test on sixteen bytes with SSE2 (every x86-64): a bit per flagged byte. */
    #if defined(__SSE2__) || defined(_M_X64)
    #  include <emmintrin.h>
    #  define DF_SSE2 1
    static inline unsigned int df_special16(const unsigned char* p) {
        __m128i v = _mm_loadu_si128((const __m128i*)p);
        __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),   /* signed: also >= 0x80 */
                                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x22)),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8(0x5C))));
        return (unsigned int)_mm_movemask_epi8(m);
    }
    #else
    #  define DF_SSE2 0
    static inline unsigned int df_special16(const unsigned char* p) { return 0; }
    #endif

    /* Number of leading ASCII digits among the eight bytes (little-endian load), 0..8.
       The lowest flagged byte is exact: a carry only leaves a byte that is >= 0x80. */
    static inline int df_digit_run8(uint64_t x) {
        uint64_t a = x ^ 0x3030303030303030ULL;
        uint64_t m = ((a + 0x7676767676767676ULL) | a) & 0x8080808080808080ULL;
        return m ? (df_ctz64(m) >> 3) : 8;
    }

    /* Value of the first k (1..8) ASCII digits of x (little-endian load). */
    static inline uint32_t df_value_k(uint64_t x, int k) {
        const uint64_t mask = 0x000000FF000000FFULL;
        const uint64_t mul1 = 100ULL + (1000000ULL << 32);
        const uint64_t mul2 = 1ULL + (10000ULL << 32);
        if (k < 8)
            x = (x << (8 * (8 - k))) | (0x3030303030303030ULL >> (8 * k));
        x -= 0x3030303030303030ULL;
        x = (x * 10) + (x >> 8);
        x = (((x & mask) * mul1) + (((x >> 16) & mask) * mul2)) >> 32;
        return (uint32_t)x;
    }

    /* p is at a byte >= 0x80 inside a string: the end of its UTF-8 sequence when it is well
       formed (no overlong form, encoded surrogate or code point above U+10FFFF); NULL when it
       is not, with *cut set when the text ends inside it. Out of line: the scanners' fast
       paths are ASCII. */
    static DF_NOINLINE const unsigned char* df_utf8_end(const unsigned char* p, const unsigned char* e, int* cut) {
        unsigned char ch = p[0], lo, hi;
        int need, k;
        *cut = 0;
        if (ch >= 0xC2 && ch <= 0xDF) { need = 1; lo = 0x80; hi = 0xBF; }
        else if (ch == 0xE0) { need = 2; lo = 0xA0; hi = 0xBF; }
        else if ((ch >= 0xE1 && ch <= 0xEC) || ch == 0xEE || ch == 0xEF) { need = 2; lo = 0x80; hi = 0xBF; }
        else if (ch == 0xED) { need = 2; lo = 0x80; hi = 0x9F; }
        else if (ch == 0xF0) { need = 3; lo = 0x90; hi = 0xBF; }
        else if (ch >= 0xF1 && ch <= 0xF3) { need = 3; lo = 0x80; hi = 0xBF; }
        else if (ch == 0xF4) { need = 3; lo = 0x80; hi = 0x8F; }
        else return NULL;
        for (k = 1; k <= need; k++) {
            if (p + k >= e) { *cut = 1; return NULL; }
            if (k == 1 ? (p[k] < lo || p[k] > hi) : (p[k] < 0x80 || p[k] > 0xBF)) return NULL;
        }
        return p + need + 1;
    }

    /* Consume [0-9]* from p, accumulating at most 19 significant digits into *m (*nd of
       them; leading zeros may be over-counted, which only takes the exact slow path
       sooner, never gives a wrong value: *m < 10^*nd <= 10^19 < 2^64); more digits set
       *slow. Returns the end of the run. */
    static inline const unsigned char* df_acc(const unsigned char* p, const unsigned char* e,
                                              uint64_t* m, int* nd, int* slow) {
        uint64_t mm = *m, x;
        int n = *nd, k;
        unsigned int d;
        if (DF_LE) {
            while (e - p >= 8) {
                x = df_load8(p);
                k = df_digit_run8(x);
                if (k == 0 || n + k > 19) break;
                mm = mm * df_pow10_u64[k] + df_value_k(x, k);
                n = mm ? n + k : 0;
                p += k;
                if (k < 8) { *m = mm; *nd = n; return p; }
            }
        }
        while (p < e && (d = (unsigned int)*p - '0') <= 9) {
            if (n < 19) { mm = mm * 10 + d; if (mm) n++; } else *slow = 1;
            p++;
        }
        *m = mm;
        *nd = n;
        return p;
    }

    /* Consume the [0-9]* of an exponent from p into *x (it stops growing past 10^8: any
       larger exponent overflows or underflows alike). Returns the end of the run. */
    static inline const unsigned char* df_acc_exp(const unsigned char* p, const unsigned char* e, long* x) {
        long v = 0;
        unsigned int d;
        while (p < e && (d = (unsigned int)*p - '0') <= 9) {
            if (v < 100000000L) v = v * 10 + d;
            p++;
        }
        *x = v;
        return p;
    }

    /* float() of the number text s[0:n] (its grammar checked by the caller), through
       PyOS_string_to_double: 1 with *out set; -1 with a Python exception set (memory). */
    static int df_strtod(const unsigned char* s, Py_ssize_t n, double* out) {
        char local[128];
        char* buf = local;
        double v;
        if (n >= 128) {
            buf = (char*)PyMem_Malloc(n + 1);
            if (buf == NULL) { PyErr_NoMemory(); return -1; }
        }
        memcpy(buf, s, n);
        buf[n] = 0;
        v = PyOS_string_to_double(buf, NULL, NULL);
        if (buf != local) PyMem_Free(buf);
        if (v == -1.0 && PyErr_Occurred()) return -1;
        *out = v;
        return 1;
    }

    /* s[0:n] must be [+-]? (D+ ('.' D*)? | '.' D+) ([eE] [+-]? D+)? with D = ASCII digit.
       Returns 1 and sets *out to float(text) (bit for bit, inf on overflow) when it is;
       0 when it is not (nothing set); -1 with a Python exception set (memory). Every JSON
       number token has this form. */
    static int df_decimal(const unsigned char* s, Py_ssize_t n, double* out) {
        const unsigned char* p = s;
        const unsigned char* e = s + n;
        const unsigned char* q;
        int neg = 0, nd = 0, slow = 0, eneg = 0;
        Py_ssize_t ndig, nfrac = 0;
        uint64_t m = 0;
        long e10 = 0, x = 0;
        if (p < e && (*p == '+' || *p == '-')) { neg = *p == '-'; p++; }
        q = df_acc(p, e, &m, &nd, &slow);
        ndig = q - p;
        p = q;
        if (p < e && *p == '.') {
            p++;
            q = df_acc(p, e, &m, &nd, &slow);
            nfrac = q - p;
            ndig += nfrac;
            p = q;
        }
        if (ndig == 0) return 0;
        if (p < e && (*p == 'e' || *p == 'E')) {
            p++;
            if (p < e && (*p == '+' || *p == '-')) { eneg = *p == '-'; p++; }
            q = df_acc_exp(p, e, &x);
            if (q == p) return 0;
            p = q;
            e10 = eneg ? -x : x;
        }
        if (p != e) return 0;
        e10 -= (long)nfrac;
        if (m == 0 && !slow) {  /* every digit is 0 (a deleted level's quantity): no rounding */
            *out = neg ? -0.0 : 0.0;
            return 1;
        }
        if (DF_FAST_FLOAT && !slow && m <= 9007199254740992ULL && e10 >= -22 && e10 <= 22) {
            double v = (double)m;
            v = e10 >= 0 ? v * df_pow10[e10] : v / df_pow10[-e10];
            *out = neg ? -v : v;
            return 1;
        }
        return df_strtod(s, n, out);
    }

    /* df_decimal() when the 24 bytes from s may be read (the token and what follows it in the
       buffer). The usual venue number, D+ ('.' D*)? or '.' D+ in at most 16 bytes with at most
       15 digits (so below 2^53: one correctly rounded division, as in df_decimal), takes a few
       word operations; anything else goes to df_decimal(). */
    static inline int df_decimal24(const unsigned char* s, Py_ssize_t n, double* out) {
        uint64_t w, ip, fp, m;
        int k, r, f;
        if (!DF_LE || !DF_FAST_FLOAT || n < 1 || n > 16)
            return df_decimal(s, n, out);
        w = df_load8(s);
        k = df_digit_run8(w);
        ip = k ? df_value_k(w, k) : 0;
        if (k == 8) {                       /* more integer digits */
            w = df_load8(s + 8);
            r = df_digit_run8(w);
            if (r) {
                ip = ip * df_pow10_u64[r] + df_value_k(w, r);
                k += r;
            }
        }
        if (k == n) {
            *out = (double)ip;              /* at most 16 digits: k > 15 is exact only below 2^53 */
            if (k > 15 && ip > 9007199254740992ULL)
                return df_decimal(s, n, out);
            return 1;
        }
        if (k > n || s[k] != '.')
            return df_decimal(s, n, out);
        f = (int)n - 1 - k;                 /* digits after the '.' */
        if (f == 0 || k + f > 15)
            return df_decimal(s, n, out);   /* "5.", "." and long numbers */
        w = df_load8(s + k + 1);
        if (f <= 8) {
            if (df_digit_run8(w) < f)
                return df_decimal(s, n, out);
            fp = df_value_k(w, f);
        } else {
            if (df_digit_run8(w) < 8)
                return df_decimal(s, n, out);
            fp = df_value_k(w, 8);
            w = df_load8(s + k + 9);
            if (df_digit_run8(w) < f - 8)
                return df_decimal(s, n, out);
            fp = fp * df_pow10_u64[f - 8] + df_value_k(w, f - 8);
        }
        m = ip * df_pow10_u64[f] + fp;
        *out = (double)m / df_pow10[f];
        return 1;
    }
    #endif /* DF_JSON_C_H */
    """
    int DF_LE
    int DF_FAST_FLOAT
    int DF_SSE2
    const double* df_pow10
    const uint64_t* df_pow10_u64
    uint64_t df_load8(const unsigned char* p) noexcept nogil
    void df_prefetch(const unsigned char* p, Py_ssize_t n) noexcept nogil
    int df_ctz64(uint64_t x) noexcept nogil
    uint64_t df_special8(uint64_t x) noexcept nogil
    unsigned int df_special16(const unsigned char* p) noexcept nogil
    int df_digit_run8(uint64_t x) noexcept nogil
    uint32_t df_value_k(uint64_t x, int k) noexcept nogil
    const unsigned char* df_utf8_end(const unsigned char* p, const unsigned char* e, int* cut) noexcept nogil
    const unsigned char* df_acc(const unsigned char* p, const unsigned char* e, uint64_t* m, int* nd,
                                int* slow) noexcept nogil
    const unsigned char* df_acc_exp(const unsigned char* p, const unsigned char* e, long* x) noexcept nogil
    int df_strtod(const unsigned char* s, Py_ssize_t n, double* out) noexcept  # -1: the caller takes the exception
    int df_decimal(const unsigned char* s, Py_ssize_t n, double* out) except -1
    int df_decimal24(const unsigned char* s, Py_ssize_t n, double* out) except -1

cdef extern from "Python.h":
    bint PyUnicode_Check(object o)
    bint PyUnicode_IS_ASCII(object o)


ctypedef const unsigned char* cptr


cdef struct Scan:
    cptr start
    cptr end
    int err          # E_OK, or the code of the failure
    Py_ssize_t pos   # the byte offset of the failure


cdef enum:
    E_OK = 0
    E_EOF = 1
    E_CHAR = 2
    E_CTRL = 3
    E_ESCAPE = 4
    E_UTF8 = 5
    E_NUMBER = 6
    E_LITERAL = 7
    E_KEY = 8
    E_COLON = 9
    E_OBJ_SEP = 10
    E_ARR_SEP = 11
    E_NESTING = 12
    E_SCAN_CODES = 13   # the first code of a module's own


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


cdef inline cptr scan_fail(Scan* c, int err, cptr at) noexcept:
    c.err = err
    c.pos = at - c.start
    return NULL


cdef inline cptr scan_eof(Scan* c) noexcept:
    c.err = E_EOF
    c.pos = c.end - c.start
    return NULL


cdef inline Py_ssize_t char_pos(object text, cptr buf, Py_ssize_t pos):
    """Byte offset ``pos`` in ``buf``, the UTF-8 of ``text`` -> offset in ``text`` (characters
    for a ``str``, the byte offset itself for anything else)."""
    cdef Py_ssize_t i, count = 0
    cdef unsigned char b
    if not PyUnicode_Check(text) or PyUnicode_IS_ASCII(text):
        return pos
    for i in range(pos):
        b = buf[i]
        if b < 0x80 or b > 0xBF:
            count += 1
    return count


# ---------------------------------------------------------------------------------------
# Scanning
# ---------------------------------------------------------------------------------------


cdef inline bint is_digit(unsigned char ch) noexcept nogil:
    return <unsigned int>ch - 0x30 <= 9


cdef inline bint is_hex(unsigned char ch) noexcept nogil:
    return <unsigned int>ch - 0x30 <= 9 or <unsigned int>(ch | 0x20) - 0x61 <= 5


cdef inline cptr skip_ws(cptr p, cptr e) noexcept:
    """Past JSON whitespace (space, tab, LF, CR)."""
    if p < e and p[0] > 0x20:  # the usual case: no whitespace at all
        return p
    while p < e and (p[0] == 0x20 or p[0] == 0x0A or p[0] == 0x0D or p[0] == 0x09):
        p += 1
    return p


cdef inline cptr utf8_end(Scan* c, cptr p) noexcept:
    """``p`` is at a byte >= 0x80 of a string: the end of its well-formed UTF-8 sequence."""
    cdef int cut
    cdef cptr r = df_utf8_end(p, c.end, &cut)
    if r == NULL:
        return scan_eof(c) if cut else scan_fail(c, E_UTF8, p)
    return r


cdef inline cptr scan_plain(cptr p, cptr e) noexcept:
    """Advance over string bytes that need no attention (not a quote, a backslash, a control
    character or a byte >= 0x80)."""
    cdef uint64_t m
    cdef unsigned int m16
    cdef unsigned char ch
    if DF_SSE2:
        while e - p >= 16:
            m16 = df_special16(p)
            if m16:
                return p + df_ctz64(m16)
            p += 16
    if DF_LE:
        while e - p >= 8:
            m = df_special8(df_load8(p))
            if m:
                return p + (df_ctz64(m) >> 3)
            p += 8
    while p < e:
        ch = p[0]
        if ch < 0x20 or ch >= 0x80 or ch == 0x22 or ch == 0x5C:
            break
        p += 1
    return p


cdef inline cptr string_end(Scan* c, cptr p, bint* escapes) noexcept:
    """``p`` is at the opening quote: validate the string, return the position after the
    closing quote; ``escapes`` (unless NULL) is set when it holds a backslash escape."""
    cdef cptr e = c.end
    cdef unsigned char ch
    cdef int k
    p += 1
    while True:
        p = scan_plain(p, e)
        if p >= e:
            return scan_eof(c)
        ch = p[0]
        if ch == 0x22:
            return p + 1
        if ch == 0x5C:
            if escapes != NULL:
                escapes[0] = True
            if p + 1 >= e:
                return scan_eof(c)
            ch = p[1]
            if ch == 0x75:
                for k in range(2, 6):
                    if p + k >= e:
                        return scan_eof(c)
                    if not is_hex(p[k]):
                        return scan_fail(c, E_ESCAPE, p)
                p += 6
            elif (ch == 0x22 or ch == 0x5C or ch == 0x2F or ch == 0x62 or ch == 0x66 or ch == 0x6E
                  or ch == 0x72 or ch == 0x74):
                p += 2
            else:
                return scan_fail(c, E_ESCAPE, p)
        elif ch < 0x20:
            return scan_fail(c, E_CTRL, p)
        else:
            p = utf8_end(c, p)
            if p == NULL:
                return NULL


cdef inline cptr digits_end(cptr q, cptr e) noexcept:
    """Past a run of ASCII digits."""
    cdef int k
    if DF_LE:
        while e - q >= 8:
            k = df_digit_run8(df_load8(q))
            q += k
            if k < 8:
                return q
    while q < e and is_digit(q[0]):
        q += 1
    return q


cdef inline bint expect_digit(Scan* c, cptr q) noexcept:
    """A digit at ``q`` (the first of a number's fraction or exponent); false, with the error
    set, when there is none."""
    if q >= c.end:
        scan_eof(c)
        return False
    if not is_digit(q[0]):
        scan_fail(c, E_NUMBER, q)
        return False
    return True


cdef inline cptr _digits_after(Scan* c, cptr q) noexcept:
    """At least one digit at ``q`` (a fraction's or an exponent's): the end of the run."""
    if not expect_digit(c, q):
        return NULL
    return digits_end(q + 1, c.end)


cdef inline cptr number_end(Scan* c, cptr p, bint* integer) noexcept:
    """``p`` is at ``-`` or a digit: validate the JSON number, return its end; ``integer`` is
    set when it has neither fraction nor exponent."""
    cdef cptr e = c.end
    cdef cptr q = p
    cdef unsigned char ch
    integer[0] = True
    if q[0] == 0x2D:
        q += 1
    if q >= e:
        return scan_eof(c)
    ch = q[0]
    if ch == 0x30:
        q += 1
    elif 0x31 <= ch <= 0x39:
        q = digits_end(q + 1, e)
    else:
        return scan_fail(c, E_NUMBER, q)
    if q < e and q[0] == 0x2E:
        integer[0] = False
        q = _digits_after(c, q + 1)
        if q == NULL:
            return NULL
    if q < e and (q[0] == 0x65 or q[0] == 0x45):
        integer[0] = False
        q += 1
        if q < e and (q[0] == 0x2B or q[0] == 0x2D):
            q += 1
        q = _digits_after(c, q)
    return q


cdef inline cptr member_value(Scan* c, cptr p) noexcept:
    """``p`` is after an object member's name: past whitespace, the ``:`` and whitespace, the
    position of the member's value."""
    cdef cptr e = c.end
    p = skip_ws(p, e)
    if p >= e:
        return scan_eof(c)
    if p[0] != 0x3A:
        return scan_fail(c, E_COLON, p)
    return skip_ws(p + 1, e)


cdef inline cptr literal_end(Scan* c, cptr p) noexcept:
    """``p`` is at ``t``, ``f`` or ``n``: validate ``true``, ``false`` or ``null``, return its end."""
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
            return scan_eof(c)
        if p[k] != <unsigned char>lit[k]:
            return scan_fail(c, E_LITERAL, p)
    return p + n


# ---------------------------------------------------------------------------------------
# Escapes (in a string already validated by string_end)
# ---------------------------------------------------------------------------------------


cdef inline unsigned int hex4(cptr p) noexcept:
    """The value of the four hex digits at ``p``."""
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


cdef inline cptr unescape(cptr s, cptr t, Py_UCS4* cp) noexcept:
    """``s`` is at a backslash in the validated string body ending at ``t``: the code point
    the escape stands for (a ``\\uD8xx\\uDCxx`` pair joined into one; a lone surrogate kept,
    as ``json.loads`` does) into ``cp``, and the position after the escape."""
    cdef unsigned char ch = s[1]
    cdef unsigned int v, lo
    if ch != 0x75:
        if ch == 0x62:
            cp[0] = 0x08
        elif ch == 0x66:
            cp[0] = 0x0C
        elif ch == 0x6E:
            cp[0] = 0x0A
        elif ch == 0x72:
            cp[0] = 0x0D
        elif ch == 0x74:
            cp[0] = 0x09
        else:  # '"', '\\', '/'
            cp[0] = ch
        return s + 2
    v = hex4(s + 2)
    s += 6
    if 0xD800 <= v <= 0xDBFF and t - s >= 6 and s[0] == 0x5C and s[1] == 0x75:
        lo = hex4(s + 2)
        if 0xDC00 <= lo <= 0xDFFF:
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
            s += 6
    cp[0] = v
    return s
