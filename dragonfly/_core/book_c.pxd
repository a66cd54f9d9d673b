# Declarations of the compiled L2 book, for Cython modules that ``cimport`` it
# (the listeners' hot path reads the top N straight into C arrays).

from cpython.object cimport PyObject
from libc.stdint cimport int32_t, uint16_t, uint32_t

from .doc_c cimport Doc


cdef enum:
    TRACKED_RANKS = 32    # the best 32 levels of a side keep the tuple top() handed out
    LEVEL_TEXT = 32       # bytes of price + quantity text kept inside a level
    BLOCK = 32            # most keys in one block
    CS_ITEMS = 64         # checksum items (levels) whose CRC state is kept: 2 x 25 at most
    PAIR_POOL = 16        # (price, qty) tuples of deleted levels kept per side for new levels


ctypedef struct Level:
    # One price level, in its side's slot pool; it never moves while it exists.
    double price
    double qty
    PyObject* pair        # owned reference: the (price, qty) tuple top() handed out, or NULL
    unsigned char* ext    # PyMem block with both texts when they do not fit in ``text``, else NULL
    Py_ssize_t plen       # price text length; 0: given as a number (rendered as repr(float))
    Py_ssize_t qlen       # quantity text length, likewise
    # this level's part of a checksum, kept until its text or quantity changes: ``cs_len``
    # bytes of the form ``cs_form`` (0: none kept; a CS_* form) whose CRC32 register
    # starting from 0 is ``cs_crc``
    Py_ssize_t cs_len
    uint32_t cs_crc
    uint16_t cs_form
    uint16_t pair_old     # the quantity in ``pair`` is not the level's any more
    unsigned char text[LEVEL_TEXT]   # the price text, then the quantity text


ctypedef struct Block:
    # Up to BLOCK keys of consecutive levels, ascending, and their slots; key[n:] are +inf.
    Py_ssize_t n
    double key[BLOCK]
    int32_t slot[BLOCK]


ctypedef struct BookSide:
    # The keys (bids: -price, asks: price) ascending, so the best level comes first, in
    # blocks; first[j] is the first key of blk[j], and the unused entries of ``first`` and
    # ``sup`` are +inf. Levels live in the slot pool ``lv``.
    Block** blk
    double* first
    double* sup                                # sup[k] = first[8 * k]: the search's first step
    Py_ssize_t nblk
    Py_ssize_t blkcap
    Py_ssize_t n                               # levels
    Level* lv
    Py_ssize_t lvcap
    Py_ssize_t lvused                          # slots ever handed out (the rest of lv is unused)
    Py_ssize_t free                            # first free slot (linked through Level.plen), or -1
    Block* spare                               # one emptied block kept for the next split
    PyObject* pairs[PAIR_POOL]                 # owned: tuples of levels gone, to be reused by new ones
    int npairs
    bint bid
    # the best key changed (set, inserted, deleted or dropped) since the Book's top() tuple of
    # this side was built, and since the last checksum was computed: the levels with a better
    # key kept their rank; +inf when nothing changed
    double top_changed
    double cs_changed


cdef class Book:
    cdef BookSide _bids
    cdef BookSide _asks
    cdef Py_ssize_t _max_depth
    cdef long long _truncated
    # top(depth) of each side as last built, valid while no level at a rank < depth changed
    cdef object _top_b
    cdef object _top_a
    cdef object _top_pair                # (_top_b, _top_a) as last returned, or None
    cdef Py_ssize_t _top_b_depth
    cdef Py_ssize_t _top_a_depth
    # the last checksum computed (kind 0: none, 1 kraken, 2 okx, 3 bitfinex): its value, how
    # many bids and asks it covered, and the CRC state after each of those levels
    cdef int _cs_kind
    cdef long long _cs_value
    cdef Py_ssize_t _cs_nb
    cdef Py_ssize_t _cs_na
    cdef uint32_t _cs_state[CS_ITEMS]
    cdef Py_ssize_t _cs_ilen[CS_ITEMS]    # each level's part length
    cdef Py_ssize_t _cs_valid             # how many leading states are up to date
    cdef Py_ssize_t _cs_tail              # Kraken: the length of the bids' parts

    cdef int _apply_side(self, BookSide* side, object entries) except -1
    cdef int _apply_entry(self, BookSide* side, object entry) except -1
    cdef int _apply_doc_side(self, BookSide* side, Doc doc, Py_ssize_t h) except -1
    cdef long long _checksum(self, int kid) except? -1
    cdef long long _kraken_asks_only(self, Py_ssize_t start) except? -1
    cdef Py_ssize_t top_into(self, bint bid, Py_ssize_t depth, double* price, double* qty) noexcept
