"""Bitstamp WebSocket API v2 wire formats (public documentation, "Websocket API v2").

Subscribe / confirmation::

    -> {"event": "bts:subscribe", "data": {"channel": "order_book_ethbtc"}}
    <- {"event": "bts:subscription_succeeded", "channel": "order_book_ethbtc", "data": {}}

Data (top 100 levels per side, prices and amounts as strings)::

    {"data": {"timestamp": "1617654351", "microtimestamp": "1617654351123456",
              "bids": [["0.03512345", "1.20000000"], ...], "asks": [...]},
     "channel": "order_book_ethbtc", "event": "data"}

Other events: ``bts:request_reconnect`` (the server asks the client to reconnect),
``bts:heartbeat`` (reply to a client heartbeat), ``bts:error``,
``bts:unsubscription_succeeded``.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = (
    "DEFAULT_BASE_URL",
    "CHANNEL_PREFIX",
    "BIDS_PATH",
    "ASKS_PATH",
    "EV_DATA",
    "EV_SUBSCRIBE",
    "EV_UNSUBSCRIBE",
    "EV_SUBSCRIBED",
    "EV_UNSUBSCRIBED",
    "EV_RECONNECT",
    "EV_HEARTBEAT",
    "EV_ERROR",
    "OrderBookData",
    "OrderBookFrame",
)

DEFAULT_BASE_URL = "wss://ws.bitstamp.net"
CHANNEL_PREFIX = "order_book_"
BIDS_PATH = "data.bids"
ASKS_PATH = "data.asks"
EV_DATA = "data"
EV_SUBSCRIBE = "bts:subscribe"
EV_UNSUBSCRIBE = "bts:unsubscribe"
EV_SUBSCRIBED = "bts:subscription_succeeded"
EV_UNSUBSCRIBED = "bts:unsubscription_succeeded"
EV_RECONNECT = "bts:request_reconnect"
EV_HEARTBEAT = "bts:heartbeat"
EV_ERROR = "bts:error"


class OrderBookData(TypedDict):
    timestamp: str
    microtimestamp: str
    bids: list[list[str]]
    asks: list[list[str]]


class OrderBookFrame(TypedDict):
    data: OrderBookData
    channel: str
    event: str
