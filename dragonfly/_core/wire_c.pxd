# cython: language_level=3
# C-level API of the direct ``orderbook.Summary`` encoder, for other Cython modules.
#
# ``cimport`` it::
#
#     from dragonfly._core.wire_c cimport LevelsView, NamesView, summary_spread, encode_summary_view
#
# Conventions
# -----------
# * One side is a :c:type:`LevelsView`: ``n`` levels, level ``i`` being venue index
#   ``venue[i]``, ``price[i]``, ``qty[i]``: exactly the output arrays of
#   ``merge_c.merge_side``.
# * Venue names are pre-encoded once per venue (``wire_py``/``wire_c``
#   ``encode_name_field(venue)``): ``names.field[v]`` points at ``names.size[v]`` bytes
#   holding the whole ``Level.exchange`` field (tag 0x0A, varint length, UTF-8), or
#   nothing (size 0) for the empty name, which proto3 omits. Keep the ``bytes`` objects
#   alive while the pointers are in use.
# * Bytes are exactly those of the protobuf library's ``SerializeToString()`` (see the
#   ``wire_py`` module docstring for the proto3 rules applied to doubles and strings).
# * Nothing here touches Python objects except ``encode_summary_view``, which allocates
#   the result.

cdef struct LevelsView:
    const Py_ssize_t* venue
    const double* price
    const double* qty
    Py_ssize_t n

cdef struct NamesView:
    const char** field
    const Py_ssize_t* size

cdef double summary_spread(const LevelsView* bids, const LevelsView* asks) noexcept nogil
# ``asks.price[0] - bids.price[0]``, or 0.0 when a side is empty.

cdef Py_ssize_t summary_size(double spread, const LevelsView* bids, const LevelsView* asks,
                             const NamesView* names) noexcept nogil
# Exact encoded size of the Summary.

cdef Py_ssize_t write_summary(char* out, double spread, const LevelsView* bids, const LevelsView* asks,
                              const NamesView* names) noexcept nogil
# Write the Summary into ``out`` (at least ``summary_size(...)`` bytes); return the bytes written.

cdef bytes encode_summary_view(double spread, const LevelsView* bids, const LevelsView* asks,
                               const NamesView* names)
# The Summary as a new ``bytes`` object (sized exactly, written in place).
