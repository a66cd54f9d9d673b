"""The OKX diff-book feed (a :class:`~dragonfly.listeners.diff.DiffListener`) and its registry entry."""

from __future__ import annotations

from ...listeners.diff import diff_venue_spec
from .diff import DEFAULT_WS_URL, OkxBookConfig, OkxBookVenue

__all__ = ("create_feed", "VENUE_SPEC")

VENUE_SPEC = diff_venue_spec(
    name="okx", venue_cls=OkxBookVenue, config_cls=OkxBookConfig, default_base_url=DEFAULT_WS_URL, max_depth=400
)
create_feed = VENUE_SPEC.create_feed
