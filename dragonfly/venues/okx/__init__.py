"""OKX v5 public market data: order-book channels with seqId/prevSeqId and a CRC32 checksum."""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import OkxAdapter
from .config import CHANNEL_DEPTHS, OkxConfig

__all__ = ("CHANNEL_DEPTHS", "VENUES", "OkxAdapter", "OkxConfig")

VENUES = (
    VenueSpec(
        name="okx",
        adapter=OkxAdapter,
        config=OkxConfig,
        max_depth=400,
        simulator="dragonfly.venues.okx.sim:OkxEncoder",
        description="OKX v5 books (400 levels), seqId chain and CRC32 checksum",
    ),
)
