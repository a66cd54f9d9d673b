"""Messages that travel between the layers.

All timestamps are integer nanoseconds since the Unix epoch
(``time.time_ns()``); 0 means "not known".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

    from typing_extensions import Self

__all__ = ("VenueStatus", "VenueHealth", "BookUpdate", "WorldView", "Level", "Side", "LiquidityLevel", "LiquidityView")

#: One price level of one venue's book: ``(price, qty)``.
Side = tuple[tuple[float, float], ...]
#: One level of the consolidated book: ``(venue, price, qty)``.
Level = tuple[str, float, float]


class VenueStatus(str, enum.Enum):
    """Where a venue's feed for one instrument stands."""

    SYNCING = "SYNCING"  # connecting, subscribing, loading a snapshot or resyncing
    LIVE = "LIVE"  # in the world view
    STALE = "STALE"  # disconnected, silent past its staleness limit, or sent bad data


_BOOK_UPDATE_FIELDS: Final = (
    "venue", "instrument", "bids", "asks", "status", "exchange_ts_ns", "receive_ts_ns", "reason"
)
_new_tuple = tuple.__new__


class BookUpdate(tuple):
    """Listener -> aggregator: the current top of one venue's book for one instrument.

    ``status`` other than LIVE carries no levels that may be served: the
    aggregator removes the venue from the world view until a LIVE update arrives.

    Built once per forwarded frame, so it is an immutable tuple subclass with
    named read-only fields (about 4x cheaper to build than a frozen dataclass)
    rather than a dataclass. It behaves like the frozen dataclass it replaces:
    positional or keyword construction with the same defaults, attributes
    that cannot be set (``AttributeError``), equality only with another
    ``BookUpdate`` of equal fields, hashing, the dataclass ``repr``, pickling
    and ``match`` patterns. Ordering comparisons are not supported. Being a
    tuple, it also has ``len``, indexing and iteration in field order; code
    should use the field names.

    Parameters
    ----------
    venue : str
    instrument : str
        Normalised, e.g. ``"ETH-BTC"``.
    bids, asks : Side
        Best first.
    status : VenueStatus
    exchange_ts_ns, receive_ts_ns : int
    reason : str
        Why a venue is not LIVE, for health reporting.
    """

    __slots__ = ()
    __match_args__ = _BOOK_UPDATE_FIELDS

    venue: str
    instrument: str
    bids: Side
    asks: Side
    status: VenueStatus
    exchange_ts_ns: int
    receive_ts_ns: int
    reason: str

    def __new__(
        cls,
        venue: str,
        instrument: str,
        bids: Side,
        asks: Side,
        status: VenueStatus = VenueStatus.LIVE,
        exchange_ts_ns: int = 0,
        receive_ts_ns: int = 0,
        reason: str = "",
    ) -> Self:
        return _new_tuple(cls, (venue, instrument, bids, asks, status, exchange_ts_ns, receive_ts_ns, reason))

    # Another tuple (plain or a different subclass) is never equal, in either operand
    # order: Python asks this subclass first even when it is on the right.
    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return tuple.__eq__(self, other)
        return False if isinstance(other, tuple) else NotImplemented

    def __ne__(self, other: object) -> bool:
        if type(other) is type(self):
            return tuple.__ne__(self, other)
        return True if isinstance(other, tuple) else NotImplemented

    __hash__ = tuple.__hash__

    def __lt__(self, other: object) -> bool:
        return NotImplemented

    __le__ = __gt__ = __ge__ = __lt__

    #: ``BookUpdate._make(fields)``: build from all eight fields, in order, with no
    #: defaults and no checks (as ``collections.namedtuple``'s ``_make``; for hot paths).
    if TYPE_CHECKING:

        @classmethod
        def _make(cls, fields: Iterable[object], /) -> Self: ...

    else:
        _make = classmethod(tuple.__new__)  # no Python frame in between

    def _replace(self, **changes: object) -> BookUpdate:
        """A copy with some fields changed (as ``collections.namedtuple``'s ``_replace``)."""
        values = [changes.pop(name, value) for name, value in zip(_BOOK_UPDATE_FIELDS, self, strict=True)]
        if changes:
            raise TypeError(f"BookUpdate has no field(s) {sorted(changes)}")
        return _new_tuple(type(self), values)

    def __getnewargs__(self) -> tuple[object, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return (
            f"BookUpdate(venue={self[0]!r}, instrument={self[1]!r}, bids={self[2]!r}, asks={self[3]!r}, "
            f"status={self[4]!r}, exchange_ts_ns={self[5]!r}, receive_ts_ns={self[6]!r}, reason={self[7]!r})"
        )


def _install_fields() -> None:
    try:  # the C field accessor of collections.namedtuple (CPython); same behaviour as the fallback
        from _collections import _tuplegetter
    except ImportError:  # pragma: no cover - other interpreters
        from operator import itemgetter

        def _tuplegetter(i: int, doc: str) -> property:
            return property(itemgetter(i), doc=doc)

    for i, name in enumerate(_BOOK_UPDATE_FIELDS):
        setattr(BookUpdate, name, _tuplegetter(i, f"Field {i}: ``{name}`` (read-only)."))


_install_fields()
del _install_fields


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """One venue's health for one instrument, as a world view reports it.

    ``last_update_ns`` is the receive time of the venue's latest LIVE update (keepalives of an
    unchanged book included; 0 before the first); ``reason`` says why a venue is not LIVE.
    """

    venue: str
    status: VenueStatus
    last_update_ns: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WorldView:
    """Aggregator -> services: the consolidated book of one instrument.

    ``seq`` grows by one per published view, so a consumer that sees a jump
    knows how many views were conflated away.
    """

    instrument: str
    seq: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    spread: float
    venues: dict[str, VenueHealth] = field(default_factory=dict)
    exchange_ts_ns: int = 0  # newest exchange time among the venues that contributed
    receive_ts_ns: int = 0  # receive time of the update that triggered this view
    publish_ts_ns: int = 0  # when the aggregator published it
    #: The per-venue tops that went into this view (LIVE venues only), for
    #: consumers that filter by venue and re-merge.
    books: dict[str, tuple[Side, Side]] = field(default_factory=dict)


#: One level of the summed-liquidity book: ``(price, total_qty, {venue: qty})``.
LiquidityLevel = tuple[float, float, dict[str, float]]


@dataclass(frozen=True, slots=True)
class LiquidityView:
    """Aggregator -> services: sizes at each price summed across LIVE venues.

    ``seq`` is the ``seq`` of the :class:`WorldView` computed from the same state.
    """

    instrument: str
    seq: int
    bids: tuple[LiquidityLevel, ...]
    asks: tuple[LiquidityLevel, ...]
    venues: dict[str, VenueHealth] = field(default_factory=dict)
    exchange_ts_ns: int = 0
    receive_ts_ns: int = 0
    publish_ts_ns: int = 0
