"""Scale-out: feeds (layers 1-3) in worker processes, joined to the aggregators (layer 4) by a bus.

* :mod:`~dragonfly.bus.base` -- subjects, the worker's :class:`BusPublisher` (latest message per key),
  the aggregator's :class:`BusFeed` (decode, check, forward; STALE on a lost connection), :class:`Bus`;
* :mod:`~dragonfly.bus.local` -- the ``local`` bus: Unix sockets, one host, no server;
* :mod:`~dragonfly.bus.natsbus` -- the ``nats`` bus: a NATS server, many hosts (optional ``nats-py``);
* :mod:`~dragonfly.bus.worker` -- what one worker process runs (:class:`WorkerConfig`, :class:`Worker`);
* :mod:`~dragonfly.bus.supervisor` -- :func:`assign_feeds` (balance by expected rate) and the
  :class:`Supervisor` that starts worker processes and restarts a dead one with backoff.

Messages are encoded by the core (:mod:`dragonfly._core.busmsg`). :func:`open_bus` turns a URL into a bus:
``local`` (a private temporary directory), ``local:///some/dir``, or ``nats://host:port``.
"""

from __future__ import annotations

from ..errors import BusError
from .base import (
    BOOK_PREFIX,
    RESEND_SUBJECT,
    VIEW_PREFIX,
    Bus,
    BusFeed,
    BusFeedStats,
    BusLink,
    BusPublisher,
    book_subject,
    redact_url,
    view_subject,
)
from .local import LocalBus

__all__ = (
    "BOOK_PREFIX",
    "RESEND_SUBJECT",
    "VIEW_PREFIX",
    "Bus",
    "BusFeed",
    "BusFeedStats",
    "BusLink",
    "BusPublisher",
    "LocalBus",
    "book_subject",
    "open_bus",
    "redact_url",
    "view_subject",
)


def open_bus(url: str) -> Bus:
    """``"local"`` -> :class:`LocalBus` in a new private directory; ``"local:///dir"`` -> in ``/dir``;
    ``"nats://host:port"`` (several comma-separated) -> :class:`~dragonfly.bus.natsbus.NatsBus`.

    Raises
    ------
    BusError
        Another scheme, or ``nats://`` without nats-py installed.
    """
    text = url.strip()
    if text == "local":
        return LocalBus()
    if text.startswith("local://"):
        path = text[len("local://"):]
        if not path.startswith("/"):
            raise BusError(f"bad local bus URL {redact_url(url)!r}: expected local:///absolute/directory")
        return LocalBus(path)
    if text.startswith(("nats://", "tls://")):
        from .natsbus import NatsBus

        return NatsBus(text)
    raise BusError(f"unknown bus {redact_url(url)!r}: expected local, local:///dir or nats://host:port")
