"""Local venue simulators on 127.0.0.1, for the demo, the tests and the benchmarks.

>>> async with SimulatedVenues(venues=names, instrument="ETH-BTC", seed=1) as sim:  # doctest: +SKIP
...     config = PipelineConfig(instrument="ethbtc", venues=names, base_urls=sim.base_urls)
...     sim[name].last_sent["ETH-BTC"].bids            # what the simulator sent last
...     await sim.disconnect(name, refuse=True)        # fault injection

Every registered venue names its simulator encoder in its
:class:`~dragonfly.venues.base.VenueSpec` (``simulator = "module:Class"``, the venue folder's
``sim.py``); the encoder says how the venue speaks (:mod:`dragonfly.sim.encoder`) and which
generic engine serves it: top-N snapshot venues a :class:`~dragonfly.sim.server.VenueSimulator`,
diff-stream venues a :class:`~dragonfly.sim.diff.venues.SimulatedDiffVenue`, FIX venues a
:class:`~dragonfly.sim.fix_venue.SimulatedFixVenue` (base URL ``fix://127.0.0.1:<port>``).

One seeded mid-price process per instrument drives every venue's book (each with its own
noise, tick, sizes and update rate; the diff and FIX books start at the shared mid, so one
world view mixes them sensibly), or a snapshot venue replays a recording
(:class:`~dragonfly.sim.replay.Recording`) at recorded or accelerated speed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from .._lifecycle import StartStop
from ..errors import ConfigError
from ..instruments import parse_instrument
from ..venues.base import VenueSpec
from ..venues.registry import get_venue
from .diff.venues import SimulatedDiffVenue
from .encoder import ENGINES
from .fix_venue import SimulatedFixVenue
from .market import MidPrice, SentBook, VenueStyle
from .replay import Recording, read_recording, write_cryptofeed
from .server import VenueSimulator

__all__ = (
    "Recording",
    "SentBook",
    "SimulatedDiffVenue",
    "SimulatedFixVenue",
    "SimulatedVenues",
    "VenueSimulator",
    "VenueStyle",
    "create_simulator",
    "encoder_class",
    "make_encoder",
    "read_recording",
    "simulator_class",
    "write_cryptofeed",
)

#: Engine name -> the simulator class that serves encoders of that engine.
_ENGINE_CLASSES: dict[str, type[Any]] = {
    "snapshot": VenueSimulator,
    "diff": SimulatedDiffVenue,
    "fix": SimulatedFixVenue,
}
assert set(_ENGINE_CLASSES) == set(ENGINES)


def _spec(venue: str | VenueSpec) -> VenueSpec:
    return venue if isinstance(venue, VenueSpec) else get_venue(venue)


def encoder_class(venue: str | VenueSpec) -> type[Any]:
    """The simulator encoder class of ``venue`` (a registered name, or a spec): its VenueSpec's ``simulator``.

    Raises
    ------
    ConfigError
        Unknown venue, no simulator, or a ``simulator`` that does not name a class.
    """
    spec = _spec(venue)
    if not spec.simulator:
        raise ConfigError(f"no simulator for venue {spec.name!r}")
    mod, _, cls = spec.simulator.partition(":")
    try:
        found = getattr(importlib.import_module(mod), cls)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{spec.name}: simulator {spec.simulator!r} not found: {exc}") from None
    if not isinstance(found, type):
        raise ConfigError(f"{spec.name}: simulator {spec.simulator!r} is not a class")
    return found


def make_encoder(venue: str | VenueSpec, config: Any = None) -> Any:
    """The encoder of ``venue`` built from ``config`` (default: the venue's default configuration,
    the same one its feed uses).

    Raises
    ------
    ConfigError
        See :func:`encoder_class`; or the encoder's ``engine`` is not one of :data:`~dragonfly.sim.encoder.ENGINES`.
    """
    spec = _spec(venue)
    encoder = encoder_class(spec)(config if config is not None else spec.config())
    if getattr(encoder, "engine", None) not in ENGINES:
        raise ConfigError(f"{spec.name}: {type(encoder).__name__}.engine must be one of {ENGINES}")
    return encoder


def simulator_class(venue: str | VenueSpec, config: Any = None) -> type[Any]:
    """The engine class serving ``venue`` (:class:`VenueSimulator`, :class:`SimulatedDiffVenue`
    or :class:`SimulatedFixVenue`), built as ``cls(encoder, venue=..., instruments=..., ...)``."""
    return _ENGINE_CLASSES[make_encoder(venue, config).engine]


def create_simulator(venue: str | VenueSpec, *, config: Any = None, **kwargs: Any) -> Any:
    """The simulator of ``venue`` (a registered name, or a spec): its engine speaking its encoder
    (built from ``config``, default the venue's default configuration).

    ``kwargs`` go to the engine: ``instruments`` (required), ``seed``, ``mids``, ``interval_s``,
    ``replay``, ``speed`` and engine options (``style``, ``levels``, ``counterparties``...). WebSocket
    simulators take orders on their port (``sim.orders``, :class:`~dragonfly.sim.orders.OrderDesk`) in the
    venue's own order-entry protocol when its spec names one (``order_protocol`` overrides it), and always
    in the generic one; ``order_accounts`` sets the API keys and secrets they accept.
    """
    spec = _spec(venue)
    encoder = make_encoder(spec, config)
    if encoder.engine in ("snapshot", "diff") and "order_protocol" not in kwargs:
        kwargs["order_protocol"] = spec.order_protocol()  # the venue's order entry (None: the generic one only)
    return _ENGINE_CLASSES[encoder.engine](encoder, venue=spec.name, **kwargs)


class SimulatedVenues(StartStop):
    """Several venue simulators sharing one synthetic market.

    Parameters
    ----------
    venues : sequence of str
        Registered venue names.
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
        Extra keyword arguments per venue simulator (``style=...``, ``levels=...``; ``config=...``
        builds the venue's encoder from another configuration than the default).
    """

    def __init__(
        self,
        *,
        venues: Sequence[str],
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
        self.simulators: dict[str, Any] = {}
        replay = replay or {}
        options = options or {}
        for v in venues:
            vname = get_venue(v).name
            iv = interval_s.get(vname) if isinstance(interval_s, Mapping) else interval_s
            self.simulators[vname] = create_simulator(
                vname,
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
        started: list[Any] = []
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

    # -- access ----------------------------------------------------------------------
    @property
    def base_urls(self) -> dict[str, str]:
        """Venue -> base URL to pass as ``PipelineConfig(base_urls=...)``."""
        return {v: s.base_url for v, s in self.simulators.items()}

    @property
    def order_urls(self) -> dict[str, str]:
        """Venue -> base URL of its simulator's order entry (venues whose simulator takes orders)."""
        return {v: s.order_url for v, s in self.simulators.items() if getattr(s, "orders", None) is not None}

    def __getitem__(self, venue: str) -> Any:
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

    async def request_reconnect(self, venue: str) -> int:
        return await self.simulators[venue].request_reconnect()

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        for s in self.simulators.values():
            await s.wait_subscribed(timeout)
