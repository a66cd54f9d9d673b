"""Template: the venue's WebSocket client (URL and subscribe frames only)."""

from __future__ import annotations

from collections.abc import Sequence

from ...clients.base import Frame
from ...clients.ws import WebSocketClient


class TemplateWebSocketClient(WebSocketClient):
    def subscribe_frames(self) -> Sequence[Frame]:
        raise NotImplementedError("send the venue's subscribe messages here")
