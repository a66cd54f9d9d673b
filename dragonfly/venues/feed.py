"""Layer 2, generic part: a venue feed ties one client to its per-instrument listeners.

:class:`SnapshotFeed` reads frames from a :class:`~dragonfly.clients.base.Client`,
decodes only the routing key of each (``route``), and hands the frame to the
listener registered for that key (one dict lookup). Frames without a known key
go to ``on_control`` (subscription acks, heartbeats, reconnect requests,
errors), which venues override. Connection events become listener statuses:
a drop makes every instrument of the connection STALE ("disconnected"); a
(re)connect makes them SYNCING until their first good frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping

from ..clients.base import Client, FeedTask, Frame
from ..listeners.snapshot import SnapshotListener
from ..model import VenueStatus

__all__ = ("SnapshotFeed", "FeedStats")

log = logging.getLogger(__name__)


class FeedStats:
    """Counters of one feed (per connection, across instruments)."""

    __slots__ = ("frames", "control_frames", "unroutable", "bad_frames")

    def __init__(self) -> None:
        self.frames = 0  #: frames received
        self.control_frames = 0  #: frames that were not instrument data
        self.unroutable = 0  #: data-looking frames for an unknown routing key
        self.bad_frames = 0  #: frames that were not valid JSON at all (no instrument to blame)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class SnapshotFeed(FeedTask):
    """Generic snapshot-feed subscriber (subclass per venue).

    Parameters
    ----------
    venue : str
        Venue name (``"binance"``).
    client : Client
        Layer-1 client; its ``on_connect``/``on_disconnect`` hooks are taken over.
    listeners : Mapping[str, SnapshotListener]
        Routing key (as returned by :meth:`route`) -> listener.
    """

    def __init__(self, *, venue: str, client: Client, listeners: Mapping[str, SnapshotListener]) -> None:
        self.venue = venue
        self.client = client
        self.listeners: dict[str, SnapshotListener] = dict(listeners)
        self.stats = FeedStats()
        self._task: asyncio.Task[None] | None = None
        self.task_name = f"feed:{self.venue}"
        self._logged_bad = False
        self.error: BaseException | None = None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    # -- venue hooks ---------------------------------------------------------------------
    def route(self, frame: Frame) -> str | None:
        """Routing key of a data frame, or None for anything else. Decode nothing more."""
        raise NotImplementedError

    def on_control(self, frame: Frame, message: object) -> None:
        """Handle a frame that is not instrument data (``message`` is its JSON value)."""
        log.debug("%s: control frame %r", self.venue, frame[:200])

    async def on_connected(self) -> None:
        """Called after every (re)connect, after the client sent its subscribe frames."""

    # -- running -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Consume the client's frames until it is closed."""
        routes = self.listeners
        stats = self.stats
        route = self.route
        time_ns = time.time_ns
        agen = self.client.frames()
        try:
            async for frame in agen:
                recv = time_ns()
                stats.frames += 1
                key = route(frame)
                if key is not None:
                    lst = routes.get(key)
                    if lst is not None:
                        lst.on_frame(frame, recv)
                        continue
                self._control(frame, key)
        finally:
            await agen.aclose()  # type: ignore[attr-defined]
            for lst in routes.values():
                lst.set_status(VenueStatus.STALE, "feed stopped")

    def _control(self, frame: Frame, key: str | None) -> None:
        self.stats.control_frames += 1
        try:
            message = json.loads(frame)
        except ValueError as exc:
            self.stats.bad_frames += 1
            if not self._logged_bad:
                self._logged_bad = True
                log.warning("%s: frame is not JSON, skipped (%s); starts %r (logged once)", self.venue, exc, frame[:160])
            return
        if key is not None:
            self.stats.unroutable += 1
            log.debug("%s: frame for unknown key %r", self.venue, key)
            return
        try:
            self.on_control(frame, message)
        except Exception:
            log.exception("%s: control handler failed on %r", self.venue, frame[:200])

    async def close(self) -> None:
        """Close the client; the frame loop ends and every instrument goes STALE."""
        await self.client.close()

    # -- connection events -------------------------------------------------------------------
    async def _on_connect(self, client: Client) -> None:
        for lst in self.listeners.values():
            lst.set_status(VenueStatus.SYNCING, "connected, waiting for the first book")
        await self.on_connected()

    def _on_disconnect(self, client: Client, reason: str) -> None:
        for lst in self.listeners.values():
            lst.set_status(VenueStatus.STALE, f"disconnected: {reason}")

    def listener_stats(self) -> dict[str, dict[str, int]]:
        return {lst.instrument: lst.stats.as_dict() for lst in self.listeners.values()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.venue} instruments={[lst.instrument for lst in self.listeners.values()]}>"
