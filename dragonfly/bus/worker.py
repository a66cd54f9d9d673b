"""One worker process: layers 1-3 for a share of the feeds, publishing on a bus.

A worker runs a feed (:func:`~dragonfly.venues.feed.create_feed`, one connection per venue carrying
all of its instruments on that venue) for each venue it was given, every feed publishing into one
:class:`~dragonfly.bus.base.BusPublisher`, which the bus link carries to the aggregators. It is
started by a :class:`~dragonfly.bus.supervisor.Supervisor` (``dragonfly-grpc-server --workers N``)
or by hand on another host (``dragonfly worker --bus nats://...``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .._lifecycle import StartStop
from ..clients.ws import WebSocketConfig
from ..errors import ConfigError
from ..instruments import parse_instrument
from ..venues.feed import create_feed
from ..venues.registry import get_venue
from . import open_bus
from .base import Bus, BusLink, BusPublisher, Key

__all__ = ("WorkerConfig", "Worker")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerConfig:
    """What one worker runs.

    Parameters
    ----------
    worker_id : str
        Its name on the bus (letters, digits, ``-``, ``_``).
    bus : str
        The bus URL (``local:///dir`` or ``nats://host:port``).
    feeds : tuple of (venue, tuple of instruments)
        One feed per venue, with the instruments it carries (normalised).
    depth : int
        Levels per side the feeds publish.
    base_urls : Mapping[str, str]
        Per-venue base-URL overrides (simulators).
    keepalive_s : float
        Re-publish an unchanged LIVE top at most this often (below the aggregators' staleness limit).
    heartbeat_s, no_data_timeout_s : float or None
        The WebSocket feeds' ping period and silence watchdog
        (:class:`~dragonfly.clients.ws.WebSocketConfig`; None turns one off).
    """

    worker_id: str
    bus: str
    feeds: tuple[tuple[str, tuple[str, ...]], ...]
    depth: int = 10
    base_urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    keepalive_s: float = 1.0
    heartbeat_s: float | None = 20.0
    no_data_timeout_s: float | None = 30.0

    def __post_init__(self) -> None:
        wid = self.worker_id
        if not wid or not all(c.isalnum() or c in "-_" for c in wid):
            raise ConfigError(f"worker_id must be letters, digits, '-' or '_', got {wid!r}")
        if not self.feeds:
            raise ConfigError(f"worker {wid}: no feeds")
        feeds = []
        seen: set[str] = set()
        for venue, instruments in self.feeds:
            name = get_venue(venue).name
            if name in seen:
                raise ConfigError(f"worker {wid}: venue {name} twice")
            seen.add(name)
            if isinstance(instruments, str) or not instruments:
                raise ConfigError(f"worker {wid}: {name} has no instruments")
            insts = tuple(parse_instrument(i).name for i in instruments)
            if len(set(insts)) != len(insts):
                raise ConfigError(f"worker {wid}: an instrument twice on {name}")
            if not isinstance(self.depth, int) or not 1 <= self.depth <= get_venue(name).max_depth:
                raise ConfigError(f"{name}: depth must be within 1..{get_venue(name).max_depth}, got {self.depth!r}")
            feeds.append((name, insts))
        object.__setattr__(self, "feeds", tuple(feeds))
        object.__setattr__(self, "base_urls", MappingProxyType({k.lower(): v for k, v in self.base_urls.items()}))
        if not self.keepalive_s > 0:
            raise ConfigError("keepalive_s must be > 0")
        for name in ("heartbeat_s", "no_data_timeout_s"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0 or None")

    @property
    def keys(self) -> tuple[Key, ...]:
        """Every (venue, instrument) this worker publishes."""
        return tuple((v, i) for v, insts in self.feeds for i in insts)

    def to_json(self) -> str:
        return json.dumps(
            {
                "worker_id": self.worker_id,
                "bus": self.bus,
                "feeds": [[v, list(i)] for v, i in self.feeds],
                "depth": self.depth,
                "base_urls": dict(self.base_urls),
                "keepalive_s": self.keepalive_s,
                "heartbeat_s": self.heartbeat_s,
                "no_data_timeout_s": self.no_data_timeout_s,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> WorkerConfig:
        """The inverse of :meth:`to_json` (ConfigError when it is not one)."""
        try:
            d = json.loads(text)
            return cls(
                worker_id=str(d["worker_id"]),
                bus=str(d["bus"]),
                feeds=tuple((str(v), tuple(map(str, i))) for v, i in d["feeds"]),
                depth=int(d.get("depth", 10)),
                base_urls={str(k): str(u) for k, u in dict(d.get("base_urls", {})).items()},
                keepalive_s=float(d.get("keepalive_s", 1.0)),
                heartbeat_s=_seconds(d.get("heartbeat_s", 20.0)),
                no_data_timeout_s=_seconds(d.get("no_data_timeout_s", 30.0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"not a worker configuration: {type(exc).__name__}: {exc}") from None


def _seconds(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


class Worker(StartStop):
    """Runs a :class:`WorkerConfig`: the bus link first (consumers may connect), then the feeds."""

    def __init__(self, config: WorkerConfig, *, bus: Bus | None = None) -> None:
        self.config = config
        self.bus = bus
        self.publisher = BusPublisher()
        self.link: BusLink | None = None
        self.feeds: list[Any] = []

    async def start(self) -> None:
        cfg = self.config
        bus = self.bus = self.bus or open_bus(cfg.bus)
        self.link = bus.link(cfg.worker_id, self.publisher)
        await self.link.start()
        ws = WebSocketConfig(url="ws://unused", heartbeat_s=cfg.heartbeat_s, no_data_timeout_s=cfg.no_data_timeout_s)
        self.feeds = [
            create_feed(
                get_venue(venue),
                instruments=list(instruments),
                depth=cfg.depth,
                sink=self.publisher,
                base_url=cfg.base_urls.get(venue),
                keepalive_s=cfg.keepalive_s,
                ws=ws,
            )
            for venue, instruments in cfg.feeds
        ]
        for f in self.feeds:
            f.start()
        log.info("worker %s: %d feeds, %d keys on %s", cfg.worker_id, len(self.feeds), len(cfg.keys), bus.display_url)

    async def stop(self) -> None:
        feeds, self.feeds = self.feeds, []
        await asyncio.gather(*(f.stop() for f in feeds), return_exceptions=True)
        link, self.link = self.link, None
        if link is not None:
            await link.stop()

    def counters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bus": self.link.stats() if self.link is not None else {}}
        for f in self.feeds:
            out[f.venue] = f.stats.as_dict()
        return out
