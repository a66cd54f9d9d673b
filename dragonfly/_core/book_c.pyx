# cython: binding=False
"""L2 price-level order book for diff feeds: the compiled twin.

Behaviour, errors and counters are those of :mod:`dragonfly._core.book_py`
(read its module notes on levels, text kept for checksums and the depth cap).

Layout (``book_c.pxd``): each side keeps its levels in a slot pool of ``Level``
records that never move: price, quantity, the two texts (inside the record when
they fit in 32 bytes, which covers every venue seen so far; a separate block
otherwise), the ``(price, qty)`` tuple :meth:`Book.top` handed out for it and the
level's part of a checksum. The order is a two-level array: blocks of at most 32
``(key, slot)`` pairs, keys ascending with the best level first (bids keyed by
``-price``, asks by ``price``) and padded with +inf, and a directory of each
block's first key (with every eighth of those again on top). A lookup counts keys
below the one sought with vector compares (every eighth first key, eight first keys,
then the block's 32 keys): a fixed amount of work and no chain of dependent loads.
An insert or delete moves at most one block's keys (a full block is split, a nearly
empty one merged with a neighbour), so a change deep in a full-depth book costs what
one at the top does, and the depth cap drops the worst levels from the last blocks
without moving anything.

:meth:`Book.apply` copies the text of ``str``/``bytes`` prices and quantities
into the level; :meth:`Book.apply_doc` reads a
:class:`~dragonfly._core.doc_c.Doc`'s tape and buffer directly and creates no
Python object per level: numbers are converted from the buffer (``df_decimal24``)
and the texts copied from it (only when they differ from the ones the level keeps).

Each side records the best key changed since its :meth:`Book.top` tuple was built
and since the last checksum (the rank of that key is computed once, when asked).
:meth:`Book.top` (depth <= 32, per side) returns the tuple built last time while no
level it covers changed; otherwise it refills that tuple in place when nothing else
holds it, leaving alone the ranks that still hold their level's tuple, updating a
quantity in a level's tuple that only the book holds, and giving new levels the
tuples of levels gone (as CPython's own iterators reuse a result tuple nobody else
references). :meth:`Book.checksum` keeps each level's part of the text as its length
and its CRC from 0, and the register after each part of the last checksum computed;
the register being linear, it resumes after the last unchanged level, lets Kraken's
unchanged bids follow changed asks with one shift, and takes OKX's and Bitfinex's
interleaved parts in four independent runs joined by shifts.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_Check
from libc.math cimport INFINITY, isfinite
from libc.stdint cimport int32_t, uint32_t
from libc.string cimport memcmp, memcpy, memmove, memset

from ._json_c cimport DF_LE
from .doc_c cimport DOC_ARRAY, DOC_F_ESCAPES, DOC_NUMBER, DOC_STRING, Doc, DocNode

from ..errors import InvalidLevelError

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*)
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()
    PyObject* PyErr_NoMemory()
    Py_ssize_t _refcnt "Py_REFCNT" (PyObject* o)
    PyObject* _tuple_item "PyTuple_GET_ITEM" (PyObject* t, Py_ssize_t i)
    void _tuple_set "PyTuple_SET_ITEM" (PyObject* t, Py_ssize_t i, PyObject* o)
    Py_ssize_t _tuple_size "PyTuple_GET_SIZE" (PyObject* t)
    bint _tuple_check_exact "PyTuple_CheckExact" (PyObject* o)
    bint _float_check_exact "PyFloat_CheckExact" (PyObject* o)
    ctypedef struct PyFloatObject:
        double ob_fval
    # reference counting and type checks on borrowed pointers (the levels' tuples, the values)
    void _decref "Py_DECREF" (PyObject* o)
    void _incref "Py_INCREF" (PyObject* o)
    bint _unicode_check_exact "PyUnicode_CheckExact" (object o)
    bint _unicode_compact_ascii "PyUnicode_IS_COMPACT_ASCII" (object o)
    void* _unicode_data "PyUnicode_DATA" (object o)
    Py_ssize_t _unicode_length "PyUnicode_GET_LENGTH" (object o)

__all__ = ("Book", "CHECKSUM_KINDS", "DEFAULT_MAX_DEPTH", "MAX_MAX_DEPTH")

DEFAULT_MAX_DEPTH = 5000
MAX_MAX_DEPTH = 1_000_000
CHECKSUM_KINDS = ("crc32_top10_digits", "crc32_top25_interleaved", "crc32_top25_signed_amounts")
cdef str _KRAKEN = "crc32_top10_digits"
cdef str _OKX = "crc32_top25_interleaved"

# ---------------------------------------------------------------------------------------------------
# CRC32 (IEEE 802.3, reflected polynomial 0xEDB88320), the one zlib.crc32 computes: slicing-by-16
# tables (sixteen bytes per step on little-endian targets, a byte at a time elsewhere).

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #  define DF_BOOK_ALWAYS_INLINE static inline __attribute__((always_inline))
    #else
    #  define DF_BOOK_ALWAYS_INLINE static inline
    #endif
    static inline uint32_t df_book_load32(const unsigned char* p) {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    static inline uint64_t df_book_load64(const unsigned char* p) {
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    """
    uint32_t df_book_load32(const unsigned char* p) noexcept nogil


cdef extern from *:
    """
    /* Texts of at most 16 bytes when both sides may be read 16 bytes far (a level's text field,
       a document's buffer with room after the token): compared and copied as whole words. */
    #if defined(__SSE2__) || defined(_M_X64)
    #  include <emmintrin.h>
    static inline int df_book_eq16(const unsigned char* a, const unsigned char* b, Py_ssize_t n) {
        unsigned int m = (unsigned int)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)a), _mm_loadu_si128((const __m128i*)b)));
        return ((~m) & ((1u << n) - 1u)) == 0;
    }
    #else
    static inline int df_book_eq16(const unsigned char* a, const unsigned char* b, Py_ssize_t n) {
        return memcmp(a, b, (size_t)n) == 0;
    }
    #endif
    static inline void df_book_copy16(unsigned char* dst, const unsigned char* src) {
        memcpy(dst, src, 16);
    }

    /* Open a gap at index i of a block's n keys and slots, or close the one at i: a plain
       loop (a block is small, and a call to memmove with a varying size costs more than the
       move itself). */
    static inline void df_book_open(double* key, int32_t* slot, Py_ssize_t i, Py_ssize_t n) {
        Py_ssize_t t;
        for (t = n; t > i; t--) {
            key[t] = key[t - 1];
            slot[t] = slot[t - 1];
        }
    }
    static inline void df_book_close(double* key, int32_t* slot, Py_ssize_t i, Py_ssize_t n) {
        Py_ssize_t t;
        for (t = i; t < n - 1; t++) {
            key[t] = key[t + 1];
            slot[t] = slot[t + 1];
        }
    }
    """
    void df_book_open(double* key, int32_t* slot, Py_ssize_t i, Py_ssize_t n) noexcept nogil
    void df_book_close(double* key, int32_t* slot, Py_ssize_t i, Py_ssize_t n) noexcept nogil
    bint df_book_eq16(const unsigned char* a, const unsigned char* b, Py_ssize_t n) noexcept nogil
    void df_book_copy16(unsigned char* dst, const unsigned char* src) noexcept nogil
    # the decimal converters of _json_c.pxd, with the -1 (exception set) handled here
    int _decimal "df_decimal" (const unsigned char* s, Py_ssize_t n, double* out) noexcept
    int _decimal24 "df_decimal24" (const unsigned char* s, Py_ssize_t n, double* out) noexcept


cdef extern from *:
    """
    /* How many of a[0:n] are < key (strict) or <= key: the lower or upper bound of key in a
       sorted block, by comparing every key (vectorised, no chain of dependent loads as in a
       binary search). a holds n (a multiple of 4) keys, the unused ones +inf: a fixed amount of
       work. Always inline, so that strict is a constant and one comparison is compiled. */
    #if defined(__SSE2__) || defined(_M_X64)
    #  include <emmintrin.h>
    DF_BOOK_ALWAYS_INLINE Py_ssize_t df_book_count(const double* a, Py_ssize_t n, double key, int strict) {
        __m128d k = _mm_set1_pd(key), x, y;
        __m128i c0 = _mm_setzero_si128(), c1 = _mm_setzero_si128();
        Py_ssize_t i = 0;
        for (; i < n; i += 4) {
            x = _mm_loadu_pd(a + i);
            y = _mm_loadu_pd(a + i + 2);
            c0 = _mm_sub_epi64(c0, _mm_castpd_si128(strict ? _mm_cmplt_pd(x, k) : _mm_cmple_pd(x, k)));
            c1 = _mm_sub_epi64(c1, _mm_castpd_si128(strict ? _mm_cmplt_pd(y, k) : _mm_cmple_pd(y, k)));
        }
        c0 = _mm_add_epi64(c0, c1);
        return (Py_ssize_t)_mm_cvtsi128_si64(c0) + (Py_ssize_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(c0, c0));
    }
    #else
    DF_BOOK_ALWAYS_INLINE Py_ssize_t df_book_count(const double* a, Py_ssize_t n, double key, int strict) {
        Py_ssize_t c = 0, i;
        for (i = 0; i < n; i++)
            c += strict ? a[i] < key : a[i] <= key;
        return c;
    }
    #endif
    static inline Py_ssize_t df_book_count_less(const double* a, Py_ssize_t n, double key) {
        return df_book_count(a, n, key, 1);
    }
    static inline Py_ssize_t df_book_count_less_equal(const double* a, Py_ssize_t n, double key) {
        return df_book_count(a, n, key, 0);
    }
    """
    Py_ssize_t df_book_count_less(const double* a, Py_ssize_t n, double key) noexcept nogil
    Py_ssize_t df_book_count_less_equal(const double* a, Py_ssize_t n, double key) noexcept nogil

cdef extern from *:
    """
    /* The slicing-by-16 CRC32 tables (filled by _crc_init), and the shifts of the register
       that run once per level of a checksum, forced inline (they are on the critical path). */
    static uint32_t df_book_crc16[16][256];
    DF_BOOK_ALWAYS_INLINE uint32_t df_book_step16(uint32_t crc) {
        return df_book_crc16[15][crc & 0xFF] ^ df_book_crc16[14][(crc >> 8) & 0xFF]
               ^ df_book_crc16[13][(crc >> 16) & 0xFF] ^ df_book_crc16[12][crc >> 24];
    }
    /* The register after n (<= 16) zero bytes: each of its bytes b_i goes through table
       n - 1 - i, and what is not shifted out stays (fewer than 4 bytes: one step, not a chain
       of byte steps). */
    DF_BOOK_ALWAYS_INLINE uint32_t df_book_shift16(uint32_t crc, Py_ssize_t n) {
        if (n >= 4)
            return df_book_crc16[n - 1][crc & 0xFF] ^ df_book_crc16[n - 2][(crc >> 8) & 0xFF]
                   ^ df_book_crc16[n - 3][(crc >> 16) & 0xFF] ^ df_book_crc16[n - 4][crc >> 24];
        if (n == 3)
            return df_book_crc16[2][crc & 0xFF] ^ df_book_crc16[1][(crc >> 8) & 0xFF]
                   ^ df_book_crc16[0][(crc >> 16) & 0xFF] ^ (crc >> 24);
        if (n == 2)
            return df_book_crc16[1][crc & 0xFF] ^ df_book_crc16[0][(crc >> 8) & 0xFF] ^ (crc >> 16);
        if (n == 1)
            return df_book_crc16[0][crc & 0xFF] ^ (crc >> 8);
        return crc;
    }
    """
    uint32_t _CRC16 "df_book_crc16" [16][256]
    uint32_t df_book_step16(uint32_t crc) noexcept nogil
    uint32_t df_book_shift16(uint32_t crc, Py_ssize_t n) noexcept nogil


cdef void _crc_init() noexcept:
    cdef uint32_t c
    cdef int i, k
    for i in range(256):
        c = <uint32_t>i
        for k in range(8):
            if c & 1:
                c = <uint32_t>0xEDB88320u ^ (c >> 1)
            else:
                c = c >> 1
        _CRC16[0][i] = c
    for k in range(1, 16):
        for i in range(256):
            c = _CRC16[k - 1][i]
            _CRC16[k][i] = (c >> 8) ^ _CRC16[0][c & 0xFF]


_crc_init()

cdef enum:
    CRC_START = 0xFFFFFFFF   # the register before the first byte; the CRC is the register ^ CRC_START


cdef uint32_t _crc_unshift1(uint32_t y) noexcept:
    """The register ``x`` whose one-byte shift (``_crc_shift(x, 1)``) is ``y``: the top byte of
    ``_CRC16[0][b]`` is different for every ``b``, so it tells which ``b`` was shifted out."""
    cdef int b
    for b in range(256):
        if _CRC16[0][b] >> 24 == y >> 24:
            return ((y ^ _CRC16[0][b]) << 8) | <uint32_t>b
    return 0


# OKX and Bitfinex checksums join the levels with ':'. Each level's part is kept with the ':' in
# front ("':' price ':' quantity"), so every level is one step; the first level has no ':', so the
# register starts from the state that a ':' would take to CRC_START.
cdef uint32_t _CRC_START_COLON = _crc_unshift1(CRC_START ^ _CRC16[0][0x3A])


cdef uint32_t _crc_update(uint32_t crc, const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """The CRC register after ``p[:n]`` (``zlib.crc32(p[:n]) == _crc_update(CRC_START, p, n) ^ CRC_START``)."""
    cdef uint32_t a, b, c, d
    if DF_LE:
        while n >= 16:
            a = df_book_load32(p) ^ crc
            b = df_book_load32(p + 4)
            c = df_book_load32(p + 8)
            d = df_book_load32(p + 12)
            crc = (_CRC16[15][a & 0xFF] ^ _CRC16[14][(a >> 8) & 0xFF] ^ _CRC16[13][(a >> 16) & 0xFF] ^ _CRC16[12][a >> 24]
                   ^ _CRC16[11][b & 0xFF] ^ _CRC16[10][(b >> 8) & 0xFF] ^ _CRC16[9][(b >> 16) & 0xFF] ^ _CRC16[8][b >> 24]
                   ^ _CRC16[7][c & 0xFF] ^ _CRC16[6][(c >> 8) & 0xFF] ^ _CRC16[5][(c >> 16) & 0xFF] ^ _CRC16[4][c >> 24]
                   ^ _CRC16[3][d & 0xFF] ^ _CRC16[2][(d >> 8) & 0xFF] ^ _CRC16[1][(d >> 16) & 0xFF] ^ _CRC16[0][d >> 24])
            p += 16
            n -= 16
        if n >= 8:
            a = df_book_load32(p) ^ crc
            b = df_book_load32(p + 4)
            crc = (_CRC16[7][a & 0xFF] ^ _CRC16[6][(a >> 8) & 0xFF] ^ _CRC16[5][(a >> 16) & 0xFF] ^ _CRC16[4][a >> 24]
                   ^ _CRC16[3][b & 0xFF] ^ _CRC16[2][(b >> 8) & 0xFF] ^ _CRC16[1][(b >> 16) & 0xFF] ^ _CRC16[0][b >> 24])
            p += 8
            n -= 8
        if n >= 4:
            a = df_book_load32(p) ^ crc
            crc = _CRC16[3][a & 0xFF] ^ _CRC16[2][(a >> 8) & 0xFF] ^ _CRC16[1][(a >> 16) & 0xFF] ^ _CRC16[0][a >> 24]
            p += 4
            n -= 4
    while n > 0:
        crc = _CRC16[0][(crc ^ p[0]) & 0xFF] ^ (crc >> 8)
        p += 1
        n -= 1
    return crc


cdef inline uint32_t _crc_shift(uint32_t crc, Py_ssize_t n) noexcept nogil:
    """The CRC register after ``n`` zero bytes. The register update is linear, so the register
    after bytes ``d`` is ``_crc_shift(crc, len(d)) ^ _crc_update(0, d)``: a level's part
    of a checksum is kept as its length and its CRC from 0."""
    while n > 16:
        crc = _CRC16[15][crc & 0xFF] ^ _CRC16[14][(crc >> 8) & 0xFF] ^ _CRC16[13][(crc >> 16) & 0xFF] ^ _CRC16[12][crc >> 24]
        n -= 16
    if n >= 4:
        crc = (_CRC16[n - 1][crc & 0xFF] ^ _CRC16[n - 2][(crc >> 8) & 0xFF] ^ _CRC16[n - 3][(crc >> 16) & 0xFF]
               ^ _CRC16[n - 4][crc >> 24])
    else:
        while n > 0:
            crc = _CRC16[0][crc & 0xFF] ^ (crc >> 8)
            n -= 1
    return crc


cdef inline uint32_t _crc_shift16(uint32_t crc, Py_ssize_t n) noexcept nogil:
    """:func:`_crc_shift` for ``n`` <= 16."""
    return df_book_shift16(crc, n)


cdef void _crc_colon_init() noexcept:
    """The register from 0 after ':' and k zero bytes, for k = 0 to 16 (df_book_colon)."""
    cdef int k
    for k in range(17):
        _CRC_COLON[k] = _crc_shift(_CRC16[0][0x3A], k)


# Shifts by many bytes: _CRC_FAR[k] shifts by 32 << k bytes (k < FAR_STEPS) with four lookups,
# built from the 16-byte step. A shift by n bytes is then at most FAR_STEPS + 2 steps.

cdef enum:
    FAR_STEPS = 6     # 32, 64, ..., 1024 bytes

cdef uint32_t _CRC_FAR[FAR_STEPS][4][256]


cdef inline uint32_t _crc_step16(uint32_t crc) noexcept nogil:
    return df_book_step16(crc)


cdef inline uint32_t _crc_far_step(uint32_t crc, int k) noexcept nogil:
    return (_CRC_FAR[k][0][crc & 0xFF] ^ _CRC_FAR[k][1][(crc >> 8) & 0xFF] ^ _CRC_FAR[k][2][(crc >> 16) & 0xFF]
            ^ _CRC_FAR[k][3][crc >> 24])


cdef void _crc_far_init() noexcept:
    cdef int k, b, v
    cdef uint32_t x
    for k in range(FAR_STEPS):
        for b in range(4):
            for v in range(256):
                x = <uint32_t>v << (8 * b)
                if k == 0:
                    x = _crc_step16(_crc_step16(x))
                else:
                    x = _crc_far_step(_crc_far_step(x, k - 1), k - 1)
                _CRC_FAR[k][b][v] = x


_crc_far_init()


cdef inline uint32_t _crc_shift_far(uint32_t crc, Py_ssize_t n) noexcept nogil:
    """:func:`_crc_shift` in at most FAR_STEPS + 2 table steps (any ``n``)."""
    cdef Py_ssize_t a = n >> 4
    cdef int k = 0
    crc = _crc_shift16(crc, n & 15)
    if a & 1:
        crc = _crc_step16(crc)
    a >>= 1
    while a:
        if k == FAR_STEPS:  # beyond the tables: 16 bytes at a time
            return _crc_shift(crc, a << (5 + FAR_STEPS))
        if a & 1:
            crc = _crc_far_step(crc, k)
        a >>= 1
        k += 1
    return crc


cdef inline const uint32_t* _crc_tables(Py_ssize_t n) noexcept nogil:
    """The four slicing tables a shift by ``n`` (4 to 16) bytes uses, consecutive from
    ``_CRC16[n - 4]``; NULL for other lengths."""
    if 4 <= n <= 16:
        return &_CRC16[n - 4][0]
    return NULL


cdef extern from *:
    """
    /* The register after a part of n bytes whose CRC from 0 is part (t: the tables a shift by
       n uses, or NULL when n is not 4 to 16); longer than 32 bytes goes to the slow shift. */
    DF_BOOK_ALWAYS_INLINE int df_book_part_fast(Py_ssize_t n, const uint32_t* t) {
        return t != NULL || n <= 32;
    }
    DF_BOOK_ALWAYS_INLINE uint32_t df_book_part(uint32_t crc, uint32_t part, Py_ssize_t n, const uint32_t* t) {
        if (t != NULL)
            return t[768 + (crc & 0xFF)] ^ t[512 + ((crc >> 8) & 0xFF)] ^ t[256 + ((crc >> 16) & 0xFF)]
                   ^ t[crc >> 24] ^ part;
        if (n <= 16)
            return df_book_shift16(crc, n) ^ part;
        return df_book_shift16(df_book_step16(crc), n - 16) ^ part;
    }
    """
    bint df_book_part_fast(Py_ssize_t n, const uint32_t* t) noexcept nogil
    uint32_t df_book_part(uint32_t crc, uint32_t part, Py_ssize_t n, const uint32_t* t) noexcept nogil


cdef inline uint32_t _crc_part(uint32_t crc, uint32_t part, Py_ssize_t n, const uint32_t* t) noexcept nogil:
    """The register after a part of ``n`` bytes whose CRC from 0 is ``part`` (``t``:
    :func:`_crc_tables` of ``n``)."""
    if df_book_part_fast(n, t):
        return df_book_part(crc, part, n, t)
    return _crc_shift(crc, n) ^ part


cdef uint32_t _crc_fold(uint32_t start, const uint32_t* part, const Py_ssize_t* size,
                        const uint32_t** tab, Py_ssize_t n, uint32_t* states, Py_ssize_t* nstates) noexcept nogil:
    """The register after ``n`` parts from ``start``. One part depends on the register the
    previous one left, so the parts are taken in four runs at once, each from 0 but the first,
    and the runs joined by shifts (the register is linear in its start and in the text):
    about a quarter of the dependent steps. The registers after the parts of the first run
    go to ``states`` (``nstates`` of them)."""
    cdef Py_ssize_t q = n >> 2, i
    cdef uint32_t z1 = start, z2 = 0, z3 = 0, z4 = 0
    cdef Py_ssize_t l2 = 0, l3 = 0, l4 = 0
    if n < 12:
        for i in range(n):
            z1 = _crc_part(z1, part[i], size[i], tab[i])
            states[i] = z1
        nstates[0] = n
        return z1
    for i in range(q):
        z1 = _crc_part(z1, part[i], size[i], tab[i])
        states[i] = z1
        z2 = _crc_part(z2, part[q + i], size[q + i], tab[q + i])
        l2 += size[q + i]
        z3 = _crc_part(z3, part[2 * q + i], size[2 * q + i], tab[2 * q + i])
        l3 += size[2 * q + i]
        z4 = _crc_part(z4, part[3 * q + i], size[3 * q + i], tab[3 * q + i])
        l4 += size[3 * q + i]
    for i in range(4 * q, n):
        z4 = _crc_part(z4, part[i], size[i], tab[i])
        l4 += size[i]
    nstates[0] = q
    return _crc_shift_far(z1, l2 + l3 + l4) ^ _crc_shift_far(z2, l3 + l4) ^ _crc_shift_far(z3, l4) ^ z4


# The text of a level's part of a checksum, gathered in one buffer.

cdef enum:
    TEXT_LOCAL = 512
    PUT_PLAIN = 0
    PUT_KRAKEN = 1      # '.' removed, leading zeros stripped
    PUT_NEGATIVE = 2    # a '-' in front unless the text starts with one
    CS_KRAKEN = 1       # a level's part of a checksum: price and quantity as PUT_KRAKEN
    CS_PLAIN = 2        # ':' price ':' quantity
    CS_NEGATIVE = 3     # ':' price ':' quantity as PUT_NEGATIVE (Bitfinex asks)

cdef struct TextBuf:
    unsigned char* p
    Py_ssize_t n
    Py_ssize_t cap
    unsigned char local[TEXT_LOCAL]


cdef inline void _tb_init(TextBuf* b) noexcept:
    b.p = b.local
    b.n = 0
    b.cap = TEXT_LOCAL


cdef inline void _tb_free(TextBuf* b) noexcept:
    if b.p != b.local:
        PyMem_Free(b.p)


cdef int _tb_reserve(TextBuf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap = b.cap
    cdef unsigned char* q
    if b.n + extra <= cap:
        return 0
    while cap < b.n + extra:
        cap *= 2
    if b.p == b.local:
        q = <unsigned char*>PyMem_Malloc(cap)
        if q != NULL:
            memcpy(q, b.local, b.n)
    else:
        q = <unsigned char*>PyMem_Realloc(b.p, cap)
    if q == NULL:
        raise MemoryError()
    b.p = q
    b.cap = cap
    return 0


cdef inline int _tb_byte(TextBuf* b, unsigned char ch) except -1:
    if b.n == b.cap:
        _tb_reserve(b, 1)
    b.p[b.n] = ch
    b.n += 1
    return 0


cdef inline int _tb_put(TextBuf* b, const unsigned char* s, Py_ssize_t n, int mode) except -1:
    cdef Py_ssize_t i, k
    cdef unsigned char* out
    if b.n + n + 1 > b.cap:
        _tb_reserve(b, n + 1)
    if mode == PUT_KRAKEN:
        # every '.' removed, then the leading zeros: skip the leading run of '0' and '.', copy
        # the rest without its '.'s (branch-free: write every byte, advance past the non-dots)
        i = 0
        while i < n and (s[i] == b'0' or s[i] == b'.'):
            i += 1
        out = b.p + b.n
        k = 0
        while i < n:
            out[k] = s[i]
            k += s[i] != b'.'
            i += 1
        b.n += k
        return 0
    if mode == PUT_NEGATIVE and (n == 0 or s[0] != b'-'):
        b.p[b.n] = 0x2D
        b.n += 1
    memcpy(b.p + b.n, s, n)
    b.n += n
    return 0


cdef int _tb_repr(TextBuf* b, double number, int mode) except -1:
    """Append ``repr(number)``: the text of a price or quantity given as a number."""
    cdef bytes tmp = repr(number).encode()
    return _tb_put(b, <const unsigned char*>PyBytes_AS_STRING(tmp), PyBytes_GET_SIZE(tmp), mode)


# ---------------------------------------------------------------------------------------------------
# Numbers and text


cdef double _slow_float(object value, object entry) except? -1.0:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidLevelError(f"not a number: {value!r}", entry=entry) from None


cdef int _num_text(object value, object entry, double* out, const char** text, Py_ssize_t* size) except -1:
    """``float(value)`` (finite, else :class:`InvalidLevelError`) into ``out``, and the text the
    book keeps for it: the UTF-8 of a ``str``, the bytes of a ``bytes``, or none (``size`` 0)
    for anything else, which is rendered as ``repr`` of the number."""
    cdef const char* s = NULL
    cdef char* end = NULL
    cdef Py_ssize_t n = 0
    cdef double x
    if PyUnicode_Check(value):
        if _unicode_check_exact(value) and _unicode_compact_ascii(value):
            s = <const char*>_unicode_data(value)
            n = _unicode_length(value)
        else:
            s = PyUnicode_AsUTF8AndSize(value, &n)
            if s == NULL:  # a lone surrogate: float() refuses it too
                PyErr_Clear()
                x = _slow_float(value, entry)
                s = PyUnicode_AsUTF8AndSize(value, &n)
                if s == NULL:
                    raise UnicodeEncodeError("utf-8", value, 0, len(value), "not encodable")
    elif PyBytes_Check(value):
        s = PyBytes_AS_STRING(value)
        n = PyBytes_GET_SIZE(value)
    if s != NULL:
        x = PyOS_string_to_double(s, &end, NULL)
        if x == -1.0 and PyErr_Occurred() != NULL:
            PyErr_Clear()
            x = _slow_float(value, entry)
        elif end != s + n or n == 0:
            # trailing garbage, whitespace, underscores, embedded NUL:
            # let float() decide, exactly as the pure twin does
            x = _slow_float(value, entry)
    elif PyFloat_CheckExact(value):
        x = PyFloat_AS_DOUBLE(value)
    else:
        x = _slow_float(value, entry)
    if not isfinite(x):
        raise InvalidLevelError(f"not a finite number: {value!r}", entry=entry)
    out[0] = x + 0.0
    text[0] = s
    size[0] = n
    return 0


cdef inline object _pair(double a, double b):
    cdef tuple t = PyTuple_New(2)
    cdef object x = a
    cdef object y = b
    Py_INCREF(x)
    PyTuple_SET_ITEM(t, 0, x)
    Py_INCREF(y)
    PyTuple_SET_ITEM(t, 1, y)
    return t


# ---------------------------------------------------------------------------------------------------
# Levels (the slot pool)


cdef inline const unsigned char* _ptext(const Level* lv) noexcept:
    if lv.ext != NULL:
        return lv.ext
    return &lv.text[0]


cdef inline bint _same_texts(const Level* lv, const char* ps, Py_ssize_t pn, const char* qs, Py_ssize_t qn) noexcept:
    cdef const unsigned char* t
    if lv.plen != pn or lv.qlen != qn:
        return False
    t = _ptext(lv)
    return (pn == 0 or memcmp(t, ps, pn) == 0) and (qn == 0 or memcmp(t + pn, qs, qn) == 0)


cdef int _set_texts(Level* lv, const char* ps, Py_ssize_t pn, const char* qs, Py_ssize_t qn) noexcept:
    """Keep copies of the two texts (``ps``/``qs`` never point into ``lv``). -1 with
    MemoryError set, the level unchanged, when a long text's block cannot be allocated."""
    cdef unsigned char* dst
    if pn + qn <= LEVEL_TEXT:
        if lv.ext != NULL:
            PyMem_Free(lv.ext)
            lv.ext = NULL
        dst = lv.text
    else:
        dst = <unsigned char*>PyMem_Malloc(pn + qn)
        if dst == NULL:
            PyErr_NoMemory()
            return -1
        if lv.ext != NULL:
            PyMem_Free(lv.ext)
        lv.ext = dst
    if pn:
        memcpy(dst, ps, pn)
    if qn:
        memcpy(dst + pn, qs, qn)
    lv.plen = pn
    lv.qlen = qn
    lv.cs_form = 0
    return 0


cdef int _lv_reserve(BookSide* side, Py_ssize_t extra) noexcept:
    """Room in the slot pool for ``extra`` more slots than were ever handed out, in one step
    (a snapshot's levels, instead of doubling the pool again and again as they come): 0, or -1
    with MemoryError set."""
    cdef Py_ssize_t cap = side.lvcap if side.lvcap else 64
    cdef Level* lv
    while cap < side.lvused + extra:
        cap *= 2
    if cap == side.lvcap:
        return 0
    if cap > 0x7FFFFFFF:
        PyErr_NoMemory()
        return -1
    lv = <Level*>PyMem_Realloc(side.lv, cap * sizeof(Level))
    if lv == NULL:
        PyErr_NoMemory()
        return -1
    side.lv = lv
    side.lvcap = cap
    return 0


cdef Py_ssize_t _slot_new(BookSide* side) noexcept:
    """A free slot (its pair and ext NULL), or -1 with MemoryError set."""
    cdef Py_ssize_t s = side.free
    cdef Level* lv
    if s >= 0:
        side.free = side.lv[s].plen
    else:
        if side.lvused == side.lvcap and _lv_reserve(side, 1) < 0:  # doubles the pool (64 at first)
            return -1
        s = side.lvused
        side.lvused += 1
    lv = &side.lv[s]
    lv.pair = NULL
    lv.pair_old = 0
    lv.ext = NULL
    lv.plen = 0
    lv.qlen = 0
    lv.cs_form = 0
    return s


cdef inline bint _sole_pair(PyObject* p) noexcept:
    """Nothing but its level holds tuple ``p`` nor its two floats."""
    return (_refcnt(p) == 1 and _refcnt(_tuple_item(p, 0)) == 1 and _refcnt(_tuple_item(p, 1)) == 1
            and _float_check_exact(_tuple_item(p, 0)) and _float_check_exact(_tuple_item(p, 1)))


cdef inline void _slot_free(BookSide* side, Py_ssize_t s) noexcept:
    cdef Level* lv = &side.lv[s]
    cdef PyObject* p = lv.pair
    if p != NULL:
        lv.pair = NULL
        if side.npairs < PAIR_POOL and _sole_pair(p):
            side.pairs[side.npairs] = p  # a level that comes later gets it, with its numbers
            side.npairs += 1
        else:
            _decref(p)
    if lv.ext != NULL:
        PyMem_Free(lv.ext)
        lv.ext = NULL
    lv.plen = side.free
    side.free = s


# ---------------------------------------------------------------------------------------------------
# Sides: the block directory


cdef Block* _block_new(BookSide* side) noexcept:
    """An empty block, or NULL with MemoryError set."""
    cdef Block* b = side.spare
    if b != NULL:
        side.spare = NULL
    else:
        b = <Block*>PyMem_Malloc(sizeof(Block))
        if b == NULL:
            PyErr_NoMemory()
            return NULL
    b.n = 0
    _pad(b, 0)
    return b


cdef inline void _pad(Block* b, Py_ssize_t start) noexcept:
    """key[start:] = +inf."""
    cdef Py_ssize_t t
    for t in range(start, BLOCK):
        b.key[t] = INFINITY


cdef inline void _block_drop(BookSide* side, Block* b) noexcept:
    if side.spare == NULL:
        side.spare = b
    else:
        PyMem_Free(b)


cdef int _dir_reserve(BookSide* side, Py_ssize_t need) noexcept:
    """Room for ``need`` blocks in the directory; -1 with MemoryError set."""
    cdef Py_ssize_t cap, t
    cdef Block** blk
    cdef double* first
    cdef double* sup
    need += 8  # the directory search reads up to seven entries past the last block
    if need <= side.blkcap:
        return 0
    cap = side.blkcap * 2 if side.blkcap else 8
    while cap < need:
        cap *= 2
    blk = <Block**>PyMem_Realloc(side.blk, cap * sizeof(Block*))
    if blk == NULL:
        PyErr_NoMemory()
        return -1
    side.blk = blk
    first = <double*>PyMem_Realloc(side.first, cap * sizeof(double))
    if first == NULL:
        PyErr_NoMemory()
        return -1
    for t in range(side.blkcap, cap):  # unused entries are +inf (the search counts them)
        first[t] = INFINITY
    side.first = first
    sup = <double*>PyMem_Realloc(side.sup, (cap // 8 + 8) * sizeof(double))
    if sup == NULL:
        PyErr_NoMemory()
        return -1
    side.sup = sup
    side.blkcap = cap
    _sup_from(side, 0)
    return 0


cdef void _sup_from(BookSide* side, Py_ssize_t j) noexcept:
    """Refresh ``sup`` from the group of block ``j`` on (+inf past the last block)."""
    cdef Py_ssize_t k
    for k in range(j >> 3, side.blkcap // 8 + 8):
        side.sup[k] = side.first[k << 3] if (k << 3) < side.nblk else INFINITY


cdef inline void _set_first(BookSide* side, Py_ssize_t j, double key) noexcept:
    side.first[j] = key
    if (j & 7) == 0:
        side.sup[j >> 3] = key


cdef inline void _dir_insert(BookSide* side, Py_ssize_t j, Block* b) noexcept:
    """Put non-empty block ``b`` at directory position ``j`` (room reserved)."""
    memmove(&side.blk[j + 1], &side.blk[j], (side.nblk - j) * sizeof(Block*))
    memmove(&side.first[j + 1], &side.first[j], (side.nblk - j) * sizeof(double))
    side.blk[j] = b
    side.first[j] = b.key[0]
    side.nblk += 1
    _sup_from(side, j)


cdef inline void _dir_remove(BookSide* side, Py_ssize_t j) noexcept:
    _block_drop(side, side.blk[j])
    memmove(&side.blk[j], &side.blk[j + 1], (side.nblk - j - 1) * sizeof(Block*))
    memmove(&side.first[j], &side.first[j + 1], (side.nblk - j - 1) * sizeof(double))
    side.nblk -= 1
    side.first[side.nblk] = INFINITY
    _sup_from(side, j)


cdef inline bint _find(const BookSide* side, double key, Py_ssize_t* bj, Py_ssize_t* bi) noexcept:
    """Block ``bj`` and index ``bi`` where ``key`` is or would go; True when it is there."""
    cdef Py_ssize_t nblk = side.nblk, j, i
    cdef const Block* b
    if nblk == 0:
        bj[0] = 0
        bi[0] = 0
        return False
    # the last block whose first key is <= key: the best block (where most updates land), or
    # how many blocks after the first start at or below key (vector compares over the
    # directory, padded with +inf to a multiple of 4)
    if key < side.first[1]:
        j = 0
    else:  # the group of eight blocks (sup), then the block in it
        j = df_book_count_less_equal(side.sup + 1, ((nblk + 7) // 8 + 2) & ~3, key) << 3
        j += df_book_count_less_equal(side.first + j + 1, 8, key)
    b = side.blk[j]
    i = df_book_count_less(b.key, BLOCK, key)  # the keys past b.n are +inf
    bj[0] = j
    bi[0] = i
    return i < b.n and b.key[i] == key


cdef inline void _touch(BookSide* side, double key) noexcept:
    """Record a change at ``key``: the levels with a worse key may have moved."""
    if key < side.top_changed:
        side.top_changed = key
    if key < side.cs_changed:
        side.cs_changed = key


cdef Py_ssize_t _rank_of(const BookSide* side, double key, Py_ssize_t limit) noexcept:
    """How many levels have a key below ``key``, or ``limit`` when at least that many."""
    cdef Py_ssize_t r = 0, j
    cdef const Block* b
    if key == INFINITY:  # nothing changed
        return limit
    for j in range(side.nblk):
        b = side.blk[j]
        if b.key[b.n - 1] >= key:
            r += df_book_count_less(b.key, BLOCK, key)
            break
        r += b.n
        if r >= limit:
            break
    return r if r < limit else limit


cdef int _insert_at(BookSide* side, Py_ssize_t j, Py_ssize_t i, double key, Py_ssize_t s) noexcept:
    """Put ``(key, s)`` at index ``i`` of block ``j`` (where :func:`_find` put ``key``);
    -1 with MemoryError set, nothing changed, when a block cannot be allocated."""
    cdef Block* b
    cdef Block* nb
    cdef Py_ssize_t h
    if side.nblk == 0:
        if _dir_reserve(side, 1) < 0:
            return -1
        b = _block_new(side)
        if b == NULL:
            return -1
        b.key[0] = key
        b.slot[0] = <int32_t>s
        b.n = 1
        _dir_insert(side, 0, b)
        side.n = 1
        _touch(side, key)
        return 0
    b = side.blk[j]
    if b.n == BLOCK:  # split the full block in two halves
        if _dir_reserve(side, side.nblk + 1) < 0:
            return -1
        nb = _block_new(side)
        if nb == NULL:
            return -1
        h = BLOCK // 2
        memcpy(nb.key, &b.key[h], (BLOCK - h) * sizeof(double))
        memcpy(nb.slot, &b.slot[h], (BLOCK - h) * sizeof(int32_t))
        nb.n = BLOCK - h
        b.n = h
        _pad(b, h)
        _dir_insert(side, j + 1, nb)
        if i > h:
            j += 1
            i -= h
            b = nb
    df_book_open(b.key, b.slot, i, b.n)
    b.key[i] = key
    b.slot[i] = <int32_t>s
    b.n += 1
    if i == 0:
        _set_first(side, j, key)
    side.n += 1
    _touch(side, key)
    return 0


cdef void _merge_small(BookSide* side, Py_ssize_t j) noexcept:
    """Merge block ``j`` (fewer than BLOCK / 4 keys) with a neighbour when both fit in 3/4 of one."""
    cdef Block* a
    cdef Block* b
    if j + 1 < side.nblk and side.blk[j].n + side.blk[j + 1].n <= BLOCK * 3 // 4:
        pass
    elif j > 0 and side.blk[j - 1].n + side.blk[j].n <= BLOCK * 3 // 4:
        j -= 1
    else:
        return
    a = side.blk[j]
    b = side.blk[j + 1]
    memcpy(&a.key[a.n], b.key, b.n * sizeof(double))
    memcpy(&a.slot[a.n], b.slot, b.n * sizeof(int32_t))
    a.n += b.n
    _dir_remove(side, j + 1)


cdef void _delete_at(BookSide* side, Py_ssize_t j, Py_ssize_t i) noexcept:
    cdef Block* b = side.blk[j]
    cdef double key = b.key[i]
    _slot_free(side, b.slot[i])
    df_book_close(b.key, b.slot, i, b.n)
    b.n -= 1
    b.key[b.n] = INFINITY
    side.n -= 1
    if b.n == 0:
        _dir_remove(side, j)
    else:
        if i == 0:
            _set_first(side, j, b.key[0])
        if b.n < BLOCK // 4:
            _merge_small(side, j)
    _touch(side, key)


cdef inline bint _texts_fit16(const Level* lv, Py_ssize_t pn, Py_ssize_t qn) noexcept:
    return pn <= 16 and qn <= 16 and lv.ext == NULL


cdef int _set_level(BookSide* side, double price, double qty,
                    const char* ps, Py_ssize_t pn, const char* qs, Py_ssize_t qn, bint wide) noexcept:
    """Apply one delta: ``qty`` 0 deletes the level at ``price`` (if any), anything else sets
    it, keeping the texts given (``pn``/``qn`` 0: rendered from the number). ``wide``: 16 bytes
    may be read from ``ps`` and from ``qs``. 0, or -1 with MemoryError set."""
    cdef double key = -price if side.bid else price
    cdef Py_ssize_t j, i, s
    cdef Level* lv
    cdef bint same
    if _find(side, key, &j, &i):
        if qty == 0.0:
            _delete_at(side, j, i)
            return 0
        lv = &side.lv[side.blk[j].slot[i]]
        if wide and _texts_fit16(lv, pn, qn):
            same = (lv.plen == pn and lv.qlen == qn and df_book_eq16(lv.text, <const unsigned char*>ps, pn)
                    and df_book_eq16(lv.text + pn, <const unsigned char*>qs, qn))
            if not same:
                df_book_copy16(lv.text, <const unsigned char*>ps)
                df_book_copy16(lv.text + pn, <const unsigned char*>qs)
                lv.plen = pn
                lv.qlen = qn
                lv.cs_form = 0
        else:
            same = _same_texts(lv, ps, pn, qs, qn)
            if not same and _set_texts(lv, ps, pn, qs, qn) < 0:
                return -1
        if lv.qty != qty:
            lv.qty = qty
            lv.cs_form = 0  # a quantity given as a number is rendered from it
            lv.pair_old = 1
        elif same:
            return 0  # nothing changed
        _touch(side, key)
        return 0
    if qty == 0.0:
        return 0
    s = _slot_new(side)
    if s < 0:
        return -1
    lv = &side.lv[s]
    lv.price = price
    lv.qty = qty
    if wide and pn <= 16 and qn <= 16:
        df_book_copy16(lv.text, <const unsigned char*>ps)
        df_book_copy16(lv.text + pn, <const unsigned char*>qs)
        lv.plen = pn
        lv.qlen = qn
    elif _set_texts(lv, ps, pn, qs, qn) < 0:
        _slot_free(side, s)
        return -1
    if _insert_at(side, j, i, key, s) < 0:
        _slot_free(side, s)
        return -1
    return 0


cdef Py_ssize_t _truncate(BookSide* side, Py_ssize_t max_depth) noexcept:
    """Drop the worst levels beyond ``max_depth``; return how many."""
    cdef Py_ssize_t extra = side.n - max_depth
    cdef Py_ssize_t drop, k, t
    cdef double first = INFINITY
    cdef Block* b
    if extra <= 0:
        return 0
    drop = extra
    while drop > 0:
        b = side.blk[side.nblk - 1]
        k = b.n if b.n < drop else drop
        for t in range(b.n - k, b.n):
            _slot_free(side, b.slot[t])
        b.n -= k
        drop -= k
        first = b.key[b.n]  # the best key dropped so far
        _pad(b, b.n)
        if b.n == 0:
            _dir_remove(side, side.nblk - 1)
    side.n = max_depth
    _touch(side, first)
    return extra


cdef void _clear_side(BookSide* side) noexcept:
    cdef Py_ssize_t j, t
    cdef Block* b
    for j in range(side.nblk):
        b = side.blk[j]
        for t in range(b.n):
            _slot_free(side, b.slot[t])
        _block_drop(side, b)
        side.first[j] = INFINITY
    side.nblk = 0
    if side.sup != NULL:
        _sup_from(side, 0)
    side.n = 0
    side.free = -1  # every slot is free again: hand them out from the start
    side.lvused = 0
    _touch(side, -INFINITY)


cdef void _free_side(BookSide* side) noexcept:
    _clear_side(side)
    while side.npairs:
        side.npairs -= 1
        _decref(side.pairs[side.npairs])
    PyMem_Free(side.blk)
    PyMem_Free(side.first)
    PyMem_Free(side.sup)
    side.sup = NULL
    PyMem_Free(side.lv)
    PyMem_Free(side.spare)
    side.blk = NULL
    side.first = NULL
    side.lv = NULL
    side.spare = NULL
    side.blkcap = 0
    side.lvcap = 0


# ---------------------------------------------------------------------------------------------------
# Snapshots: an empty side loaded from sorted input in one pass


cdef struct Staged:
    # levels parsed into slots before they go into blocks
    double* key
    int32_t* slot
    Py_ssize_t n
    bint asc
    bint desc


cdef int _staged_init(Staged* st, Py_ssize_t cap) except -1:
    st.n = 0
    st.asc = True
    st.desc = True
    st.key = <double*>PyMem_Malloc((cap if cap > 0 else 1) * sizeof(double))
    st.slot = <int32_t*>PyMem_Malloc((cap if cap > 0 else 1) * sizeof(int32_t))
    if st.key == NULL or st.slot == NULL:
        PyMem_Free(st.key)
        PyMem_Free(st.slot)
        raise MemoryError()
    return 0


cdef void _staged_discard(BookSide* side, Staged* st) noexcept:
    """Free the staged slots and the arrays (the side stays empty)."""
    cdef Py_ssize_t i
    for i in range(st.n):
        _slot_free(side, st.slot[i])
    st.n = 0
    PyMem_Free(st.key)
    PyMem_Free(st.slot)
    st.key = NULL
    st.slot = NULL


cdef inline bint _stage(BookSide* side, Staged* st, Py_ssize_t s) noexcept:
    """Add slot ``s`` (its price set); False once the keys are neither strictly ascending nor
    strictly descending."""
    cdef double key = -side.lv[s].price if side.bid else side.lv[s].price
    cdef Py_ssize_t n = st.n
    st.key[n] = key
    st.slot[n] = <int32_t>s
    st.n = n + 1
    if n:
        if st.key[n - 1] >= key:
            st.asc = False
        if st.key[n - 1] <= key:
            st.desc = False
    return st.asc or st.desc


cdef int _staged_commit(BookSide* side, Staged* st) except -1:
    """Put the staged levels (strictly monotonic keys) into blocks, best first, without the
    zero quantities (deletes of absent levels); frees the arrays."""
    cdef Py_ssize_t n = st.n
    cdef Py_ssize_t i, k, j, nb, fill, take
    cdef double tk
    cdef int32_t ts
    cdef Block* b
    if st.desc and n > 1:
        i = 0
        k = n - 1
        while i < k:
            tk = st.key[i]
            st.key[i] = st.key[k]
            st.key[k] = tk
            ts = st.slot[i]
            st.slot[i] = st.slot[k]
            st.slot[k] = ts
            i += 1
            k -= 1
    k = 0
    for i in range(n):
        if side.lv[st.slot[i]].qty == 0.0:
            _slot_free(side, st.slot[i])
        else:
            st.key[k] = st.key[i]
            st.slot[k] = st.slot[i]
            k += 1
    st.n = k
    fill = BLOCK * 3 // 4  # room for inserts in every block
    nb = (k + fill - 1) // fill
    if _dir_reserve(side, nb) < 0:
        _staged_discard(side, st)
        raise MemoryError()
    for j in range(nb):  # every block first: a failure leaves the side empty
        b = _block_new(side)
        if b == NULL:
            for i in range(j):
                _block_drop(side, side.blk[i])
            _staged_discard(side, st)
            raise MemoryError()
        side.blk[j] = b
    for j in range(nb):
        b = side.blk[j]
        take = k - j * fill if k - j * fill < fill else fill
        memcpy(b.key, &st.key[j * fill], take * sizeof(double))
        memcpy(b.slot, &st.slot[j * fill], take * sizeof(int32_t))
        b.n = take  # (the keys past it are +inf: _block_new)
        side.first[j] = b.key[0]
    side.nblk = nb
    _sup_from(side, 0)
    side.n = k
    PyMem_Free(st.key)
    PyMem_Free(st.slot)
    st.key = NULL
    st.slot = NULL
    st.n = 0
    _touch(side, -INFINITY)
    return 0


cdef int _stage_level(BookSide* side, Staged* st, double price, double qty,
                      const char* ps, Py_ssize_t pn, const char* qs, Py_ssize_t qn, bint wide=False) except -1:
    """Stage the level in a new slot: 1, or 0 (the staged levels discarded, the side empty) once
    the prices are not strictly monotonic. ``wide``: 16 bytes may be read from ``ps`` and ``qs``."""
    cdef Py_ssize_t s = _slot_new(side)
    cdef Level* lv
    if s < 0:
        raise MemoryError()
    lv = &side.lv[s]
    lv.price = price
    lv.qty = qty
    if wide and pn <= 16 and qn <= 16:  # a new slot: no ext
        df_book_copy16(lv.text, <const unsigned char*>ps)
        df_book_copy16(lv.text + pn, <const unsigned char*>qs)
        lv.plen = pn
        lv.qlen = qn
    elif _set_texts(lv, ps, pn, qs, qn) < 0:
        _slot_free(side, s)
        raise MemoryError()
    if not _stage(side, st, s):
        _staged_discard(side, st)
        return 0
    return 1


cdef int _take_entry(BookSide* side, object entry, Staged* st) except -1:
    """Read the level ``entry`` as :meth:`Book.apply` does (a list or tuple: price, quantity, ...;
    InvalidLevelError otherwise), then set it (``st`` NULL: 1) or stage it (:func:`_stage_level`)."""
    cdef object ptext, qtext  # alive while their texts are in use
    cdef double price, qty
    cdef const char* ps
    cdef const char* qs
    cdef Py_ssize_t pn, qn
    if not isinstance(entry, (list, tuple)):
        raise InvalidLevelError(f"a level must be a list or tuple: {entry!r}", entry=entry)
    if len(entry) < 2:
        raise InvalidLevelError(f"a level needs a price and a quantity: {entry!r}", entry=entry)
    ptext = entry[0]
    qtext = entry[1]
    _num_text(ptext, entry, &price, &ps, &pn)
    _num_text(qtext, entry, &qty, &qs, &qn)
    if qty < 0.0:
        raise InvalidLevelError(f"negative quantity: {qtext!r}", entry=entry)
    if st != NULL:
        return _stage_level(side, st, price, qty, ps, pn, qs, qn)
    if _set_level(side, price, qty, ps, pn, qs, qn, False) < 0:
        return -1
    return 1


@cython.boundscheck(True)  # float() on an odd object may run code that shrinks ``entries``
cdef int _bulk_load(BookSide* side, object entries) except -1:
    """Fill an empty side from ``entries`` when their prices are strictly monotonic (venues
    send snapshots sorted). Returns 0, leaving the side empty, when they are not (the caller
    applies them level by level)."""
    cdef Py_ssize_t n = len(entries)
    cdef Py_ssize_t i
    cdef Staged st
    _staged_init(&st, n)
    try:
        for i in range(n):
            if not _take_entry(side, entries[i], &st):
                return 0
    except BaseException:
        _staged_discard(side, &st)
        raise
    _staged_commit(side, &st)
    return 1


# ---------------------------------------------------------------------------------------------------
# Documents


cdef inline int _doc_num(const DocNode* node, const unsigned char* buf, Py_ssize_t n, double* out,
                         const char** text) noexcept:
    """A number or a string without escapes: 1 with ``out`` = float(text) and ``text`` at its
    text; 0 for any other value; -1 with an exception set (memory)."""
    cdef Py_ssize_t start
    if node.kind == DOC_NUMBER:
        start = node.start
    elif node.kind == DOC_STRING and not (node.flags & DOC_F_ESCAPES):
        start = node.start + 1
    else:
        return 0
    text[0] = <const char*>buf + start
    if start + 24 <= n:
        return _decimal24(buf + start, node.size, out)
    return _decimal(buf + start, node.size, out)


cdef inline int _doc_level(Doc doc, Py_ssize_t e, double* price, double* qty,
                           const char** ps, Py_ssize_t* pn, const char** qs, Py_ssize_t* qn) noexcept:
    """1 with the price, the quantity and their texts when entry ``e`` is an array whose first
    two elements are numbers or plain numeric strings, finite, with a quantity >= 0 (then
    float() of their text is exactly what apply() computes); 0 for anything else; -1 with an
    exception set (memory)."""
    cdef const DocNode* tape = doc._tape
    cdef const DocNode* pnode
    cdef const DocNode* qnode
    cdef int r
    if tape[e].kind != DOC_ARRAY or tape[e].size < 2:
        return 0
    pnode = &tape[e + 1]
    qnode = &tape[pnode.next]
    r = _doc_num(pnode, doc._buf, doc._n, price, ps)
    if r != 1:
        return r
    r = _doc_num(qnode, doc._buf, doc._n, qty, qs)
    if r != 1:
        return r
    if not isfinite(price[0]) or not isfinite(qty[0]) or qty[0] < 0.0:
        return 0
    price[0] = price[0] + 0.0
    qty[0] = qty[0] + 0.0
    pn[0] = pnode.size
    qn[0] = qnode.size
    return 1


cdef inline bint _doc_wide(Doc doc, const char* ps, const char* qs) noexcept:
    """16 bytes may be read from both texts (they lie in the buffer with room after them)."""
    cdef const char* buf = <const char*>doc._buf
    return (ps - buf) + 16 <= doc._n and (qs - buf) + 16 <= doc._n


cdef int _bulk_load_doc(BookSide* side, Doc doc, Py_ssize_t h) except -1:
    """:func:`_bulk_load` for the level array at handle ``h``: returns 0, leaving the side
    empty, when the prices are not strictly monotonic or an entry is not a plain level
    (the caller then applies the entries one by one, which raises where apply() would)."""
    cdef const DocNode* tape = doc._tape
    cdef Py_ssize_t n = tape[h].size
    cdef Py_ssize_t i, e, pn = 0, qn = 0
    cdef const char* ps = NULL
    cdef const char* qs = NULL
    cdef double price, qty
    cdef Staged st
    cdef int r
    if side.free < 0 and _lv_reserve(side, n) < 0:
        raise MemoryError()
    _staged_init(&st, n)
    e = h + 1
    try:
        for i in range(n):
            r = _doc_level(doc, e, &price, &qty, &ps, &pn, &qs, &qn)
            if r < 0:
                raise MemoryError()
            if r == 0:
                _staged_discard(side, &st)
                return 0
            if not _stage_level(side, &st, price, qty, ps, pn, qs, qn, _doc_wide(doc, ps, qs)):
                return 0
            e = tape[e].next
    except BaseException:
        _staged_discard(side, &st)
        raise
    _staged_commit(side, &st)
    return 1


# ---------------------------------------------------------------------------------------------------
# Views


cdef inline object _level_pair(BookSide* side, Level* lv, bint keep):
    """The level's ``(price, qty)`` tuple. The one handed out before is kept (``keep``) and
    given again; when the quantity changed since and nothing but the level holds that tuple
    (nor its quantity float), it is brought up to date in place, as CPython's own iterators
    reuse a result tuple nobody else references. A level without one takes a tuple of a
    deleted level that nothing else held, with its numbers set; otherwise a new one is made."""
    cdef PyObject* p = lv.pair
    cdef PyObject* q
    cdef object t
    if p != NULL:
        if not lv.pair_old:
            return <object>p
        if _refcnt(p) == 1:
            q = _tuple_item(p, 1)
            if _refcnt(q) == 1 and _float_check_exact(q):
                (<PyFloatObject*>q).ob_fval = lv.qty
            else:
                t = lv.qty
                _incref(<PyObject*>t)
                _tuple_set(p, 1, <PyObject*>t)
                _decref(q)
            lv.pair_old = 0
            return <object>p
        lv.pair = NULL
        _decref(p)
    if keep and side.npairs:
        side.npairs -= 1
        p = side.pairs[side.npairs]
        (<PyFloatObject*>_tuple_item(p, 0)).ob_fval = lv.price
        (<PyFloatObject*>_tuple_item(p, 1)).ob_fval = lv.qty
        lv.pair = p
        lv.pair_old = 0
        return <object>p
    t = _pair(lv.price, lv.qty)
    if keep:
        _incref(<PyObject*>t)
        lv.pair = <PyObject*>t
        lv.pair_old = 0
    return t


cdef inline void _let_go(BookSide* side, PyObject* item) noexcept:
    """Drop a reference to a level's tuple held by a top() tuple; one that nothing else holds
    (its level is gone) is kept for a new level."""
    if side.npairs < PAIR_POOL and _sole_pair(item):
        side.pairs[side.npairs] = item
        side.npairs += 1
    else:
        _decref(item)


cdef tuple _top(BookSide* side, Py_ssize_t depth, PyObject* old=NULL):
    """The best ``depth`` levels' tuples, best first. ``old``: the tuple this side's top()
    gave last time (borrowed), refilled in place when nothing else holds it and the size is
    the same: a rank that still holds its level's tuple is left alone (and a quantity that
    changed is updated in that tuple when only the level and ``old`` hold it)."""
    cdef Py_ssize_t n = depth if depth < side.n else side.n
    cdef tuple out
    cdef Py_ssize_t i = 0, j = 0, t, m
    cdef const Block* b
    cdef object pair
    cdef PyObject* item
    cdef PyObject* q
    cdef Level* lv
    cdef bint refill = (old != NULL and n > 0 and _tuple_check_exact(old) and _refcnt(old) == 1
                        and _tuple_size(old) == n)
    out = <tuple>old if refill else PyTuple_New(n)
    while i < n:
        b = side.blk[j]
        m = b.n if b.n < n - i else n - i
        for t in range(m):
            lv = &side.lv[b.slot[t]]
            if refill:
                item = _tuple_item(old, i)
                if item != NULL and item == lv.pair:
                    if not lv.pair_old:
                        i += 1
                        continue  # the same tuple at the same rank
                    q = _tuple_item(item, 1)
                    if _refcnt(item) == 2 and _refcnt(q) == 1 and _float_check_exact(q):
                        (<PyFloatObject*>q).ob_fval = lv.qty  # held by the level and ``old`` only
                        lv.pair_old = 0
                        i += 1
                        continue
                _tuple_set(old, i, NULL)
                if item != NULL:  # (NULL: a refill that ran out of memory)
                    _let_go(side, item)
            pair = _level_pair(side, lv, i < TRACKED_RANKS)
            Py_INCREF(pair)
            PyTuple_SET_ITEM(out, i, pair)
            i += 1
        j += 1
    return out


cdef Py_ssize_t _top_levels(BookSide* side, Py_ssize_t depth, Level** out, Py_ssize_t first) noexcept:
    """Pointers to the levels of ranks ``first`` to ``depth`` - 1 in ``out[first:]``; returns how
    many levels the best ``depth`` are."""
    cdef Py_ssize_t n = depth if depth < side.n else side.n
    cdef Py_ssize_t i = 0, j = 0, t
    cdef const Block* b
    while i < n:
        b = side.blk[j]
        j += 1
        if i + b.n <= first:  # a block before the first rank asked
            i += b.n
            continue
        t = first - i if first > i else 0
        i += t
        while t < b.n and i < n:
            out[i] = &side.lv[b.slot[t]]
            i += 1
            t += 1
    return n


cdef bytes _text_bytes(const Level* lv, bint price):
    cdef Py_ssize_t n = lv.plen if price else lv.qlen
    if n == 0:
        return repr(lv.price if price else lv.qty).encode()
    return PyBytes_FromStringAndSize(<const char*>_ptext(lv) + (0 if price else lv.plen), n)


cdef list _top_text(BookSide* side, Py_ssize_t depth):
    cdef Py_ssize_t n = depth if depth < side.n else side.n
    cdef list out = []
    cdef Py_ssize_t i = 0, j = 0, t, m
    cdef const Block* b
    cdef const Level* lv
    while i < n:
        b = side.blk[j]
        m = b.n if b.n < n - i else n - i
        for t in range(m):
            lv = &side.lv[b.slot[t]]
            out.append((_text_bytes(lv, True), _text_bytes(lv, False)))
            i += 1
        j += 1
    return out


cdef inline int _put_text(TextBuf* buf, const Level* lv, bint price, int mode) except -1:
    """Append a level's price or quantity text to ``buf`` (``mode``: PUT_*)."""
    if price:
        if lv.plen == 0:
            return _tb_repr(buf, lv.price, mode)
        return _tb_put(buf, _ptext(lv), lv.plen, mode)
    if lv.qlen == 0:
        return _tb_repr(buf, lv.qty, mode)
    return _tb_put(buf, _ptext(lv) + lv.plen, lv.qlen, mode)


cdef extern from *:
    """
    /* The 16-byte step of the CRC register over p[0:16]. */
    DF_BOOK_ALWAYS_INLINE uint32_t df_book_crc_block16(uint32_t crc, const unsigned char* p) {
        uint32_t a = df_book_load32(p) ^ crc, b = df_book_load32(p + 4), c = df_book_load32(p + 8),
                 d = df_book_load32(p + 12);
        return df_book_crc16[15][a & 0xFF] ^ df_book_crc16[14][(a >> 8) & 0xFF]
               ^ df_book_crc16[13][(a >> 16) & 0xFF] ^ df_book_crc16[12][a >> 24]
               ^ df_book_crc16[11][b & 0xFF] ^ df_book_crc16[10][(b >> 8) & 0xFF]
               ^ df_book_crc16[9][(b >> 16) & 0xFF] ^ df_book_crc16[8][b >> 24]
               ^ df_book_crc16[7][c & 0xFF] ^ df_book_crc16[6][(c >> 8) & 0xFF]
               ^ df_book_crc16[5][(c >> 16) & 0xFF] ^ df_book_crc16[4][c >> 24]
               ^ df_book_crc16[3][d & 0xFF] ^ df_book_crc16[2][(d >> 8) & 0xFF]
               ^ df_book_crc16[1][(d >> 16) & 0xFF] ^ df_book_crc16[0][d >> 24];
    }
    /* The CRC register from 0 after the n (1 to 16) bytes at p, 16 of which may be read.
       Zero bytes leave a zero register as it is, so the text is taken as the last n bytes of
       16 (shifted to the top of two words, the bytes past it shifted out): one fixed 16-byte
       step, in registers (no byte loop whose count varies, no store to read back). */
    DF_BOOK_ALWAYS_INLINE uint32_t df_book_crc_text16(const unsigned char* p, Py_ssize_t n) {
        uint64_t a, b;
        uint32_t a0, a1, b0, b1;
        if (n <= 8) {
            b = df_book_load64(p) << (8 * (8 - n));
            b0 = (uint32_t)b;
            b1 = (uint32_t)(b >> 32);
            return df_book_crc16[7][b0 & 0xFF] ^ df_book_crc16[6][(b0 >> 8) & 0xFF]
                   ^ df_book_crc16[5][(b0 >> 16) & 0xFF] ^ df_book_crc16[4][b0 >> 24]
                   ^ df_book_crc16[3][b1 & 0xFF] ^ df_book_crc16[2][(b1 >> 8) & 0xFF]
                   ^ df_book_crc16[1][(b1 >> 16) & 0xFF] ^ df_book_crc16[0][b1 >> 24];
        }
        a = df_book_load64(p) << (8 * (16 - n));
        b = df_book_load64(p + n - 8);
        a0 = (uint32_t)a;
        a1 = (uint32_t)(a >> 32);
        b0 = (uint32_t)b;
        b1 = (uint32_t)(b >> 32);
        return df_book_crc16[15][a0 & 0xFF] ^ df_book_crc16[14][(a0 >> 8) & 0xFF]
               ^ df_book_crc16[13][(a0 >> 16) & 0xFF] ^ df_book_crc16[12][a0 >> 24]
               ^ df_book_crc16[11][a1 & 0xFF] ^ df_book_crc16[10][(a1 >> 8) & 0xFF]
               ^ df_book_crc16[9][(a1 >> 16) & 0xFF] ^ df_book_crc16[8][a1 >> 24]
               ^ df_book_crc16[7][b0 & 0xFF] ^ df_book_crc16[6][(b0 >> 8) & 0xFF]
               ^ df_book_crc16[5][(b0 >> 16) & 0xFF] ^ df_book_crc16[4][b0 >> 24]
               ^ df_book_crc16[3][b1 & 0xFF] ^ df_book_crc16[2][(b1 >> 8) & 0xFF]
               ^ df_book_crc16[1][(b1 >> 16) & 0xFF] ^ df_book_crc16[0][b1 >> 24];
    }
    /* df_book_colon[k]: the register from 0 after ':' and k zero bytes (k <= 16; filled at import). */
    static uint32_t df_book_colon[17];
    /* The CRC register from 0 after ':' p[0:pn] ':' q[0:qn] (1 <= pn, qn <= 16, 16 bytes
       readable from p and from q). The register being linear in the text, it is
       shift(R(':' p), 1 + qn) ^ R(':' + qn zeros) ^ R(q), with R(':' p) = R(':' + pn zeros) ^ R(p):
       the two texts' registers are independent, and the joins are table steps. */
    static inline uint32_t df_book_crc_colon_pair(const unsigned char* p, Py_ssize_t pn,
                                                  const unsigned char* q, Py_ssize_t qn) {
        uint32_t head = df_book_colon[pn] ^ df_book_crc_text16(p, pn);
        uint32_t tail = df_book_colon[qn] ^ df_book_crc_text16(q, qn);
        if (qn < 16)
            return df_book_shift16(head, 1 + qn) ^ tail;
        return df_book_shift16(df_book_step16(head), 1) ^ tail;
    }
    """
    uint32_t df_book_crc_colon_pair(const unsigned char* p, Py_ssize_t pn, const unsigned char* q,
                                    Py_ssize_t qn) noexcept nogil
    uint32_t _CRC_COLON "df_book_colon" [17]


_crc_colon_init()


cdef int _cs_part(Level* lv, int form, TextBuf* buf) except -1:
    """Keep the level's part of a checksum in ``form`` (CS_*): its length and CRC from 0."""
    if DF_LE and form == CS_PLAIN and lv.ext == NULL and 0 < lv.plen <= 16 and 0 < lv.qlen <= 16:
        # texts inside the level (32 bytes: 16 may be read from each), the usual case
        lv.cs_crc = df_book_crc_colon_pair(lv.text, lv.plen, lv.text + lv.plen, lv.qlen)
        lv.cs_len = 2 + lv.plen + lv.qlen
        lv.cs_form = form
        return 0
    buf.n = 0
    if form == CS_KRAKEN:
        _put_text(buf, lv, True, PUT_KRAKEN)
        _put_text(buf, lv, False, PUT_KRAKEN)
    else:
        _tb_byte(buf, 0x3A)
        _put_text(buf, lv, True, PUT_PLAIN)
        _tb_byte(buf, 0x3A)
        _put_text(buf, lv, False, PUT_NEGATIVE if form == CS_NEGATIVE else PUT_PLAIN)
    lv.cs_crc = _crc_update(0, buf.p, buf.n)
    lv.cs_len = buf.n
    lv.cs_form = form
    return 0


cdef inline Py_ssize_t _cs_gather(Level* lv, int form, TextBuf* buf, uint32_t* parts, Py_ssize_t* sizes,
                                  const uint32_t** tabs, Py_ssize_t m) except -1:
    """The level's part of a checksum in ``form`` (made unless it is the one kept) as part ``m``
    of :func:`_crc_fold`'s input; returns ``m + 1``."""
    if lv.cs_form != form:
        _cs_part(lv, form, buf)
    parts[m] = lv.cs_crc
    sizes[m] = lv.cs_len
    tabs[m] = _crc_tables(lv.cs_len)
    return m + 1


# ---------------------------------------------------------------------------------------------------


cdef class Book:
    """An L2 price-level book of one instrument, fed by deltas.

    Parameters
    ----------
    max_depth : int
        Levels kept per side after each :meth:`apply`; 1 to 1,000,000,
        default 5000.
    """

    def __cinit__(self):
        memset(&self._bids, 0, sizeof(BookSide))
        memset(&self._asks, 0, sizeof(BookSide))
        self._bids.bid = True
        self._bids.free = -1
        self._bids.top_changed = -INFINITY
        self._bids.cs_changed = -INFINITY
        self._asks.bid = False
        self._asks.free = -1
        self._asks.top_changed = -INFINITY
        self._asks.cs_changed = -INFINITY
        self._top_b_depth = -1
        self._top_a_depth = -1
        self._cs_kind = 0
        self._truncated = 0

    def __init__(self, max_depth=DEFAULT_MAX_DEPTH):
        if isinstance(max_depth, bool) or not isinstance(max_depth, int):
            raise TypeError(f"max_depth must be an int, not {type(max_depth).__name__}")
        if not 1 <= max_depth <= MAX_MAX_DEPTH:
            raise ValueError(f"max_depth must be in [1, {MAX_MAX_DEPTH}], got {max_depth}")
        self._max_depth = max_depth

    def __dealloc__(self):
        _free_side(&self._bids)
        _free_side(&self._asks)

    # -- properties ----------------------------------------------------------------------------------

    @property
    def max_depth(self):
        """Levels kept per side."""
        return self._max_depth

    @property
    def truncated(self):
        """Levels dropped by the depth cap since the book was created."""
        return self._truncated

    @property
    def bid_count(self):
        """Number of bid levels."""
        return self._bids.n

    @property
    def ask_count(self):
        """Number of ask levels."""
        return self._asks.n

    def __len__(self):
        return self._bids.n + self._asks.n

    def __repr__(self):
        return f"<Book bids={self.bid_count} asks={self.ask_count} best={self.best_bid()}/{self.best_ask()}>"

    # -- updates -------------------------------------------------------------------------------------

    def clear(self):
        """Remove every level (before loading a snapshot)."""
        _clear_side(&self._bids)
        _clear_side(&self._asks)

    def apply(self, bids, asks):
        """Apply a batch of deltas, bids first, each side in the given order,
        then enforce the depth cap. See :meth:`dragonfly._core.book_py.Book.apply`."""
        self._apply_side(&self._bids, bids)
        self._apply_side(&self._asks, asks)
        self._truncated += _truncate(&self._bids, self._max_depth) + _truncate(&self._asks, self._max_depth)

    cdef int _apply_side(self, BookSide* side, object entries) except -1:
        cdef object entry
        if side.n == 0 and (type(entries) is list or type(entries) is tuple) and len(entries) >= 16:
            # an empty side (a snapshot): load sorted input without per-level moves
            try:
                if _bulk_load(side, entries):
                    return 0
            except InvalidLevelError:
                pass  # the side is empty again: the path below applies the prefix and raises
        for entry in entries:
            self._apply_entry(side, entry)
        return 0

    cdef int _apply_entry(self, BookSide* side, object entry) except -1:
        _take_entry(side, entry, NULL)
        return 0

    def apply_doc(self, doc, Py_ssize_t bids, Py_ssize_t asks):
        """Apply the level arrays at handles ``bids`` and ``asks`` of a parsed document
        (``-1``: no change on that side), then enforce the depth cap. See
        :meth:`dragonfly._core.book_py.Book.apply_doc`."""
        cdef Doc d
        if type(doc) is Doc:
            d = <Doc>doc
            if bids != -1:
                d._check(bids)
            if asks != -1:
                d._check(asks)
            if bids != -1:
                self._apply_doc_side(&self._bids, d, bids)
            if asks != -1:
                self._apply_doc_side(&self._asks, d, asks)
        else:  # another implementation of the document: through its Python values
            if bids != -1:
                doc.kind(bids)
            if asks != -1:
                doc.kind(asks)
            if bids != -1:
                self._apply_side(&self._bids, doc.value(bids, text_numbers=True))
            if asks != -1:
                self._apply_side(&self._asks, doc.value(asks, text_numbers=True))
        self._truncated += _truncate(&self._bids, self._max_depth) + _truncate(&self._asks, self._max_depth)

    cdef int _apply_doc_side(self, BookSide* side, Doc doc, Py_ssize_t h) except -1:
        cdef const DocNode* tape = doc._tape
        cdef Py_ssize_t i, n, e, pn = 0, qn = 0
        cdef const char* ps = NULL
        cdef const char* qs = NULL
        cdef double price, qty
        cdef int r
        if tape[h].kind != DOC_ARRAY:
            # whatever apply() does with that value (an object iterates its keys, null raises TypeError)
            return self._apply_side(side, doc.value_of(h, True))
        n = tape[h].size
        if side.n == 0 and n >= 16:
            # an empty side (a snapshot): load sorted input without per-level moves
            if _bulk_load_doc(side, doc, h):
                return 0
        e = h + 1
        for i in range(n):
            r = _doc_level(doc, e, &price, &qty, &ps, &pn, &qs, &qn)
            if r > 0:
                if _set_level(side, price, qty, ps, pn, qs, qn, _doc_wide(doc, ps, qs)) < 0:
                    return -1
            elif r == 0:
                # anything unusual (and every error) takes apply()'s own path on the entry's value
                self._apply_entry(side, doc.value_of(e, True))
            else:
                return -1
            e = tape[e].next
        return 0

    # -- views ---------------------------------------------------------------------------------------

    cdef Py_ssize_t top_into(self, bint bid, Py_ssize_t depth, double* price, double* qty) noexcept:
        """Copy the best ``depth`` levels of one side into C arrays, best
        first; return how many were copied."""
        cdef BookSide* side = &self._bids if bid else &self._asks
        cdef Py_ssize_t n = depth if depth < side.n else side.n
        cdef Py_ssize_t i = 0, j = 0, t, m
        cdef const Block* b
        cdef const Level* lv
        if n < 0:
            return 0
        while i < n:
            b = side.blk[j]
            m = b.n if b.n < n - i else n - i
            for t in range(m):
                lv = &side.lv[b.slot[t]]
                price[i] = lv.price
                qty[i] = lv.qty
                i += 1
            j += 1
        return n

    def top(self, Py_ssize_t depth):
        """The best ``depth`` levels of each side, best first: ``(bids, asks)``."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        if depth == 0 or depth > TRACKED_RANKS:
            return _top(&self._bids, depth), _top(&self._asks, depth)
        # a side whose best ``depth`` levels did not change since the last call gives the same
        # tuple, and the same (bids, asks) pair when neither changed
        cdef bint new_b = self._top_b_depth != depth or _rank_of(&self._bids, self._bids.top_changed, depth) < depth
        cdef bint new_a = self._top_a_depth != depth or _rank_of(&self._asks, self._asks.top_changed, depth) < depth
        if not new_b and not new_a and self._top_pair is not None:
            return self._top_pair
        # let go of the sides' tuples, which may then be refilled; a pair nothing else holds is
        # refilled too (its items taken out now, put back below)
        cdef object pair = self._top_pair
        cdef PyObject* item
        cdef int k
        self._top_pair = None
        if pair is not None and _refcnt(<PyObject*>pair) == 1:
            for k in range(2):
                item = _tuple_item(<PyObject*>pair, k)
                _tuple_set(<PyObject*>pair, k, NULL)
                _decref(item)
        else:
            pair = None
        if new_b:
            self._top_b_depth = -1  # valid again once built
            self._top_b = _top(&self._bids, depth, <PyObject*>self._top_b)
            self._top_b_depth = depth
            self._bids.top_changed = INFINITY
        if new_a:
            self._top_a_depth = -1
            self._top_a = _top(&self._asks, depth, <PyObject*>self._top_a)
            self._top_a_depth = depth
            self._asks.top_changed = INFINITY
        if pair is None:
            self._top_pair = (self._top_b, self._top_a)
        else:
            Py_INCREF(self._top_b)
            _tuple_set(<PyObject*>pair, 0, <PyObject*>self._top_b)
            Py_INCREF(self._top_a)
            _tuple_set(<PyObject*>pair, 1, <PyObject*>self._top_a)
            self._top_pair = pair
        return self._top_pair

    def bids(self):
        """Every bid level, best (highest) first."""
        return _top(&self._bids, self._bids.n)

    def asks(self):
        """Every ask level, best (lowest) first."""
        return _top(&self._asks, self._asks.n)

    def best_bid(self):
        """``(price, qty)`` of the best bid, or None."""
        if self._bids.n == 0:
            return None
        return _level_pair(&self._bids, &self._bids.lv[self._bids.blk[0].slot[0]], True)

    def best_ask(self):
        """``(price, qty)`` of the best ask, or None."""
        if self._asks.n == 0:
            return None
        return _level_pair(&self._asks, &self._asks.lv[self._asks.blk[0].slot[0]], True)

    def is_crossed(self):
        """True when both sides exist and best bid >= best ask."""
        if self._bids.n == 0 or self._asks.n == 0:
            return False
        return self._bids.lv[self._bids.blk[0].slot[0]].price >= self._asks.lv[self._asks.blk[0].slot[0]].price

    def top_text(self, Py_ssize_t depth):
        """The best ``depth`` levels as the text the checksums use."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        return _top_text(&self._bids, depth), _top_text(&self._asks, depth)

    # -- checksums -----------------------------------------------------------------------------------

    def checksum(self, kind):
        """A checksum of the current book: ``"crc32_top10_digits"`` (unsigned CRC32),
        ``"crc32_top25_interleaved"`` or ``"crc32_top25_signed_amounts"`` (signed 32-bit).
        See the pure twin for the exact definitions. The value is kept until a level it covers
        changes, and then computed again from the first level that did."""
        cdef int kid
        if kind is _KRAKEN:  # the usual call passes the interned literal
            kid = 1
        elif kind is _OKX:
            kid = 2
        else:
            kid = 1 if kind == "crc32_top10_digits" else 2 if kind == "crc32_top25_interleaved" else 3 if kind == "crc32_top25_signed_amounts" else 0
        if kid == 0:
            raise ValueError(f"unknown checksum kind {kind!r}; expected one of {CHECKSUM_KINDS}")
        return self._checksum(kid)

    cdef long long _checksum(self, int kid) except? -1:
        cdef Py_ssize_t depth = 10 if kid == 1 else 25
        cdef Level* bl[25]
        cdef Level* al[25]
        cdef Level* lv
        cdef uint32_t parts[CS_ITEMS]
        cdef Py_ssize_t sizes[CS_ITEMS]
        cdef const uint32_t* tabs[CS_ITEMS]
        cdef Py_ssize_t nb, na, rb, ra, k, t, top, m, kept
        cdef Py_ssize_t r = 0, start = 0
        cdef uint32_t crc
        cdef long long value
        cdef TextBuf buf
        cdef int ask_form = CS_NEGATIVE if kid == 3 else CS_PLAIN
        # the levels before the first one that changed since the last computation of this kind
        # give the same text: resume the CRC from the state after them
        if kid == self._cs_kind:
            rb = _rank_of(&self._bids, self._bids.cs_changed, depth)
            ra = _rank_of(&self._asks, self._asks.cs_changed, depth)
            if ra == depth and rb == depth:
                return self._cs_value
            if kid == 1:  # the asks, then the bids
                if ra < depth:
                    start = ra if ra < self._cs_na else self._cs_na
                else:
                    start = self._cs_na + (rb if rb < self._cs_nb else self._cs_nb)
                if start > self._cs_valid:
                    start = self._cs_valid
                if rb == depth and self._cs_valid >= self._cs_na:
                    return self._kraken_asks_only(start)
            else:  # bid and ask of each rank
                r = ra if ra < rb else rb
                start = (r if r < self._cs_nb else self._cs_nb) + (r if r < self._cs_na else self._cs_na)
                while start > self._cs_valid:  # back to a rank whose state was kept
                    r -= 1
                    start = (r if r < self._cs_nb else self._cs_nb) + (r if r < self._cs_na else self._cs_na)
        self._cs_kind = 0  # valid again once complete
        _tb_init(&buf)
        try:
            if kid == 1:
                na = _top_levels(&self._asks, depth, al, start)
                nb = _top_levels(&self._bids, depth, bl, start - na if start > na else 0)
                crc = CRC_START if start == 0 else self._cs_state[start - 1]
                for k in range(start, na + nb):
                    lv = al[k] if k < na else bl[k - na]
                    if lv.cs_form != CS_KRAKEN:
                        _cs_part(lv, CS_KRAKEN, &buf)
                    crc = _crc_part(crc, lv.cs_crc, lv.cs_len, _crc_tables(lv.cs_len))
                    self._cs_state[k] = crc
                    self._cs_ilen[k] = lv.cs_len
                k = na + nb
                self._cs_tail = 0  # the length of the bids' parts
                for t in range(na, k):
                    self._cs_tail += self._cs_ilen[t]
            else:
                nb = _top_levels(&self._bids, depth, bl, r)
                na = _top_levels(&self._asks, depth, al, r)
                m = 0  # the parts from rank r on, in order
                top = nb if nb > na else na
                for t in range(r, top):
                    if t < nb:
                        m = _cs_gather(bl[t], CS_PLAIN, &buf, parts, sizes, tabs, m)
                    if t < na:
                        m = _cs_gather(al[t], ask_form, &buf, parts, sizes, tabs, m)
                crc = _CRC_START_COLON if start == 0 else self._cs_state[start - 1]
                crc = _crc_fold(crc, parts, sizes, tabs, m, &self._cs_state[start], &kept)
                k = start + kept  # the states kept (those after are not)
                if start + m == 0:  # an empty book: the CRC of no text
                    crc = CRC_START
        finally:
            _tb_free(&buf)
        crc ^= CRC_START
        if kid == 1:
            value = crc  # unsigned
        else:
            value = <int32_t>crc  # signed 32-bit
        self._cs_value = value
        self._cs_kind = kid
        self._cs_nb = nb
        self._cs_na = na
        self._cs_valid = k
        self._bids.cs_changed = INFINITY
        self._asks.cs_changed = INFINITY
        return self._cs_value

    cdef long long _kraken_asks_only(self, Py_ssize_t start) except? -1:
        """The Kraken checksum when only asks changed among the levels it covers: the asks'
        parts from ``start`` on, then the bids' text (unchanged) enters through the CRC's
        linearity: the register after it moves by the shifted change of the register before
        it. The bids' kept states are stale afterwards (``_cs_valid``)."""
        cdef Level* al[10]
        cdef Level* lv
        cdef Py_ssize_t na, k
        cdef uint32_t crc, before
        cdef TextBuf buf
        self._cs_kind = 0  # valid again once complete
        before = CRC_START if self._cs_na == 0 else self._cs_state[self._cs_na - 1]
        na = _top_levels(&self._asks, 10, al, start)
        crc = CRC_START if start == 0 else self._cs_state[start - 1]
        _tb_init(&buf)
        try:
            for k in range(start, na):
                lv = al[k]
                if lv.cs_form != CS_KRAKEN:
                    _cs_part(lv, CS_KRAKEN, &buf)
                crc = _crc_part(crc, lv.cs_crc, lv.cs_len, _crc_tables(lv.cs_len))
                self._cs_state[k] = crc
                self._cs_ilen[k] = lv.cs_len
        finally:
            _tb_free(&buf)
        crc = (<uint32_t>self._cs_value ^ CRC_START) ^ _crc_shift_far(crc ^ before, self._cs_tail)
        self._cs_value = crc ^ CRC_START
        self._cs_kind = 1
        self._cs_na = na
        self._cs_valid = na
        self._bids.cs_changed = INFINITY
        self._asks.cs_changed = INFINITY
        return self._cs_value
