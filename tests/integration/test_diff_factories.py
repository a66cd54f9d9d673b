"""Every diff venue's ``create_feed`` (its registry spec) builds a working feed against the simulator."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim.diff.server import DiffSim, DiffSimConfig
from dragonfly.venues.registry import VenueSpec
from dragonfly.instruments import parse_instrument

CASES = [
    ("dragonfly.venues.binance.diff", "binance", ("BTCUSDT", "ETHUSDT")),
    ("dragonfly.venues.bitstamp.diff", "bitstamp", ("btcusd", "ethusd")),
    ("dragonfly.venues.coinbase.factories", "coinbase", ("BTC-USD", "ETH-USD")),
    ("dragonfly.venues.kraken.factories", "kraken", ("XBT/USD", "ETH/USD")),
    ("dragonfly.venues.okx.factories", "okx", ("BTC-USDT", "ETH-USDT")),
    ("dragonfly.venues.bybit.factories", "bybit", ("BTCUSDT", "ETHUSDT")),
]


class Sink:
    def __init__(self) -> None:
        self.last: dict[str, BookUpdate] = {}
        self.event = asyncio.Event()

    def publish(self, update: BookUpdate) -> None:
        self.last[update.instrument] = update
        self.event.set()


@pytest.mark.parametrize(("module", "sim_venue", "symbols"), CASES)
async def test_create_feed_from_spec(module: str, sim_venue: str, symbols: tuple[str, str]) -> None:
    spec = importlib.import_module(module).VENUE_SPEC
    assert isinstance(spec, VenueSpec) and spec.kind == "diff"
    sink = Sink()
    async with DiffSim(DiffSimConfig(venue=sim_venue, symbols=symbols, depth=50 if sim_venue == "bybit" else 100)) as sim:
        feed = spec.create_feed(
            instruments=[parse_instrument("BTC-USD" if s == "XBT/USD" else s) for s in symbols],
            depth=5,
            sink=sink,
            base_url=sim.ws_url,
            ws=WebSocketConfig.build(url=sim.ws_url, backoff=Backoff(initial_s=0.01, max_s=0.05)),
        )
        feed.start()
        try:
            wanted = {s.instrument for s in feed.listeners.values()}
            assert len(wanted) == 2 and all("-" in name for name in wanted)  # normalised names

            async def live() -> None:
                while not (set(sink.last) == wanted and all(u.status is VenueStatus.LIVE for u in sink.last.values())):
                    sink.event.clear()
                    await sink.event.wait()

            await asyncio.wait_for(live(), 10)
            for key, sync in feed.listeners.items():
                assert sink.last[sync.instrument].bids == sim.truth_top(key, 5)[0]
            assert set(feed.listener_stats()) == wanted
        finally:
            await feed.stop()
        assert feed.error is None
        assert all(s.status is VenueStatus.STALE for s in feed.listeners.values())


@pytest.mark.parametrize(("module", "has_rest"), [(m, v in ("binance", "bitstamp")) for m, v, _ in CASES])
def test_create_feed_url_overrides(module: str, has_rest: bool) -> None:
    """``base_url`` moves the REST snapshot URL with it (same host and port); an explicit
    ``rest_url`` wins; a venue without REST snapshots refuses ``rest_url``."""
    from dragonfly.errors import ConfigError

    spec = importlib.import_module(module).VENUE_SPEC
    insts = [parse_instrument("BTC-USD")]
    feed = spec.create_feed(instruments=insts, depth=5, sink=Sink(), base_url="ws://127.0.0.1:9/ws")
    cfg = feed.venue.config
    assert cfg.base_url == "ws://127.0.0.1:9/ws"
    if has_rest:
        assert cfg.rest_url == "http://127.0.0.1:9/ws"
        feed = spec.create_feed(instruments=insts, depth=5, sink=Sink(), rest_url="http://127.0.0.1:8/")
        assert feed.venue.config.rest_url == "http://127.0.0.1:8/"
        assert feed.venue.config.base_url == type(feed.venue.config)().base_url
    else:
        with pytest.raises(ConfigError, match="rest_url"):
            spec.create_feed(instruments=insts, depth=5, sink=Sink(), rest_url="http://127.0.0.1:8/")
