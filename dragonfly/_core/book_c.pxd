# Declarations of the compiled L2 book, for Cython modules that ``cimport`` it
# (the listeners' hot path reads the top N straight into C arrays).

from cpython.object cimport PyObject

from .doc_c cimport Doc

ctypedef struct BookLevel:
    double key        # bids: price; asks: -price. Ascending, best level last.
    double qty
    PyObject* ptext   # owned reference: the price as given (str, bytes or number)
    PyObject* qtext   # owned reference: the quantity as given


cdef enum:
    TRACKED_RANKS = 32    # changes to the best 32 levels of a side are tracked (caches of top views)


ctypedef struct BookSide:
    BookLevel* lv
    Py_ssize_t n
    Py_ssize_t cap
    unsigned long long clock                   # counts changes at ranks < TRACKED_RANKS
    unsigned long long stamp[TRACKED_RANKS]    # stamp[r]: clock of the last change at a rank <= r


cdef class Book:
    cdef BookSide _bids
    cdef BookSide _asks
    cdef Py_ssize_t _max_depth
    cdef long long _truncated
    # top(depth) of each side as last built, valid while no level at a rank < depth changed
    cdef object _top_b
    cdef object _top_a
    cdef Py_ssize_t _top_b_depth
    cdef Py_ssize_t _top_a_depth
    cdef unsigned long long _top_b_clock
    cdef unsigned long long _top_a_clock
    # the last checksum computed (kind 0: none, 1 kraken, 2 okx, 3 bitfinex), valid likewise
    cdef int _cs_kind
    cdef long long _cs_value
    cdef unsigned long long _cs_b_clock
    cdef unsigned long long _cs_a_clock

    cdef int _apply_side(self, BookSide* side, bint bid, object entries) except -1
    cdef int _apply_entry(self, BookSide* side, bint bid, object entry) except -1
    cdef int _apply_doc_side(self, BookSide* side, bint bid, Doc doc, Py_ssize_t h) except -1
    cdef long long _checksum(self, int kid) except? -1
    cdef Py_ssize_t top_into(self, bint bid, Py_ssize_t depth, double* price, double* qty) noexcept
