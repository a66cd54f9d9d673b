"""Turn a configuration into a running Binance feed."""

from __future__ import annotations

from collections.abc import Sequence

from ...clients.ws import WebSocketConfig
from ...listeners.snapshot import SnapshotListener
from ...model import BookUpdate
from ...queues import Sink
from ..registry import VenueSpec
from ..symbols import Instrument
from .config import BinanceConfig
from .data import BinanceSnapshotFeed
from .parsing import last_update_id, stream_name, venue_symbol
from .schemas import ASKS_PATH, BIDS_PATH, DEFAULT_BASE_URL
from .websocket import BinanceWebSocketClient

__all__ = ("create_feed", "VENUE_SPEC")


def create_feed(
    *,
    instruments: Sequence[Instrument],
    depth: int,
    sink: Sink[BookUpdate],
    base_url: str | None = None,
    ws: WebSocketConfig | None = None,
    keepalive_s: float = 1.0,
    config: BinanceConfig | None = None,
) -> BinanceSnapshotFeed:
    """One connection carrying ``<symbol>@depth20@100ms`` for every instrument.

    Parameters
    ----------
    instruments : sequence of Instrument
    depth : int
        Levels per side forwarded (at most the channel's ``levels``).
    sink : Sink[BookUpdate]
    base_url : str, optional
        Overrides ``config.base_url`` (simulator URLs).
    ws : WebSocketConfig, optional
        Connection policy; its URL is replaced.
    """
    cfg = config or BinanceConfig()
    if base_url is not None:
        cfg = cfg.with_base_url(base_url)
    if not 1 <= depth <= cfg.levels:
        raise ValueError(f"binance partial depth carries at most {cfg.levels} levels, asked for {depth}")
    if not instruments:
        raise ValueError("at least one instrument is required")
    wscfg = (ws or cfg.ws or WebSocketConfig(url=cfg.base_url)).with_url(cfg.base_url)
    if not wscfg.name:
        from dataclasses import replace

        wscfg = replace(wscfg, name="binance")
    listeners: dict[str, SnapshotListener] = {}
    for inst in instruments:
        key = stream_name(venue_symbol(inst), cfg.levels, cfg.speed)
        listeners[key] = SnapshotListener(
            venue="binance",
            instrument=inst.name,
            bids_path=BIDS_PATH,
            asks_path=ASKS_PATH,
            depth=depth,
            sink=sink,
            sequence=last_update_id,
            keepalive_s=keepalive_s,
        )
    client = BinanceWebSocketClient(wscfg, tuple(listeners))
    return BinanceSnapshotFeed(venue="binance", client=client, listeners=listeners)


VENUE_SPEC = VenueSpec(
    name="binance",
    kind="snapshot",
    default_base_url=DEFAULT_BASE_URL,
    max_depth=20,
    create_feed=create_feed,
    simulator="dragonfly.sim.binance:BinanceSimulator",
)
