"""A topology file with ``[scaleout]``, with real processes: its feeds in two worker processes (the local bus,
and NATS against a real ``nats-server`` started here), their updates through the file's transformer into its
two aggregators, the world view equal to what the simulators sent; a worker killed with SIGKILL turns its venues
STALE (through the transformer too), the others keep flowing, the supervisor restarts it and they are LIVE again.
And ``dragonfly run examples/topologies/scaleout.toml --simulate``, served over gRPC.

Every wait is on an event (a view, a line, a process exit) with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from natsd import NatsServer, require_nats_server

from dragonfly._core.merge import merge_levels, merge_liquidity
from dragonfly.model import BookUpdate, LiquidityView, VenueStatus, WorldView
from dragonfly.services.grpc import BookClient, GrpcClientConfig
from dragonfly.services.grpc._gen import orderbook_pb2
from dragonfly.services.grpc.protos import book_pb2
from dragonfly.topology_file import FileTopology, load_topology, parse_topology

T = 60.0  # safety net for waits that include starting Python processes on a loaded 2-core machine
DEPTH = 10
VENUES = ("binance", "bitstamp", "kraken")
LIVE, STALE = VenueStatus.LIVE, VenueStatus.STALE
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "topologies"


def doubled(update: BookUpdate) -> BookUpdate:
    """The file's transformer (it runs in this process, on the updates that come over the bus)."""
    return update._replace(bids=tuple((p, 2 * q) for p, q in update.bids),
                           asks=tuple((p, 2 * q) for p, q in update.asks))


def topology_text(bus: str) -> str:
    return f"""
[feeds.binance]
instruments = ["ETH-BTC", "BTC-USDT"]
depth = {DEPTH}

[feeds.bitstamp]
instruments = ["ETH-BTC"]
depth = {DEPTH}

[feeds.kraken]
instruments = ["ETH-BTC"]
depth = {DEPTH}

[transformers.double]
input = "kraken"
function = "{__name__}:doubled"

[aggregators.world]
kind = "bbo"
inputs = ["binance", "bitstamp", "double"]
depth = {DEPTH}
staleness_s = 4.0

[aggregators.summed]
kind = "liquidity"
inputs = ["binance", "bitstamp", "double"]
instruments = ["ETH-BTC"]
depth = {DEPTH}
staleness_s = 4.0

[scaleout]
workers = 2
bus = "{bus}"
rates = {{ binance = 10.0, bitstamp = 10.0, kraken = 10.0 }}
"""


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer(require_nats_server())
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def first(it: AsyncIterator[Any], pred: Callable[[Any], bool], timeout: float = T) -> Any:
    async def _loop() -> Any:
        async for item in it:
            if pred(item):
                return item
        raise AssertionError("stream ended")

    return await asyncio.wait_for(_loop(), timeout)


def all_live(view: WorldView | LiquidityView, venues: tuple[str, ...] = VENUES) -> bool:
    return all(view.venues[v].status is LIVE for v in venues)


def venues_in(view: WorldView) -> set[str]:
    return {lv[0] for lv in view.bids + view.asks}


def expected_books(runtime: FileTopology, instrument: str, venues: tuple[str, ...]) -> dict[str, Any]:
    """What the simulators sent last, as the aggregator must see it (kraken through the transformer)."""
    books = {}
    for v in venues:
        sent = runtime.sim.last_sent(v, instrument)
        assert sent is not None
        bids, asks = list(sent.bids), list(sent.asks)
        if v == "kraken":
            bids, asks = [(p, 2 * q) for p, q in bids], [(p, 2 * q) for p, q in asks]
        books[v] = (bids, asks)
    return books


@pytest.mark.parametrize("bus", ["local", "nats"])
async def test_scaled_out_file_same_view_and_a_killed_worker(bus: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("nats_server").url if bus == "nats" else "local"
    runtime = parse_topology(topology_text(url), path="scaleout.toml").build(simulate=True, seed=5)
    world = runtime.aggregators["world"].aggregators
    summed = runtime.aggregators["summed"].aggregators["ETH-BTC"]
    async with runtime:
        assert runtime.feeds == {} and runtime.scaleout is not None  # no feed in this process
        sup = runtime.scaleout.supervisor
        assert sup is not None and len(sup.workers) == 2
        # every venue of every instrument comes through the bus, the kraken one through the transformer
        with world["ETH-BTC"].views.subscribe(maxsize=64) as eth, world["BTC-USDT"].views.subscribe(maxsize=64) as btc:
            view = await first(eth, lambda v: all_live(v) and venues_in(v) == set(VENUES))
            await first(btc, lambda v: all_live(v, ("binance",)) and venues_in(v) == {"binance"})
        assert set(view.venues) == set(VENUES)
        # the same world view as in one process: one known state, the books the simulators sent last
        runtime.sim.pause()
        for v, inst in (("binance", "ETH-BTC"), ("binance", "BTC-USDT"), ("bitstamp", "ETH-BTC"),
                        ("kraken", "ETH-BTC")):
            await runtime.sim.step(v, inst)
        for inst, venues in (("ETH-BTC", VENUES), ("BTC-USDT", ("binance",))):
            want_bids, want_asks = merge_levels(expected_books(runtime, inst, venues), DEPTH)
            assert want_bids and want_asks
            with world[inst].views.subscribe(maxsize=64) as views:
                await first(views, lambda v, b=want_bids, a=want_asks, vs=venues: all_live(v, vs)
                            and list(v.bids) == b and list(v.asks) == a)
        sum_bids, sum_asks = merge_liquidity(expected_books(runtime, "ETH-BTC", VENUES), DEPTH)
        with summed.liquidity.subscribe(maxsize=64) as sums:
            await first(sums, lambda v: all_live(v) and list(v.bids) == sum_bids and list(v.asks) == sum_asks)
        (transformer,) = runtime.transformers
        assert transformer.processed >= 1 and transformer.errors == 0
        if bus == "nats":  # the world aggregator's view goes out for bots anywhere: orderbook.Summary bytes
            import nats

            nc = await nats.connect(url)
            try:
                sub = await nc.subscribe("dragonfly.view.ETH-BTC")
                await nc.flush()
                await runtime.sim.step("bitstamp", "ETH-BTC")  # a new view
                msg = await sub.next_msg(timeout=T)
                summary = orderbook_pb2.Summary.FromString(msg.data)
                assert summary.bids and {lv.exchange for lv in summary.bids} <= set(VENUES)
            finally:
                await nc.close()

        # kill -9 the worker that runs kraken: kraken (through the transformer) and its other venues turn STALE; the
        # simulators stay paused, so only what the test steps moves (and the dead worker's venues cannot come back)
        victim = next(w for w in sup.workers.values() if ("kraken", "ETH-BTC") in w.config.keys)
        affected = {v for v, i in victim.config.keys if i == "ETH-BTC"}
        others = sorted(set(VENUES) - affected)
        assert "kraken" in affected and others
        pid = victim.pid

        def affected_stale(v: WorldView) -> bool:
            return all(v.venues[a].status is STALE for a in affected)

        with world["ETH-BTC"].views.subscribe(maxsize=256) as views:
            killed_ns = time.time_ns()
            os.kill(pid, signal.SIGKILL)
            stale = await first(views, affected_stale)
            assert (stale.publish_ts_ns - killed_ns) / 1e9 < 4.0  # noticed at once (the process exit)
            assert not affected & venues_in(stale)  # nothing of the dead worker is served
            assert all(stale.venues[o].status is LIVE for o in others)
            for a in affected:  # the lost socket (local) or the supervisor (both) says which worker
                assert f"worker {victim.config.worker_id}" in stale.venues[a].reason, stale.venues[a].reason
            # the other venues keep flowing meanwhile: a new book of each reaches the view
            for o in others:
                await runtime.sim.step(o, "ETH-BTC")
            want = {}
            for o in others:
                sent = runtime.sim.last_sent(o, "ETH-BTC")
                want[o] = ([(p, q) for p, q in sent.bids[:DEPTH]], [(p, q) for p, q in sent.asks[:DEPTH]])
            moved = await first(views, lambda v: affected_stale(v) and all(
                o in v.books and (list(v.books[o][0]), list(v.books[o][1])) == want[o] for o in others))
            assert not affected & venues_in(moved) and all(moved.venues[o].status is LIVE for o in others)
            # the supervisor restarted the worker: once the venues send again, everything is LIVE
            runtime.sim.resume()
            back = await first(views, lambda v: all_live(v) and victim.pid != pid)
        assert "SIGKILL" in victim.last_exit
        assert victim.restarts == 1 and victim.starts == 2
        assert affected <= set(back.books)
    assert runtime.sim is None and runtime.scaleout is None
    assert all(not w.running for w in sup.workers.values())  # the workers stopped with the topology


async def test_dragonfly_run_scaleout_example_serves_every_venue() -> None:
    """``dragonfly run examples/topologies/scaleout.toml --simulate``: two worker processes, a gRPC stream with
    every venue LIVE and levels from each, a clean SIGTERM (the workers stop with it)."""
    path = EXAMPLES / "scaleout.toml"
    topo = load_topology(path)
    assert topo.scaleout is not None and topo.scaleout.workers == 2
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dragonfly", "run", str(path), "--simulate", "--any-port", "--seed", "5",
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    try:
        address = None
        lines: list[str] = []
        while address is None:  # the banner (the workers write to the same stderr)
            line = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
            assert line, lines
            lines.append(line)
            m = re.search(r"service bots \(grpc\) on (127\.0\.0\.1:\d+)$", line.strip())
            address = m.group(1) if m else None
        assert any("running" in line and "3 feeds from simulated venues" in line for line in lines), lines
        venues = {"binance", "bitstamp", "fixsim"}
        async with BookClient(GrpcClientConfig(address=address)) as client:
            await client.wait_ready(T)
            call = client.stream_book()
            update = await first(call, lambda m: {v.venue for v in m.venues if v.status == book_pb2.VENUE_STATUS_LIVE}
                                 == venues and {lv.exchange for lv in list(m.bids) + list(m.asks)} == venues)
            call.cancel()
        assert [lv.price for lv in update.bids] == sorted((lv.price for lv in update.bids), reverse=True)
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stderr.read(), T)).decode()
        assert await asyncio.wait_for(proc.wait(), T) == 0, rest
        assert rest.count("dragonfly worker: shutting down") == 2, rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
