"""A seeded synthetic market: one mid-price process per instrument, each venue's book
around it with its own noise, tick, sizes and update rate."""

from __future__ import annotations

import math
import random
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigError
from ..instruments import Instrument, parse_instrument

__all__ = (
    "MidPrice",
    "VenueStyle",
    "VenueBookModel",
    "SentBook",
    "default_mid",
    "served_instruments",
    "shared_mids",
    "stable_seed",
)

#: (price text, qty text) levels as a venue writes them.
TextSide = tuple[tuple[str, str], ...]

_DEFAULT_MIDS = {
    "ETH-BTC": 0.05,
    "BTC-USDT": 60000.0,
    "BTC-USD": 60000.0,
    "BTC-EUR": 55000.0,
    "ETH-USDT": 3000.0,
    "ETH-USD": 3000.0,
    "ETH-EUR": 2800.0,
    "XRP-BTC": 0.00001,
}


def default_mid(instrument: Instrument) -> float:
    """A plausible starting mid for ``instrument`` (100.0 when unknown)."""
    return _DEFAULT_MIDS.get(instrument.name, 100.0)


def stable_seed(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def served_instruments(instruments: Iterable[str]) -> dict[str, Instrument]:
    """What a simulator serves: name -> instrument, for every accepted spelling in ``instruments``
    (one entry per instrument). ConfigError when there is none, or a spelling is not an instrument."""
    served = {inst.name: inst for inst in map(parse_instrument, instruments)}
    if not served:
        raise ConfigError("at least one instrument")
    return served


def shared_mids(instruments: Iterable[Instrument], mids: dict[str, MidPrice] | None, seed: int) -> dict[str, MidPrice]:
    """The one market several simulators share: ``mids`` (a new dict when None) with a mid-price process
    for each of ``instruments`` it lacks, seeded from ``seed`` and the name, starting at the default mid."""
    mids = mids if mids is not None else {}
    for inst in instruments:
        if inst.name not in mids:
            mids[inst.name] = MidPrice(seed=stable_seed(seed, inst.name), start=default_mid(inst))
    return mids


class MidPrice:
    """Geometric random walk sampled on a fixed time grid, generated lazily and
    deterministically from ``seed``: ``at(k)`` is the same for a given seed whoever asks first.

    Memory is bounded: only the newest ``window`` steps are kept (a simulator runs for hours and
    asks for the present, moving forward), plus the start. A step older than the window reads as
    the oldest step kept.

    Parameters
    ----------
    seed : int
    start : float
        ``at(0)``.
    vol : float
        Standard deviation of one step's log return.
    dt_s : float
        Time between two steps (:meth:`at_time`).
    window : int
        Steps kept (the default, 60 000, is ten minutes of 10 ms steps; about 0.5 MB).
    """

    def __init__(self, *, seed: int, start: float, vol: float = 1e-5, dt_s: float = 0.01,
                 window: int = 60_000) -> None:
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        self._rng = random.Random(seed)
        self.start = start
        self.vol = vol
        self.dt_s = dt_s
        self.window = window
        self._ring = array("d", [start]) * window  # step k lives at k % window
        self._last = 0  # the newest step generated

    def at(self, k: int) -> float:
        ring, n, last = self._ring, self.window, self._last
        if k > last:
            value = ring[last % n]
            gauss, vol = self._rng.gauss, self.vol
            for i in range(last + 1, k + 1):
                value *= math.exp(gauss(0.0, vol))
                ring[i % n] = value
            self._last = last = k
            return value
        if k <= 0:
            return self.start
        oldest = max(1, last - n + 1)
        return ring[max(k, oldest) % n]

    def at_time(self, elapsed_s: float) -> float:
        return self.at(max(0, int(elapsed_s / self.dt_s)))


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueStyle:
    """How one venue's book looks and moves.

    ``tick_rel``/``qty_step`` set the grid (tick = 10**(floor(log10 mid) + tick_exp));
    ``text_decimals`` pads the text as the venue does (some write 8 decimals whatever the tick).
    """

    tick_exp: int = -4
    qty_decimals: int = 4
    text_decimals: int = 8
    noise: float = 1e-4  #: relative std-dev of the venue's mid around the common mid
    half_spread_ticks: float = 1.5
    size_mu: float = 0.0  #: lognormal size parameters (in units)
    size_sigma: float = 1.0
    unchanged_prob: float = 0.2  #: probability a tick leaves the book as it was
    levels: int = 20
    gap_ticks: tuple[int, ...] = (1, 1, 1, 2, 3)  #: distance between consecutive levels, drawn per level
    interval_s: float = 0.1  #: mean time between updates
    poisson: bool = False  #: exponential inter-arrival times instead of a fixed period


class SentBook:
    """One generated book: the text levels sent and their float values."""

    __slots__ = ("bids_text", "asks_text", "bids", "asks")

    def __init__(self, bids_text: TextSide, asks_text: TextSide) -> None:
        self.bids_text = bids_text
        self.asks_text = asks_text
        self.bids = tuple((float(p), float(q)) for p, q in bids_text)
        self.asks = tuple((float(p), float(q)) for p, q in asks_text)


class VenueBookModel:
    """Generates one venue's book of one instrument around a :class:`MidPrice`."""

    def __init__(self, *, venue: str, instrument: Instrument, mid: MidPrice, style: VenueStyle, seed: int) -> None:
        self.venue = venue
        self.instrument = instrument
        self.mid = mid
        self.style = style
        self.rng = random.Random(stable_seed(seed, venue, instrument.name))
        self.current: SentBook | None = None

    def next_interval(self) -> float:
        s = self.style
        return self.rng.expovariate(1.0 / s.interval_s) if s.poisson else s.interval_s

    def next_book(self, elapsed_s: float) -> tuple[SentBook, bool]:
        """Return ``(book, changed)``; sometimes the book stays the same, as on a quiet market."""
        s = self.style
        rng = self.rng
        if self.current is not None and rng.random() < s.unchanged_prob:
            return self.current, False
        mid = self.mid.at_time(elapsed_s) * (1.0 + rng.gauss(0.0, s.noise))
        tick_exp = math.floor(math.log10(mid)) + s.tick_exp
        tick = 10.0**tick_exp
        pdec = max(0, -tick_exp, s.text_decimals)
        qdec = max(s.qty_decimals, s.text_decimals)
        qstep = 10.0**-s.qty_decimals
        half = max(1, round(s.half_spread_ticks * (0.5 + rng.random())))
        center = round(mid / tick)
        bid_t = center - half
        ask_t = center + half
        bids: list[tuple[str, str]] = []
        asks: list[tuple[str, str]] = []
        for side, start, sign in ((bids, bid_t, -1), (asks, ask_t, 1)):
            t = start
            for _ in range(s.levels):
                qty = max(qstep, round(rng.lognormvariate(s.size_mu, s.size_sigma), s.qty_decimals))
                side.append((_fmt(t, tick_exp, pdec), f"{qty:.{qdec}f}"))
                t += sign * rng.choice(s.gap_ticks)
                if t <= 0:
                    break
        self.current = SentBook(tuple(bids), tuple(asks))
        return self.current, True


def _fmt(ticks: int, tick_exp: int, decimals: int) -> str:
    """Exact decimal text of ``ticks * 10**tick_exp`` with ``decimals`` places."""
    if tick_exp >= 0:
        return f"{ticks * 10**tick_exp}.{'0' * decimals}" if decimals else str(ticks * 10**tick_exp)
    scale = -tick_exp
    digits = str(ticks).rjust(scale + 1, "0")
    ip, fp = digits[:-scale], digits[-scale:]
    fp = (fp + "0" * decimals)[:decimals] if decimals >= scale else fp
    return f"{ip}.{fp}" if fp else ip
