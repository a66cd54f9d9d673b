"""KuCoin spot market data: the incremental order book ``/market/level2`` with public REST snapshots.

``kucoin``  ``/market/level2:<symbol>,...`` (``trade.l2update``: ``sequenceStart``/``sequenceEnd``,
            every change ``[price, size, sequence]``) + REST ``/api/v1/market/orderbook/level2_100``
            (``data.sequence``); the connection needs a token from ``POST /api/v1/bullet-public``
            first (KuCoin's docs: "Apply Connect Token", "Orderbook - Increment", "Get Part OrderBook")
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import KucoinAdapter
from .config import KucoinConfig

__all__ = ("VENUES", "KucoinAdapter", "KucoinConfig")

VENUES = (
    VenueSpec(
        name="kucoin",
        adapter=KucoinAdapter,
        config=KucoinConfig,
        max_depth=100,
        simulator="dragonfly.venues.kucoin.sim:KucoinEncoder",
        description="KuCoin spot level2 increments with REST snapshots (top 100), token per connection",
    ),
)
