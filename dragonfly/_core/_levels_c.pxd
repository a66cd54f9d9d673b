# Reading levels handed over from Python, shared by merge_c and wire_c: the items of exact lists and tuples,
# through borrowed references (no Python code runs while they are in use, so nothing can free them). Inline
# only: each module compiles its own copy into its fast path, and there is no module ``_levels_c`` to import.
#
#     from dragonfly._core._levels_c cimport exact_items, item_at

from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from cpython.sequence cimport PySequence_Fast_ITEMS
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE


cdef inline PyObject* item_at(object seq, bint is_list, Py_ssize_t i) noexcept:
    """Item ``i`` (borrowed) of ``seq``, an exact list (``is_list``) or tuple; NULL past its end."""
    if is_list:
        if i >= PyList_GET_SIZE(seq):
            return NULL
        return PyList_GET_ITEM(seq, i)
    if i >= PyTuple_GET_SIZE(seq):
        return NULL
    return PyTuple_GET_ITEM(seq, i)


cdef inline PyObject** exact_items(PyObject* obj, Py_ssize_t n) noexcept:
    """The items (borrowed, in place) of ``obj`` when it is an exact tuple or list of ``n`` items;
    NULL otherwise."""
    if PyTuple_CheckExact(<object>obj):
        if PyTuple_GET_SIZE(<object>obj) != n:
            return NULL
    elif PyList_CheckExact(<object>obj):
        if PyList_GET_SIZE(<object>obj) != n:
            return NULL
    else:
        return NULL
    return PySequence_Fast_ITEMS(<object>obj)
