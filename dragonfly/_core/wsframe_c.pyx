# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""WebSocket frame splitter in front of a transport's own frame parser (compiled).

The compiled twin of :mod:`dragonfly._core.wsframe_py`, which documents the behaviour. Frame
headers are read from the received bytes in place; a delivered payload is one ``bytes`` (or
``str``) copy of the frame's payload; runs of frames for the delegate are handed over as one
slice (the whole chunk, unsliced, when nothing in it was delivered).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint64_t

__all__ = ("FrameSplitter",)

cdef tuple _NONE = (False, b"")

cdef enum:
    OTHER = 0
    PLAIN = 1
    CONTROL = 2


@cython.auto_pickle(False)  # it holds a connection's parser and callbacks: nothing to pickle
cdef class FrameSplitter:
    cdef public object delegate
    cdef readonly Py_ssize_t max_msg_size
    cdef readonly bint decode_text
    cdef public object on_frame
    cdef public object on_first
    cdef public object on_stop
    cdef public object stats
    cdef public object error
    cdef bint _fallback
    cdef bytearray _partial
    cdef Py_ssize_t _need

    def __init__(self, delegate, Py_ssize_t max_msg_size, decode_text):
        if max_msg_size < 0:
            raise ValueError(f"max_msg_size must be >= 0, got {max_msg_size}")
        self.delegate = delegate
        self.max_msg_size = max_msg_size
        self.decode_text = bool(decode_text)
        self.on_frame = self.on_first = self.on_stop = self.stats = self.error = None
        self._fallback = False
        self._partial = bytearray()
        self._need = 0

    @property
    def fallback(self):
        return self._fallback

    @property
    def buffered(self):
        return len(self._partial)

    def attach(self, on_frame, on_first, on_stop, stats):
        self.stats = stats
        self.on_stop = on_stop
        self.on_first = on_first
        self.on_frame = on_frame

    def detach(self):
        self.on_frame = self.on_first = self.on_stop = None

    def feed_eof(self):
        self.delegate.feed_eof()

    def feed_data(self, data):
        cdef bytes head, frame
        cdef Py_ssize_t hl, k
        cdef uint64_t length
        cdef object result
        if type(data) is not bytes:
            data = bytes(data)
        if self._fallback:
            return self.delegate.feed_data(data)
        if not len(self._partial):
            return self._feed(<bytes>data, 0)
        # complete the frame begun in an earlier call (copying only its bytes), then go on in place
        if not self._need:
            head = bytes(self._partial) + data[:14]
            if not _header(<const unsigned char*>PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head), &hl, &length):
                self._partial += data
                return _NONE
            if _kind(<unsigned char>head[0], <unsigned char>head[1], length, <uint64_t>self.max_msg_size) == OTHER:
                self._fallback = True
                data = bytes(self._partial) + data
                del self._partial[:]
                return self.delegate.feed_data(data)
            self._need = hl + <Py_ssize_t>length
        k = self._need - len(self._partial)
        if PyBytes_GET_SIZE(data) < k:
            self._partial += data  # a long frame still incomplete
            return _NONE
        self._partial += memoryview(data)[:k]
        frame = bytes(self._partial)
        del self._partial[:]
        self._need = 0
        result = self._feed(frame, 0)
        if result[0] or k == PyBytes_GET_SIZE(data):
            return result
        if self._fallback:
            return self.delegate.feed_data(data[k:])
        return self._feed(<bytes>data, k)

    cdef object _feed(self, bytes buf, Py_ssize_t pos):
        """The frames of ``buf`` from ``pos`` on; an incomplete one at the end is kept."""
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(buf), run = -1, hl, end, delivered = 0, nbytes = 0
        cdef uint64_t length
        cdef uint64_t limit = <uint64_t>self.max_msg_size
        cdef int kind
        cdef bint fall = False
        cdef object result = _NONE
        cdef object payload, on_frame, first, stop
        try:
            while True:
                if not _header(p + pos, n - pos, &hl, &length):
                    break
                kind = _kind(p[pos], p[pos + 1], length, limit)
                if kind == OTHER:
                    fall = True
                    break
                if n - pos < hl or <uint64_t>(n - pos - hl) < length:
                    self._need = hl + <Py_ssize_t>length
                    break
                end = pos + hl + <Py_ssize_t>length
                on_frame = self.on_frame
                if kind == CONTROL or on_frame is None:
                    if run < 0:
                        run = pos
                    pos = end
                    continue
                if (p[pos] & 0x0F) == 1 and self.decode_text:
                    try:
                        payload = PyUnicode_DecodeUTF8(<const char*>p + pos + hl, <Py_ssize_t>length, NULL)
                    except UnicodeDecodeError:
                        fall = True  # the delegate reports it
                        break
                else:
                    payload = PyBytes_FromStringAndSize(<const char*>p + pos + hl, <Py_ssize_t>length)
                if run >= 0:
                    result = self.delegate.feed_data(buf[run:pos])
                    run = -1
                    if result[0]:
                        return result
                first = self.on_first
                if first is not None:
                    self.on_first = None
                    first()
                delivered += 1
                nbytes += <Py_ssize_t>length
                pos = end
                try:
                    on_frame(payload)
                except BaseException as exc:  # the consumer stopped: it gets the exception back
                    self.error = exc
                    stop = self.on_stop
                    self.on_frame = self.on_first = self.on_stop = None
                    if stop is not None:
                        stop()
            if fall:  # from pos on, everything goes to the delegate
                self._fallback = True
                if run < 0:
                    run = pos
                pos = n
            if run >= 0:
                result = self.delegate.feed_data(buf if run == 0 and pos == n else buf[run:pos])
            if pos < n and not result[0]:
                self._partial += memoryview(buf)[pos:]
            return result
        finally:
            if delivered:
                stats = self.stats
                stats.messages += delivered
                stats.bytes += nbytes


cdef inline bint _header(const unsigned char* p, Py_ssize_t avail, Py_ssize_t* hl, uint64_t* length) noexcept:
    """The header and payload lengths of the frame at ``p``; False while its header is incomplete."""
    cdef uint64_t ln
    cdef Py_ssize_t h = 2
    cdef int i
    if avail < 2:
        return False
    ln = p[1] & 0x7F
    if ln == 126:
        if avail < 4:
            return False
        ln = (<uint64_t>p[2] << 8) | p[3]
        h = 4
    elif ln == 127:
        if avail < 10:
            return False
        ln = 0
        for i in range(2, 10):
            ln = (ln << 8) | p[i]
        h = 10
    if p[1] & 0x80:
        h += 4
    hl[0] = h
    length[0] = ln
    return True


cdef inline int _kind(unsigned char b0, unsigned char b1, uint64_t length, uint64_t limit) noexcept:
    cdef unsigned char op = b0 & 0x0F
    if (b0 & 0xF0) == 0x80 and not (b1 & 0x80) and (op == 1 or op == 2):
        if (length < limit) if limit else ((length >> 63) == 0):
            return PLAIN
        return OTHER
    if 8 <= op <= 10 and length <= 125:
        return CONTROL
    return OTHER
