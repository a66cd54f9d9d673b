"""Layer 3, generic: venue events -> per-instrument books -> :class:`~dragonfly.model.BookUpdate`.

``events``  what venue adapters parse frames into (Snapshot, TopSnapshot, Delta, Heartbeat, Rejected, Reconnect)
``rules``   sequence rules (how a venue's deltas chain)
``keeper``  :class:`BookKeeper`, the sans-IO book state machine of one instrument
``driver``  :class:`FeedDriver`, the one driver of every feed over any layer-1 client
"""

from __future__ import annotations

from .driver import Feed, FeedDriver, FeedStats, SnapshotLimiter
from .events import Delta, Heartbeat, Reconnect, Rejected, Snapshot, TopSnapshot
from .keeper import BookKeeper, Fault, KeeperStats, Step

__all__ = (
    "BookKeeper",
    "Delta",
    "Feed",
    "FeedDriver",
    "FeedStats",
    "Fault",
    "Heartbeat",
    "KeeperStats",
    "Reconnect",
    "Rejected",
    "Snapshot",
    "SnapshotLimiter",
    "TopSnapshot",
    "Step",
)
