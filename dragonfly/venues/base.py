"""What a venue is: the sans-IO adapter every venue folder implements, and its registry entry.

A venue lives in one folder, ``dragonfly/venues/<name>/``, with the same files as
every other (copy ``_template/``):

``__init__.py``  its registry entries: ``VENUES = (VenueSpec(...), ...)``
``config.py``    frozen, keyword-only configuration (``base_url``, channel options, ...)
``adapter.py``   the :class:`VenueAdapter`: symbols, subscribe/unsubscribe messages, frames
                 to events, snapshot source, sequence rule, checksum kind
``sim.py``       the simulator encoder: how :mod:`dragonfly.sim` speaks this venue

The adapter does no I/O. The one generic driver
(:class:`~dragonfly.listeners.driver.FeedDriver`) runs it over a layer-1 client with one
:class:`~dragonfly.listeners.keeper.BookKeeper` per instrument.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from .._core.doc import ARRAY, OBJECT, STRING, Doc
from .._core.extract import TopExtractor
from .._core.topn import TopReader
from ..clients.base import Client, url_with_host
from ..errors import ConfigError, ExtractError, FrameError
from ..instruments import Instrument
from ..listeners.events import Event, Snapshot, TopSnapshot
from ..listeners.rules import Monotonic, NoSequence, SequenceRule

__all__ = (
    "ConnectRequest",
    "ListSubscriptions",
    "TopNAdapter",
    "buy_sell_changes",
    "Outgoing",
    "VenueAdapter",
    "VenueSpec",
    "check_url",
    "need",
    "object_doc",
    "rest_url_for",
    "string_or",
)

#: What an adapter asks the client to send: a text/binary frame (WebSocket) or a
#: ``(msg_type, fields)`` pair (FIX).
Outgoing = Any


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ConnectRequest:
    """An HTTP request the driver makes before every connection attempt (a venue that hands out
    a per-connection endpoint and token, like KuCoin's ``bullet-public``); its response body goes
    to :meth:`VenueAdapter.connect_url`."""

    method: str = "POST"
    url: str
    json: Any = None


class VenueAdapter:
    """Everything venue-specific about one feed, free of I/O (subclass per venue).

    Class attributes describe the feed to the generic driver and keepers:

    Attributes
    ----------
    protocol : str
        ``"ws"`` or ``"fix"``: which layer-1 client :meth:`client` builds.
    full_book : bool
        True: snapshots and deltas onto an L2 book. False: a top-N feed whose every message
        is the whole top N (parse into :class:`~dragonfly.listeners.events.Snapshot` only).
    snapshot_source : str
        ``"rest"`` (:meth:`snapshot_url` + :meth:`parse_snapshot`; deltas buffered
        meanwhile), ``"resubscribe"`` (:meth:`resubscribe`, the snapshot comes on the
        stream) or ``"stream"`` (every message is a snapshot).
    checksum : str or None
        Checksum kind the book verifies (one of the core Book's ``CHECKSUM_KINDS``, e.g.
        ``"crc32_top25_interleaved"``).
    session_heartbeats : bool
        The transport's own heartbeats prove the venue alive (FIX): unchanged books are
        re-emitted while the session is heard from.
    ping_interval_s : float or None
        Send :meth:`ping` this often while connected.
    rule : SequenceRule
        Instance attribute (set in ``__init__``): how deltas chain.

    Parameters
    ----------
    config
        The venue's frozen configuration (its ``config.py``).
    depth : int
        Levels per side the feed publishes (top-N feeds extract only these).
    """

    protocol: str = "ws"
    full_book: bool = True
    snapshot_source: str = "resubscribe"
    checksum: str | None = None
    session_heartbeats: bool = False
    #: Send :meth:`ping` this often while connected (venues that drop a client that stays silent).
    ping_interval_s: float | None = None

    def __init__(self, config: Any, *, depth: int) -> None:
        self.config = config
        self.depth = depth
        self.rule: SequenceRule = NoSequence()

    def check_depth(self, most: int, what: str = "") -> None:
        """Raise ConfigError when the feed publishes more levels than ``most`` (what the channel carries)."""
        if self.depth > most:
            raise ConfigError(
                f"{self.name}: {what or 'the channel'} carries at most {most} levels, asked for {self.depth}"
            )

    # -- instruments ------------------------------------------------------------------------------

    def symbol(self, instrument: Instrument) -> str:
        """The venue's spelling of ``instrument``, as its events carry it (``ETH-BTC`` -> ``ETHBTC``)."""
        raise NotImplementedError

    @property
    def gap_sensitive(self) -> bool:
        """Whether data the transport lost (a FIX gap fill) can leave a book wrong."""
        return self.full_book

    def book_depth(self, symbol: str) -> int:
        """Depth cap of the book of ``symbol`` (the subscribed depth where the venue truncates)."""
        return int(getattr(self.config, "max_depth", 5000))

    # -- connection -------------------------------------------------------------------------------

    def url(self, symbols: Sequence[str]) -> str:
        """Where to connect for ``symbols`` (default: the configured ``base_url``)."""
        return str(self.config.base_url)

    def client(self, symbols: Sequence[str], *, ws: Any = None, backoff: Any = None) -> Client:
        """The layer-1 client of a feed of ``symbols``: a WebSocket client on :meth:`url`
        (``ws``: a :class:`~dragonfly.clients.ws.WebSocketConfig` with the connection policy,
        its URL replaced; ``backoff``: the reconnect policy). FIX adapters build a FIX client."""
        from ..clients.ws import WebSocketConfig, websocket_client

        url = self.url(symbols)
        config = ws.with_url(url) if ws is not None else WebSocketConfig.build(url=url)
        if backoff is not None:
            config = config.with_backoff(backoff)
        if not config.name:
            config = dataclasses.replace(config, name=self.name)
        if not config.text_as_bytes:  # adapters read bytes: the core parses them as they are
            config = dataclasses.replace(config, text_as_bytes=True)
        return websocket_client(config)  # aiohttp, or picows (WebSocketConfig.transport)

    @property
    def name(self) -> str:
        """A label for logs (the venue folder's name)."""
        return type(self).__module__.split(".")[-2]

    def connect_request(self, symbols: Sequence[str]) -> ConnectRequest | None:
        """An HTTP request to make before every connection attempt, or None (most venues)."""
        return None

    def connect_url(self, symbols: Sequence[str], body: bytes) -> str:
        """The URL to connect to, from the :meth:`connect_request` response body (it may hold a
        token: it is never logged)."""
        raise NotImplementedError(f"{self.name} makes no connect request")

    def ping(self) -> Outgoing:
        """The application-level ping sent every ``ping_interval_s``."""
        raise NotImplementedError(f"{self.name} sends no ping")

    def connected(self) -> None:
        """A new connection starts: reset connection-scoped parse state (sequence numbers, channel ids)."""

    def subscribe(self, symbols: Sequence[str]) -> list[Outgoing]:
        """Messages that subscribe ``symbols``, sent after every (re)connect (none when the URL carries them)."""
        return []

    def unsubscribe(self, symbols: Sequence[str]) -> list[Outgoing]:
        """Messages that end the subscription of ``symbols``."""
        return []

    def resubscribe(self, symbol: str) -> list[Outgoing]:
        """Messages that make the venue send a fresh snapshot of ``symbol`` on the stream."""
        return [*self.unsubscribe([symbol]), *self.subscribe([symbol])]

    # -- snapshots by REST ------------------------------------------------------------------------

    def snapshot_url(self, symbol: str) -> str:
        """URL of the REST snapshot of ``symbol`` (``snapshot_source == "rest"``)."""
        raise NotImplementedError(f"{self.name} snapshots do not come by REST")

    def parse_snapshot(self, symbol: str, body: bytes) -> Snapshot:
        """The REST snapshot body of ``symbol`` as an event."""
        raise NotImplementedError(f"{self.name} snapshots do not come by REST")

    # -- frames -----------------------------------------------------------------------------------

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        """The book events in one frame (``()`` for acks, other channels, ...).

        Raises
        ------
        FrameError
            A malformed frame, with ``symbol`` set when the frame's instrument is known
            (only that instrument resyncs). ``ValueError``, ``KeyError``, ``TypeError``,
            ``IndexError`` and any :class:`~dragonfly.errors.DragonflyError` are also
            taken as a malformed frame of unknown instrument.
        """
        raise NotImplementedError


class TopNAdapter(VenueAdapter):
    """Base of a top-N snapshot feed: every frame is the whole top N (no book, snapshots on the
    stream, each newer than the last), its levels read straight from the frame by one core
    :class:`~dragonfly._core.extract.TopExtractor` per stream (:meth:`_top`), under the paths
    ``bids_path`` and ``asks_path``.

    With a ``reader_spec``, a frame the core reader takes (:meth:`_read`) is exactly one
    :class:`~dragonfly.listeners.events.TopSnapshot` of the stream's key, its sequence number as
    ``last`` and ``last * seq_ts_ns`` as its exchange time: ``parse`` must answer ``(self._read(frame),)``
    for such a frame. The driver relies on it: for a LIVE instrument it lets the reader accept such frames
    straight into the keeper's top (:meth:`~dragonfly._core.topn.TopReader.take`) without ``parse``.
    """

    full_book = False
    snapshot_source = "stream"
    bids_path = "data.bids"
    asks_path = "data.asks"

    #: The compact spelling of the venue's frames (:class:`~dragonfly._core.topn.TopReader` keywords:
    #: ``seq_key`` and ``route_head``, or ``route_tail`` and ``route_needle``): :meth:`_read` routes
    #: such frames, reads their sequence number and levels in one core call. None: no fast path.
    reader_spec: ClassVar[dict[str, Any] | None] = None
    #: Exchange time in ns per unit of the sequence number (Bitstamp's microtimestamp: 1000); 0: the
    #: frames the reader takes carry no exchange time.
    seq_ts_ns: ClassVar[int] = 0

    def __init__(self, config: Any, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.rule = Monotonic()
        self._extractors: dict[str, TopExtractor] = {}
        spec = self.reader_spec
        self._reader = TopReader(self.bids_path, self.asks_path, self.depth, **spec) if spec else None
        self._reader_owner: object = None
        self._snaps: dict[str, TopSnapshot] = {}  # one per stream, refilled by each of its frames

    def claim_reader(self, owner: object) -> TopReader | None:
        """The core reader of the venue's compact spelling, for the one driver that binds its keepers to it
        (:meth:`~dragonfly._core.topn.TopReader.bind`): the first ``owner`` gets it (again on every call),
        any other None, as does an adapter without a ``reader_spec``."""
        if self._reader is None:
            return None
        if self._reader_owner is None:
            self._reader_owner = owner
        return self._reader if self._reader_owner is owner else None

    def _read(self, frame: str | bytes) -> TopSnapshot | None:
        """The frame's snapshot when the core reader takes it (the compact spelling), else None (then
        ``parse`` takes its general path, which reads such frames the same way); FrameError for that
        instrument when its levels are malformed. The snapshot is its stream's one TopSnapshot, refilled:
        like the extractor it reads from, it is valid until the stream's next frame."""
        r = self._reader
        if r is None:
            return None
        try:
            key = r.read(frame)
        except ExtractError as exc:
            raise FrameError(f"{type(exc).__name__}: {exc}", symbol=r.key) from None
        if key is None:
            return None
        snap = self._snaps.get(key)
        if snap is None or snap.top is not r.top:
            snap = self._snaps[key] = TopSnapshot(symbol=key, top=r.top)
        snap.last = seq = r.seq
        snap.exchange_ts_ns = seq * self.seq_ts_ns
        return snap

    def _top(self, key: str, frame: str | bytes) -> TopExtractor:
        """The extractor of stream ``key``, updated from ``frame`` (ExtractError when malformed)."""
        ext = self._extractors.get(key)
        if ext is None:
            ext = self._extractors[key] = TopExtractor(self.bids_path, self.asks_path, self.depth)
        ext.update(frame)
        return ext


class ListSubscriptions:
    """Mixin (before :class:`VenueAdapter` in the bases) for a venue whose one message subscribes, or
    unsubscribes, a whole list of symbols: :meth:`subscribe` and :meth:`unsubscribe` send
    ``self.subscription("subscribe" | "unsubscribe", symbols)``."""

    def subscription(self, op: str, symbols: Sequence[str]) -> str:
        """The message that does ``op`` (``"subscribe"`` or ``"unsubscribe"``) for ``symbols``."""
        raise NotImplementedError

    def subscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self.subscription("subscribe", symbols)]

    def unsubscribe(self, symbols: Sequence[str]) -> list[str]:
        return [self.subscription("unsubscribe", symbols)]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class VenueSpec:
    """A venue's registry entry (see :mod:`dragonfly.venues.registry`).

    Attributes
    ----------
    name : str
        Registry key and the venue's name in the world view (``"kraken"``, ``"binance-diff"``).
    adapter : type[VenueAdapter]
        Built as ``adapter(config, depth=...)``.
    config : type
        The venue's frozen configuration class; it has a ``base_url`` field (and ``rest_url``
        when snapshots come by REST), validates its URLs, and ``config()`` is the production setup.
    max_depth : int
        Most levels per side the feed can deliver.
    simulator : str
        ``"module:Class"`` of its simulator encoder (how :mod:`dragonfly.sim` speaks it; "" if none).
    description : str
        One line for listings.
    default : bool
        Among the venues used when none are named (``PipelineConfig``, the command line, the demo).
    orders : str
        ``"module:Class"`` of its order-entry adapter (a
        :class:`~dragonfly.clients.orders.OrderProtocol`, the venue folder's ``orders.py``; "" if the
        venue takes no orders from dragonfly, in which case its simulator takes them through the
        generic :class:`~dragonfly.clients.orders.SimOrderProtocol`).
    order_url : str
        Base URL of its order entry in production (``https://api.venue.com``).
    """

    name: str
    adapter: type[VenueAdapter]
    config: Callable[..., Any]
    max_depth: int
    simulator: str = ""
    description: str = ""
    default: bool = False
    orders: str = ""
    order_url: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip().lower():
            raise ConfigError(f"venue name must be lower-case and non-empty, got {self.name!r}")
        if not (isinstance(self.adapter, type) and issubclass(self.adapter, VenueAdapter)):
            raise ConfigError(f"{self.name}: adapter must be a VenueAdapter subclass")
        if self.adapter.protocol not in ("ws", "fix"):
            raise ConfigError(f"{self.name}: protocol must be 'ws' or 'fix', got {self.adapter.protocol!r}")
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ConfigError(f"{self.name}: max_depth must be a positive int")

    @property
    def protocol(self) -> str:
        return self.adapter.protocol

    def order_protocol(self) -> Any:
        """A new instance of the venue's order-entry adapter (``orders``), or None when it has none.

        Raises
        ------
        ConfigError
            ``orders`` does not name a class.
        """
        if not self.orders:
            return None
        mod, _, cls = self.orders.partition(":")
        try:
            found = getattr(importlib.import_module(mod), cls)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: order adapter {self.orders!r} not found: {exc}") from None
        if not isinstance(found, type):
            raise ConfigError(f"{self.name}: order adapter {self.orders!r} is not a class")
        return found()

    @property
    def kind(self) -> str:
        """``"snapshot"`` (top-N feed) or ``"diff"`` (L2 book from deltas)."""
        return "diff" if self.adapter.full_book else "snapshot"

    @property
    def default_base_url(self) -> str:
        return str(self.config().base_url)

    def make_config(self, *, base_url: str | None = None, rest_url: str | None = None, config: Any = None) -> Any:
        """The configuration with URL overrides: ``rest_url`` follows ``base_url`` (same host and
        port, ``http``/``https``: a simulator serves both) unless given.

        Raises
        ------
        ConfigError
            A bad URL, or ``rest_url`` for a venue without REST snapshots.
        """
        cfg = config if config is not None else self.config()
        names = {f.name for f in dataclasses.fields(cfg)}
        changes: dict[str, str] = {}
        if base_url is not None:
            changes["base_url"] = base_url
        if rest_url is not None and "rest_url" not in names:
            raise ConfigError(f"{self.name} loads no REST snapshot: rest_url does not apply")
        if "rest_url" in names and (rest_url is not None or base_url is not None):
            changes["rest_url"] = rest_url or rest_url_for(base_url or "")
        if not changes:
            return cfg
        try:
            return dataclasses.replace(cfg, **changes)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.name}: {exc}") from None

    def check_base_url(self, url: str) -> str:
        """Validate a base-URL override and return it (ConfigError when the venue cannot use it)."""
        self.make_config(base_url=url)
        return url


def need(doc: Any, h: int, key: str) -> int:
    """The handle of member ``key`` of object ``h`` in a parsed frame (a core
    :class:`~dragonfly._core.doc.Doc`); IndexError naming the key when it is absent."""
    m = doc.get(h, key)
    if m < 0:
        raise IndexError(f"no {key!r}")
    return int(m)


def object_doc(frame: str | bytes) -> Doc:
    """The whole frame parsed strictly by the core :class:`~dragonfly._core.doc.Doc`, for venues whose
    every message is a JSON object: ExtractError when it is not JSON, FrameError when it is not an object."""
    doc = Doc(frame)
    if doc.kind(0) != OBJECT:
        raise FrameError("not a JSON object")
    return doc


def string_or(doc: Doc, h: int, default: str = "") -> str:
    """The string at handle ``h`` of ``doc``; ``default`` when the member is absent (``h < 0``) or not a string."""
    return doc.str(h) if h >= 0 and doc.kind(h) == STRING else default


def buy_sell_changes(doc: Doc, changes: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Bids and asks from the array at ``changes`` of ``[side, price, quantity, ...]`` entries whose side
    is ``"buy"`` or ``"sell"`` (prices and quantities as their text). ValueError for an entry of
    another shape or side."""
    bids: list[tuple[str, str]] = []
    asks: list[tuple[str, str]] = []
    for change in doc.children(changes):
        if doc.kind(change) != ARRAY or doc.len(change) < 3:
            raise ValueError("a change is not [side, price, quantity]")
        side = doc.str(doc.at(change, 0))
        level = (doc.text(doc.at(change, 1)), doc.text(doc.at(change, 2)))
        if side == "buy":
            bids.append(level)
        elif side == "sell":
            asks.append(level)
        else:
            raise ValueError(f"unknown side {side!r}")
    return bids, asks


def check_url(url: str, schemes: tuple[str, ...]) -> None:
    """Raise ConfigError unless ``url`` is ``<scheme>://host[:port]...`` for one of ``schemes``
    (for venue configurations' ``__post_init__``)."""
    u = url_with_host(url, schemes) if isinstance(url, str) else None
    if u is not None:
        try:
            u.port  # noqa: B018 - a bad port raises here
        except ValueError:
            u = None
    if u is None:
        raise ConfigError(f"invalid URL {url!r}; expected {'/'.join(schemes)}://host[:port]")


def rest_url_for(base_url: str) -> str:
    """The HTTP base matching a WebSocket base (a simulator serves both on one port)."""
    if base_url.startswith("wss://"):
        return "https://" + base_url[6:]
    if base_url.startswith("ws://"):
        return "http://" + base_url[5:]
    return base_url
