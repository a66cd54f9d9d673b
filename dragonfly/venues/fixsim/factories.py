"""Turn a configuration into a running FIX market-data feed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...clients.base import Backoff
from ...clients.fix import FixClient, FixClientConfig, FixSessionConfig
from ...model import BookUpdate
from ...queues import Sink
from ..registry import VenueSpec
from ..symbols import Instrument
from .config import DEFAULT_BASE_URL, FixVenueFeedConfig, parse_fix_url
from .data import FixBookListener, FixMarketDataFeed

__all__ = ("VENUE_SPEC", "create_feed")


def create_feed(
    *,
    instruments: Sequence[Instrument | str],
    depth: int,
    sink: Sink[BookUpdate],
    base_url: str | None = None,
    ws: Any = None,
    keepalive_s: float = 1.0,
    config: FixVenueFeedConfig | None = None,
    backoff: Backoff | None = None,
    ssl: Any = None,
) -> FixMarketDataFeed:
    """One FIX session subscribed to the top ``depth`` levels of every instrument.

    Parameters
    ----------
    instruments : sequence of Instrument or str
        Normalised names (``ETH-BTC``) are also the wire symbols (55).
    depth : int
    sink : Sink[BookUpdate]
    base_url : str, optional
        ``fix://host:port`` (overrides ``config.base_url``; simulators).
    ws
        Accepted for the registry's common signature; unused by FIX.
    keepalive_s : float
        An unchanged LIVE book is re-published this often (keep it below the aggregator's staleness limit).
    config : FixVenueFeedConfig, optional
    backoff : Backoff, optional
        Reconnect policy.
    ssl : ssl.SSLContext, optional
        TLS context for ``fixs://`` (default: the system's verifying context).
    """
    cfg = config or FixVenueFeedConfig()
    if base_url is not None:
        cfg = cfg.with_base_url(base_url)
    if not 1 <= depth <= cfg.max_depth:
        raise ValueError(f"{cfg.venue} serves at most {cfg.max_depth} levels, asked for {depth}")
    if not instruments:
        raise ValueError("at least one instrument is required")
    host, port, tls = parse_fix_url(cfg.base_url)
    session = FixSessionConfig(
        sender_comp_id=cfg.sender_comp_id,
        target_comp_id=cfg.target_comp_id,
        heartbeat_s=cfg.heartbeat_s,
        password=cfg.password,
        store_path=cfg.store_path,
        reset_seq_num=cfg.reset_seq_num,
    )
    ccfg = FixClientConfig(host=host, port=port, session=session, name=cfg.venue,
                           ssl=(ssl or True) if tls else None)
    if backoff is not None:
        ccfg = replace(ccfg, backoff=backoff)
    listeners: dict[str, FixBookListener] = {}
    for inst in instruments:
        name = inst if isinstance(inst, str) else inst.name
        listeners[name] = FixBookListener(venue=cfg.venue, instrument=name, symbol=name, depth=depth, sink=sink)
    return FixMarketDataFeed(venue=cfg.venue, client=FixClient(ccfg), listeners=listeners, depth=depth,
                             incremental=cfg.incremental, keepalive_s=keepalive_s)


VENUE_SPEC = VenueSpec(
    name="fixsim",
    kind="diff",
    default_base_url=DEFAULT_BASE_URL,
    max_depth=50,
    create_feed=create_feed,
    simulator="dragonfly.sim.fix_venue:SimulatedFixVenue",
    protocol="fix",
)
