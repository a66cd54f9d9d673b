"""Bitfinex WebSocket v2 ``book`` channel: configuration (frozen, keyword-only), and trading symbols."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ...errors import ConfigError
from ...instruments import Instrument
from ..base import check_url

__all__ = ("CURRENCY_CODES", "LENGTHS", "OB_CHECKSUM", "SEQ_ALL", "BitfinexConfig", "trading_symbol")

DEFAULT_WS_URL = "wss://api-pub.bitfinex.com/ws/2"
_CODE = re.compile(r"[A-Z0-9]+")
#: Book lengths (price points per side) with a checksum: it covers the top 25, so 25 at least
#: (Bitfinex also serves 1, which a checksum cannot cover).
LENGTHS = (25, 100, 250)
#: ``conf`` flag: every array message ends with the connection's next sequence number.
SEQ_ALL = 65536
#: ``conf`` flag: a ``[chanId, "cs", checksum]`` message after every book iteration.
OB_CHECKSUM = 131072
#: Currencies whose Bitfinex API code differs from the common one (the code in symbols:
#: ``BTC-USDT`` is ``tBTCUST``). ``BitfinexConfig.currencies`` adds more.
CURRENCY_CODES: Mapping[str, str] = MappingProxyType(
    {"USDT": "UST", "USDC": "UDC", "TUSD": "TSD", "DASH": "DSH", "IOTA": "IOT", "QTUM": "QTM", "MANA": "MNA"}
)


def _code(currency: str, extra: tuple[tuple[str, str], ...]) -> str:
    for common, code in extra:
        if common == currency:
            return code
    return CURRENCY_CODES.get(currency, currency)


def trading_symbol(instrument: Instrument, currencies: tuple[tuple[str, str], ...] = ()) -> str:
    """Bitfinex's trading symbol of ``instrument``: ``t`` + base + quote in Bitfinex currency codes
    (``ETH-BTC`` -> ``tETHBTC``, ``BTC-USDT`` -> ``tBTCUST``); a pair with a code longer than three
    letters joins them with a colon (``DOGE-USD`` -> ``tDOGE:USD``, ``TESTBTC-TESTUSD`` ->
    ``tTESTBTC:TESTUSD``). ``currencies``: extra ``(common, bitfinex)`` codes, first."""
    base, quote = _code(instrument.base, currencies), _code(instrument.quote, currencies)
    if len(base) > 3 or len(quote) > 3:
        return f"t{base}:{quote}"
    return f"t{base}{quote}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BitfinexConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL (public channels: ``wss://api-pub.bitfinex.com/ws/2``).
    length : int
        Price points per side subscribed (``len``): 25, 100 or 250; also the book's cap.
    checksum : bool
        Ask for checksums (``conf`` flag OB_CHECKSUM): the changes of a book are held until the
        ``cs`` message that follows them and applied with it, so no unverified book is published.
        False: each change applies as it comes (as the live capture was recorded).
    currencies : Mapping[str, str]
        Extra currency codes, common -> Bitfinex (``{"ETH2": "ETH2X"}``), over :data:`CURRENCY_CODES`.
        Stored as sorted ``(common, bitfinex)`` pairs.
    """

    base_url: str = DEFAULT_WS_URL
    length: int = 25
    checksum: bool = True
    currencies: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.length not in LENGTHS:
            raise ConfigError(f"length must be one of {LENGTHS}, got {self.length!r}")
        if not isinstance(self.checksum, bool):
            raise ConfigError(f"checksum must be a bool, got {self.checksum!r}")
        pairs = self.currencies.items() if isinstance(self.currencies, Mapping) else self.currencies
        try:
            codes = tuple(sorted((str(k).upper(), str(v).upper()) for k, v in pairs))
        except (TypeError, ValueError):
            raise ConfigError("currencies must map currency codes to Bitfinex codes") from None
        for common, code in codes:
            if not (_CODE.fullmatch(common) and _CODE.fullmatch(code)):
                raise ConfigError(f"invalid currency code {common!r} -> {code!r}")
        object.__setattr__(self, "currencies", codes)
        check_url(self.base_url, ("ws", "wss"))
