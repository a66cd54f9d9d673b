"""How the simulator speaks Bitfinex's WebSocket v2 ``book`` channel (see :mod:`dragonfly.sim.encoder`).

``{"event": "conf", "flags": N}`` is answered ``{"event": "conf", "status": "OK", "flags": N}``;
``{"event": "subscribe", "channel": "book", "symbol": "tETHBTC", ...}`` with ``subscribed`` and
a channel id (a stable number per symbol), then the snapshot ``[chanId, [[price, count, amount],
...]]``, bids then asks (asks' amounts negative); an unknown symbol with ``{"event": "error",
"code": 10300, ...}`` echoing the request, a second subscribe of the same book with 10301;
``{"event": "unsubscribe", "chanId": N}`` with ``unsubscribed``. A delta is one message per
level (``[chanId, [price, count, amount]]``, count 0 and amount +-1 for a delete) followed, when
checksums are configured, by ``[chanId, "cs", checksum]`` of the true book's top 25: so
:meth:`BitfinexEncoder.delta_frame` returns several frames. Every array message ends with the
connection's sequence number, from 1 (:meth:`BitfinexEncoder.stamp`). Numbers are written as
JavaScript writes them (shortest round-trip digits: ``7254.5``, ``0.0000081``, ``4.9e-7``).
The info ``20051`` is the reconnect request. Bitfinex heartbeats are per channel
(``[chanId, "hb"]``), so there is no connection-wide heartbeat frame.
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, compact_json, json_object
from .config import BitfinexConfig, trading_symbol

__all__ = ("SIM_VARIANTS", "BitfinexEncoder", "js_number")

#: Other setups the shared venue tests run: the longest book.
SIM_VARIANTS = {"len100": BitfinexConfig(length=100)}

def js_number(x: float) -> str:
    """``x`` as JavaScript's ``Number.prototype.toString`` writes it (how Bitfinex's JSON does):
    the shortest digits that read back as ``x``; plain notation from 1e-6 up to 1e21, else
    ``d.ddde-7``."""
    if x == 0:
        return "0"
    sign, digits, exp = Decimal(repr(float(x))).normalize().as_tuple()
    assert isinstance(exp, int)
    ds = "".join(map(str, digits))
    k = len(ds)
    n = k + exp  # x = 0.ds * 10**n
    if k <= n <= 21:
        text = ds + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{ds[:n]}.{ds[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + ds
    else:
        e = n - 1
        text = (f"{ds[0]}.{ds[1:]}" if k > 1 else ds) + f"e{'+' if e > 0 else '-'}{abs(e)}"
    return ("-" if sign else "") + text


class BitfinexEncoder(DiffEncoderBase):
    """Bitfinex ``book`` P0, with or without checksums as the configuration says. Heartbeats are
    per channel only (``[chanId, "hb"]``): no connection-wide heartbeat frame."""

    connection_sequence = True

    def __init__(self, config: BitfinexConfig) -> None:
        super().__init__(config, depth=config.length)
        self.checksum = "crc32_top25_signed_amounts" if config.checksum else None

    def symbol(self, instrument: Instrument) -> str:
        return trading_symbol(instrument, self.config.currencies)

    @staticmethod
    def channel_id(symbol: str) -> int:
        """The channel id the simulator gives ``symbol``'s book (stable, six digits like the venue's)."""
        return 100_000 + zlib.crc32(symbol.encode()) % 900_000

    # -- requests -------------------------------------------------------------------------------

    def client_message(self, text: str, conn: Any) -> list[str]:
        msg = json_object(text)
        if msg is None:
            return [compact_json({"event": "error", "msg": "invalid request", "code": 10000})]
        event = msg.get("event")
        if event == "conf":
            return [compact_json({"event": "conf", "status": "OK", "flags": msg.get("flags", 0)})]
        if event == "ping":
            return [compact_json({"event": "pong", "ts": 0, "cid": msg.get("cid")})]
        if event == "subscribe":
            return [self._subscribe(msg, conn)]
        if event == "unsubscribe":
            chan = msg.get("chanId")
            subscribed: list[str] = conn.keys()
            for symbol in subscribed:
                if self.channel_id(symbol) == chan:
                    conn.unsubscribe(symbol)
                    return [compact_json({"event": "unsubscribed", "status": "OK", "chanId": chan})]
            return [compact_json({"event": "error", "msg": "unsubscribe: invalid", "code": 10400, "chanId": chan})]
        return [compact_json({"event": "error", "msg": "unknown event", "code": 10000})]

    def _subscribe(self, msg: dict[str, Any], conn: Any) -> str:
        symbol = str(msg.get("symbol", ""))
        if msg.get("channel") != "book":
            return compact_json({**msg, "event": "error", "msg": "channel: unknown", "code": 10302})
        subscribed: list[str] = conn.keys()
        if symbol in subscribed:
            return compact_json({**msg, "event": "error", "msg": "subscribe: dup", "code": 10301})
        if not conn.subscribe(symbol):
            return compact_json({**msg, "event": "error", "msg": "symbol: invalid", "code": 10300})
        return compact_json({"event": "subscribed", "channel": "book", "chanId": self.channel_id(symbol),
                             "symbol": symbol, "prec": msg.get("prec", "P0"), "freq": msg.get("freq", "F0"),
                             "len": str(msg.get("len", self.config.length)), "pair": symbol[1:]})

    def reconnect_request(self) -> str | None:
        return compact_json({"event": "info", "code": 20051, "msg": "Stopping. Please try to reconnect"})

    # -- the diff engine ------------------------------------------------------------------------

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        return [js_number(price), js_number(qty)]

    def delta_frame(self, u: Any) -> list[str]:
        """One message per level, then the checksum message (when configured)."""
        chan = self.channel_id(u.symbol)
        frames = [_level_frame(chan, p, q, bid=True) for p, q in u.bids]
        frames += [_level_frame(chan, p, q, bid=False) for p, q in u.asks]
        if self.checksum is not None and u.checksum is not None:
            frames.append(f'[{chan},"cs",{u.checksum}]')
        return frames

    def snapshot_frame(self, book: Any) -> str:
        entries = [f"[{p},1,{q}]" for p, q in book.bids] + [f"[{p},1,-{q}]" for p, q in book.asks]
        return f"[{self.channel_id(book.symbol)},[{','.join(entries)}]]"

    def stamp(self, frame: str, seq: int) -> str | None:
        """Array messages end with the connection's sequence number (from 1); events carry none."""
        if not frame.startswith("["):
            return None
        return f"{frame[:-1]},{seq + 1}]"


def _level_frame(chan: int, price: str, qty: str, *, bid: bool) -> str:
    if set(qty) <= {"0", "."}:  # a delete
        return f"[{chan},[{price},0,{1 if bid else -1}]]"
    return f"[{chan},[{price},1,{qty if bid else '-' + qty}]]"
