# cython: binding=False
"""One JSON document, parsed strictly into a tape and read through integer handles (compiled twin).

Behaves exactly like :mod:`dragonfly._core.doc_py` (the reference, where the semantics are
documented): the same documents are accepted, errors have the same type, message and
``pos``, and handles number the values the same way.

The scanner (``_json_c.pxd``, shared with the level extractor) works on the UTF-8 bytes with
pointer arithmetic (SSE2 or 8-byte SWAR scans of string bodies) and never reads past the end
of the buffer. The tape is an array of 16-byte :c:type:`DocNode` records, kept inside the
object for small frames; no Python object is created until a value is asked for. Other Cython
modules ``cimport`` :class:`Doc` (see ``doc_c.pxd``) to read the tape and the buffer directly.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_SetItem
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcmp, memcpy

from ._json_c cimport E_ARR_SEP, E_CHAR, E_KEY, E_NESTING, E_OBJ_SEP, E_OK, E_SCAN_CODES, Scan, char_pos, cptr
from ._json_c cimport df_decimal, is_digit, literal_end, member_value, number_end, scan_eof, scan_fail, skip_ws
from ._json_c cimport string_end, unescape

from ..errors import ExtractError
from ._json_py import MESSAGES

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_COMPACT_ASCII(object unicode)
    void* PyUnicode_DATA(object unicode)
    Py_ssize_t PyUnicode_GET_LENGTH(object unicode)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    object PyUnicode_DecodeASCII(const char* s, Py_ssize_t size, const char* errors)
    Py_ssize_t _ustr_length "PyUnicode_GET_LENGTH" (PyObject* o)
    void* _ustr_data "PyUnicode_DATA" (PyObject* o)
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    object PyLong_FromString(const char* s, char** pend, int base)
    int PyUnicode_4BYTE_KIND

__all__ = ("Doc", "NULL", "FALSE", "TRUE", "NUMBER", "STRING", "ARRAY", "OBJECT", "MAX_DEPTH", "KIND_NAMES")

globals()["NULL"] = DOC_NULL  # NULL is a Cython keyword
FALSE = DOC_FALSE
TRUE = DOC_TRUE
NUMBER = DOC_NUMBER
STRING = DOC_STRING
ARRAY = DOC_ARRAY
OBJECT = DOC_OBJECT
KIND_NAMES = ("null", "false", "true", "number", "string", "array", "object")
MAX_DEPTH = 128
MAX_SIZE = 0xFFFFFFFE

cdef enum:
    C_MAX_DEPTH = 128

cdef enum:
    E_EXTRA = E_SCAN_CODES
    E_MEMORY

# The scanner's messages (shared with the reference twin), then this module's, in E_* order.
cdef tuple _MESSAGES = MESSAGES + ("extra data after the document", "out of memory")


# ---------------------------------------------------------------------------------------
# The tape
# ---------------------------------------------------------------------------------------


# The heap tape of the last document freed, kept for the next one that outgrows its inline
# nodes (frames come one after another: no allocation per frame).
cdef DocNode* _spare_tape = NULL
cdef Py_ssize_t _spare_cap = 0

cdef enum:
    SPARE_MAX = 1 << 16    # the largest tape kept (nodes)


cdef DocNode* _grow(Doc d) noexcept:
    """Room for one more node; NULL when out of memory."""
    global _spare_tape
    cdef Py_ssize_t cap
    cdef DocNode* t
    if d._tape == d._inline:
        cap = d._n // 6
        if cap < 8 * DOC_INLINE:
            cap = 8 * DOC_INLINE
        if _spare_tape != NULL and _spare_cap >= cap:
            t = _spare_tape
            cap = _spare_cap
            _spare_tape = NULL
        else:
            t = <DocNode*>PyMem_Malloc(cap * sizeof(DocNode))
            if t == NULL:
                return NULL
        memcpy(t, d._inline, d._count * sizeof(DocNode))
    else:
        cap = d._cap * 2
        t = <DocNode*>PyMem_Realloc(d._tape, cap * sizeof(DocNode))
        if t == NULL:
            return NULL
    d._tape = t
    d._cap = cap
    return t


cdef struct Tape:
    # the tape being filled, in locals of _parse (written back to the Doc when it grows or ends)
    DocNode* nodes
    Py_ssize_t count
    Py_ssize_t cap


cdef inline DocNode* _node(Doc d, Scan* c, Tape* t, uint8_t kind, cptr at) noexcept:
    """Append a node (size 0, no flags, no members); NULL with E_MEMORY when it cannot grow."""
    cdef DocNode* node
    cdef Py_ssize_t h = t.count
    if h == t.cap:
        d._count = h
        if _grow(d) == NULL:
            c.err = E_MEMORY
            return NULL
        t.nodes = d._tape
        t.cap = d._cap
    node = &t.nodes[h]
    node.start = <uint32_t>(at - c.start)
    node.size = 0
    node.next = <uint32_t>(h + 1)
    node.kind = kind
    node.flags = 0
    t.count = h + 1
    return node


cdef inline cptr _string_node(Doc d, Scan* c, Tape* t, cptr p) noexcept:
    """Append the string (a value or a key) at ``p``, its opening quote; returns its end."""
    cdef DocNode* node = _node(d, c, t, DOC_STRING, p)
    cdef bint escapes = False
    cdef cptr r
    if node == NULL:
        return NULL
    r = string_end(c, p, &escapes)
    if r == NULL:
        return NULL
    node.size = <uint32_t>(r - p - 2)
    node.flags = DOC_F_ESCAPES if escapes else 0
    return r


cdef inline cptr _number_node(Doc d, Scan* c, Tape* t, cptr p) noexcept:
    """Append the number at ``p``; returns its end."""
    cdef DocNode* node = _node(d, c, t, DOC_NUMBER, p)
    cdef bint integer
    cdef cptr r
    if node == NULL:
        return NULL
    r = number_end(c, p, &integer)
    if r == NULL:
        return NULL
    node.size = <uint32_t>(r - p)
    node.flags = DOC_F_INTEGER if integer else 0
    return r


cdef cptr _member_key(Doc d, Scan* c, Tape* t, cptr p) noexcept:
    """At an object member: the key (a string node), ``:`` and whitespace; returns the value position."""
    cdef cptr e = c.end
    if p >= e:
        return scan_eof(c)
    if p[0] != 0x22:
        return scan_fail(c, E_KEY, p)
    p = _string_node(d, c, t, p)
    if p == NULL:
        return NULL
    return member_value(c, p)


cdef int _parse(Doc d, Scan* c) noexcept:
    """Fill the tape; 0, or -1 with ``c.err``/``c.pos`` set.

    The open containers are a stack of (handle, members so far, is an object); the innermost
    one is kept in locals, and its node gets its member count and ``next`` when it closes."""
    cdef cptr e = c.end
    cdef cptr p = skip_ws(c.start, e)
    cdef cptr r
    cdef Tape t
    cdef DocNode* node
    cdef uint32_t stk_h[C_MAX_DEPTH]
    cdef uint32_t stk_n[C_MAX_DEPTH]
    cdef uint8_t stk_o[C_MAX_DEPTH]
    cdef Py_ssize_t depth = 0
    cdef uint32_t cur_h = 0, cur_n = 0
    cdef bint cur_obj = False, is_obj
    cdef unsigned char ch
    t.nodes = d._tape
    t.count = 0
    t.cap = d._cap
    while True:
        # a value at p
        if p >= e:
            break  # end of input
        ch = p[0]
        if ch == 0x22:
            p = _string_node(d, c, &t, p)
            if p == NULL:
                return -1
        elif ch == 0x2D or is_digit(ch):
            p = _number_node(d, c, &t, p)
            if p == NULL:
                return -1
        elif ch == 0x7B or ch == 0x5B:
            if depth >= C_MAX_DEPTH:
                scan_fail(c, E_NESTING, p)
                return -1
            is_obj = ch == 0x7B
            if _node(d, c, &t, DOC_OBJECT if is_obj else DOC_ARRAY, p) == NULL:
                return -1
            p = skip_ws(p + 1, e)
            if p < e and p[0] == (0x7D if is_obj else 0x5D):
                p += 1  # empty: a complete value
            else:
                stk_h[depth] = cur_h
                stk_n[depth] = cur_n
                stk_o[depth] = cur_obj
                depth += 1
                cur_h = <uint32_t>(t.count - 1)
                cur_n = 0
                cur_obj = is_obj
                if is_obj:
                    p = _member_key(d, c, &t, p)
                    if p == NULL:
                        return -1
                continue
        elif ch == 0x74 or ch == 0x66 or ch == 0x6E:
            r = literal_end(c, p)
            if r == NULL:
                return -1
            node = _node(d, c, &t, DOC_TRUE if ch == 0x74 else (DOC_FALSE if ch == 0x66 else DOC_NULL), p)
            if node == NULL:
                return -1
            node.size = <uint32_t>(r - p)
            p = r
        else:
            scan_fail(c, E_CHAR, p)
            return -1
        # after a complete value
        while True:
            p = skip_ws(p, e)
            if depth == 0:
                d._count = t.count
                if p < e:
                    scan_fail(c, E_EXTRA, p)
                    return -1
                return 0
            cur_n += 1
            if p >= e:
                scan_eof(c)
                return -1
            ch = p[0]
            if ch == 0x2C:
                p = skip_ws(p + 1, e)
                if cur_obj:
                    p = _member_key(d, c, &t, p)
                    if p == NULL:
                        return -1
                break
            if ch == (0x7D if cur_obj else 0x5D):
                node = &t.nodes[cur_h]
                node.size = cur_n
                node.next = <uint32_t>t.count
                depth -= 1
                cur_h = stk_h[depth]
                cur_n = stk_n[depth]
                cur_obj = stk_o[depth]
                p += 1
                continue
            scan_fail(c, E_OBJ_SEP if cur_obj else E_ARR_SEP, p)
            return -1
    d._count = t.count
    scan_eof(c)
    return -1


# ---------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------


cdef object _error(Doc d, str message, Py_ssize_t h):
    return ExtractError(message, char_pos(d._src, d._buf, d._tape[h].start))


cdef str _decode_escaped(cptr s, Py_ssize_t n):
    """A validated string body with escapes -> str (lone surrogates kept, as json.loads does)."""
    cdef Py_UCS4 local[256]
    cdef Py_UCS4* out = local
    cdef Py_ssize_t i = 0, j = 0
    cdef unsigned char ch
    cdef cptr r
    if n > 256:
        out = <Py_UCS4*>PyMem_Malloc(n * sizeof(Py_UCS4))
        if out == NULL:
            raise MemoryError()
    try:
        while i < n:
            ch = s[i]
            if ch == 0x5C:
                r = unescape(s + i, s + n, &out[j])
                i = r - s
            elif ch < 0x80:
                out[j] = ch
                i += 1
            elif ch < 0xE0:
                out[j] = ((ch & 0x1F) << 6) | (s[i + 1] & 0x3F)
                i += 2
            elif ch < 0xF0:
                out[j] = ((ch & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
                i += 3
            else:
                out[j] = (((ch & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6)
                          | (s[i + 3] & 0x3F))
                i += 4
            j += 1
        return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, j)
    finally:
        if out != local:
            PyMem_Free(out)


cdef bint _integer_text(cptr s, Py_ssize_t n) noexcept:
    """``-?[0-9]+``"""
    cdef Py_ssize_t i = 0
    if n and s[0] == 0x2D:
        i = 1
    if i == n:
        return False
    while i < n:
        if <unsigned int>s[i] - 0x30 > 9:
            return False
        i += 1
    return True


cdef object _int_from(cptr s, Py_ssize_t n):
    """int() of validated ``-?[0-9]+`` text; ValueError past the interpreter's digit limit."""
    cdef long long v = 0
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef char local[64]
    cdef char* buf
    if n <= 18:
        if s[0] == 0x2D:
            neg = True
            i = 1
        while i < n:
            v = v * 10 + (s[i] - 0x30)
            i += 1
        return PyLong_FromLongLong(-v if neg else v)
    if n < 64:
        buf = local
    else:
        buf = <char*>PyMem_Malloc(n + 1)
    if buf == NULL:
        raise MemoryError()
    try:
        memcpy(buf, s, n)
        buf[n] = 0
        return PyLong_FromString(buf, NULL, 10)
    finally:
        if buf != local:
            PyMem_Free(buf)


cdef inline bint _same_bytes(cptr a, cptr b, Py_ssize_t n) noexcept:
    """``a[:n] == b[:n]``; member names are short, so a loop beats a call to memcmp."""
    cdef Py_ssize_t i
    if n > 16:
        return memcmp(a, b, n) == 0
    for i in range(n):
        if a[i] != b[i]:
            return False
    return True


# ---------------------------------------------------------------------------------------
# Short strings: a cache of str objects
# ---------------------------------------------------------------------------------------
# Frames repeat the same short strings (instrument names, actions, channels): decoding one
# returns the str made for the same bytes last time when it is still in this direct-mapped
# cache (its hash already computed, so a dict lookup with it skips hashing too), as CPython
# interns identifiers. Only ASCII strings of at most STR_CACHE_MAX bytes are kept.

cdef enum:
    STR_CACHE = 512           # entries (a power of two)
    STR_CACHE_MAX = 32        # longest string kept, in bytes

cdef PyObject* _str_cache[STR_CACHE]   # owned references, or NULL


cdef str _short_str(cptr s, Py_ssize_t n):
    """``s[:n]`` (no escapes, valid UTF-8) as a str, from the cache when it is there."""
    cdef uint32_t h = 2166136261u
    cdef unsigned char acc = 0
    cdef Py_ssize_t i
    cdef PyObject* p
    cdef str out
    for i in range(n):  # FNV-1a, and whether every byte is ASCII
        h = (h ^ s[i]) * 16777619u
        acc |= s[i]
    if acc & 0x80:
        return PyUnicode_DecodeUTF8(<const char*>s, n, NULL)
    h &= STR_CACHE - 1
    p = _str_cache[h]
    if p != NULL and _ustr_length(p) == n and memcmp(_ustr_data(p), s, n) == 0:
        return <str>p
    out = PyUnicode_DecodeASCII(<const char*>s, n, NULL)
    Py_INCREF(out)
    _str_cache[h] = <PyObject*>out
    if p != NULL:
        Py_DECREF(<object>p)
    return out


# ---------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------


@cython.final
@cython.freelist(8)
@cython.no_gc  # it holds only its str or bytes: it cannot be part of a cycle
cdef class Doc:
    """One strictly parsed JSON document, read through integer handles.

    See :class:`dragonfly._core.doc_py.Doc` for the full description.

    Parameters
    ----------
    data : str, bytes, bytearray or memoryview
        The JSON text.
    """

    def __cinit__(self, data):
        cdef const char* s
        cdef Py_ssize_t n = 0
        cdef Scan c
        self._tape = self._inline
        self._cap = DOC_INLINE
        self._count = 0
        self._at_h = -1
        if PyUnicode_Check(data):
            self._is_str = True
            if PyUnicode_IS_COMPACT_ASCII(data):  # the usual frame: its data is the UTF-8
                s = <const char*>PyUnicode_DATA(data)
                n = PyUnicode_GET_LENGTH(data)
            else:
                try:
                    s = PyUnicode_AsUTF8AndSize(data, &n)  # cached inside the str
                except UnicodeEncodeError as exc:
                    raise ExtractError("message is not encodable as UTF-8 (lone surrogate)", exc.start) from None
        else:
            if not PyBytes_Check(data):
                if isinstance(data, (bytearray, memoryview)):
                    data = bytes(data)
                else:
                    raise ExtractError(
                        f"document must be str, bytes, bytearray or memoryview, not {type(data).__name__}"
                    )
            s = PyBytes_AS_STRING(data)
            n = PyBytes_GET_SIZE(data)
        self._src = data
        self._buf = <const unsigned char*>s
        self._n = n
        if n > 0xFFFFFFFE:
            raise ExtractError("document too large", -1)
        c.start = self._buf
        c.end = self._buf + n
        c.err = E_OK
        c.pos = 0
        if _parse(self, &c) < 0:
            if c.err == E_MEMORY:
                raise MemoryError()
            raise ExtractError(_MESSAGES[c.err], char_pos(self._src, self._buf, c.pos))

    def __dealloc__(self):
        global _spare_tape, _spare_cap
        if self._tape != self._inline:
            if self._cap <= SPARE_MAX and (_spare_tape == NULL or _spare_cap < self._cap):
                if _spare_tape != NULL:
                    PyMem_Free(_spare_tape)
                _spare_tape = self._tape  # for the next document
                _spare_cap = self._cap
            else:
                PyMem_Free(self._tape)

    # -- helpers ----------------------------------------------------------------------------------

    cdef int _check(self, Py_ssize_t h) except -1:
        if h < 0 or h >= self._count:
            raise IndexError(f"handle {h} out of range")
        return 0

    cdef str decode(self, Py_ssize_t h):
        cdef DocNode* node = &self._tape[h]
        cdef cptr s = self._buf + node.start + 1
        if node.flags & DOC_F_ESCAPES:
            return _decode_escaped(s, node.size)
        if node.size <= STR_CACHE_MAX:
            return _short_str(s, node.size)
        return PyUnicode_DecodeUTF8(<const char*>s, node.size, NULL)

    cdef int number(self, Py_ssize_t h, double* out) except -1:
        cdef DocNode* node = &self._tape[h]
        if node.kind == DOC_NUMBER:
            return df_decimal(self._buf + node.start, node.size, out)
        if node.kind == DOC_STRING and not (node.flags & DOC_F_ESCAPES):
            return df_decimal(self._buf + node.start + 1, node.size, out)
        return 0

    cdef object value_of(self, Py_ssize_t h, bint text_numbers):
        cdef DocNode* node = &self._tape[h]
        cdef Py_ssize_t i, n, e
        cdef cptr s
        cdef double x
        cdef list out
        cdef dict obj
        cdef object item
        cdef uint8_t kind = node.kind
        if kind == DOC_STRING:
            return self.decode(h)
        if kind == DOC_NUMBER:
            s = self._buf + node.start
            if text_numbers:
                return PyUnicode_DecodeASCII(<const char*>s, node.size, NULL)
            if node.flags & DOC_F_INTEGER:
                try:
                    return _int_from(s, node.size)
                except ValueError:
                    raise _error(self, "integer too large to convert", h) from None
            df_decimal(s, node.size, &x)
            return PyFloat_FromDouble(x)
        if kind == DOC_ARRAY:
            n = node.size
            out = PyList_New(n)
            e = h + 1
            for i in range(n):
                item = self.value_of(e, text_numbers)
                Py_INCREF(item)
                PyList_SET_ITEM(out, i, item)
                e = self._tape[e].next
            return out
        if kind == DOC_OBJECT:
            n = node.size
            obj = {}
            e = h + 1
            for i in range(n):
                PyDict_SetItem(obj, self.decode(e), self.value_of(e + 1, text_numbers))
                e = self._tape[e + 1].next
            return obj
        if kind == DOC_TRUE:
            return True
        if kind == DOC_FALSE:
            return False
        return None

    # -- navigation -------------------------------------------------------------------------------

    @property
    def root(self):
        """Handle of the top value (always 0)."""
        return 0

    def __len__(self):
        """Number of values on the tape (object keys included)."""
        return self._count

    def kind(self, Py_ssize_t h):
        """Kind of value ``h``: one of NULL, FALSE, TRUE, NUMBER, STRING, ARRAY, OBJECT."""
        self._check(h)
        return self._tape[h].kind

    def get(self, Py_ssize_t h, key):
        """Handle of member ``key`` of object ``h`` (the first one when duplicated), or -1."""
        cdef const char* kb = NULL
        cdef Py_ssize_t kn = 0, i, k
        cdef DocNode* node
        self._check(h)
        if not PyUnicode_Check(key):
            raise TypeError(f"key must be str, not {type(key).__name__}")
        if self._tape[h].kind != DOC_OBJECT:
            return -1
        if PyUnicode_IS_COMPACT_ASCII(key):
            kb = <const char*>PyUnicode_DATA(key)
            kn = PyUnicode_GET_LENGTH(key)
        else:
            try:
                kb = PyUnicode_AsUTF8AndSize(key, &kn)
            except UnicodeEncodeError:
                kb = NULL  # only an escaped key can match
        k = h + 1
        for i in range(self._tape[h].size):
            node = &self._tape[k]
            if node.flags & DOC_F_ESCAPES:
                if self.decode(k) == key:
                    return k + 1
            elif kb != NULL and node.size == kn and _same_bytes(self._buf + node.start + 1, <cptr>kb, kn):
                return k + 1
            k = self._tape[k + 1].next
        return -1

    def at(self, Py_ssize_t h, Py_ssize_t i):
        """Handle of element ``i`` of array ``h`` (negative counts from the end), or -1."""
        cdef Py_ssize_t n, j, e
        self._check(h)
        if self._tape[h].kind != DOC_ARRAY:
            return -1
        n = self._tape[h].size
        if i < 0:
            i += n
        if i < 0 or i >= n:
            return -1
        if h == self._at_h and i >= self._at_i:
            j = self._at_i
            e = self._at_e
        else:
            j = 0
            e = h + 1
        while j < i:
            e = self._tape[e].next
            j += 1
        self._at_h = h
        self._at_i = i
        self._at_e = e
        return e

    def len(self, Py_ssize_t h):
        """Members of object ``h`` or elements of array ``h``."""
        self._check(h)
        if self._tape[h].kind < DOC_ARRAY:
            raise _error(self, "not an array or object", h)
        return self._tape[h].size

    def children(self, Py_ssize_t h):
        """Handles of the elements of array ``h`` or of the member values of object ``h``."""
        cdef Py_ssize_t i, n, e
        cdef bint is_obj
        cdef list out
        cdef object item
        self._check(h)
        if self._tape[h].kind < DOC_ARRAY:
            raise _error(self, "not an array or object", h)
        is_obj = self._tape[h].kind == DOC_OBJECT
        n = self._tape[h].size
        out = PyList_New(n)
        e = h + 1
        for i in range(n):
            if is_obj:
                e += 1
            item = e
            Py_INCREF(item)
            PyList_SET_ITEM(out, i, item)
            e = self._tape[e].next
        return out

    # -- scalars ----------------------------------------------------------------------------------

    def str(self, Py_ssize_t h):
        """The decoded value of string ``h``."""
        self._check(h)
        if self._tape[h].kind != DOC_STRING:
            raise _error(self, "not a string", h)
        return self.decode(h)

    def text(self, Py_ssize_t h):
        """The exact source text of number ``h``, or the decoded value of string ``h``."""
        self._check(h)
        cdef DocNode* node = &self._tape[h]
        if node.kind == DOC_NUMBER:
            return PyUnicode_DecodeASCII(<const char*>self._buf + node.start, node.size, NULL)
        if node.kind == DOC_STRING:
            return self.decode(h)
        raise _error(self, "not a number or string", h)

    def int(self, Py_ssize_t h):
        """An integer JSON number, or a string of decimal digits with an optional ``-``."""
        self._check(h)
        cdef DocNode* node = &self._tape[h]
        cdef cptr s
        cdef Py_ssize_t n
        cdef bytes tmp
        if node.kind == DOC_NUMBER and node.flags & DOC_F_INTEGER:
            s = self._buf + node.start
            n = node.size
        elif node.kind == DOC_STRING:
            if node.flags & DOC_F_ESCAPES:
                tmp = self.decode(h).encode("utf-8", "surrogatepass")
                s = <cptr>PyBytes_AS_STRING(tmp)
                n = PyBytes_GET_SIZE(tmp)
            else:
                s = self._buf + node.start + 1
                n = node.size
            if not _integer_text(s, n):
                raise _error(self, "not an integer", h)
        else:
            raise _error(self, "not an integer", h)
        try:
            return _int_from(s, n)
        except ValueError:
            raise _error(self, "integer too large to convert", h) from None

    def float(self, Py_ssize_t h):
        """``float(text)`` of a JSON number or of a numeric string."""
        self._check(h)
        cdef DocNode* node = &self._tape[h]
        cdef double x
        cdef bytes tmp
        if self.number(h, &x):
            return PyFloat_FromDouble(x)
        if node.kind == DOC_STRING and node.flags & DOC_F_ESCAPES:
            tmp = self.decode(h).encode("utf-8", "surrogatepass")
            if df_decimal(<cptr>PyBytes_AS_STRING(tmp), PyBytes_GET_SIZE(tmp), &x):
                return PyFloat_FromDouble(x)
        raise _error(self, "not a number or numeric string", h)

    # -- subtrees ---------------------------------------------------------------------------------

    def value(self, Py_ssize_t h, text_numbers=False):
        """Value ``h`` as Python objects, equal to ``json.loads`` of its text; with
        ``text_numbers`` every number is its source text (``str``)."""
        self._check(h)
        return self.value_of(h, bool(text_numbers))

    def __repr__(self):
        return f"<Doc {KIND_NAMES[self._tape[0].kind]} values={self._count} bytes={self._n}>"
