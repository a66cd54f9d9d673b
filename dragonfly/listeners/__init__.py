"""Layer 3: feed listeners (raw frames -> book state -> :class:`~dragonfly.model.BookUpdate`)."""

from __future__ import annotations

from .snapshot import ListenerStats, SnapshotListener

__all__ = ("SnapshotListener", "ListenerStats")
