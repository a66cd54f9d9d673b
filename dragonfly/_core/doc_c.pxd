# Declarations of the compiled JSON document (dragonfly._core.doc_c), for Cython modules that
# ``cimport`` it (the book's apply_doc reads the tape and the buffer directly):
#
#     from dragonfly._core.doc_c cimport Doc, DocNode, DOC_NUMBER, DOC_STRING, DOC_ARRAY
#
# The tape: one DocNode per value, in document order (a container is followed by its members; an
# object member by its key, a string node, then its value). ``next`` is the index after the value's
# subtree, so siblings are ``h = tape[h].next``. Semantics: dragonfly/_core/doc_py.py. Numbers convert with
# ``df_decimal``/``df_decimal24`` of ``_json_c.pxd``.

from libc.stdint cimport uint8_t, uint32_t


ctypedef struct DocNode:
    uint32_t start    # offset of the token in the buffer (a string's opening quote)
    uint32_t size     # string: bytes between the quotes; number/literal: token length; container: members
    uint32_t next     # index of the value after this one's subtree
    uint8_t kind      # DOC_NULL ... DOC_OBJECT
    uint8_t flags     # DOC_F_ESCAPES (string), DOC_F_INTEGER (number)


cdef enum:
    DOC_NULL = 0
    DOC_FALSE = 1
    DOC_TRUE = 2
    DOC_NUMBER = 3
    DOC_STRING = 4
    DOC_ARRAY = 5
    DOC_OBJECT = 6
    DOC_F_ESCAPES = 1
    DOC_F_INTEGER = 2
    DOC_INLINE = 16   # tape entries stored inside the object (no allocation for small frames)


cdef class Doc:
    cdef object _src                    # owns the buffer (str, whose UTF-8 is cached, or bytes)
    cdef const unsigned char* _buf      # the UTF-8 text
    cdef Py_ssize_t _n
    cdef bint _is_str
    cdef DocNode* _tape                 # _inline or a heap block
    cdef Py_ssize_t _count
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _at_h               # at(): last (array, index, element) for sequential reads
    cdef Py_ssize_t _at_i
    cdef Py_ssize_t _at_e
    cdef DocNode _inline[DOC_INLINE]

    cdef int _check(self, Py_ssize_t h) except -1
    cdef str decode(self, Py_ssize_t h)
    # value ``h`` as float(text) for a number or a plain numeric string without escapes:
    # 1 and ``out`` set, 0 when ``h`` is anything else, -1 with an exception (memory)
    cdef int number(self, Py_ssize_t h, double* out) except -1
    cdef object value_of(self, Py_ssize_t h, bint text_numbers)
