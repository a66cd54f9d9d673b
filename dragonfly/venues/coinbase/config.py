"""Coinbase ``level2``: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("CoinbaseConfig",)

DEFAULT_EXCHANGE_URL = "wss://ws-feed.exchange.coinbase.com"
DEFAULT_ADVANCED_URL = "wss://advanced-trade-ws.coinbase.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class CoinbaseConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL (a simulator in tests).
    api : {"exchange", "advanced"}
        Coinbase Exchange ``level2`` (also ``level2_batch``) or Advanced Trade ``level2``.
    channel : str
        Exchange channel name: ``level2`` or ``level2_batch``.
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_EXCHANGE_URL
    api: str = "exchange"
    channel: str = "level2"
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if self.api not in ("exchange", "advanced"):
            raise ConfigError(f"api must be 'exchange' or 'advanced', got {self.api!r}")
        if self.channel not in ("level2", "level2_batch"):
            raise ConfigError(f"channel must be 'level2' or 'level2_batch', got {self.channel!r}")
        if self.max_depth < 1:
            raise ConfigError("max_depth must be >= 1")
        check_url(self.base_url, ("ws", "wss"))
