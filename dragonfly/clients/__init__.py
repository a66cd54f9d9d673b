"""Layer 1: protocol clients (connection, heartbeat, watchdog, reconnect, counters)."""

from __future__ import annotations

from .base import Backoff, Client, ClientState, ClientStats, Frame
from .ws import WebSocketClient, WebSocketConfig

__all__ = ("Client", "ClientState", "ClientStats", "Backoff", "Frame", "WebSocketClient", "WebSocketConfig")
