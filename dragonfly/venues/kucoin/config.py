"""KuCoin spot ``/market/level2``: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("SNAPSHOT_DEPTHS", "KucoinConfig")

DEFAULT_WS_URL = "wss://ws-api-spot.kucoin.com"
DEFAULT_REST_URL = "https://api.kucoin.com"
#: Levels per side of the public REST snapshots (``/api/v1/market/orderbook/level2_20`` and ``level2_100``).
SNAPSHOT_DEPTHS = (20, 100)


@dataclass(frozen=True, slots=True, kw_only=True)
class KucoinConfig:
    """Parameters
    ----------
    base_url : str
        The WebSocket endpoint KuCoin documents (``wss://ws-api-spot.kucoin.com``). The connection
        goes to the endpoint the token request (``POST /api/v1/bullet-public``) names, which may
        change; this one is the client's nominal URL (its name in logs).
    rest_url : str
        REST base of the token request and the snapshots (``https://api.kucoin.com``); follows
        ``base_url`` when that is overridden (a simulator serves both).
    snapshot_depth : {20, 100}
        Levels per side of the public REST snapshot (``level2_20`` or ``level2_100``). The full-depth
        snapshot (``/api/v3/market/orderbook/level2``) needs an API key, so it is not used.
    max_depth : int
        Book depth cap per side (default: the snapshot's depth; see the adapter's notes).
    """

    base_url: str = DEFAULT_WS_URL
    rest_url: str = DEFAULT_REST_URL
    snapshot_depth: int = 100
    max_depth: int = 100

    def __post_init__(self) -> None:
        if self.snapshot_depth not in SNAPSHOT_DEPTHS:
            raise ConfigError(f"snapshot_depth must be one of {SNAPSHOT_DEPTHS}, got {self.snapshot_depth!r}")
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ConfigError(f"max_depth must be a positive int, got {self.max_depth!r}")
        check_url(self.base_url, ("ws", "wss"))
        check_url(self.rest_url, ("http", "https"))
