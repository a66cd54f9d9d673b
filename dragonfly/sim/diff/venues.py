"""Diff-stream simulators behind the :class:`dragonfly.sim.SimulatedVenues` interface.

A :class:`SimulatedDiffVenue` wraps one :class:`~.server.DiffSim` so that a registry
diff venue (``"kraken"``, ``"okx"``, ``"binance-diff"``...) can be picked in
``PipelineConfig(venues=..., simulate=True)`` beside the snapshot and FIX venues:
it is built as ``cls(instruments=..., seed=..., mids=..., interval_s=..., replay=...,
speed=..., **options)``, steps its market on a timer once started, and exposes
``base_url`` (the WebSocket URL; the REST snapshot endpoint is on the same port),
``last_sent`` and the fault surface SimulatedVenues delegates to.

>>> async with SimulatedVenues(venues=("kraken", "binance-diff"), instrument="ETH-BTC") as sim:  # doctest: +SKIP
...     sim["kraken"].diff.truth_top("ETH/XBT", 10)
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from typing import Any

from ...errors import ConfigError
from ...instruments import Instrument, parse_instrument
from ..market import MidPrice, SentBook, default_mid, stable_seed
from .server import DiffSim, DiffSimConfig

__all__ = (
    "SIMULATORS",
    "BinanceDiffSimulator",
    "BitstampDiffSimulator",
    "BybitSimulator",
    "CoinbaseSimulator",
    "KrakenSimulator",
    "OkxSimulator",
    "SimulatedDiffVenue",
)

#: Default time between steps of the synthetic market.
DEFAULT_INTERVAL_S = 0.1


class SimulatedDiffVenue:
    """One :class:`DiffSim` for one registry venue (subclasses fix the venue and the wire format).

    Parameters
    ----------
    instruments : sequence of str
        Any accepted spelling; served under the venue's own symbols.
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
    **options
        Other :class:`DiffSimConfig` fields (``levels``, ``history``...).
    """

    venue = ""  #: registry name
    sim_venue = ""  #: DiffSim wire format
    depth = 100  #: depth the venue reports in its topics

    def __init__(
        self,
        *,
        instruments: Sequence[str],
        seed: int = 1,
        mids: dict[str, MidPrice] | None = None,
        interval_s: float | None = None,
        replay: Any = None,
        speed: float | None = 1.0,
        **options: Any,
    ) -> None:
        if replay is not None:
            raise ConfigError(f"{self.venue}: the diff simulator does not replay recordings here")
        if interval_s is not None and not interval_s > 0:
            raise ConfigError("interval_s must be > 0")
        self.interval_s = DEFAULT_INTERVAL_S if interval_s is None else float(interval_s)
        insts = [parse_instrument(i) for i in instruments]
        if not insts:
            raise ConfigError("at least one instrument")
        mids = mids if mids is not None else {}
        #: instrument name -> the venue's symbol
        self.symbols: dict[str, str] = {}
        prices: dict[str, float] = {}
        lowest = math.inf
        for inst in insts:
            if inst.name not in mids:
                mids[inst.name] = MidPrice(seed=stable_seed(seed, inst.name), start=default_mid(inst))
            sym = self.symbol(inst)
            self.symbols[inst.name] = sym
            prices[sym] = float(mids[inst.name].at(0))
            lowest = min(lowest, prices[sym])
        decimals = max(2, 4 - math.floor(math.log10(lowest)))
        if decimals > 8:
            raise ConfigError(f"{self.venue}: mid {lowest!r} is too small for the simulator")
        kwargs: dict[str, Any] = {
            "depth": self.depth, "seed": stable_seed(seed, self.venue), "mids": prices, "decimals": decimals,
        }
        kwargs.update(options)
        try:
            cfg = DiffSimConfig(venue=self.sim_venue, symbols=tuple(self.symbols.values()), **kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.venue} simulator: {exc}") from exc
        self.diff = DiffSim(cfg)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._paused = False

    @staticmethod
    def symbol(inst: Instrument) -> str:
        """The venue's spelling of ``inst`` (as its feed subscribes)."""
        raise NotImplementedError

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
    def last_sent(self) -> dict[str, SentBook]:
        """Instrument name -> the venue's current true book (what its deltas add up to)."""
        out: dict[str, SentBook] = {}
        for name, sym in self.symbols.items():
            bids, asks = self.diff.symbols[sym].book.top_text(1 << 20)
            out[name] = SentBook(
                tuple((p.decode(), q.decode()) for p, q in bids), tuple((p.decode(), q.decode()) for p, q in asks)
            )
        return out

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        await self.diff.wait_for(lambda: all(self.diff.subscribed(s) for s in self.symbols.values()), timeout)

    # -- faults ---------------------------------------------------------------------------------
    def pause(self) -> None:
        self._paused = True

    stall = pause

    def resume(self) -> None:
        self._paused = False

    async def step(self, instrument: str | None = None) -> None:
        """Send one delta now (every instrument, or ``instrument``), even while paused."""
        syms = None if instrument is None else [self.symbols[parse_instrument(instrument).name]]
        await self.diff.step(1, syms)

    async def disconnect(self, *, refuse: bool = False, abrupt: bool = False) -> int:
        if refuse:
            raise ConfigError(f"{self.venue}: the diff simulator cannot refuse connections")
        n = self.diff.connected
        await self.diff.disconnect()
        return n


def _joined(inst: Instrument) -> str:
    return f"{inst.base}{inst.quote}".upper()


class BinanceDiffSimulator(SimulatedDiffVenue):
    venue, sim_venue = "binance-diff", "binance"

    @staticmethod
    def symbol(inst: Instrument) -> str:
        return _joined(inst)


class BitstampDiffSimulator(SimulatedDiffVenue):
    venue, sim_venue = "bitstamp-diff", "bitstamp"

    @staticmethod
    def symbol(inst: Instrument) -> str:
        return _joined(inst).lower()


class BybitSimulator(SimulatedDiffVenue):
    venue, sim_venue, depth = "bybit", "bybit", 50

    @staticmethod
    def symbol(inst: Instrument) -> str:
        return _joined(inst)


class CoinbaseSimulator(SimulatedDiffVenue):
    venue, sim_venue = "coinbase", "coinbase"

    @staticmethod
    def symbol(inst: Instrument) -> str:
        return f"{inst.base}-{inst.quote}".upper()


class KrakenSimulator(SimulatedDiffVenue):
    venue, sim_venue = "kraken", "kraken"

    @staticmethod
    def symbol(inst: Instrument) -> str:
        return "/".join("XBT" if p == "BTC" else p for p in (inst.base.upper(), inst.quote.upper()))


class OkxSimulator(SimulatedDiffVenue):
    venue, sim_venue = "okx", "okx"

    @staticmethod
    def symbol(inst: Instrument) -> str:
        return f"{inst.base}-{inst.quote}".upper()


#: Registry venue -> ``"module:Class"`` of its simulator.
SIMULATORS = {
    cls.venue: f"{__name__}:{cls.__name__}"
    for cls in (BinanceDiffSimulator, BitstampDiffSimulator, BybitSimulator, CoinbaseSimulator, KrakenSimulator,
                OkxSimulator)
}
