"""gRPC fan-out benchmark: encode once for every subscriber vs protobuf objects per subscriber.

Method
------
* A **server process** runs simulated Binance and Bitstamp (:mod:`dragonfly.sim`,
  paced at ``--rate`` frames/s in total) -> the pipeline
  (``Pipeline(PipelineConfig(instrument="ethbtc", base_urls=<sim>))``) -> a gRPC
  server on 127.0.0.1, one of:

  - ``dragonfly``: :class:`dragonfly.services.grpc.GrpcServer`. One encoder per
    stream encodes each view once (``orderbook.Summary`` with the core's direct
    encoder, ``dragonfly.v1.BookUpdate`` with one ``SerializeToString``); every
    subscriber gets the same bytes through an identity serializer.
  - ``baseline``: the textbook servicer (generated ``add_*Servicer_to_server``):
    each call subscribes to the same conflating broadcast and, for every view,
    builds the protobuf message objects itself and lets gRPC serialize them, so
    the work is repeated once per subscriber.

  Both read the same ``pipeline.views`` broadcast with one-slot conflation, so a
  server that falls behind skips views instead of queueing them.
* A **client process** (this one) opens N streaming calls over 5 connections and
  counts messages for ``--duration`` seconds after a warm-up.

  - ``summaries/s``: messages received per second, all subscribers together, on
    ``dragonfly.v1.Aggregator/StreamBook`` (and on ``orderbook`` ``BookSummary``).
  - latency: for each ``BookUpdate``, ``time.time_ns()`` at the client minus
    ``receive_ts_ns`` (stamped by the pipeline's listener when the venue frame came
    out of the WebSocket reader), p50 and p99. Same machine, same clock.

The machine is small (2 cores, shared); server, simulators and clients compete
for them, so compare the two servers side by side in one run rather than the
absolute figures across runs. Each case runs ``--repeat`` times, alternating the
two servers, and the medians are printed.

Two parts:

* **cost**: synthetic views (:class:`dragonfly.services.grpc.testing.ViewPump`, no
  simulators) at a fixed rate both servers sustain (1 subscriber: 1000 views/s; 50
  subscribers: 100 views/s = 5000 messages/s); reported: messages/s received and
  the server process's CPU per message delivered (``/proc/<pid>/stat``), and what
  that makes per core.
* **latency**: simulators -> pipeline -> server -> client at ``--rate`` frames/s.
  With 50 subscribers in one Python client process, the client's own queueing of
  50 simultaneous messages dominates (the 50th waits for the 49 before it).

Run: ``python benchmarks/bench_grpc.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc  # noqa: E402 - after GRPC_VERBOSITY is set: grpc reads it when imported

from dragonfly.services.grpc.protos import (  # noqa: E402 - likewise
    aggregator_pb2_grpc,
    book_pb2,
    orderbook_pb2,
    orderbook_pb2_grpc,
)


# ----------------------------------------------------------------------------- servers
class BaselineServicer:
    """Per-subscriber protobuf objects: what a straightforward servicer does."""

    def __init__(self, views, venues) -> None:
        self.views = views
        self.venues = venues

    async def BookSummary(self, request, context):
        with self.views.subscribe(maxsize=1) as sub:
            async for v in sub:
                yield orderbook_pb2.Summary(
                    spread=v.spread,
                    bids=[orderbook_pb2.Level(exchange=e, price=p, amount=q) for e, p, q in v.bids],
                    asks=[orderbook_pb2.Level(exchange=e, price=p, amount=q) for e, p, q in v.asks],
                )

    async def StreamBook(self, request, context):
        with self.views.subscribe(maxsize=1) as sub:
            async for v in sub:
                yield book_pb2.BookUpdate(
                    instrument=v.instrument,
                    seq=v.seq,
                    spread=v.spread,
                    bids=[orderbook_pb2.Level(exchange=e, price=p, amount=q) for e, p, q in v.bids],
                    asks=[orderbook_pb2.Level(exchange=e, price=p, amount=q) for e, p, q in v.asks],
                    exchange_ts_ns=v.exchange_ts_ns,
                    receive_ts_ns=v.receive_ts_ns,
                    publish_ts_ns=v.publish_ts_ns,
                    venues=[
                        book_pb2.VenueHealth(
                            venue=n, status=book_pb2.VENUE_STATUS_LIVE, last_update_ns=h.last_update_ns
                        )
                        for n, h in v.venues.items()
                    ],
                )

    async def StreamLiquidity(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not in the baseline")

    async def ListInstruments(self, request, context):
        return book_pb2.InstrumentList()


async def _serve_views(kind: str, views, venues) -> None:
    from dragonfly.services.grpc import GrpcServer, GrpcServerConfig, ServedBook

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if kind == "dragonfly":
        book = ServedBook(instrument="ETH-BTC", venues=venues, depth=10, views=views)
        server = GrpcServer([book], GrpcServerConfig(port=0, grace_s=0))
        await server.start()
        port = server.port
    else:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        svc = BaselineServicer(views, venues)
        orderbook_pb2_grpc.add_OrderbookAggregatorServicer_to_server(svc, server)
        aggregator_pb2_grpc.add_AggregatorServicer_to_server(svc, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
    print(f"READY {port}", flush=True)
    await stop.wait()
    await server.stop(0)


async def serve(kind: str, source: str, rate: float) -> None:
    venues = ("binance", "bitstamp")
    if source == "synthetic":
        from dragonfly.queues import Broadcast
        from dragonfly.services.grpc.testing import ViewPump

        views = Broadcast(name="views")
        async with ViewPump(views, rate=rate, venues=venues):
            await _serve_views(kind, views, venues)
        return
    from dragonfly.sim import SimulatedVenues
    from dragonfly.topology import Pipeline, PipelineConfig

    sim = SimulatedVenues(venues=venues, instrument="ETH-BTC", seed=1, interval_s=len(venues) / rate)
    async with sim, Pipeline(PipelineConfig(instrument="ethbtc", venues=venues, base_urls=sim.base_urls)) as pipe:
        await _serve_views(kind, pipe.views, venues)


# ----------------------------------------------------------------------------- clients
def _cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(address: str, pid: int, subscribers: int, rpc: str, warmup: float, duration: float) -> dict:
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(min(5, subscribers))
    ]
    phase = {"on": False}
    counts = [0] * subscribers
    lat: list[int] = []

    async def sub(i: int) -> None:
        ch = channels[i % len(channels)]
        if rpc == "book":
            call = aggregator_pb2_grpc.AggregatorStub(ch).StreamBook(book_pb2.BookRequest())
            async for msg in call:
                if phase["on"]:
                    lat.append(time.time_ns() - msg.receive_ts_ns)
                    counts[i] += 1
        else:  # raw bytes: the client does not parse, to keep its own cost down
            call = ch.unary_stream(
                "/orderbook.OrderbookAggregator/BookSummary",
                request_serializer=orderbook_pb2.Empty.SerializeToString,
                response_deserializer=None,
            )(orderbook_pb2.Empty())
            async for _ in call:
                if phase["on"]:
                    counts[i] += 1

    tasks = [asyncio.ensure_future(sub(i)) for i in range(subscribers)]
    await asyncio.sleep(warmup)
    phase["on"] = True
    t0, cpu0 = time.perf_counter(), _cpu_s(pid)
    await asyncio.sleep(duration)
    phase["on"] = False
    elapsed, cpu = time.perf_counter() - t0, _cpu_s(pid) - cpu0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for ch in channels:
        await ch.close()
    total = sum(counts)
    out = {
        "per_s": total / elapsed,
        "min_sub_per_s": min(counts) / elapsed,
        "cpu_pct": 100.0 * cpu / elapsed,
        "cpu_us_per_msg": 1e6 * cpu / total if total else float("nan"),
    }
    if lat:
        lat.sort()
        out["p50_us"] = lat[len(lat) // 2] / 1e3
        out["p99_us"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e3
        out["mean_us"] = statistics.fmean(lat) / 1e3
    return out


def run_server(kind: str, source: str, rate: float) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--source", source, "--rate", str(rate)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line.startswith("READY "):
        p.kill()
        raise SystemExit(f"{kind} server did not start: {line!r}")
    return p, f"127.0.0.1:{line.split()[1]}"


def _run_cases(kind: str, source: str, rate: float, cases, warmup: float, duration: float) -> dict:
    proc, address = run_server(kind, source, rate)
    out = {}
    try:
        for rpc, n in cases:
            out[(rpc, n)] = asyncio.run(measure(address, proc.pid, n, rpc, warmup, duration))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def main() -> None:
    from _timing import require_compiled

    require_compiled("bench_grpc")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", choices=["dragonfly", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--source", choices=["sim", "synthetic"], default="sim", help=argparse.SUPPRESS)
    ap.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help="latency part: venue frames/s from the simulators into the pipeline (default 200)",
    )
    ap.add_argument(
        "--views-1", type=float, default=1000.0, help="cost part: synthetic views/s with 1 subscriber (default 1000)"
    )
    ap.add_argument(
        "--views-50",
        type=float,
        default=100.0,
        help="cost part: synthetic views/s with 50 subscribers (default 100, i.e. 5000 msg/s)",
    )
    ap.add_argument("--subscribers", default="1,50", help="comma-separated subscriber counts (default 1,50)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds measured per case (default 5)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring (default 2)")
    ap.add_argument("--quick", action="store_true", help="short run (2 s per case)")
    ap.add_argument("--only", choices=["cost", "latency"], help="run one part only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case, medians reported (default 3)")
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.source, args.rate))
        return
    if args.quick:
        args.duration, args.warmup, args.repeat = 2.0, 1.0, 1
    from dragonfly import core_implementation

    subs = [int(s) for s in args.subscribers.split(",")]
    kinds = ("dragonfly", "baseline")
    print(
        f"gRPC fan-out benchmark, core={core_implementation()}, "
        f"{args.duration:g} s per case after {args.warmup:g} s warm-up"
    )

    if args.only != "latency":
        _cost(args, subs, kinds)
    if args.only != "cost":
        _latency(args, subs, kinds)


def _median(results: list[dict]) -> dict:
    """Per-metric median over repeated runs."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def _cost(args: argparse.Namespace, subs: list[int], kinds: tuple[str, ...]) -> None:
    """A fixed offered load both servers sustain; server CPU per message delivered."""
    rates = {1: args.views_1, 50: args.views_50}
    thr: dict[str, dict] = {k: {} for k in kinds}
    for rpc in ("book", "summary"):
        for n in subs:
            rate = rates.get(n, args.views_50 * 50 / n)
            runs: dict[str, list[dict]] = {k: [] for k in kinds}
            for _ in range(args.repeat):  # interleaved, so both see the same machine load
                for k in kinds:
                    runs[k].append(_run_cases(k, "synthetic", rate, [(rpc, n)], args.warmup, args.duration)[(rpc, n)])
            for k in kinds:
                thr[k][(rpc, n)] = _median(runs[k])
    print()
    print("Fan-out cost: synthetic views published at a fixed rate (1 subscriber: "
          f"{args.views_1:g}/s, 50: {args.views_50:g}/s);")  # fmt: skip
    print("msg/s = messages received per second by all subscribers together; cpu = server process CPU")
    print("per message delivered (incl. publishing the views); msg/s/core = 1e6 / cpu µs")
    print(f"  {'rpc':<23} {'subs':>4} | {'msg/s':>6} {'base':>6} | {'cpu µs':>7} {'base':>7} | "
          f"{'msg/s/core':>10} {'base':>7} {'ratio':>6}")  # fmt: skip
    for rpc, label in (("book", "dragonfly.v1 StreamBook"), ("summary", "orderbook BookSummary")):
        for n in subs:
            d, b = thr["dragonfly"][(rpc, n)], thr["baseline"][(rpc, n)]
            dc, bc = d["cpu_us_per_msg"], b["cpu_us_per_msg"]
            print(f"  {label:<23} {n:>4} | {d['per_s']:6.0f} {b['per_s']:6.0f} | {dc:7.1f} {bc:7.1f} | "
                  f"{1e6 / dc:10.0f} {1e6 / bc:7.0f} {bc / dc:5.2f}x")  # fmt: skip


def _latency(args: argparse.Namespace, subs: list[int], kinds: tuple[str, ...]) -> None:
    """Simulators -> pipeline -> server -> client, at a rate nobody saturates."""
    lat_cases = [("book", n) for n in subs]
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        for k in kinds:
            runs[k].append(_run_cases(k, "sim", args.rate, lat_cases, args.warmup, args.duration))
    lat = {k: {c: _median([r[c] for r in runs[k]]) for c in lat_cases} for k in kinds}
    print()
    print(f"Latency: simulators at {args.rate:g} frames/s -> pipeline -> server -> client (StreamBook);")
    print("from the listener's receive stamp of the venue frame to the client's receipt of the update")
    print(
        f"  {'subs':>4} | {'dragonfly p50 µs':>16} {'p99 µs':>8} {'msg/s':>7} "
        f"| {'baseline p50 µs':>15} {'p99 µs':>8} {'msg/s':>7}"
    )
    for n in subs:
        d, b = lat["dragonfly"][("book", n)], lat["baseline"][("book", n)]
        print(f"  {n:>4} | {d['p50_us']:16.0f} {d['p99_us']:8.0f} {d['per_s']:7.0f} | "
              f"{b['p50_us']:15.0f} {b['p99_us']:8.0f} {b['per_s']:7.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
