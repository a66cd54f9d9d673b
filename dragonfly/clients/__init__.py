"""Layer 1: protocol clients (connection, heartbeat, watchdog, reconnect, counters).

:class:`Client` holds the one reconnect loop; :class:`WebSocketClient` (aiohttp) and
:class:`~dragonfly.clients.fix.FixClient` (FIX 4.4) run it; :class:`HttpClient` makes
the REST requests (snapshots, tokens). :func:`summarize_error` is how every client
turns an exception into text that is safe to log and show.
"""

from __future__ import annotations

from .base import Backoff, Client, ClientState, ClientStats, Frame, summarize_error
from .http import HttpClient, HttpConfig, HttpResponse, HttpStats
from .ws import WebSocketClient, WebSocketConfig

__all__ = (
    "Client",
    "ClientState",
    "ClientStats",
    "Backoff",
    "Frame",
    "HttpClient",
    "HttpConfig",
    "HttpResponse",
    "HttpStats",
    "WebSocketClient",
    "WebSocketConfig",
    "summarize_error",
)
