"""Layer 2 (+ the venue parts of layer 3): one folder per venue, a registry to find them.

``create_feed(get_venue("kraken"), instruments=["BTC-USD"], depth=10, sink=queue)`` builds a
venue's feed (the generic :class:`~dragonfly.listeners.driver.FeedDriver` running the venue's
adapter); generic layers never import a venue folder directly. ``_template/`` is the skeleton
of a new one; see :mod:`dragonfly.venues.base` for what a venue folder holds and
:mod:`dragonfly.venues.registry` for how a venue registers (also from another package).
"""

from __future__ import annotations

from ..instruments import Instrument, normalize_instrument, parse_instrument
from .base import VenueAdapter, VenueSpec
from .feed import create_feed
from .registry import default_venues, get_venue, register_venue, venue_names

__all__ = (
    "Instrument",
    "VenueAdapter",
    "VenueSpec",
    "create_feed",
    "default_venues",
    "get_venue",
    "normalize_instrument",
    "parse_instrument",
    "register_venue",
    "venue_names",
)
