"""FIX tag=value codec: parse, encode, stream framing, market-data fast path.

Selects :mod:`dragonfly._core.fix_c` or its twin :mod:`~dragonfly._core.fix_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .fix_py import (
        DEFAULT_MAX_SIZE,
        SOH,
        FixFramer,
        FixMessage,
        MarketData,
        checksum,
        encode_message,
        format_value,
        market_data,
        parse_message,
    )
else:
    _impl = select("fix")
    SOH = _impl.SOH
    DEFAULT_MAX_SIZE = _impl.DEFAULT_MAX_SIZE
    FixFramer = _impl.FixFramer
    FixMessage = _impl.FixMessage
    MarketData = _impl.MarketData
    checksum = _impl.checksum
    encode_message = _impl.encode_message
    format_value = _impl.format_value
    market_data = _impl.market_data
    parse_message = _impl.parse_message

__all__ = (
    "DEFAULT_MAX_SIZE",
    "SOH",
    "FixFramer",
    "FixMessage",
    "MarketData",
    "checksum",
    "encode_message",
    "format_value",
    "market_data",
    "parse_message",
)
