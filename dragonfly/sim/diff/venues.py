"""A diff-stream venue behind the :class:`dragonfly.sim.SimulatedVenues` interface.

A :class:`SimulatedDiffVenue` runs one :class:`~.server.DiffSim` for one registry venue whose
encoder serves a diff feed, so that it can be picked in ``PipelineConfig(venues=...,
simulate=True)`` beside the snapshot and FIX venues: it is built as ``cls(encoder, venue=...,
instruments=..., seed=..., mids=..., interval_s=..., replay=..., speed=..., **options)``,
steps its market on a timer once started, and exposes ``base_url`` (the WebSocket URL; the
REST snapshot endpoint is on the same port), ``last_sent``, ``history`` and the fault surface
SimulatedVenues delegates to.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from ..._lifecycle import StartStop
from ...errors import ConfigError
from ...instruments import parse_instrument
from ..encoder import encoder_label
from ..market import MidPrice, SentBook, served_instruments, shared_mids, stable_seed
from ..orders import OrderDesk
from .server import DEFAULT_LEVELS, DiffSim, DiffSimConfig

__all__ = ("DEFAULT_INTERVAL_S", "SimulatedDiffVenue")

#: Default time between steps of the synthetic market.
DEFAULT_INTERVAL_S = 0.1


def _sent(bids: Any, asks: Any) -> SentBook:
    return SentBook(tuple((repr(p), repr(q)) for p, q in bids), tuple((repr(p), repr(q)) for p, q in asks))


class SimulatedDiffVenue(StartStop):
    """One :class:`DiffSim` speaking ``encoder`` for one registry venue.

    Parameters
    ----------
    encoder : DiffEncoder
    venue : str, optional
        Label (logs, seeds); default the encoder's venue folder name.
    instruments : sequence of str
        Any accepted spelling; served under the venue's own symbols (``encoder.symbol``).
    seed : int
    mids : dict[str, MidPrice], optional
        Shared mid-price processes: each book is centred on its instrument's starting mid,
        on a tick about five significant digits below it (created, and shared, when absent).
    interval_s : float, optional
        Time between market steps (default 0.1 s).
    replay : None
        Recordings go through :class:`~.replay.ReplaySim`, not here (a ConfigError if given).
    speed : float or None
        Ignored.
    order_protocol : object, optional
        The venue's order adapter, spoken by the order entry on the simulator's port beside the
        generic protocol (:class:`~dragonfly.sim.orders.OrderDesk`, :attr:`orders`).
    order_accounts : Mapping[str, str], optional
        API key -> secret its order entry accepts (default :data:`~dragonfly.sim.orders.DEFAULT_ACCOUNTS`).
    **options
        Other :class:`DiffSimConfig` fields (``levels``, ``history``...).
    """

    def __init__(
        self,
        encoder: Any,
        *,
        venue: str | None = None,
        instruments: Sequence[str],
        seed: int = 1,
        mids: dict[str, MidPrice] | None = None,
        interval_s: float | None = None,
        replay: Any = None,
        speed: float | None = 1.0,
        order_protocol: Any = None,
        order_accounts: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        self.encoder = encoder
        self.venue = venue or encoder_label(encoder)
        if replay is not None:
            raise ConfigError(f"{self.venue}: the diff simulator does not replay recordings here")
        if interval_s is not None and not interval_s > 0:
            raise ConfigError("interval_s must be > 0")
        self.interval_s = DEFAULT_INTERVAL_S if interval_s is None else float(interval_s)
        insts = served_instruments(instruments).values()
        mids = shared_mids(insts, mids, seed)
        #: instrument name -> the venue's symbol
        self.symbols: dict[str, str] = {}
        prices: dict[str, float] = {}
        lowest = math.inf
        for inst in insts:
            sym = encoder.symbol(inst)
            self.symbols[inst.name] = sym
            prices[sym] = float(mids[inst.name].at(0))
            lowest = min(lowest, prices[sym])
        decimals = max(2, 4 - math.floor(math.log10(lowest)))
        if decimals > 8:
            raise ConfigError(f"{self.venue}: mid {lowest!r} is too small for the simulator")
        # the true books stay within what the venue's book carries (which may be under the default)
        levels = min(DEFAULT_LEVELS, int(encoder.depth))
        kwargs: dict[str, Any] = {"seed": stable_seed(seed, self.venue), "mids": prices, "decimals": decimals,
                                  "levels": levels}
        kwargs.update(options)
        try:
            cfg = DiffSimConfig(symbols=tuple(self.symbols.values()), **kwargs)
            self.diff = DiffSim(encoder, cfg)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.venue} simulator: {exc}") from exc
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._paused = False
        #: Order entry: orders fill against the true books, whose changes go out as deltas.
        self.orders = OrderDesk(venue=self.venue, instruments=list(self.symbols), execute=self._execute,
                                protocol=order_protocol, accounts=order_accounts)
        self.diff.orders = self.orders

    async def _execute(self, instrument: str, side: str, qty: float, limit: float | None) -> list[tuple[float, float]]:
        return await self.diff.execute(self.symbols[instrument], side, qty, limit)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        await self.diff.start()
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sim:{self.venue}")

    async def _run(self) -> None:
        while not self._stop.is_set():
            if not self._paused:
                await self.diff.step()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stop.set()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.diff.close()

    # -- access ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The WebSocket URL (the REST snapshot endpoint is ``http://`` on the same port)."""
        return self.diff.ws_url

    @property
    def order_url(self) -> str:
        """Base URL of its order entry (HTTP, same port)."""
        return self.diff.rest_url

    @property
    def last_sent(self) -> dict[str, SentBook]:
        """Instrument name -> the venue's current true book (what its deltas add up to)."""
        out: dict[str, SentBook] = {}
        for name, sym in self.symbols.items():
            bids, asks = self.diff.symbols[sym].book.top_text(1 << 20)
            out[name] = SentBook(
                tuple((p.decode(), q.decode()) for p, q in bids), tuple((p.decode(), q.decode()) for p, q in asks)
            )
        return out

    @property
    def history(self) -> dict[str, deque[SentBook]]:
        """Instrument name -> the recent true books, oldest first (``history`` states are kept)."""
        return {
            name: deque((_sent(b, a) for _, _, b, a, _ in self.diff.history(sym)), maxlen=self.diff.config.history)
            for name, sym in self.symbols.items()
        }

    def _symbols_of(self, instrument: str | None) -> list[str]:
        if instrument is None:
            return list(self.symbols.values())
        return [self.symbols[parse_instrument(instrument).name]]

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        await self.diff.wait_for(lambda: all(self.diff.subscribed(s) for s in self.symbols.values()), timeout)

    # -- faults ---------------------------------------------------------------------------------
    def pause(self) -> None:
        self._paused = True

    stall = pause

    def resume(self) -> None:
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    async def step(self, instrument: str | None = None) -> None:
        """Send one delta now (every instrument, or ``instrument``), even while paused."""
        syms = None if instrument is None else self._symbols_of(instrument)
        await self.diff.step(1, syms)

    async def disconnect(self, *, refuse: bool = False, abrupt: bool = False) -> int:
        return await self.diff.disconnect(refuse=refuse, abrupt=abrupt)

    def accept(self) -> None:
        self.diff.accept()

    async def send_malformed(self, instrument: str | None = None, *, kind: str = "bad_number") -> None:
        for sym in self._symbols_of(instrument):
            await self.diff.send_malformed(sym, kind=kind)

    async def send_out_of_order(self, instrument: str | None = None) -> int:
        sent = 0
        for sym in self._symbols_of(instrument):
            sent += await self.diff.send_out_of_order(sym)
        return sent

    async def request_reconnect(self) -> int:
        return await self.diff.request_reconnect()

    async def send_heartbeat(self) -> int:
        return await self.diff.send_heartbeat()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.venue} {self.base_url} instruments={list(self.symbols)}>"
