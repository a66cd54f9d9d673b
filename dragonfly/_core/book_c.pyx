"""L2 price-level order book for diff feeds: the compiled twin.

Behaviour, errors and counters are those of :mod:`dragonfly._core.book_py`
(read its module notes on levels, text kept for checksums and the depth cap).

Layout: each side is one array of ``BookLevel`` structs sorted ascending by
key, best level **last** (bids keyed by price, asks by ``-price``), so the
common updates near the top of the book move few bytes; lookups are binary
searches. The text objects given for price and quantity are kept as owned
references; :meth:`Book.apply_doc` reads a :class:`~dragonfly._core.doc_c.Doc`'s
tape and buffer directly and creates only those two texts per level (``bytes``
of the number token or string), no list or tuple. Checksums gather the text of
the levels they cover into one buffer (on the stack when it fits) and run a
slicing-by-16 CRC32 over it.

Each side counts the changes to its best 32 levels (``BookSide.stamp``: the change
clock at each rank), so :meth:`Book.top` (depth <= 32, per side) and
:meth:`Book.checksum` (the last kind asked) return the value built last time while
no level they cover has changed: a delta deep in the book costs no new tuples and no
CRC.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_Check
from libc.math cimport isfinite
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memcpy, memmove, memset

from .doc_c cimport DOC_ARRAY, DOC_NUMBER, DOC_STRING, Doc, DocNode, df_decimal

from ..errors import InvalidLevelError

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*)
    double PyOS_string_to_double(const char* s, char** endptr, PyObject* overflow_exception)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()

__all__ = ("Book", "CHECKSUM_KINDS", "DEFAULT_MAX_DEPTH", "MAX_MAX_DEPTH")

DEFAULT_MAX_DEPTH = 5000
MAX_MAX_DEPTH = 1_000_000
CHECKSUM_KINDS = ("kraken", "okx", "bitfinex")

# ---------------------------------------------------------------------------------------------------
# CRC32 (IEEE 802.3, reflected polynomial 0xEDB88320), the one zlib.crc32 computes: slicing-by-16
# tables (sixteen bytes per step on little-endian targets, a byte at a time elsewhere).

cdef extern from *:
    """
    #if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    #  define DF_BOOK_LE 1
    #elif defined(_M_X64) || defined(_M_IX86) || defined(_M_ARM64)
    #  define DF_BOOK_LE 1
    #else
    #  define DF_BOOK_LE 0
    #endif
    static inline uint32_t df_book_load32(const unsigned char* p) {
        uint32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    """
    int DF_BOOK_LE
    uint32_t df_book_load32(const unsigned char* p) noexcept nogil

cdef uint32_t _CRC16[16][256]


cdef void _crc_init() noexcept:
    cdef uint32_t c
    cdef int i, k
    for i in range(256):
        c = <uint32_t>i
        for k in range(8):
            if c & 1:
                c = 0xEDB88320 ^ (c >> 1)
            else:
                c = c >> 1
        _CRC16[0][i] = c
    for k in range(1, 16):
        for i in range(256):
            c = _CRC16[k - 1][i]
            _CRC16[k][i] = (c >> 8) ^ _CRC16[0][c & 0xFF]


_crc_init()


cdef uint32_t _crc32(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    """``zlib.crc32(p[:n])``."""
    cdef uint32_t crc = 0xFFFFFFFFU
    cdef uint32_t a, b, c, d
    if DF_BOOK_LE:
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
        while n >= 8:
            a = df_book_load32(p) ^ crc
            b = df_book_load32(p + 4)
            crc = (_CRC16[7][a & 0xFF] ^ _CRC16[6][(a >> 8) & 0xFF] ^ _CRC16[5][(a >> 16) & 0xFF] ^ _CRC16[4][a >> 24]
                   ^ _CRC16[3][b & 0xFF] ^ _CRC16[2][(b >> 8) & 0xFF] ^ _CRC16[1][(b >> 16) & 0xFF] ^ _CRC16[0][b >> 24])
            p += 8
            n -= 8
    while n > 0:
        crc = _CRC16[0][(crc ^ p[0]) & 0xFF] ^ (crc >> 8)
        p += 1
        n -= 1
    return crc ^ 0xFFFFFFFFU


# The text a checksum covers, gathered in one buffer.

cdef enum:
    TEXT_LOCAL = 2048
    PUT_PLAIN = 0
    PUT_KRAKEN = 1      # '.' removed, leading zeros stripped
    PUT_NEGATIVE = 2    # a '-' in front unless the text starts with one

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


cdef extern from "Python.h":
    # the same macros on borrowed pointers (the levels' texts), without reference counting
    bint _bytes_check_exact "PyBytes_CheckExact" (PyObject* o)
    char* _bytes_data "PyBytes_AS_STRING" (PyObject* o)
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE" (PyObject* o)
    bint _unicode_check_exact "PyUnicode_CheckExact" (PyObject* o)
    bint _unicode_compact_ascii "PyUnicode_IS_COMPACT_ASCII" (PyObject* o)
    void* _unicode_data "PyUnicode_DATA" (PyObject* o)
    Py_ssize_t _unicode_length "PyUnicode_GET_LENGTH" (PyObject* o)


cdef int _tb_text_slow(TextBuf* b, object value, double number, int mode) except -1:
    """:func:`_tb_text` for a ``str`` that is not compact ASCII, a subclass, or a number."""
    cdef const char* s
    cdef Py_ssize_t n = 0
    cdef bytes tmp
    if PyBytes_Check(value):
        s = PyBytes_AS_STRING(value)
        n = PyBytes_GET_SIZE(value)
    elif PyUnicode_Check(value):
        s = PyUnicode_AsUTF8AndSize(value, &n)
        if s == NULL:
            raise ValueError("price or quantity text is not valid UTF-8")
    else:
        tmp = repr(number).encode()
        s = PyBytes_AS_STRING(tmp)
        n = PyBytes_GET_SIZE(tmp)
    return _tb_put(b, s, n, mode)


cdef inline int _tb_text(TextBuf* b, PyObject* value, double number, int mode) except -1:
    """Append the text of a price or quantity (``repr(number)`` when it was given as a number)."""
    if _bytes_check_exact(value):
        return _tb_put(b, _bytes_data(value), _bytes_size(value), mode)
    if _unicode_check_exact(value) and _unicode_compact_ascii(value):
        return _tb_put(b, <const char*>_unicode_data(value), _unicode_length(value), mode)
    return _tb_text_slow(b, <object>value, number, mode)


cdef inline int _tb_put(TextBuf* b, const char* s, Py_ssize_t n, int mode) except -1:
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


# ---------------------------------------------------------------------------------------------------
# Numbers and text


cdef double _slow_float(object value, object entry) except? -1.0:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidLevelError(f"not a number: {value!r}", entry=entry) from None


cdef double _to_float(object value, object entry) except? -1.0:
    cdef const char* s
    cdef char* end = NULL
    cdef Py_ssize_t n = 0
    cdef double x
    if PyFloat_CheckExact(value):
        x = PyFloat_AS_DOUBLE(value)
    elif PyUnicode_Check(value) or PyBytes_Check(value):
        if PyBytes_Check(value):
            s = PyBytes_AS_STRING(value)
            n = PyBytes_GET_SIZE(value)
        else:
            s = PyUnicode_AsUTF8AndSize(value, &n)
        if s == NULL:
            PyErr_Clear()
            x = _slow_float(value, entry)
        else:
            x = PyOS_string_to_double(s, &end, NULL)
            if x == -1.0 and PyErr_Occurred() != NULL:
                PyErr_Clear()
                x = _slow_float(value, entry)
            elif end != s + n or n == 0:
                # trailing garbage, whitespace, underscores, embedded NUL:
                # let float() decide, exactly as the pure twin does
                x = _slow_float(value, entry)
    else:
        x = _slow_float(value, entry)
    if not isfinite(x):
        raise InvalidLevelError(f"not a finite number: {value!r}", entry=entry)
    return x + 0.0


cdef bytes _text(object value, double number):
    if PyUnicode_Check(value):
        return (<str>value).encode()
    if PyBytes_Check(value):
        return <bytes>value
    return repr(number).encode()


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
# Sides


cdef inline double _price(bint bid, double key) noexcept nogil:
    return key if bid else -key + 0.0


cdef inline Py_ssize_t _lower_bound(const BookSide* side, double key) noexcept nogil:
    """First index whose key is >= ``key``."""
    cdef Py_ssize_t lo = 0
    cdef Py_ssize_t hi = side.n
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if side.lv[mid].key < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline void _touch(BookSide* side, Py_ssize_t rank) noexcept:
    """Record a change at ``rank`` (0: the best level): every rank from there on moved."""
    cdef Py_ssize_t r
    if rank >= TRACKED_RANKS:
        return
    side.clock += 1
    for r in range(rank, TRACKED_RANKS):
        side.stamp[r] = side.clock


cdef inline bint _unchanged(const BookSide* side, Py_ssize_t depth, unsigned long long since) noexcept:
    """No level at a rank < ``depth`` (1..TRACKED_RANKS) changed since clock ``since``."""
    return side.stamp[depth - 1] <= since


cdef int _reserve(BookSide* side, Py_ssize_t need) except -1:
    cdef Py_ssize_t cap
    cdef BookLevel* lv
    if need <= side.cap:
        return 0
    cap = side.cap * 2 if side.cap else 64
    while cap < need:
        cap *= 2
    lv = <BookLevel*>realloc(side.lv, cap * sizeof(BookLevel))
    if lv == NULL:
        raise MemoryError()
    side.lv = lv
    side.cap = cap
    return 0


cdef void _release(BookSide* side, Py_ssize_t start, Py_ssize_t stop) noexcept:
    cdef Py_ssize_t i
    for i in range(start, stop):
        Py_DECREF(<object>side.lv[i].ptext)
        Py_DECREF(<object>side.lv[i].qtext)


cdef int _set(BookSide* side, double key, double qty, object ptext, object qtext) except -1:
    cdef Py_ssize_t i = _lower_bound(side, key)
    cdef BookLevel* lv
    cdef bint found = i < side.n and side.lv[i].key == key
    if qty == 0.0:
        if found:
            _touch(side, side.n - 1 - i)
            _release(side, i, i + 1)
            memmove(&side.lv[i], &side.lv[i + 1], (side.n - i - 1) * sizeof(BookLevel))
            side.n -= 1
        return 0
    if not found:
        return _insert(side, i, key, qty, ptext, qtext)
    Py_INCREF(ptext)
    Py_INCREF(qtext)
    _touch(side, side.n - 1 - i)
    lv = &side.lv[i]
    Py_DECREF(<object>lv.ptext)
    Py_DECREF(<object>lv.qtext)
    lv.qty = qty
    lv.ptext = <PyObject*>ptext
    lv.qtext = <PyObject*>qtext
    return 0


cdef int _insert(BookSide* side, Py_ssize_t i, double key, double qty, object ptext, object qtext) except -1:
    """A new level at index ``i`` (where ``_lower_bound`` put ``key``)."""
    cdef BookLevel* lv
    _reserve(side, side.n + 1)
    memmove(&side.lv[i + 1], &side.lv[i], (side.n - i) * sizeof(BookLevel))
    _touch(side, side.n - i)
    side.n += 1
    lv = &side.lv[i]
    lv.key = key
    lv.qty = qty
    Py_INCREF(ptext)
    Py_INCREF(qtext)
    lv.ptext = <PyObject*>ptext
    lv.qtext = <PyObject*>qtext
    return 0


cdef inline bint _same_text(PyObject* kept, Doc doc, Py_ssize_t h) noexcept:
    """The kept text is ``bytes`` equal to the text of document value ``h``."""
    cdef const DocNode* node = &doc._tape[h]
    cdef const unsigned char* s = doc._buf + node.start + (1 if node.kind == DOC_STRING else 0)
    return (_bytes_check_exact(kept) and _bytes_size(kept) == node.size
            and memcmp(_bytes_data(kept), s, node.size) == 0)


cdef int _set_doc(BookSide* side, double key, double qty, Doc doc, Py_ssize_t ph) except -1:
    """:func:`_set` of a level read from a document (``qty`` > 0), with the price at handle
    ``ph`` and the quantity after it: the texts are created only when they differ from the
    ones the level keeps."""
    cdef Py_ssize_t qh = doc._tape[ph].next
    cdef Py_ssize_t i = _lower_bound(side, key)
    cdef BookLevel* lv
    cdef object ptext, qtext
    if i < side.n and side.lv[i].key == key:
        lv = &side.lv[i]
        _touch(side, side.n - 1 - i)
        if not _same_text(lv.ptext, doc, ph):
            ptext = _doc_text(doc, ph)
            Py_INCREF(ptext)
            Py_DECREF(<object>lv.ptext)
            lv.ptext = <PyObject*>ptext
        if not _same_text(lv.qtext, doc, qh):
            qtext = _doc_text(doc, qh)
            Py_INCREF(qtext)
            Py_DECREF(<object>lv.qtext)
            lv.qtext = <PyObject*>qtext
        lv.qty = qty
        return 0
    return _insert(side, i, key, qty, _doc_text(doc, ph), _doc_text(doc, qh))


@cython.boundscheck(True)  # float() on an odd object may run code that shrinks ``entries``
cdef int _bulk_load(BookSide* side, bint bid, object entries) except -1:
    """Fill an empty side from ``entries`` when their prices are strictly
    monotonic (venues send snapshots sorted): parse into place, reverse if
    best-first, drop zero quantities. Returns 0, leaving the side empty, when
    the input is not monotonic (the caller applies it level by level)."""
    cdef Py_ssize_t n = len(entries)
    cdef Py_ssize_t i, j
    cdef object entry, ptext, qtext
    cdef double price, qty
    cdef BookLevel tmp
    cdef bint asc = True
    cdef bint desc = True
    _reserve(side, n)
    try:
        for i in range(n):
            entry = entries[i]
            if not isinstance(entry, (list, tuple)):
                raise InvalidLevelError(f"a level must be a list or tuple: {entry!r}", entry=entry)
            if len(entry) < 2:
                raise InvalidLevelError(f"a level needs a price and a quantity: {entry!r}", entry=entry)
            ptext = entry[0]
            qtext = entry[1]
            price = _to_float(ptext, entry)
            qty = _to_float(qtext, entry)
            if qty < 0.0:
                raise InvalidLevelError(f"negative quantity: {qtext!r}", entry=entry)
            Py_INCREF(ptext)
            Py_INCREF(qtext)
            side.lv[i].key = price if bid else -price
            side.lv[i].qty = qty
            side.lv[i].ptext = <PyObject*>ptext
            side.lv[i].qtext = <PyObject*>qtext
            side.n = i + 1
            if i:
                if side.lv[i - 1].key >= side.lv[i].key:
                    asc = False
                if side.lv[i - 1].key <= side.lv[i].key:
                    desc = False
    except BaseException:
        _release(side, 0, side.n)
        side.n = 0
        raise
    if not asc and not desc:
        _release(side, 0, side.n)
        side.n = 0
        return 0
    if desc:
        i = 0
        j = n - 1
        while i < j:
            tmp = side.lv[i]
            side.lv[i] = side.lv[j]
            side.lv[j] = tmp
            i += 1
            j -= 1
    j = 0
    for i in range(n):
        if side.lv[i].qty == 0.0:
            _release(side, i, i + 1)
        else:
            if i != j:
                side.lv[j] = side.lv[i]
            j += 1
    side.n = j
    _touch(side, 0)
    return 1


cdef inline object _doc_text(Doc doc, Py_ssize_t h):
    """The text the book keeps for a price or quantity read from a document: the UTF-8
    bytes of the number token or of the string (which has no escapes here)."""
    cdef const DocNode* node = &doc._tape[h]
    if node.kind == DOC_STRING:
        return PyBytes_FromStringAndSize(<const char*>doc._buf + node.start + 1, node.size)
    return PyBytes_FromStringAndSize(<const char*>doc._buf + node.start, node.size)


cdef inline int _doc_level(Doc doc, Py_ssize_t e, double* price, double* qty) except -1:
    """1 with ``price``/``qty`` set when entry ``e`` is an array whose first two elements are
    numbers or plain numeric strings, finite, with a quantity >= 0 (then float() of their
    text is exactly what apply() computes); 0 for anything else."""
    cdef const DocNode* tape = doc._tape
    cdef Py_ssize_t ph
    if tape[e].kind != DOC_ARRAY or tape[e].size < 2:
        return 0
    ph = e + 1
    if doc.number(ph, price) != 1 or doc.number(tape[ph].next, qty) != 1:
        return 0
    if not isfinite(price[0]) or not isfinite(qty[0]) or qty[0] < 0.0:
        return 0
    price[0] = price[0] + 0.0
    qty[0] = qty[0] + 0.0
    return 1


cdef int _bulk_load_doc(BookSide* side, bint bid, Doc doc, Py_ssize_t h) except -1:
    """:func:`_bulk_load` for the level array at handle ``h``: returns 0, leaving the side
    empty, when the prices are not strictly monotonic or an entry is not a plain level
    (the caller then applies the entries one by one, which raises where apply() would)."""
    cdef const DocNode* tape = doc._tape
    cdef Py_ssize_t n = tape[h].size
    cdef Py_ssize_t i, j, e, ph
    cdef double price, qty
    cdef object ptext, qtext
    cdef BookLevel tmp
    cdef bint asc = True
    cdef bint desc = True
    _reserve(side, n)
    e = h + 1
    try:
        for i in range(n):
            if not _doc_level(doc, e, &price, &qty):
                _release(side, 0, side.n)
                side.n = 0
                return 0
            ph = e + 1
            ptext = _doc_text(doc, ph)
            qtext = _doc_text(doc, tape[ph].next)
            Py_INCREF(ptext)
            Py_INCREF(qtext)
            side.lv[i].key = price if bid else -price
            side.lv[i].qty = qty
            side.lv[i].ptext = <PyObject*>ptext
            side.lv[i].qtext = <PyObject*>qtext
            side.n = i + 1
            if i:
                if side.lv[i - 1].key >= side.lv[i].key:
                    asc = False
                if side.lv[i - 1].key <= side.lv[i].key:
                    desc = False
            e = tape[e].next
    except BaseException:
        _release(side, 0, side.n)
        side.n = 0
        raise
    if not asc and not desc:
        _release(side, 0, side.n)
        side.n = 0
        return 0
    if desc:
        i = 0
        j = n - 1
        while i < j:
            tmp = side.lv[i]
            side.lv[i] = side.lv[j]
            side.lv[j] = tmp
            i += 1
            j -= 1
    j = 0
    for i in range(n):
        if side.lv[i].qty == 0.0:
            _release(side, i, i + 1)
        else:
            if i != j:
                side.lv[j] = side.lv[i]
            j += 1
    side.n = j
    _touch(side, 0)
    return 1


cdef Py_ssize_t _truncate(BookSide* side, Py_ssize_t max_depth) noexcept:
    cdef Py_ssize_t extra = side.n - max_depth
    if extra <= 0:
        return 0
    _release(side, 0, extra)
    memmove(&side.lv[0], &side.lv[extra], max_depth * sizeof(BookLevel))
    side.n = max_depth
    _touch(side, max_depth)
    return extra


cdef tuple _top(const BookSide* side, bint bid, Py_ssize_t depth):
    cdef Py_ssize_t n = depth if depth < side.n else side.n
    cdef tuple out = PyTuple_New(n)
    cdef Py_ssize_t i
    cdef const BookLevel* lv
    cdef object pair
    for i in range(n):
        lv = &side.lv[side.n - 1 - i]
        pair = _pair(_price(bid, lv.key), lv.qty)
        Py_INCREF(pair)
        PyTuple_SET_ITEM(out, i, pair)
    return out


cdef list _top_text(const BookSide* side, bint bid, Py_ssize_t depth):
    cdef Py_ssize_t n = depth if depth < side.n else side.n
    cdef list out = []
    cdef Py_ssize_t i
    cdef const BookLevel* lv
    for i in range(n):
        lv = &side.lv[side.n - 1 - i]
        out.append((_text(<object>lv.ptext, _price(bid, lv.key)), _text(<object>lv.qtext, lv.qty)))
    return out


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
        self._top_b_depth = -1
        self._top_a_depth = -1
        self._cs_kind = 0
        self._bids.lv = NULL
        self._bids.n = 0
        self._bids.cap = 0
        self._asks.lv = NULL
        self._asks.n = 0
        self._asks.cap = 0
        self._truncated = 0

    def __init__(self, max_depth=DEFAULT_MAX_DEPTH):
        if isinstance(max_depth, bool) or not isinstance(max_depth, int):
            raise TypeError(f"max_depth must be an int, not {type(max_depth).__name__}")
        if not 1 <= max_depth <= MAX_MAX_DEPTH:
            raise ValueError(f"max_depth must be in [1, {MAX_MAX_DEPTH}], got {max_depth}")
        self._max_depth = max_depth

    def __dealloc__(self):
        _release(&self._bids, 0, self._bids.n)
        _release(&self._asks, 0, self._asks.n)
        free(self._bids.lv)
        free(self._asks.lv)

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
        _release(&self._bids, 0, self._bids.n)
        self._bids.n = 0
        _touch(&self._bids, 0)
        _release(&self._asks, 0, self._asks.n)
        self._asks.n = 0
        _touch(&self._asks, 0)

    def apply(self, bids, asks):
        """Apply a batch of deltas, bids first, each side in the given order,
        then enforce the depth cap. See :meth:`dragonfly._core.book_py.Book.apply`."""
        self._apply_side(&self._bids, True, bids)
        self._apply_side(&self._asks, False, asks)
        self._truncated += _truncate(&self._bids, self._max_depth) + _truncate(&self._asks, self._max_depth)

    cdef int _apply_side(self, BookSide* side, bint bid, object entries) except -1:
        cdef object entry, ptext, qtext
        cdef double price, qty
        if side.n == 0 and (type(entries) is list or type(entries) is tuple) and len(entries) >= 16:
            # an empty side (a snapshot): load sorted input without per-level moves
            try:
                if _bulk_load(side, bid, entries):
                    return 0
            except InvalidLevelError:
                pass  # the side is empty again: the path below applies the prefix and raises
        for entry in entries:
            self._apply_entry(side, bid, entry)
        return 0

    cdef int _apply_entry(self, BookSide* side, bint bid, object entry) except -1:
        cdef object ptext, qtext
        cdef double price, qty
        if not isinstance(entry, (list, tuple)):
            raise InvalidLevelError(f"a level must be a list or tuple: {entry!r}", entry=entry)
        if len(entry) < 2:
            raise InvalidLevelError(f"a level needs a price and a quantity: {entry!r}", entry=entry)
        ptext = entry[0]
        qtext = entry[1]
        price = _to_float(ptext, entry)
        qty = _to_float(qtext, entry)
        if qty < 0.0:
            raise InvalidLevelError(f"negative quantity: {qtext!r}", entry=entry)
        _set(side, price if bid else -price, qty, ptext, qtext)
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
                self._apply_doc_side(&self._bids, True, d, bids)
            if asks != -1:
                self._apply_doc_side(&self._asks, False, d, asks)
        else:  # another implementation of the document: through its Python values
            if bids != -1:
                doc.kind(bids)
            if asks != -1:
                doc.kind(asks)
            if bids != -1:
                self._apply_side(&self._bids, True, doc.value(bids, text_numbers=True))
            if asks != -1:
                self._apply_side(&self._asks, False, doc.value(asks, text_numbers=True))
        self._truncated += _truncate(&self._bids, self._max_depth) + _truncate(&self._asks, self._max_depth)

    cdef int _apply_doc_side(self, BookSide* side, bint bid, Doc doc, Py_ssize_t h) except -1:
        cdef const DocNode* tape = doc._tape
        cdef Py_ssize_t i, n, e, ph, qh
        cdef double price, qty
        cdef object ptext, qtext
        if tape[h].kind != DOC_ARRAY:
            # whatever apply() does with that value (an object iterates its keys, null raises TypeError)
            return self._apply_side(side, bid, doc.value_of(h, True))
        n = tape[h].size
        if side.n == 0 and n >= 16:
            # an empty side (a snapshot): load sorted input without per-level moves
            if _bulk_load_doc(side, bid, doc, h):
                return 0
        e = h + 1
        for i in range(n):
            if _doc_level(doc, e, &price, &qty):
                if qty == 0.0:
                    _set(side, price if bid else -price, 0.0, None, None)
                else:
                    _set_doc(side, price if bid else -price, qty, doc, e + 1)
            else:
                # anything unusual (and every error) takes apply()'s own path on the entry's value
                self._apply_entry(side, bid, doc.value_of(e, True))
            e = tape[e].next
        return 0

    # -- views ---------------------------------------------------------------------------------------

    cdef Py_ssize_t top_into(self, bint bid, Py_ssize_t depth, double* price, double* qty) noexcept:
        """Copy the best ``depth`` levels of one side into C arrays, best
        first; return how many were copied."""
        cdef const BookSide* side = &self._bids if bid else &self._asks
        cdef Py_ssize_t n = depth if depth < side.n else side.n
        cdef Py_ssize_t i
        cdef const BookLevel* lv
        if n < 0:
            return 0
        for i in range(n):
            lv = &side.lv[side.n - 1 - i]
            price[i] = _price(bid, lv.key)
            qty[i] = lv.qty
        return n

    def top(self, Py_ssize_t depth):
        """The best ``depth`` levels of each side, best first: ``(bids, asks)``."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        if depth == 0 or depth > TRACKED_RANKS:
            return _top(&self._bids, True, depth), _top(&self._asks, False, depth)
        # a side whose best ``depth`` levels did not change since the last call gives the same tuple
        if self._top_b_depth != depth or not _unchanged(&self._bids, depth, self._top_b_clock):
            self._top_b = _top(&self._bids, True, depth)
            self._top_b_depth = depth
            self._top_b_clock = self._bids.clock
        if self._top_a_depth != depth or not _unchanged(&self._asks, depth, self._top_a_clock):
            self._top_a = _top(&self._asks, False, depth)
            self._top_a_depth = depth
            self._top_a_clock = self._asks.clock
        return self._top_b, self._top_a

    def bids(self):
        """Every bid level, best (highest) first."""
        return _top(&self._bids, True, self._bids.n)

    def asks(self):
        """Every ask level, best (lowest) first."""
        return _top(&self._asks, False, self._asks.n)

    def best_bid(self):
        """``(price, qty)`` of the best bid, or None."""
        if self._bids.n == 0:
            return None
        return _pair(self._bids.lv[self._bids.n - 1].key, self._bids.lv[self._bids.n - 1].qty)

    def best_ask(self):
        """``(price, qty)`` of the best ask, or None."""
        if self._asks.n == 0:
            return None
        return _pair(-self._asks.lv[self._asks.n - 1].key + 0.0, self._asks.lv[self._asks.n - 1].qty)

    def is_crossed(self):
        """True when both sides exist and best bid >= best ask."""
        if self._bids.n == 0 or self._asks.n == 0:
            return False
        return self._bids.lv[self._bids.n - 1].key >= -self._asks.lv[self._asks.n - 1].key

    def top_text(self, Py_ssize_t depth):
        """The best ``depth`` levels as the text the checksums use."""
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        return _top_text(&self._bids, True, depth), _top_text(&self._asks, False, depth)

    # -- checksums -----------------------------------------------------------------------------------

    def checksum(self, kind):
        """The venue checksum of the current book: ``"kraken"`` (unsigned
        CRC32), ``"okx"`` or ``"bitfinex"`` (signed 32-bit). See the pure twin
        for the exact definitions. The value is kept until a level it covers
        changes."""
        cdef int kid = 1 if kind == "kraken" else 2 if kind == "okx" else 3 if kind == "bitfinex" else 0
        cdef Py_ssize_t depth = 10 if kid == 1 else 25
        if kid == 0:
            raise ValueError(f"unknown checksum kind {kind!r}; expected one of {CHECKSUM_KINDS}")
        if (kid == self._cs_kind and _unchanged(&self._bids, depth, self._cs_b_clock)
                and _unchanged(&self._asks, depth, self._cs_a_clock)):
            return self._cs_value
        self._cs_value = self._checksum(kid)
        self._cs_kind = kid
        self._cs_b_clock = self._bids.clock
        self._cs_a_clock = self._asks.clock
        return self._cs_value

    cdef long long _checksum(self, int kid) except? -1:
        cdef TextBuf buf
        cdef uint32_t crc
        cdef Py_ssize_t i, nb, na
        cdef const BookLevel* lv
        cdef int ask_qty
        if kid == 1:
            _tb_init(&buf)
            try:
                na = 10 if self._asks.n > 10 else self._asks.n
                for i in range(na):
                    lv = &self._asks.lv[self._asks.n - 1 - i]
                    _tb_text(&buf, lv.ptext, -lv.key + 0.0, PUT_KRAKEN)
                    _tb_text(&buf, lv.qtext, lv.qty, PUT_KRAKEN)
                nb = 10 if self._bids.n > 10 else self._bids.n
                for i in range(nb):
                    lv = &self._bids.lv[self._bids.n - 1 - i]
                    _tb_text(&buf, lv.ptext, lv.key, PUT_KRAKEN)
                    _tb_text(&buf, lv.qtext, lv.qty, PUT_KRAKEN)
                return _crc32(buf.p, buf.n)
            finally:
                _tb_free(&buf)
        else:
            ask_qty = PUT_NEGATIVE if kid == 3 else PUT_PLAIN
            _tb_init(&buf)
            try:
                nb = 25 if self._bids.n > 25 else self._bids.n
                na = 25 if self._asks.n > 25 else self._asks.n
                for i in range(nb if nb > na else na):
                    if i < nb:
                        lv = &self._bids.lv[self._bids.n - 1 - i]
                        _tb_text(&buf, lv.ptext, lv.key, PUT_PLAIN)
                        _tb_byte(&buf, 0x3A)
                        _tb_text(&buf, lv.qtext, lv.qty, PUT_PLAIN)
                        _tb_byte(&buf, 0x3A)
                    if i < na:
                        lv = &self._asks.lv[self._asks.n - 1 - i]
                        _tb_text(&buf, lv.ptext, -lv.key + 0.0, PUT_PLAIN)
                        _tb_byte(&buf, 0x3A)
                        _tb_text(&buf, lv.qtext, lv.qty, ask_qty)
                        _tb_byte(&buf, 0x3A)
                crc = _crc32(buf.p, buf.n - 1 if buf.n else 0)  # without the last ':'
            finally:
                _tb_free(&buf)
            return <long long>crc - 4294967296 if crc >= 2147483648 else <long long>crc
