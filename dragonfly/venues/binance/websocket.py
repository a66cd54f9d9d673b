"""Binance WebSocket client: the combined-stream URL, nothing else."""

from __future__ import annotations

from collections.abc import Sequence

from yarl import URL

from ...clients.ws import WebSocketClient, WebSocketConfig

__all__ = ("BinanceWebSocketClient",)


class BinanceWebSocketClient(WebSocketClient):
    """Connects to ``<base>/stream?streams=a/b/c``: every stream of the connection is in the URL,
    so a reconnect resubscribes by itself."""

    def __init__(self, config: WebSocketConfig, streams: Sequence[str], **kwargs: object) -> None:
        if not streams:
            raise ValueError("at least one stream is required")
        super().__init__(config, **kwargs)  # type: ignore[arg-type]
        self.streams = tuple(streams)

    def build_url(self) -> str:
        base = URL(self.config.url)
        path = base.path.rstrip("/") + "/stream"
        # Binance expects the raw "a@depth20@100ms/b@..." list; build the query by hand so '/' and '@' stay literal.
        return str(base.with_path(path).with_query(None)) + "?streams=" + "/".join(self.streams)
