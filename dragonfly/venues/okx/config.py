"""OKX v5 public order-book channels: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("CHANNEL_DEPTHS", "OkxConfig")

DEFAULT_WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
#: Channels and the depth each maintains.
CHANNEL_DEPTHS = {"books": 400, "books-l2-tbt": 400, "books50-l2-tbt": 50}


@dataclass(frozen=True, slots=True, kw_only=True)
class OkxConfig:
    """Parameters
    ----------
    base_url : str
        Public WebSocket URL (a simulator in tests).
    channel : str
        ``books`` (default), ``books-l2-tbt`` or ``books50-l2-tbt``.
    """

    base_url: str = DEFAULT_WS_URL
    channel: str = "books"

    def __post_init__(self) -> None:
        if self.channel not in CHANNEL_DEPTHS:
            raise ConfigError(f"channel must be one of {sorted(CHANNEL_DEPTHS)}, got {self.channel!r}")
        check_url(self.base_url, ("ws", "wss"))
