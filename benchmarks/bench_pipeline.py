"""Pipeline benchmark: a blaster pushes venue frames over loopback into the five-layer pipeline.

Method
------
* A **blaster** runs in its own process (so the pipeline's single event-loop thread
  has a core to itself, as far as the machine allows). It listens on two 127.0.0.1
  ports, completes the WebSocket handshake by hand and writes pre-rendered server
  frames: Binance ``ethbtc@depth20@100ms`` combined-stream frames (20 levels a side)
  on one, Bitstamp ``order_book_ethbtc`` frames (100 levels a side) on the other,
  both produced by :mod:`dragonfly.sim` so they are the venues' real formats. Every
  frame changes the top 10 (worst case: every frame is forwarded and recomputed);
  sequence numbers (``lastUpdateId``, ``microtimestamp``) increase by one per frame.
* The **pipeline** process runs ``Pipeline(PipelineConfig(instrument="ethbtc",
  base_urls=<blaster>))``: aiohttp client -> the feed driver -> venue adapter -> ``BookKeeper``
  (core ``TopExtractor``) -> ``KeyedQueue`` -> ``BboAggregator`` (core ``merge_levels``
  + ``merge_liquidity``) -> ``Broadcast`` -> one bot reading ``pipeline.stream()``.
* **Throughput**: the blaster writes N frames per venue as fast as the socket takes
  them; msgs/s = frames processed by the feeds / time from the first to the last.
  "per CPU-second" divides by the pipeline process's CPU time instead of wall time: the
  rate one dedicated core would sustain, less sensitive to other load on a shared machine.
  The aggregator drains its queue and computes once per batch, so views/s is lower.
* **Latency** at a paced total rate (default 10,000 msgs/s, both venues alternating,
  paced by the blaster's clock): for every view the bot reads, ``time.time_ns()`` at
  read minus ``view.receive_ts_ns`` (the listener's stamp when the frame came out of
  the WebSocket reader). aiohttp's frame parsing before that stamp is not included;
  "wire" latency (blaster write -> bot read) is reported too, from Bitstamp frames whose
  ``microtimestamp`` is the blaster's send time (µs resolution), when such a frame triggered the view.
* **Baseline**: the same blaster read by bare aiohttp clients (``ws.receive()`` only), the
  ceiling the transport alone allows on this machine.
* Both twins: the script re-runs itself with ``DRAGONFLY_NO_EXTENSIONS=1`` for the
  pure-Python core and prints the figures side by side.

Run: ``python benchmarks/bench_pipeline.py`` (``--quick`` for a short run; ``--gc-freeze`` to
call ``gc.freeze()`` after start-up, which keeps full collections of start-up objects out of
the tail latency).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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


# ----------------------------------------------------------------------------- pipeline side
def _pct(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0  # ns -> us


async def run_pipeline(mode: str, frames: int, rate: int) -> dict[str, float]:
    import dragonfly
    from dragonfly.clients.ws import WebSocketConfig
    from dragonfly.topology import Pipeline, PipelineConfig

    proc = subprocess.Popen(  # noqa: ASYNC220 - the blaster starts before anything is timed
        [sys.executable, __file__, "--blast", "--mode", mode, "--frames", str(frames), "--rate", str(rate)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert proc.stdout is not None and proc.stdin is not None
    ports = json.loads(proc.stdout.readline())
    ws = WebSocketConfig(url="ws://127.0.0.1:1", heartbeat_s=None, no_data_timeout_s=None)
    cfg = PipelineConfig(
        instrument="ethbtc",
        base_urls={v: f"ws://127.0.0.1:{p}" for v, p in ports.items()},
        staleness_s=60.0,
        ws=ws,
    )
    lat: list[int] = []
    wire: list[int] = []
    reads = 0
    async with Pipeline(cfg) as p:
        if os.environ.get("BENCH_GC_FREEZE"):
            import gc

            gc.collect()
            gc.freeze()  # long-lived startup objects out of the collector's way
        feeds = list(p.feeds.values())
        keepers = [k for f in feeds for k in f.keepers.values()]
        stream = p.stream(maxsize=1)
        last_ex = 0

        async def bot() -> None:
            nonlocal reads, last_ex
            time_ns = time.time_ns
            async for view in stream:
                now = time_ns()
                reads += 1
                if view.receive_ts_ns:
                    lat.append(now - view.receive_ts_ns)
                ex = view.exchange_ts_ns
                if ex != last_ex and ex:
                    wire.append(now - ex)  # bitstamp microtimestamp = blaster send time
                    last_ex = ex

        bot_task = asyncio.get_running_loop().create_task(bot())
        target = 2 * frames
        while sum(f.stats.frames for f in feeds) == 0:  # noqa: ASYNC110 - counters, no event; 0.5 ms steps
            await asyncio.sleep(0.0005)
        t0 = time.perf_counter()
        c0 = time.process_time()
        n0 = sum(f.stats.frames for f in feeds)
        while sum(f.stats.frames for f in feeds) < target:  # noqa: ASYNC110 - counters, no event; 1 ms steps
            await asyncio.sleep(0.001)
        t1 = time.perf_counter()
        c1 = time.process_time()
        views = p.aggregator.stats.views
        bad = sum(f.stats.bad_frames for f in feeds) + sum(k.stats.resyncs + k.stats.skipped for k in keepers)
        forwarded = sum(k.stats.forwarded for k in keepers)
        stream.close()
        await bot_task
        impl = dragonfly.core_implementation()
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(10)
    if bad:
        raise SystemExit(f"benchmark frames rejected: {bad}")
    elapsed = t1 - t0
    if mode == "latency":
        lat = lat[len(lat) // 10 :]  # drop warm-up
        wire = wire[len(wire) // 10 :]
    return {
        "impl": impl,  # type: ignore[dict-item]
        "msgs_per_s": (target - n0) / elapsed,
        "msgs_per_cpu_s": (target - n0) / (c1 - c0),
        "forwarded": forwarded,
        "views": views,
        "views_per_s": views / elapsed,
        "reads": reads,
        "p50_us": _pct(lat, 0.50),
        "p99_us": _pct(lat, 0.99),
        "p999_us": _pct(lat, 0.999),
        "wire_p50_us": _pct(wire, 0.50),
        "wire_p99_us": _pct(wire, 0.99),
        "wire_p999_us": _pct(wire, 0.999),
        "samples": len(lat),
    }


async def run_raw_aiohttp(frames: int) -> dict[str, float]:
    """Baseline: the same blaster read by bare aiohttp clients (no pipeline), msgs/s."""
    import aiohttp

    proc = subprocess.Popen(  # noqa: ASYNC220 - the blaster starts before anything is timed
        [sys.executable, __file__, "--blast", "--mode", "throughput", "--frames", str(frames), "--rate", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    ports = json.loads(proc.stdout.readline())
    count = 0
    t0 = 0.0
    async with aiohttp.ClientSession() as session:
        wss = [await session.ws_connect(f"ws://127.0.0.1:{p}/") for p in ports.values()]

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal count, t0, c0
            for _ in range(frames):
                await ws.receive()
                if count == 0:
                    t0 = time.perf_counter()
                    c0 = time.process_time()
                count += 1

        c0 = 0.0
        await asyncio.gather(*(read(w) for w in wss))
        t1 = time.perf_counter()
        c1 = time.process_time()
        for w in wss:
            await w.close()
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(10)
    return {"msgs_per_s": (count - 1) / (t1 - t0), "msgs_per_cpu_s": (count - 1) / (c1 - c0)}


def child_main(args: argparse.Namespace) -> None:
    res = {
        "raw": asyncio.run(run_raw_aiohttp(args.frames_tp)),
        "throughput": asyncio.run(run_pipeline("throughput", args.frames_tp, args.rate)),
        "latency": asyncio.run(run_pipeline("latency", args.frames_lat, args.rate)),
    }
    print("RESULT " + json.dumps(res), flush=True)


def main() -> None:
    from _timing import require_compiled

    require_compiled("bench_pipeline")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blast", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="throughput")
    ap.add_argument("--frames", type=int, default=0)
    ap.add_argument("--frames-tp", type=int, default=100_000, help="frames per venue, throughput run")
    ap.add_argument("--frames-lat", type=int, default=50_000, help="frames per venue, latency run")
    ap.add_argument("--rate", type=int, default=10_000, help="total msgs/s of the latency run")
    ap.add_argument("--quick", action="store_true", help="20k/10k frames per venue")
    ap.add_argument("--only", choices=("cython", "python"), help="run one twin")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after start-up (a common bot tuning)")
    args = ap.parse_args()
    if args.blast:
        blaster_main(args)
        return
    if args.quick:
        args.frames_tp, args.frames_lat = 20_000, 10_000
    if args.child:
        child_main(args)
        return
    results = {}
    for impl in ("cython", "python"):
        if args.only and impl != args.only:
            continue
        env = {**os.environ, "DRAGONFLY_NO_EXTENSIONS": "1" if impl == "python" else "0"}
        if args.gc_freeze:
            env["BENCH_GC_FREEZE"] = "1"
        cmd = [
            sys.executable, __file__, "--child",
            "--frames-tp", str(args.frames_tp), "--frames-lat", str(args.frames_lat), "--rate", str(args.rate),
        ]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(out.stdout, out.stderr, file=sys.stderr)
            raise SystemExit(f"{impl} run failed")
        results[impl] = json.loads(line[7:])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, asyncio default loop"
          f"{', gc.freeze() after start-up' if args.gc_freeze else ''}; frames/venue: "
          f"throughput {args.frames_tp}, latency {args.frames_lat} at {args.rate} msgs/s total")
    names = list(results)
    print(f"{'metric':34s}" + "".join(f"{n + ' (' + results[n]['throughput']['impl'] + ')':>22s}" for n in names))
    rows = [
        ("baseline: bare aiohttp msgs/s", "raw", "msgs_per_s", "{:,.0f}"),
        ("  per CPU-second", "raw", "msgs_per_cpu_s", "{:,.0f}"),
        ("throughput msgs/s (2 venues)", "throughput", "msgs_per_s", "{:,.0f}"),
        ("  per CPU-second (one core)", "throughput", "msgs_per_cpu_s", "{:,.0f}"),
        ("  views published/s", "throughput", "views_per_s", "{:,.0f}"),
        ("latency p50 us (receipt->bot)", "latency", "p50_us", "{:.1f}"),
        ("latency p99 us", "latency", "p99_us", "{:.1f}"),
        ("latency p99.9 us", "latency", "p999_us", "{:.1f}"),
        ("wire p50 us (send->bot)", "latency", "wire_p50_us", "{:.1f}"),
        ("wire p99 us", "latency", "wire_p99_us", "{:.1f}"),
        ("wire p99.9 us", "latency", "wire_p999_us", "{:.1f}"),
        ("latency samples", "latency", "samples", "{:,}"),
    ]
    for label, run, key, fmt in rows:
        print(f"{label:34s}" + "".join(f"{fmt.format(results[n][run][key]):>22s}" for n in names))
    if len(names) == 2:
        r = results["cython"]["throughput"]["msgs_per_s"] / results["python"]["throughput"]["msgs_per_s"]
        print(f"{'cython/python throughput ratio':34s}{r:>22.2f}")
    print("targets: >= 100,000 msgs/s; p99 < 100 us at 10,000 msgs/s")


if __name__ == "__main__":
    main()
