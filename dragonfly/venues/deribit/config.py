"""Deribit ``book.<instrument>.<interval>``: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("INTERVALS", "DeribitConfig")

DEFAULT_WS_URL = "wss://www.deribit.com/ws/api/v2"
#: Notification intervals of the book channel this feed supports (``raw``: every change,
#: available to authorised connections only, per Deribit's docs; ``100ms``: aggregated, public).
INTERVALS = ("100ms", "raw")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeribitConfig:
    """Parameters
    ----------
    base_url : str
        JSON-RPC WebSocket URL (a simulator in tests).
    interval : {"100ms", "raw"}
        The channel's notification interval.
    heartbeat_s : int
        Interval asked with ``public/set_heartbeat`` after connecting (Deribit's minimum is 10 s).
    max_depth : int
        Book depth cap per side. The channel carries the whole book and says which levels exist
        (``change``/``delete``): keep the cap above the venue's deepest book.
    """

    base_url: str = DEFAULT_WS_URL
    interval: str = "100ms"
    heartbeat_s: int = 30
    max_depth: int = 10_000

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ConfigError(f"interval must be one of {INTERVALS}, got {self.interval!r}")
        if not isinstance(self.heartbeat_s, int) or isinstance(self.heartbeat_s, bool) or self.heartbeat_s < 10:
            raise ConfigError(f"heartbeat_s must be an int >= 10 (Deribit's minimum), got {self.heartbeat_s!r}")
        if not isinstance(self.max_depth, int) or isinstance(self.max_depth, bool) or self.max_depth < 1:
            raise ConfigError(f"max_depth must be a positive int, got {self.max_depth!r}")
        check_url(self.base_url, ("ws", "wss"))
