"""Binance spot market data.

``binance``       partial book depth ``<symbol>@depth20@100ms``: a top-N snapshot per frame
``binance-diff``  diff depth ``<symbol>@depth@100ms`` + REST ``/api/v3/depth`` snapshot: the full book
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import BinanceAdapter, BinanceDiffAdapter
from .config import BinanceConfig, BinanceDiffConfig

__all__ = ("VENUES", "BinanceAdapter", "BinanceConfig", "BinanceDiffAdapter", "BinanceDiffConfig")

VENUES = (
    VenueSpec(
        name="binance",
        adapter=BinanceAdapter,
        config=BinanceConfig,
        max_depth=20,
        simulator="dragonfly.venues.binance.sim:BinanceEncoder",
        orders="dragonfly.venues.binance.orders:BinanceOrders",
        order_url="https://api.binance.com",
        description="Binance spot partial depth (top 20 every 100 ms)",
        default=True,
    ),
    VenueSpec(
        name="binance-diff",
        adapter=BinanceDiffAdapter,
        config=BinanceDiffConfig,
        max_depth=5000,
        simulator="dragonfly.venues.binance.sim:BinanceDiffEncoder",
        orders="dragonfly.venues.binance.orders:BinanceOrders",
        order_url="https://api.binance.com",
        description="Binance spot diff depth with REST snapshots (full book)",
    ),
)
