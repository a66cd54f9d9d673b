"""Prometheus metrics over HTTP while the simulated market runs: scraped twice, the values move; promtool
accepts what is served; --metrics-port on the commands; a port in use is a clear error."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dragonfly.clients.base import Backoff
from dragonfly.clients.fix import FixClient
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.errors import BindError
from dragonfly.model import VenueStatus
from dragonfly.services.fix_server import FixServerConfig
from dragonfly.services.grpc import BookClient, GrpcClientConfig, GrpcServerConfig
from dragonfly.services.host import ServiceHost
from dragonfly.services.metrics import MetricsConfig
from dragonfly.topology import Pipeline, PipelineConfig

T = 20.0
VENUES = ("binance", "bitstamp", "kraken")  # kraken: venue checksums on every update
WS = WebSocketConfig(url="ws://127.0.0.1:1", heartbeat_s=5.0, no_data_timeout_s=30.0,
                     backoff=Backoff(initial_s=0.02, max_s=0.2))

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> tuple[str, Samples]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    table = {(s.name, frozenset(s.labels.items())): s.value
             for fam in text_string_to_metric_families(text) for s in fam.samples}
    return text, table


def get(t: Samples, name: str, **labels: str) -> float:
    return t[(name, frozenset(labels.items()))]


def total(t: Samples, name: str, **labels: str) -> float:
    """Sum over the series of ``name`` that carry ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in t.items() if n == name and want <= ls)


async def first(it: AsyncIterator[Any], pred: Callable[[Any], bool]) -> Any:
    async def _loop() -> Any:
        async for item in it:
            if pred(item):
                return item
        raise AssertionError("stream ended")

    return await asyncio.wait_for(_loop(), T)


def check_with_promtool(promtool: str, text: str) -> None:
    series = [(s.name, tuple(sorted(s.labels.items())))
              for fam in text_string_to_metric_families(text) for s in fam.samples]
    assert len(series) == len(set(series))  # promtool does not look for duplicate series; Prometheus would
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr


async def test_values_move_as_the_simulated_market_runs(promtool: str) -> None:
    cfg = PipelineConfig(instrument="ethbtc", venues=VENUES, depth=10, simulate=True, staleness_s=5.0, ws=WS,
                         sim_options={"seed": 4, "interval_s": 0.02})
    p = Pipeline(cfg)
    async with ServiceHost([p], grpc=GrpcServerConfig(port=0), fix=FixServerConfig(port=0, customers={"BOT": "pw"}),
                           metrics=MetricsConfig(port=0, sample_interval_s=0)) as host:
        metrics = host.metrics_server
        assert metrics is not None and metrics.port > 0
        assert host.addresses["metrics"] == f"127.0.0.1:{metrics.port}"
        assert metrics.url == f"http://127.0.0.1:{metrics.port}/metrics"
        with p.stream(maxsize=64) as views:
            await first(views, lambda v: all(v.venues[x].status is VenueStatus.LIVE for x in VENUES))
            # one gRPC stream and one FIX customer, each with a message already written
            async with BookClient(GrpcClientConfig(address=host.addresses["gRPC"])) as gclient:
                call = gclient.stream_book(instrument="ETH-BTC")
                # two messages: the second is written only once the first one's write (and its latency) is done
                await first(call, lambda m: bool(m.bids))
                await first(call, lambda m: True)
                fix = FixClient.build(host="127.0.0.1", port=host.fix_server.port, sender_comp_id="BOT",
                                      target_comp_id="DRAGONFLY", password="pw")
                await asyncio.wait_for(fix.connect(), T)
                try:
                    await fix.send_message("V", [(262, "r1"), (263, 1), (264, 10), (265, 0), (146, 1),
                                                 (55, "ETH-BTC")])
                    fix_msgs = fix.messages().__aiter__()
                    for _ in range(2):
                        await first(fix_msgs, lambda m: m.msg_type == "W")
                    text1, t1 = await scrape(metrics.url)
                    since = max(v.last_update_ns for v in p.health().values())
                    # the market moves on: every venue sends a newer update, and both servers write again
                    await first(views, lambda v: all(v.venues[x].last_update_ns > since for x in VENUES))
                    for _ in range(2):
                        await first(call, lambda m: True)
                        await first(fix_msgs, lambda m: m.msg_type == "W")
                    text2, t2 = await scrape(metrics.url)
                    grpc_srv, fix_srv = {"server": host.grpc_server.address}, {"server": host.fix_server.address}
                finally:
                    await fix.close()
                call.cancel()
    for text in (text1, text2):
        check_with_promtool(promtool, text)
    inst = {"instrument": "ETH-BTC"}
    agg = {"aggregator": "main", **inst}
    for venue in VENUES:
        feed = {"feed": f"ETH-BTC/{venue}", "venue": venue}
        assert get(t2, "dragonfly_feed_messages_total", **feed) > get(t1, "dragonfly_feed_messages_total", **feed) > 0
        assert get(t2, "dragonfly_feed_received_bytes_total", **feed) > get(t1, "dragonfly_feed_received_bytes_total",
                                                                            **feed)
        assert get(t2, "dragonfly_feed_connection_events_total", **feed, event="connect") == 1
        assert get(t2, "dragonfly_venue_status", **agg, venue=venue, status="LIVE") == 1
        assert get(t2, "dragonfly_venue_status", **agg, venue=venue, status="STALE") == 0
    kraken = {"feed": "ETH-BTC/kraken", "venue": "kraken", **inst}
    assert get(t2, "dragonfly_book_checksums_total", **kraken, result="matched") > \
        get(t1, "dragonfly_book_checksums_total", **kraken, result="matched")
    assert get(t2, "dragonfly_book_checksums_total", **kraken, result="failed") == 0
    assert get(t2, "dragonfly_aggregator_views_total", **agg) > get(t1, "dragonfly_aggregator_views_total", **agg)
    hop = "dragonfly_receipt_to_view_latency_seconds_count"
    assert get(t2, hop, **inst) > get(t1, hop, **inst) > 0
    assert get(t2, "dragonfly_venue_to_receipt_latency_seconds_count", **inst) > 0
    for service in ("grpc", "fix"):
        w = "dragonfly_view_to_write_latency_seconds_count"
        assert get(t2, w, **inst, service=service) > get(t1, w, **inst, service=service) > 0
    # the latencies in this process are µs to ms, not seconds
    assert get(t2, "dragonfly_receipt_to_view_latency_seconds_bucket", **inst, le="0.1") >= \
        0.9 * get(t2, hop, **inst)
    assert get(t2, "dragonfly_grpc_streams", **grpc_srv, method="/dragonfly.v1.Aggregator/StreamBook") == 1
    assert total(t2, "dragonfly_grpc_peer_streams", **grpc_srv) == 1
    assert get(t2, "dragonfly_grpc_streams_opened_total", **grpc_srv) == 1
    assert get(t1, "dragonfly_fix_sessions", **fix_srv) == get(t2, "dragonfly_fix_sessions", **fix_srv) == 1
    assert get(t2, "dragonfly_fix_market_data_messages_total", **fix_srv, type="snapshot") > \
        get(t1, "dragonfly_fix_market_data_messages_total", **fix_srv, type="snapshot")
    assert total(t2, "process_cpu_seconds_total") > 0
    assert "pw" not in re.findall(r'"([^"]*)"', text2)  # no label value is the FIX password


async def test_the_write_hooks_are_removed_when_metrics_stop() -> None:
    p = Pipeline(PipelineConfig(instrument="ethbtc", venues=("binance",), simulate=True, ws=WS))
    host = ServiceHost([p], grpc=GrpcServerConfig(port=0), metrics=MetricsConfig(port=0))
    async with host:
        assert host.grpc_server.write_latency is not None
        assert len(p.views._subs) == 1  # the metrics' sampling subscription
    assert host.grpc_server.write_latency is None
    assert not p.views._subs


async def test_a_metrics_port_in_use_is_a_bind_error_and_no_venue_is_contacted() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = Pipeline(PipelineConfig(instrument="ethbtc", venues=("binance",), simulate=True, ws=WS))
        host = ServiceHost([p], grpc=GrpcServerConfig(port=0), metrics=MetricsConfig(port=port))
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port} for metrics") as err:
            await host.start()
        assert err.value.service == "metrics" and err.value.port == port
        assert p.sim is None and not p.feeds and not host.running


async def test_the_grpc_server_command_serves_metrics_on_the_port_asked() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from dragonfly.cli import grpc_server_main; sys.exit(grpc_server_main())",
        "--instrument-name", "ethbtc", "--simulate", "--seed", "2", "--port", "0", "--metrics-port", "0",
        stderr=asyncio.subprocess.PIPE, env=env,
    )
    assert proc.stderr is not None
    try:
        lines = [(await asyncio.wait_for(proc.stderr.readline(), T)).decode() for _ in range(2)]
        m = re.search(r"Prometheus metrics at (http://127\.0\.0\.1:\d+/metrics)", lines[1])
        assert m, lines
        url = m.group(1)

        async def messages() -> float:
            return total((await scrape(url))[1], "dragonfly_feed_messages_total")

        async def moved(before: float) -> None:
            while await messages() <= before:  # no event to await in another process: scrape again
                pass

        await asyncio.wait_for(moved(await messages()), T)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), T)
        assert await asyncio.wait_for(proc.wait(), T) == 0, rest.decode()


def test_a_bad_metrics_port_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "dragonfly", "grpc-server", "--instrument-name", "ethbtc",
                           "--metrics-port", "70000"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--metrics-port" in proc.stderr and "70000" in proc.stderr
