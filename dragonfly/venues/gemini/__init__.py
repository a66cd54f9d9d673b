"""Gemini market data v2: the ``l2`` channel, full-depth books without sequence numbers.

The first ``l2_updates`` of a symbol after subscribing is its whole book (with the last trades),
later ones change levels (quantity 0 removes one, also one the book does not have). Nothing
numbers the messages: a lost one shows only as a crossed book, which re-subscribes the symbol.
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import GeminiAdapter
from .config import GeminiConfig

__all__ = ("VENUES", "GeminiAdapter", "GeminiConfig")

VENUES = (
    VenueSpec(
        name="gemini",
        adapter=GeminiAdapter,
        config=GeminiConfig,
        max_depth=5000,
        simulator="dragonfly.venues.gemini.sim:GeminiEncoder",
        description="Gemini market data v2 l2 (no sequence numbers: a loss shows as a crossed book)",
    ),
)
