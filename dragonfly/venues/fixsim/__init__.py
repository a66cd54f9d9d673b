"""A FIX 4.4 market-data venue (the simulated ``fixsim``, or any venue speaking standard 35=V/W/X)."""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import FixsimAdapter
from .config import DEFAULT_BASE_URL, FixsimConfig, parse_fix_url

__all__ = ("DEFAULT_BASE_URL", "VENUES", "FixsimAdapter", "FixsimConfig", "parse_fix_url")

VENUES = (
    VenueSpec(
        name="fixsim",
        adapter=FixsimAdapter,
        config=FixsimConfig,
        max_depth=50,
        simulator="dragonfly.venues.fixsim.sim:FixsimEncoder",
        description="FIX 4.4 market data (35=V/W/X), the local simulator by default",
    ),
)
