"""Binance spot: partial book depth stream ``<symbol>@depth20@100ms`` on the combined stream."""

from __future__ import annotations

from .config import BinanceConfig
from .factories import VENUE_SPEC, create_feed

__all__ = ("BinanceConfig", "create_feed", "VENUE_SPEC")
