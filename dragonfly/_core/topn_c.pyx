# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The accepted top N of a snapshot feed (compiled).

The compiled twin of :mod:`dragonfly._core.topn_py`, which documents the API. With the compiled
:class:`~dragonfly._core.extract_c.TopExtractor` as the source, :meth:`TopState.accept` checks and
copies its C arrays (no Python object per level); level tuples are built when :attr:`TopState.bids`
or :attr:`TopState.asks` is first read after a change. Any other source goes through its ``bids``
and ``asks`` and the same checks. Problem texts are those of ``check_top``.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.string cimport memcmp, memcpy, memmove

from dragonfly._core.extract_c cimport TopExtractor

__all__ = ("TopState",)


cdef class TopState:
    cdef double* _bpx
    cdef double* _bqty
    cdef double* _apx
    cdef double* _aqty
    cdef Py_ssize_t _nb
    cdef Py_ssize_t _na
    cdef Py_ssize_t _cap
    cdef object _bids_cache
    cdef object _asks_cache
    cdef public Py_ssize_t accepted

    def __cinit__(self):
        self._bpx = self._bqty = self._apx = self._aqty = NULL
        self._nb = self._na = self._cap = 0
        self._bids_cache = ()
        self._asks_cache = ()
        self.accepted = 0

    def __dealloc__(self):
        PyMem_Free(self._bpx)  # one block holds the four arrays

    cdef int _reserve(self, Py_ssize_t n) except -1:
        cdef double* mem
        if n <= self._cap:
            return 0
        mem = <double*>PyMem_Realloc(self._bpx, 4 * n * sizeof(double) + 1)
        if mem == NULL:
            raise MemoryError()
        # keep what is held: move the old arrays to their new places (from the last one back)
        if self._cap:
            memmove(mem + 3 * n, mem + 3 * self._cap, self._na * sizeof(double))
            memmove(mem + 2 * n, mem + 2 * self._cap, self._na * sizeof(double))
            memmove(mem + n, mem + self._cap, self._nb * sizeof(double))
        self._bpx = mem
        self._bqty = mem + n
        self._apx = mem + 2 * n
        self._aqty = mem + 3 * n
        self._cap = n
        return 0

    cdef str _check(self, double* bpx, double* bqty, Py_ssize_t nb, double* apx, double* aqty, Py_ssize_t na):
        cdef Py_ssize_t i
        cdef double prev, p, q
        if nb and na and bpx[0] >= apx[0]:
            return f"crossed book: best bid {bpx[0]!r} >= best ask {apx[0]!r}"
        prev = float("inf")
        for i in range(nb):
            p = bpx[i]
            q = bqty[i]
            if p > prev or q < 0.0 or p <= 0.0:
                return f"bids not a valid best-first side at price {p!r}"
            prev = p
        prev = 0.0
        for i in range(na):
            p = apx[i]
            q = aqty[i]
            if p < prev or q < 0.0 or p <= 0.0:
                return f"asks not a valid best-first side at price {p!r}"
            prev = p
        return ""

    cdef str _take(self, double* bpx, double* bqty, Py_ssize_t nb, double* apx, double* aqty, Py_ssize_t na):
        cdef str problem = self._check(bpx, bqty, nb, apx, aqty, na)
        if problem:
            return problem
        self._reserve(nb if nb > na else na)
        self.accepted += 1
        if (nb != self._nb or memcmp(bpx, self._bpx, nb * sizeof(double)) != 0
                or memcmp(bqty, self._bqty, nb * sizeof(double)) != 0):
            memcpy(self._bpx, bpx, nb * sizeof(double))
            memcpy(self._bqty, bqty, nb * sizeof(double))
            self._nb = nb
            self._bids_cache = None
        if (na != self._na or memcmp(apx, self._apx, na * sizeof(double)) != 0
                or memcmp(aqty, self._aqty, na * sizeof(double)) != 0):
            memcpy(self._apx, apx, na * sizeof(double))
            memcpy(self._aqty, aqty, na * sizeof(double))
            self._na = na
            self._asks_cache = None
        return ""

    @cython.boundscheck(True)
    @cython.wraparound(True)
    def accept(self, source):
        """Check ``source``'s levels and keep them; ``""``, or what is wrong (state unchanged)."""
        cdef TopExtractor ext
        cdef Py_ssize_t nb, na, i
        cdef double* tmp
        if type(source) is TopExtractor:
            ext = <TopExtractor>source
            return self._take(ext.bid_px, ext.bid_qty, ext.n_bids, ext.ask_px, ext.ask_qty, ext.n_asks)
        bids = tuple(source.bids)
        asks = tuple(source.asks)
        nb = len(bids)
        na = len(asks)
        tmp = <double*>PyMem_Realloc(NULL, 2 * (nb + na) * sizeof(double) + 1)
        if tmp == NULL:
            raise MemoryError()
        try:
            for i in range(nb):
                tmp[i] = bids[i][0]
                tmp[nb + i] = bids[i][1]
            for i in range(na):
                tmp[2 * nb + i] = asks[i][0]
                tmp[2 * nb + na + i] = asks[i][1]
            return self._take(tmp, tmp + nb, nb, tmp + 2 * nb, tmp + 2 * nb + na, na)
        finally:
            PyMem_Free(tmp)

    def clear(self):
        """Forget the levels (both sides empty)."""
        self._nb = self._na = 0
        self._bids_cache = ()
        self._asks_cache = ()

    @property
    def bids(self):
        """Bid levels, best first (the same tuple until they change)."""
        cdef Py_ssize_t i
        if self._bids_cache is None:
            self._bids_cache = tuple([(self._bpx[i], self._bqty[i]) for i in range(self._nb)])
        return self._bids_cache

    @property
    def asks(self):
        """Ask levels, best first (the same tuple until they change)."""
        cdef Py_ssize_t i
        if self._asks_cache is None:
            self._asks_cache = tuple([(self._apx[i], self._aqty[i]) for i in range(self._na)])
        return self._asks_cache

    def __repr__(self):
        return f"<TopState {self._nb} bids, {self._na} asks>"
