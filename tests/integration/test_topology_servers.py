"""Layer 5 in one process: :class:`ServiceHost` runs gRPC and FIX 4.4 side by side over pipelines, for the
Python API and for the commands (``dragonfly-grpc-server --fix-port``, ``dragonfly-fix-server``), and gRPC health
follows venue liveness.

Everything runs on 127.0.0.1; every wait is on an event with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import dragonfly.sim
from dragonfly import cli
from dragonfly._core.fix import market_data
from dragonfly._core.merge import merge_levels
from dragonfly.clients.base import Backoff
from dragonfly.clients.fix import FixClient
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.errors import BindError, ConfigError, VenueConnectionError
from dragonfly.model import VenueStatus, WorldView
from dragonfly.queues import Broadcast
from dragonfly.services.fix_server import FixServerConfig
from dragonfly.services.grpc import BookClient, GrpcClientConfig, GrpcServer, GrpcServerConfig, ServedBook
from dragonfly.services.grpc.testing import synthetic_view
from dragonfly.services.host import ServiceHost
from dragonfly.sim import SimulatedVenues
from dragonfly.topology import Pipeline, PipelineConfig

T = 20.0
DEPTH = 10
WS = WebSocketConfig(url="ws://127.0.0.1:1", heartbeat_s=5.0, no_data_timeout_s=30.0,
                     backoff=Backoff(initial_s=0.02, max_s=0.2))
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICES = ("orderbook.OrderbookAggregator", "dragonfly.v1.Aggregator")


async def wait_view(p: Pipeline, pred: Callable[[WorldView], bool]) -> WorldView:
    async def _loop() -> WorldView:
        with p.stream(maxsize=64) as s:
            async for view in s:
                if pred(view):
                    return view
        raise AssertionError("view stream ended")

    return await asyncio.wait_for(_loop(), T)


def live(*venues: str) -> Callable[[WorldView], bool]:
    return lambda v: all(v.venues[x].status is VenueStatus.LIVE for x in venues)


async def first(it: AsyncIterator[Any], pred: Callable[[Any], bool]) -> Any:
    """The first item of ``it`` satisfying ``pred``."""

    async def _loop() -> Any:
        async for item in it:
            if pred(item):
                return item
        raise AssertionError("stream ended")

    return await asyncio.wait_for(_loop(), T)


def summary_levels(msg: Any) -> tuple[list, list]:
    return ([(lv.exchange, lv.price, lv.amount) for lv in msg.bids],
            [(lv.exchange, lv.price, lv.amount) for lv in msg.asks])


def fix_levels(msg: Any) -> tuple[list, list]:
    md = market_data(msg)
    bids = [(md.entry_market(i), md.price(i), md.size(i)) for i in range(len(md)) if md.side(i) == 0]
    asks = [(md.entry_market(i), md.price(i), md.size(i)) for i in range(len(md)) if md.side(i) == 1]
    return bids, asks


async def fix_customer(port: int, comp: str = "BOT", password: str | None = "pw",
                       symbols: tuple[str, ...] = ("ETH-BTC",)) -> FixClient:
    client = FixClient.build(host="127.0.0.1", port=port, sender_comp_id=comp, target_comp_id="DRAGONFLY",
                             password=password)
    await asyncio.wait_for(client.connect(), T)
    # full refreshes (265=0): every change of the world view is a complete 35=W
    for i, symbol in enumerate(symbols):
        await client.send_message("V", [(262, f"r{i}"), (263, 1), (264, DEPTH), (265, 0), (146, 1), (55, symbol)])
    return client


def logged_out(client: FixClient) -> asyncio.Future[str]:
    """Resolves with the reason the session ended (``"server shutting down"`` on a clean stop)."""
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    client.on_disconnect = lambda c, reason: gone.done() or gone.set_result(reason)
    return gone


async def health(address: str, service: str) -> int:
    async with grpc.aio.insecure_channel(address) as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=T)
    return int(reply.status)


async def health_watch(address: str, service: str, want: int) -> None:
    """Wait (on the Watch stream) until ``service`` reports ``want``."""
    async with grpc.aio.insecure_channel(address) as ch:
        call = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=service))
        try:
            await first(call, lambda r: r.status == want)
        finally:
            call.cancel()


# -- the Python API: ServiceHost ------------------------------------------------------------------


async def test_grpc_and_fix_serve_the_same_book_from_one_pipeline() -> None:
    venues = ("binance", "bitstamp", "fixsim")  # a FIX venue in, FIX customers out
    cfg = PipelineConfig(instrument="ethbtc", venues=venues, depth=DEPTH, simulate=True, staleness_s=2.0, ws=WS,
                         sim_options={"seed": 5, "interval_s": 0.02})
    p = Pipeline(cfg)
    async with ServiceHost([p], grpc=GrpcServerConfig(port=0, health_follows_venues=True),
                           fix=FixServerConfig(port=0, customers={"BOT": "pw"})) as host:
        gsrv, fsrv = host.grpc_server, host.fix_server
        assert gsrv is not None and fsrv is not None
        assert dict(host.addresses) == {"gRPC": gsrv.address, "FIX": fsrv.address}
        await wait_view(p, live(*venues))
        p.sim.pause()
        books = {v: (p.sim.last_sent(v).bids, p.sim.last_sent(v).asks) for v in venues}
        want = merge_levels(books, DEPTH)
        assert len(want[0]) == DEPTH and len(want[1]) == DEPTH
        async with BookClient(GrpcClientConfig(address=gsrv.address)) as gclient:
            call = gclient.book_summary()
            got = await first(call, lambda m: summary_levels(m) == want)
            call.cancel()
        assert got.spread == want[1][0][1] - want[0][0][1]
        fclient = await fix_customer(fsrv.port)
        try:
            w = await first(fclient.messages(), lambda m: m.msg_type == "W" and fix_levels(m) == want)
            assert market_data(w).symbol == "ETH-BTC"
        finally:
            await fclient.close()
        assert fsrv.stats.logons == 1 and fsrv.stats.snapshots >= 1
        assert await health(gsrv.address, "dragonfly.v1.Aggregator/ETH-BTC") == SERVING
    assert p.sim is None  # the host stopped the pipeline and its simulators
    assert not host.running and dict(host.addresses) == {}


async def test_two_pipelines_over_grpc_and_fix_and_a_clean_stop() -> None:
    instruments = ("ETH-BTC", "BTC-USDT")
    async with SimulatedVenues(venues=("binance", "bitstamp"), instruments=instruments, seed=9, interval_s=0.02) as sim:
        pipes = [Pipeline(PipelineConfig(instrument=i, depth=DEPTH, base_urls=sim.base_urls, staleness_s=2.0, ws=WS))
                 for i in instruments]
        host = ServiceHost(pipes, grpc=GrpcServerConfig(port=0), fix=FixServerConfig(port=0, customers={"BOT": "pw"}))
        assert sum(s.connections_accepted for s in sim.simulators.values()) == 0
        await host.start()
        await host.start()  # a no-op when running
        try:
            # gRPC: both instruments listed, each streams its own book
            async with BookClient(GrpcClientConfig(address=host.addresses["gRPC"])) as gclient:
                listed = await gclient.list_instruments()
                assert [i.name for i in listed.instruments] == list(instruments)
                for inst in instruments:
                    call = gclient.stream_book(instrument=inst)
                    msg = await first(call, lambda m: bool(m.bids) and bool(m.asks))
                    call.cancel()
                    assert msg.instrument == inst and msg.bids[0].price < msg.asks[0].price
            # FIX: one customer, both symbols
            fclient = await fix_customer(host.fix_server.port, symbols=instruments)
            it = fclient.messages().__aiter__()
            seen: set[str] = set()
            await first(it, lambda m: m.msg_type == "W" and all(map(len, fix_levels(m)))
                        and (seen.add(market_data(m).symbol) or seen == set(instruments)))
            # stop: the FIX customer is logged out and a gRPC stream ends with OK; the servers have stopped
            # before the pipelines stop
            events: list[str] = []
            for obj, label in [(host.grpc_server, "gRPC"), (host.fix_server, "FIX"), *((q, q.config.instrument)
                                                                                     for q in pipes)]:
                async def recorded_stop(stop: Any = obj.stop, label: str = label) -> None:
                    events.append(f"stop {label}")
                    await stop()
                    events.append(f"stopped {label}")

                obj.stop = recorded_stop
            gone = logged_out(fclient)
            drain = asyncio.ensure_future(_drain(it))
            async with BookClient(GrpcClientConfig(address=host.addresses["gRPC"])) as gclient:
                call = gclient.stream_book(instrument="BTC-USDT")
                await first(call, lambda m: True)
                await host.stop()
                await asyncio.wait_for(_drain(call), T)  # the stream ends ...
                assert await call.code() == grpc.StatusCode.OK  # ... cleanly
            assert "server shutting down" in await asyncio.wait_for(gone, T)
            servers = {"stop gRPC", "stopped gRPC", "stop FIX", "stopped FIX"}
            assert set(events[:4]) == servers and set(events[4:]) == {f"{w} {i}" for w in ("stop", "stopped")
                                                                      for i in instruments}
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)
            await fclient.close()
        finally:
            await host.stop()
        await host.stop()  # idempotent
        assert not host.running and dict(host.addresses) == {}
        with pytest.raises(RuntimeError, match="stopped"):
            await host.start()  # a host runs once


@pytest.mark.parametrize("busy", ["gRPC", "FIX"])
async def test_host_port_in_use_fails_before_any_venue_is_contacted(busy: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = Pipeline(PipelineConfig(instrument="ethbtc", simulate=True))
        host = ServiceHost([p], grpc=GrpcServerConfig(port=port if busy == "gRPC" else 0),
                           fix=FixServerConfig(port=port if busy == "FIX" else 0, customers={"BOT": None}))
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port} for {busy}") as err:
            await host.start()
    assert (err.value.service, err.value.host, err.value.port) == (busy, "127.0.0.1", port)
    assert isinstance(err.value, ConfigError)
    assert p.sim is None and not p.feeds  # the pipeline never started
    assert not host.running and dict(host.addresses) == {}
    if busy == "FIX":  # gRPC had bound first: its port was released again
        assert host.grpc_server is not None and host.grpc_server.port
        with socket.socket() as again:
            again.bind(("127.0.0.1", host.grpc_server.port))


async def test_host_configuration_errors() -> None:
    p = Pipeline(PipelineConfig(instrument="ethbtc"))
    with pytest.raises(ConfigError, match="at least one server"):
        ServiceHost([p])
    with pytest.raises(ConfigError, match="at least one pipeline"):
        ServiceHost([], grpc=GrpcServerConfig(port=0))
    with pytest.raises(ConfigError, match="same instrument"):
        ServiceHost([p, Pipeline(PipelineConfig(instrument="ETH-BTC"))], grpc=GrpcServerConfig(port=0))
    with pytest.raises(TypeError, match="not a Service"):
        ServiceHost([p], services=[SimpleNamespace(name="metrics", start=print, stop=print)])  # no config
    fix = FixServerConfig(port=0, customers={"BOT": None})
    with pytest.raises(ConfigError, match="same name"):
        ServiceHost([p], fix=fix, services=[SimpleNamespace(name="FIX", config=fix, start=print, stop=print)])


async def test_host_runs_any_service_and_names_it_when_it_cannot_listen() -> None:
    """A later service (metrics, execution) plugs in as an object with name/config/address/start/stop."""

    class Endpoint:
        name = "metrics"

        def __init__(self, port: int) -> None:
            self.config = SimpleNamespace(host="127.0.0.1", port=port)
            self.server: asyncio.Server | None = None
            self.stopped = 0

        @property
        def address(self) -> str:
            assert self.server is not None
            return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

        async def start(self) -> None:  # raises a plain OSError when the port is taken
            self.server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", self.config.port)

        async def stop(self) -> None:
            self.stopped += 1
            if self.server is not None:
                self.server.close()
                await self.server.wait_closed()

    p = Pipeline(PipelineConfig(instrument="ethbtc", simulate=True, sim_options={"seed": 1}))
    extra = Endpoint(0)
    async with ServiceHost([p], grpc=GrpcServerConfig(port=0), services=[extra]) as host:
        assert host.services == (host.grpc_server, extra)
        assert host.addresses["metrics"] == extra.address
        assert p.sim is not None  # the pipeline runs once everything listens
    assert extra.stopped == 1 and p.sim is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        q = Pipeline(PipelineConfig(instrument="ethbtc", simulate=True))
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port} for metrics"):
            await ServiceHost([q], grpc=GrpcServerConfig(port=0), services=[Endpoint(port)]).start()
        assert q.sim is None


# -- the command ----------------------------------------------------------------------------------


async def _start_cli(*args: str) -> tuple[asyncio.subprocess.Process, str, int]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DRAGONFLY_FIX_CUSTOMERS", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from dragonfly.cli import grpc_server_main; sys.exit(grpc_server_main())",
        *args, stderr=asyncio.subprocess.PIPE, env=env,
    )
    assert proc.stderr is not None
    line = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
    m = re.search(r"serving .* on (\S+:\d+)", line)
    assert m, line
    line2 = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
    m2 = re.search(r"FIX 4\.4 at 127\.0\.0\.1:(\d+) as DRAGONFLY for BOT", line2)
    assert m2, line2
    return proc, m.group(1), int(m2.group(1))


async def test_grpc_server_command_serves_fix_beside_grpc(tmp_path) -> None:
    proc, address, fix_port = await _start_cli(
        "--instrument-name", "ethbtc", "--simulate", "--seed", "3", "--venues", "binance,bitstamp,fixsim",
        "--port", "0", "--fix-port", "0", "--fix-customer", "BOT:pw", "--fix-store-dir", str(tmp_path),
    )
    try:
        # gRPC: a book with both sides from the configured venues
        async with BookClient(GrpcClientConfig(address=address)) as gclient:
            call = gclient.book_summary()
            msg = await first(call, lambda m: len(m.bids) == DEPTH and len(m.asks) == DEPTH)
            call.cancel()
        g_venues = {lv.exchange for lv in list(msg.bids) + list(msg.asks)}
        assert g_venues <= {"binance", "bitstamp", "fixsim"}
        assert msg.bids[0].price < msg.asks[0].price
        # FIX, same process: a wrong password is refused, the configured customer gets the book
        with pytest.raises(VenueConnectionError):
            bad = FixClient.build(host="127.0.0.1", port=fix_port, sender_comp_id="BOT", target_comp_id="DRAGONFLY",
                                  password="wrong")
            try:
                await asyncio.wait_for(bad.connect(), T)
            finally:
                await bad.close()
        fclient = await fix_customer(fix_port)
        it = fclient.messages().__aiter__()
        w = await first(it, lambda m: m.msg_type == "W" and all(map(len, fix_levels(m))))
        bids, asks = fix_levels(w)
        assert {v for v, _, _ in bids + asks} <= {"binance", "bitstamp", "fixsim"}
        assert [b[1] for b in bids] == sorted((b[1] for b in bids), reverse=True) and bids[0][1] < asks[0][1]
        # health follows the venues: the services are SERVING once a venue is LIVE
        await health_watch(address, "dragonfly.v1.Aggregator/ETH-BTC", SERVING)
        assert await health(address, "") == SERVING
        # SIGTERM: the FIX customer is logged out, a gRPC stream ends with status OK, exit 0
        gone = logged_out(fclient)
        drain = asyncio.ensure_future(_drain(it))
        async with BookClient(GrpcClientConfig(address=address)) as gclient:
            call = gclient.stream_book()
            await first(call, lambda m: True)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(_drain(call), T)
            assert await call.code() == grpc.StatusCode.OK
        assert "server shutting down" in await asyncio.wait_for(gone, T)
        assert await asyncio.wait_for(proc.wait(), T) == 0
        await fclient.close()
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
        await it.aclose()
        assert list((tmp_path).iterdir())  # the FIX sequence store was used
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _drain(it: AsyncIterator[Any]) -> None:
    async for _ in it:
        pass


@pytest.fixture
def venue_spy(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Records the simulated venues a command builds and every pipeline it starts."""
    spy = SimpleNamespace(sims=[], started=[])

    class SpiedVenues(SimulatedVenues):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            spy.sims.append(self)

    real_start = Pipeline.start

    async def start(self: Pipeline) -> None:
        spy.started.append(self.config.instrument)
        await real_start(self)

    monkeypatch.setattr(dragonfly.sim, "SimulatedVenues", SpiedVenues)
    monkeypatch.setattr(Pipeline, "start", start)
    return spy


@pytest.mark.parametrize("command, busy", [
    ("grpc-server", "gRPC"),
    ("grpc-server", "FIX"),  # with --fix-port
    ("fix-server", "FIX"),
])
def test_port_in_use_exits_2_before_any_venue_is_contacted(command, busy, venue_spy, capsys, monkeypatch) -> None:
    monkeypatch.delenv("DRAGONFLY_FIX_CUSTOMERS", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        common = ["--instrument-name", "ethbtc,btcusdt", "--simulate", "--seed", "4"]
        if command == "grpc-server":
            argv = [*common, "--port", port if busy == "gRPC" else "0",
                    "--fix-port", port if busy == "FIX" else "0", "--fix-customer", "BOT"]
        else:
            argv = [*common, "--port", port, "--customer", "BOT"]
        rc = cli.main([command, *argv])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"dragonfly {command}: error: cannot listen on 127.0.0.1:{port} "
                                               f"for {busy}: "), err
    # the simulated venues were up, and saw no connection: no pipeline was started
    (sim,) = venue_spy.sims
    assert set(sim.simulators) == {"binance", "bitstamp"} and sim.instruments == ("ETH-BTC", "BTC-USDT")
    assert [s.connections_accepted for s in sim.simulators.values()] == [0, 0]
    assert venue_spy.started == []


# -- gRPC health following venue liveness ------------------------------------------------------------


def _view(seq: int, statuses: dict[str, VenueStatus], instrument: str = "ETH-BTC") -> WorldView:
    base = synthetic_view(seq, instrument=instrument, venues=tuple(statuses))
    venues = {v: h if statuses[v] is VenueStatus.LIVE else type(h)(v, statuses[v], 0, "test")
              for v, h in base.venues.items()}
    books = {v: b for v, b in base.books.items() if statuses[v] is VenueStatus.LIVE}
    bids, asks = merge_levels(books, DEPTH) if books else ([], [])
    return WorldView(instrument, seq, tuple(bids), tuple(asks), base.spread if books else 0.0, venues,
                     base.exchange_ts_ns, base.receive_ts_ns, base.publish_ts_ns, books)


async def test_health_is_not_serving_while_no_venue_is_live() -> None:
    eth: Broadcast = Broadcast(name="eth")
    btc: Broadcast = Broadcast(name="btc")
    books = [ServedBook(instrument="ETH-BTC", venues=("binance", "bitstamp"), depth=DEPTH, views=eth),
             ServedBook(instrument="BTC-USDT", venues=("binance", "bitstamp"), depth=DEPTH, views=btc)]
    L, S = VenueStatus.LIVE, VenueStatus.STALE
    async with GrpcServer(books, GrpcServerConfig(port=0, health_follows_venues=True)) as srv:
        a = srv.address
        # before any view: nothing is LIVE, the services and the server as a whole ("") are NOT_SERVING
        assert await health(a, "") == NOT_SERVING
        for svc in SERVICES:
            assert await health(a, svc) == NOT_SERVING
            assert await health(a, f"{svc}/ETH-BTC") == NOT_SERVING
        eth.publish(_view(1, {"binance": L, "bitstamp": S}))  # one venue LIVE is enough
        await health_watch(a, "dragonfly.v1.Aggregator/ETH-BTC", SERVING)
        for svc in SERVICES:
            assert await health(a, svc) == SERVING
            assert await health(a, f"{svc}/ETH-BTC") == SERVING
            assert await health(a, f"{svc}/BTC-USDT") == NOT_SERVING  # per instrument
        eth.publish(_view(2, {"binance": S, "bitstamp": VenueStatus.SYNCING}))  # no venue LIVE any more
        await health_watch(a, "orderbook.OrderbookAggregator", NOT_SERVING)
        for svc in SERVICES:
            assert await health(a, svc) == NOT_SERVING
            assert await health(a, f"{svc}/ETH-BTC") == NOT_SERVING
        assert await health(a, "") == NOT_SERVING
        btc.publish(_view(3, {"binance": S, "bitstamp": L}, instrument="BTC-USDT"))  # another instrument comes up
        await health_watch(a, "dragonfly.v1.Aggregator", SERVING)
        assert await health(a, "") == SERVING  # some instrument has a LIVE venue
        assert await health(a, "dragonfly.v1.Aggregator/ETH-BTC") == NOT_SERVING
        assert await health(a, "dragonfly.v1.Aggregator/BTC-USDT") == SERVING
        assert srv.venue_liveness() == {"ETH-BTC": False, "BTC-USDT": True}
    # after stop the health service is gone with the server; stop() must not hang on the watchers


async def test_health_follows_a_real_pipeline() -> None:
    venues = ("binance", "bitstamp")
    cfg = PipelineConfig(instrument="ethbtc", venues=venues, depth=DEPTH, simulate=True, staleness_s=2.0, ws=WS,
                         sim_options={"seed": 2, "interval_s": 0.02})
    async with Pipeline(cfg) as p, GrpcServer.for_pipelines([p],
                                                           GrpcServerConfig(port=0, health_follows_venues=True)) as srv:
        await wait_view(p, live(*venues))
        await health_watch(srv.address, "orderbook.OrderbookAggregator", SERVING)
        await p.sim.disconnect("binance", refuse=True)
        await wait_view(p, lambda v: v.venues["binance"].status is not VenueStatus.LIVE and live("bitstamp")(v))
        await health_watch(srv.address, "orderbook.OrderbookAggregator", SERVING)  # bitstamp is still LIVE
        assert srv.venue_liveness() == {"ETH-BTC": True}
        await p.sim.disconnect("bitstamp", refuse=True)
        await wait_view(p, lambda v: all(h.status is not VenueStatus.LIVE for h in v.venues.values()))
        await health_watch(srv.address, "orderbook.OrderbookAggregator", NOT_SERVING)
        assert await health(srv.address, "dragonfly.v1.Aggregator/ETH-BTC") == NOT_SERVING
        assert await health(srv.address, "") == NOT_SERVING  # no venue LIVE: the server serves nothing useful
        p.sim.accept("bitstamp")
        await health_watch(srv.address, "orderbook.OrderbookAggregator", SERVING)
        p.sim.accept("binance")
