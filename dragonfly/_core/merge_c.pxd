# cython: language_level=3
# C-level API of the k-way merge, for other Cython modules (aggregator, wire encoder).
#
# ``cimport`` it::
#
#     from dragonfly._core.merge_c cimport SideView, normalize_side, merge_side
#
# Conventions
# -----------
# * A venue side is a :c:type:`SideView`: ``n`` levels in ``price[0..n)``/``qty[0..n)``,
#   read only. Venue ``v`` of a merge is ``sides[v]``; ties between venues are broken by
#   ascending ``v``, so order the venues by name (code point order) to get the documented
#   ordering.
# * ``merge_side`` and ``merge_liquidity_side`` require every side to be in *merge order*:
#   best price first (``bids``: descending, else ascending) and, among equal prices,
#   quantity descending, with no NaN. :c:func:`normalize_side` checks the price order and
#   NaN and puts equal-price runs in quantity order (stable, linear on sorted input).
#   Passing unnormalised sides is a contract violation: the output is then a valid
#   interleaving of the inputs but not sorted.
# * Nothing here allocates while ``k <= MERGE_STACK_VENUES``; beyond, a heap buffer is
#   taken with ``malloc`` (``MemoryError`` if that fails). No function touches Python
#   objects; all run without the GIL.

cdef enum:
    MERGE_STACK_VENUES = 64

cdef struct SideView:
    const double* price
    const double* qty
    Py_ssize_t n

cdef int normalize_side(double* price, double* qty, Py_ssize_t n, bint bids, Py_ssize_t* bad) noexcept nogil
# Check and normalise one venue side in place.
#
# Returns 0 when the side is usable, 1 when ``price[*bad]`` or ``qty[*bad]`` is NaN, 2 when
# ``price[*bad]`` breaks the best-first price order. On success, runs of equal prices are
# sorted by quantity descending (stable insertion sort).

cdef Py_ssize_t merge_side(const SideView* sides, Py_ssize_t k, bint bids, Py_ssize_t depth,
                           Py_ssize_t* out_venue, double* out_price, double* out_qty) except -1 nogil
# K-way heap merge of ``k`` normalised sides into at most ``depth`` levels.
#
# Writes venue index, price and quantity of each output level (capacity
# ``min(depth, sum of n)``) and returns the number of levels written.

cdef Py_ssize_t merge_liquidity_side(const SideView* sides, Py_ssize_t k, bint bids, Py_ssize_t depth,
                                     double* out_price, double* out_total, Py_ssize_t* out_start,
                                     Py_ssize_t* contrib_venue, double* contrib_qty) except -1 nogil
# Summed-liquidity merge of ``k`` normalised sides into at most ``depth`` price levels.
#
# Level ``i`` has price ``out_price[i]``, total ``out_total[i]`` and the per-venue
# contributions ``contrib_venue/contrib_qty[out_start[i] .. out_start[i + 1])`` (one
# entry per venue, in merge order; a venue's repeated price is summed into its entry).
# Capacities: ``min(depth, sum of n)`` levels, one more for ``out_start``, ``sum of n``
# contributions. Returns the number of levels.
