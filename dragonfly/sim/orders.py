"""Order entry of a simulator: orders in (the venue's own protocol, or the generic one), fills out
against the simulator's book, which moves.

An :class:`OrderDesk` belongs to one simulator. It answers HTTP requests on the simulator's port in
the venue's order-entry protocol (its :class:`~dragonfly.venues.base.VenueSpec` ``orders``, with
its signature checked against :attr:`OrderDesk.accounts`) and in the generic JSON protocol every
simulator speaks (:class:`~dragonfly.clients.orders.SimOrderProtocol`). A new order is matched at
once against the simulator's current book by ``execute`` (the engine's: the diff engine's true book,
the top-N engine's last book sent), immediate-or-cancel: what it fills comes off the book, which
the engine then publishes like any other change, so the world view moves; the rest expires.

Every fill is kept in :attr:`OrderDesk.booked` (what the venue booked), so a test can compare what an
execution engine reports with what the venues did. Faults: :meth:`OrderDesk.reject_next` (the venue
refuses), :meth:`OrderDesk.lose_answers` (the order executes but the answer never comes: the client
times out and must query), :meth:`OrderDesk.hang_next` (the request is never processed and never
answered).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from ..clients.orders import Fill, OrderResult, SimOrderCall, SimOrderProtocol
from ..instruments import instrument_key

__all__ = ("DEFAULT_ACCOUNTS", "Booked", "OrderDesk", "match_levels")

log = logging.getLogger(__name__)

#: API key -> secret the simulators accept unless told otherwise.
DEFAULT_ACCOUNTS: Mapping[str, str] = {"sim-key": "sim-secret"}

#: ``execute(instrument, side, qty, limit) -> [(price, qty), ...]``: take liquidity off the book.
Execute = Callable[[str, str, float, "float | None"], Awaitable[list[tuple[float, float]]]]


@dataclass(frozen=True, slots=True)
class Booked:
    """One fill a simulator booked."""

    client_id: str
    instrument: str
    side: str
    price: float
    qty: float


def match_levels(levels: Sequence[tuple[float, float]], side: str, qty: float,
                 limit: float | None) -> tuple[list[tuple[float, float]], list[tuple[int, float]]]:
    """Match an immediate-or-cancel order against the opposite side's ``levels`` (best first).

    Returns the fills ``[(price, qty)]`` and the levels changed ``[(index, new qty)]`` (0: gone).
    A buy takes asks up to ``limit``, a sell bids down to it (None: no limit).
    """
    fills: list[tuple[float, float]] = []
    changed: list[tuple[int, float]] = []
    left = qty
    for i, (price, avail) in enumerate(levels):
        if left <= 1e-12:
            break
        if limit is not None and (price > limit if side == "buy" else price < limit):
            break
        take = min(avail, left)
        if take <= 0:
            continue
        take = round(take, 12)
        fills.append((price, take))
        rest = round(avail - take, 12)
        changed.append((i, rest if rest > 1e-12 else 0.0))
        left = round(left - take, 12)
    return fills, changed


class OrderDesk:
    """The order entry of one simulator (see the module notes).

    Parameters
    ----------
    venue : str
        Label (logs, order ids).
    instruments : sequence of str
        Instrument names it trades (orders name them in any spelling the venue uses).
    execute : Execute
        Takes liquidity off the simulator's book and publishes the change.
    protocol : object, optional
        The venue's order adapter (its ``sim_parse``/``sim_render``); the generic protocol is always spoken.
    accounts : Mapping[str, str]
        API key -> secret accepted by the venue's protocol.
    """

    def __init__(self, *, venue: str, instruments: Sequence[str], execute: Execute, protocol: Any = None,
                 accounts: Mapping[str, str] | None = None) -> None:
        self.venue = venue
        self._by_key = {instrument_key(i): i for i in instruments}
        self._execute = execute
        self.protocols: list[Any] = [p for p in (protocol, SimOrderProtocol()) if p is not None]
        self.accounts = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        self.booked: list[Booked] = []
        self.orders: dict[str, tuple[SimOrderCall, OrderResult]] = {}  # client id -> the order and its outcome
        self._by_venue_id: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._trades = itertools.count(1)
        self.requests = 0
        self._reject: list[str] = []
        self._lose = 0
        self._hang = 0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._released = asyncio.Event()

    def release(self) -> None:
        """Let held requests (:meth:`lose_answers`, :meth:`hang_next`) finish: the simulator is stopping."""
        self._released.set()

    # -- faults -----------------------------------------------------------------------------------
    def reject_next(self, n: int = 1, reason: str = "-2010 Account has insufficient balance") -> None:
        """Refuse the next ``n`` new orders with ``reason``."""
        self._reject += [reason] * n

    def lose_answers(self, n: int = 1) -> None:
        """Execute the next ``n`` new orders but never answer them (the client times out)."""
        self._lose += n

    def hang_next(self, n: int = 1) -> None:
        """Never process nor answer the next ``n`` new orders."""
        self._hang += n

    def booked_qty(self, instrument: str | None = None) -> float:
        """Total quantity booked (for ``instrument``, any spelling)."""
        key = None if instrument is None else instrument_key(instrument)
        return math.fsum(b.qty for b in self.booked if key is None or instrument_key(b.instrument) == key)

    async def wait_requests(self, n: int, timeout: float = 10.0) -> None:
        """Return once ``n`` order requests have arrived in all."""

        async def _wait() -> None:
            while self.requests < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), timeout)

    # -- HTTP -------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse | None:
        """Answer ``request`` when it is an order-entry request of a protocol spoken here, else None."""
        body = await request.read()
        headers = dict(request.headers.items())
        for proto in self.protocols:
            parsed = proto.sim_parse(request.method, request.path, request.query_string, headers, body,
                                     self.accounts.get)
            if parsed is None:
                continue
            self.requests += 1
            self._changed.set()
            if not isinstance(parsed, SimOrderCall):
                status, text, extra = parsed
                return web.Response(status=status, text=text, headers=extra)
            return await self._answer(proto, parsed)
        return None

    async def _answer(self, proto: Any, call: SimOrderCall) -> web.StreamResponse:
        if call.kind == "new" and self._hang > 0:
            self._hang -= 1
            await self._released.wait()  # not processed; answered only when the simulator stops
            return web.Response(status=503, text="simulator stopping")
        async with self._lock:  # one order at a time, as a matching engine does
            if call.kind == "new":
                result = await self._new(call)
                stored = call
            else:
                cid = call.client_id or self._by_venue_id.get(call.venue_order_id, "")
                found = self.orders.get(cid)
                if found is None:
                    result = OrderResult(client_id=cid, status="rejected", reason="unknown order", unknown_order=True)
                    stored = call
                else:
                    stored, result = replace(found[0], kind=call.kind), found[1]
                    if call.kind == "cancel":  # immediate-or-cancel orders are done: nothing rests to cancel
                        result = OrderResult(client_id=cid, status="rejected", reason="unknown order",
                                             unknown_order=True)
        if call.kind == "new" and self._lose > 0:
            self._lose -= 1
            await self._released.wait()
        status, text, extra = proto.sim_render(stored, result)
        return web.Response(status=status, text=text, headers=extra)

    async def _new(self, call: SimOrderCall) -> OrderResult:
        if call.client_id and call.client_id in self.orders:
            return OrderResult(client_id=call.client_id, status="rejected", reason="-2010 Duplicate order sent.")
        inst = self._by_key.get(instrument_key(call.symbol)) if call.symbol else None
        if inst is None:
            return OrderResult(client_id=call.client_id, status="rejected", reason="-1121 Invalid symbol.")
        if self._reject:
            return OrderResult(client_id=call.client_id, status="rejected", reason=self._reject.pop(0))
        vid = str(next(self._ids))
        matched = await self._execute(inst, call.side, call.qty, call.price)
        fills = []
        for price, qty in matched:
            tid = str(next(self._trades))
            fills.append(Fill(price, qty, 0.0, tid))
            self.booked.append(Booked(call.client_id, inst, call.side, price, qty))
        filled = math.fsum(q for _, q in matched)
        status = "filled" if filled >= call.qty - 1e-12 else "expired"
        result = OrderResult(client_id=call.client_id, venue_order_id=vid, status=status, fills=tuple(fills))
        self.orders[call.client_id] = (call, result)
        self._by_venue_id[vid] = call.client_id
        log.debug("%s: order %s %s %g %s: filled %g", self.venue, call.client_id, call.side, call.qty, inst, filled)
        return result
