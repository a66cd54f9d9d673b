"""A FIX 4.4 market-data venue (the simulated ``fixsim``, or any venue speaking standard 35=V/W/X).

Layer 2 (MarketDataRequest, subscription bookkeeping) and layer 3 (35=W / 35=X into
a book, top N forwarded as :class:`~dragonfly.model.BookUpdate`) over the layer-1
:class:`~dragonfly.clients.fix.FixClient`.
"""

from __future__ import annotations

from .config import FixVenueFeedConfig
from .data import FixBookListener, FixMarketDataFeed
from .factories import VENUE_SPEC, create_feed

__all__ = ("VENUE_SPEC", "FixBookListener", "FixMarketDataFeed", "FixVenueFeedConfig", "create_feed")
