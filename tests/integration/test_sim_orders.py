"""Simulators take orders: in the venue's own signed protocol (Binance, Bitstamp) or the generic one,
fill them against their books, and the books move -- in what they send and in the world view."""

from __future__ import annotations

import asyncio
import math

import pytest

from dragonfly.clients.orders import Credentials, OrderClient, OrderRequest, SimOrderProtocol
from dragonfly.errors import OrderTimeoutError
from dragonfly.sim import SimulatedVenues
from dragonfly.topology import Pipeline, PipelineConfig
from dragonfly.venues import get_venue, parse_instrument

SIM_CREDS = Credentials("sim-key", "sim-secret", source="test")
ETHBTC = parse_instrument("ETH-BTC")


def _client(venue: str, url: str, **kw: object) -> OrderClient:
    proto = get_venue(venue).order_protocol() or SimOrderProtocol()
    creds = SIM_CREDS if proto.needs_credentials else None
    return OrderClient(proto, base_url=url, credentials=creds, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def sims():
    sim = SimulatedVenues(venues=["binance", "bitstamp-diff", "kraken"], instrument="ETH-BTC", seed=3)
    await sim.start()
    sim.pause()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_binance_sim_fills_a_signed_order_against_its_book(sims: SimulatedVenues) -> None:
    await sims.step("binance")
    before = sims.last_sent("binance")
    assert before is not None
    bids = before.bids
    want = bids[0][1] + bids[1][1] / 2  # all of the best bid and half the second
    client = _client("binance", sims["binance"].order_url)
    proto = client.protocol
    try:
        order = OrderRequest(client_id="t1", symbol=proto.symbol(ETHBTC), side="sell", qty=round(want, 8),
                             price=bids[1][0])
        result = await client.place(order)
    finally:
        await client.close()
    assert result.status == "filled"
    assert [(f.price, f.qty) for f in result.fills] == [(bids[0][0], bids[0][1]),
                                                       (bids[1][0], pytest.approx(bids[1][1] / 2))]
    after = sims.last_sent("binance")
    assert after is not None and after is not before
    assert after.bids[0][0] == bids[1][0] and after.bids[0][1] == pytest.approx(bids[1][1] / 2, abs=1e-8)
    desk = sims["binance"].orders
    assert math.isclose(desk.booked_qty("ETH-BTC"), result.filled_qty)


async def test_bitstamp_diff_sim_fills_and_sends_the_delta(sims: SimulatedVenues) -> None:
    venue = sims["bitstamp-diff"]
    sym = venue.symbols["ETH-BTC"]
    asks = venue.diff.symbols[sym].book.asks()
    client = _client("bitstamp-diff", venue.order_url)
    try:
        order = OrderRequest(client_id="t2", symbol=client.protocol.symbol(ETHBTC), side="buy",
                             qty=asks[0][1] + asks[1][1] + 1000.0, price=asks[1][0])
        result = await client.place(order)  # new order, then its fills from order_status
    finally:
        await client.close()
    assert result.status == "expired"  # limited to the second level: the rest of the IOC expires
    assert [(f.price, f.qty) for f in result.fills] == [asks[0][:2], asks[1][:2]]
    assert venue.diff.symbols[sym].book.asks()[0] == asks[2]


async def test_generic_protocol_and_faults(sims: SimulatedVenues) -> None:
    venue = sims["kraken"]
    client = _client("kraken", venue.order_url, timeout_s=0.3)
    order = OrderRequest(client_id="t3", symbol="ETH-BTC", side="sell", qty=0.5)
    try:
        venue.orders.reject_next(1, "no balance")
        rejected = await client.place(order)
        assert rejected.status == "rejected" and rejected.reason == "no balance"
        assert (await client.query(order)).unknown_order  # never accepted
        venue.orders.lose_answers(1)
        lost = OrderRequest(client_id="t4", symbol="ETH-BTC", side="sell", qty=0.5)
        with pytest.raises(OrderTimeoutError):
            await client.place(lost)
        found = await client.query(lost)  # it did execute: the query says how much
        assert found.status == "filled" and found.filled_qty == pytest.approx(0.5)
        assert venue.orders.booked_qty() == pytest.approx(0.5)
    finally:
        await client.close()


async def test_a_fill_moves_the_world_view() -> None:
    config = PipelineConfig(instrument="ETH-BTC", venues=("binance", "bitstamp-diff"), simulate=True, depth=10)
    async with Pipeline(config) as pipe:
        sim = pipe.sim
        sim.pause("binance")  # binance sends a book only when stepped; bitstamp-diff runs on
        await sim["binance"].wait_subscribed()
        await sim.step("binance")
        stream = pipe.views.subscribe(maxsize=64)

        async def view_where(pred):  # type: ignore[no-untyped-def]
            async def wait():  # type: ignore[no-untyped-def]
                async for v in stream:
                    if pred(v):
                        return v
                raise AssertionError("views ended")

            return await asyncio.wait_for(wait(), 20)

        first = await view_where(lambda v: "binance" in v.books and "bitstamp-diff" in v.books)
        best = first.books["binance"][0][0]
        client = _client("binance", sim["binance"].order_url)
        try:
            order = OrderRequest(client_id="w1", symbol="ETHBTC", side="sell", qty=best[1], price=best[0])
            result = await client.place(order)
        finally:
            await client.close()
        assert result.filled_qty == pytest.approx(best[1])
        moved = await view_where(lambda v: "binance" in v.books and v.books["binance"][0][0][0] < best[0])
        assert all(lvl[1] != best[0] for lvl in moved.bids if lvl[0] == "binance")
        stream.close()
