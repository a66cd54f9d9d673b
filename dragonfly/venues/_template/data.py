"""Template: the feed (routing and control events)."""

from __future__ import annotations

from ...clients.base import Frame
from ..feed import SnapshotFeed
from .parsing import route


class TemplateSnapshotFeed(SnapshotFeed):
    def route(self, frame: Frame) -> str | None:
        return route(frame)

    def on_control(self, frame: Frame, message: object) -> None:
        raise NotImplementedError("handle subscription acks, heartbeats, errors here")
