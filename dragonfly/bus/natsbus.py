"""The ``nats`` bus: workers and aggregators on any number of hosts, through a NATS server.

Needs the optional dependency ``nats-py`` (``pip install 'dragonflybot[nats]'``).

Workers publish each (venue, instrument)'s busmsg ``BookUpdate`` on
``dragonfly.book.<venue>.<instrument>``; an aggregator subscribes to
``dragonfly.book.*.<instrument>`` for each of its instruments (``dragonfly.book.>`` beyond 32)
and, once subscribed, publishes ``dragonfly.ctl.resend``, on which every worker re-publishes the
latest update of each of its keys. The consolidated view of each instrument goes out on
``dragonfly.view.<instrument>`` as ``orderbook.Summary`` bytes, for bots anywhere.

Connections are layer-1 clients (:class:`NatsBusClient`): nats-py's own reconnection is off and
the one reconnect loop of :class:`~dragonfly.clients.base.Client` (backoff, hooks, counters) runs
instead, so a lost connection is a disconnect like any other: the aggregator's venues turn STALE
with the reason until updates flow again; a worker keeps only the latest message per key while
disconnected and re-sends them all on reconnect (nats-py's reconnect buffer, which would flush
old messages, is never used). Messages received are kept latest-wins per subject until read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..clients.base import Backoff, Client, summarize_error, url_with_host
from ..errors import BusError, VenueConnectionError
from .base import (
    BOOK_PREFIX,
    RESEND_SUBJECT,
    Bus,
    BusLink,
    BusPublisher,
    Key,
    book_subject,
    redact_url,
    view_subject,
)

__all__ = ("NatsBus", "NatsBusClient", "NatsLink", "ViewPublisher")

log = logging.getLogger(__name__)

#: Beyond this many instruments an aggregator subscribes to every book subject at once.
MAX_SUBJECTS = 32


def _nats() -> Any:
    try:
        import nats
    except ImportError:
        raise BusError("the nats bus needs nats-py: pip install 'dragonflybot[nats]'") from None
    return nats


class NatsBusClient(Client):
    """One NATS connection as a layer-1 client; frames are ``(subject, data)`` of the subscribed subjects.

    Parameters
    ----------
    servers : sequence of str
        ``nats://host:port`` URLs.
    subjects : sequence of str
        Subscribed after every (re)connect.
    name : str
        For logs, reasons and the server's connection list.
    announce : str
        A subject to publish (empty payload) once subscribed, e.g. :data:`RESEND_SUBJECT`.
    """

    def __init__(
        self,
        servers: Sequence[str],
        *,
        subjects: Sequence[str] = (),
        name: str = "bus nats",
        announce: str = "",
        backoff: Backoff | None = None,
        connect_timeout_s: float = 2.0,
        max_pending: int = 65536,
    ) -> None:
        super().__init__()
        self.servers = list(servers)
        self.subjects = list(subjects)
        self.announce = announce
        self._name = name
        self._backoff = backoff or Backoff(initial_s=0.05, max_s=2.0)
        self._timeout = connect_timeout_s
        self._max_pending = max_pending
        self._nc: Any = None
        self._pending: dict[str, bytes] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._end = ""
        self.conflated = 0  #: messages replaced by a newer one of the same subject before they were read
        self.errors = 0  #: errors nats-py reported

    @property
    def name(self) -> str:
        return self._name

    @property
    def backoff(self) -> Backoff:
        return self._backoff

    @property
    def host(self) -> str:
        """``host:port`` of each server (never the credentials a URL may carry)."""
        out = []
        for s in self.servers:
            u = url_with_host(s, ("nats", "tls"))
            out.append(f"{u.host}:{u.port}" if u is not None else "?")
        return ",".join(out)

    async def send(self, data: Any) -> None:
        """Publish ``(subject, payload)`` on the current connection."""
        subject, payload = data
        await self.publish(subject, payload)

    async def publish(self, subject: str, payload: bytes) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise VenueConnectionError(f"{self._name}: not connected", venue=self._name)
        try:
            await nc.publish(subject, payload)
        except Exception as exc:  # nats-py raises its own errors for a connection closing under us
            text = summarize_error(exc, host=self.host)
            raise VenueConnectionError(f"{self._name}: publish failed: {text}", venue=self._name) from None

    def _is_open(self) -> bool:
        return self._nc is not None and not self._nc.is_closed

    async def _open(self) -> None:
        nats = _nats()
        closed = asyncio.Event()
        self._pending = {}
        self._end = ""

        async def on_error(exc: Exception) -> None:
            self.errors += 1
            if not self._end and not isinstance(exc, asyncio.CancelledError):
                self._end = summarize_error(exc, host=self.host)
            log.debug("%s: %s", self._name, summarize_error(exc, host=self.host))

        async def on_closed() -> None:
            closed.set()
            self._signal()

        async def on_disconnected() -> None:
            self._signal()

        try:
            nc = await asyncio.wait_for(
                nats.connect(
                    servers=self.servers,
                    name=self._name,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    connect_timeout=self._timeout,
                    error_cb=on_error,
                    closed_cb=on_closed,
                    disconnected_cb=on_disconnected,
                ),
                self._timeout * 2,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise VenueConnectionError(
                f"{self._name}: connect failed: {summarize_error(exc, host=self.host)}", venue=self._name
            ) from None
        self._nc = nc
        self._closed_event = closed
        try:
            for subject in self.subjects:
                await nc.subscribe(subject, cb=self._on_msg, pending_msgs_limit=self._max_pending)
            if self.announce:
                await nc.publish(self.announce, b"")
            await nc.flush(timeout=self._timeout)
        except asyncio.CancelledError:
            await self._drop()
            raise
        except Exception as exc:
            await self._drop()
            raise VenueConnectionError(
                f"{self._name}: connect failed: subscribe: {summarize_error(exc, host=self.host)}", venue=self._name
            ) from None

    async def _on_msg(self, msg: Any) -> None:
        pending = self._pending
        subject = msg.subject
        if subject in pending:
            self.conflated += 1
            del pending[subject]  # re-inserted last: the order of arrival is kept
        pending[subject] = msg.data
        self._signal()

    def _signal(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _payload_size(self, payload: Any) -> int:
        return len(payload[1])

    async def _receive(self) -> AsyncIterator[tuple[str, bytes]]:
        nc = self._nc
        if nc is None:
            return
        while True:
            while not self._pending:
                if nc.is_closed or not nc.is_connected:
                    raise VenueConnectionError(self._end or "connection to the NATS server lost", venue=self._name)
                self._waiter = w = asyncio.get_running_loop().create_future()
                try:
                    await w
                finally:
                    self._waiter = None
            batch, self._pending = self._pending, {}
            for item in batch.items():
                yield item

    async def _drop(self) -> str:
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), self._timeout)
        return self._end or "closed"

    def _abort(self) -> None:
        nc = self._nc
        if nc is not None and not nc.is_closed:
            asyncio.get_running_loop().create_task(nc.close())
        self._signal()

    async def _shutdown(self) -> None:
        await self._drop()
        self._signal()


class NatsLink(BusLink):
    """Worker side: publishes the publisher's messages on their subjects; re-sends all on reconnect and
    when an aggregator asks (``dragonfly.ctl.resend``)."""

    def __init__(self, client: NatsBusClient, publisher: BusPublisher) -> None:
        self.client = client
        self.publisher = publisher
        self._subjects: dict[Key, str] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.not_sent = 0  #: messages not sent because the connection was down (their key is re-sent)
        client.on_connect = self._on_connect

    async def _on_connect(self, client: Client) -> None:
        self.publisher.resend_all()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._outlet = self.publisher.attach()
        self._tasks = [loop.create_task(self._control(), name="nats-link:control"),
                       loop.create_task(self._write(), name="nats-link:write")]

    async def _control(self) -> None:
        try:
            async for _subject, _data in self.client.frames():
                self.publisher.resend_all()
        except VenueConnectionError as exc:  # only with a bounded backoff
            log.error("%s: %s", self.client.name, exc)

    async def _write(self) -> None:
        subjects = self._subjects
        client = self.client
        outlet = self._outlet
        while True:
            items = await outlet.take()
            if not items:
                return
            for key, data in items:
                subject = subjects.get(key)
                if subject is None:
                    subject = subjects[key] = book_subject(*key)
                try:
                    await client.publish(subject, data)
                except VenueConnectionError:
                    self.not_sent += 1  # the reconnect re-sends the latest of every key

    async def stop(self) -> None:
        self._outlet.close()
        await self.client.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        out["not_sent"] = self.not_sent
        return out


class ViewPublisher:
    """Publishes each consolidated view's ``orderbook.Summary`` bytes on ``dragonfly.view.<instrument>``.

    ``publish(instrument, summary_bytes)``; a view that comes while the connection is down is
    dropped and counted (the next one carries the whole state).
    """

    def __init__(self, client: NatsBusClient) -> None:
        self.client = client
        self.sent = 0
        self.not_sent = 0
        self._subjects: dict[str, str] = {}

    async def publish(self, instrument: str, summary: bytes) -> None:
        subject = self._subjects.get(instrument)
        if subject is None:
            subject = self._subjects[instrument] = view_subject(instrument)
        try:
            await self.client.publish(subject, summary)
        except VenueConnectionError:
            self.not_sent += 1
            return
        self.sent += 1


class NatsBus(Bus):
    """A NATS server (or cluster) at ``url`` (``nats://host:port``, several comma-separated)."""

    kind = "nats"
    shared = True

    def __init__(self, url: str) -> None:
        servers = [u.strip() for u in url.split(",") if u.strip()]
        if not servers or not all(url_with_host(s, ("nats", "tls")) for s in servers):
            raise BusError(f"bad NATS URL {redact_url(url)!r}: expected nats://host:port[,nats://host:port...]")
        _nats()
        self.url = url
        self.servers = servers

    def link(self, worker: str, publisher: BusPublisher) -> NatsLink:
        client = NatsBusClient(self.servers, subjects=[RESEND_SUBJECT], name=f"bus nats worker {worker}")
        return NatsLink(client, publisher)

    def clients(self, *, workers: Sequence[str], instruments: Sequence[str]) -> Mapping[str, Client]:
        if len(instruments) > MAX_SUBJECTS:
            subjects = [f"{BOOK_PREFIX}.>"]
        else:
            subjects = [f"{BOOK_PREFIX}.*.{view_subject(i).rsplit('.', 1)[1]}" for i in instruments]
        return {"nats": NatsBusClient(self.servers, subjects=subjects, name="bus nats", announce=RESEND_SUBJECT)}

    def view_sink(self, client: Client) -> ViewPublisher | None:
        return ViewPublisher(client) if isinstance(client, NatsBusClient) else None
