"""L2 price-level order book for diff feeds: the compiled twin.

Behaviour, errors and counters are those of :mod:`dragonfly._core.book_py`
(read its module notes on levels, text kept for checksums and the depth cap).

Layout: each side is one array of ``BookLevel`` structs sorted ascending by
key, best level **last** (bids keyed by price, asks by ``-price``), so the
common updates near the top of the book move few bytes; lookups are binary
searches. The text objects given for price and quantity are kept as owned
references; :meth:`Book.apply_doc` reads a :class:`~dragonfly._core.doc_c.Doc`'s
tape and buffer directly and creates only those two texts per level (``bytes``
of the number token or string), no list or tuple. Checksums stream the text through a table-driven CRC32 without
building a string.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_Check
from libc.math cimport isfinite
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memmove

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
# CRC32 (IEEE 802.3, reflected polynomial 0xEDB88320), the one zlib.crc32 computes.

cdef uint32_t _CRC_TABLE[256]


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
        _CRC_TABLE[i] = c


_crc_init()


cdef inline uint32_t _crc_byte(uint32_t crc, unsigned char b) noexcept nogil:
    return _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)


cdef inline uint32_t _crc_bytes(uint32_t crc, const char* s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        crc = _crc_byte(crc, <unsigned char>s[i])
    return crc


cdef inline uint32_t _crc_kraken(uint32_t crc, const char* s, Py_ssize_t n) noexcept nogil:
    """Feed ``s`` with every '.' removed and leading zeros stripped."""
    cdef Py_ssize_t i
    cdef char ch
    cdef bint leading = True
    for i in range(n):
        ch = s[i]
        if ch == b'.':
            continue
        if leading:
            if ch == b'0':
                continue
            leading = False
        crc = _crc_byte(crc, <unsigned char>ch)
    return crc


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
            _release(side, i, i + 1)
            memmove(&side.lv[i], &side.lv[i + 1], (side.n - i - 1) * sizeof(BookLevel))
            side.n -= 1
        return 0
    Py_INCREF(ptext)
    Py_INCREF(qtext)
    if found:
        lv = &side.lv[i]
        Py_DECREF(<object>lv.ptext)
        Py_DECREF(<object>lv.qtext)
    else:
        try:
            _reserve(side, side.n + 1)
        except MemoryError:
            Py_DECREF(ptext)
            Py_DECREF(qtext)
            raise
        memmove(&side.lv[i + 1], &side.lv[i], (side.n - i) * sizeof(BookLevel))
        side.n += 1
        lv = &side.lv[i]
        lv.key = key
    lv.qty = qty
    lv.ptext = <PyObject*>ptext
    lv.qtext = <PyObject*>qtext
    return 0


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
    return 1


cdef Py_ssize_t _truncate(BookSide* side, Py_ssize_t max_depth) noexcept:
    cdef Py_ssize_t extra = side.n - max_depth
    if extra <= 0:
        return 0
    _release(side, 0, extra)
    memmove(&side.lv[0], &side.lv[extra], max_depth * sizeof(BookLevel))
    side.n = max_depth
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


cdef uint32_t _crc_text(uint32_t crc, object value, double number, bint kraken) except? 0xFFFFFFFF:
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
        return _crc_kraken(crc, s, n) if kraken else _crc_bytes(crc, s, n)
    return _crc_kraken(crc, s, n) if kraken else _crc_bytes(crc, s, n)


cdef uint32_t _crc_ask_amount(uint32_t crc, object value, double number) except? 0xFFFFFFFF:
    """Bitfinex: an ask's amount is negative; prefix '-' unless the text has one."""
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
        if n == 0 or s[0] != b'-':
            crc = _crc_byte(crc, b'-')
        return _crc_bytes(crc, s, n)
    if n == 0 or s[0] != b'-':
        crc = _crc_byte(crc, b'-')
    return _crc_bytes(crc, s, n)


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
        _release(&self._asks, 0, self._asks.n)
        self._asks.n = 0

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
                    ph = e + 1
                    qh = tape[ph].next
                    ptext = _doc_text(doc, ph)
                    qtext = _doc_text(doc, qh)
                    _set(side, price if bid else -price, qty, ptext, qtext)
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
        return _top(&self._bids, True, depth), _top(&self._asks, False, depth)

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
        for the exact definitions."""
        cdef uint32_t crc = 0xFFFFFFFF
        cdef Py_ssize_t i, nb, na
        cdef const BookLevel* lv
        cdef bint first = True
        cdef bint bitfinex
        if kind == "kraken":
            na = 10 if self._asks.n > 10 else self._asks.n
            for i in range(na):
                lv = &self._asks.lv[self._asks.n - 1 - i]
                crc = _crc_text(crc, <object>lv.ptext, -lv.key + 0.0, True)
                crc = _crc_text(crc, <object>lv.qtext, lv.qty, True)
            nb = 10 if self._bids.n > 10 else self._bids.n
            for i in range(nb):
                lv = &self._bids.lv[self._bids.n - 1 - i]
                crc = _crc_text(crc, <object>lv.ptext, lv.key, True)
                crc = _crc_text(crc, <object>lv.qtext, lv.qty, True)
            return crc ^ 0xFFFFFFFF
        if kind == "okx" or kind == "bitfinex":
            bitfinex = kind == "bitfinex"
            nb = 25 if self._bids.n > 25 else self._bids.n
            na = 25 if self._asks.n > 25 else self._asks.n
            for i in range(nb if nb > na else na):
                if i < nb:
                    lv = &self._bids.lv[self._bids.n - 1 - i]
                    if not first:
                        crc = _crc_byte(crc, b':')
                    first = False
                    crc = _crc_text(crc, <object>lv.ptext, lv.key, False)
                    crc = _crc_byte(crc, b':')
                    crc = _crc_text(crc, <object>lv.qtext, lv.qty, False)
                if i < na:
                    lv = &self._asks.lv[self._asks.n - 1 - i]
                    if not first:
                        crc = _crc_byte(crc, b':')
                    first = False
                    crc = _crc_text(crc, <object>lv.ptext, -lv.key + 0.0, False)
                    crc = _crc_byte(crc, b':')
                    if bitfinex:
                        crc = _crc_ask_amount(crc, <object>lv.qtext, lv.qty)
                    else:
                        crc = _crc_text(crc, <object>lv.qtext, lv.qty, False)
            crc ^= 0xFFFFFFFF
            return <long long>crc - 4294967296 if crc >= 2147483648 else <long long>crc
        raise ValueError(f"unknown checksum kind {kind!r}; expected one of {CHECKSUM_KINDS}")
