"""Layer 2 (+ the venue parts of layer 3): one package per venue, a registry to find them.

``get_venue("binance").create_feed(...)`` builds a venue's feed; generic layers
never import a venue package directly. ``_template/`` is the skeleton for a new one.
"""

from __future__ import annotations

from .registry import VenueSpec, get_venue, register_venue, venue_names
from .symbols import Instrument, normalize_instrument, parse_instrument

__all__ = (
    "VenueSpec",
    "get_venue",
    "register_venue",
    "venue_names",
    "Instrument",
    "normalize_instrument",
    "parse_instrument",
)
