# Declarations of dragonfly._core.fix_c for other Cython modules (cimport).

cdef class FixMessage:
    cdef readonly bytes raw
    cdef readonly str msg_type
    cdef Py_ssize_t n
    cdef int* tags
    cdef Py_ssize_t* vs
    cdef Py_ssize_t* ve

    cdef Py_ssize_t find(self, int tag) noexcept
    cdef bytes _value(self, Py_ssize_t i)


cdef class MarketData:
    cdef readonly str msg_type
    cdef readonly str symbol
    cdef readonly str md_req_id
    cdef readonly Py_ssize_t skipped
    cdef FixMessage msg
    cdef Py_ssize_t n
    cdef Py_ssize_t cap
    cdef signed char* actions
    cdef signed char* sides
    cdef double* prices
    cdef double* sizes
    cdef Py_ssize_t* sym_field
    cdef Py_ssize_t* mkt_field

    cdef int _grow(self) except -1
    cdef Py_ssize_t _check(self, Py_ssize_t i) except -1
