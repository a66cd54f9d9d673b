# cython: language_level=3
"""Exact-size-buffer harness for the sanitizer run (built by run_sanitized.sh only).

Each input is copied into a ``malloc`` block of exactly its length (no terminator, no
slack) and fed to the ``cdef`` API, so AddressSanitizer reports any read at or past the
end. The output arrays are exactly ``depth`` doubles long, so any write past them is
reported too.
"""

from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from dragonfly._core.extract_c cimport CompiledPath, TopExtractor, extract_into

from dragonfly.errors import ExtractError


def run(bytes data, str path, Py_ssize_t depth):
    """``extract_into`` on an exact copy of ``data``; returns the count, or -1 on ExtractError."""
    cdef Py_ssize_t n = len(data), got = -1
    cdef CompiledPath cp = CompiledPath(path)
    cdef char* buf = <char*>malloc(n if n > 0 else 1)
    cdef Py_ssize_t cap = depth if depth > 0 else 1
    cdef double* px = <double*>malloc(cap * sizeof(double))
    cdef double* qx = <double*>malloc(cap * sizeof(double))
    if buf == NULL or px == NULL or qx == NULL:
        free(buf); free(px); free(qx)
        raise MemoryError()
    memcpy(buf, <const char*>data, n)
    try:
        got = extract_into(buf if n > 0 else buf + 1, n, cp, depth, px, qx)
    except ExtractError:
        got = -1
    finally:
        free(buf); free(px); free(qx)
    return got


def run_top(TopExtractor top, bytes data):
    """``TopExtractor.update_buffer`` on an exact copy of ``data``; 1/0 or -1 on ExtractError."""
    cdef Py_ssize_t n = len(data)
    cdef char* buf = <char*>malloc(n if n > 0 else 1)
    if buf == NULL:
        raise MemoryError()
    memcpy(buf, <const char*>data, n)
    try:
        return top.update_buffer(buf if n > 0 else buf + 1, n)
    except ExtractError:
        return -1
    finally:
        free(buf)


def selftest_overflow(bytes data):
    """Reads one byte past an exact-size copy: the sanitizer must catch this."""
    cdef Py_ssize_t n = len(data)
    cdef char* buf = <char*>malloc(n)
    memcpy(buf, <const char*>data, n)
    cdef volatile char ch = buf[n]
    free(buf)
    return ch
