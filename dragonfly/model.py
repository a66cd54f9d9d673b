"""Messages that travel between the layers.

All timestamps are integer nanoseconds since the Unix epoch
(``time.time_ns()``); 0 means "not known".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """Listener -> aggregator: the current top of one venue's book for one instrument.

    ``status`` other than LIVE carries no levels that may be served: the
    aggregator removes the venue from the world view until a LIVE update arrives.
    """

    venue: str
    instrument: str  # normalised, e.g. "ETH-BTC"
    bids: Side
    asks: Side
    status: VenueStatus = VenueStatus.LIVE
    exchange_ts_ns: int = 0
    receive_ts_ns: int = 0
    reason: str = ""  # why a venue is not LIVE, for health reporting


@dataclass(frozen=True, slots=True)
class VenueHealth:
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
