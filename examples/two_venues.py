"""Two venues, one aggregator, two consumers -- one builder per layer.

Runs against the built-in simulators on 127.0.0.1 (no exchange is contacted):

    python examples/two_venues.py

Replace ``base_url=sim.base_urls[venue]`` by nothing (the venue's production URL is
the default) to consume the real feeds.
"""

from __future__ import annotations

import asyncio

from dragonfly.aggregators import BboAggregator
from dragonfly.clients import Backoff, WebSocketConfig
from dragonfly.sim import SimulatedVenues
from dragonfly.topology import FeedSpec, Topology

VENUES = ("binance", "bitstamp")


async def main() -> None:
    async with SimulatedVenues(venues=VENUES, instrument="ETH-BTC", seed=1) as sim:
        # layer 1 policy, shared by both feeds: ping every 10 s, reconnect on 5 s of silence
        ws = WebSocketConfig.build(url="wss://unused", heartbeat_s=10, no_data_timeout_s=5, backoff=Backoff(max_s=10))
        # layer 4: the consolidated top 10 of ETH-BTC, a venue silent for 2 s is out
        agg = BboAggregator.build(instrument="ethbtc", venues=VENUES, depth=10, staleness_s=2.0)
        # layers 1-3 per venue, publishing into the aggregator's bounded MPSC queue
        feeds = [
            FeedSpec.build(
                venue=v, instruments=["ethbtc"], depth=10, base_url=sim.base_urls[v], ws=ws
            ).create(agg.input)
            for v in VENUES
        ]
        async with Topology(feeds=feeds, aggregators=[agg]):
            # layer 5: two consumers, each with its own conflating slot
            async def printer() -> None:
                with agg.views.subscribe(maxsize=1) as views:
                    async for view in views:
                        if view.bids and view.asks:
                            bid, ask = view.bids[0], view.asks[0]
                            print(f"#{view.seq:<5} bid {bid[1]:.8f} {bid[0]:<9} ask {ask[1]:.8f} {ask[0]:<9} "
                                  f"spread {view.spread:.8f}  skipped={views.skipped}")
                        if view.seq >= 40:
                            return

            async def liquidity() -> None:
                with agg.liquidity.subscribe(maxsize=1) as liq:
                    async for lv in liq:
                        if lv.bids and lv.seq % 10 == 0:
                            price, total, per_venue = lv.bids[0]
                            print(f"       liquidity at best bid {price:.8f}: {total:.4f} {per_venue}")
                        if lv.seq >= 40:
                            return

            await asyncio.gather(printer(), liquidity())
            print({v: (h.status.value, h.reason) for v, h in agg.health().items()})


if __name__ == "__main__":
    asyncio.run(main())
