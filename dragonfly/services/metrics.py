"""Prometheus metrics: a collector over the counters every layer already keeps, and an HTTP endpoint.

Nothing here runs on the hot path. :class:`DragonflyCollector` reads, at scrape time, the stats objects
the layers keep anyway (each feed's ``FeedStats``: its client's and every keeper's counters; each
aggregator's ``AggregatorStats``, venue health and input queue; each gRPC server's ``stats`` and streams;
each FIX server's ``stats``) and turns them into metric families. The only observations made as the
market runs are the latency histograms (:class:`LatencyHistogram`, a list of bucket counts: one bisect
and two additions per observation, no lock, no allocation):

- ``venue -> receipt`` and ``receipt -> world view``: from every world view a one-slot subscription of
  the metrics server takes (:class:`ViewTap`; it is conflated like any subscriber, so under load it
  samples instead of adding work per update);
- ``world view -> written``: where the gRPC and FIX servers write a message, through their
  ``write_latency`` hook, set only while a metrics server runs.

Every metric lives in a :class:`prometheus_client.CollectorRegistry` of its own (one per
:class:`MetricsServer`, or one you pass), never in the library's global default registry, so several
hosts, tests and embedding programs never collide.

Labels carry venue, instrument, feed, aggregator and server names, peer addresses and token *indexes* (never a
token), fault kinds and states; never a health reason, URL, header or exception text, which may hold
secrets (and would make unbounded label sets).

Use it through :class:`~dragonfly.services.host.ServiceHost` (``metrics=MetricsConfig(port=9464)``),
the commands' ``--metrics-port``, or on its own::

    server = MetricsServer([pipeline, grpc_server], MetricsConfig(port=0))
    await server.start()
    print(server.address)                         # 127.0.0.1:43117; GET /metrics
"""

from __future__ import annotations

import asyncio
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

from aiohttp import web
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .._lifecycle import StartStop, cancel_and_wait
from ..errors import BindError, ConfigError
from ..model import VenueStatus

__all__ = (
    "DEFAULT_METRICS_PORT",
    "LATENCY_BUCKETS_S",
    "DragonflyCollector",
    "LatencyHistogram",
    "MetricsConfig",
    "MetricsServer",
    "ViewTap",
    "metric_names",
)

log = logging.getLogger(__name__)

#: The port the commands' documentation suggests (Prometheus' "default port allocations" leave 9464 to
#: exporters of this kind); the commands serve no metrics unless ``--metrics-port`` is given.
DEFAULT_METRICS_PORT = 9464

#: Latency buckets, seconds: 5 µs to 10 s (a hop inside the process is µs; a venue's clock to our receipt is
#: ms and includes the clock offset between the venue and this host).
LATENCY_BUCKETS_S: tuple[float, ...] = (
    5e-6, 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6,
    1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
    1.0, 2.5, 10.0,
)

#: The classic text format (what ``generate_latest`` writes); Prometheus 2.x scrapes it.
_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_STATES = tuple(s.value for s in VenueStatus)


class LatencyHistogram:
    """Bucket counts of latencies given in nanoseconds, exported as a Prometheus histogram in seconds.

    For one event loop (no lock): :meth:`observe_ns` is a bisect and two additions. A negative
    latency (a venue clock ahead of ours) counts as 0 and in :attr:`negative`.

    Parameters
    ----------
    buckets_s : sequence of float
        Upper bounds in seconds, increasing (``+Inf`` is implied).
    """

    __slots__ = ("bounds_ns", "buckets_s", "counts", "count", "sum_ns", "negative")

    def __init__(self, buckets_s: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        b = tuple(float(x) for x in buckets_s)
        if not b or any(y <= x for x, y in pairwise(b)) or b[0] <= 0:
            raise ConfigError("latency buckets must be positive and increasing")
        self.buckets_s = b
        self.bounds_ns = tuple(round(x * 1e9) for x in b)
        self.counts = [0] * (len(b) + 1)  # the last one: above every bound (+Inf only)
        self.count = 0
        self.sum_ns = 0
        self.negative = 0

    def observe_ns(self, ns: int) -> None:
        """Count one latency of ``ns`` nanoseconds."""
        if ns < 0:
            self.negative += 1
            ns = 0
        self.counts[bisect_left(self.bounds_ns, ns)] += 1
        self.count += 1
        self.sum_ns += ns

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, cumulative count)`` pairs, ending with ``+Inf``, as a histogram family wants them."""
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip((*(repr(b) for b in self.buckets_s), "+Inf"), self.counts, strict=True):
            total += n
            out.append((bound, float(total)))
        return out


# --------------------------------------------------------------------------- what the collector reads
# The layers below are read by shape, not imported (services never import listeners or the topology):
# a feed has ``venue`` and ``stats`` (``client`` counters, optional ``instruments`` of keeper counters);
# an aggregator has ``instrument``, ``stats``, ``health()`` and its ``input`` queue; a pipeline (or a
# topology file's runtime, or a worker) holds feeds and aggregators; a gRPC server has ``streams_by_peer``;
# a FIX server has ``stats.logons``.


@dataclass(slots=True)
class _Found:
    feeds: list[tuple[str, Any]]  # (feed label, feed)
    aggregators: list[tuple[str, Any]]  # (aggregator label, aggregator)
    grpc: list[Any]
    fix: list[Any]


def _is_aggregator(obj: Any) -> bool:
    return hasattr(obj, "instrument") and hasattr(obj, "input") and hasattr(obj, "stats") and hasattr(obj, "health")


def _is_feed(obj: Any) -> bool:
    stats = getattr(obj, "stats", None)
    return stats is not None and hasattr(stats, "client") and isinstance(getattr(obj, "venue", None), str)


def _is_grpc(obj: Any) -> bool:
    return callable(getattr(obj, "streams_by_peer", None))


def _is_fix(obj: Any) -> bool:
    return hasattr(getattr(obj, "stats", None), "logons")


def _values(container: Any) -> list[tuple[str | None, Any]]:
    if isinstance(container, dict):
        return [(str(k), v) for k, v in container.items()]
    if isinstance(container, (list, tuple)):
        return [(None, v) for v in container]
    return []


def _walk(sources: Iterable[Any]) -> _Found:
    """Every feed, aggregator and server reachable from ``sources`` (each once), read now: a pipeline's
    feeds exist only once it runs."""
    found = _Found([], [], [], [])
    seen: set[int] = set()

    def visit(obj: Any, feed_label: str | None, owner: str, agg_label: str = "main") -> None:
        if obj is None or id(obj) in seen:
            return
        seen.add(id(obj))
        if _is_grpc(obj):
            found.grpc.append(obj)
            return
        if _is_fix(obj):
            found.fix.append(obj)
            return
        if _is_aggregator(obj):
            found.aggregators.append((agg_label, obj))
            return
        if _is_feed(obj):
            label = feed_label or obj.venue
            name = getattr(obj, "name", None)  # a bus feed is named after its worker
            if feed_label is None and isinstance(name, str) and name:
                label = name
            found.feeds.append((f"{owner}{label}" if owner else label, obj))
            return
        config = getattr(obj, "config", None)
        instrument = getattr(config, "instrument", None)
        # a pipeline's feeds are one per venue for its instrument: name them INSTRUMENT/venue
        prefix = f"{instrument}/" if isinstance(instrument, str) else owner
        visit(getattr(obj, "aggregator", None), None, prefix)
        for key, feed in _values(getattr(obj, "feeds", None)):
            visit(feed, key, prefix)
        for name, agg in _values(getattr(obj, "aggregators", None)):  # a topology file: groups of aggregators
            inner = getattr(agg, "aggregators", None)
            for _, a in _values(inner) if inner is not None else [(None, agg)]:
                visit(a, None, owner, name or "main")
        visit(getattr(obj, "scaleout", None), None, "")

    for s in sources:
        visit(s, None, "")
    return found


def _server_label(server: Any) -> str:
    """``host:port`` a server listens on; the configured one before it started."""
    try:
        return str(server.address)
    except (AssertionError, AttributeError, RuntimeError):
        cfg = server.config
        return f"{cfg.host}:{cfg.port}"


def _unique(labels: list[str]) -> list[str]:
    """``a, a, b`` -> ``a, a#2, b``: one label set per series even when two feeds share a name."""
    count: dict[str, int] = {}
    out = []
    for label in labels:
        n = count.get(label, 0) + 1
        count[label] = n
        out.append(label if n == 1 else f"{label}#{n}")
    return out


# --------------------------------------------------------------------------- the collector
_CONNECTION_EVENTS = (
    ("connect", "connects"), ("failed_connect", "failed_connects"), ("disconnect", "disconnects"),
    ("watchdog_timeout", "watchdog_timeouts"), ("transport_gap", "gaps"),
)
_BOOK_DROPS = (
    ("stale_event", "skipped"), ("awaiting_snapshot", "dropped"), ("buffer_overflow", "buffer_overflows"),
    ("stale_snapshot", "stale_snapshots"),
)
_BOOK_FAULTS = (
    ("gap", "gaps"), ("checksum", "checksum_errors"), ("crossed", "crossed"), ("invalid", "invalid"),
    ("bad_frame", "bad_frames"),
)
_BOOK_UPDATES = (
    ("forwarded", "forwarded"), ("unchanged", "unchanged"), ("keepalive", "keepalives"), ("status", "status_changes"),
)
_AGG_COUNTERS = (
    ("dragonfly_aggregator_updates", "updates", "Book updates the aggregator consumed (after conflation)."),
    ("dragonfly_aggregator_batches", "batches", "Drains of the aggregator's input queue."),
    ("dragonfly_aggregator_views", "views", "World views published."),
    ("dragonfly_aggregator_keepalives", "keepalives", "Updates that only refreshed a venue's liveness."),
    ("dragonfly_aggregator_ignored_updates", "ignored", "Updates for another instrument or an unexpected venue."),
    ("dragonfly_aggregator_stale_timeouts", "stale_timeouts", "Venues turned STALE by the staleness timer."),
    ("dragonfly_aggregator_merge_errors", "merge_errors", "States the merge refused (never served)."),
)
_GRPC_REFUSALS = (
    ("max_streams", "refused_max_subscribers"), ("per_peer", "refused_per_peer"), ("per_token", "refused_per_token"),
    ("shutting_down", "refused_shutting_down"),
)


class DragonflyCollector(Collector):
    """Reads dragonfly's counters at scrape time (see the module docstring for what and why).

    Parameters
    ----------
    sources : iterable
        Pipelines, topology runtimes, workers, feeds, aggregators, gRPC and FIX servers, in any mix;
        read by shape at every scrape (a pipeline started later shows its feeds then).
    hops : HopHistograms or None
        The latency histograms to export (default: a new, empty set).
    """

    def __init__(self, sources: Iterable[Any] = (), *, hops: HopHistograms | None = None) -> None:
        self.sources: list[Any] = list(sources)
        self.hops = hops if hops is not None else HopHistograms()

    def add(self, source: Any) -> None:
        """Read ``source`` too from the next scrape on."""
        self.sources.append(source)

    def describe(self) -> list[Metric]:
        # register without a collect() at registration time (feeds may not exist yet)
        return []

    def collect(self) -> Iterator[Metric]:
        found = _walk(self.sources)
        yield from self._feeds(found.feeds)
        yield from self._aggregators(found.aggregators)
        yield from self._grpc(found.grpc)
        yield from self._fix(found.fix)
        yield from self.hops.families()

    # -- layers 1-3 -------------------------------------------------------------------------------
    @staticmethod
    def _feeds(feeds: list[tuple[str, Any]]) -> Iterator[Metric]:
        fl = ["feed", "venue"]
        messages = CounterMetricFamily("dragonfly_feed_messages", "Data messages received on the feed's connection.",
                                       labels=fl)
        nbytes = CounterMetricFamily(
            "dragonfly_feed_received_bytes", "Payload received on the feed's connection (characters of text frames).",
            labels=fl, unit="bytes")
        events = CounterMetricFamily("dragonfly_feed_connection_events",
                                     "Connection events of the feed's client, by event.", labels=[*fl, "event"])
        drops = CounterMetricFamily("dragonfly_feed_dropped_frames",
                                    "Frames the feed dropped, by reason (bad_frame: not parsed; unroutable: an "
                                    "instrument this feed does not keep).", labels=[*fl, "reason"])
        published = CounterMetricFamily("dragonfly_feed_published_updates",
                                        "BookUpdates the feed handed to its aggregators.", labels=fl)
        snaps = CounterMetricFamily("dragonfly_feed_snapshot_requests",
                                    "Snapshot requests, by how (rest, rest_failed: a REST request that failed and is "
                                    "retried, resubscribe).", labels=[*fl, "method"])
        il = [*fl, "instrument"]
        book_events = CounterMetricFamily("dragonfly_book_events", "Events applied to the instrument's book, by kind.",
                                          labels=[*il, "kind"])
        book_drops = CounterMetricFamily(
            "dragonfly_book_dropped_events",
            "Events not applied, by reason (stale_event: older than the book or duplicate; awaiting_snapshot: a delta "
            "while a stream snapshot is due; buffer_overflow; stale_snapshot: a snapshot older than buffered deltas).",
            labels=[*il, "reason"])
        faults = CounterMetricFamily("dragonfly_book_faults", "Faults detected (each resyncs the instrument), by kind.",
                                     labels=[*il, "fault"])
        resyncs = CounterMetricFamily("dragonfly_book_resyncs", "Resyncs of the instrument's book after a fault.",
                                      labels=il)
        checksums = CounterMetricFamily("dragonfly_book_checksums",
                                        "Venue checksums compared with the local book, by result.",
                                        labels=[*il, "result"])
        updates = CounterMetricFamily("dragonfly_book_updates",
                                      "What the book keeper did after an event (forwarded: a new top N sent on; "
                                      "unchanged; keepalive; status: a non-LIVE update).", labels=[*il, "kind"])
        rejects = CounterMetricFamily("dragonfly_book_subscription_rejects", "Subscriptions the venue refused.",
                                      labels=il)
        labels = _unique([name for name, _ in feeds])
        for label, (_, feed) in zip(labels, feeds, strict=True):
            st = feed.stats
            c = st.client
            lv = [label, feed.venue if hasattr(st, "instruments") else "bus"]  # a bus feed carries many venues
            messages.add_metric(lv, c.messages)
            nbytes.add_metric(lv, c.bytes)
            for event, attr in _CONNECTION_EVENTS:
                events.add_metric([*lv, event], getattr(c, attr, 0))
            drops.add_metric([*lv, "bad_frame"], getattr(st, "bad_frames", 0))
            drops.add_metric([*lv, "unroutable"], getattr(st, "unroutable", 0))
            published.add_metric(lv, getattr(st, "published", 0))
            snaps.add_metric([*lv, "rest"], getattr(st, "snapshot_requests", 0))
            snaps.add_metric([*lv, "rest_failed"], getattr(st, "snapshot_failures", 0))
            snaps.add_metric([*lv, "resubscribe"], getattr(st, "resubscribes", 0))
            for instrument, k in (getattr(st, "instruments", None) or {}).items():
                li = [*lv, instrument]
                book_events.add_metric([*li, "snapshot"], k.snapshots)
                book_events.add_metric([*li, "delta"], k.applied)
                book_events.add_metric([*li, "buffered"], k.buffered)
                for reason, attr in _BOOK_DROPS:
                    book_drops.add_metric([*li, reason], getattr(k, attr))
                for fault, attr in _BOOK_FAULTS:
                    faults.add_metric([*li, fault], getattr(k, attr))
                resyncs.add_metric(li, k.resyncs)
                checksums.add_metric([*li, "matched"], k.checksums_ok)
                checksums.add_metric([*li, "failed"], k.checksum_errors)
                for kind, attr in _BOOK_UPDATES:
                    updates.add_metric([*li, kind], getattr(k, attr))
                rejects.add_metric(li, k.rejects)
        yield from (messages, nbytes, events, drops, published, snaps, book_events, book_drops, faults, resyncs,
                    checksums, updates, rejects)

    # -- layer 4 ----------------------------------------------------------------------------------
    @staticmethod
    def _aggregators(aggs: list[tuple[str, Any]]) -> Iterator[Metric]:
        al = ["aggregator", "instrument"]
        counters = [CounterMetricFamily(name, doc, labels=al) for name, _, doc in _AGG_COUNTERS]
        status = GaugeMetricFamily(
            "dragonfly_venue_status",
            "1 for the state the venue is in for this instrument, as the aggregator sees it (LIVE: in the world "
            "view; SYNCING; STALE: disconnected, silent, resyncing or bad data), 0 for the others.",
            labels=[*al, "venue", "status"])
        last = GaugeMetricFamily("dragonfly_venue_last_update_timestamp_seconds",
                                 "Receive time (Unix) of the venue's latest LIVE update (0: none yet).",
                                 labels=[*al, "venue"])
        ql = [*al, "queue"]
        conflated = CounterMetricFamily("dragonfly_queue_conflated",
                                        "Items replaced by a newer one with the same key before the consumer took them "
                                        "(the aggregator's input: latest update per venue and instrument wins).",
                                        labels=ql)
        qdropped = CounterMetricFamily("dragonfly_queue_dropped",
                                       "Items dropped because the queue held its maximum of distinct keys.", labels=ql)
        qpublished = CounterMetricFamily("dragonfly_queue_published", "Items published into the queue.", labels=ql)
        depth = GaugeMetricFamily("dragonfly_queue_items", "Items waiting in the queue now.", labels=ql)
        subscribers = GaugeMetricFamily("dragonfly_queue_subscribers",
                                        "Subscribers of the aggregator's output broadcast now (views: world views; "
                                        "liquidity: summed liquidity).", labels=ql)
        for label, agg in aggs:
            a = [label, agg.instrument]
            st = agg.stats
            for family, (_, attr, _) in zip(counters, _AGG_COUNTERS, strict=True):
                family.add_metric(a, getattr(st, attr, 0))
            for venue, h in agg.health().items():
                state = h.status.value
                for s in _STATES:
                    status.add_metric([*a, venue, s], 1.0 if s == state else 0.0)
                last.add_metric([*a, venue], h.last_update_ns / 1e9)
            q = agg.input
            conflated.add_metric([*a, "input"], q.conflated)
            qdropped.add_metric([*a, "input"], q.dropped)
            qpublished.add_metric([*a, "input"], q.published)
            depth.add_metric([*a, "input"], len(q))
            for name in ("views", "liquidity"):
                b = getattr(agg, name, None)
                if b is not None:
                    subscribers.add_metric([*a, name], b.subscriber_count)
                    qpublished.add_metric([*a, name], b.published)
        yield from (*counters, status, last, conflated, qdropped, qpublished, depth, subscribers)

    # -- layer 5 ----------------------------------------------------------------------------------
    @staticmethod
    def _grpc(servers: list[Any]) -> Iterator[Metric]:
        sl = ["server"]
        opened = CounterMetricFamily("dragonfly_grpc_streams_opened", "Streaming calls accepted.", labels=sl)
        refused = CounterMetricFamily("dragonfly_grpc_streams_refused",
                                      "Streaming calls refused with RESOURCE_EXHAUSTED or UNAVAILABLE, by limit hit.",
                                      labels=[*sl, "reason"])
        stalled = CounterMetricFamily("dragonfly_grpc_streams_dropped_stalled",
                                      "Streams ended because the client had not read for the stall timeout.", labels=sl)
        unauth = CounterMetricFamily("dragonfly_grpc_unauthenticated", "Calls refused for a missing or wrong token.",
                                     labels=sl)
        streams = GaugeMetricFamily("dragonfly_grpc_streams", "Streaming calls served now, by method.",
                                    labels=[*sl, "method"])
        by_peer = GaugeMetricFamily("dragonfly_grpc_peer_streams",
                                    "Streaming calls held now per client address (as the per-peer limit counts them).",
                                    labels=[*sl, "peer"])
        by_token = GaugeMetricFamily("dragonfly_grpc_token_streams",
                                     "Streaming calls held now per bearer token, by the token's index in the token "
                                     "file (never the token).", labels=[*sl, "token"])
        limits = GaugeMetricFamily("dragonfly_grpc_stream_limit",
                                   "Configured stream limits (absent: no limit).", labels=[*sl, "limit"])
        encoded = GaugeMetricFamily("dragonfly_grpc_encoded_streams",
                                    "Distinct encoded streams (instrument, depth, venues) now; each encodes once for "
                                    "all its calls.", labels=sl)
        for srv in servers:
            lv = [_server_label(srv)]
            st = srv.stats
            opened.add_metric(lv, st.streams_opened)
            for reason, attr in _GRPC_REFUSALS:
                refused.add_metric([*lv, reason], getattr(st, attr, 0))
            stalled.add_metric(lv, st.dropped_stalled)
            unauth.add_metric(lv, st.unauthenticated)
            methods: dict[str, int] = {}
            for s in srv.subscribers():
                methods[s.method] = methods.get(s.method, 0) + 1
            for method, n in sorted(methods.items()):
                streams.add_metric([*lv, method], n)
            for peer, n in sorted(srv.streams_by_peer().items()):
                by_peer.add_metric([*lv, peer], n)
            for token, n in sorted(srv.streams_by_token().items()):
                by_token.add_metric([*lv, str(token)], n)
            cfg = srv.config
            for limit, attr in (("max_streams", "max_subscribers"), ("per_peer", "max_streams_per_peer"),
                                ("per_token", "max_streams_per_token"), ("stall_timeout_seconds", "stall_timeout_s")):
                value = getattr(cfg, attr, None)
                if value is not None:
                    limits.add_metric([*lv, limit], value)
            encoded.add_metric(lv, len(srv.streams()))
        yield from (opened, refused, stalled, unauth, streams, by_peer, by_token, limits, encoded)

    @staticmethod
    def _fix(servers: list[Any]) -> Iterator[Metric]:
        sl = ["server"]
        sessions = GaugeMetricFamily("dragonfly_fix_sessions", "FIX customer sessions logged on now.", labels=sl)
        logons = CounterMetricFamily("dragonfly_fix_logons", "FIX customer logons accepted.", labels=sl)
        ended = CounterMetricFamily("dragonfly_fix_sessions_ended", "FIX customer sessions ended.", labels=sl)
        requests = CounterMetricFamily("dragonfly_fix_market_data_requests", "MarketDataRequests (35=V) received.",
                                       labels=sl)
        rejects = CounterMetricFamily("dragonfly_fix_market_data_request_rejects",
                                      "MarketDataRequestRejects (35=Y) sent.", labels=sl)
        sent = CounterMetricFamily("dragonfly_fix_market_data_messages",
                                   "Market data messages sent, by type (snapshot: 35=W; incremental: 35=X).",
                                   labels=[*sl, "type"])
        conflated = CounterMetricFamily("dragonfly_fix_conflated_views",
                                        "Views a slow customer skipped (its slot kept the newest).", labels=sl)
        for srv in servers:
            lv = [_server_label(srv)]
            st = srv.stats
            sessions.add_metric(lv, max(getattr(st, "logons", 0) - getattr(st, "sessions_ended", 0), 0))
            logons.add_metric(lv, getattr(st, "logons", 0))
            ended.add_metric(lv, getattr(st, "sessions_ended", 0))
            requests.add_metric(lv, getattr(st, "requests", 0))
            rejects.add_metric(lv, getattr(st, "request_rejects", 0))
            sent.add_metric([*lv, "snapshot"], getattr(st, "snapshots", 0))
            sent.add_metric([*lv, "incremental"], getattr(st, "incrementals", 0))
            conflated.add_metric(lv, getattr(st, "conflated", 0))
        yield from (sessions, logons, ended, requests, rejects, sent, conflated)


# --------------------------------------------------------------------------- latency per hop
class HopHistograms:
    """The latency histograms, per hop and instrument (and service for the last hop)."""

    def __init__(self, buckets_s: Sequence[float] = LATENCY_BUCKETS_S) -> None:
        self.buckets_s = tuple(buckets_s)
        self.venue_to_receipt: dict[str, LatencyHistogram] = {}
        self.receipt_to_view: dict[str, LatencyHistogram] = {}
        self.view_to_write: dict[tuple[str, str], LatencyHistogram] = {}

    def _get(self, table: dict[Any, LatencyHistogram], key: Any) -> LatencyHistogram:
        h = table.get(key)
        if h is None:
            h = table[key] = LatencyHistogram(self.buckets_s)
        return h

    def observe_view(self, view: Any) -> None:
        """A world view's two hops: the venue's timestamp to our receipt (when the venue sends one), and our
        receipt to the view's publication."""
        inst = view.instrument
        recv = view.receive_ts_ns
        if not recv:
            return
        ex = view.exchange_ts_ns
        if ex:
            self._get(self.venue_to_receipt, inst).observe_ns(recv - ex)
        self._get(self.receipt_to_view, inst).observe_ns(view.publish_ts_ns - recv)

    def writer(self, service: str) -> Callable[[str, int], None]:
        """The ``write_latency`` hook of a server: ``hook(instrument, ns from publication to written)``."""
        table = self.view_to_write
        cache: dict[str, LatencyHistogram] = {}

        def observe(instrument: str, ns: int) -> None:
            h = cache.get(instrument)
            if h is None:
                h = cache[instrument] = self._get(table, (instrument, service))
            h.observe_ns(ns)

        return observe

    def families(self) -> Iterator[Metric]:
        specs = (
            ("dragonfly_venue_to_receipt_latency_seconds",
             "From the venue's timestamp of the newest book in a world view to our receipt of the update that "
             "triggered it (includes the venue's clock offset; a negative difference counts as 0).",
             ["instrument"], {(k,): v for k, v in self.venue_to_receipt.items()}),
            ("dragonfly_receipt_to_view_latency_seconds",
             "From receipt of a venue's frame to publication of the world view it changed (parse, book, queue, "
             "merge).", ["instrument"], {(k,): v for k, v in self.receipt_to_view.items()}),
            ("dragonfly_view_to_write_latency_seconds",
             "From publication of a world view to its message written to a gRPC or FIX client (encode, fan-out, "
             "the client's flow control).", ["instrument", "service"], dict(self.view_to_write.items())),
        )
        for name, doc, labels, table in specs:
            fam = HistogramMetricFamily(name, doc, labels=labels)
            for key, h in sorted(table.items()):
                fam.add_metric(list(key), h.cumulative(), sum_value=h.sum_ns / 1e9)
            yield fam


class ViewTap:
    """Observes :meth:`HopHistograms.observe_view` on the world views of one broadcast, through a one-slot
    subscription: when views come faster than this task runs, it sees only the newest (a sample).

    Parameters
    ----------
    views : Broadcast[WorldView]
    hops : HopHistograms
    interval_s : float
        After each observation, wait this long (the subscription keeps only the newest view meanwhile):
        at most one wake-up per interval, whatever the rate of views. 0: every view the task gets.
    """

    def __init__(self, views: Any, hops: HopHistograms, *, interval_s: float = 0.0) -> None:
        self.views = views
        self.hops = hops
        self.interval_s = interval_s
        self.observed = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        sub = self.views.subscribe(maxsize=1)
        self._task = asyncio.get_running_loop().create_task(self._run(sub), name=f"metrics-tap:{self.views.name}")

    async def _run(self, sub: Any) -> None:
        observe = self.hops.observe_view
        interval = self.interval_s
        with sub:
            async for view in sub:
                observe(view)
                self.observed += 1
                if interval:
                    await asyncio.sleep(interval)  # a sampling period, not a wait for an event

    async def stop(self) -> None:
        t, self._task = self._task, None
        await cancel_and_wait(t)


# --------------------------------------------------------------------------- the endpoint
@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """Where the metrics endpoint listens.

    Parameters
    ----------
    host : str
        Interface (default 127.0.0.1: only this host; ``0.0.0.0`` for a Prometheus elsewhere).
    port : int
        TCP port; 0 picks a free one (:attr:`MetricsServer.address` says which).
    path : str
        Where the exposition is served (``GET``).
    process : bool
        Also export the process' CPU, memory and file descriptors (``process_*``, ``python_info``).
    sample_interval_s : float
        The venue -> receipt -> world view latencies are sampled at most once per this period per
        instrument (0: every world view the sampling task gets; it is conflated under load anyway).
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_METRICS_PORT
    path: str = "/metrics"
    process: bool = True
    sample_interval_s: float = 0.01

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError("metrics host must be a non-empty string")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535:
            raise ConfigError(f"metrics port must be 0..65535, got {self.port!r}")
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigError(f"metrics path must start with '/', got {self.path!r}")
        if not isinstance(self.sample_interval_s, (int, float)) or not 0 <= self.sample_interval_s <= 60:
            raise ConfigError(f"sample_interval_s must be within [0, 60], got {self.sample_interval_s!r}")


class MetricsServer(StartStop):
    """Serve Prometheus metrics over plain HTTP: a :class:`~dragonfly.services.base.Service` for
    :class:`~dragonfly.services.host.ServiceHost` (or on its own: ``async with``).

    Parameters
    ----------
    sources : iterable
        What to report on (see :class:`DragonflyCollector`). While running, gRPC and FIX servers among
        them report their write latency, and every aggregator's world views are sampled for the other hops.
    config : MetricsConfig
    registry : CollectorRegistry or None
        Where the metrics are registered (default: a new one of this server's, never the global default).

    Attributes
    ----------
    registry : CollectorRegistry
    collector : DragonflyCollector
    """

    name: ClassVar[str] = "metrics"

    def __init__(self, sources: Iterable[Any] = (), config: MetricsConfig | None = None, *,
                 registry: CollectorRegistry | None = None) -> None:
        self.config = config or MetricsConfig()
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
        self.collector = DragonflyCollector(sources)
        self.registry.register(self.collector)
        if self.config.process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._taps: list[ViewTap] = []
        self._hooked: list[Any] = []

    @property
    def hops(self) -> HopHistograms:
        return self.collector.hops

    @property
    def port(self) -> int:
        """The port it listens on (after :meth:`start`)."""
        return self._port

    @property
    def address(self) -> str:
        host = self.config.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self._port}"

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        return f"http://{self.address}{self.config.path}"

    def exposition(self) -> bytes:
        """The text a scrape gets now."""
        return generate_latest(self.registry)

    async def start(self) -> None:
        """Listen, hook the servers' write latency and sample the world views.

        Raises
        ------
        BindError
            The address cannot be bound (port in use, unknown host).
        """
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get(self.config.path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        cfg = self.config
        site = web.TCPSite(runner, cfg.host, cfg.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise BindError(
                f"cannot listen on {cfg.host}:{cfg.port} for {self.name}: {exc.strerror or exc}",
                service=self.name, host=cfg.host, port=cfg.port,
            ) from None
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1] if sockets else cfg.port
        found = _walk(self.collector.sources)
        for kind, servers in (("grpc", found.grpc), ("fix", found.fix)):
            for srv in servers:
                if hasattr(srv, "write_latency"):
                    srv.write_latency = self.hops.writer(kind)
                    self._hooked.append(srv)
        for views in _view_broadcasts(self.collector.sources, found):
            tap = ViewTap(views, self.hops, interval_s=cfg.sample_interval_s)
            tap.start()
            self._taps.append(tap)
        log.info("metrics on http://%s%s", self.address, cfg.path)

    async def stop(self) -> None:
        """Stop listening and sampling (idempotent)."""
        hooked, self._hooked = self._hooked, []
        for srv in hooked:
            srv.write_latency = None
        taps, self._taps = self._taps, []
        for tap in taps:
            await tap.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = self.exposition()
        return web.Response(body=body, headers={"Content-Type": _CONTENT_TYPE})


def _view_broadcasts(sources: Iterable[Any], found: _Found) -> list[Any]:
    """The world-view broadcasts to sample: each aggregator's ``views`` (a pipeline's aggregator is found by
    the walk even before it runs)."""
    out = []
    seen: set[int] = set()
    for _, agg in found.aggregators:
        views = getattr(agg, "views", None)
        if views is not None and callable(getattr(views, "subscribe", None)) and id(views) not in seen:
            if getattr(getattr(agg, "config", None), "views", True):
                seen.add(id(views))
                out.append(views)
    return out


def metric_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name a scrape of ``registry`` gives now (``dragonfly_feed_messages_total``, ``..._bucket``)."""
    return {s.name for m in registry.collect() for s in m.samples}
