# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Heap-based k-way merge of K venues' top N, and the summed-liquidity merge (compiled).

The compiled twin of :mod:`dragonfly._core.merge_py`, which documents the contract and
the ordering; both return the same values bit for bit and raise the same exceptions.
The C-level API (:c:func:`normalize_side`, :c:func:`merge_side`,
:c:func:`merge_liquidity_side` on :c:type:`SideView` arrays) is declared in
``merge_c.pxd`` for other Cython modules; :func:`merge_levels` and
:func:`merge_liquidity` are its Python-facing views, :func:`merge_top` (the
aggregator's call) and :func:`check_top` (the snapshot listener's) have fast paths
for the shapes those callers hand over.
"""

from collections.abc import Mapping, Sequence
from time import perf_counter_ns

from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check, PyFloat_CheckExact, PyFloat_FromDouble
from cpython.list cimport PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from libc.math cimport INFINITY
from libc.stdlib cimport free, malloc

from ._levels_c cimport exact_items, item_at

from dragonfly._core.merge_py import as_double as _as_double_py
from dragonfly._core.merge_py import check_top as _check_top_py
from dragonfly.errors import LevelsError, LevelsTypeError

__all__ = ("merge_levels", "merge_liquidity", "merge_top", "check_top")

cdef extern from "Python.h":
    bint PyDict_Next(object p, Py_ssize_t* pos, PyObject** key, PyObject** value) noexcept
    bint PyUnicode_CheckExact(object o) noexcept
    int PyUnicode_Compare(object a, object b) except? -1
    void _df_incref "Py_INCREF"(PyObject* o)
    void _df_decref "Py_DECREF"(PyObject* o)
    Py_ssize_t PY_SSIZE_T_MAX

cdef tuple _SIDES = ("bids", "asks")


# ---------------------------------------------------------------------------
# C level
# ---------------------------------------------------------------------------

cdef struct _Head:
    double key  # price for asks, -price for bids: smaller is better
    double nq  # -qty: smaller is better
    Py_ssize_t v  # venue index: smaller is better


cdef inline bint _less(const _Head* a, const _Head* b) noexcept nogil:
    if a.key != b.key:
        return a.key < b.key
    if a.nq != b.nq:
        return a.nq < b.nq
    return a.v < b.v


cdef inline void _sift_down(_Head* h, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    cdef _Head x = h[i]
    cdef Py_ssize_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _less(&h[c + 1], &h[c]):
            c += 1
        if not _less(&h[c], &x):
            break
        h[i] = h[c]
        i = c
    h[i] = x


cdef inline Py_ssize_t _heap_init(const SideView* sides, Py_ssize_t k, double sign,
                                  _Head* heap, Py_ssize_t* pos) noexcept nogil:
    cdef Py_ssize_t v, i, n = 0
    for v in range(k):
        pos[v] = 0
        if sides[v].n > 0:
            heap[n].key = sign * sides[v].price[0]
            heap[n].nq = -sides[v].qty[0]
            heap[n].v = v
            n += 1
    i = n // 2 - 1
    while i >= 0:
        _sift_down(heap, n, i)
        i -= 1
    return n


cdef inline Py_ssize_t _heap_advance(const SideView* sides, double sign, _Head* heap, Py_ssize_t n,
                                     Py_ssize_t* pos) noexcept nogil:
    """Move the root's venue to its next level; return the new heap size."""
    cdef Py_ssize_t v = heap[0].v
    cdef Py_ssize_t i = pos[v] + 1
    pos[v] = i
    if i < sides[v].n:
        heap[0].key = sign * sides[v].price[i]
        heap[0].nq = -sides[v].qty[i]
    else:
        n -= 1
        heap[0] = heap[n]
    if n > 1:
        _sift_down(heap, n, 0)
    return n


cdef int normalize_side(double* price, double* qty, Py_ssize_t n, bint bids, Py_ssize_t* bad) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef double p, q
    for i in range(n):
        p = price[i]
        q = qty[i]
        if p != p or q != q:
            bad[0] = i
            return 1
        if i == 0:
            continue
        if (p > price[i - 1]) if bids else (p < price[i - 1]):
            bad[0] = i
            return 2
        # Insertion of level i into its equal-price run, quantity descending (stable).
        j = i
        while j > 0 and price[j - 1] == p and qty[j - 1] < q:
            price[j] = price[j - 1]
            qty[j] = qty[j - 1]
            j -= 1
        if j != i:
            price[j] = p
            qty[j] = q
    return 0


cdef int _scratch(Py_ssize_t k, _Head* stack_heap, Py_ssize_t* stack_pos,
                  _Head** heap, Py_ssize_t** pos) except -1 nogil:
    """A heap of k heads and 3 * k Py_ssize_t (positions, and the liquidity merge's
    per-venue level stamp and contribution slot): on the stack when k is small."""
    if k <= MERGE_STACK_VENUES:
        heap[0] = stack_heap
        pos[0] = stack_pos
        return 0
    heap[0] = <_Head*>malloc(<size_t>k * sizeof(_Head))
    pos[0] = <Py_ssize_t*>malloc(<size_t>(3 * k) * sizeof(Py_ssize_t))
    if heap[0] == NULL or pos[0] == NULL:
        free(heap[0])
        free(pos[0])
        with gil:
            raise MemoryError()
    return 0


cdef Py_ssize_t merge_side(const SideView* sides, Py_ssize_t k, bint bids, Py_ssize_t depth,
                           Py_ssize_t* out_venue, double* out_price, double* out_qty) except -1 nogil:
    cdef _Head stack_heap[MERGE_STACK_VENUES]
    cdef Py_ssize_t stack_pos[3 * MERGE_STACK_VENUES]
    cdef _Head* heap
    cdef Py_ssize_t* pos
    cdef double sign = -1.0 if bids else 1.0
    cdef Py_ssize_t n, v, out = 0
    if depth <= 0 or k <= 0:
        return 0
    _scratch(k, stack_heap, stack_pos, &heap, &pos)
    n = _heap_init(sides, k, sign, heap, pos)
    while n > 0 and out < depth:
        v = heap[0].v
        out_venue[out] = v
        out_price[out] = sides[v].price[pos[v]]
        out_qty[out] = sides[v].qty[pos[v]]
        out += 1
        n = _heap_advance(sides, sign, heap, n, pos)
    if heap != stack_heap:
        free(heap)
        free(pos)
    return out


cdef Py_ssize_t merge_liquidity_side(const SideView* sides, Py_ssize_t k, bint bids, Py_ssize_t depth,
                                     double* out_price, double* out_total, Py_ssize_t* out_start,
                                     Py_ssize_t* contrib_venue, double* contrib_qty) except -1 nogil:
    cdef _Head stack_heap[MERGE_STACK_VENUES]
    cdef Py_ssize_t stack_pos[3 * MERGE_STACK_VENUES]
    cdef _Head* heap
    cdef Py_ssize_t* pos
    cdef double sign = -1.0 if bids else 1.0
    cdef Py_ssize_t* stamp  # stamp[v]: the last level venue v contributed to, or -1
    cdef Py_ssize_t* slot  # slot[v]: index of v's contribution in that level
    cdef Py_ssize_t n, v, levels = 0, ncon = 0
    cdef double p, q, cur = 0.0
    out_start[0] = 0
    if depth <= 0 or k <= 0:
        return 0
    _scratch(k, stack_heap, stack_pos, &heap, &pos)
    stamp = pos + k
    slot = pos + 2 * k
    for v in range(k):
        stamp[v] = -1
    n = _heap_init(sides, k, sign, heap, pos)
    while n > 0:
        v = heap[0].v
        p = sides[v].price[pos[v]]
        q = sides[v].qty[pos[v]]
        if levels and p == cur:
            out_total[levels - 1] += q
            if stamp[v] == levels - 1:  # the venue lists this price again: sum it
                contrib_qty[slot[v]] += q
            else:
                stamp[v] = levels - 1
                slot[v] = ncon
                contrib_venue[ncon] = v
                contrib_qty[ncon] = q
                ncon += 1
        else:
            if levels >= depth:
                break
            out_price[levels] = p
            out_total[levels] = q
            out_start[levels] = ncon
            stamp[v] = levels
            slot[v] = ncon
            contrib_venue[ncon] = v
            contrib_qty[ncon] = q
            ncon += 1
            levels += 1
            cur = p
        n = _heap_advance(sides, sign, heap, n, pos)
    out_start[levels] = ncon
    if heap != stack_heap:
        free(heap)
        free(pos)
    return levels


# ---------------------------------------------------------------------------
# Python-facing views
# ---------------------------------------------------------------------------

cdef Py_ssize_t _check_depth(object depth) except -1:
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise LevelsTypeError(f"depth must be an int, not {type(depth).__name__}")
    if depth < 0:
        raise LevelsError(f"depth must be >= 0, got {depth}")
    if depth > PY_SSIZE_T_MAX:
        return PY_SSIZE_T_MAX
    return <Py_ssize_t>depth


cdef object _as_sequence(object side, str venue, str side_name):
    if type(side) is list or type(side) is tuple:
        return side
    if isinstance(side, Sequence) and not isinstance(side, (str, bytes, bytearray)):
        return list(side)
    raise LevelsTypeError(
        f"books[{venue!r}] {side_name} must be a sequence, not {type(side).__name__}", venue=venue, side=side_name
    )


cdef inline Py_ssize_t _seq_len(object seq) noexcept:
    # seq is an exact list or tuple (see _as_sequence)
    if type(seq) is list:
        return PyList_GET_SIZE(seq)
    return PyTuple_GET_SIZE(seq)


cdef inline double _as_double(object x, str field, str venue, str side, Py_ssize_t index) except? -1.0:
    # a float read in place; anything else (an int, or an error to raise) by the reference itself
    if PyFloat_Check(x):
        return PyFloat_AS_DOUBLE(x)
    return _as_double_py(x, field, venue, side, index)


cdef tuple _level_items(object level, str venue, str name, Py_ssize_t i):
    """Slow path for a level that is not an exact tuple/list of two floats: check it as
    merge_py does and return its two items."""
    cdef Py_ssize_t size
    if not isinstance(level, (tuple, list)):
        raise LevelsTypeError(
            f"{venue} {name}[{i}] must be a (price, qty) tuple, not {type(level).__name__}",
            venue=venue,
            side=name,
            index=i,
        )
    size = len(level)
    if size != 2:
        raise LevelsError(f"{venue} {name}[{i}] must have 2 elements, has {size}", venue=venue, side=name, index=i)
    return (level[0], level[1])


cdef Py_ssize_t _read_side(object seq, str venue, int s, Py_ssize_t depth, bint liquidity,
                           double* price, double* qty, Py_ssize_t cap) except -1:
    """Mirror of merge_py._load_side: fill price/qty (capacity cap), return the count.

    Fast path: an exact tuple/list of two floats, read through borrowed references (no
    Python code runs while they are in use). Anything else goes through _level_items
    and _as_double, in merge_py's order.
    """
    cdef str name = _SIDES[s]
    cdef Py_ssize_t i = 0, distinct = 0
    cdef double p, q, prev = 0.0
    cdef PyObject* lv
    cdef PyObject** pq
    cdef PyObject* pa
    cdef PyObject* pb
    cdef bint fast
    cdef tuple items
    cdef object owned
    cdef Py_ssize_t bad = 0
    cdef bint is_list = type(seq) is list
    while True:
        if depth == 0 or i >= cap:  # i >= cap: the side grew while read (Python code ran)
            break
        lv = item_at(seq, is_list, i)
        if lv == NULL:
            break
        pq = exact_items(lv, 2)
        if pq != NULL:
            pa = pq[0]
            pb = pq[1]
        fast = pq != NULL and PyFloat_Check(<object>pa) and PyFloat_Check(<object>pb)
        if fast:
            p = PyFloat_AS_DOUBLE(<object>pa)
            q = PyFloat_AS_DOUBLE(<object>pb)
        else:
            owned = <object>lv  # a strong reference: the slow path may run Python code
            items = _level_items(owned, venue, name, i)
            p = _as_double(items[0], "price", venue, name, i)
        if i == 0 or p != prev:
            distinct += 1
            if (distinct > depth) if liquidity else (i >= depth):
                break
        if not fast:
            q = _as_double(items[1], "qty", venue, name, i)
        if p != p or q != q:
            raise LevelsError(f"{venue} {name}[{i}] is NaN", venue=venue, side=name, index=i)
        if i and ((p > prev) if s == 0 else (p < prev)):
            raise LevelsError(
                f"{venue} {name} not best-first: {name}[{i}] price {p!r} after {prev!r}",
                venue=venue,
                side=name,
                index=i,
            )
        price[i] = p
        qty[i] = q
        prev = p
        i += 1
    if normalize_side(price, qty, i, s == 0, &bad) != 0:  # cannot fail after the checks above
        raise LevelsError(f"{venue} {name}[{bad}] rejected", venue=venue, side=name, index=bad)
    return i


cdef class _Loaded:
    """Venue names (ascending) and their examined levels in one C buffer."""

    cdef list names
    cdef Py_ssize_t k
    cdef Py_ssize_t total  # levels loaded, both sides
    cdef Py_ssize_t depth
    cdef SideView* views  # views[s * k + v]
    cdef double* levels
    cdef void* extra  # output scratch
    cdef Py_ssize_t extra_size

    def __dealloc__(self):
        PyMem_Free(self.views)
        PyMem_Free(self.levels)
        PyMem_Free(self.extra)

    cdef void* scratch(self, Py_ssize_t size) except NULL:
        """At least ``size`` bytes of output scratch, reused between calls."""
        if size < 64:
            size = 64
        if self.extra == NULL or size > self.extra_size:
            PyMem_Free(self.extra)
            self.extra_size = 0
            self.extra = PyMem_Malloc(<size_t>size)
            if self.extra == NULL:
                raise MemoryError()
            self.extra_size = size
        return self.extra


cdef _Loaded _load(object books, Py_ssize_t depth, bint liquidity):
    cdef _Loaded ld = _Loaded.__new__(_Loaded)
    cdef list names, seqs
    cdef object book, name, seq
    cdef Py_ssize_t k, v, s, cap, n, total = 0
    cdef Py_ssize_t* caps
    if type(books) is dict:
        names = list(<dict>books)
    elif isinstance(books, Mapping):
        names = list(books)
    else:
        raise LevelsTypeError(f"books must be a Mapping, not {type(books).__name__}")
    for name in names:
        if not isinstance(name, str):
            raise LevelsTypeError(f"venue names must be str, not {type(name).__name__}")
    names.sort()
    k = len(names)
    seqs = []
    for name in names:
        book = books[name]
        if not isinstance(book, (tuple, list)):
            raise LevelsTypeError(
                f"books[{name!r}] must be a (bids, asks) pair, not {type(book).__name__}", venue=name
            )
        if len(book) != 2:
            raise LevelsError(f"books[{name!r}] must be a (bids, asks) pair, has {len(book)} elements", venue=name)
        seqs.append(_as_sequence(book[0], name, "bids"))
        seqs.append(_as_sequence(book[1], name, "asks"))
    ld.names = names
    ld.k = k
    ld.depth = depth
    ld.views = <SideView*>PyMem_Malloc(<size_t>(2 * k + 1) * sizeof(SideView))
    if ld.views == NULL:
        raise MemoryError()
    for v in range(k):
        for s in range(2):
            cap = _seq_len(seqs[2 * v + s])
            ld.views[s * k + v].n = cap  # capacity for now
            total += cap
    ld.levels = <double*>PyMem_Malloc(<size_t>(2 * total + 1) * sizeof(double))
    if ld.levels == NULL:
        raise MemoryError()
    total = 0
    for v in range(k):
        for s in range(2):
            cap = ld.views[s * k + v].n
            n = _read_side(seqs[2 * v + s], names[v], <int>s, depth, liquidity,
                           ld.levels + 2 * total, ld.levels + 2 * total + cap, cap)
            ld.views[s * k + v].price = ld.levels + 2 * total
            ld.views[s * k + v].qty = ld.levels + 2 * total + cap
            ld.views[s * k + v].n = n
            total += cap
    ld.total = total
    return ld


def merge_levels(books, depth):
    """Consolidate several venues' books into one top-``depth`` book (heap-based k-way merge).

    See :func:`dragonfly._core.merge_py.merge_levels`, the reference, for parameters,
    ordering, what is examined, and the exceptions raised. Inputs in the aggregator's and the
    extractor's shapes (a ``dict`` of venue to lists or tuples of ``(float, float)`` pairs, in merge
    order) take a fast path that allocates nothing but the output and reuses the input's floats.
    """
    cdef object fast = _merge_fast(books, depth, True)
    if fast is not None:
        return fast
    cdef Py_ssize_t d = _check_depth(depth)
    cdef _Loaded ld = _load(books, d, False)
    cdef Py_ssize_t s, i, n, cap
    cdef Py_ssize_t* venue
    cdef double* price
    cdef double* qty
    cdef list out, names = ld.names
    cdef list result = [None, None]
    for s in range(2):
        cap = 0
        for i in range(ld.k):
            cap += ld.views[s * ld.k + i].n
        if cap > d:
            cap = d
        price = <double*>ld.scratch((2 * sizeof(double) + sizeof(Py_ssize_t)) * cap)
        qty = price + cap
        venue = <Py_ssize_t*>(qty + cap)
        n = merge_side(ld.views + s * ld.k, ld.k, s == 0, d, venue, price, qty)
        out = []
        for i in range(n):
            out.append((names[venue[i]], PyFloat_FromDouble(price[i]), PyFloat_FromDouble(qty[i])))
        result[s] = out
    return result[0], result[1]


def merge_liquidity(books, depth):
    """Aggregated liquidity: levels at the same price summed across venues.

    See :func:`dragonfly._core.merge_py.merge_liquidity`, the reference, for the result,
    the summation order and how a venue's repeated price is treated.
    """
    cdef Py_ssize_t d = _check_depth(depth)
    cdef _Loaded ld = _load(books, d, True)
    cdef Py_ssize_t s, i, j, n, cap, lv_cap
    cdef double* price
    cdef double* total
    cdef double* cqty
    cdef Py_ssize_t* start
    cdef Py_ssize_t* cven
    cdef list out, names = ld.names
    cdef dict per_venue
    cdef list result = [None, None]
    for s in range(2):
        cap = 0
        for i in range(ld.k):
            cap += ld.views[s * ld.k + i].n
        lv_cap = cap if cap < d else d
        price = <double*>ld.scratch(
            sizeof(double) * (2 * lv_cap + cap) + sizeof(Py_ssize_t) * (lv_cap + 1 + cap)
        )
        total = price + lv_cap
        cqty = total + lv_cap
        start = <Py_ssize_t*>(cqty + cap)
        cven = start + lv_cap + 1
        n = merge_liquidity_side(ld.views + s * ld.k, ld.k, s == 0, d, price, total, start, cven, cqty)
        out = []
        for i in range(n):
            per_venue = {}
            for j in range(start[i], start[i + 1]):
                per_venue[names[cven[j]]] = PyFloat_FromDouble(cqty[j])
            out.append((PyFloat_FromDouble(price[i]), PyFloat_FromDouble(total[i]), per_venue))
        result[s] = out
    return result[0], result[1]


# ---------------------------------------------------------------------------
# Aggregator entry points: merge_top (tuples out) and check_top
# ---------------------------------------------------------------------------

cdef enum:
    _TOP_LEVELS = 256  # levels per side (summed over venues) the fast path of merge_top takes


def merge_top(books, depth):
    """:func:`merge_levels` with tuples out (see :func:`dragonfly._core.merge_py.merge_top`).

    Fast path (:func:`_merge_fast`), with no heap allocation but the output; anything else,
    including every input :func:`merge_levels` would refuse, goes to :func:`merge_levels`, so
    values and exceptions are the same.
    """
    cdef object out = _merge_fast(books, depth, False)
    if out is None:
        return _merge_top_slow(books, depth)
    return out


cdef object _merge_fast(object books, object depth, bint as_list):
    """Both sides merged without a heap allocation but the output, or None when off the fast path.

    The fast path takes ``books`` an exact ``dict`` of ``str`` to exact ``(bids, asks)`` pairs
    (tuple or list) of exact tuples or lists of exact ``(float, float)`` pairs (tuple or list),
    already in merge order (no equal-price run with a larger quantity after a smaller one, no NaN,
    best first), ``0 < depth``, at most ``MERGE_STACK_VENUES`` venues and ``_TOP_LEVELS`` examined
    levels per side: everything else returns None, for :func:`merge_levels` to decide. The output
    levels are ``(venue, price, qty)`` tuples holding the input's own float objects (the values
    :func:`merge_levels` gives), in tuples (``as_list`` false) or lists.

    Reading runs no Python code. While the output is built (an allocation may run a collection, and a
    finalizer could mutate the input's dict or lists) strong references taken here hold what is read:
    each side's sequence, and where a list could lose them, the level tuples or floats.
    """
    cdef double price[2 * _TOP_LEVELS]
    cdef double qty[2 * _TOP_LEVELS]
    cdef PyObject* pobj[2 * _TOP_LEVELS]  # the price and quantity floats of each level read
    cdef PyObject* qobj[2 * _TOP_LEVELS]
    cdef PyObject* held[4 * _TOP_LEVELS + 4 * MERGE_STACK_VENUES]  # referenced here, released at the end
    cdef PyObject* vname[MERGE_STACK_VENUES]
    cdef PyObject* vbook[MERGE_STACK_VENUES]
    cdef PyObject* key
    cdef PyObject* val
    cdef Py_ssize_t nheld = 0
    cdef Py_ssize_t base[2 * MERGE_STACK_VENUES]
    cdef SideView views[2 * MERGE_STACK_VENUES]
    cdef _Head heap[MERGE_STACK_VENUES]
    cdef Py_ssize_t pos[MERGE_STACK_VENUES]
    cdef Py_ssize_t cnt[2]
    cdef Py_ssize_t d, k, v, s, i, n, m, o, hn, at, size
    cdef double p, q, prev = 0.0, prevq = 0.0, sign
    cdef PyObject* lv
    cdef PyObject* pa
    cdef PyObject* pb
    cdef PyObject** pair
    cdef PyObject** items
    cdef object book, seq, lvl, out
    cdef bint seq_list, level_tuple
    if type(books) is not dict or type(depth) is not int or depth <= 0 or depth > _TOP_LEVELS:
        return None
    d = <Py_ssize_t>depth
    k = len(<dict>books)
    if k > MERGE_STACK_VENUES:
        return None
    # the venues in name order (insertion sort: k is small), their names and books held below
    n = 0
    i = 0
    while PyDict_Next(books, &i, &key, &val):
        if not PyUnicode_CheckExact(<object>key):
            return None
        m = n
        while m > 0 and PyUnicode_Compare(<object>vname[m - 1], <object>key) > 0:
            vname[m] = vname[m - 1]
            vbook[m] = vbook[m - 1]
            m -= 1
        vname[m] = key
        vbook[m] = val
        n += 1
    if n != k:
        return None
    cnt[0] = 0
    cnt[1] = 0
    try:
        for v in range(k):
            _hold(vname[v], held, &nheld)
            _hold(vbook[v], held, &nheld)
        for v in range(k):
            book = <object>vbook[v]
            pair = exact_items(<PyObject*>book, 2)
            if pair == NULL:
                return None
            for s in range(2):
                seq = <object>pair[s]
                seq_list = type(seq) is list
                if not seq_list and type(seq) is not tuple:
                    return None
                _hold(<PyObject*>seq, held, &nheld)
                at = s * _TOP_LEVELS + cnt[s]
                size = PyList_GET_SIZE(seq) if seq_list else PyTuple_GET_SIZE(seq)
                # As merge_levels reads a side: the first d levels, then the rest of the d-th
                # level's price run; the price of the level after that ends the read.
                n = 0
                for i in range(size):
                    lv = item_at(seq, seq_list, i)
                    level_tuple = PyTuple_CheckExact(<object>lv)
                    items = exact_items(lv, 2)
                    if items == NULL:
                        return None
                    pa = items[0]
                    pb = items[1]
                    if not (PyFloat_CheckExact(<object>pa) and PyFloat_CheckExact(<object>pb)):
                        return None
                    p = PyFloat_AS_DOUBLE(<object>pa)
                    q = PyFloat_AS_DOUBLE(<object>pb)
                    if i >= d and p != prev:
                        break
                    if cnt[s] + n >= _TOP_LEVELS:
                        return None
                    if p != p or q != q:
                        return None
                    if i:
                        if (p > prev) if s == 0 else (p < prev):
                            return None
                        if p == prev and q > prevq:  # normalize_side would reorder the run
                            return None
                    price[at + i] = p
                    qty[at + i] = q
                    pobj[at + i] = pa
                    qobj[at + i] = pb
                    if seq_list:  # a finalizer could take the level out of the list: hold the floats
                        if level_tuple:
                            _hold(lv, held, &nheld)
                        else:
                            _hold(pa, held, &nheld)
                            _hold(pb, held, &nheld)
                    elif not level_tuple:  # a list level in a tuple: its items could be replaced
                        _hold(pa, held, &nheld)
                        _hold(pb, held, &nheld)
                    prev = p
                    prevq = q
                    n += 1
                views[s * k + v].price = price + at
                views[s * k + v].qty = qty + at
                views[s * k + v].n = n
                base[s * k + v] = at
                cnt[s] += n
        result = [None, None]
        for s in range(2):
            sign = -1.0 if s == 0 else 1.0
            m = cnt[s] if cnt[s] < d else d
            out = PyList_New(m) if as_list else PyTuple_New(m)
            hn = _heap_init(views + s * k, k, sign, heap, pos)
            o = 0
            while hn > 0 and o < m:
                v = heap[0].v
                at = base[s * k + v] + pos[v]
                lvl = (<object>vname[v], <object>pobj[at], <object>qobj[at])
                Py_INCREF(lvl)
                if as_list:
                    PyList_SET_ITEM(out, o, lvl)
                else:
                    PyTuple_SET_ITEM(out, o, lvl)
                o += 1
                hn = _heap_advance(views + s * k, sign, heap, hn, pos)
            result[s] = out
        return result[0], result[1]
    finally:
        for i in range(nheld):
            _df_decref(held[i])


cdef inline void _hold(PyObject* obj, PyObject** held, Py_ssize_t* n) noexcept:
    _df_incref(obj)
    held[n[0]] = obj
    n[0] += 1


cdef inline bint _float_pair(PyObject* lv, double* p, double* q) noexcept:
    """``lv`` is an exact tuple of two exact floats: their values into ``p`` and ``q``."""
    cdef PyObject* a
    cdef PyObject* b
    if not PyTuple_CheckExact(<object>lv) or PyTuple_GET_SIZE(<object>lv) != 2:
        return False
    a = PyTuple_GET_ITEM(<object>lv, 0)
    b = PyTuple_GET_ITEM(<object>lv, 1)
    if not (PyFloat_CheckExact(<object>a) and PyFloat_CheckExact(<object>b)):
        return False
    p[0] = PyFloat_AS_DOUBLE(<object>a)
    q[0] = PyFloat_AS_DOUBLE(<object>b)
    return True


cdef tuple _merge_top_slow(object books, object depth):
    bids, asks = merge_levels(books, depth)
    return tuple(bids), tuple(asks)


def check_top(bids, asks):
    """Describe what is wrong with one venue's top, or return ``""``.

    See :func:`dragonfly._core.merge_py.check_top`. Fast path: exact tuples of exact
    ``(float, float)`` tuples with nothing wrong, checked in C. Anything else (a problem
    to describe, other types) is handed to that reference, so the strings and any
    exception are the same by construction.
    """
    cdef double best_bid = 0.0, best_ask = 0.0
    if type(bids) is not tuple or type(asks) is not tuple:
        return _check_top_slow(bids, asks)
    if not _valid_side(bids, True, &best_bid) or not _valid_side(asks, False, &best_ask):
        return _check_top_slow(bids, asks)
    if PyTuple_GET_SIZE(bids) and PyTuple_GET_SIZE(asks) and best_bid >= best_ask:
        return _check_top_slow(bids, asks)
    return ""


cdef inline bint _valid_side(object side, bint bids, double* best) noexcept:
    """Nothing in ``side`` (an exact tuple) for :func:`check_top` to describe: exact ``(float,
    float)`` tuples, best first (bids by price non-increasing, asks non-decreasing), prices
    ``> 0``, quantities ``>= 0``. The first price goes to ``best``."""
    cdef Py_ssize_t i
    cdef double p, q, prev = INFINITY if bids else 0.0
    for i in range(PyTuple_GET_SIZE(side)):
        if not _float_pair(PyTuple_GET_ITEM(side, i), &p, &q):
            return False
        if ((p > prev) if bids else (p < prev)) or q < 0.0 or p <= 0.0:
            return False
        if i == 0:
            best[0] = p
        prev = p
    return True


cdef str _check_top_slow(object bids, object asks):
    # Off the fast path (a problem to describe, or not the extractor's tuples of floats):
    # the reference itself, so messages and exceptions are the same by construction.
    return _check_top_py(bids, asks)


# ---------------------------------------------------------------------------
# Benchmark hook: time the C-level path alone (used by benchmarks/bench_merge.py)
# ---------------------------------------------------------------------------

def _bench_merge_side_ns(books, depth, Py_ssize_t loops, bint liquidity=False):
    """Nanoseconds per merge of both sides through the C-level API (inputs pre-loaded).

    Loads ``books`` once (as :func:`merge_levels` would), then runs ``merge_side`` (or
    ``merge_liquidity_side``) on bids and asks ``loops`` times without the GIL.
    """
    cdef Py_ssize_t d = _check_depth(depth)
    cdef _Loaded ld = _load(books, d, liquidity)
    cdef Py_ssize_t cap = ld.total + 1
    cdef double* buf = <double*>ld.scratch((4 * sizeof(double) + 4 * sizeof(Py_ssize_t)) * cap)
    cdef Py_ssize_t* ibuf = <Py_ssize_t*>(buf + 4 * cap)
    cdef Py_ssize_t i, k = ld.k
    cdef Py_ssize_t sink = 0
    t0 = perf_counter_ns()
    with nogil:
        for i in range(loops):
            if liquidity:
                sink += merge_liquidity_side(ld.views, k, True, d, buf, buf + cap, ibuf, ibuf + cap + 1, buf + 2 * cap)
                sink += merge_liquidity_side(ld.views + k, k, False, d, buf, buf + cap, ibuf, ibuf + cap + 1,
                                             buf + 2 * cap)
            else:
                sink += merge_side(ld.views, k, True, d, ibuf, buf, buf + cap)
                sink += merge_side(ld.views + k, k, False, d, ibuf, buf, buf + cap)
    t1 = perf_counter_ns()
    if sink < 0:
        raise AssertionError("unreachable")
    return (t1 - t0) / <double>(loops if loops > 0 else 1)
