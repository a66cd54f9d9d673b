"""Gate.io market data: ``order_book_update`` (changed order-book levels) with REST snapshots.

``gateio``  spot v4 ``spot.order_book_update`` (``U``/``u``, ``[price, amount]`` levels) + REST
            ``/api/v4/spot/order_book?...&with_id=true`` (``id``); with ``GateioConfig(market="futures")``
            the perpetual futures ``futures.order_book_update`` (``{p, s}`` levels) + REST
            ``/api/v4/futures/<settle>/order_book`` (Gate.io API v4 docs, "Changed order book levels")
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import GateioAdapter
from .config import GateioConfig

__all__ = ("VENUES", "GateioAdapter", "GateioConfig")

VENUES = (
    VenueSpec(
        name="gateio",
        adapter=GateioAdapter,
        config=GateioConfig,
        max_depth=100,
        simulator="dragonfly.venues.gateio.sim:GateioEncoder",
        description="Gate.io spot (or futures) order_book_update with REST snapshots (top 100)",
    ),
)
