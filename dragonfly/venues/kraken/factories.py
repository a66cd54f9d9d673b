"""The Kraken diff-book feed (a :class:`~dragonfly.listeners.diff.DiffListener`) and its registry entry."""

from __future__ import annotations

from ...listeners.diff import diff_venue_spec
from .diff import DEFAULT_WS_URL, KrakenBookConfig, KrakenBookVenue

__all__ = ("create_feed", "VENUE_SPEC")

VENUE_SPEC = diff_venue_spec(
    name="kraken", venue_cls=KrakenBookVenue, config_cls=KrakenBookConfig, default_base_url=DEFAULT_WS_URL, max_depth=1000
)
create_feed = VENUE_SPEC.create_feed
