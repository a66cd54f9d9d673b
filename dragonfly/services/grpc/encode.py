"""Encode a world view once per update, for every subscriber of one stream.

A stream is defined by ``(instrument, depth, venues)``; :func:`select_book`
cuts a :class:`~dragonfly.model.WorldView` down to it, and the ``encode_*``
functions turn the result into the protobuf bytes sent, unchanged, to every
subscriber of that stream.

``orderbook.Summary`` and ``dragonfly.v1.BookUpdate`` go through the core's direct encoders
(:func:`dragonfly._core.wire.encode_summary` and :func:`~dragonfly._core.wire.encode_book_update`, Cython
or their pure twins): no protobuf objects per update. ``dragonfly.v1.LiquidityUpdate`` is built and
serialized once per update with the protobuf runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..._core.merge import merge_levels, merge_liquidity
from ..._core.wire import encode_book_update as _encode_book_update
from ..._core.wire import encode_summary
from ...model import Level, LiquidityLevel, LiquidityView, VenueHealth, VenueStatus, WorldView
from .protos import book_pb2, orderbook_pb2

__all__ = (
    "BookUpdateEncoder",
    "SummaryEncoder",
    "VENUE_STATUS_PB",
    "encode_book_update",
    "encode_liquidity_from_view",
    "encode_liquidity_update",
    "encode_summary_bytes",
    "select_book",
    "summary_pb",
)

VENUE_STATUS_PB: Mapping[VenueStatus, Any] = {
    VenueStatus.SYNCING: book_pb2.VENUE_STATUS_SYNCING,
    VenueStatus.LIVE: book_pb2.VENUE_STATUS_LIVE,
    VenueStatus.STALE: book_pb2.VENUE_STATUS_STALE,
}


def _spread(bids: Sequence[Level], asks: Sequence[Level]) -> float:
    if not bids or not asks:
        return 0.0
    return asks[0][1] - bids[0][1]


def select_book(
    view: WorldView, *, depth: int, venues: frozenset[str] | None
) -> tuple[tuple[Level, ...], tuple[Level, ...], float]:
    """Top ``depth`` levels per side of ``view``, keeping only ``venues``.

    Parameters
    ----------
    view : WorldView
        The consolidated book (bids descending, asks ascending).
    depth : int
        Levels per side to keep (``>= 1``).
    venues : frozenset of str or None
        Venues to keep; ``None`` keeps all.

    Returns
    -------
    bids, asks : tuple of Level
        ``(venue, price, qty)`` levels, in the view's order.
    spread : float
        Best ask minus best bid of what is kept; 0.0 when a side is empty.
    """
    if venues is None:
        bids, asks = view.bids[:depth], view.asks[:depth]
        if len(view.bids) <= depth and len(view.asks) <= depth:
            return bids, asks, view.spread
    elif view.books:
        # re-merge the venues' own tops: a subset keeps its full depth
        b, a = merge_levels({v: bk for v, bk in view.books.items() if v in venues}, depth)
        bids, asks = tuple(b), tuple(a)
    else:
        bids = tuple(lv for lv in view.bids if lv[0] in venues)[:depth]
        asks = tuple(lv for lv in view.asks if lv[0] in venues)[:depth]
    return bids, asks, _spread(bids, asks)


def summary_pb(bids: Iterable[Level], asks: Iterable[Level], spread: float) -> Any:
    """``orderbook.Summary`` as a protobuf object (the reference the direct encoder matches)."""
    return orderbook_pb2.Summary(
        spread=spread,
        bids=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in bids],
        asks=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in asks],
    )


def encode_summary_bytes(view: WorldView, *, depth: int, venues: frozenset[str] | None = None) -> bytes:
    """``orderbook.Summary`` bytes for ``view`` cut to ``depth`` and ``venues``."""
    bids, asks, spread = select_book(view, depth=depth, venues=venues)
    return encode_summary(bids, asks, spread=spread)


def _health_pb(venues: Mapping[str, VenueHealth], keep: Iterable[str]) -> list[Any]:
    out = []
    for name in keep:
        h = venues.get(name)
        if h is None:
            out.append(book_pb2.VenueHealth(venue=name, status=book_pb2.VENUE_STATUS_SYNCING, reason="no data yet"))
        else:
            out.append(
                book_pb2.VenueHealth(
                    venue=name,
                    status=VENUE_STATUS_PB.get(VenueStatus(h.status), book_pb2.VENUE_STATUS_UNSPECIFIED),
                    last_update_ns=h.last_update_ns,
                    reason=h.reason,
                )
            )
    return out


def encode_book_update(
    view: WorldView, *, depth: int, venues: frozenset[str] | None, all_venues: Sequence[str]
) -> bytes:
    """``dragonfly.v1.BookUpdate`` bytes for ``view`` cut to ``depth`` and ``venues``.

    ``all_venues`` is the server's venue list: health is reported for each
    requested venue (all of them when ``venues`` is None), in that order.
    """
    bids, asks, spread = select_book(view, depth=depth, venues=venues)
    keep = all_venues if venues is None else [v for v in all_venues if v in venues]
    return _book_update_bytes(view, bids, asks, spread, keep)


#: ``dragonfly.v1.VenueStatus`` numbers, as the core's encoder takes them.
_STATUS_NUMBER: Mapping[VenueStatus, int] = {k: int(v) for k, v in VENUE_STATUS_PB.items()}
_SYNCING = int(book_pb2.VENUE_STATUS_SYNCING)
_UNSPECIFIED = int(book_pb2.VENUE_STATUS_UNSPECIFIED)


def _health_wire(venues: Mapping[str, VenueHealth], keep: Iterable[str]) -> list[tuple[str, int, int, str]]:
    """``(venue, status number, last_update_ns, reason)`` per venue kept (see :func:`_health_pb`)."""
    out = []
    for name in keep:
        h = venues.get(name)
        if h is None:
            out.append((name, _SYNCING, 0, "no data yet"))
        else:
            out.append((name, _STATUS_NUMBER.get(VenueStatus(h.status), _UNSPECIFIED), h.last_update_ns, h.reason))
    return out


def _book_update_bytes(
    view: WorldView, bids: Sequence[Level], asks: Sequence[Level], spread: float, keep: Sequence[str]
) -> bytes:
    return _encode_book_update(
        view.instrument,
        view.seq,
        bids,
        asks,
        spread=spread,
        exchange_ts_ns=view.exchange_ts_ns,
        receive_ts_ns=view.receive_ts_ns,
        publish_ts_ns=view.publish_ts_ns,
        venues=_health_wire(view.venues, keep),
    )


def _health_key(venues: Mapping[str, VenueHealth], keep: Sequence[str]) -> tuple[tuple[Any, str] | None, ...]:
    """What a subscriber sees of the venues' health, times aside: (status, reason) per venue kept."""
    out = []
    for name in keep:
        h = venues.get(name)
        out.append(None if h is None else (h.status, h.reason))
    return tuple(out)


class SummaryEncoder:
    """``orderbook.Summary`` bytes of one stream (``depth``, ``venues``), or None when the update would be
    identical to the last one this stream sent (same levels and spread): a subscriber never gets a repeat.

    One instance per stream (it remembers what the stream sent last); see :func:`encode_summary_bytes`.
    """

    __slots__ = ("depth", "venues", "_last")

    def __init__(self, *, depth: int, venues: frozenset[str] | None = None) -> None:
        self.depth = depth
        self.venues = venues
        self._last: tuple[Any, ...] | None = None

    def __call__(self, view: WorldView) -> bytes | None:
        bids, asks, spread = select_book(view, depth=self.depth, venues=self.venues)
        key = (bids, asks, spread)
        if key == self._last:
            return None
        self._last = key
        return encode_summary(bids, asks, spread=spread)


class BookUpdateEncoder:
    """``dragonfly.v1.BookUpdate`` bytes of one stream (``depth``, ``venues``), or None when the update would be
    identical for this stream's subscribers to the last one it sent: the same levels and spread, and the same
    status and reason of every venue it reports. Such an update is not sent (``seq`` then jumps over it);
    ``last_update_ns`` and the timestamps alone do not make an update new.

    One instance per stream; see :func:`encode_book_update`.
    """

    __slots__ = ("depth", "venues", "keep", "_last")

    def __init__(self, *, depth: int, venues: frozenset[str] | None, all_venues: Sequence[str]) -> None:
        self.depth = depth
        self.venues = venues
        self.keep = tuple(all_venues if venues is None else [v for v in all_venues if v in venues])
        self._last: tuple[Any, ...] | None = None

    def __call__(self, view: WorldView) -> bytes | None:
        bids, asks, spread = select_book(view, depth=self.depth, venues=self.venues)
        key = (bids, asks, spread, _health_key(view.venues, self.keep))
        if key == self._last:
            return None
        self._last = key
        return _book_update_bytes(view, bids, asks, spread, self.keep)


def _liquidity_pb(levels: Iterable[LiquidityLevel], keep: frozenset[str] | None, depth: int) -> list[Any]:
    out = []
    for price, total, per_venue in levels:
        if keep is not None:
            per_venue = {v: q for v, q in per_venue.items() if v in keep}
            if not per_venue:
                continue
            total = sum(per_venue[v] for v in sorted(per_venue))
        out.append(
            book_pb2.LiquidityLevel(
                price=price,
                amount=total,
                venues=[orderbook_pb2.Level(exchange=v, price=price, amount=q) for v, q in sorted(per_venue.items())],
            )
        )
        if len(out) >= depth:
            break
    return out


def encode_liquidity_update(
    view: LiquidityView, *, depth: int, venues: frozenset[str] | None, all_venues: Sequence[str]
) -> bytes:
    """``dragonfly.v1.LiquidityUpdate`` bytes for the aggregator's summed-liquidity view.

    With ``venues``, each price keeps only those venues' amounts (prices no
    requested venue quotes are dropped); prefer :func:`encode_liquidity_from_view`
    for a subset, which re-merges the venues' own tops to the full depth.
    """
    keep = all_venues if venues is None else [v for v in all_venues if v in venues]
    msg = book_pb2.LiquidityUpdate(
        instrument=view.instrument,
        seq=view.seq,
        bids=_liquidity_pb(view.bids, venues, depth),
        asks=_liquidity_pb(view.asks, venues, depth),
        exchange_ts_ns=view.exchange_ts_ns,
        receive_ts_ns=view.receive_ts_ns,
        publish_ts_ns=view.publish_ts_ns,
        venues=_health_pb(view.venues, keep),
    )
    return msg.SerializeToString()


def encode_liquidity_from_view(
    view: WorldView, *, depth: int, venues: frozenset[str] | None, all_venues: Sequence[str]
) -> bytes:
    """``dragonfly.v1.LiquidityUpdate`` bytes summed over ``venues`` from a world view's per-venue tops."""
    books = view.books if venues is None else {v: bk for v, bk in view.books.items() if v in venues}
    bids, asks = merge_liquidity(books, depth)
    keep = all_venues if venues is None else [v for v in all_venues if v in venues]
    msg = book_pb2.LiquidityUpdate(
        instrument=view.instrument,
        seq=view.seq,
        bids=_liquidity_pb(bids, None, depth),
        asks=_liquidity_pb(asks, None, depth),
        exchange_ts_ns=view.exchange_ts_ns,
        receive_ts_ns=view.receive_ts_ns,
        publish_ts_ns=view.publish_ts_ns,
        venues=_health_pb(view.venues, keep),
    )
    return msg.SerializeToString()
