"""Coinbase market data: ``level2`` on Coinbase Exchange or Advanced Trade (full-depth books)."""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import CoinbaseAdapter
from .config import CoinbaseConfig

__all__ = ("VENUES", "CoinbaseAdapter", "CoinbaseConfig")

VENUES = (
    VenueSpec(
        name="coinbase",
        adapter=CoinbaseAdapter,
        config=CoinbaseConfig,
        max_depth=5000,
        simulator="dragonfly.venues.coinbase.sim:CoinbaseEncoder",
        description="Coinbase level2 (Exchange or Advanced Trade)",
    ),
)
