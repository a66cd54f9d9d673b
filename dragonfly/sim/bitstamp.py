"""Bitstamp-compatible WebSocket API v2 server (``order_book_<pair>``).

Answers ``bts:subscribe`` with ``bts:subscription_succeeded`` (or ``bts:error`` for an
unknown channel), ``bts:unsubscribe`` with ``bts:unsubscription_succeeded`` and
``bts:heartbeat`` with a heartbeat; sends ``{"data":{timestamp, microtimestamp, bids,
asks},"channel":..,"event":"data"}`` when the book changes.
:meth:`BitstampSimulator.request_reconnect` sends ``bts:request_reconnect``.
"""

from __future__ import annotations

import json
import time

from .market import SentBook, VenueBookModel, VenueStyle
from .server import Connection, VenueSimulator

__all__ = ("BitstampSimulator",)


def _side(levels: tuple[tuple[str, str], ...]) -> str:
    return "[" + ",".join(f'["{p}","{q}"]' for p, q in levels) + "]"


class BitstampSimulator(VenueSimulator):
    venue = "bitstamp"
    default_style = VenueStyle(
        tick_exp=-6,
        qty_decimals=8,
        text_decimals=8,
        noise=3e-5,
        half_spread_ticks=900,
        gap_ticks=(40, 100, 150, 300),
        levels=100,
        interval_s=0.2,
        poisson=True,
        unchanged_prob=0.1,
    )

    def _channels(self) -> dict[str, str]:
        return {f"order_book_{inst.base}{inst.quote}".lower(): name for name, inst in self.instruments.items()}

    async def on_message(self, conn: Connection, text: str) -> None:
        try:
            msg = json.loads(text)
            event = msg["event"]
        except (ValueError, KeyError, TypeError):
            await self._error(conn, "Bad request.")
            return
        channel = ""
        data = msg.get("data")
        if isinstance(data, dict):
            channel = str(data.get("channel", ""))
        if event == "bts:subscribe":
            name = self._channels().get(channel)
            if name is None:
                await self._error(conn, "Bad subscription string.")
                return
            conn.subs[channel] = name
            await self._send(conn, json.dumps({"event": "bts:subscription_succeeded", "channel": channel, "data": {}}))
        elif event == "bts:unsubscribe":
            conn.subs.pop(channel, None)
            await self._send(conn, json.dumps({"event": "bts:unsubscription_succeeded", "channel": channel, "data": {}}))
        elif event == "bts:heartbeat":
            await self._send(conn, json.dumps({"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}}))
        else:
            await self._error(conn, "Bad request.")

    async def _error(self, conn: Connection, message: str) -> None:
        await self._send(conn, json.dumps({"event": "bts:error", "channel": "", "data": {"code": None, "message": message}}))

    def next_seq(self, current: int, model: VenueBookModel) -> int:
        return max(current + 1, time.time_ns() // 1000)

    def sends_unchanged(self) -> bool:
        return False

    def render(self, key: str, instrument: str, book: SentBook, seq: int, bad: bool = False) -> str:
        bids = book.bids_text
        if bad and bids:
            bids = ((bids[0][0], bids[0][1] + "x"),) + bids[1:]
        return (
            f'{{"data":{{"timestamp":"{seq // 1_000_000}","microtimestamp":"{seq}",'
            f'"bids":{_side(bids)},"asks":{_side(book.asks_text)}}},"channel":"{key}","event":"data"}}'
        )

    async def request_reconnect(self) -> None:
        """Send ``bts:request_reconnect`` to every connection (as before maintenance)."""
        text = json.dumps({"event": "bts:request_reconnect", "channel": "", "data": ""})
        for conn in list(self.connections):
            await self._send(conn, text)

    def parse_recorded(self, payload: str) -> tuple[str, SentBook] | None:
        try:
            msg = json.loads(payload)
            if msg.get("event") != "data":
                return None
            name = self._channels().get(msg["channel"])
            data = msg["data"]
            bids = tuple((str(p), str(q)) for p, q, *_ in data["bids"])
            asks = tuple((str(p), str(q)) for p, q, *_ in data["asks"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return None if name is None else (name, SentBook(bids, asks))
