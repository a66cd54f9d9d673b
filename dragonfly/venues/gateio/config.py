"""Gate.io ``order_book_update`` (spot v4, or futures): configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("INTERVALS", "MARKETS", "SETTLES", "GateioConfig")

SPOT_WS_URL = "wss://api.gateio.ws/ws/v4/"
FUTURES_WS_URL = "wss://fx-ws.gateio.ws/v4/ws/{settle}"
DEFAULT_REST_URL = "https://api.gateio.ws"
MARKETS = ("spot", "futures")
#: Settlement currencies of the perpetual futures (``/v4/ws/<settle>``, ``/api/v4/futures/<settle>/...``).
SETTLES = ("usdt", "btc")
#: Update intervals, and the depths each carries: spot ``100ms`` is 100 levels and ``20ms`` 20 levels;
#: futures ``100ms`` takes a level of 100, 50 or 20, ``20ms`` only 20.
INTERVALS: dict[str, dict[str, tuple[int, ...]]] = {
    "spot": {"100ms": (100,), "20ms": (20,)},
    "futures": {"100ms": (100, 50, 20), "20ms": (20,)},
}


def default_ws_url(market: str, settle: str = "usdt") -> str:
    """The production WebSocket endpoint of ``market``."""
    return SPOT_WS_URL if market == "spot" else FUTURES_WS_URL.format(settle=settle)


_DEFAULT_WS_URLS = frozenset([SPOT_WS_URL, *(FUTURES_WS_URL.format(settle=s) for s in SETTLES)])


@dataclass(frozen=True, slots=True, kw_only=True)
class GateioConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL; "" (or another market's production endpoint) means the production endpoint of
        ``market``: ``wss://api.gateio.ws/ws/v4/`` (spot), ``wss://fx-ws.gateio.ws/v4/ws/usdt`` (futures).
    rest_url : str
        REST base of the snapshots (``https://api.gateio.ws``); follows ``base_url`` when that is
        overridden (a simulator serves both).
    market : {"spot", "futures"}
        ``spot.order_book_update`` (levels ``[price, amount]``) or ``futures.order_book_update``
        (levels ``{"p": price, "s": size}``, sizes in contracts).
    settle : {"usdt", "btc"}
        Settlement currency of the futures (ignored for spot).
    interval : {"100ms", "20ms"}
        Update interval of the channel.
    depth : int
        Levels per side the channel covers, also the REST snapshot's ``limit`` and the book's cap
        (Gate.io notifies changes within these levels only). Spot: 100 with ``100ms``, 20 with
        ``20ms``; futures: 100, 50 or 20 with ``100ms``, 20 with ``20ms``.
    """

    base_url: str = ""
    rest_url: str = DEFAULT_REST_URL
    market: str = "spot"
    settle: str = "usdt"
    interval: str = "100ms"
    depth: int = 100

    def __post_init__(self) -> None:
        if self.market not in MARKETS:
            raise ConfigError(f"market must be one of {MARKETS}, got {self.market!r}")
        if self.settle not in SETTLES:
            raise ConfigError(f"settle must be one of {SETTLES}, got {self.settle!r}")
        depths = INTERVALS[self.market].get(self.interval)
        if depths is None:
            raise ConfigError(f"interval must be one of {tuple(INTERVALS[self.market])}, got {self.interval!r}")
        if isinstance(self.depth, bool) or self.depth not in depths:
            raise ConfigError(f"{self.market} {self.interval} carries a depth of {depths}, got {self.depth!r}")
        default = default_ws_url(self.market, self.settle)
        if not self.base_url or (self.base_url in _DEFAULT_WS_URLS and self.base_url != default):
            object.__setattr__(self, "base_url", default)
        check_url(self.base_url, ("ws", "wss"))
        check_url(self.rest_url, ("http", "https"))
