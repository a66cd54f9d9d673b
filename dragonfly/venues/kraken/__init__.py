"""Kraken spot market data: the ``book`` channel (v1 and v2), full-depth books checked by CRC32."""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import KrakenAdapter
from .config import DEPTHS, KrakenConfig

__all__ = ("DEPTHS", "VENUES", "KrakenAdapter", "KrakenConfig")

VENUES = (
    VenueSpec(
        name="kraken",
        adapter=KrakenAdapter,
        config=KrakenConfig,
        max_depth=1000,
        simulator="dragonfly.venues.kraken.sim:KrakenEncoder",
        description="Kraken spot book (v1 or v2), CRC32 checksum on every update",
    ),
)
