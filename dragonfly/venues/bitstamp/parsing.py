"""Pure functions for Bitstamp frames and names."""

from __future__ import annotations

import json

from ..routing import int_field, string_field
from ..symbols import Instrument
from .schemas import CHANNEL_PREFIX, EV_DATA, EV_HEARTBEAT, EV_SUBSCRIBE, EV_UNSUBSCRIBE

__all__ = (
    "venue_symbol",
    "channel_name",
    "route",
    "microtimestamp",
    "subscribe_message",
    "unsubscribe_message",
    "heartbeat_message",
)


def venue_symbol(instrument: Instrument) -> str:
    """``ETH-BTC`` -> ``"ethbtc"``."""
    return f"{instrument.base}{instrument.quote}".lower()


def channel_name(symbol: str) -> str:
    return f"{CHANNEL_PREFIX}{symbol.lower()}"


_DATA_TAIL = ',"event":"data"}'
_CHANNEL = '"channel":"'


def route(frame: str | bytes) -> str | None:
    """The channel of a ``"event": "data"`` frame, else None. Bitstamp puts both keys last."""
    if isinstance(frame, str) and frame.endswith(_DATA_TAIL):  # the documented key order, compact
        i = frame.rfind(_CHANNEL, max(0, len(frame) - 128))
        if i >= 0:
            j = i + len(_CHANNEL)
            k = frame.find('"', j)
            if k >= 0 and "\\" not in frame[j:k]:
                return frame[j:k]
    if string_field(frame, "event", from_end=True) != EV_DATA:
        return None
    return string_field(frame, "channel", from_end=True)


_MICROTS = '"microtimestamp":'


def microtimestamp(frame: str | bytes) -> int:
    """``data.microtimestamp`` in microseconds (raises ValueError when absent)."""
    if type(frame) is str:  # fast path: ``"microtimestamp":"123"`` at its first occurrence, as Bitstamp sends it
        i = frame.find(_MICROTS)
        if i >= 0 and frame.startswith('"', i + 17):
            j = i + 18
            k = frame.find('"', j)
            if 0 < k - j <= 20:
                v = frame[j:k]
                if v.isdigit() and v.isascii():
                    return int(v)
    return int_field(frame, "microtimestamp")


def subscribe_message(channel: str) -> str:
    return json.dumps({"event": EV_SUBSCRIBE, "data": {"channel": channel}}, separators=(",", ":"))


def unsubscribe_message(channel: str) -> str:
    return json.dumps({"event": EV_UNSUBSCRIBE, "data": {"channel": channel}}, separators=(",", ":"))


def heartbeat_message() -> str:
    return json.dumps({"event": EV_HEARTBEAT}, separators=(",", ":"))
