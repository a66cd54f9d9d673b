"""Bitfinex market data: the WebSocket v2 ``book`` channel (P0, F0), full books checked by a
connection-wide sequence number and a CRC32 of the top 25.

Bitfinex's documentation ("WebSocket General", "Books", "WebSocket Checksum"): public channels are
on ``wss://api-pub.bitfinex.com/ws/2``; a ``conf`` event with flags SEQ_ALL (65536) and OB_CHECKSUM
(131072) numbers every message of the connection and adds a checksum message after every book
iteration; a subscription sends the book's snapshot (``len`` 25, 100 or 250 price points a side),
then one message per changed price level. See ``adapter.py`` for the wire format.
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import BitfinexAdapter
from .config import LENGTHS, BitfinexConfig

__all__ = ("LENGTHS", "VENUES", "BitfinexAdapter", "BitfinexConfig")

VENUES = (
    VenueSpec(
        name="bitfinex",
        adapter=BitfinexAdapter,
        config=BitfinexConfig,
        max_depth=max(LENGTHS),
        simulator="dragonfly.venues.bitfinex.sim:BitfinexEncoder",
        description="Bitfinex book P0 (WS v2), connection sequence numbers and CRC32 checksums",
    ),
)
