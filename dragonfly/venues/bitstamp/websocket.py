"""Bitstamp WebSocket client: the URL as given and one ``bts:subscribe`` per channel."""

from __future__ import annotations

from collections.abc import Sequence

from ...clients.base import Frame
from ...clients.ws import WebSocketClient, WebSocketConfig
from .parsing import subscribe_message

__all__ = ("BitstampWebSocketClient",)


class BitstampWebSocketClient(WebSocketClient):
    """Sends ``bts:subscribe`` for every channel after each (re)connect."""

    def __init__(self, config: WebSocketConfig, channels: Sequence[str], **kwargs: object) -> None:
        if not channels:
            raise ValueError("at least one channel is required")
        super().__init__(config, **kwargs)  # type: ignore[arg-type]
        self.channels = tuple(channels)

    def subscribe_frames(self) -> Sequence[Frame]:
        return [subscribe_message(c) for c in self.channels]
