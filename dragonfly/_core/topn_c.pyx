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
from libc.math cimport INFINITY

from dragonfly._core.extract_c cimport TopExtractor

__all__ = ("TopPath", "TopReader", "TopState", "SEQ_DIGITS", "TAIL_WINDOW")

SEQ_DIGITS = 18
TAIL_WINDOW = 128


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
    cdef bint _held  # a top was accepted since construction or the last clear()
    cdef long long _seq  # its sequence position for TopReader.take (clamped to the C range, see _set_seq)
    cdef object _seq_obj  # ... as given

    def __cinit__(self):
        self._bpx = self._bqty = self._apx = self._aqty = NULL
        self._nb = self._na = self._cap = 0
        self._bids_cache = ()
        self._asks_cache = ()
        self.accepted = 0
        self._held = False
        self._seq = -1
        self._seq_obj = -1

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
        prev = INFINITY
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

    cdef int _set_seq(self, object seq) except -1:
        # any negative position reads as -1 (a Monotonic rule treats them alike); one beyond the C range
        # as the largest, so that TopReader.take leaves every frame to the general path (Python ints)
        if seq < 0:
            self._seq = -1
        elif seq > 0x7FFFFFFFFFFFFFFF:
            self._seq = 0x7FFFFFFFFFFFFFFF
        else:
            self._seq = seq
        self._seq_obj = seq
        return 0

    cdef str _take(self, double* bpx, double* bqty, Py_ssize_t nb, double* apx, double* aqty, Py_ssize_t na):
        cdef str problem = self._check(bpx, bqty, nb, apx, aqty, na)
        if problem:
            return problem
        self._reserve(nb if nb > na else na)
        self.accepted += 1
        self._held = True
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
    def accept(self, source, seq=-1):
        """Check ``source``'s levels and keep them with their sequence position ``seq``; ``""``, or what is
        wrong (state unchanged)."""
        cdef TopExtractor ext
        cdef Py_ssize_t nb, na, i
        cdef double* tmp
        cdef str problem
        if not isinstance(seq, int):
            raise TypeError(f"seq must be an int, not {type(seq).__name__}")
        if type(source) is TopExtractor:
            ext = <TopExtractor>source
            problem = self._take(ext.bid_px, ext.bid_qty, ext.n_bids, ext.ask_px, ext.ask_qty, ext.n_asks)
            if not problem:
                self._set_seq(seq)
            return problem
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
            problem = self._take(tmp, tmp + nb, nb, tmp + 2 * nb, tmp + 2 * nb + na, na)
        finally:
            PyMem_Free(tmp)
        if not problem:
            self._set_seq(seq)
        return problem

    def clear(self):
        """Forget the levels (both sides empty) and their sequence position."""
        self._nb = self._na = 0
        self._bids_cache = ()
        self._asks_cache = ()
        self._held = False
        self._seq = -1
        self._seq_obj = -1

    @property
    def held(self):
        """True when a top was accepted since construction or the last :meth:`clear`."""
        return self._held

    @property
    def seq(self):
        """Sequence position of the held top (``accept``'s ``seq``; -1 when none)."""
        return self._seq_obj

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


# ---------------------------------------------------------------------------------------
# TopReader
# ---------------------------------------------------------------------------------------

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memchr

from dragonfly._core.extract_c import TopExtractor as _TopExtractor
from dragonfly.errors import ExtractError

cdef enum:
    _SEQ_DIGITS = 18
    _TAIL_WINDOW = 128


cdef Py_ssize_t _find(const char* buf, Py_ssize_t n, Py_ssize_t start, const char* pat, Py_ssize_t m) noexcept:
    """First occurrence of ``pat`` in ``buf[start:n]``, or -1."""
    cdef const char* p = buf + start
    cdef const char* end = buf + n
    cdef const char* hit
    if m == 0:
        return start
    while end - p >= m:
        hit = <const char*>memchr(p, pat[0], (end - p) - m + 1)
        if hit == NULL:
            return -1
        if memcmp(hit, pat, m) == 0:
            return hit - buf
        p = hit + 1
    return -1


cdef Py_ssize_t _rfind(const char* buf, Py_ssize_t n, Py_ssize_t start, const char* pat, Py_ssize_t m) noexcept:
    """Last occurrence of ``pat`` in ``buf[start:n]``, or -1."""
    cdef Py_ssize_t i = n - m
    while i >= start:
        if buf[i] == pat[0] and memcmp(buf + i, pat, m) == 0:
            return i
        i -= 1
    return -1


# ---------------------------------------------------------------------------------------
# Slots of Python objects, read and written where their member descriptors would
# ---------------------------------------------------------------------------------------

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
        int flags
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF, Py_XDECREF
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME
from libc.limits cimport LLONG_MAX

cdef enum:
    _T_OBJECT_EX = 16  # PyMemberDef.type of a __slots__ entry
    _READONLY = 1

cdef struct _Slot:
    # one attribute of objects of one type: where its __slots__ member lives (tp NULL: use getattr/setattr)
    void* seen  # the type last looked at (only compared: tp decides)
    PyObject* tp  # a strong reference (released by _drop_slot), so that no other type can take its address
    Py_ssize_t off


cdef int _find_slot(_Slot* ref, obj, str name) except -1:
    """Point ``ref`` at attribute ``name`` of ``type(obj)`` when it is a plain writable ``__slots__`` member
    and the type takes attribute access as ``object`` does (then reading or writing the slot is exactly what
    ``getattr``/``setattr`` do); else ``ref.tp`` is NULL and access goes through ``getattr``/``setattr``."""
    cdef PyMemberDef* m
    _drop_slot(ref)
    ref.seen = <void*>Py_TYPE(obj)
    tp = type(obj)
    if tp.__getattribute__ is not object.__getattribute__ or tp.__setattr__ is not object.__setattr__:
        return 0
    for klass in tp.__mro__:
        d = klass.__dict__.get(name)
        if d is not None:
            break
    else:
        return 0
    if type(d) is not _member_descriptor:
        return 0
    m = (<PyMemberDescrObject*>d).d_member
    if m.type != _T_OBJECT_EX or (m.flags & _READONLY):
        return 0
    Py_INCREF(tp)
    ref.tp = <PyObject*>tp
    ref.off = m.offset
    return 0


cdef inline void _drop_slot(_Slot* ref) noexcept:
    Py_XDECREF(ref.tp)
    ref.tp = NULL
    ref.seen = NULL
    ref.off = 0


cdef inline object _slot_get(_Slot* ref, obj, str name):
    cdef PyObject* v
    if <void*>ref.tp == <void*>Py_TYPE(obj):
        v = (<PyObject**>((<char*><PyObject*>obj) + ref.off))[0]
        if v != NULL:
            return <object>v
    return getattr(obj, name)


cdef inline int _slot_set(_Slot* ref, obj, str name, value) except -1:
    cdef PyObject** p
    cdef PyObject* old
    if <void*>ref.tp == <void*>Py_TYPE(obj):
        p = <PyObject**>((<char*><PyObject*>obj) + ref.off)
        old = p[0]
        Py_INCREF(value)
        p[0] = <PyObject*>value
        Py_XDECREF(old)
        return 0
    setattr(obj, name, value)
    return 0


class _Probe:
    __slots__ = ("x",)


_member_descriptor = type(_Probe.__dict__["x"])


@cython.final
cdef class _Route:
    """What :class:`TopPath` does with an accepted frame of one bound key: the keeper's writes, the item's
    mark (the slots of their types, found once)."""
    cdef object keeper
    cdef object item
    cdef _Slot last
    cdef _Slot stats
    cdef _Slot exchange
    cdef _Slot receive
    cdef _Slot queued
    cdef _Slot snapshots  # of the keeper's stats (found again if that object changes type)

    def __cinit__(self, keeper, item):
        self.keeper = keeper
        self.item = item
        _find_slot(&self.last, keeper, "last")
        _find_slot(&self.stats, keeper, "stats")
        _find_slot(&self.exchange, keeper, "exchange_ts_ns")
        _find_slot(&self.receive, item, "receive_ns")
        _find_slot(&self.queued, item, "queued_in")
        _find_slot(&self.snapshots, getattr(keeper, "stats"), "snapshots")

    def __dealloc__(self):
        _drop_slot(&self.last)
        _drop_slot(&self.stats)
        _drop_slot(&self.exchange)
        _drop_slot(&self.receive)
        _drop_slot(&self.queued)
        _drop_slot(&self.snapshots)


@cython.final
cdef class _Bound:
    """What :meth:`TopReader.take` does with the frames of one bound key."""
    cdef TopState state
    cdef object item
    cdef _Route route  # TopPath.bind's, or None

    def __cinit__(self, TopState state not None, item):
        self.state = state
        self.item = item
        self.route = None


@cython.auto_pickle(False)
cdef class TopReader:
    """Routing key, sequence number and top N in one call (see :class:`dragonfly._core.topn_py.TopReader`)."""

    cdef dict _extractors
    cdef tuple _paths
    cdef bytes _seq
    cdef bint _quoted
    cdef bytes _head
    cdef bytes _tail
    cdef bytes _needle
    cdef public str key
    cdef public object seq
    cdef public object top
    cdef bytes _key_bytes  # the last key as it was in the frame: a frame of the same stream reuses key and extractor
    cdef dict _bound  # key -> _Bound (TopReader.bind)
    cdef _Bound _slot  # the last key's, or None

    def __init__(self, str bids_path, str asks_path, depth, *, str seq_key, str route_head="", str route_tail="",
                 str route_needle="", bint seq_quoted=False):
        if bool(route_head) == bool(route_tail and route_needle):
            raise ValueError("route by a head, or by a tail and a needle (exactly one)")
        if not seq_key:
            raise ValueError("seq_key must not be empty")
        _TopExtractor(bids_path, asks_path, depth)  # check the paths and depth now
        self._extractors = {}
        self._paths = (bids_path, asks_path, depth)
        self._seq = f'"{seq_key}":'.encode()
        self._quoted = seq_quoted
        self._head = route_head.encode()
        self._tail = route_tail.encode()
        self._needle = route_needle.encode()
        self.key = ""
        self.seq = -1
        self.top = None
        self._key_bytes = b""
        self._bound = {}
        self._slot = None

    cdef object _route(self, const char* buf, Py_ssize_t n):
        cdef Py_ssize_t j, k, i, m
        cdef const char* hit
        if len(self._head):
            m = PyBytes_GET_SIZE(self._head)
            if n < m or memcmp(buf, PyBytes_AS_STRING(self._head), m) != 0:
                return None
            j = m
        else:
            m = PyBytes_GET_SIZE(self._tail)
            if n < m or memcmp(buf + n - m, PyBytes_AS_STRING(self._tail), m) != 0:
                return None
            i = _rfind(buf, n, n - _TAIL_WINDOW if n > _TAIL_WINDOW else 0, PyBytes_AS_STRING(self._needle),
                       PyBytes_GET_SIZE(self._needle))
            if i < 0:
                return None
            j = i + PyBytes_GET_SIZE(self._needle)
        hit = <const char*>memchr(buf + j, b'"', n - j) if j < n else NULL
        if hit == NULL:
            return None
        k = hit - buf
        if k <= j or memchr(buf + j, b'\\', k - j) != NULL:
            return None
        if (k - j == PyBytes_GET_SIZE(self._key_bytes) and self.top is not None
                and memcmp(buf + j, PyBytes_AS_STRING(self._key_bytes), k - j) == 0):
            return self.key  # the same stream as the last frame
        try:
            return PyUnicode_DecodeUTF8(buf + j, k - j, NULL)
        except UnicodeDecodeError:
            return None

    cdef long long _sequence(self, const char* buf, Py_ssize_t n) noexcept:
        cdef Py_ssize_t i, j, k
        cdef const char* hit
        cdef long long v = 0
        i = _find(buf, n, 0, PyBytes_AS_STRING(self._seq), PyBytes_GET_SIZE(self._seq))
        if i < 0:
            return -1
        j = i + PyBytes_GET_SIZE(self._seq)
        if self._quoted:
            if j >= n or buf[j] != b'"':
                return -1
            j += 1
            hit = <const char*>memchr(buf + j, b'"', n - j) if j < n else NULL
        else:
            hit = <const char*>memchr(buf + j, b',', n - j) if j < n else NULL
        if hit == NULL:
            return -1
        k = hit - buf
        if not 0 < k - j <= _SEQ_DIGITS:
            return -1
        for i in range(j, k):
            if not (b'0' <= buf[i] <= b'9'):
                return -1
            v = v * 10 + (buf[i] - 48)
        return v

    cdef int _buffer(self, frame, const char** buf, Py_ssize_t* n) except -1:
        """Point ``buf``/``n`` at the frame's UTF-8 bytes: 1, or 0 when it is not text or bytes (or has a
        lone surrogate: the general path reports it)."""
        if type(frame) is bytes:
            buf[0] = PyBytes_AS_STRING(frame)
            n[0] = PyBytes_GET_SIZE(frame)
            return 1
        if type(frame) is str:
            if PyUnicode_IS_COMPACT_ASCII(frame):
                buf[0] = <const char*>PyUnicode_DATA(frame)
                n[0] = PyUnicode_GET_LENGTH(frame)
                return 1
            try:
                buf[0] = PyUnicode_AsUTF8AndSize(frame, n)
            except UnicodeEncodeError:
                return 0
            return 1
        return 0

    cdef TopExtractor _locate(self, frame, const char** buf, Py_ssize_t* n, long long* seq):
        """What :meth:`read` and :meth:`take` share: point ``buf``/``n`` at the frame, route it and read its
        sequence number (``seq``, and :attr:`seq`); the key's extractor (now the current stream), or None
        when the frame is not in the compact spelling."""
        if not self._buffer(frame, buf, n):
            return None
        key = self._route(buf[0], n[0])
        if key is None:
            return None
        seq[0] = self._sequence(buf[0], n[0])
        if seq[0] < 0:
            return None
        ext = self._select(key)
        self.seq = seq[0]
        return ext

    cdef TopExtractor _select(self, str key):
        """Make ``key`` the current stream (its extractor, made on first sight, and its bound slot)."""
        if key is self.key and self.top is not None:
            return <TopExtractor>self.top
        found = self._extractors.get(key)
        if found is None:
            found = self._extractors[key] = _TopExtractor(*self._paths)
        self._key_bytes = key.encode()
        self.key = key
        self.top = found
        self._slot = self._bound.get(key)
        return <TopExtractor>found

    def read(self, frame):
        """Route ``frame`` and update its key's extractor; the key, or None when the frame is not in the
        compact spelling (see :meth:`dragonfly._core.topn_py.TopReader.read`)."""
        cdef const char* buf = NULL
        cdef Py_ssize_t n = 0
        cdef long long seq
        cdef TopExtractor ext = self._locate(frame, &buf, &n, &seq)
        if ext is None:
            return None
        key = self.key
        try:
            ext.update_buffer(buf, n)
        except ExtractError:
            ext.update(frame)  # the same failure, raised with the frame for context
        return key

    def bind(self, str key not None, TopState state not None, item):
        """Let :meth:`take` accept the frames of ``key`` into ``state`` and answer ``item`` (see
        :meth:`dragonfly._core.topn_py.TopReader.bind`)."""
        slot = _Bound(state, item)
        self._bound[key] = slot
        if key == self.key:
            self._slot = slot

    def take(self, frame):
        """The routine frame of a bound key in one call: the bound item when its top was accepted, else None
        (see :meth:`dragonfly._core.topn_py.TopReader.take`)."""
        cdef _Bound slot = self._accept(frame)
        return None if slot is None else slot.item

    def path(self, stats, general, publish_lazy, *, seq_ts_ns=0):
        """A :class:`TopPath` over this reader (see :meth:`dragonfly._core.topn_py.TopReader.path`)."""
        return TopPath(self, stats, general, publish_lazy, seq_ts_ns=seq_ts_ns)

    cdef _Bound _accept(self, frame):
        """:meth:`take`: the bound slot whose state accepted the frame's top, or None."""
        cdef const char* buf = NULL
        cdef Py_ssize_t n = 0
        cdef long long seq
        cdef TopState state
        cdef _Bound slot
        cdef TopExtractor ext = self._locate(frame, &buf, &n, &seq)
        if ext is None:
            return None
        slot = self._slot
        if slot is None:
            return None
        state = slot.state
        if not state._held or seq < state._seq:
            return None  # the first top, or an older frame: the general path
        try:
            ext.update_buffer(buf, n)
        except ExtractError:
            return None  # the general path reads it again and reports it
        if state._take(ext.bid_px, ext.bid_qty, ext.n_bids, ext.ask_px, ext.ask_qty, ext.n_asks):
            return None  # not a sound top (state unchanged): the general path finds the same and resyncs
        state._seq = seq
        state._seq_obj = self.seq
        return slot

    def __repr__(self):
        return f"<TopReader {len(self._extractors)} keys, last {self.key!r}>"


# ---------------------------------------------------------------------------------------
# TopPath
# ---------------------------------------------------------------------------------------

@cython.final
@cython.auto_pickle(False)
cdef class TopPath:
    """A top-N feed's frames in one call, the routine one without Python code (see
    :class:`dragonfly._core.topn_py.TopPath`)."""

    cdef TopReader _reader
    cdef object _stats
    cdef object _general
    cdef object _publish_lazy
    cdef object _seq_ts_ns
    cdef long long _seq_ts  # seq_ts_ns in C (0: none)
    cdef long long _seq_max  # the largest sequence number whose exchange time fits a C long long (-1: multiply ints)
    cdef _Slot _frames
    cdef _Slot _conflated
    cdef readonly object last_receive_ns

    def __init__(self, TopReader reader not None, stats, general, publish_lazy, *, seq_ts_ns=0):
        if not callable(general) or not callable(publish_lazy):
            raise TypeError("general and publish_lazy must be callable")
        if not isinstance(seq_ts_ns, int) or seq_ts_ns < 0:
            raise ValueError("seq_ts_ns must be an int >= 0")
        self._reader = reader
        self._stats = stats
        self._general = general
        self._publish_lazy = publish_lazy
        self._seq_ts_ns = seq_ts_ns
        self._seq_ts = seq_ts_ns if seq_ts_ns <= LLONG_MAX else 1
        self._seq_max = LLONG_MAX // self._seq_ts if 0 < seq_ts_ns <= LLONG_MAX else -1
        _find_slot(&self._frames, stats, "frames")
        _drop_slot(&self._conflated)

    def __dealloc__(self):
        _drop_slot(&self._frames)
        _drop_slot(&self._conflated)
        self.last_receive_ns = 0

    def bind(self, str key not None, TopState state not None, keeper, item):
        """Take the routine frames of ``key`` into ``state``, ``keeper`` and ``item`` (see
        :meth:`dragonfly._core.topn_py.TopPath.bind`)."""
        route = _Route(keeper, item)
        self._reader.bind(key, state, item)
        (<_Bound>self._reader._bound[key]).route = route

    def __call__(self, frame, receive_ns=0):
        """One frame (see :meth:`dragonfly._core.topn_py.TopPath.__call__`)."""
        self._frame(frame, receive_ns)

    def on_frame(self, frame, receive_ns=0):
        """The same as calling the path (a bound method is the cheaper callable to hand a pump: vectorcall)."""
        self._frame(frame, receive_ns)

    cdef int _frame(self, frame, receive_ns) except -1:
        cdef timespec ts
        cdef _Bound slot
        cdef _Route route
        cdef long long s
        cdef PyObject* v
        stats = self._stats
        _slot_set(&self._frames, stats, "frames", _slot_get(&self._frames, stats, "frames") + 1)
        if not receive_ns:
            clock_gettime(CLOCK_REALTIME, &ts)
            receive_ns = <long long>ts.tv_sec * 1000000000 + ts.tv_nsec
        self.last_receive_ns = receive_ns
        slot = self._reader._accept(frame)
        if slot is None or slot.route is None:
            self._general(frame, receive_ns)
            return 0
        # a routine top of a LIVE instrument, not older than its last and sound, now in the keeper's top: the
        # rest of what BookKeeper.on_snapshot does then, and the instrument's mark for the consumer
        route = slot.route
        keeper = route.keeper
        seq = self._reader.seq
        _slot_set(&route.last, keeper, "last", seq)
        kstats = _slot_get(&route.stats, keeper, "stats")
        if route.snapshots.seen != <void*>Py_TYPE(kstats):
            _find_slot(&route.snapshots, kstats, "snapshots")
        _slot_set(&route.snapshots, kstats, "snapshots", _slot_get(&route.snapshots, kstats, "snapshots") + 1)
        if self._seq_ts:
            s = slot.state._seq
            if s <= self._seq_max:
                if s:
                    _slot_set(&route.exchange, keeper, "exchange_ts_ns", s * self._seq_ts)
            else:
                t = seq * self._seq_ts_ns
                if t:
                    _slot_set(&route.exchange, keeper, "exchange_ts_ns", t)
        item = route.item
        _slot_set(&route.receive, item, "receive_ns", receive_ns)
        q = None
        if <void*>route.queued.tp == <void*>Py_TYPE(item):
            v = (<PyObject**>((<char*><PyObject*>item) + route.queued.off))[0]
            if v != NULL:
                q = <object>v
        else:
            q = getattr(item, "queued_in", None)
        if q is None:
            self._publish_lazy(item)  # not waiting: queued now (or dropped at the bound, or the queue closed)
            return 0
        # waiting in its queue: publishing it again would only count it there (KeyedQueue.publish_lazy)
        if self._conflated.seen != <void*>Py_TYPE(q):
            _find_slot(&self._conflated, q, "conflated")
        _slot_set(&self._conflated, q, "conflated", _slot_get(&self._conflated, q, "conflated") + 1)
        return 0

    def __repr__(self):
        return f"<TopPath over {self._reader!r}>"
