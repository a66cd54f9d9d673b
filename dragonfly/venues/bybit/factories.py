"""Turn a configuration into a running Bybit diff-book feed (a :class:`~dragonfly.listeners.diff.DiffListener`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...listeners.diff import DiffListener, create_diff_feed
from ..registry import VenueSpec
from .diff import BybitBookConfig, BybitBookVenue, DEFAULT_WS_URL

__all__ = ("create_feed", "VENUE_SPEC")


def create_feed(
    *,
    instruments: Sequence[Any],
    depth: int,
    sink: Any,
    base_url: str | None = None,
    ws: Any = None,
    keepalive_s: float = 1.0,
    config: BybitBookConfig | None = None,
    **kwargs: Any,
) -> DiffListener:
    """One connection carrying the book of every instrument; ``base_url``
    overrides the WebSocket URL (simulators)."""
    cfg = config or BybitBookConfig()
    if base_url is not None:
        cfg = replace(cfg, base_url=base_url)
    return create_diff_feed(BybitBookVenue(cfg), instruments=instruments, depth=depth, sink=sink, ws=ws, keepalive_s=keepalive_s, **kwargs)


VENUE_SPEC = VenueSpec(
    name="bybit",
    kind="diff",
    default_base_url=DEFAULT_WS_URL,
    max_depth=1000,
    create_feed=create_feed,
)
