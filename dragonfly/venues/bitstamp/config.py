"""Bitstamp market-data feeds: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("BitstampConfig", "BitstampDiffConfig")

DEFAULT_WS_URL = "wss://ws.bitstamp.net"
DEFAULT_REST_URL = "https://www.bitstamp.net"


@dataclass(frozen=True, slots=True, kw_only=True)
class BitstampConfig:
    """``order_book_<pair>``: the top 100 levels per side whenever the book changes.

    Parameters
    ----------
    base_url : str
        ``wss://ws.bitstamp.net`` in production; a simulator's URL in tests (used as is).
    """

    base_url: str = DEFAULT_WS_URL

    def __post_init__(self) -> None:
        check_url(self.base_url, ("ws", "wss"))


@dataclass(frozen=True, slots=True, kw_only=True)
class BitstampDiffConfig:
    """``diff_order_book_<pair>`` with the REST ``/api/v2/order_book/<pair>/`` snapshot.

    Parameters
    ----------
    base_url, rest_url : str
        WebSocket and REST bases (simulators in tests).
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_WS_URL
    rest_url: str = DEFAULT_REST_URL
    max_depth: int = 5000

    def __post_init__(self) -> None:
        if self.max_depth < 1:
            raise ConfigError("max_depth must be >= 1")
        check_url(self.base_url, ("ws", "wss"))
        check_url(self.rest_url, ("http", "https"))
