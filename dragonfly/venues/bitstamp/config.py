"""Bitstamp feed configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...clients.ws import WebSocketConfig
from .schemas import DEFAULT_BASE_URL

__all__ = ("BitstampConfig",)


@dataclass(frozen=True, slots=True, kw_only=True)
class BitstampConfig:
    """How to consume Bitstamp ``order_book_<pair>``.

    Parameters
    ----------
    base_url : str
        ``wss://ws.bitstamp.net`` in production; a simulator's URL in tests (used as is).
    ws : WebSocketConfig or None
        Heartbeat, watchdog, backoff, TLS; its ``url`` is replaced by ``base_url``.
    """

    base_url: str = DEFAULT_BASE_URL
    ws: WebSocketConfig | None = None

    def __post_init__(self) -> None:
        WebSocketConfig(url=self.base_url)

    @classmethod
    def build(cls, **kwargs: object) -> BitstampConfig:
        return cls(**kwargs)  # type: ignore[arg-type]

    def with_base_url(self, base_url: str) -> BitstampConfig:
        return replace(self, base_url=base_url)
