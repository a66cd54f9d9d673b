"""Local venue simulators on 127.0.0.1, for the demo, the tests and the benchmarks.

>>> async with SimulatedVenues(venues=("binance", "bitstamp"), instrument="ETH-BTC", seed=1) as sim:  # doctest: +SKIP
...     config = PipelineConfig(instrument="ethbtc", base_urls=sim.base_urls)
...     sim["binance"].last_sent["ETH-BTC"].bids      # what the simulator sent last
...     await sim.disconnect("binance", refuse=True)  # fault injection

One seeded mid-price process per instrument drives every venue's book (each with
its own noise, tick, sizes and update rate), or each venue replays a recording
(:class:`~dragonfly.sim.replay.Recording`) at recorded or accelerated speed.

Every registered venue has a simulator here: the snapshot venues (``binance``,
``bitstamp``) their own servers, the FIX venue (``fixsim``) a
:class:`~dragonfly.sim.fix_venue.SimulatedFixVenue` (base URL ``fix://127.0.0.1:<port>``)
and the diff venues (``kraken``, ``okx``, ``bybit``, ``coinbase``, ``binance-diff``,
``bitstamp-diff``) a :class:`~dragonfly.sim.diff.venues.SimulatedDiffVenue`; the
FIX and diff books start at the shared mid, so one world view mixes them sensibly.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..venues.registry import get_venue
from ..instruments import parse_instrument
from .market import MidPrice, SentBook, VenueStyle
from .replay import Recording, read_recording, write_cryptofeed
from .server import VenueSimulator

__all__ = (
    "SimulatedVenues",
    "VenueSimulator",
    "Recording",
    "read_recording",
    "write_cryptofeed",
    "SentBook",
    "VenueStyle",
    "simulator_class",
)


def simulator_class(venue: str) -> type[VenueSimulator]:
    """The simulator class registered for ``venue`` (see :class:`~dragonfly.venues.registry.VenueSpec`)."""
    spec = get_venue(venue)
    if not spec.simulator:
        raise ConfigError(f"no simulator for venue {venue!r}")
    mod, _, cls = spec.simulator.partition(":")
    return getattr(importlib.import_module(mod), cls)  # type: ignore[no-any-return]


class SimulatedVenues:
    """Several venue simulators sharing one synthetic market.

    Parameters
    ----------
    venues : sequence of str
    instrument : str or None
        One instrument (any spelling); or use ``instruments``.
    instruments : sequence of str, optional
    seed : int
    interval_s : float or Mapping[str, float], optional
        Mean time between updates, for all venues or per venue (default: each venue's real rate).
    replay : Mapping[str, Recording], optional
        Per-venue recordings to replay instead of the synthetic market.
    speed : float or None
        Replay speed (1.0 = as recorded, 10.0 = ten times faster, None = as fast as possible).
    options : Mapping[str, Mapping[str, Any]], optional
        Extra keyword arguments per venue simulator (``style=...``).
    """

    def __init__(
        self,
        *,
        venues: Sequence[str] = ("binance", "bitstamp"),
        instrument: str | None = "ETH-BTC",
        instruments: Sequence[str] | None = None,
        seed: int = 1,
        interval_s: float | Mapping[str, float] | None = None,
        replay: Mapping[str, Recording] | None = None,
        speed: float | None = 1.0,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        if isinstance(venues, str) or not venues:
            raise ConfigError("venues must be a non-empty sequence")
        names = list(instruments) if instruments else ([instrument] if instrument else [])
        if not names:
            raise ConfigError("give instrument or instruments")
        self.instruments = tuple(parse_instrument(i).name for i in names)
        mids: dict[str, MidPrice] = {}
        self.simulators: dict[str, VenueSimulator] = {}
        replay = replay or {}
        options = options or {}
        for v in venues:
            vname = get_venue(v).name
            iv = interval_s.get(vname) if isinstance(interval_s, Mapping) else interval_s
            self.simulators[vname] = simulator_class(vname)(
                instruments=self.instruments,
                seed=seed,
                mids=mids,
                interval_s=iv,
                replay=replay.get(vname),
                speed=speed,
                **dict(options.get(vname, {})),
            )

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        started: list[VenueSimulator] = []
        try:
            for s in self.simulators.values():
                await s.start()
                started.append(s)
        except BaseException:
            for s in started:
                await s.stop()
            raise

    async def stop(self) -> None:
        for s in self.simulators.values():
            await s.stop()

    async def __aenter__(self) -> SimulatedVenues:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- access ----------------------------------------------------------------------
    @property
    def base_urls(self) -> dict[str, str]:
        """Venue -> base URL to pass as ``PipelineConfig(base_urls=...)``."""
        return {v: s.base_url for v, s in self.simulators.items()}

    def __getitem__(self, venue: str) -> VenueSimulator:
        return self.simulators[venue]

    def last_sent(self, venue: str, instrument: str | None = None) -> SentBook | None:
        """The last good book ``venue`` sent for ``instrument`` (default: the first instrument)."""
        name = parse_instrument(instrument).name if instrument else self.instruments[0]
        return self.simulators[venue].last_sent.get(name)

    # -- faults (delegating) --------------------------------------------------------------
    async def disconnect(self, venue: str, *, refuse: bool = False, abrupt: bool = False) -> int:
        return await self.simulators[venue].disconnect(refuse=refuse, abrupt=abrupt)

    def accept(self, venue: str) -> None:
        self.simulators[venue].accept()

    def pause(self, venue: str | None = None) -> None:
        for v in [venue] if venue else list(self.simulators):
            self.simulators[v].pause()

    stall = pause

    def resume(self, venue: str | None = None) -> None:
        for v in [venue] if venue else list(self.simulators):
            self.simulators[v].resume()

    async def step(self, venue: str, instrument: str | None = None) -> None:
        await self.simulators[venue].step(instrument)

    async def send_malformed(self, venue: str, instrument: str | None = None, *, kind: str = "bad_number") -> None:
        await self.simulators[venue].send_malformed(instrument, kind=kind)

    async def send_out_of_order(self, venue: str, instrument: str | None = None) -> int:
        return await self.simulators[venue].send_out_of_order(instrument)

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        for s in self.simulators.values():
            await s.wait_subscribed(timeout)
