"""Kraken spot ``book`` channel: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("DEPTHS", "KrakenConfig")

DEFAULT_WS_URL = "wss://ws.kraken.com"
DEFAULT_WS_V2_URL = "wss://ws.kraken.com/v2"
#: Depths Kraken accepts for the book channel.
DEPTHS = (10, 25, 100, 500, 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class KrakenConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL (``wss://ws.kraken.com`` for v1, ``wss://ws.kraken.com/v2`` for v2).
    version : {1, 2}
    depth : int
        Subscribed depth, one of 10, 25, 100, 500, 1000; also the book's cap.
    """

    base_url: str = DEFAULT_WS_URL
    version: int = 1
    depth: int = 1000

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ConfigError(f"version must be 1 or 2, got {self.version!r}")
        if self.depth not in DEPTHS:
            raise ConfigError(f"depth must be one of {DEPTHS}, got {self.depth!r}")
        check_url(self.base_url, ("ws", "wss"))
