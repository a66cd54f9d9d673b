# Declarations of the compiled level extractor, for Cython modules that ``cimport`` it.
#
#     from dragonfly._core.extract_c cimport CompiledPath, extract_into
#
#     cdef CompiledPath path = CompiledPath("data.bids")
#     cdef double px[10], qty[10]
#     n = extract_into(buf, size, path, 10, px, qty)   # raises ExtractError (pos in bytes)
#
# Semantics are those of ``extract_levels`` (see dragonfly/_core/extract_py.py).


ctypedef struct PathStep:
    const char* key       # UTF-8 bytes of the component (not NUL-terminated)
    Py_ssize_t keylen
    Py_ssize_t index      # array index when the component is a canonical integer, else -1


cdef class CompiledPath:
    """A dotted path parsed once; immutable."""
    cdef readonly str path
    cdef bytes _blob          # owns the key bytes
    cdef tuple _keys          # the components as str, for error messages
    cdef PathStep* steps
    cdef Py_ssize_t nsteps


cdef Py_ssize_t extract_into(const char* buf, Py_ssize_t n, CompiledPath path, Py_ssize_t depth,
                             double* prices, double* qtys) except -1
# Read at most ``depth`` levels of the array at ``path`` in ``buf[0:n]`` into ``prices``/``qtys``
# (room for ``depth`` entries each); return the count. Never reads ``buf[n]`` or beyond.
# Raises ExtractError with ``pos`` in bytes.


cdef class TopExtractor:
    cdef CompiledPath _bids_path
    cdef CompiledPath _asks_path
    cdef Py_ssize_t _depth
    cdef Py_ssize_t _joint_k      # shared path prefix for the one-pass extraction, -1: two passes
    cdef double* _mem
    # Current state (valid after a successful update): best first, n_bids/n_asks entries.
    cdef double* bid_px
    cdef double* bid_qty
    cdef double* ask_px
    cdef double* ask_qty
    cdef Py_ssize_t n_bids
    cdef Py_ssize_t n_asks
    # Scratch for the update in progress (swapped with the current state on success).
    cdef double* _s_bid_px
    cdef double* _s_bid_qty
    cdef double* _s_ask_px
    cdef double* _s_ask_qty
    cdef bint _valid
    cdef object _bids_cache
    cdef object _asks_cache
    cdef object _bids_prev        # the last tuple built for a side: its unchanged levels are reused
    cdef object _asks_prev

    cdef int update_buffer(self, const char* buf, Py_ssize_t n) except -1
    # 1 when the top N changed, 0 when identical; raises ExtractError (pos in bytes).
