"""Turn a configuration into a running Bitstamp feed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ...clients.ws import WebSocketConfig
from ...listeners.snapshot import SnapshotListener
from ...model import BookUpdate
from ...queues import Sink
from ..registry import VenueSpec
from ..symbols import Instrument
from .config import BitstampConfig
from .data import BitstampSnapshotFeed
from .parsing import channel_name, microtimestamp, venue_symbol
from .schemas import ASKS_PATH, BIDS_PATH, DEFAULT_BASE_URL
from .websocket import BitstampWebSocketClient

__all__ = ("create_feed", "VENUE_SPEC")

#: Levels per side in ``order_book_<pair>``.
MAX_DEPTH = 100


def create_feed(
    *,
    instruments: Sequence[Instrument],
    depth: int,
    sink: Sink[BookUpdate],
    base_url: str | None = None,
    ws: WebSocketConfig | None = None,
    keepalive_s: float = 1.0,
    config: BitstampConfig | None = None,
) -> BitstampSnapshotFeed:
    """One connection subscribed to ``order_book_<pair>`` for every instrument.

    The exchange time is ``data.microtimestamp`` (also used to drop out-of-order frames).
    """
    cfg = config or BitstampConfig()
    if base_url is not None:
        cfg = cfg.with_base_url(base_url)
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"bitstamp order_book carries at most {MAX_DEPTH} levels, asked for {depth}")
    if not instruments:
        raise ValueError("at least one instrument is required")
    wscfg = (ws or cfg.ws or WebSocketConfig(url=cfg.base_url)).with_url(cfg.base_url)
    if not wscfg.name:
        wscfg = replace(wscfg, name="bitstamp")
    listeners: dict[str, SnapshotListener] = {}
    for inst in instruments:
        listeners[channel_name(venue_symbol(inst))] = SnapshotListener(
            venue="bitstamp",
            instrument=inst.name,
            bids_path=BIDS_PATH,
            asks_path=ASKS_PATH,
            depth=depth,
            sink=sink,
            sequence=microtimestamp,
            sequence_unit_ns=1000,
            keepalive_s=keepalive_s,
        )
    client = BitstampWebSocketClient(wscfg, tuple(listeners))
    return BitstampSnapshotFeed(venue="bitstamp", client=client, listeners=listeners)


VENUE_SPEC = VenueSpec(
    name="bitstamp",
    kind="snapshot",
    default_base_url=DEFAULT_BASE_URL,
    max_depth=MAX_DEPTH,
    create_feed=create_feed,
    simulator="dragonfly.sim.bitstamp:BitstampSimulator",
)
