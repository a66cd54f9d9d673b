"""The Prometheus collector (dragonfly.services.metrics): families, labels and values read from the layers'
stats objects; the latency histograms; no secret in the exposition; promtool accepts it; the Grafana
dashboard names only metrics that exist."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dragonfly.aggregators import BboAggregator
from dragonfly.clients.base import ClientStats
from dragonfly.errors import ConfigError
from dragonfly.listeners.driver import FeedStats
from dragonfly.listeners.keeper import KeeperStats
from dragonfly.model import BookUpdate, VenueStatus, WorldView
from dragonfly.services.fix_server import FixServer, FixServerConfig
from dragonfly.services.grpc import GrpcServer, GrpcServerConfig, ServedBook
from dragonfly.services.metrics import (
    LATENCY_BUCKETS_S,
    DragonflyCollector,
    HopHistograms,
    LatencyHistogram,
    MetricsConfig,
    MetricsServer,
)

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "examples" / "grafana" / "dragonfly.json"
SECRET = "S3CRET-tok3n-9f8e"
VENUES = ("kraken", "binance")


def _feed(venue: str, **keeper: int) -> SimpleNamespace:
    stats = FeedStats(client=ClientStats(messages=5, bytes=1234, connects=2, disconnects=1),
                      instruments={"ETH-BTC": KeeperStats(**keeper)}, bad_frames=1, unroutable=2, published=4)
    return SimpleNamespace(venue=venue, stats=stats)


def _world() -> tuple[SimpleNamespace, GrpcServer, FixServer]:
    """A pipeline-shaped object (an aggregator and two feeds), a gRPC and a FIX server, none started."""
    agg = BboAggregator.build(instrument="ethbtc", venues=VENUES, depth=5)
    feeds = {"kraken": _feed("kraken", checksums_ok=7, checksum_errors=2, gaps=1, resyncs=3, applied=11, snapshots=2,
                             skipped=4, buffer_overflows=1, forwarded=9),
             "binance": _feed("binance", snapshots=6, forwarded=6, unchanged=2)}
    pipe = SimpleNamespace(config=SimpleNamespace(instrument="ETH-BTC", venues=VENUES, depth=5), aggregator=agg,
                           feeds=feeds, views=agg.views, liquidity=agg.liquidity)
    grpc = GrpcServer([ServedBook.from_pipeline(pipe)], GrpcServerConfig(port=0, token=SECRET, max_streams_per_token=3))
    grpc.stats.refused_per_peer = 2
    grpc.stats.streams_opened = 5
    fix = FixServer({"ETH-BTC": agg.views}, FixServerConfig(port=0, customers={"BOT": SECRET}))
    fix.stats.logons, fix.stats.sessions_ended, fix.stats.snapshots, fix.stats.conflated = 3, 1, 4, 6
    return pipe, grpc, fix


def _registry(*sources: Any, hops: HopHistograms | None = None) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DragonflyCollector(sources, hops=hops))
    return reg


def series(text: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    return [(s.name, tuple(sorted(s.labels.items()))) for f in text_string_to_metric_families(text) for s in f.samples]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(table: dict, name: str, **labels: str) -> float:
    return table[(name, frozenset(labels.items()))]


def family_sample_names(reg: CollectorRegistry) -> set[str]:
    """Every sample name the registry's families can carry (also families with no series now)."""
    out: set[str] = set()
    for fam in reg.collect():
        if fam.type == "counter":
            out.add(fam.name + "_total")
        elif fam.type == "histogram":
            out |= {fam.name + s for s in ("_bucket", "_sum", "_count")}
        else:
            out.add(fam.name)
    return out


# -- the collector --------------------------------------------------------------------------------


def test_feed_and_book_families_carry_feed_venue_and_instrument_labels() -> None:
    pipe, _, _ = _world()
    t = samples(generate_latest(_registry(pipe)).decode())
    k = {"feed": "ETH-BTC/kraken", "venue": "kraken"}
    ki = {**k, "instrument": "ETH-BTC"}
    assert value(t, "dragonfly_feed_messages_total", **k) == 5
    assert value(t, "dragonfly_feed_received_bytes_total", **k) == 1234
    assert value(t, "dragonfly_feed_connection_events_total", **k, event="connect") == 2
    assert value(t, "dragonfly_feed_connection_events_total", **k, event="disconnect") == 1
    assert value(t, "dragonfly_feed_dropped_frames_total", **k, reason="bad_frame") == 1
    assert value(t, "dragonfly_feed_dropped_frames_total", **k, reason="unroutable") == 2
    assert value(t, "dragonfly_feed_published_updates_total", **k) == 4
    assert value(t, "dragonfly_book_checksums_total", **ki, result="matched") == 7
    assert value(t, "dragonfly_book_checksums_total", **ki, result="failed") == 2
    assert value(t, "dragonfly_book_faults_total", **ki, fault="gap") == 1
    assert value(t, "dragonfly_book_faults_total", **ki, fault="checksum") == 2
    assert value(t, "dragonfly_book_resyncs_total", **ki) == 3
    assert value(t, "dragonfly_book_events_total", **ki, kind="delta") == 11
    assert value(t, "dragonfly_book_dropped_events_total", **ki, reason="stale_event") == 4
    assert value(t, "dragonfly_book_dropped_events_total", **ki, reason="buffer_overflow") == 1
    assert value(t, "dragonfly_book_updates_total", **ki, kind="forwarded") == 9
    assert value(t, "dragonfly_book_updates_total", feed="ETH-BTC/binance", venue="binance", instrument="ETH-BTC",
                 kind="unchanged") == 2


def test_aggregator_health_and_queue_families() -> None:
    pipe, _, _ = _world()
    agg = pipe.aggregator
    up = BookUpdate("kraken", "ETH-BTC", ((1.0, 1.0),), ((2.0, 1.0),), VenueStatus.LIVE, 1, 2)
    agg.input.publish(up)
    agg.input.publish(up)  # the same key before a drain: conflated
    agg.views.subscribe(maxsize=1)
    t = samples(generate_latest(_registry(pipe)).decode())
    for venue in VENUES:  # one gauge per state, exactly one of them 1
        states = {s: value(t, "dragonfly_venue_status", aggregator="main", instrument="ETH-BTC", venue=venue, status=s)
                  for s in ("SYNCING", "LIVE", "STALE")}
        assert states == {"SYNCING": 1.0, "LIVE": 0.0, "STALE": 0.0}
    assert value(t, "dragonfly_queue_conflated_total", aggregator="main", instrument="ETH-BTC", queue="input") == 1
    assert value(t, "dragonfly_queue_published_total", aggregator="main", instrument="ETH-BTC", queue="input") == 2
    assert value(t, "dragonfly_queue_items", aggregator="main", instrument="ETH-BTC", queue="input") == 1
    assert value(t, "dragonfly_queue_subscribers", aggregator="main", instrument="ETH-BTC", queue="views") == 1
    assert value(t, "dragonfly_aggregator_views_total", aggregator="main", instrument="ETH-BTC") == 0


async def test_venue_status_follows_the_aggregator_and_no_reason_reaches_the_exposition() -> None:
    pipe, _, _ = _world()
    agg = pipe.aggregator
    agg.start()
    try:
        with agg.views.subscribe(maxsize=8) as views:
            reason = f"connect failed: 401 headers={{'Authorization': 'Bearer {SECRET}'}} wss://u:{SECRET}@h/ws"
            agg.publish(BookUpdate("kraken", "ETH-BTC", (), (), VenueStatus.STALE, 0, 5, reason))
            live = BookUpdate("binance", "ETH-BTC", ((1.0, 2.0),), ((1.5, 1.0),), VenueStatus.LIVE, 3, 7_000_000_000)
            agg.publish(live)
            view = await asyncio.wait_for(views.get(), 5)
            while view.venues["binance"].status is not VenueStatus.LIVE:
                view = await asyncio.wait_for(views.get(), 5)
        text = generate_latest(_registry(pipe)).decode()
    finally:
        await agg.stop()
    t = samples(text)
    a = {"aggregator": "main", "instrument": "ETH-BTC"}
    assert value(t, "dragonfly_venue_status", **a, venue="kraken", status="STALE") == 1
    assert value(t, "dragonfly_venue_status", **a, venue="binance", status="LIVE") == 1
    assert value(t, "dragonfly_venue_last_update_timestamp_seconds", **a, venue="binance") == 7.0
    assert SECRET not in text and "Authorization" not in text and "connect failed" not in text


def test_grpc_and_fix_families_show_limits_and_sessions_never_a_token() -> None:
    pipe, grpc, fix = _world()
    text = generate_latest(_registry(pipe, grpc, fix)).decode()
    t = samples(text)
    srv = {"server": "127.0.0.1:0"}
    assert value(t, "dragonfly_grpc_streams_opened_total", **srv) == 5
    assert value(t, "dragonfly_grpc_streams_refused_total", **srv, reason="per_peer") == 2
    assert value(t, "dragonfly_grpc_streams_refused_total", **srv, reason="per_token") == 0
    assert value(t, "dragonfly_grpc_stream_limit", **srv, limit="max_streams") == 1024
    assert value(t, "dragonfly_grpc_stream_limit", **srv, limit="per_peer") == 64
    assert value(t, "dragonfly_grpc_stream_limit", **srv, limit="per_token") == 3
    f = {"server": "127.0.0.1:0"}  # not started: the configured address
    assert value(t, "dragonfly_fix_sessions", **f) == 2
    assert value(t, "dragonfly_fix_logons_total", **f) == 3
    assert value(t, "dragonfly_fix_market_data_messages_total", **f, type="snapshot") == 4
    assert value(t, "dragonfly_fix_conflated_views_total", **f) == 6
    assert SECRET not in text  # neither the gRPC token nor the FIX password


def test_a_source_reached_twice_is_reported_once_and_same_named_feeds_stay_distinct() -> None:
    pipe, grpc, _ = _world()
    twin = SimpleNamespace(feeds={"x": _feed("kraken"), "y": _feed("kraken")})
    reg = _registry(pipe, pipe, pipe.aggregator, grpc, grpc, twin)
    fams = {f.name: f for f in reg.collect()}
    labels = [tuple(sorted(s.labels.items())) for s in fams["dragonfly_feed_messages"].samples]
    assert len(labels) == len(set(labels)) == 4
    assert len(fams["dragonfly_aggregator_views"].samples) == 1
    assert len(fams["dragonfly_grpc_streams_opened"].samples) == 1


def test_two_aggregators_of_one_instrument_are_told_apart() -> None:
    """A topology file may run a BBO and a liquidity aggregator for the same instrument: no duplicate series."""
    groups = {name: SimpleNamespace(aggregators={"ETH-BTC": BboAggregator.build(instrument="ethbtc", venues=VENUES)})
              for name in ("world", "summed")}
    runtime = SimpleNamespace(aggregators=groups, feeds={"kraken": _feed("kraken"), "binance": _feed("binance")})
    text = generate_latest(_registry(runtime)).decode()
    found = series(text)
    assert len(found) == len(set(found))
    t = samples(text)
    for name in ("world", "summed"):
        assert value(t, "dragonfly_venue_status", aggregator=name, instrument="ETH-BTC", venue="kraken",
                     status="SYNCING") == 1
    assert value(t, "dragonfly_feed_messages_total", feed="kraken", venue="kraken") == 5


def test_names_follow_prometheus_conventions() -> None:
    pipe, grpc, fix = _world()
    hops = HopHistograms()
    hops.observe_view(_view(ex=1, recv=2, pub=3))
    hops.writer("grpc")("ETH-BTC", 10)
    for fam in _registry(pipe, grpc, fix, hops=hops).collect():
        assert fam.name.startswith("dragonfly_"), fam.name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", fam.name), fam.name
        assert fam.documentation.strip(), fam.name
        if fam.type == "histogram":
            assert fam.name.endswith("_seconds"), fam.name
        if fam.type == "gauge":
            assert not fam.name.endswith("_total"), fam.name
        assert not re.search(r"_(ms|us|ns|milliseconds|microseconds|kb|mb)(_|$)", fam.name), fam.name


# -- latency histograms ---------------------------------------------------------------------------


def test_latency_histogram_buckets_are_inclusive_upper_bounds() -> None:
    h = LatencyHistogram()
    for ns in (5_000, 5_001, 999_999, 10**12, -7):
        h.observe_ns(ns)
    cum = dict(h.cumulative())
    assert cum["5e-06"] == 2  # 5 µs and the negative one (counted as 0)
    assert cum["1e-05"] == 3
    assert cum["0.001"] == 4
    assert cum["10.0"] == 4 and cum["+Inf"] == 5
    assert h.count == 5 and h.negative == 1
    assert h.sum_ns == 5_000 + 5_001 + 999_999 + 10**12
    assert len(h.cumulative()) == len(LATENCY_BUCKETS_S) + 1
    with pytest.raises(ConfigError):
        LatencyHistogram((0.002, 0.001))


def _view(*, ex: int, recv: int, pub: int) -> WorldView:
    return WorldView("ETH-BTC", 1, (), (), 0.0, {}, ex, recv, pub)


def test_hop_histograms_per_instrument_and_service() -> None:
    hops = HopHistograms()
    hops.observe_view(_view(ex=1_000_000, recv=1_050_000, pub=1_080_000))
    hops.observe_view(_view(ex=0, recv=2_000_000, pub=2_000_500))  # no venue timestamp: only our hop
    hops.observe_view(_view(ex=0, recv=0, pub=5))  # no receipt (status only): nothing
    write = hops.writer("fix")
    write("ETH-BTC", 2_000_000)
    t = samples(generate_latest(_registry(hops=hops)).decode())
    assert value(t, "dragonfly_venue_to_receipt_latency_seconds_count", instrument="ETH-BTC") == 1
    assert value(t, "dragonfly_venue_to_receipt_latency_seconds_sum", instrument="ETH-BTC") == pytest.approx(50e-6)
    assert value(t, "dragonfly_receipt_to_view_latency_seconds_count", instrument="ETH-BTC") == 2
    assert value(t, "dragonfly_receipt_to_view_latency_seconds_bucket", instrument="ETH-BTC", le="5e-05") == 2
    assert value(t, "dragonfly_receipt_to_view_latency_seconds_bucket", instrument="ETH-BTC", le="5e-06") == 1
    assert value(t, "dragonfly_view_to_write_latency_seconds_bucket", instrument="ETH-BTC", service="fix",
                 le="0.0025") == 1
    assert value(t, "dragonfly_view_to_write_latency_seconds_bucket", instrument="ETH-BTC", service="fix",
                 le="0.001") == 0


# -- the registry and the server's configuration ----------------------------------------------------


def test_each_server_has_its_own_registry_never_the_global_one() -> None:
    from prometheus_client import REGISTRY

    pipe, _, _ = _world()
    a, b = MetricsServer([pipe], MetricsConfig(port=0)), MetricsServer([pipe], MetricsConfig(port=0))
    assert a.registry is not b.registry and REGISTRY not in (a.registry, b.registry)
    assert b"dragonfly_feed_messages_total" in a.exposition() and b"process_cpu_seconds_total" in a.exposition()
    assert not any(n.startswith("dragonfly_") for n in family_sample_names(REGISTRY))
    assert b"process_" not in MetricsServer([pipe], MetricsConfig(port=0, process=False)).exposition()


@pytest.mark.parametrize("kwargs", [{"port": -1}, {"port": 70000}, {"port": True}, {"host": ""}, {"path": "metrics"},
                                    {"sample_interval_s": -1}, {"sample_interval_s": "1"}])
def test_bad_metrics_config(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        MetricsConfig(**kwargs)


# -- promtool and the dashboard -----------------------------------------------------------------------


def _full_server() -> MetricsServer:
    """A server over every kind of source, with every histogram observed once."""
    pipe, grpc, fix = _world()
    server = MetricsServer([pipe, grpc, fix], MetricsConfig(port=0))
    server.hops.observe_view(_view(ex=1_000, recv=90_000, pub=120_000))
    server.hops.writer("grpc")("ETH-BTC", 40_000)
    server.hops.writer("fix")("ETH-BTC", 400_000)
    return server


def test_promtool_accepts_the_exposition(promtool: str) -> None:
    text = _full_server().exposition().decode()
    found = series(text)
    assert len(found) == len(set(found)) > 100  # promtool does not look for duplicate series; Prometheus would
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout + proc.stderr


def test_promtool_would_catch_a_bad_name(promtool: str) -> None:
    bad = "# HELP dragonfly_x_count x\n# TYPE dragonfly_x_count counter\ndragonfly_x_count 1\n"
    proc = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "_total" in proc.stdout + proc.stderr


def _exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        keys = ("expr",) if node.get("type") == "datasource" else ("expr", "query")  # a datasource picker's
        out = [v for k, v in node.items() if k in keys and isinstance(v, str)]          # query is a plugin id
        return out + [e for k, v in node.items() if k not in ("expr", "query") for e in _exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _exprs(v)]
    return []


def test_the_grafana_dashboard_names_only_metrics_that_exist() -> None:
    board = json.loads(DASHBOARD.read_text())
    known = family_sample_names(_full_server().registry)
    exprs = _exprs(board)
    assert len(exprs) >= 10
    used: set[str] = set()
    for expr in exprs:
        names = set(re.findall(r"\b((?:dragonfly|process|python)_[a-z0-9_]+)", expr))
        assert names or "label_values" in expr, expr
        assert names <= known, f"{expr}: unknown {sorted(names - known)}"
        used |= names
    # every area of the issue is on the board
    for wanted in ("dragonfly_feed_messages_total", "dragonfly_feed_received_bytes_total",
                   "dragonfly_book_dropped_events_total", "dragonfly_book_resyncs_total",
                   "dragonfly_book_checksums_total", "dragonfly_venue_status", "dragonfly_queue_conflated_total",
                   "dragonfly_receipt_to_view_latency_seconds_bucket", "dragonfly_view_to_write_latency_seconds_bucket",
                   "dragonfly_grpc_streams", "dragonfly_grpc_streams_refused_total", "dragonfly_fix_sessions"):
        assert wanted in used, wanted
    assert board["title"] and board["panels"]


# -- the commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize("parser, argv", [
    ("_server_parser", ["--instrument-name", "ethbtc"]),
    ("_fix_parser", ["--instrument-name", "ethbtc"]),
    ("_demo_parser", []),
    ("_run_parser", ["topology.toml"]),
    ("_worker_parser", []),
])
def test_every_server_command_takes_metrics_options(parser: str, argv: list[str]) -> None:
    from dragonfly import cli

    make = getattr(cli, parser)
    assert cli._metrics_config(make("x").parse_args(argv)) is None  # no metrics unless asked
    args = make("x").parse_args([*argv, "--metrics-port", "0", "--metrics-host", "0.0.0.0"])
    config = cli._metrics_config(args)
    assert config == MetricsConfig(host="0.0.0.0", port=0)
