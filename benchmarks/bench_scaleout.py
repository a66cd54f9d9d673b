"""Scale-out benchmark: feeds in worker processes joined to the aggregators by a bus.

Method
------
* A **blaster** process serves five venues on 127.0.0.1 in their real wire formats (``bitstamp`` top-N
  snapshots; ``bybit``, ``kraken``, ``coinbase`` and ``gemini`` snapshot frames of their diff channels,
  which their keepers take as full resets): aiohttp WebSocket servers that follow each
  client's subscriptions with the venues' simulator encoders, and write pre-rendered frames (four
  books per instrument, cycled; sequence fields renumbered per frame) for the instruments each
  connection subscribed to. Every frame changes the top (worst case: each one is forwarded).
* **Throughput** (``--instruments``, default 500 instruments x 5 venues = 2,500 feeds): the blaster
  writes as fast as the sockets take it (TCP back-pressure: it goes at the pace of its readers); the
  aggregator process runs one ``BboAggregator`` per instrument behind a
  :class:`~dragonfly.topology.ScaleOut` with 1, then 2 worker processes on the local bus, feeds spread
  by expected rate. frames/s = frames the blaster wrote over a ``--duration`` window after every
  feed was LIVE; "per worker CPU-second" divides by the workers' CPU time in that window (the rate
  one dedicated core per worker would sustain). Memory per instrument: the workers' resident memory
  less that of as many idle worker-like processes (Python, aiohttp and dragonfly imported), and the
  aggregator process's growth, divided by the instruments. Each run is a fresh process.
* **Latency** at a paced total rate (``--lat-rate``, default 2,000 frames/s over ``--lat-instruments``
  instruments x 5 venues): for every world view, ``publish_ts_ns - receive_ts_ns``: from the frame's
  receipt in the process that reads it (the worker, or this process in-process) to the world view
  published by the aggregator. In-process (no bus), local bus, NATS bus (a ``nats-server`` started
  here on 127.0.0.1; skipped when it is not installed).
* Ratios come from one run. The development machine has **2 cores shared with other jobs**: the
  blaster, the workers and the aggregator process compete for them, so 2 workers cannot show a 2x
  gain here; per-CPU-second figures say what each process would do on a core of its own.

Refuses to run on the pure-Python core (it times the compiled one).

Run: ``python benchmarks/bench_scaleout.py`` (``--quick``: 100 instruments, shorter windows); one measurement
alone: ``--child throughput --workers 2``, ``--child local``, ``--child in-process``, ``--child nats --nats-url
nats://127.0.0.1:4222``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _timing import REPO as ROOT
from _timing import cpu_seconds, header, percentiles, require_compiled

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# binance is left out: it subscribes by URL, and 500 streams make a request line longer than aiohttp's server takes
VENUES = ("bitstamp", "bybit", "kraken", "coinbase", "gemini")
MARK = 987654321987
BOOKS = 4
DEPTH = 10


def instrument_names(n: int) -> list[str]:
    return [f"C{i:03d}-USDT" for i in range(n)]


# ----------------------------------------------------------------------------------------------------- blaster
def _book_text(mid: float, b: int, levels: int = 20) -> tuple[list[list[str]], list[list[str]]]:
    bids = [[f"{mid * (1 - (j + 1) * 1e-4 - b * 1e-5):.6f}", f"{1 + j * 0.1 + b * 0.01:.4f}"] for j in range(levels)]
    asks = [[f"{mid * (1 + (j + 1) * 1e-4 + b * 1e-5):.6f}", f"{1 + j * 0.1 + b * 0.02:.4f}"] for j in range(levels)]
    return bids, asks


def _templates(venue: str, enc: Any, key: str, symbol: str, mid: float) -> list[tuple[str, str | None]]:
    from dragonfly.sim.encoder import BookState

    out: list[tuple[str, str | None]] = []
    for b in range(BOOKS):
        bids, asks = _book_text(mid, b)
        if enc.engine == "snapshot":
            text = enc.render(key, tuple(map(tuple, bids)), tuple(map(tuple, asks)), MARK)
        else:
            text = enc.snapshot_frame(BookState(symbol=symbol, bids=bids, asks=asks, last=MARK,
                                                micro=1_700_000_000_000_000, checksum=None))
        parts = text.split(str(MARK))
        out.append((parts[0], parts[1]) if len(parts) == 2 else (text, None))
    return out


async def blaster_main(args: argparse.Namespace) -> None:
    from aiohttp import WSMsgType, web

    from dragonfly.instruments import parse_instrument
    from dragonfly.sim import make_encoder
    from dragonfly.sim.server import Connection

    names = instrument_names(args.instruments)
    insts = {n: parse_instrument(n) for n in names}
    encs = {v: make_encoder(v) for v in VENUES}
    symbols = {v: {encs[v].symbol(p): n for n, p in insts.items()} for v in VENUES}
    mids = {n: 10.0 + i for i, n in enumerate(names)}
    cache: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    conns: list[tuple[str, Connection]] = []
    sent = {"frames": 0}
    seq = {"n": time.time_ns() // 1000}

    def frame(venue: str, conn: Connection, key: str, k: int) -> str:
        tpl = cache.get((venue, key))
        if tpl is None:
            name = conn.subs[key]
            enc = encs[venue]
            tpl = cache[(venue, key)] = _templates(venue, enc, key, enc.symbol(insts[name]), mids[name])
        pre, suf = tpl[k % BOOKS]
        if suf is None:
            return pre
        seq["n"] += 1
        return pre + str(seq["n"]) + suf

    async def blast(venue: str, conn: Connection) -> None:
        ws = conn.ws
        k = 0
        while not ws.closed:
            keys = list(conn.subs)
            if not keys:
                await asyncio.sleep(0.01)
                continue
            for i, key in enumerate(keys):
                if key not in conn.subs:
                    continue
                await ws.send_str(frame(venue, conn, key, k))
                sent["frames"] += 1
                if i % 64 == 63:
                    await asyncio.sleep(0)
            k += 1

    def handler_for(venue: str) -> Any:
        enc = encs[venue]

        async def handler(request: web.Request) -> web.StreamResponse:
            ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 22)
            await ws.prepare(request)
            conn = Connection(ws, request, symbols[venue])
            enc.connect(request.path, request.query, conn)
            conns.append((venue, conn))
            task = None
            if args.mode == "throughput":
                task = asyncio.get_running_loop().create_task(blast(venue, conn))
            try:
                async for msg in ws:
                    if msg.type is WSMsgType.TEXT:
                        for reply in enc.client_message(msg.data, conn):
                            await ws.send_str(reply)
            finally:
                conns.remove((venue, conn))
                if task is not None:
                    task.cancel()
            return ws

        return handler

    runners = []
    ports = {}
    for v in VENUES:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handler_for(v))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ports[v] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        runners.append(runner)
    print(json.dumps(ports), flush=True)

    async def pace() -> None:
        period = 1.0 / args.rate
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        i = 0
        k = 0
        while True:
            pairs = [(v, c, key) for v, c in conns for key in list(c.subs)]
            if not pairs:
                await asyncio.sleep(0.01)
                t0 = loop.time()
                i = 0
                continue
            for v, c, key in pairs:
                due = t0 + i * period
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                i += 1
                if key in c.subs and not c.ws.closed:
                    await c.ws.send_str(frame(v, c, key, k))
                    sent["frames"] += 1
            k += 1

    pacer = asyncio.get_running_loop().create_task(pace()) if args.mode == "latency" else None
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line or line.strip() == b"quit":
            break
        cpu = time.process_time()
        print(json.dumps({"frames": sent["frames"], "cpu": cpu}), flush=True)
    if pacer is not None:
        pacer.cancel()
    for r in runners:
        await r.cleanup()


class Blaster:
    def __init__(self, mode: str, instruments: int, rate: int = 1) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--blast", "--mode", mode, "--instruments", str(instruments), "--rate",
             str(rate)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        self.ports = json.loads(self.proc.stdout.readline())

    def base_urls(self) -> dict[str, str]:
        return {v: f"ws://127.0.0.1:{p}" for v, p in self.ports.items()}

    def count(self) -> dict[str, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------------------------------------- measuring
def _rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _all_live(aggs: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if all(h.status.value == "LIVE" for a in aggs for h in a.health().values()):
            return
        if time.monotonic() > deadline:
            bad = sum(h.status.value != "LIVE" for a in aggs for h in a.health().values())
            raise SystemExit(f"{bad} feeds not LIVE after {timeout:g} s")
        await asyncio.sleep(0.2)  # health has no event; 0.2 s steps, before anything is timed


def _aggregators(names: list[str]) -> list[Any]:
    from dragonfly.aggregators import BboAggregator

    return [BboAggregator.build(instrument=n, venues=VENUES, depth=DEPTH, staleness_s=60.0, liquidity=False)
            for n in names]


def _ws() -> Any:
    from dragonfly.clients.ws import WebSocketConfig

    return WebSocketConfig(url="ws://127.0.0.1:1", heartbeat_s=None, no_data_timeout_s=None)


async def throughput(workers: int, n: int, duration: float) -> dict[str, float]:
    from dragonfly.topology import ScaleOut

    blaster = Blaster("throughput", n)
    names = instrument_names(n)
    rss0 = _rss_mb()
    aggs = _aggregators(names)
    so = ScaleOut(instruments=names, venues=VENUES, depth=DEPTH, workers=workers, base_urls=blaster.base_urls(),
                  keepalive_s=15.0, ws=_ws())
    for a in aggs:
        so.attach(a.instrument, a.input)
        a.start()
    try:
        await so.acquire()
        await _all_live(aggs, 300.0)
        assert so.supervisor is not None
        pids = [w.pid for w in so.supervisor.workers.values()]
        await asyncio.sleep(2.0)  # warm-up
        c0 = blaster.count()
        t0 = time.perf_counter()
        cpu0 = [cpu_seconds(p) for p in pids]
        me0 = time.process_time()
        m0 = sum(f.stats.messages for f in so.feeds)
        await asyncio.sleep(duration)
        c1 = blaster.count()
        t1 = time.perf_counter()
        cpu1 = [cpu_seconds(p) for p in pids]
        me1 = time.process_time()
        m1 = sum(f.stats.messages for f in so.feeds)
        frames = c1["frames"] - c0["frames"]
        worker_cpu = sum(cpu1) - sum(cpu0)
        res = {
            "frames_per_s": frames / (t1 - t0),
            "frames_per_worker_cpu_s": frames / worker_cpu if worker_cpu else float("nan"),
            "bus_msgs_per_s": (m1 - m0) / (t1 - t0),
            "worker_cpu_share": worker_cpu / (t1 - t0),
            "aggregator_cpu_share": (me1 - me0) / (t1 - t0),
            "blaster_cpu_share": (c1["cpu"] - c0["cpu"]) / (t1 - t0),
            "worker_rss_mb": sum(_rss_mb(p) for p in pids),
            "aggregator_rss_kb_per_instrument": (_rss_mb() - rss0) * 1024 / n,
            "views": sum(a.stats.views for a in aggs),
        }
    finally:
        await so.stop()
        for a in aggs:
            await a.stop()
        blaster.close()
    return res


async def latency(mode: str, n: int, rate: int, duration: float, nats_url: str = "") -> dict[str, float]:
    from dragonfly.topology import ScaleOut
    from dragonfly.venues.feed import create_feed
    from dragonfly.venues.registry import get_venue

    blaster = Blaster("latency", n, rate)
    names = instrument_names(n)
    aggs = _aggregators(names)
    lat: list[int] = []
    so = None
    feeds: list[Any] = []
    for a in aggs:
        a.start()
    try:
        if mode == "in-process":
            routes = {a.instrument: a.input for a in aggs}

            class Router:
                def publish(self, u: Any) -> None:
                    routes[u.instrument].publish(u)

            urls = blaster.base_urls()
            feeds = [create_feed(get_venue(v), instruments=names, depth=DEPTH, sink=Router(), base_url=urls[v],
                                 ws=_ws(), keepalive_s=15.0) for v in VENUES]
            for f in feeds:
                f.start()
        else:
            so = ScaleOut(instruments=names, venues=VENUES, depth=DEPTH, workers=1,
                          bus=nats_url if mode == "nats" else "local", base_urls=blaster.base_urls(),
                          keepalive_s=15.0, ws=_ws())
            for a in aggs:
                so.attach(a.instrument, a.input)
            await so.acquire()
        await _all_live(aggs, 120.0)
        await asyncio.sleep(1.0)
        stop = asyncio.Event()

        async def read(a: Any) -> None:
            with a.views.subscribe(maxsize=64) as sub:
                while not stop.is_set():
                    view = await sub.get()
                    if view.receive_ts_ns:
                        lat.append(view.publish_ts_ns - view.receive_ts_ns)

        readers = [asyncio.get_running_loop().create_task(read(a)) for a in aggs]
        await asyncio.sleep(duration)
        stop.set()
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    finally:
        if so is not None:
            await so.stop()
        await asyncio.gather(*(f.stop() for f in feeds), return_exceptions=True)
        for a in aggs:
            await a.stop()
        blaster.close()
    pct = percentiles([x / 1000.0 for x in lat])
    return {"p50_us": pct[50], "p99_us": pct[99], "p999_us": pct[99.9], "samples": len(lat)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def nats_server() -> Any:
    binary = shutil.which("nats-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    proc = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port)], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Server is ready" in line:
            break
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def _child(kind: str, *extra: str) -> dict[str, Any]:
    """Run one measurement in a fresh process (clean memory figures); its RESULT line."""
    out = subprocess.run([sys.executable, __file__, "--child", kind, *extra], capture_output=True, text=True,
                         check=False, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{kind} run failed: {out.stderr[-3000:]}")


def _base_rss_mb() -> float:
    """Resident memory of an idle worker-like process (Python, aiohttp, dragonfly's feeds and bus imported)."""
    code = ("import aiohttp, dragonfly.bus.worker, dragonfly.venues.feed, dragonfly.venues.registry as r; "
            "r.venue_names(); from pathlib import Path; "
            "print([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS')][0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[1]) / 1024


async def child_main(args: argparse.Namespace) -> None:
    if args.child == "throughput":
        res = await throughput(args.workers, args.instruments, args.duration)
    else:
        res = await latency(args.child, args.lat_instruments, args.lat_rate, args.lat_duration, args.nats_url)
    print("RESULT " + json.dumps(res), flush=True)


async def main(args: argparse.Namespace) -> None:
    header("bench_scaleout", ("aiohttp", "nats-py"))
    print(f"# {os.cpu_count()} CPUs (shared with other jobs), load average {os.getloadavg()[0]:.1f}; "
          f"{args.instruments} instruments x {len(VENUES)} venues ({', '.join(VENUES)})", flush=True)
    base = _base_rss_mb()
    tp = {}
    for w in (1, 2):
        tp[w] = r = _child("throughput", "--workers", str(w), "--instruments", str(args.instruments), "--duration",
                           str(args.duration))
        r["worker_rss_kb_per_instrument"] = (r["worker_rss_mb"] - w * base) * 1024 / args.instruments
        print(f"throughput, {w} worker(s): {r['frames_per_s']:,.0f} frames/s "
              f"({r['frames_per_worker_cpu_s']:,.0f} per worker CPU-second; bus messages {r['bus_msgs_per_s']:,.0f}/s "
              f"after latest-wins); CPU: workers {r['worker_cpu_share']:.2f}, aggregator "
              f"{r['aggregator_cpu_share']:.2f}, blaster {r['blaster_cpu_share']:.2f} cores; memory per instrument: "
              f"workers {r['worker_rss_kb_per_instrument']:.1f} kB, "
              f"aggregator {r['aggregator_rss_kb_per_instrument']:.1f} kB",
              flush=True)
    print(f"scaling factor 2 workers / 1 worker: {tp[2]['frames_per_s'] / tp[1]['frames_per_s']:.2f}x frames/s "
          f"(per worker CPU-second: {tp[2]['frames_per_worker_cpu_s'] / tp[1]['frames_per_worker_cpu_s']:.2f}x)",
          flush=True)
    lat = {}
    with nats_server() as url:
        for mode in ("in-process", "local", "nats"):
            if mode == "nats" and url is None:
                print("latency, nats: skipped (nats-server not installed)")
                continue
            lat[mode] = r = _child(mode, "--lat-instruments", str(args.lat_instruments), "--lat-rate",
                                   str(args.lat_rate), "--lat-duration", str(args.lat_duration),
                                   "--nats-url", url or "")
            print(f"latency frame receipt -> world view, {mode}: p50 {r['p50_us']:.0f} us, p99 {r['p99_us']:.0f} us, "
                  f"p99.9 {r['p999_us']:.0f} us ({r['samples']} views at {args.lat_rate} frames/s)", flush=True)
    inproc = lat["in-process"]
    for mode in ("local", "nats"):
        if mode in lat:
            print(f"added by one {mode} bus hop: p50 +{lat[mode]['p50_us'] - inproc['p50_us']:.0f} us, "
                  f"p99 +{lat[mode]['p99_us'] - inproc['p99_us']:.0f} us")
    print("RESULT " + json.dumps({"throughput": tp, "latency": lat}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    ap.add_argument("--blast", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="throughput", help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=int, default=2000, help=argparse.SUPPRESS)
    ap.add_argument("--instruments", type=int, default=500)
    ap.add_argument("--duration", type=float, default=10.0, help="throughput window, seconds")
    ap.add_argument("--lat-instruments", type=int, default=20)
    ap.add_argument("--lat-rate", type=int, default=2000, help="paced frames/s for the latency runs")
    ap.add_argument("--lat-duration", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="100 instruments, 5 s windows")
    ap.add_argument("--child", default="", choices=["", "throughput", "in-process", "local", "nats"],
                    help="run one measurement only and print its RESULT line")
    ap.add_argument("--workers", type=int, default=1, help="workers of a --child throughput run")
    ap.add_argument("--nats-url", default="", help="the NATS server of a --child nats run")
    a = ap.parse_args()
    require_compiled("bench_scaleout")
    if a.blast:
        asyncio.run(blaster_main(a))
    elif a.child:
        asyncio.run(child_main(a))
    else:
        if a.quick:
            a.instruments, a.duration, a.lat_duration = 100, 5.0, 5.0
        asyncio.run(main(a))
