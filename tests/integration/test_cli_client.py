"""``dragonfly-grpc-client`` (and ``demo``'s view) in process, against a gRPC server fed synthetic views."""

from __future__ import annotations

import asyncio
import io

from dragonfly import cli
from dragonfly.model import VenueHealth, VenueStatus, WorldView
from dragonfly.queues import Broadcast
from dragonfly.services.grpc import GrpcServer, GrpcServerConfig, ServedBook
from dragonfly.services.grpc.testing import synthetic_view

T = 20.0
VENUES = ("venue-a", "venue-b")


def _empty_view(seq: int) -> WorldView:
    """What the aggregator publishes first: venues still syncing, no levels."""
    health = {v: VenueHealth(v, VenueStatus.SYNCING, 0, "connecting") for v in VENUES}
    return WorldView("ETH-BTC", seq, (), (), 0.0, health)


async def test_count_does_not_count_the_empty_views_of_venues_still_syncing() -> None:
    views: Broadcast = Broadcast(name="views")
    views.publish(_empty_view(1))
    book = ServedBook(instrument="ETH-BTC", venues=VENUES, depth=10, views=views)
    async with GrpcServer([book], GrpcServerConfig(port=0)) as server:
        args = cli._client_parser("dragonfly-grpc-client").parse_args(
            ["--address", server.address, "--count", "2", "--plain"]
        )
        out = io.StringIO()
        client = asyncio.ensure_future(cli._client(args, prog="dragonfly-grpc-client", out=out))

        async def sent(n: int) -> None:  # the one subscriber has been sent n updates
            while not (server.subscribers() and server.subscribers()[0].sent >= n):  # polled: no event for it
                if client.done():
                    return
                await asyncio.sleep(0.005)

        for seq in (2, 3):
            await asyncio.wait_for(sent(seq - 1), T)
            views.publish(synthetic_view(seq, venues=VENUES))
        assert await asyncio.wait_for(client, T) == 0
    headers = [ln.split()[1] for ln in out.getvalue().splitlines() if ln.startswith("ETH-BTC seq=")]
    assert headers == ["seq=1", "seq=2", "seq=3"]  # the empty view is shown, then two books
    assert out.getvalue().count("  bid venue-") >= 2
