"""Binance wire formats (public documentation: web-socket-streams.md, "Partial Book Depth Streams").

Combined stream frame::

    {"stream": "ethbtc@depth20@100ms",
     "data": {"lastUpdateId": 160, "bids": [["0.0024", "10"], ...], "asks": [["0.0026", "100"], ...]}}

Live subscribe/unsubscribe on an open connection::

    {"method": "SUBSCRIBE", "params": ["ethbtc@depth20@100ms"], "id": 1}   ->   {"result": null, "id": 1}

Partial depth carries no event time: the exchange time of these updates is 0 (unknown).
"""

from __future__ import annotations

from typing import TypedDict

__all__ = (
    "DEFAULT_BASE_URL",
    "DEPTH_LEVELS",
    "UPDATE_SPEEDS",
    "BIDS_PATH",
    "ASKS_PATH",
    "ROUTING_KEY",
    "SEQUENCE_KEY",
    "PartialDepth",
    "CombinedFrame",
)

DEFAULT_BASE_URL = "wss://stream.binance.com:9443"
DEPTH_LEVELS = (5, 10, 20)
UPDATE_SPEEDS = ("100ms", "1000ms")
BIDS_PATH = "data.bids"
ASKS_PATH = "data.asks"
ROUTING_KEY = "stream"
SEQUENCE_KEY = "lastUpdateId"


class PartialDepth(TypedDict):
    lastUpdateId: int
    bids: list[list[str]]
    asks: list[list[str]]


class CombinedFrame(TypedDict):
    stream: str
    data: PartialDepth
