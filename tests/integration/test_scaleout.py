"""Scale-out with real processes: worker processes (``--workers N``), the local bus (Unix sockets) and the nats
bus against a real ``nats-server`` started here on 127.0.0.1.

- the same seeded market gives the same world view in one process, with 2 workers, and over NATS (a
  ``dragonfly worker`` and a ``dragonfly-grpc-server --bus nats://...`` as two "hosts");
- a worker killed with SIGKILL: its venues STALE (with the reason) within their staleness limit, the others keep
  flowing, the supervisor restarts it and they come back LIVE; on both buses;
- the NATS server killed and restarted: every venue STALE with the reason meanwhile, nothing served, LIVE again;
- garbage, truncated, mismatched and inconsistent messages on the bus: counted, dropped, nothing of them served.

Every wait is on an event (a view, a line, a process exit) with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_helpers import Proc, command, start_server
from natsd import NatsServer, require_nats_server

from dragonfly._core.busmsg import decode_update, encode_update
from dragonfly._core.merge import merge_levels
from dragonfly.bus.base import BusFeed
from dragonfly.bus.local import LocalBus, UnixBusClient
from dragonfly.clients.base import Backoff
from dragonfly.model import BookUpdate, VenueStatus, WorldView
from dragonfly.services.grpc import BookClient, GrpcClientConfig
from dragonfly.services.grpc._gen import orderbook_pb2
from dragonfly.sim import SimulatedVenues
from dragonfly.topology import Pipeline, PipelineConfig

T = 60.0  # safety net for waits that include starting Python processes on a loaded 2-core machine
DEPTH = 10
VENUES = ("binance", "bitstamp", "kraken")
LIVE, STALE = VenueStatus.LIVE, VenueStatus.STALE


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer(require_nats_server())
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def wait_view(p: Pipeline, pred: Callable[[WorldView], bool], timeout: float = T) -> WorldView:
    async def _loop() -> WorldView:
        with p.stream(maxsize=64) as s:
            async for view in s:
                if pred(view):
                    return view
        raise AssertionError("view stream ended")

    return await asyncio.wait_for(_loop(), timeout)


def all_live(view: WorldView, venues: tuple[str, ...] = VENUES) -> bool:
    return all(view.venues[v].status is LIVE for v in venues)


def venues_in(view: WorldView) -> set[str]:
    return {lv[0] for lv in view.bids + view.asks}


def config(**kw: Any) -> PipelineConfig:
    base: dict[str, Any] = {
        "instrument": "ethbtc", "venues": VENUES, "depth": DEPTH, "simulate": True, "staleness_s": 4.0,
        "sim_options": {"seed": 5, "interval_s": 0.05},
    }
    base.update(kw)
    return PipelineConfig(**base)


# -- the same world view in every mode --------------------------------------------------------------------------


async def _levels(stream: AsyncIterator[Any], pred: Callable[[Any], bool]) -> Any:
    async for msg in stream:
        if pred(msg):
            return msg
    raise AssertionError("stream ended")


def _as_levels(msg: Any) -> tuple[list, list]:
    return ([(lv.exchange, lv.price, lv.amount) for lv in msg.bids],
            [(lv.exchange, lv.price, lv.amount) for lv in msg.asks])


def _all_live_msg(msg: Any) -> bool:
    return len(msg.venues) == len(VENUES) and all(h.status == 2 for h in msg.venues)  # VENUE_STATUS_LIVE


async def test_same_world_view_in_one_process_with_workers_and_over_nats(nats_server: NatsServer) -> None:
    instruments = ("ETH-BTC", "BTC-USDT")
    async with SimulatedVenues(venues=VENUES, instruments=instruments, seed=11, interval_s=0.05) as sim:
        common = ["--instrument-name", ",".join(instruments), "--venues", ",".join(VENUES), "--depth", str(DEPTH)]
        common += [f"--base-url={v}={u}" for v, u in sim.base_urls.items()]
        procs: list[Proc] = []
        try:
            one, one_addr = await asyncio.to_thread(start_server, *common, "--port", "0")
            procs.append(one)
            two, two_addr = await asyncio.to_thread(start_server, *common, "--port", "0", "--workers", "2")
            procs.append(two)
            worker = Proc([*command("dragonfly"), "worker", "--bus", nats_server.url, "--keepalive", "1", *common])
            procs.append(worker)
            await asyncio.to_thread(worker.wait_line, lambda tag, text: "feeds" in text, "the worker to start", T)
            remote, remote_addr = await asyncio.to_thread(start_server, *common, "--port", "0", "--bus",
                                                          nats_server.url)
            procs.append(remote)
            clients = [BookClient(GrpcClientConfig(address=a)) for a in (one_addr, two_addr, remote_addr)]
            try:
                streams = {}
                for c in clients:
                    await c.wait_ready(T)
                    for inst in instruments:
                        s = c.stream_book(instrument=inst, depth=DEPTH)
                        streams[(c.config.address, inst)] = s
                        await asyncio.wait_for(_levels(s, _all_live_msg), T)  # every venue LIVE everywhere
                sim.pause()  # then one known state: a last book per venue and instrument
                for v in VENUES:
                    for inst in instruments:
                        await sim.step(v, inst)
                expected = {}
                for inst in instruments:
                    books = {}
                    for v in VENUES:
                        b = sim.last_sent(v, inst)
                        assert b is not None
                        books[v] = (b.bids, b.asks)
                    expected[inst] = merge_levels(books, DEPTH)
                    assert expected[inst][0] and expected[inst][1]
                got = {}
                for (addr, inst), s in streams.items():
                    msg = await asyncio.wait_for(
                        _levels(s, lambda m, inst=inst: _all_live_msg(m) and _as_levels(m) == expected[inst]), T
                    )
                    got[(addr, inst)] = _as_levels(msg)
                    s.cancel()
                for inst in instruments:  # the same view from the three modes
                    views = [got[(a, inst)] for a in (one_addr, two_addr, remote_addr)]
                    assert views[0] == views[1] == views[2] == expected[inst]
            finally:
                for c in clients:
                    await c.close()
            for p in procs:
                p.signal(signal.SIGTERM)
            for p in procs:
                assert await asyncio.to_thread(p.wait, T) == 0, "".join(p.err)[-2000:]
        finally:
            for p in procs:
                p.kill()


# -- a worker killed --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bus", ["local", "nats"])
async def test_a_killed_worker_is_stale_then_restarted(bus: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("nats_server").url if bus == "nats" else "local"
    cfg = config(workers=2, bus=url)
    async with Pipeline(cfg) as p:
        await wait_view(p, all_live)
        assert p.scaleout is not None and p.scaleout.supervisor is not None
        sup = p.scaleout.supervisor
        victim = sup.workers["1"]
        affected = {v for v, _ in victim.config.keys}
        others = set(VENUES) - affected
        assert affected and others  # three feeds over two workers
        pid = victim.pid
        seen_stale: list[WorldView] = []
        other_books: set[Any] = set()
        with p.stream(maxsize=256) as views:
            killed_ns = time.time_ns()
            os.kill(pid, signal.SIGKILL)

            async def until_back() -> WorldView:
                async for view in views:
                    if all(view.venues[v].status is STALE for v in affected):
                        seen_stale.append(view)
                        other_books.add(tuple(view.books.get(o) for o in sorted(others)))
                        assert not affected & venues_in(view)  # nothing of the dead worker is served
                        assert all(view.venues[o].status is LIVE for o in others)
                    elif seen_stale and all_live(view) and victim.pid != pid:
                        return view
                raise AssertionError("view stream ended")

            back = await asyncio.wait_for(until_back(), T)
        first = seen_stale[0]
        assert (first.publish_ts_ns - killed_ns) / 1e9 < cfg.staleness_s  # noticed at once (the process exit)
        for v in affected:
            assert f"worker {victim.config.worker_id}" in first.venues[v].reason, first.venues[v].reason
        assert len(other_books) >= 2  # the other venues kept flowing meanwhile
        assert victim.restarts == 1 and victim.starts == 2
        assert "SIGKILL" in victim.last_exit
        assert all_live(back) and affected <= set(back.books)


# -- the NATS server killed and restarted ------------------------------------------------------------------------


async def test_nats_server_restart_is_survived(nats_server: NatsServer) -> None:
    cfg = config(workers=2, bus=nats_server.url)
    async with Pipeline(cfg) as p:
        await wait_view(p, all_live)
        with p.stream(maxsize=256) as views:
            await asyncio.to_thread(nats_server.kill)

            async def all_stale() -> WorldView:
                async for view in views:
                    if all(view.venues[v].status is STALE for v in VENUES):
                        return view
                raise AssertionError("view stream ended")

            down = await asyncio.wait_for(all_stale(), cfg.staleness_s)  # at once, not by the staleness timer
        assert down.bids == () and down.asks == ()  # nothing stale served
        for v in VENUES:
            assert "bus nats" in down.venues[v].reason, down.venues[v].reason
        await asyncio.to_thread(nats_server.start)
        back = await wait_view(p, all_live)
        assert set(VENUES) <= set(back.books) and back.bids and back.asks
        assert p.scaleout is not None
        (feed,) = p.scaleout.feeds
        assert feed.stats.losses >= 1 and feed.client.stats.reconnects >= 1
        assert p.scaleout.supervisor is not None
        assert all(w.restarts == 0 for w in p.scaleout.supervisor.workers.values())  # no worker died


# -- bad messages on the bus -------------------------------------------------------------------------------------


def _bad(price: float, **kw: Any) -> BookUpdate:
    fields: dict[str, Any] = {
        "venue": "binance", "instrument": "ETH-BTC", "bids": ((price, 1.0),), "asks": ((price + 1.0, 1.0),),
        "status": LIVE, "exchange_ts_ns": 0, "receive_ts_ns": time.time_ns(), "reason": "",
    }
    fields.update(kw)
    return BookUpdate(**fields)


MARK = 12345.0  # no simulated book of ETH-BTC is anywhere near


async def test_bad_messages_on_the_nats_subjects_are_counted_and_dropped(nats_server: NatsServer) -> None:
    import nats

    cfg = config(venues=("binance", "bitstamp"), workers=1, bus=nats_server.url)
    async with Pipeline(cfg) as p:
        await wait_view(p, lambda v: all_live(v, ("binance", "bitstamp")))
        nc = await nats.connect(nats_server.url)
        try:
            summaries: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)

            async def on_view(msg: Any) -> None:
                if not summaries.full():
                    summaries.put_nowait(msg.data)

            await nc.subscribe("dragonfly.view.ETH-BTC", cb=on_view)
            # a subject no worker publishes on (the bus keeps the latest message per subject until read: one at a
            # time, each counted before the next)
            subject = "dragonfly.book.nosuch.ETH-BTC"
            good = encode_update(_bad(MARK, venue="nosuch"))
            crossed = encode_update(_bad(MARK, venue="nosuch", asks=((MARK - 1.0, 1.0),)))
            mismatched = encode_update(_bad(MARK))  # a binance update on another venue's subject
            assert p.scaleout is not None
            (feed,) = p.scaleout.feeds

            def never_served(view: WorldView) -> None:
                assert MARK not in {lv[1] for lv in view.bids + view.asks}

            for payload in (b"garbage" * 8, b"", good[:-5], good[:20], good + b"\x00", crossed, mismatched):
                before = feed.stats.messages
                await nc.publish(subject, payload)
                await nc.flush()
                await wait_view(p, lambda v, before=before: (never_served(v), feed.stats.messages > before)[1])

            def all_counted(view: WorldView) -> bool:
                never_served(view)
                s = feed.stats
                return s.bad_messages == 5 and s.invalid_tops == 1 and s.mismatched == 1

            view = await wait_view(p, all_counted)
            assert all_live(view, ("binance", "bitstamp"))
            assert feed.stats.errors_by_reason == {"magic": 1, "truncated": 3, "trailing": 1, "top": 1, "subject": 1}
            # the consolidated view is on the bus for bots: orderbook.Summary bytes
            data = await asyncio.wait_for(summaries.get(), T)
            summary = orderbook_pb2.Summary.FromString(data)
            assert summary.bids and summary.asks
            assert {lv.exchange for lv in list(summary.bids) + list(summary.asks)} <= {"binance", "bitstamp"}
            assert summary.spread == pytest.approx(summary.asks[0].price - summary.bids[0].price)
        finally:
            await nc.close()


async def test_bad_frames_on_the_local_bus_are_counted_and_dropped() -> None:
    """A fake worker on the local bus's socket writes garbage, a truncated message, a good one, then a frame
    length no message can have (a corrupt stream): the feed drops what is bad, forwards what is good, and
    treats the corrupt stream as a lost connection (STALE with the reason) and connects again."""
    short = tempfile.TemporaryDirectory(prefix="dfb-", dir="/tmp")  # a Unix socket path holds ~100 bytes
    bus = LocalBus(short.name)
    path = bus.path("fake")
    good = encode_update(_bad(MARK))
    connections: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await connections.put(writer)

    server = await asyncio.start_unix_server(serve, path=str(path))
    got: list[BookUpdate] = []
    arrived = asyncio.Event()

    class Sink:
        def publish(self, u: BookUpdate) -> None:
            got.append(u)
            arrived.set()

    client = UnixBusClient(path, name="bus worker fake", backoff=Backoff(initial_s=0.01, max_s=0.05))
    feed = BusFeed(name="bus worker fake", client=client, sink=Sink(), keys=[("binance", "ETH-BTC")])
    feed.start()
    try:
        writer = await asyncio.wait_for(connections.get(), T)

        def frame(b: bytes) -> bytes:
            return struct.pack("<I", len(b)) + b

        writer.write(frame(b"\x00garbage" * 4) + frame(good[:30]) + frame(good))
        await writer.drain()
        while not got:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), T)
        assert got == [decode_update(good)]
        assert feed.stats.bad_messages == 2 and feed.stats.errors_by_reason == {"magic": 1, "truncated": 1}
        writer.write(struct.pack("<I", 1 << 30))  # a corrupt stream
        await writer.drain()
        while len(got) < 2:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), T)
        lost = got[1]
        assert lost.status is STALE and (lost.venue, lost.instrument) == ("binance", "ETH-BTC")
        assert "corrupt stream" in lost.reason and lost.bids == () and lost.asks == ()
        await asyncio.wait_for(connections.get(), T)  # and it connected again
        assert feed.stats.losses == 1
    finally:
        await feed.stop()
        for w in writers:
            w.close()
        server.close()
        await server.wait_closed()
        short.cleanup()
