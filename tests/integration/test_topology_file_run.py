"""The founding document's two topologies, run from their files (``examples/topologies/``) with ``--simulate``:
what every service serves (gRPC streams; FIX BBO with 266=N and summed liquidity with 266=Y to a stock QuickFIX
customer, with no 35=3 in either direction), a clean SIGTERM, and one connection per venue although the complex
topology's listeners feed two aggregators each. In the complex topology a stock QuickFIX customer, on the one FIX
server, streams both books and liquidates a large order across the simulated venues through the execution engine
(fills = what the venues booked), and a bot does the same over gRPC ``dragonfly.v1.Execution``. Plus a transformer
between a feed and an aggregator, in process.

Everything runs on 127.0.0.1; every wait is on an event, with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fix_peers"))
from harness import Peer, build_peers, settings

from dragonfly import cli
from dragonfly._core.fix import market_data, parse_message
from dragonfly.model import BookUpdate, LiquidityView, VenueStatus, WorldView
from dragonfly.services.grpc import BookClient, GrpcClientConfig
from dragonfly.services.grpc.protos import book_pb2, execution_pb2, execution_pb2_grpc
from dragonfly.services.host import ServiceHost
from dragonfly.topology_file import FileTopology, TopologyFile, load_topology, parse_topology

T = 30.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "topologies"
VENUES = {"binance", "bitstamp", "fixsim"}
LIVE = book_pb2.VENUE_STATUS_LIVE


async def first(it: AsyncIterator[Any], pred: Callable[[Any], bool]) -> Any:
    async def _loop() -> Any:
        async for item in it:
            if pred(item):
                return item
        raise AssertionError("stream ended")

    return await asyncio.wait_for(_loop(), T)


class Run:
    """``dragonfly run FILE --simulate --any-port`` in a subprocess; the services' addresses from its banner."""

    def __init__(self, proc: asyncio.subprocess.Process, addresses: dict[str, str]) -> None:
        self.proc = proc
        self.addresses = addresses

    @classmethod
    async def start(cls, path: Path, env: dict[str, str] | None = None) -> Run:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dragonfly", "run", str(path), "--simulate", "--any-port", "--seed", "5",
            stderr=asyncio.subprocess.PIPE, env=env,
        )
        assert proc.stderr is not None
        head = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
        assert f"running {path} (3 feeds from simulated venues" in head, head
        addresses: dict[str, str] = {}
        topo = load_topology(path)
        for _ in topo.services:  # a line per service: where a server listens, or what an engine takes orders from
            line = (await asyncio.wait_for(proc.stderr.readline(), T)).decode().strip()
            m = re.search(r"service (\S+) \((\w+)\) on (127\.0\.0\.1:\d+)$", line)
            if m:
                addresses[m.group(1)] = m.group(3)
            else:
                engine = r"service \S+ \(execution\) through \S+(, \S+)*: orders to the simulators$"
                assert re.search(engine, line), line
        return cls(proc, addresses)

    async def stop(self) -> list[str]:
        """SIGTERM; exit status 0; the lines it wrote while shutting down."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stderr is not None
        rest = (await asyncio.wait_for(self.proc.stderr.read(), T)).decode().splitlines()
        assert await asyncio.wait_for(self.proc.wait(), T) == 0, rest
        return rest

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def one_connection_each(lines: list[str]) -> None:
    """The shutdown summary: every feed made exactly one connection."""
    assert [line for line in lines if ": feed " in line] == [
        f"dragonfly run: feed {v}: 1 connection" for v in ("binance", "bitstamp", "fixsim")
    ], lines


async def grpc_book(address: str) -> tuple[Any, Any]:
    """A StreamBook update with every venue LIVE and both sides full, and a BookSummary with both sides full."""
    async with BookClient(GrpcClientConfig(address=address)) as client:
        await client.wait_ready(T)
        call = client.stream_book()
        update = await first(call, lambda m: len(m.bids) == 10 and len(m.asks) == 10
                             and {v.venue for v in m.venues if v.status == LIVE} == VENUES)
        call.cancel()
        call = client.book_summary()
        summary = await first(call, lambda m: len(m.bids) == 10 and len(m.asks) == 10)
        call.cancel()
    return update, summary


def check_book(levels_bids: list[tuple[str, float, float]], levels_asks: list[tuple[str, float, float]]) -> None:
    assert {v for v, _, _ in levels_bids + levels_asks} <= VENUES
    assert [p for _, p, _ in levels_bids] == sorted((p for _, p, _ in levels_bids), reverse=True)
    assert [p for _, p, _ in levels_asks] == sorted(p for _, p, _ in levels_asks)
    # venues may cross each other in a consolidated book, never themselves
    for venue in VENUES:
        bids = [p for v, p, _ in levels_bids if v == venue]
        asks = [p for v, p, _ in levels_asks if v == venue]
        assert not (bids and asks) or bids[0] < asks[0], venue


async def test_simple_topology_runs_from_its_file() -> None:
    """Trading bot -> gRPC server -> one aggregator -> three listeners (two WebSocket venues, one FIX venue)."""
    run = await Run.start(EXAMPLES / "simple.toml")
    try:
        assert set(run.addresses) == {"bots"}
        update, summary = await grpc_book(run.addresses["bots"])
        check_book([(lv.exchange, lv.price, lv.amount) for lv in update.bids],
                   [(lv.exchange, lv.price, lv.amount) for lv in update.asks])
        check_book([(lv.exchange, lv.price, lv.amount) for lv in summary.bids],
                   [(lv.exchange, lv.price, lv.amount) for lv in summary.asks])
        one_connection_each(await run.stop())
    finally:
        await run.kill()


def _app(line: str):
    return parse_message(line[4:].replace("|", "\x01").encode("latin-1"))


async def test_complex_topology_runs_from_its_file(tmp_path) -> None:
    """Trading bot -> gRPC (aggregator 1's BBO, aggregator 2's liquidity); legacy customer -> FIX (266=N from
    aggregator 1, 266=Y from aggregator 2), a stock QuickFIX customer; the listeners feed both aggregators over one
    connection each; the execution engine takes orders through both servers and has no port of its own."""
    peers = build_peers()
    run = await Run.start(EXAMPLES / "complex.toml", env={"DRAGONFLY_FIX_CUSTOMERS": "LEGACY2:pw"})
    cust: Peer | None = None
    try:
        assert set(run.addresses) == {"bots", "legacy"}
        update, _ = await grpc_book(run.addresses["bots"])
        check_book([(lv.exchange, lv.price, lv.amount) for lv in update.bids],
                   [(lv.exchange, lv.price, lv.amount) for lv in update.asks])
        async with BookClient(GrpcClientConfig(address=run.addresses["bots"])) as client:
            call = client.stream_liquidity()
            liq = await first(call, lambda m: len(m.bids) >= 3 and len(m.asks) >= 3)
            call.cancel()
        for level in list(liq.bids) + list(liq.asks):
            assert {v.exchange for v in level.venues} <= VENUES
            assert level.amount == pytest.approx(sum(v.amount for v in level.venues))
        assert [lv.price for lv in liq.bids] == sorted((lv.price for lv in liq.bids), reverse=True)

        port = int(run.addresses["legacy"].rpartition(":")[2])
        cfg = settings(tmp_path / "legacy.cfg", initiator=True, port=port, sender="LEGACY", target="DRAGONFLY",
                       store=tmp_path / "legacy-store")
        cust = await Peer(peers["qf_customer"], str(cfg)).start()
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send("sub bbo ETH-BTC 10 1 N")
        await cust.send("sub liq ETH-BTC 10 1 Y")

        def full_w(req: str) -> Callable[[str], bool]:
            def pred(line: str) -> bool:
                if not (line.startswith("APP ") and f"|262={req}|" in line and "|35=W|" in line):
                    return False
                md = market_data(_app(line))
                return {md.side(i) for i in range(len(md))} == {0, 1}
            return pred

        w_bbo = _app(await cust.expect(full_w("bbo"), since=mark))
        md = market_data(w_bbo)
        bids = [(md.entry_market(i), md.price(i), md.size(i)) for i in range(len(md)) if md.side(i) == 0]
        asks = [(md.entry_market(i), md.price(i), md.size(i)) for i in range(len(md)) if md.side(i) == 1]
        check_book(bids, asks)
        assert len(w_bbo.get_all(275)) == len(md) and w_bbo.get(30) is None  # every entry's venue in MDMkt
        w_liq = _app(await cust.expect(full_w("liq"), since=mark))
        md = market_data(w_liq)
        assert w_liq.get_all(275) == [] and {md.entry_market(i) for i in range(len(md))} == {""}
        for side in (0, 1):
            prices = [md.price(i) for i in range(len(md)) if md.side(i) == side]
            assert len(prices) == len(set(prices)) > 0  # summed: one entry per price
        # the streams go on with incrementals, still accepted by QuickFIX
        await cust.expect(lambda s: s.startswith("APP ") and "|35=X|" in s and "|262=liq|" in s, since=mark)
        await cust.expect(lambda s: s.startswith("APP ") and "|35=X|" in s and "|262=bbo|" in s, since=mark)
        rejects = [line for line in cust.lines if line.startswith(("ADMIN_IN 3 ", "ADMIN_OUT 3 "))]
        assert not rejects, rejects
        lines = await run.stop()
        one_connection_each(lines)
        await cust.expect("ADMIN_IN 5")  # logged out by the server on SIGTERM
    finally:
        if cust is not None:
            await cust.stop()
        await run.kill()


def fields(line: str) -> dict[int, str]:
    """The tags of an ``APP`` line (last value wins)."""
    out = {}
    for part in line.split(" ", 1)[1].split("|"):
        if "=" in part:
            k, _, v = part.partition("=")
            out[int(k)] = v
    return out


def run_in_process(monkeypatch: pytest.MonkeyPatch, argv: list[str],
                   body: Callable[[FileTopology], Any]) -> int:
    """``dragonfly run ARGV`` in this process; ``body(runtime)`` runs inside the command while it serves (in place of
    waiting for SIGTERM), then the command shuts down as on SIGTERM. Returns its exit status."""
    built: list[FileTopology] = []
    real_build = TopologyFile.build

    def build(self: TopologyFile, **kwargs: Any) -> FileTopology:
        built.append(real_build(self, **kwargs))
        return built[-1]

    async def until_stopped(stop: asyncio.Event, *, prog: str, out: TextIO) -> None:
        (runtime,) = built
        await body(runtime)

    monkeypatch.setattr(TopologyFile, "build", build)
    monkeypatch.setattr(cli, "_until_stopped", until_stopped)
    return cli.main(["run", *argv])


async def routed_liquidity(engine: Any, venues: set[str]) -> dict[str, float]:
    """Wait for a liquidity view in which every venue of ``venues`` has bids; each one's bid quantity."""
    while True:
        latest = engine.latest("ETH-BTC")
        view = await engine.wait_liquidity("ETH-BTC", T, min_seq=latest.seq + 1 if latest else 0)
        per_venue: dict[str, float] = {}
        for _price, _total, parts in view.bids:
            for venue, qty in parts.items():
                per_venue[venue] = per_venue.get(venue, 0.0) + qty
        if venues <= set(per_venue):
            return {v: per_venue[v] for v in venues}


def booked(runtime: FileTopology, venues: set[str]) -> float:
    return math.fsum(runtime.sim[v].orders.booked_qty("ETH-BTC") for v in venues)


def test_complex_topology_liquidates_through_the_one_fix_server_and_grpc(tmp_path, monkeypatch, capsys) -> None:
    """``dragonfly run complex.toml --simulate``: a stock QuickFIX customer on the one FIX server streams the BBO
    (266=N) and the summed liquidity (266=Y), and on the same session liquidates an order no single venue can fill
    across the simulated venues; the ExecutionReports' fills add up to what the simulators booked, and QuickFIX
    rejects nothing in either direction. Then a bot sends the same kind of order over gRPC Execution on the same
    topology's gRPC server."""
    trader = build_peers()["qf_trader"]
    monkeypatch.delenv("DRAGONFLY_FIX_CUSTOMERS", raising=False)
    seen: dict[str, Any] = {}

    async def body(runtime: FileTopology) -> None:
        engine = runtime.engines["execution"].engine
        routed = set(engine.routes["ETHBTC"])
        assert routed == {"binance", "bitstamp"}  # the simulators that take orders (the FIX venue does not)
        await grpc_book(runtime.servers["bots"].address)  # every venue LIVE: the snapshots (35=W) have both sides
        fix_port = runtime.servers["legacy"].port  # type: ignore[attr-defined]
        cfg = settings(tmp_path / "legacy.cfg", initiator=True, port=fix_port, sender="LEGACY", target="DRAGONFLY",
                       store=tmp_path / "store", heartbeat_s=5)
        peer = await Peer(trader, str(cfg)).start()
        try:
            await peer.expect("LOGON")
            mark = peer.mark()
            await peer.send("sub bbo ETH-BTC 10 1 N")
            await peer.send("sub liq ETH-BTC 10 1 Y")
            w_bbo = _app(await peer.expect(lambda s: s.startswith("APP ") and "|35=W|" in s and "|262=bbo|" in s
                                           and "|269=0|" in s and "|269=1|" in s, since=mark))
            assert len(w_bbo.get_all(275)) == len(market_data(w_bbo)) > 0  # per-venue levels, venue in MDMkt
            w_liq = _app(await peer.expect(lambda s: s.startswith("APP ") and "|35=W|" in s and "|262=liq|" in s
                                           and "|269=0|" in s and "|269=1|" in s, since=mark))
            assert w_liq.get_all(275) == [] and len(market_data(w_liq)) > 0  # summed: no venue per entry

            per_venue = await routed_liquidity(engine, routed)
            largest, second = sorted(per_venue.values(), reverse=True)[:2]
            qty = round(largest + second / 2, 4)
            assert qty > largest  # no single venue can take it all
            before = booked(runtime, routed)
            mark = peer.mark()
            await peer.send(f"order BIG1 ETH-BTC 2 {qty} 1 - 3")  # sell, market, IOC
            final = fields(await peer.expect(lambda s: s.startswith("APP ") and "|35=8|" in s and "|11=BIG1|" in s
                                             and fields(s).get(39) in ("2", "4", "8"), since=mark))
            reports = [fields(s) for s in peer.lines[mark:] if s.startswith("APP ") and "|35=8|" in s]
            assert reports[0][150] == "0" and reports[0][39] == "0"  # New
            trades = [r for r in reports if r[150] == "F"]
            assert len({r[30] for r in trades}) >= 2 and {r[30] for r in trades} <= routed  # LastMkt: the venues
            filled = math.fsum(float(r[32]) for r in trades)
            assert filled > largest and float(final[14]) == pytest.approx(filled)
            assert filled == pytest.approx(booked(runtime, routed) - before)  # what the venues booked
            notional = math.fsum(float(r[32]) * float(r[31]) for r in trades)
            assert float(final[6]) == pytest.approx(notional / filled)
            # the customer's limit (500) refuses a bigger order on the same session
            mark = peer.mark()
            await peer.send("order BIG2 ETH-BTC 2 600 1 - 3")
            refused = fields(await peer.expect(lambda s: s.startswith("APP ") and "|11=BIG2|" in s, since=mark))
            assert refused[39] == "8" and refused[103] == "3" and "above the limit" in refused[58]
            # both streams go on after the orders, still accepted by QuickFIX
            mark = peer.mark()
            await peer.expect(lambda s: s.startswith("APP ") and "|262=bbo|" in s, since=mark)
            await peer.expect(lambda s: s.startswith("APP ") and "|262=liq|" in s, since=mark)
            rejects = [line for line in peer.lines if line.startswith(("ADMIN_IN 3 ", "ADMIN_OUT 3 "))]
            assert not rejects, rejects

            # the same over gRPC: dragonfly.v1.Execution on the bots' gRPC server
            address = runtime.servers["bots"].address
            async with grpc.aio.insecure_channel(address) as channel:
                stub = execution_pb2_grpc.ExecutionStub(channel)
                per_venue = await routed_liquidity(engine, routed)
                largest, second = sorted(per_venue.values(), reverse=True)[:2]
                req = execution_pb2.OrderRequest(client_order_id="G1", instrument="ETH-BTC",
                                                 side=execution_pb2.SIDE_SELL,
                                                 quantity=round(largest + second / 2, 4), customer="bot")
                plan = await stub.Plan(req)
                assert {c.venue for c in plan.children} <= routed and len(plan.children) >= 2
                before = booked(runtime, routed)
                replies = [r async for r in stub.Submit(req)]
                assert replies[0].exec_type == execution_pb2.EXEC_TYPE_NEW and replies[-1].final
                trades_g = [r for r in replies if r.exec_type == execution_pb2.EXEC_TYPE_TRADE]
                assert len({r.last_venue for r in trades_g}) >= 2
                filled_g = math.fsum(r.last_quantity for r in trades_g)
                assert filled_g > largest and replies[-1].cum_quantity == pytest.approx(filled_g)
                assert filled_g == pytest.approx(booked(runtime, routed) - before)
            seen["ok"] = True
        finally:
            await peer.stop()

    assert run_in_process(monkeypatch, [str(EXAMPLES / "complex.toml"), "--simulate", "--any-port", "--seed", "5"],
                          body) == 0
    assert seen == {"ok": True}
    err = capsys.readouterr().err
    assert re.search(r"service execution \(execution\) through bots, legacy: orders to the simulators", err), err


async def test_one_listener_feeds_two_aggregators_over_one_connection() -> None:
    """In process: the simulators count the connections they accepted while both aggregators publish."""
    runtime = load_topology(EXAMPLES / "complex.toml").build(simulate=True, any_port=True)
    bbo = runtime.aggregators["bbo"].aggregators["ETH-BTC"]
    liquidity = runtime.aggregators["liquidity"].aggregators["ETH-BTC"]
    assert bbo.config.views and not liquidity.config.views
    views = bbo.views.subscribe(maxsize=1)
    sums = liquidity.liquidity.subscribe(maxsize=1)

    def all_live(v: WorldView | LiquidityView) -> bool:
        return {n for n, h in v.venues.items() if h.status is VenueStatus.LIVE} == VENUES

    async with ServiceHost(services=runtime.services, upstream=[runtime]):
        view = await first(views, all_live)
        summed = await first(sums, all_live)
        assert {lv[0] for lv in view.bids + view.asks} <= VENUES and view.bids and view.asks
        for level in summed.bids + summed.asks:  # a summed level: the total and each venue's part
            assert set(level[2]) <= VENUES and level[1] == pytest.approx(sum(level[2].values()))
        sim = runtime.sim
        assert sim["binance"].connections_accepted == 1 and sim["bitstamp"].connections_accepted == 1
        assert sim["fixsim"].logons == 1
        assert runtime.connections() == {"binance": 1, "bitstamp": 1, "fixsim": 1}
        assert liquidity.views.latest is None and liquidity.stats.views == 0  # aggregator 2 computes no BBO
    assert runtime.sim is None  # stopped with the host


def doubled(update: BookUpdate) -> BookUpdate:
    return BookUpdate(update.venue, update.instrument, tuple((p, 2 * q) for p, q in update.bids),
                      tuple((p, 2 * q) for p, q in update.asks), update.status, update.exchange_ts_ns,
                      update.receive_ts_ns, update.reason)


async def test_transformer_between_a_feed_and_an_aggregator() -> None:
    text = f"""
[feeds.binance]
instruments = ["ETH-BTC"]
depth = 10

[transformers.double]
input = "binance"
function = "{__name__}:doubled"

[aggregators.world]
kind = "bbo"
inputs = ["double"]
depth = 10

[services.bots]
kind = "grpc"
bbo = "world"
"""
    runtime = parse_topology(text, path="double.toml").build(simulate=True, any_port=True)
    agg = runtime.aggregators["world"].aggregators["ETH-BTC"]
    views = agg.views.subscribe(maxsize=1)
    async with ServiceHost(services=runtime.services, upstream=[runtime]):
        await first(views, lambda v: v.venues["binance"].status is VenueStatus.LIVE)
        runtime.sim.pause("binance")  # what it sent last is what the view must show, every size doubled
        sent = runtime.sim.last_sent("binance")
        want_bids = [("binance", p, 2 * q) for p, q in sent.bids[:10]]
        want_asks = [("binance", p, 2 * q) for p, q in sent.asks[:10]]
        with agg.views.subscribe(maxsize=1) as fresh:  # starts with the latest view
            view = await first(fresh, lambda v: list(v.bids) == want_bids and list(v.asks) == want_asks)
        assert view.venues["binance"].status is VenueStatus.LIVE
        (transformer,) = runtime.transformers
        assert transformer.processed >= 1 and transformer.errors == 0
