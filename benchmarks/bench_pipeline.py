"""Pipeline benchmark: CPU per frame of the pipeline against bare aiohttp reading the same frames.

Method
------
* A **blaster** runs in its own process. It listens on two 127.0.0.1 ports, completes the
  WebSocket handshake by hand and writes pre-rendered server frames as fast as the socket takes
  them: Binance ``ethbtc@depth20@100ms`` combined-stream frames (20 levels a side) on one,
  Bitstamp ``order_book_ethbtc`` frames (100 levels a side) on the other, both produced by
  :mod:`dragonfly.sim` so they are the venues' real formats. Every frame changes the top 10
  (worst case for change detection); sequence numbers (``lastUpdateId``, ``microtimestamp``)
  increase by one per frame.
* **Bare aiohttp** (the baseline): one ``ws_connect`` per venue and ``await ws.receive()`` in a loop,
  nothing else: the transport's own cost on this machine.
* **The dragonfly client alone** (layer 1): ``WebSocketClient.pump(on_frame)`` on both connections with an
  ``on_frame`` that only counts. On its own aiohttp session the client's frame splitter (the core's
  ``wsframe``, in front of aiohttp's frame parser) hands each plain data frame to the callback straight from
  the received bytes; aiohttp's parser and ``ws.receive()`` serve ping, close and errors.
* **The pipeline**: ``Pipeline(PipelineConfig(instrument="ethbtc", base_urls=<blaster>))``:
  WebSocket client -> feed driver -> venue adapter -> ``BookKeeper`` -> ``KeyedQueue`` ->
  ``BboAggregator`` (core merge) -> ``Broadcast`` -> one bot reading ``pipeline.stream()``:
  frame in -> world view out.
* **CPU per frame**: this process's CPU seconds (user + system, ``_timing.cpu_seconds``) from the
  first frame to the last, divided by the frames read; the blaster's CPU is not counted. Both
  readers are polled by the same timer. ``frames/s per core`` is its inverse: the rate one
  dedicated core would sustain, less sensitive to other load than wall time.
* Bare aiohttp, the client alone and the pipeline run in alternating order over ``--rounds`` rounds in one process
  (``_timing.interleaved_samples``), each round with a fresh blaster; the report gives medians,
  the ratio, and every round.
* With picows installed (the optional transport, ``dragonflybot[picows]``), the same rounds also
  time bare picows (a listener that takes each frame's text) and the pipeline on picows
  (``WebSocketConfig(transport="picows")``); ``--no-picows`` skips them.
* ``--latency`` adds a paced run (``--rate`` frames/s in total): frame receipt (the feed's
  stamp when the frame came out of the WebSocket reader) -> the bot reading the view.

Run: ``python benchmarks/bench_pipeline.py`` (the compiled core is required).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._timing import (  # noqa: E402
    cpu_seconds,
    header,
    interleaved_samples,
    percentiles,
    require_compiled,
    version,
)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ----------------------------------------------------------------------------- blaster
def _ws_frame(payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


def _handshake(conn: socket.socket) -> None:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("closed during handshake")
        buf += chunk
    key = b""
    for line in buf.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def _templates(n_books: int) -> dict[str, list[tuple[bytes, bytes]]]:
    """Per venue: (prefix, suffix) around the sequence number, one per distinct book."""
    from dragonfly.instruments import parse_instrument
    from dragonfly.sim import create_simulator
    from dragonfly.sim.market import MidPrice, VenueBookModel

    inst = parse_instrument("ETH-BTC")
    out: dict[str, list[tuple[bytes, bytes]]] = {}
    mid = MidPrice(seed=1, start=0.05)
    for venue, key in (("binance", "ethbtc@depth20@100ms"), ("bitstamp", "order_book_ethbtc")):
        sim = create_simulator(venue, instruments=["ETH-BTC"])
        model = VenueBookModel(venue=sim.venue, instrument=inst, mid=mid, style=sim.style, seed=1)
        fields = {f: getattr(sim.style, f) for f in sim.style.__dataclass_fields__}
        model.style = type(sim.style)(**{**fields, "unchanged_prob": 0.0})
        rows = []
        prev = None
        while len(rows) < n_books:
            book, _ = model.next_book(len(rows) * 0.01)
            if prev is not None and (book.bids[:10], book.asks[:10]) == prev:
                continue
            prev = (book.bids[:10], book.asks[:10])
            marker = 123456789012345678
            text = sim.encoder.render(key, book.bids_text, book.asks_text, marker)
            if sim.venue == "bitstamp":  # timestamp field derived from the marker: keep it fixed
                text = text.replace(f'"timestamp":"{marker // 1_000_000}"', '"timestamp":"1700000000"')
            pre, suf = text.split(str(marker), 1)
            rows.append((pre.encode(), suf.encode()))
        out[sim.venue] = rows
    return out


def _frame(tpl: tuple[bytes, bytes], seq: int) -> bytes:
    return _ws_frame(tpl[0] + str(seq).encode() + tpl[1])


def blaster_main(args: argparse.Namespace) -> None:
    cache = os.environ.get("BENCH_TEMPLATES")
    if cache:  # rendered once by the parent (rendering takes seconds)
        raw = json.loads(Path(cache).read_text())
        tpls = {v: [(p.encode(), s.encode()) for p, s in rows] for v, rows in raw.items()}
    else:
        tpls = _templates(256)
    socks = {}
    for venue in ("binance", "bitstamp"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        socks[venue] = s
    print(json.dumps({v: s.getsockname()[1] for v, s in socks.items()}), flush=True)
    conns = {}
    for venue, s in socks.items():
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _handshake(c)
        conns[venue] = c
    time.sleep(0.3)  # let the client finish its on-connect work (bitstamp subscribe)
    if args.mode == "throughput":
        def blast(venue: str) -> None:
            c = conns[venue]
            rows = tpls[venue]
            seq = time.time_ns() // 1000 if venue == "bitstamp" else 1
            sent = 0
            while sent < args.frames:
                batch = []
                for _ in range(min(64, args.frames - sent)):
                    batch.append(_frame(rows[sent % len(rows)], seq))
                    seq += 1
                    sent += 1
                c.sendall(b"".join(batch))

        threads = [threading.Thread(target=blast, args=(v,)) for v in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        period = 1.0 / args.rate
        total = args.frames * 2
        seqs = {"binance": 1, "bitstamp": 0}
        order = ("binance", "bitstamp")
        t0 = time.perf_counter()
        for i in range(total):
            due = t0 + i * period
            while True:
                rem = due - time.perf_counter()
                if rem <= 0:
                    break
                if rem > 0.0002:
                    time.sleep(rem - 0.0001)
            venue = order[i % 2]
            if venue == "bitstamp":
                seqs["bitstamp"] = max(seqs["bitstamp"] + 1, time.time_ns() // 1000)
            else:
                seqs["binance"] += 1
            conns[venue].sendall(_frame(tpls[venue][i // 2 % len(tpls[venue])], seqs[venue]))
    sys.stdin.readline()  # keep the sockets open until the pipeline is done
    for c in conns.values():
        c.close()


# ----------------------------------------------------------------------------- reader side
class _Blaster:
    """One blaster process serving one round (two venue sockets)."""

    def __init__(self, mode: str, frames: int, rate: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--blast", "--mode", mode, "--frames", str(frames), "--rate", str(rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ports: dict[str, int] = json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(10)


async def _measure(count: Callable[[], int], target: int) -> tuple[int, float, float]:
    """Wait for the first frame, then CPU and wall seconds until ``target`` frames (same poller for all)."""
    while count() == 0:  # noqa: ASYNC110 - counters, no event; 0.5 ms steps
        await asyncio.sleep(0.0005)
    n0 = count()
    c0, t0 = cpu_seconds(), time.perf_counter()
    while count() < target:  # noqa: ASYNC110 - counters, no event; 2 ms steps (the same for every reader)
        await asyncio.sleep(0.002)
    return count() - n0, cpu_seconds() - c0, time.perf_counter() - t0


async def run_bare(frames: int) -> dict[str, float]:
    """Bare aiohttp: ``ws.receive()`` on both venue connections, nothing else."""
    import aiohttp

    blaster = _Blaster("throughput", frames, 1)
    count = 0
    async with aiohttp.ClientSession() as session:
        wss = [await session.ws_connect(f"ws://127.0.0.1:{p}/", autoping=True) for p in blaster.ports.values()]

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal count
            for _ in range(frames):
                await ws.receive()
                count += 1

        readers = [asyncio.ensure_future(read(w)) for w in wss]
        n, cpu, wall = await _measure(lambda: count, 2 * frames)
        await asyncio.gather(*readers)
        for w in wss:
            await w.close()
    blaster.close()
    return {"frames": n, "cpu_us": cpu / n * 1e6, "per_s": n / wall}


async def run_client(frames: int) -> dict[str, float]:
    """Layer 1 alone: dragonfly's aiohttp ``WebSocketClient.pump(on_frame)`` with an ``on_frame`` that only
    counts (the core's frame splitter hands each frame over from the received bytes, no await per frame)."""
    from dragonfly.clients.ws import WebSocketClient, WebSocketConfig

    blaster = _Blaster("throughput", frames, 1)
    count = 0

    def on_frame(payload: object) -> None:
        nonlocal count
        count += 1

    clients = [WebSocketClient(WebSocketConfig(url=f"ws://127.0.0.1:{p}/", heartbeat_s=None, no_data_timeout_s=None))
               for p in blaster.ports.values()]
    pumps = [asyncio.ensure_future(c.pump(on_frame)) for c in clients]
    n, cpu, wall = await _measure(lambda: count, 2 * frames)
    for c in clients:
        await c.close()
    await asyncio.gather(*pumps)
    blaster.close()
    return {"frames": n, "cpu_us": cpu / n * 1e6, "per_s": n / wall}


async def run_bare_picows(frames: int) -> dict[str, float]:
    """Bare picows (optional): a listener that takes each frame's text, nothing else."""
    import picows

    blaster = _Blaster("throughput", frames, 1)
    count = 0

    class Reader(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            nonlocal count
            if frame.msg_type is picows.WSMsgType.TEXT:
                frame.get_payload_as_utf8_text()
                count += 1

    conns = [await picows.ws_connect(Reader, f"ws://127.0.0.1:{p}/") for p in blaster.ports.values()]
    n, cpu, wall = await _measure(lambda: count, 2 * frames)
    for transport, _ in conns:
        transport.disconnect()
        await transport.wait_disconnected()
    blaster.close()
    return {"frames": n, "cpu_us": cpu / n * 1e6, "per_s": n / wall}


async def run_pipeline(mode: str, frames: int, rate: int, transport: str = "aiohttp") -> dict[str, Any]:
    """The pipeline: WebSocket clients -> feed driver -> keepers -> aggregator -> one bot reading views."""
    from dragonfly.clients.ws import WebSocketConfig
    from dragonfly.topology import Pipeline, PipelineConfig

    blaster = _Blaster(mode, frames, rate)
    ws = WebSocketConfig(url="ws://127.0.0.1:1", heartbeat_s=None, no_data_timeout_s=None, transport=transport)
    cfg = PipelineConfig(
        instrument="ethbtc",
        base_urls={v: f"ws://127.0.0.1:{p}" for v, p in blaster.ports.items()},
        staleness_s=60.0,
        ws=ws,
    )
    lat: list[int] = []
    reads = 0
    async with Pipeline(cfg) as p:
        if os.environ.get("BENCH_GC_FREEZE"):
            gc.collect()
            gc.freeze()  # long-lived startup objects out of the collector's way
        feeds = list(p.feeds.values())
        keepers = [k for f in feeds for k in f.keepers.values()]
        stream = p.stream(maxsize=1)

        async def bot() -> None:
            nonlocal reads
            time_ns = time.time_ns
            async for view in stream:
                now = time_ns()
                reads += 1
                if view.receive_ts_ns:
                    lat.append(now - view.receive_ts_ns)

        bot_task = asyncio.get_running_loop().create_task(bot())
        n, cpu, wall = await _measure(lambda: sum(f.stats.frames for f in feeds), 2 * frames)
        views = p.aggregator.stats.views
        bad = sum(f.stats.bad_frames for f in feeds) + sum(k.stats.resyncs + k.stats.skipped for k in keepers)
        stream.close()
        await bot_task
    blaster.close()
    if bad:
        raise SystemExit(f"benchmark frames rejected: {bad}")
    out: dict[str, Any] = {"frames": n, "cpu_us": cpu / n * 1e6, "per_s": n / wall, "views": views, "reads": reads}
    if mode == "latency":
        pct = percentiles([x / 1000 for x in lat[len(lat) // 10 :]])  # warm-up dropped; ns -> µs
        out.update(p50_us=pct[50], p99_us=pct[99], p999_us=pct[99.9], samples=len(lat))
    return out


def breakdown(rounds: int) -> None:
    """Where a frame's time goes past the transport: each in-process stage on the same frames, timed alone
    (``time.process_time``: the tick-counting ``cpu_seconds`` is too coarse for runs this short)."""
    from dragonfly._core.extract import TopExtractor
    from dragonfly.aggregators import BboAggregator
    from dragonfly.clients.base import ClientStats
    from dragonfly.venues import create_feed, get_venue

    class NoClient:
        def __init__(self) -> None:
            self.stats = ClientStats()
            self.on_connect = self.on_disconnect = self.on_gap = None

    n = 256
    tpls = {v: [(p.decode(), s.decode()) for p, s in rows] for v, rows in _templates(n).items()}
    frames = {v: [p + str(1_000_000 + i) + s for i, (p, s) in enumerate(rows)] for v, rows in tpls.items()}
    agg = BboAggregator.build(instrument="ETH-BTC", venues=("binance", "bitstamp"), staleness_s=3600.0)
    feeds = {v: create_feed(get_venue(v), instruments=["ETH-BTC"], depth=10, sink=agg.input, client=NoClient())
             for v in frames}
    seqs = dict.fromkeys(frames, 2_000_000)

    def pipeline_stage(venue: str) -> Callable[[], None]:
        feed, rows = feeds[venue], tpls[venue]

        def run() -> None:  # n frames with increasing sequence numbers (made here), one drain at the end
            seq = seqs[venue]
            on_frame = feed.on_frame
            for i, (p, s) in enumerate(rows):
                on_frame(p + str(seq + i) + s, 1)
            seqs[venue] = seq + n
            agg.input.drain()
        return run

    def making_only(venue: str) -> Callable[[], None]:  # making those frames alone (subtracted)
        rows = tpls[venue]

        def run() -> None:
            seq = seqs[venue]
            for i, (p, s) in enumerate(rows):
                p + str(seq + i) + s
        return run

    def extract_only(venue: str) -> Callable[[], None]:
        ext, rows = TopExtractor("data.bids", "data.asks", 10), frames[venue]

        def run() -> None:
            for f in rows:
                ext.update(f)
        return run

    def reader_only(venue: str) -> Callable[[], None]:
        read, rows = feeds[venue].adapter._read, frames[venue]

        def run() -> None:
            for f in rows:
                read(f)
        return run

    names, fns = [], []
    for v in frames:
        for label, make in (("feed.on_frame (parse + keeper + latest-wins publish)", pipeline_stage),
                            ("  (making the frames, included above)", making_only),
                            ("  of which: adapter._read (route + sequence + top N)", reader_only),
                            ("  of which: TopExtractor.update alone", extract_only)):
            names.append(f"{v}: {label}")
            fns.append(make(v))
    cpu: list[list[float]] = [[] for _ in fns]

    def timed(i: int) -> Callable[[], None]:
        def run() -> None:  # CPU time (a loaded machine inflates wall time), ns-resolution process clock
            t0 = time.process_time()
            for _ in range(20):
                fns[i]()
            cpu[i].append((time.process_time() - t0) / (20 * n))
        return run

    interleaved_samples([timed(i) for i in range(len(fns))], rounds)
    print(f"in-process stages, CPU-µs per frame (median of {rounds} interleaved rounds of 20 x {n} frames):")
    for name, ts in zip(names, cpu, strict=True):
        print(f"  {name:70s}{statistics.median(ts) * 1e6:8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blast", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="throughput", help=argparse.SUPPRESS)
    ap.add_argument("--frames", type=int, default=200_000, help="frames per venue per round (default 200,000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--latency", action="store_true", help="also a paced run for receipt -> bot latency")
    ap.add_argument("--rate", type=int, default=10_000, help="total frames/s of the latency run")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after start-up (a common bot tuning)")
    ap.add_argument("--no-picows", action="store_true", help="skip the optional picows readers")
    ap.add_argument("--breakdown", action="store_true", help="also time each in-process stage alone")
    args = ap.parse_args()
    if args.blast:
        blaster_main(args)
        return
    require_compiled("bench_pipeline.py")
    cache = Path(tempfile.mkdtemp(prefix="bench_pipeline_")) / "templates.json"
    rendered = {v: [(p.decode(), s.decode()) for p, s in rows] for v, rows in _templates(256).items()}
    cache.write_text(json.dumps(rendered))
    os.environ["BENCH_TEMPLATES"] = str(cache)
    if args.gc_freeze:
        os.environ["BENCH_GC_FREEZE"] = "1"
    header("bench_pipeline.py: frames in over loopback -> world view out, CPU per frame", ("aiohttp", "picows"))
    print(f"# {args.frames:,} frames per venue per round (Binance depth20 + Bitstamp 100 levels, every frame a new "
          f"top 10), {args.rounds} interleaved rounds, medians; asyncio default loop"
          f"{'; gc.freeze() after start-up' if args.gc_freeze else ''}")
    bare: list[dict[str, float]] = []
    layer1: list[dict[str, float]] = []
    pipe: list[dict[str, Any]] = []
    runs = [lambda: bare.append(asyncio.run(run_bare(args.frames))),
            lambda: layer1.append(asyncio.run(run_client(args.frames))),
            lambda: pipe.append(asyncio.run(run_pipeline("throughput", args.frames, 1)))]
    pico_bare: list[dict[str, float]] = []
    pico_pipe: list[dict[str, Any]] = []
    picows = version("picows") != "absent" and not args.no_picows
    if picows:  # the optional transport, same frames, same rounds
        runs += [lambda: pico_bare.append(asyncio.run(run_bare_picows(args.frames))),
                 lambda: pico_pipe.append(asyncio.run(run_pipeline("throughput", args.frames, 1, "picows")))]
    interleaved_samples(runs, args.rounds)
    b_us = statistics.median(r["cpu_us"] for r in bare)
    p_us = statistics.median(r["cpu_us"] for r in pipe)
    print(f"{'reader':40s}{'CPU-µs/frame':>14s}{'frames/s per core':>20s}{'wall frames/s':>16s}   rounds (CPU-µs)")
    c_us = statistics.median(r["cpu_us"] for r in layer1)
    lines = [("bare aiohttp (ws.receive only)", bare, b_us),
             ("dragonfly client on aiohttp (pump only)", layer1, c_us),
             ("pipeline on aiohttp (frame -> world view)", pipe, p_us)]
    if picows:
        lines += [("bare picows (frame text only)", pico_bare, statistics.median(r["cpu_us"] for r in pico_bare)),
                  ("pipeline on picows (frame -> world view)", pico_pipe,
                   statistics.median(r["cpu_us"] for r in pico_pipe))]
    for label, rs, us in lines:
        per_s = statistics.median(r["per_s"] for r in rs)
        each = " ".join(f"{r['cpu_us']:.2f}" for r in rs)
        print(f"{label:40s}{us:>14.2f}{1e6 / us:>20,.0f}{per_s:>16,.0f}   {each}")
    step = 1e6 / os.sysconf("SC_CLK_TCK") / (2 * args.frames)  # cpu_seconds counts clock ticks
    print(f"(CPU time is counted in clock ticks: a step of {step:.3f} µs/frame at {2 * args.frames:,} frames a round)")
    views = statistics.median(r["views"] for r in pipe)
    print(f"ratio pipeline / bare aiohttp: {p_us / b_us:.2f}x (target <= 1.5x); pipeline minus bare: "
          f"{p_us - b_us:.2f} µs/frame; world views per round: {views:,.0f} of {2 * args.frames:,} frames")
    print(f"ratio dragonfly client alone / bare aiohttp: {c_us / b_us:.2f}x (the core's frame splitter hands each "
          f"frame to the callback; the pipeline's work past the client: {p_us - c_us:.2f} µs/frame)")
    if picows:
        q_us = lines[4][2]
        print(f"ratio pipeline on picows / bare aiohttp: {q_us / b_us:.2f}x; / bare picows: {q_us / lines[3][2]:.2f}x")
    if args.breakdown:
        breakdown(max(args.rounds, 5))
    if args.latency:
        r = asyncio.run(run_pipeline("latency", args.frames, args.rate))
        print(f"latency at {args.rate:,} frames/s, frame receipt -> bot: p50 {r['p50_us']:.1f} µs, "
              f"p99 {r['p99_us']:.1f} µs, p99.9 {r['p999_us']:.1f} µs ({r['samples']:,} samples)")


if __name__ == "__main__":
    main()
