"""Bitstamp market data (WebSocket API v2).

``bitstamp``       ``order_book_<pair>``: the top 100 levels per side on every change
``bitstamp-diff``  ``diff_order_book_<pair>`` + REST ``/api/v2/order_book/<pair>/`` snapshot: the full book
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import BitstampAdapter, BitstampDiffAdapter
from .config import BitstampConfig, BitstampDiffConfig

__all__ = ("VENUES", "BitstampAdapter", "BitstampConfig", "BitstampDiffAdapter", "BitstampDiffConfig")

VENUES = (
    VenueSpec(
        name="bitstamp",
        adapter=BitstampAdapter,
        config=BitstampConfig,
        max_depth=100,
        simulator="dragonfly.venues.bitstamp.sim:BitstampEncoder",
        orders="dragonfly.venues.bitstamp.orders:BitstampOrders",
        order_url="https://www.bitstamp.net",
        description="Bitstamp order_book (top 100 on every change)",
        default=True,
    ),
    VenueSpec(
        name="bitstamp-diff",
        adapter=BitstampDiffAdapter,
        config=BitstampDiffConfig,
        max_depth=5000,
        simulator="dragonfly.venues.bitstamp.sim:BitstampDiffEncoder",
        orders="dragonfly.venues.bitstamp.orders:BitstampOrders",
        order_url="https://www.bitstamp.net",
        description="Bitstamp diff_order_book with REST snapshots (full book)",
    ),
)
