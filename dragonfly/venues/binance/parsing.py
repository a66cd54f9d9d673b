"""Pure functions for Binance frames and names."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..routing import int_field, string_field
from ..symbols import Instrument
from .schemas import ROUTING_KEY, SEQUENCE_KEY

__all__ = ("venue_symbol", "stream_name", "route", "last_update_id", "subscribe_message", "unsubscribe_message")


def venue_symbol(instrument: Instrument) -> str:
    """``ETH-BTC`` -> ``"ethbtc"`` (the stream-name spelling)."""
    return f"{instrument.base}{instrument.quote}".lower()


def stream_name(symbol: str, levels: int = 20, speed: str = "100ms") -> str:
    """``"ethbtc"`` -> ``"ethbtc@depth20@100ms"`` (``@1000ms`` is Binance's default and is omitted)."""
    suffix = "" if speed == "1000ms" else f"@{speed}"
    return f"{symbol.lower()}@depth{levels}{suffix}"


_STREAM_HEAD = '{"stream":"'
_SEQ_NEEDLE = '"lastUpdateId":'


def route(frame: str | bytes) -> str | None:
    """The ``stream`` key of a combined-stream frame (it comes first), or None."""
    if type(frame) is str and frame.startswith(_STREAM_HEAD):  # the compact spelling Binance sends
        k = frame.find('"', 11)
        if k > 11:
            key = frame[11:k]
            if "\\" not in key:
                return key
    return string_field(frame, ROUTING_KEY)


def last_update_id(frame: str | bytes) -> int:
    """``data.lastUpdateId`` (raises ValueError when absent)."""
    if type(frame) is str:  # fast path: ``"lastUpdateId":123,`` at its first occurrence, as Binance sends it
        i = frame.find(_SEQ_NEEDLE)
        if i >= 0:
            j = i + 15
            k = frame.find(",", j)
            if 0 < k - j <= 20:
                v = frame[j:k]
                if v.isdigit() and v.isascii():
                    return int(v)
    return int_field(frame, SEQUENCE_KEY)


def subscribe_message(streams: Iterable[str], request_id: int = 1) -> str:
    return json.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": request_id}, separators=(",", ":"))


def unsubscribe_message(streams: Iterable[str], request_id: int = 1) -> str:
    return json.dumps({"method": "UNSUBSCRIBE", "params": list(streams), "id": request_id}, separators=(",", ":"))
