"""Build a venue's feed: its adapter, a layer-1 client, one keeper per instrument, the driver.

Every venue's feed is built here, from its :class:`~dragonfly.venues.base.VenueSpec`;
no venue has a factory of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..instruments import Instrument, parse_instrument
from ..listeners.driver import FeedDriver, SnapshotLimiter, SnapshotSource
from ..listeners.keeper import BookKeeper
from .base import VenueSpec

__all__ = ("create_feed",)


def create_feed(
    spec: VenueSpec,
    *,
    instruments: Sequence[Instrument | str],
    depth: int,
    sink: Any,
    base_url: str | None = None,
    rest_url: str | None = None,
    ws: Any = None,
    backoff: Any = None,
    config: Any = None,
    keepalive_s: float = 1.0,
    buffer_limit: int = 10_000,
    snapshot_timeout_s: float = 10.0,
    client: Any = None,
    http: Any = None,
    limiter: SnapshotLimiter | None = None,
    book_type: Any = None,
) -> FeedDriver:
    """One connection carrying the books of ``instruments`` on the venue of ``spec``.

    Parameters
    ----------
    spec : VenueSpec
    instruments : sequence of Instrument or str
        Any accepted spelling; updates carry the normalised name (``ETH-BTC``).
    depth : int
        Levels per side published (at most ``spec.max_depth``).
    sink : Sink[BookUpdate]
        Where updates go (usually the aggregator's queue, or a Tee).
    base_url, rest_url : str, optional
        URL overrides (simulators); ``rest_url`` follows ``base_url`` unless given.
    ws : WebSocketConfig, optional
        Connection policy (heartbeat, watchdog, backoff, TLS) for WebSocket venues.
    backoff : Backoff, optional
        Reconnect policy of the client, whatever its protocol (overrides ``ws.backoff``).
    config : optional
        The venue's configuration object (its ``config.py``), instead of the default.
    keepalive_s : float
        Re-publish an unchanged LIVE top at most this often (keep it below the staleness limit).
    buffer_limit, snapshot_timeout_s
        See :class:`~dragonfly.listeners.keeper.BookKeeper` and
        :class:`~dragonfly.listeners.driver.FeedDriver`.
    client : Client, optional
        A layer-1 client to use instead of the one the adapter builds (tests, other transports).
    http, limiter, book_type
        Shared HTTP client and snapshot limiter; the core Book class (tests pass each twin).

    Raises
    ------
    ConfigError
        No instruments, a depth the venue cannot deliver, a bad URL.
    """
    if isinstance(instruments, str) or not instruments:
        raise ConfigError(f"{spec.name}: at least one instrument is required")
    if not isinstance(depth, int) or not 1 <= depth <= spec.max_depth:
        raise ConfigError(f"{spec.name} delivers at most {spec.max_depth} levels per side, asked for {depth!r}")
    cfg = spec.make_config(base_url=base_url, rest_url=rest_url, config=config)
    adapter = spec.adapter(cfg, depth=depth)
    keepers: list[BookKeeper] = []
    for inst in instruments:
        parsed = inst if isinstance(inst, Instrument) else parse_instrument(inst)
        symbol = adapter.symbol(parsed)
        keepers.append(
            BookKeeper(
                venue=spec.name,
                instrument=parsed.name,
                symbol=symbol,
                depth=depth,
                rule=adapter.rule,
                checksum=adapter.checksum,
                full_book=adapter.full_book,
                max_depth=adapter.book_depth(symbol),
                buffer_deltas=adapter.snapshot_source == SnapshotSource.REST,
                buffer_limit=buffer_limit,
                keepalive_s=keepalive_s,
                book_type=book_type,
            )
        )
    if client is None:
        client = adapter.client([k.symbol for k in keepers], ws=ws, backoff=backoff)
    return FeedDriver(
        venue=spec.name,
        adapter=adapter,
        client=client,
        keepers=keepers,
        sink=sink,
        http=http,
        limiter=limiter,
        snapshot_timeout_s=snapshot_timeout_s,
        keepalive_s=keepalive_s,
    )
