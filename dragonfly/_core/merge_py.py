"""Heap-based k-way merge of K venues' top N, and the summed-liquidity merge (pure Python).

This is the reference implementation and the fallback of :mod:`dragonfly._core.merge_c`;
both twins return the same values, bit for bit, and raise the same exceptions.

Input contract
--------------
``books`` maps a venue name (``str``) to a ``(bids, asks)`` pair. Each side is a
sequence (``list``, ``tuple`` or any other non-string ``Sequence``) of ``(price, qty)``
pairs (``tuple`` or ``list`` of exactly two numbers, ``float`` or ``int``), **best
first**: bids by price non-increasing, asks by price non-decreasing. Equal prices may
appear within a venue side (and across venues) in any quantity order: the merge orders
such ties itself.

Only the part of each side that can reach the output is examined (types, NaN, order):

* :func:`merge_levels` reads the first ``depth`` levels of each venue side (a venue
  cannot contribute more), then any further levels at the same price as the
  ``depth``-th one (one of them may have a larger quantity), and the price of the level
  after them, to see where that run ends.
* :func:`merge_liquidity` reads each venue side up to its ``depth``-th distinct price
  (including every level at that price), and the price of the level after them.

The rest is ignored, unread; with ``depth == 0`` no level is read.

A side whose examined part is not best-first is refused with
:class:`~dragonfly.errors.LevelsError` (never silently merged into a wrong order), as is
a NaN price or quantity. Infinities and negative quantities are not the merge's
business and pass through. A level beyond the examined part is not checked at all.

Output order (deterministic): bids by price descending, asks by price ascending; ties by
quantity descending, then venue name ascending (code point order, as Python's ``<`` on
``str``). Levels of one venue with the same price and quantity keep their input order.
Prices compare with ``==``/``<``, so ``-0.0`` and ``0.0`` are the same price.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import LevelsError, LevelsTypeError

__all__ = ("merge_levels", "merge_liquidity", "merge_top", "check_top")

#: One consolidated level: ``(venue, price, qty)``.
MergedLevel = tuple[str, float, float]
#: One summed-liquidity level: ``(price, total_qty, {venue: qty})``.
LiquidityLevel = tuple[float, float, dict[str, float]]
#: One venue's book: ``(bids, asks)``, each best first.
VenueBook = tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]]

_SIDES = ("bids", "asks")


def check_depth(depth: object) -> int:
    """Validate ``depth`` (an ``int``, not ``bool``, ``>= 0``); clamp it to ``sys.maxsize``."""
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise LevelsTypeError(f"depth must be an int, not {type(depth).__name__}")
    if depth < 0:
        raise LevelsError(f"depth must be >= 0, got {depth}")
    return depth if depth <= sys.maxsize else sys.maxsize


def as_sequence(side: object, venue: str, side_name: str) -> Sequence[Any]:
    """Return ``side`` as an indexable sequence.

    An exact ``list`` or ``tuple`` is returned as it is; any other ``Sequence`` (``str``,
    ``bytes`` and ``bytearray`` excepted), subclasses of ``list`` and ``tuple`` included,
    is copied with ``list()``.
    """
    if type(side) is list or type(side) is tuple:
        return side
    if isinstance(side, Sequence) and not isinstance(side, (str, bytes, bytearray)):
        return list(side)
    raise LevelsTypeError(
        f"books[{venue!r}] {side_name} must be a sequence, not {type(side).__name__}", venue=venue, side=side_name
    )


def _what(field: str, venue: str, side: str, index: int) -> str:
    return (f"{venue} " if venue else "") + (f"{side}[{index}] " if side else "") + field


def as_double(x: object, field: str, venue: str = "", side: str = "", index: int = -1) -> float:
    """The ``float`` value of ``x`` (a ``float`` or an ``int``), as C's ``PyFloat_AsDouble``.

    ``field``, ``venue``, ``side`` and ``index`` only describe ``x`` in the error raised.
    """
    if type(x) is float:
        return x
    if isinstance(x, float):
        return float.__float__(x)
    if isinstance(x, int):
        try:
            return int.__float__(x)
        except OverflowError:
            raise LevelsError(
                f"{_what(field, venue, side, index)} too large for a double", venue=venue, side=side, index=index
            ) from None
    raise LevelsTypeError(
        f"{_what(field, venue, side, index)} must be a float or an int, not {type(x).__name__}",
        venue=venue,
        side=side,
        index=index,
    )


def _load_side(seq: Sequence[Any], venue: str, s: int, depth: int, liquidity: bool) -> list[tuple[float, float]]:
    """Read the examined part of one venue side, validated and in merge order."""
    name = _SIDES[s]
    out: list[tuple[float, float]] = []
    prev = 0.0
    distinct = 0
    i = 0
    while i < len(seq):
        if depth == 0:
            break
        level = seq[i]
        if not isinstance(level, (tuple, list)):
            raise LevelsTypeError(
                f"{venue} {name}[{i}] must be a (price, qty) tuple, not {type(level).__name__}",
                venue=venue,
                side=name,
                index=i,
            )
        if len(level) != 2:
            raise LevelsError(
                f"{venue} {name}[{i}] must have 2 elements, has {len(level)}", venue=venue, side=name, index=i
            )
        price = as_double(level[0], "price", venue, name, i)
        if i == 0 or price != prev:
            distinct += 1
            if (distinct > depth) if liquidity else (i >= depth):
                break
        qty = as_double(level[1], "qty", venue, name, i)
        if price != price or qty != qty:
            raise LevelsError(f"{venue} {name}[{i}] is NaN", venue=venue, side=name, index=i)
        if i and (price > prev if s == 0 else price < prev):
            raise LevelsError(
                f"{venue} {name} not best-first: {name}[{i}] price {price!r} after {prev!r}",
                venue=venue,
                side=name,
                index=i,
            )
        out.append((price, qty))
        prev = price
        i += 1
    # Equal prices in any quantity order are accepted: a stable sort on the full key
    # (price already monotone) puts them in merge order.
    if s == 0:
        out.sort(key=lambda lv: (-lv[0], -lv[1]))
    else:
        out.sort(key=lambda lv: (lv[0], -lv[1]))
    return out


def _load(books: object, depth: int, liquidity: bool) -> tuple[list[str], list[list[list[tuple[float, float]]]]]:
    """Venue names in ascending order and, per side, each venue's examined levels."""
    if not isinstance(books, Mapping):
        raise LevelsTypeError(f"books must be a Mapping, not {type(books).__name__}")
    names = list(books)
    for name in names:
        if not isinstance(name, str):
            raise LevelsTypeError(f"venue names must be str, not {type(name).__name__}")
    names.sort()
    # First the structure of every book, then the levels: the compiled twin sizes its
    # buffers in between, and both raise the same error first.
    seqs: list[tuple[Sequence[Any], Sequence[Any]]] = []
    for name in names:
        book = books[name]
        if not isinstance(book, (tuple, list)):
            raise LevelsTypeError(
                f"books[{name!r}] must be a (bids, asks) pair, not {type(book).__name__}", venue=name
            )
        if len(book) != 2:
            raise LevelsError(f"books[{name!r}] must be a (bids, asks) pair, has {len(book)} elements", venue=name)
        seqs.append(
            (
                as_sequence(book[0], name, "bids"),
                as_sequence(book[1], name, "asks"),
            )
        )
    sides: list[list[list[tuple[float, float]]]] = [[], []]
    for name, pair in zip(names, seqs, strict=True):
        for s in (0, 1):
            sides[s].append(_load_side(pair[s], name, s, depth, liquidity))
    return names, sides


def _stream(venues: list[list[tuple[float, float]]], bids: bool) -> Any:
    """Yield ``(venue_index, price, qty)`` in merge order: heap over the venues' heads."""
    sign = -1.0 if bids else 1.0
    heap = [(sign * lv[0][0], -lv[0][1], v, 0) for v, lv in enumerate(venues) if lv]
    heapq.heapify(heap)
    while heap:
        _, _, v, i = heap[0]
        levels = venues[v]
        price, qty = levels[i]
        yield v, price, qty
        i += 1
        if i < len(levels):
            nxt = levels[i]
            heapq.heapreplace(heap, (sign * nxt[0], -nxt[1], v, i))
        else:
            heapq.heappop(heap)


def merge_levels(books: Mapping[str, VenueBook], depth: int) -> tuple[list[MergedLevel], list[MergedLevel]]:
    """Consolidate several venues' books into one top-``depth`` book.

    A heap-based k-way merge of each venue's best-first sides.

    Parameters
    ----------
    books : Mapping[str, tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]]]
        Venue name -> ``(bids, asks)``, each side best first (see the module docstring
        for the exact contract and what is examined).
    depth : int
        Maximum number of levels per side in the output (``>= 0``).

    Returns
    -------
    tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]
        ``(bids, asks)``, each at most ``depth`` ``(venue, price, qty)`` levels: bids by
        price descending, asks by price ascending, ties by qty descending then venue name
        ascending. Every level of every venue is kept (same prices are not summed; see
        :func:`merge_liquidity`).

    Raises
    ------
    LevelsTypeError
        ``books`` is not a mapping, a venue name is not ``str``, a book, side, level or
        number has the wrong type, or ``depth`` is not an ``int``.
    LevelsError
        ``depth < 0``; a book or level of the wrong length; a NaN price or quantity; an
        examined side that is not best-first; an ``int`` too large for a double.
    """
    depth = check_depth(depth)
    names, sides = _load(books, depth, False)
    result: list[list[MergedLevel]] = [[], []]
    for s in (0, 1):
        out = result[s]
        if depth == 0:
            continue
        for v, price, qty in _stream(sides[s], s == 0):
            out.append((names[v], price, qty))
            if len(out) >= depth:
                break
    return result[0], result[1]


def merge_liquidity(
    books: Mapping[str, VenueBook], depth: int
) -> tuple[list[LiquidityLevel], list[LiquidityLevel]]:
    """Aggregated liquidity: levels at the same price summed across venues.

    Parameters
    ----------
    books : Mapping[str, tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]]]
        As for :func:`merge_levels`.
    depth : int
        Maximum number of distinct price levels per side in the output (``>= 0``).

    Returns
    -------
    tuple[list[tuple[float, float, dict[str, float]]], list[tuple[float, float, dict[str, float]]]]
        ``(bids, asks)``, each at most ``depth`` levels ``(price, total_qty, {venue: qty})``,
        best first. The levels of one price are taken in :func:`merge_levels` order
        (qty descending, then venue name): ``price`` is the first one's (``-0.0`` and
        ``0.0`` are one price), ``total_qty`` is their quantities added left to right in
        that order, and the dict's keys appear in that order. A venue that lists the same
        price more than once contributes the sum of those quantities (added in the same
        order) under its one key.

    Raises
    ------
    LevelsTypeError, LevelsError
        As for :func:`merge_levels`.
    """
    depth = check_depth(depth)
    names, sides = _load(books, depth, True)
    result: list[list[LiquidityLevel]] = [[], []]
    for s in (0, 1):
        out = result[s]
        if depth == 0:
            continue
        cur_price = 0.0
        total = 0.0
        per_venue: dict[str, float] = {}
        for v, price, qty in _stream(sides[s], s == 0):
            name = names[v]
            if per_venue and price == cur_price:
                total += qty
                if name in per_venue:
                    per_venue[name] += qty
                else:
                    per_venue[name] = qty
                continue
            if per_venue:
                out.append((cur_price, total, per_venue))
                if len(out) >= depth:
                    per_venue = {}
                    break
            cur_price, total, per_venue = price, qty, {name: qty}
        if per_venue:
            out.append((cur_price, total, per_venue))
    return result[0], result[1]


def merge_top(books: Mapping[str, VenueBook], depth: int) -> tuple[tuple[MergedLevel, ...], tuple[MergedLevel, ...]]:
    """:func:`merge_levels` with tuples out: the aggregator's per-view call.

    Same contract, values and exceptions as :func:`merge_levels`; the compiled twin
    has a fast path for the aggregator's state (a ``dict`` of ``str`` to a pair of
    tuples of ``(float, float)`` tuples) and falls back to :func:`merge_levels` for
    anything else.
    """
    bids, asks = merge_levels(books, depth)
    return tuple(bids), tuple(asks)


def check_top(bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]]) -> str:
    """Describe what is wrong with one venue's top as a listener forwards it, or return ``""``.

    Checks, in this order: crossing (best bid ``>=`` best ask), then each side best
    first (bids non-increasing, asks non-decreasing) with prices ``> 0`` and
    quantities ``>= 0``. NaN is not looked for (listeners get finite numbers from the
    extractor): comparisons with NaN are false, as in C. The first problem found is
    described; the compiled twin returns the same strings.
    """
    if bids and asks and bids[0][0] >= asks[0][0]:
        return f"crossed book: best bid {bids[0][0]!r} >= best ask {asks[0][0]!r}"
    prev = float("inf")
    for p, q in bids:
        if p > prev or q < 0.0 or p <= 0.0:
            return f"bids not a valid best-first side at price {p!r}"
        prev = p
    prev = 0.0
    for p, q in asks:
        if p < prev or q < 0.0 or p <= 0.0:
            return f"asks not a valid best-first side at price {p!r}"
        prev = p
    return ""
