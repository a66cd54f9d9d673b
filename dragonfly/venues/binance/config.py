"""Binance feed configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...clients.ws import WebSocketConfig
from .schemas import DEFAULT_BASE_URL, DEPTH_LEVELS, UPDATE_SPEEDS

__all__ = ("BinanceConfig",)


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceConfig:
    """How to consume Binance partial depth.

    Parameters
    ----------
    base_url : str
        ``wss://stream.binance.com:9443`` in production; a simulator's
        ``ws://127.0.0.1:PORT`` in tests. ``/stream?streams=...`` is appended.
    levels : int
        Partial depth channel: 5, 10 or 20.
    speed : str
        ``"100ms"`` or ``"1000ms"``.
    ws : WebSocketConfig or None
        Heartbeat, watchdog, backoff, TLS; its ``url`` is replaced by the built one.
    """

    base_url: str = DEFAULT_BASE_URL
    levels: int = 20
    speed: str = "100ms"
    ws: WebSocketConfig | None = None

    def __post_init__(self) -> None:
        if self.levels not in DEPTH_LEVELS:
            raise ValueError(f"levels must be one of {DEPTH_LEVELS}, got {self.levels!r}")
        if self.speed not in UPDATE_SPEEDS:
            raise ValueError(f"speed must be one of {UPDATE_SPEEDS}, got {self.speed!r}")
        WebSocketConfig(url=self.base_url)  # validates the URL eagerly

    @classmethod
    def build(cls, **kwargs: object) -> BinanceConfig:
        return cls(**kwargs)  # type: ignore[arg-type]

    def with_base_url(self, base_url: str) -> BinanceConfig:
        return replace(self, base_url=base_url)
