"""How the simulator speaks Deribit's ``book.<instrument>.<interval>`` (see :mod:`dragonfly.sim.encoder`).

JSON-RPC requests ``public/subscribe``/``public/unsubscribe`` (``params.channels``) are answered
with the list of channels done (a channel the simulator does not serve is left out, as Deribit
does), ``public/set_heartbeat`` with ``"ok"``, ``public/test`` with a version; anything else with a
JSON-RPC error. Book notifications: a ``snapshot`` after subscribing, then ``change``s whose
``change_id`` jumps by 1-200 and whose ``prev_change_id`` is the previous one; heartbeats are
``{"method": "heartbeat", "params": {"type": "heartbeat"}}``.

Every level of a change carries Deribit's action, ``new`` or ``change`` (by whether the book has
the level) or ``delete``; a delete of a level the book lacks is left out (Deribit sends none). The
engine hands the encoder only the changed levels, so the encoder follows each book from the
snapshots it writes and the changes that chain onto them (``prev_change_id`` equal to the last
``change_id``). A change re-based on the state before the last one replaces it (a frame the venue
never applied, e.g. a malformed one); a change that does not chain (a lost or reordered one) is
labelled against the book as the encoder knows it, which the feed, seeing the gap, never applies:
it re-subscribes, and the snapshot puts the encoder back on the true book.
"""

from __future__ import annotations

import json
import random
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, compact_json
from .adapter import instrument_name
from .config import DeribitConfig

__all__ = ("SIM_VARIANTS", "DeribitEncoder")

#: Other setups the shared venue tests run: the ``raw`` channel.
SIM_VARIANTS = {"raw": DeribitConfig(interval="raw")}

_VERSION = "1.2.26-sim"


def _side(entries: Any) -> str:
    """``[[action, price, amount], ...]`` with the numbers written as they are (JSON numbers)."""
    return "[" + ",".join(f'["{a}",{p},{q}]' for a, p, q in entries) + "]"


class _Book:
    """The levels (prices) of one true book as its notifications so far describe it."""

    __slots__ = ("asks", "bids", "last", "saved")

    def __init__(self, last: int, bids: set[float], asks: set[float]) -> None:
        self.last = last
        self.bids = bids
        self.asks = asks
        self.saved: tuple[int, set[float], set[float]] | None = None  # the state before the last change


class DeribitEncoder(DiffEncoderBase):
    """Deribit ``book.<instrument>.<interval>``; the symbol is Deribit's instrument name (Deribit
    has no reconnect request)."""

    def __init__(self, config: DeribitConfig) -> None:
        super().__init__(config, depth=config.max_depth)
        self._suffix = f".{config.interval}"
        self._books: dict[str, _Book] = {}

    def symbol(self, instrument: Instrument) -> str:
        return instrument_name(instrument)

    def _channel(self, symbol: str) -> str:
        return f"book.{symbol}{self._suffix}"

    # -- requests ---------------------------------------------------------------------------------

    @staticmethod
    def _error(rid: Any, code: int, message: str) -> str:
        return compact_json({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
        except ValueError:
            return [self._error(None, -32700, "Parse error")]
        if not isinstance(msg, dict):
            return [self._error(None, -32600, "Invalid Request")]
        rid = msg.get("id")
        method = msg.get("method")
        params = msg.get("params")
        if not isinstance(params, dict):
            params = {}
        if method == "public/set_heartbeat":
            return [compact_json({"jsonrpc": "2.0", "id": rid, "result": "ok"})]
        if method == "public/test":
            return [compact_json({"jsonrpc": "2.0", "id": rid, "result": {"version": _VERSION}})]
        if method not in ("public/subscribe", "public/unsubscribe"):
            return [self._error(rid, -32601, "Method not found")]
        channels = params.get("channels")
        if not isinstance(channels, list):
            return [self._error(rid, -32602, "Invalid params")]
        done = []
        for channel in channels:
            channel = str(channel)
            if not (channel.startswith("book.") and channel.endswith(self._suffix)):
                continue
            symbol = channel[5 : -len(self._suffix)]
            if conn.subscribe(symbol) if method == "public/subscribe" else conn.unsubscribe(symbol):
                done.append(channel)
        return [compact_json({"jsonrpc": "2.0", "id": rid, "result": done})]

    def heartbeat(self) -> str | None:
        return compact_json({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"}})

    # -- book notifications -----------------------------------------------------------------------

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        return [f"{price:.{decimals}f}", repr(float(qty))]

    def id_step(self, rng: random.Random) -> int:
        return rng.randint(1, 200)  # change ids are shared with other books: they jump

    def _notification(
        self, kind: str, symbol: str, ts_ms: int, change_id: int, prev: int | None, bids: Any, asks: Any
    ) -> str:
        prev_text = "" if prev is None else f',"prev_change_id":{prev}'
        return (
            f'{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":{json.dumps(self._channel(symbol))},'
            f'"data":{{"type":"{kind}","timestamp":{ts_ms}{prev_text},"instrument_name":{json.dumps(symbol)},'
            f'"change_id":{change_id},"bids":{_side(bids)},"asks":{_side(asks)}}}}}}}'
        )

    def delta_frame(self, u: Any) -> str:
        book = self._books.get(u.symbol)
        chained = False
        if book is not None:
            if u.prev == book.last:
                chained = True
            elif book.saved is not None and u.prev == book.saved[0]:
                book.last, book.bids, book.asks = book.saved  # the last change was never applied: replace it
                chained = True
        bids = set(book.bids) if book is not None else set()
        asks = set(book.asks) if book is not None else set()
        numeric = True
        sides: list[list[tuple[str, str, str]]] = []
        for levels, present in ((u.bids, bids), (u.asks, asks)):
            out: list[tuple[str, str, str]] = []
            for p, q in levels:
                try:
                    price, qty = float(p), float(q)
                except ValueError:  # a malformed level (a fault the engine injects): written as it is
                    numeric = False
                    out.append(("change", p, q))
                    continue
                if qty == 0.0:
                    if price in present:
                        present.discard(price)
                        out.append(("delete", p, q))
                    continue
                out.append(("change" if price in present else "new", p, q))
                present.add(price)
            sides.append(out)
        if book is not None and chained and numeric:
            book.saved = (book.last, book.bids, book.asks)
            book.last, book.bids, book.asks = u.last, bids, asks
        return self._notification("change", u.symbol, u.ts_ms, u.last, u.prev, sides[0], sides[1])

    def snapshot_frame(self, book: Any) -> str:
        self._books[book.symbol] = _Book(book.last, {float(p) for p, _ in book.bids}, {float(p) for p, _ in book.asks})
        bids = [("new", p, q) for p, q in book.bids]
        asks = [("new", p, q) for p, q in book.asks]
        return self._notification("snapshot", book.symbol, book.ts_ms, book.last, None, bids, asks)
