"""Template: wire constants (cite the venue's public documentation here)."""

from __future__ import annotations

DEFAULT_BASE_URL = "wss://example.invalid/ws"
BIDS_PATH = "data.bids"
ASKS_PATH = "data.asks"
