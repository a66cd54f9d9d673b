# Declarations of the compiled L2 book, for Cython modules that ``cimport`` it
# (the listeners' hot path reads the top N straight into C arrays).

from cpython.object cimport PyObject

from .doc_c cimport Doc

ctypedef struct BookLevel:
    double key        # bids: price; asks: -price. Ascending, best level last.
    double qty
    PyObject* ptext   # owned reference: the price as given (str, bytes or number)
    PyObject* qtext   # owned reference: the quantity as given


ctypedef struct BookSide:
    BookLevel* lv
    Py_ssize_t n
    Py_ssize_t cap


cdef class Book:
    cdef BookSide _bids
    cdef BookSide _asks
    cdef Py_ssize_t _max_depth
    cdef long long _truncated

    cdef int _apply_side(self, BookSide* side, bint bid, object entries) except -1
    cdef int _apply_entry(self, BookSide* side, bint bid, object entry) except -1
    cdef int _apply_doc_side(self, BookSide* side, bint bid, Doc doc, Py_ssize_t h) except -1
    cdef Py_ssize_t top_into(self, bint bid, Py_ssize_t depth, double* price, double* qty) noexcept
