"""Gemini market data v2 ``l2``: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("GeminiConfig",)

DEFAULT_WS_URL = "wss://api.gemini.com/v2/marketdata"


@dataclass(frozen=True, slots=True, kw_only=True)
class GeminiConfig:
    """Parameters
    ----------
    base_url : str
        Market data v2 WebSocket URL (a simulator in tests).
    max_depth : int
        Book depth cap per side (the ``l2`` channel carries the whole book).
    """

    base_url: str = DEFAULT_WS_URL
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if not isinstance(self.max_depth, int) or isinstance(self.max_depth, bool) or self.max_depth < 1:
            raise ConfigError(f"max_depth must be a positive int, got {self.max_depth!r}")
        check_url(self.base_url, ("ws", "wss"))
