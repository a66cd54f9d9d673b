"""Bitstamp: live order book channel ``order_book_<pair>`` (top 100 levels per side)."""

from __future__ import annotations

from .config import BitstampConfig
from .factories import VENUE_SPEC, create_feed

__all__ = ("BitstampConfig", "create_feed", "VENUE_SPEC")
