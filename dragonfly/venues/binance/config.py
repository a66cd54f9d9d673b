"""Binance spot market-data feeds: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("BinanceConfig", "BinanceDiffConfig", "DEPTH_LEVELS", "UPDATE_SPEEDS")

DEFAULT_WS_URL = "wss://stream.binance.com:9443"
DEFAULT_REST_URL = "https://api.binance.com"
#: Levels of the partial book depth streams.
DEPTH_LEVELS = (5, 10, 20)
UPDATE_SPEEDS = ("100ms", "1000ms")


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceConfig:
    """Partial book depth (``<symbol>@depth<levels>[@100ms]``): a top-N snapshot every period.

    Parameters
    ----------
    base_url : str
        ``wss://stream.binance.com:9443`` in production; a simulator's ``ws://127.0.0.1:PORT``
        in tests. ``/stream?streams=...`` is appended.
    levels : int
        5, 10 or 20.
    speed : str
        ``"100ms"`` or ``"1000ms"``.
    """

    base_url: str = DEFAULT_WS_URL
    levels: int = 20
    speed: str = "100ms"

    def __post_init__(self) -> None:
        if self.levels not in DEPTH_LEVELS:
            raise ConfigError(f"levels must be one of {DEPTH_LEVELS}, got {self.levels!r}")
        if self.speed not in UPDATE_SPEEDS:
            raise ConfigError(f"speed must be one of {UPDATE_SPEEDS}, got {self.speed!r}")
        check_url(self.base_url, ("ws", "wss"))


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceDiffConfig:
    """Diff depth (``<symbol>@depth[@100ms]``) with the REST ``/api/v3/depth`` snapshot.

    Parameters
    ----------
    base_url : str
        WebSocket base (``/stream?streams=...`` is appended).
    rest_url : str
        REST base for ``/api/v3/depth``.
    speed : {"100ms", "1000ms"}
    snapshot_limit : int
        Levels per side asked of the REST snapshot (Binance allows up to 5000).
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_WS_URL
    rest_url: str = DEFAULT_REST_URL
    speed: str = "100ms"
    snapshot_limit: int = 1000
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if self.speed not in UPDATE_SPEEDS:
            raise ConfigError(f"speed must be one of {UPDATE_SPEEDS}, got {self.speed!r}")
        if not 1 <= self.snapshot_limit <= 5000:
            raise ConfigError("snapshot_limit must be within [1, 5000]")
        if self.max_depth < 1:
            raise ConfigError("max_depth must be >= 1")
        check_url(self.base_url, ("ws", "wss"))
        check_url(self.rest_url, ("http", "https"))
