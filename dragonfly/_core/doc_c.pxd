# Declarations of the compiled JSON document (dragonfly._core.doc_c), for Cython modules that
# ``cimport`` it (the book's apply_doc reads the tape and the buffer directly):
#
#     from dragonfly._core.doc_c cimport Doc, DocNode, DOC_NUMBER, DOC_STRING, DOC_ARRAY, df_decimal
#
# The tape: one DocNode per value, in document order (a container is followed by its members; an
# object member by its key, a string node, then its value). ``next`` is the index after the value's
# subtree, so siblings are ``h = tape[h].next``. Semantics: dragonfly/_core/doc_py.py.

from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from *:
    """
    #include <float.h>
    #include <stdint.h>
    #include <string.h>

    /* m * 10^k and m / 10^k with m <= 2^53 and k <= 22 are exact operands, so one IEEE
       operation is correctly rounded (Clinger's fast path) when doubles are evaluated in
       double precision. */
    #if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    #  define DF_DOC_FAST_FLOAT 1
    #else
    #  define DF_DOC_FAST_FLOAT 0
    #endif

    static const double df_doc_pow10[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

    #if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #  define DF_DOC_LE 1
    #elif defined(_M_X64) || defined(_M_IX86) || defined(_M_ARM64)
    #  define DF_DOC_LE 1
    #else
    #  define DF_DOC_LE 0
    #endif

    static const uint64_t df_doc_pow10_u64[9] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL};

    static inline uint64_t df_doc_load8(const unsigned char* p) {
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
    }

    /* Number of leading ASCII digits among the eight bytes (little-endian load), 0..8.
       The lowest flagged byte is exact: a carry only leaves a byte that is >= 0x80. */
    static inline int df_doc_digit_run8(uint64_t x) {
        uint64_t a = x ^ 0x3030303030303030ULL;
        uint64_t m = ((a + 0x7676767676767676ULL) | a) & 0x8080808080808080ULL;
    #if defined(__GNUC__) || defined(__clang__)
        return m ? (__builtin_ctzll(m) >> 3) : 8;
    #else
        int n = 0;
        if (!m) return 8;
        while (!(m & 0xFF)) { m >>= 8; n++; }
        return n;
    #endif
    }

    /* Value of the first k (1..8) ASCII digits of x (little-endian load). */
    static inline uint64_t df_doc_value_k(uint64_t x, int k) {
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

    /* Consume [0-9]* from p, accumulating at most 19 significant digits into *m (*nd of
       them; leading zeros may be over-counted, which only takes the exact slow path
       sooner); more digits set *slow. Returns the end of the run. */
    static inline const unsigned char* df_doc_acc(const unsigned char* p, const unsigned char* e,
                                                  uint64_t* m, int* nd, int* slow) {
        uint64_t mm = *m, x;
        int n = *nd, k;
        unsigned int d;
        if (DF_DOC_LE) {
            while (e - p >= 8) {
                x = df_doc_load8(p);
                k = df_doc_digit_run8(x);
                if (k == 0 || n + k > 19) break;
                mm = mm * df_doc_pow10_u64[k] + df_doc_value_k(x, k);
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
        unsigned int d;
        if (p < e && (*p == '+' || *p == '-')) { neg = *p == '-'; p++; }
        q = df_doc_acc(p, e, &m, &nd, &slow);
        ndig = q - p;
        p = q;
        if (p < e && *p == '.') {
            p++;
            q = df_doc_acc(p, e, &m, &nd, &slow);
            nfrac = q - p;
            ndig += nfrac;
            p = q;
        }
        if (ndig == 0) return 0;
        if (p < e && (*p == 'e' || *p == 'E')) {
            p++;
            if (p < e && (*p == '+' || *p == '-')) { eneg = *p == '-'; p++; }
            if (p >= e || (unsigned int)*p - '0' > 9) return 0;
            while (p < e && (d = (unsigned int)*p - '0') <= 9) {
                if (x < 100000000L) x = x * 10 + d;
                p++;
            }
            e10 = eneg ? -x : x;
        }
        if (p != e) return 0;
        e10 -= (long)nfrac;
        if (m == 0 && !slow) {  /* every digit is 0 (a deleted level's quantity): no rounding */
            *out = neg ? -0.0 : 0.0;
            return 1;
        }
        if (DF_DOC_FAST_FLOAT && !slow && m <= 9007199254740992ULL && e10 >= -22 && e10 <= 22) {
            double v = (double)m;
            v = e10 >= 0 ? v * df_doc_pow10[e10] : v / df_doc_pow10[-e10];
            *out = neg ? -v : v;
            return 1;
        }
        {
            char local[128];
            char* buf = local;
            char* end = NULL;
            double v;
            if (n >= 128) {
                buf = (char*)PyMem_Malloc(n + 1);
                if (buf == NULL) { PyErr_NoMemory(); return -1; }
            }
            memcpy(buf, s, n);
            buf[n] = 0;
            v = PyOS_string_to_double(buf, &end, NULL);
            if (buf != local) PyMem_Free(buf);
            if (v == -1.0 && PyErr_Occurred()) return -1;
            *out = v;
            return 1;
        }
    }

    /* df_decimal() when the 24 bytes from s may be read (the token and what follows it in the
       buffer). The usual venue number, D+ ('.' D*)? or '.' D+ in at most 16 bytes with at most
       15 digits (so below 2^53: one correctly rounded division, as in df_decimal), takes a few
       word operations; anything else goes to df_decimal(). */
    static const uint64_t df_doc_pow10_u64_16[17] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
        1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
        100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL};

    static inline int df_decimal24(const unsigned char* s, Py_ssize_t n, double* out) {
        uint64_t w, ip, fp, m;
        int k, r, f;
        if (!DF_DOC_LE || !DF_DOC_FAST_FLOAT || n < 1 || n > 16)
            return df_decimal(s, n, out);
        w = df_doc_load8(s);
        k = df_doc_digit_run8(w);
        ip = k ? df_doc_value_k(w, k) : 0;
        if (k == 8) {                       /* more integer digits */
            w = df_doc_load8(s + 8);
            r = df_doc_digit_run8(w);
            if (r) {
                ip = ip * df_doc_pow10_u64[r] + df_doc_value_k(w, r);
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
        w = df_doc_load8(s + k + 1);
        if (f <= 8) {
            if (df_doc_digit_run8(w) < f)
                return df_decimal(s, n, out);
            fp = df_doc_value_k(w, f);
        } else {
            if (df_doc_digit_run8(w) < 8)
                return df_decimal(s, n, out);
            fp = df_doc_value_k(w, 8);
            w = df_doc_load8(s + k + 9);
            if (df_doc_digit_run8(w) < f - 8)
                return df_decimal(s, n, out);
            fp = fp * df_doc_pow10_u64[f - 8] + df_doc_value_k(w, f - 8);
        }
        m = ip * df_doc_pow10_u64_16[f] + fp;
        *out = (double)m / df_doc_pow10[f];
        return 1;
    }
    """
    int df_decimal(const unsigned char* s, Py_ssize_t n, double* out) except -1
    int df_decimal24(const unsigned char* s, Py_ssize_t n, double* out) except -1
    int DF_DOC_LE
    int df_doc_digit_run8(uint64_t x) noexcept nogil
    uint64_t df_doc_load8(const unsigned char* p) noexcept nogil


ctypedef struct DocNode:
    uint32_t start    # offset of the token in the buffer (a string's opening quote)
    uint32_t size     # string: bytes between the quotes; number/literal: token length; container: members
    uint32_t next     # index of the value after this one's subtree
    uint8_t kind      # DOC_NULL ... DOC_OBJECT
    uint8_t flags     # DOC_F_ESCAPES (string), DOC_F_INTEGER (number)


cdef enum:
    DOC_NULL = 0
    DOC_FALSE = 1
    DOC_TRUE = 2
    DOC_NUMBER = 3
    DOC_STRING = 4
    DOC_ARRAY = 5
    DOC_OBJECT = 6
    DOC_F_ESCAPES = 1
    DOC_F_INTEGER = 2
    DOC_INLINE = 16   # tape entries stored inside the object (no allocation for small frames)


cdef class Doc:
    cdef object _src                    # owns the buffer (str, whose UTF-8 is cached, or bytes)
    cdef const unsigned char* _buf      # the UTF-8 text
    cdef Py_ssize_t _n
    cdef bint _is_str
    cdef DocNode* _tape                 # _inline or a heap block
    cdef Py_ssize_t _count
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _at_h               # at(): last (array, index, element) for sequential reads
    cdef Py_ssize_t _at_i
    cdef Py_ssize_t _at_e
    cdef DocNode _inline[DOC_INLINE]

    cdef int _check(self, Py_ssize_t h) except -1
    cdef str decode(self, Py_ssize_t h)
    # value ``h`` as float(text) for a number or a plain numeric string without escapes:
    # 1 and ``out`` set, 0 when ``h`` is anything else, -1 with an exception (memory)
    cdef int number(self, Py_ssize_t h, double* out) except -1
    cdef object value_of(self, Py_ssize_t h, bint text_numbers)
