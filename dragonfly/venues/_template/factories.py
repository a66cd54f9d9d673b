"""Template: ``create_feed`` and ``VENUE_SPEC`` (see binance/factories.py for a complete one)."""

from __future__ import annotations

from typing import Any


def create_feed(**kwargs: Any) -> Any:
    raise NotImplementedError("build listeners, the client and the feed here")
