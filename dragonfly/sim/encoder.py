"""The simulator encoder: how :mod:`dragonfly.sim` speaks one venue.

A venue folder's ``sim.py`` holds ``<Venue>Encoder`` classes (one per feed), and the
venue's :class:`~dragonfly.venues.base.VenueSpec` names its encoder in ``simulator``
(``"dragonfly.venues.<venue>.sim:<Venue>Encoder"``). An encoder is built from the same
configuration object as the venue's adapter (``<Venue>Encoder(<Venue>Config(version=2))``),
does no I/O, and imports nothing from :mod:`dragonfly.sim` (the simulators import venues,
never the reverse): it satisfies the protocols below structurally (the base classes of
:mod:`dragonfly.venues.simkit` give the answers most venues share). Everything about
sockets, markets, true books, sequence state and faults belongs to the generic engine
named by its ``engine`` attribute:

``"snapshot"``  :class:`~dragonfly.sim.server.VenueSimulator`: a WebSocket server of top-N
                snapshots of a seeded market (:class:`SnapshotEncoder`);
``"diff"``      :class:`~dragonfly.sim.diff.server.DiffSim`: a WebSocket stream of deltas on
                true books, snapshots on the stream or by REST on the same port
                (:class:`DiffEncoder`); :class:`~dragonfly.sim.diff.venues.SimulatedDiffVenue`
                runs it on a timer for :class:`~dragonfly.sim.SimulatedVenues`;
``"fix"``       :class:`~dragonfly.sim.fix_venue.SimulatedFixVenue`: FIX 4.4 market data
                (:class:`FixEncoder`; the wire format is standard, only names differ).

Text frames are ``str``. Levels are ``[price_text, qty_text]`` pairs written the way the
venue writes numbers (checksums are over that text). Optional members of a venue's protocol
that it does not have return None (``heartbeat``, ``reconnect_request``); members an engine
never calls for that venue (``snapshot_frame`` of a REST-snapshot venue, ``stamp`` of a venue
without a connection sequence) may raise NotImplementedError.

A venue folder may also define ``SIM_VARIANTS`` in its ``sim.py``: label -> configuration
object of another setup its encoder serves (``{"v2": <Venue>Config(version=2)}``); the
shared venue contract tests (``tests/integration/venues``) run every variant too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..instruments import Instrument

__all__ = (
    "ENGINES",
    "BookState",
    "DiffEncoder",
    "Encoder",
    "FixEncoder",
    "SnapshotEncoder",
    "Subscriptions",
    "TextSide",
    "Update",
    "WsEncoder",
    "encoder_label",
)

#: Engine names an encoder's ``engine`` may take.
ENGINES = ("snapshot", "diff", "fix")

#: ``((price_text, qty_text), ...)`` best first.
TextSide = tuple[tuple[str, str], ...]


class Subscriptions(Protocol):
    """One client connection's subscriptions, as an engine hands them to an encoder."""

    def subscribe(self, symbol: str, key: str = "") -> bool:
        """Subscribe the connection to ``symbol`` (the venue's spelling, see ``Encoder.symbol``).

        ``key`` is the venue's name of the subscription when frames carry more than the symbol
        (a stream or channel name such as ``ethbtc@depth10``; the snapshot engine passes it back
        to :meth:`SnapshotEncoder.render`); empty: the symbol. Returns False when the simulator
        does not serve ``symbol`` (the encoder answers with the venue's error, if any).
        """
        ...

    def unsubscribe(self, symbol: str, key: str = "") -> bool:
        """End a subscription (by ``key`` when given, else by ``symbol``); False if there was none."""
        ...

    def keys(self) -> list[str]:
        """The connection's current subscription keys."""
        ...


class Encoder(Protocol):
    """What every encoder has.

    Attributes
    ----------
    engine : str
        ``"snapshot"``, ``"diff"`` or ``"fix"`` (see the module notes).
    """

    engine: str

    def symbol(self, instrument: Instrument) -> str:
        """How the venue spells ``instrument`` in subscriptions and in its frames.

        For a diff venue this is the adapter's symbol (``adapter.symbol(instrument)``); for a
        top-N snapshot venue it may be shorter than the adapter's (the pair ``ethbtc`` where the
        adapter keys on the stream ``ethbtc@depth20@100ms``).
        """
        ...


class WsEncoder(Encoder, Protocol):
    """What the WebSocket engines (``"snapshot"`` and ``"diff"``) ask of every encoder."""

    def connect(self, path: str, query: Mapping[str, str], conn: Subscriptions) -> None:
        """A client connected to ``path?query``: make the subscriptions the URL asks for
        (``conn.subscribe``; e.g. ``/stream?streams=...``), if the venue has such URLs."""
        ...

    def client_message(self, text: str, conn: Subscriptions) -> list[str]:
        """Handle one text frame from a client: change its subscriptions through ``conn``
        and return the frames to answer with (acks, errors, pongs), in order.

        The engine sends the answers, then (diff engine, ``snapshots == "stream"``) a snapshot
        of every symbol newly subscribed. Anything unparseable is answered as the venue
        answers it (an error frame) or ignored; it never raises.
        """
        ...

    def heartbeat(self) -> str | None:
        """A heartbeat frame the venue sends on its own (None: the venue has none)."""
        ...

    def reconnect_request(self) -> str | None:
        """The frame by which the venue asks clients to reconnect (None: the venue has none)."""
        ...


class SnapshotEncoder(WsEncoder, Protocol):
    """A top-N snapshot venue (every frame a whole top N), served by
    :class:`~dragonfly.sim.server.VenueSimulator`.

    Attributes
    ----------
    style : Mapping[str, Any]
        Fields of :class:`~dragonfly.sim.market.VenueStyle`: the venue's tick, sizes, number
        of levels, update rate and number text (e.g. ``{"tick_exp": -3, "levels": 20, ...}``).
    sends_unchanged : bool
        Whether the venue re-sends an unchanged book every period.
    """

    style: Mapping[str, Any]
    sends_unchanged: bool

    def next_seq(self, current: int, rng: random.Random) -> int:
        """The sequence field of the next changed book (``current``: the last one, 0 at first)."""
        ...

    def render(self, key: str, bids: TextSide, asks: TextSide, seq: int) -> str:
        """The frame of subscription ``key`` carrying the top N ``bids``/``asks`` (best first;
        the encoder cuts them to the depth ``key`` asks for) with sequence field ``seq``."""
        ...

    def recorded(self, payload: str) -> tuple[str, TextSide, TextSide] | None:
        """``(symbol, bids, asks)`` when a recorded payload is a book of this venue, else None
        (replays keep ``last_sent`` and ``history`` from it)."""
        ...


@dataclass(slots=True)
class BookState:
    """A true book as a diff encoder writes a snapshot of it.

    Attributes
    ----------
    symbol : str
        The venue's symbol.
    bids, asks : list of [price_text, qty_text]
        Every level, best first, with the venue's number text.
    last : int
        Id of the last delta the book contains (the venue's sequence id).
    micro : int
        Venue time of that delta, microseconds since the epoch.
    checksum : int or None
        ``Book.checksum(encoder.checksum)`` of this book (None when the venue has no checksum).
    """

    symbol: str
    bids: list[list[str]]
    asks: list[list[str]]
    last: int
    micro: int
    checksum: int | None

    @property
    def ts_ms(self) -> int:
        return self.micro // 1000


@dataclass(slots=True)
class Update:
    """One delta of a true book, as a diff encoder writes it.

    Attributes
    ----------
    symbol : str
    bids, asks : list of [price_text, qty_text]
        Changed levels, absolute quantities (``"0..."`` deletes), in no particular order. Faults
        the engine injects appear here (a wrong quantity, a crossing bid).
    first, last, prev : int
        Ids: the delta covers ``first..last`` and follows ``prev`` (``prev + 1 == first``; a
        venue with one id per delta uses ``last``). ``last - prev`` is :meth:`DiffEncoder.id_step`.
    checksum : int or None
        Checksum of the true book after the delta (None when the venue has none).
    micro : int
        Venue time of the delta, microseconds (strictly increasing per symbol).
    """

    symbol: str
    bids: list[list[str]]
    asks: list[list[str]]
    first: int
    last: int
    prev: int
    checksum: int | None
    micro: int

    @property
    def ts_ms(self) -> int:
        return self.micro // 1000


class DiffEncoder(WsEncoder, Protocol):
    """A diff-stream venue, served by :class:`~dragonfly.sim.diff.server.DiffSim`.

    Attributes
    ----------
    snapshots : str
        ``"stream"``: a snapshot frame follows every subscribe (:meth:`snapshot_frame`);
        ``"rest"``: snapshots are HTTP GETs on the server's port (:meth:`rest_symbol`,
        :meth:`rest_body`).
    checksum : str or None
        Checksum kind of the core Book (``Book.checksum(kind)``) the engine computes for
        every delta and snapshot, or None.
    depth : int
        Levels per side the venue's book carries; the true books stay within it.
    connection_sequence : bool
        The venue numbers every frame of a connection (:meth:`stamp` is applied to every frame
        sent; a delta lost on the wire loses its number too).
    """

    snapshots: str
    checksum: str | None
    depth: int
    connection_sequence: bool

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        """``[price_text, qty_text]`` as the venue writes a level (``decimals``: the tick's decimals)."""
        ...

    def id_step(self, rng: random.Random) -> int:
        """How many ids the next delta consumes (1 for contiguous ids; more where a venue's
        message folds several updates, ``U..u`` ranges or ``seqId`` jumps)."""
        ...

    def delta_frame(self, update: Update) -> str | Sequence[str]:
        """The frame of one delta, or its frames in order (a venue that writes one level per
        message, or its checksum in a message of its own; each frame is numbered by :meth:`stamp`)."""
        ...

    def snapshot_frame(self, book: BookState) -> str:
        """The snapshot frame sent after a subscribe (``snapshots == "stream"``)."""
        ...

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        """The symbol a REST snapshot request asks for, or None if ``path`` is not the venue's
        snapshot endpoint (``snapshots == "rest"``; answered 404)."""
        ...

    def rest_body(self, book: BookState) -> str:
        """The REST snapshot response body (``snapshots == "rest"``)."""
        ...

    def stamp(self, frame: str, seq: int) -> str | None:
        """``frame`` numbered ``seq`` on its connection, or None when this frame carries no
        number (``connection_sequence`` only)."""
        ...

    # Optional: ``connect_response(method, path, query, ws_url) -> str | None``, the body answering
    # an HTTP POST the venue's clients make before connecting (a token and the endpoint, which the
    # engine's ``ws_url`` gives); None answers 404. Encoders of venues without one leave it out.


class FixEncoder(Encoder, Protocol):
    """A FIX 4.4 market-data venue, served by :class:`~dragonfly.sim.fix_venue.SimulatedFixVenue`.

    Attributes
    ----------
    comp_id : str
        The venue's CompID (the client's TargetCompID).
    counterparties : Mapping[str, str or None]
        Client CompIDs allowed to log on, and their passwords (None: none required).
    """

    comp_id: str
    counterparties: Mapping[str, str | None]


def encoder_label(encoder: Any) -> str:
    """A label for an encoder's venue when none is given: the name of its venue folder."""
    parts = type(encoder).__module__.split(".")
    return parts[-2] if len(parts) >= 2 else type(encoder).__name__
