"""Bybit v5 public order book: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("DEPTHS", "BybitConfig")

DEFAULT_WS_URL = "wss://stream.bybit.com/v5/public/spot"
DEPTHS = (1, 50, 200, 500, 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class BybitConfig:
    """Parameters
    ----------
    base_url : str
        ``wss://stream.bybit.com/v5/public/{spot,linear,inverse}`` (a simulator in tests).
    depth : int
        Subscribed depth (1, 50, 200, 500 or 1000); also the book's cap.
    """

    base_url: str = DEFAULT_WS_URL
    depth: int = 50

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ConfigError(f"depth must be one of {DEPTHS}, got {self.depth!r}")
        check_url(self.base_url, ("ws", "wss"))
