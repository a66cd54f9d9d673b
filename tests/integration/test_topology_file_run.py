"""The founding document's two topologies, run from their files (``examples/topologies/``) with ``--simulate``:
what every service serves (gRPC streams; FIX BBO with 266=N and summed liquidity with 266=Y to a stock QuickFIX
customer, with no 35=3 in either direction), a clean SIGTERM, and one connection per venue although the complex
topology's listeners feed two aggregators each. Plus a transformer between a feed and an aggregator, in process.

Everything runs on 127.0.0.1; every wait is on an event, with a timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fix_peers"))
from harness import Peer, build_peers, settings

from dragonfly._core.fix import market_data, parse_message
from dragonfly.model import BookUpdate, LiquidityView, VenueStatus, WorldView
from dragonfly.services.grpc import BookClient, GrpcClientConfig
from dragonfly.services.grpc.protos import book_pb2
from dragonfly.services.host import ServiceHost
from dragonfly.topology_file import load_topology, parse_topology

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
        for _ in topo.services:
            line = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
            m = re.search(r"service (\S+) \((\w+)\) on (127\.0\.0\.1:\d+)$", line.strip())
            assert m, line
            addresses[m.group(1)] = m.group(3)
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
    """A BookSummary and a StreamBook update with every venue LIVE and both sides full."""
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
    connection each."""
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
