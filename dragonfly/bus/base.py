"""The bus between worker processes (layers 1-3) and the aggregators (layer 4): what both bus
implementations share.

Worker side: every feed of a worker publishes its :class:`~dragonfly.model.BookUpdate`\\ s into one
:class:`BusPublisher` (a :class:`~dragonfly.queues.Sink`). It encodes each update once with the
core (:mod:`dragonfly._core.busmsg`) and keeps only the latest message per (venue, instrument); every
consumer connection is an :class:`Outlet` that writes the keys changed since its last write, so
a slow consumer is conflated (latest wins per key) and memory stays bounded by the number of keys.
A new consumer, and one that reconnects, first gets the latest message of every key.

Aggregator side: :class:`BusFeed` is the driver of one bus connection (a layer-1
:class:`~dragonfly.clients.base.Client` whose frames are ``(subject, message)`` pairs). It decodes
each message (the core again), checks LIVE tops (:func:`~dragonfly._core.merge.check_top`) and
publishes the updates to its sink (the aggregators' queues, latest wins per key). A message that
does not decode, does not match its subject or carries a bad top is counted, logged once per
connection and dropped: nothing of it is served. When the connection is lost, every
(venue, instrument) the connection carries turns STALE with the reason, until a LIVE update
arrives over a new connection.

Subjects (the NATS bus uses them as they are; the local bus has one stream per worker):
``dragonfly.book.<venue>.<instrument>`` carries the busmsg ``BookUpdate`` of one venue's book,
``dragonfly.view.<instrument>`` the ``orderbook.Summary`` protobuf bytes of the consolidated view
(what the gRPC ``BookSummary`` stream sends), ``dragonfly.ctl.resend`` asks every worker to
re-publish the latest update of each key (an aggregator sends it after it subscribed).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .._core.busmsg import decode_update, encode_update
from .._core.merge import check_top
from ..clients.base import Client, ClientStats, FeedTask
from ..errors import BusError, BusMessageError
from ..model import BookUpdate, VenueHealth, VenueStatus

__all__ = (
    "BOOK_PREFIX",
    "VIEW_PREFIX",
    "RESEND_SUBJECT",
    "Bus",
    "BusFeed",
    "BusFeedStats",
    "BusLink",
    "BusPublisher",
    "Key",
    "Outlet",
    "PublisherStats",
    "book_subject",
    "redact_url",
    "view_subject",
)

log = logging.getLogger(__name__)

BOOK_PREFIX = "dragonfly.book"
VIEW_PREFIX = "dragonfly.view"
RESEND_SUBJECT = "dragonfly.ctl.resend"

#: ``(venue, instrument)``: what latest-wins is per.
Key = tuple[str, str]

_LIVE = VenueStatus.LIVE
_STALE = VenueStatus.STALE
_BAD_TOKEN = frozenset(" .*>\t\r\n")


def _token(text: str, what: str) -> str:
    if not text or any(c in _BAD_TOKEN for c in text):
        raise BusError(f"{what} {text!r} cannot be a subject token (empty, or contains one of ' .*>')")
    return text


def redact_url(url: str) -> str:
    """``url`` (or several, comma-separated) with any ``user:password@`` replaced by ``***@``: for logs,
    reasons and banners (a NATS URL may carry credentials)."""
    parts = []
    for part in url.split(","):
        scheme, sep, rest = part.partition("://")
        if sep and "@" in rest.split("/", 1)[0]:
            rest = "***@" + rest.split("@", 1)[1]
        parts.append(scheme + sep + rest)
    return ",".join(parts)


def book_subject(venue: str, instrument: str) -> str:
    """``dragonfly.book.<venue>.<instrument>`` (BusError when a name cannot be a subject token)."""
    return f"{BOOK_PREFIX}.{_token(venue, 'venue')}.{_token(instrument, 'instrument')}"


def view_subject(instrument: str) -> str:
    """``dragonfly.view.<instrument>``."""
    return f"{VIEW_PREFIX}.{_token(instrument, 'instrument')}"


# --------------------------------------------------------------------------------------------- worker side
@dataclass(slots=True)
class PublisherStats:
    """Counters of a worker's :class:`BusPublisher`."""

    published: int = 0  #: updates handed to the publisher
    encode_errors: int = 0  #: updates the codec refused (never sent)
    dropped_keys: int = 0  #: updates of a new key beyond ``max_keys`` (never sent)
    written: int = 0  #: messages written to consumers (all outlets)
    conflated: int = 0  #: messages replaced by a newer one of the same key before an outlet wrote them
    resends: int = 0  #: times every key was re-sent (new consumer, reconnect, resend request)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Outlet:
    """One consumer of a :class:`BusPublisher`: the keys changed since it last wrote (latest wins).

    :attr:`direct`, when set, is tried first for a message of a key that is not waiting: it writes the
    message at once and returns True, or returns False when it cannot now (the transport is backed
    up), and the key waits for :meth:`take` as usual. Nothing is reordered: a key is written directly
    only when no key of this outlet is waiting.
    """

    __slots__ = ("_publisher", "_dirty", "_waiter", "closed", "direct")

    def __init__(self, publisher: BusPublisher) -> None:
        self._publisher = publisher
        self._dirty: dict[Key, None] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.direct: Callable[[Key, bytes], bool] | None = None

    def _offer(self, key: Key, data: bytes) -> None:
        direct = self.direct
        if direct is not None and not self._dirty and direct(key, data):
            self._publisher.stats.written += 1
            return
        self._mark(key)

    def _mark(self, key: Key) -> None:
        dirty = self._dirty
        if key in dirty:
            self._publisher.stats.conflated += 1
            return
        dirty[key] = None
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _mark_all(self) -> None:
        for key in self._publisher._latest:
            self._mark(key)

    async def take(self) -> list[tuple[Key, bytes]]:
        """Wait for changed keys; return ``[(key, message), ...]`` (the latest message of each)."""
        while not self._dirty:
            if self.closed:
                return []
            self._waiter = w = asyncio.get_running_loop().create_future()
            try:
                await w
            finally:
                self._waiter = None
        dirty, self._dirty = self._dirty, {}
        latest = self._publisher._latest
        self._publisher.stats.written += len(dirty)
        return [(k, latest[k]) for k in dirty]

    def close(self) -> None:
        self.closed = True
        self._publisher._outlets.discard(self)
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)


class BusPublisher:
    """A worker's sink: encodes each update once, keeps the latest message per key, feeds every outlet.

    Parameters
    ----------
    max_keys : int
        Bound on distinct (venue, instrument) keys; an update of a new key beyond it is dropped
        and counted (a worker knows its keys from its feeds, so this is a guard, never reached).
    """

    def __init__(self, *, max_keys: int = 65536) -> None:
        if not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError("max_keys must be a positive int")
        self.max_keys = max_keys
        self.stats = PublisherStats()
        self._latest: dict[Key, bytes] = {}
        self._outlets: set[Outlet] = set()
        self._encode_logged = False

    @property
    def keys(self) -> tuple[Key, ...]:
        return tuple(self._latest)

    def publish(self, update: BookUpdate) -> None:
        """Sink interface: never blocks; replaces the key's previous message."""
        self.stats.published += 1
        key = (update.venue, update.instrument)
        try:
            data = encode_update(update)
        except BusMessageError as exc:
            self.stats.encode_errors += 1
            if not self._encode_logged:
                self._encode_logged = True
                log.error("bus: update of %s %s not encodable (%s); dropped (logged once)", key[0], key[1], exc)
            return
        latest = self._latest
        if key not in latest and len(latest) >= self.max_keys:
            self.stats.dropped_keys += 1
            return
        latest[key] = data
        for outlet in self._outlets:
            outlet._offer(key, data)

    def attach(self) -> Outlet:
        """A new consumer; it starts with the latest message of every key."""
        outlet = Outlet(self)
        self._outlets.add(outlet)
        if self._latest:
            self.stats.resends += 1
            outlet._mark_all()
        return outlet

    def resend_all(self) -> None:
        """Mark every key changed on every outlet (a consumer asked for the current state)."""
        self.stats.resends += 1
        for outlet in self._outlets:
            outlet._mark_all()


class BusLink(abc.ABC):
    """The worker side of one bus: carries a :class:`BusPublisher`'s messages to the consumers."""

    publisher: BusPublisher

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    def stats(self) -> dict[str, Any]:
        return {"publisher": self.publisher.stats.as_dict()}


# ----------------------------------------------------------------------------------------- aggregator side
@dataclass(slots=True)
class BusFeedStats:
    """Counters of one :class:`BusFeed` (its connection's in ``client``)."""

    client: ClientStats
    messages: int = 0  #: messages received
    published: int = 0  #: updates handed to the sink
    bad_messages: int = 0  #: messages that did not decode (truncated, garbage, other format): dropped
    mismatched: int = 0  #: messages whose venue/instrument is not their subject's: dropped
    invalid_tops: int = 0  #: LIVE updates whose top is crossed or not best-first: dropped
    losses: int = 0  #: connections lost (every key STALE)
    errors_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("client", "errors_by_reason")
        }
        out["errors_by_reason"] = dict(self.errors_by_reason)
        out["client"] = {f.name: getattr(self.client, f.name) for f in fields(self.client)}
        return out


class BusFeed(FeedTask):
    """Drives one bus connection into a sink (see the module notes).

    Parameters
    ----------
    name : str
        For logs and reasons (``"bus worker 1"``, ``"bus nats"``).
    client : Client
        The connection; its frames are ``(subject, message)``; its hooks are taken over.
    sink : Sink[BookUpdate]
        Usually a router to the aggregators' queues.
    keys : iterable of Key
        The (venue, instrument) pairs this connection is expected to carry: STALE when it is lost
        (with any other key seen on it).
    """

    def __init__(self, *, name: str, client: Client, sink: Any, keys: Iterable[Key] = ()) -> None:
        if not hasattr(sink, "publish"):
            raise TypeError("sink must have a publish() method")
        self.venue = name
        self.name = name
        self.client = client
        self.sink = sink
        self.keys: dict[Key, None] = dict.fromkeys(keys)
        self.stats = BusFeedStats(client=client.stats)
        self.task_name = f"busfeed:{name}"
        self._connected = False
        self._logged = False
        self._status: dict[Key, VenueHealth] = {}
        self._last: dict[Key, BookUpdate] = {}
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect

    # -- Feed ---------------------------------------------------------------------------------------
    @property
    def instruments(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k[1] for k in self.keys))

    def health(self) -> dict[str, VenueHealth]:
        """``"<venue> <instrument>"`` -> the last health this connection reported for it."""
        return {f"{v} {i}": h for (v, i), h in self._status.items()}

    async def run(self) -> None:
        on_message = self.on_message
        try:
            async for subject, data in self.client.frames():
                on_message(data, subject)
        finally:
            self._lost(f"{self.name}: stopped")

    async def close(self) -> None:
        await self.client.close()

    # -- messages -----------------------------------------------------------------------------------
    def on_message(self, data: bytes, subject: str = "") -> None:
        """Decode, check and forward one message (never raises on bad input)."""
        stats = self.stats
        stats.messages += 1
        try:
            upd = decode_update(data)
        except BusMessageError as exc:
            self._bad("bad_messages", exc.reason, f"{exc} (reason={exc.reason}, offset={exc.offset})", data)
            return
        if subject and subject != f"{BOOK_PREFIX}.{upd.venue}.{upd.instrument}":
            self._bad("mismatched", "subject", f"a {upd.venue} {upd.instrument} update on {subject!r}", data)
            return
        if upd.status is _LIVE:
            problem = check_top(upd.bids, upd.asks)
            if problem:
                self._bad("invalid_tops", "top", problem, data)
                return
        key = (upd.venue, upd.instrument)
        if key not in self.keys:
            self.keys[key] = None
        if upd.status is _LIVE:
            prev = self._last.get(key)
            if prev is not None and prev.bids == upd.bids and prev.asks == upd.asks:
                # an unchanged top (a keepalive): the same tuples, so the aggregator sees it is one
                upd = upd._replace(bids=prev.bids, asks=prev.asks)
            self._last[key] = upd
        else:
            self._last.pop(key, None)
        self._status[key] = VenueHealth(upd.venue, upd.status, upd.receive_ts_ns, upd.reason)
        stats.published += 1
        self.sink.publish(upd)

    def _bad(self, counter: str, reason: str, detail: str, data: bytes) -> None:
        stats = self.stats
        setattr(stats, counter, getattr(stats, counter) + 1)
        stats.errors_by_reason[reason] = stats.errors_by_reason.get(reason, 0) + 1
        first = not self._logged
        self._logged = True
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: message dropped: %s; %d bytes starting %r%s",
            self.name, detail[:200], len(data), bytes(data[:32]), " (logged once per connection)" if first else "",
        )

    # -- connection events --------------------------------------------------------------------------
    async def _on_connect(self, client: Client) -> None:
        self._connected = True
        self._logged = False

    def _on_disconnect(self, client: Client, reason: str) -> None:
        if self._connected:
            self._connected = False
            self.stats.losses += 1
            self._lost(f"{self.name}: {reason}")

    def _lost(self, reason: str) -> None:
        self._last.clear()
        now = time.time_ns()
        for venue, instrument in self.keys:
            upd = BookUpdate(venue, instrument, (), (), _STALE, 0, now, reason)
            self._status[(venue, instrument)] = VenueHealth(venue, _STALE, now, reason)
            self.sink.publish(upd)

    def __repr__(self) -> str:
        return f"<BusFeed {self.name} keys={len(self.keys)} connected={self._connected}>"


class Bus(abc.ABC):
    """One bus (``local`` or ``nats``): how workers publish and how aggregators receive.

    Attributes
    ----------
    url : str
        What :func:`~dragonfly.bus.open_bus` was given (``local:///dir``, ``nats://host:port``).
    """

    url: str
    #: ``"local"`` or ``"nats"``
    kind: str
    #: Whether consumers find every worker through one connection (NATS) or need one per worker (local).
    shared: bool

    @abc.abstractmethod
    def link(self, worker: str, publisher: BusPublisher) -> BusLink:
        """The worker side: carry ``publisher``'s messages (worker ``worker``'s) to the consumers."""

    @abc.abstractmethod
    def clients(self, *, workers: Sequence[str], instruments: Sequence[str]) -> Mapping[str, Client]:
        """The aggregator side: connections (name -> client) that receive the books of ``instruments``
        (from ``workers`` where the bus needs to know them)."""

    @property
    def display_url(self) -> str:
        """:attr:`url` without credentials."""
        return redact_url(self.url)

    def view_sink(self, client: Client) -> Any:
        """Where consolidated views can be published for bots (None when the bus has no such subject)."""
        return None
