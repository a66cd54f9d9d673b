"""Instrument naming, for every layer: one normalised name (``ETH-BTC``); venues keep their own spelling.

``"ethbtc"``, ``"ETHBTC"``, ``"ETH-BTC"``, ``"eth_btc"``, ``"eth/btc"`` all mean
``Instrument(base="ETH", quote="BTC")`` whose :attr:`~Instrument.name` is
``"ETH-BTC"``. Names without a separator are split on the longest known quote
currency suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ("Instrument", "instrument_key", "normalize_instrument", "parse_instrument", "QUOTE_CURRENCIES")

#: Quote currencies recognised at the end of a name without separator, longest first.
QUOTE_CURRENCIES: tuple[str, ...] = tuple(
    sorted(
        {
            "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "DAI", "PYUSD", "EURT", "EURC",
            "BTC", "XBT", "ETH", "BNB", "SOL", "TRX", "XRP", "DOGE",
            "USD", "EUR", "GBP", "JPY", "TRY", "BRL", "AUD", "CAD", "CHF", "ZAR", "UAH", "PLN", "RUB",
        },
        key=lambda q: (-len(q), q),
    )
)

_SEP = re.compile(r"[-_/:.]")
_ALNUM = re.compile(r"^[A-Z0-9]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """A spot pair.

    Attributes
    ----------
    base, quote : str
        Upper-case currency codes.
    """

    base: str
    quote: str

    @property
    def name(self) -> str:
        """Normalised name, e.g. ``"ETH-BTC"``."""
        return f"{self.base}-{self.quote}"

    def __str__(self) -> str:
        return self.name


def parse_instrument(text: str) -> Instrument:
    """Parse any accepted spelling into an :class:`Instrument`.

    Raises
    ------
    ConfigError
        If ``text`` is not a recognisable pair.
    """
    if not isinstance(text, str):
        raise TypeError(f"instrument must be a str, got {type(text).__name__}")
    s = text.strip().upper()
    parts = [p for p in _SEP.split(s) if p]
    if len(parts) == 2:
        base, quote = parts
    elif len(parts) == 1:
        base = quote = ""
        for q in QUOTE_CURRENCIES:
            if s.endswith(q) and len(s) > len(q):
                base, quote = s[: -len(q)], q
                break
        if not quote:
            raise ConfigError(f"cannot split instrument {text!r} into base and quote; write it as BASE-QUOTE")
    else:
        raise ConfigError(f"invalid instrument {text!r}; expected e.g. 'ETH-BTC' or 'ethbtc'")
    if not (_ALNUM.match(base) and _ALNUM.match(quote)) or base == quote:
        raise ConfigError(f"invalid instrument {text!r}")
    return Instrument(base=base, quote=quote)


def normalize_instrument(text: str) -> str:
    """``"ethbtc"`` / ``"ETH_BTC"`` / ... -> ``"ETH-BTC"``."""
    return parse_instrument(text).name


def instrument_key(text: str) -> str:
    """A lookup key that ignores how a name is spelt: its letters and digits, upper case
    (``"eth/btc"``, ``"ETH-BTC"`` and ``"ethbtc"`` -> ``"ETHBTC"``); it never raises."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
