"""Bybit v5 public market data: ``orderbook.<depth>.<symbol>`` with a contiguous update id."""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import BybitAdapter
from .config import DEPTHS, BybitConfig

__all__ = ("DEPTHS", "VENUES", "BybitAdapter", "BybitConfig")

VENUES = (
    VenueSpec(
        name="bybit",
        adapter=BybitAdapter,
        config=BybitConfig,
        max_depth=1000,
        simulator="dragonfly.venues.bybit.sim:BybitEncoder",
        description="Bybit v5 orderbook.<depth> (spot/linear/inverse), contiguous update ids",
    ),
)
