"""Bitstamp order_book feed: routes ``event=data`` frames by channel; handles the ``bts:*`` events."""

from __future__ import annotations

import logging

from ...clients.base import Frame
from ..feed import SnapshotFeed
from .parsing import route as _route
from .schemas import EV_ERROR, EV_HEARTBEAT, EV_RECONNECT, EV_SUBSCRIBED, EV_UNSUBSCRIBED

__all__ = ("BitstampSnapshotFeed",)

log = logging.getLogger(__name__)


class BitstampSnapshotFeed(SnapshotFeed):
    """Bitstamp ``order_book_<pair>`` feed.

    ``bts:subscription_succeeded`` is recorded in :attr:`subscribed` (the
    instrument stays SYNCING until its first book); ``bts:request_reconnect``
    makes the client reconnect (instruments go STALE then SYNCING, then LIVE on
    their next book); heartbeats are ignored; ``bts:error`` is logged.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.subscribed: set[str] = set()
        self.reconnect_requests = 0

    #: The module function itself (no bound-method layer: called once per frame).
    route = staticmethod(_route)  # type: ignore[assignment]

    async def on_connected(self) -> None:
        self.subscribed.clear()

    def on_control(self, frame: Frame, message: object) -> None:
        if not isinstance(message, dict):
            log.debug("bitstamp: unexpected frame %r", frame[:200])
            return
        event = message.get("event")
        channel = message.get("channel", "")
        if event == EV_SUBSCRIBED:
            self.subscribed.add(channel)
            log.debug("bitstamp: subscribed to %s", channel)
        elif event == EV_UNSUBSCRIBED:
            self.subscribed.discard(channel)
        elif event == EV_RECONNECT:
            self.reconnect_requests += 1
            self.client.request_reconnect("bts:request_reconnect")
        elif event == EV_HEARTBEAT:
            pass
        elif event == EV_ERROR:
            log.warning("bitstamp: error event %r", message)
        else:
            log.debug("bitstamp: unhandled event %r", message)
