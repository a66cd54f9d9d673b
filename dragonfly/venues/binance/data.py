"""Binance partial-depth feed: routes combined-stream frames to per-symbol listeners."""

from __future__ import annotations

import logging

from ...clients.base import Frame
from ..feed import SnapshotFeed
from .parsing import route as _route

__all__ = ("BinanceSnapshotFeed",)

log = logging.getLogger(__name__)


class BinanceSnapshotFeed(SnapshotFeed):
    """Routes on the ``stream`` key (first in the frame); handles ``{"result":..,"id":..}`` acks and errors."""

    #: The module function itself (no bound-method layer: called once per frame).
    route = staticmethod(_route)  # type: ignore[assignment]

    def on_control(self, frame: Frame, message: object) -> None:
        if isinstance(message, dict):
            if "error" in message:
                log.warning("binance: error response %r", message)
                return
            if "result" in message:
                log.debug("binance: ack %r", message)
                return
        log.debug("binance: unexpected frame %r", frame[:200])
