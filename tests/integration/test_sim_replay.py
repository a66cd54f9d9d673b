"""Simulators replaying recordings over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from dragonfly._core.merge import merge_levels
from dragonfly.instruments import parse_instrument
from dragonfly.model import VenueStatus
from dragonfly.sim import Recording, SimulatedVenues, VenueSimulator, make_encoder, write_cryptofeed
from dragonfly.sim.market import MidPrice, VenueBookModel
from dragonfly.topology import Pipeline, PipelineConfig

TIMEOUT = 10.0


def _record(venue: str, key: str, path: Path, n: int, seed: int) -> None:
    """Generate ``n`` frames in the venue's format (its encoder's) and write them as a cryptofeed capture."""
    sim = VenueSimulator(make_encoder(venue), venue=venue, instruments=["ETH-BTC"], seed=seed)
    inst = parse_instrument("ETH-BTC")
    mid = MidPrice(seed=seed, start=0.05)
    model = VenueBookModel(venue=sim.venue, instrument=inst, mid=mid, style=sim.style, seed=seed)
    rows = []
    seq = 1_600_000_000_000_000
    for i in range(n):
        book, _ = model.next_book(i * 0.05)
        seq += 1 + i
        rows.append((1_600_000_000.0 + i * 0.05, sim.encoder.render(key, book.bids_text, book.asks_text, seq)))
    write_cryptofeed(path, rows)


async def test_replayed_recordings_feed_the_pipeline(tmp_path: Path) -> None:
    _record("binance", "ethbtc@depth20@100ms", tmp_path / "binance.0", 40, 1)
    _record("bitstamp", "order_book_ethbtc", tmp_path / "bitstamp.0", 40, 2)
    replay = {v: Recording.load(tmp_path / f"{v}.0") for v in ("binance", "bitstamp")}
    async with SimulatedVenues(venues=("binance", "bitstamp"), instrument="ETH-BTC", replay=replay, speed=20.0) as sim:
        cfg = PipelineConfig(instrument="ETH-BTC", base_urls=sim.base_urls, staleness_s=30.0)
        async with Pipeline(cfg) as p:
            for v in ("binance", "bitstamp"):
                await asyncio.wait_for(sim[v].replay_done.wait(), TIMEOUT)
                assert len(sim[v].history["ETH-BTC"]) == 40
            books = {v: (sim.last_sent(v).bids, sim.last_sent(v).asks) for v in ("binance", "bitstamp")}  # type: ignore[union-attr]
            want = merge_levels(books, 10)

            async def until() -> None:
                with p.stream(maxsize=64) as s:
                    async for view in s:
                        if (list(view.bids), list(view.asks)) == want:
                            assert all(h.status is VenueStatus.LIVE for h in view.venues.values())
                            return

            await asyncio.wait_for(until(), TIMEOUT)
            counters = p.counters()
            for v in ("binance", "bitstamp"):  # every recorded frame was read and applied
                assert counters[v]["frames"] - counters[v]["control_frames"] == 40, counters[v]  # not the acks
                assert counters[v]["instruments"]["ETH-BTC"]["snapshots"] == 40, counters[v]


async def test_capture_replay_is_byte_for_byte(captures: Path) -> None:
    path = captures / "binance" / "derived__hftbacktest_spot_BTCUSDT_depth-100ms.jsonl"
    rec = Recording.load(path, limit=500)
    async with VenueSimulator(make_encoder("binance"), instruments=["BTC-USDT"], replay=rec, speed=None) as sim:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(sim.base_url + "/stream?streams=btcusdt@depth@100ms") as ws:
                got = []

                async def read() -> None:
                    while len(got) < len(rec):
                        msg = await ws.receive()
                        assert msg.type is aiohttp.WSMsgType.TEXT
                        got.append(msg.data)

                await asyncio.wait_for(read(), TIMEOUT)
    assert got == [payload for _, payload in rec]
