"""gRPC latency benchmark: venue send -> gRPC client receive, two venues, BookSummary and StreamBook.

Method
------
Three processes on 127.0.0.1 (the machine is small: 2 cores, shared with other jobs):

* A **blaster** serves Binance (``ethbtc@depth20@100ms`` combined stream) and Bitstamp
  (``order_book_ethbtc``) WebSocket feeds in the venues' real formats (frames rendered by
  :mod:`dragonfly.sim`'s encoders), written by one thread per venue paced at ``--rates`` frames/s
  **each** (so 2x that in total), the two venues half a period apart. Both venues quote the same
  price ladder (20 levels a side) and every frame changes the top: the best bid's quantity of each
  frame is its **venue send timestamp** (``1.xxxxxxxx``: the send time in µs modulo 100 s, taken just
  before the frame is written), so every frame is forwarded and recomputed (the worst case).
* The **server** runs ``Pipeline(PipelineConfig(instrument="ethbtc", venues=("binance", "bitstamp"),
  base_urls=<blaster>))`` (aiohttp client -> feed driver -> ``BookKeeper`` -> aggregator -> ``Broadcast``)
  and :class:`dragonfly.services.grpc.GrpcServer` on it, as the commands run them. It stamps each gRPC
  write (``time.time_ns()`` just before the handler's ``context.write``) and counts the world views the
  aggregator produced.
* The **client** opens one streaming call at a time (``orderbook.OrderbookAggregator/BookSummary``,
  then ``dragonfly.v1.Aggregator/StreamBook``) and takes the time as each message arrives (raw bytes;
  decoding is done after the run), for ``--duration`` seconds after ``--warmup``. ``--client aio``
  (default): Python ``grpc.aio`` in this process, what a Python bot runs; ``--client sync``: Python's
  blocking API read by a thread; ``--client node``: ``@grpc/grpc-js`` in a Node process
  (``benchmarks/grpc_node_client.js``; ``npm ci --prefix tests/e2e/node_client`` first), a client that
  costs far less per message, so the figures show more of the server's side.
* **gRPC alone**: the same client on a bare ``grpc.aio`` server streaming 8-byte messages (their send
  time) at the feeds' total rate: the floor of the ``write -> client`` hop on this machine.

Hops, per message received (a view carries the newest frame's stamp: of the two venues' best bids,
the later send time):

* ``send -> receipt``: the frame's send stamp -> ``receive_ts_ns`` (the listener's stamp when the frame
  came out of the WebSocket reader; StreamBook only, it carries the stamps);
* ``receipt -> view``: ``receive_ts_ns`` -> ``publish_ts_ns`` (the aggregator published the world view);
* ``view -> write``: ``publish_ts_ns`` -> the server's stamp before ``context.write`` (the k-th write
  of the call paired with the k-th message received; checked by count);
* ``write -> client``: that write stamp -> client receive (gRPC's C core, HTTP/2, the client's
  ``grpc.aio`` receive path);
* ``total``: venue send -> client receive (both RPCs).

"views sent/produced": messages the client received in the window over world views the aggregator
published in it; the rest were conflated (each call holds one slot: a call that falls behind skips
views, it never queues them). Latency is that of the views delivered: a conflated view has none.
Same machine, same clock (``time.time_ns``) everywhere; send stamps have µs resolution.

Refuses to run on the pure-Python core (it times the compiled one).

Run: ``python benchmarks/bench_grpc.py`` (``--quick``: shorter windows; ``--rates 1000,5000``,
``--duration 10``, ``--warmup 2``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import _timing  # noqa: E402

VENUES = ("binance", "bitstamp")
KEYS = {"binance": "ethbtc@depth20@100ms", "bitstamp": "order_book_ethbtc"}
WRAP_US = 10**8  # send stamps are µs modulo 100 s
SEQ_MARK = "987654321987654"
SEC_MARK = '"987654321"'
QTY_MARK = "7.77777777"
LEVELS = 20
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The client's channel options.
CLIENT_OPTIONS: list[tuple[str, Any]] = []


# ----------------------------------------------------------------------------------------------- blaster
def _template(venue: str) -> str:
    """The venue's frame with placeholders for its sequence field, seconds and the stamped quantity."""
    from dragonfly.sim import make_encoder

    enc = make_encoder(venue)
    bids = tuple((f"{0.05 - j * 1e-5:.8f}", QTY_MARK if j == 0 else f"{2 + j:.8f}") for j in range(LEVELS))
    asks = tuple((f"{0.05001 + j * 1e-5:.8f}", f"{2 + j:.8f}") for j in range(LEVELS))
    text = enc.render(KEYS[venue], bids, asks, int(SEQ_MARK))
    assert SEQ_MARK in text and QTY_MARK in text, venue
    return text


class _Subs:
    """A connection's subscriptions, as the simulator encoders ask for them."""

    def __init__(self) -> None:
        self.subs: dict[str, str] = {}

    def subscribe(self, symbol: str, key: str = "") -> bool:
        if symbol != "ethbtc":
            return False
        self.subs[key or symbol] = symbol
        return True

    def unsubscribe(self, symbol: str, key: str = "") -> bool:
        return self.subs.pop(key or symbol, None) is not None

    def keys(self) -> list[str]:
        return list(self.subs)


def _ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


class _Conn:
    """One client connection: a hand-made WebSocket server side (no compression), a reader thread
    answering pings and subscription frames, and a paced sender thread."""

    def __init__(
        self, venue: str, template: str, sock: socket.socket, rate: float, phase: float, stats: dict[str, int]
    ) -> None:
        from dragonfly.sim import make_encoder

        self.venue = venue
        self.template = template
        self.sock = sock
        self.rate = rate
        self.phase = phase
        self.stats = stats
        self.enc = make_encoder(venue)
        self.subs = _Subs()
        self.lock = threading.Lock()
        self.closed = False

    def send(self, payload: bytes, opcode: int = 1) -> None:
        with self.lock:
            self.sock.sendall(_ws_frame(payload, opcode))

    def handshake(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed in handshake")
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode()
        lines = head.split("\r\n")
        target = lines[0].split()[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + WS_GUID).digest())
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        path, _, query = target.partition("?")
        q = dict(part.partition("=")[::2] for part in query.split("&") if part)
        self.enc.connect(path, q, self.subs)

    def reader(self) -> None:
        try:
            while not self.closed:
                b0, b1 = _recv_exact(self.sock, 2)
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(_recv_exact(self.sock, 2), "big")
                elif n == 127:
                    n = int.from_bytes(_recv_exact(self.sock, 8), "big")
                mask = _recv_exact(self.sock, 4) if b1 & 0x80 else b"\0\0\0\0"
                raw = _recv_exact(self.sock, n)
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(raw))
                op = b0 & 0x0F
                if op == 9:
                    self.send(payload, 0xA)
                elif op == 8:
                    self.send(payload[:2], 8)
                    break
                elif op == 1:
                    for reply in self.enc.client_message(payload.decode(), self.subs):
                        self.send(reply.encode())
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True

    def sender(self) -> None:
        tpl = self.template
        period = 1.0 / self.rate
        seq = 1000
        last_us = 0
        while not self.subs.keys() and not self.closed:
            time.sleep(0.005)
        due = time.perf_counter() + self.phase
        try:
            while not self.closed:
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                due += period
                now_us = time.time_ns() // 1000
                if self.venue == "bitstamp":
                    seq = max(last_us + 1, now_us)  # microtimestamp, as Bitstamp sends it
                    last_us = seq
                else:
                    seq += 1  # lastUpdateId
                text = (
                    tpl.replace(SEQ_MARK, str(seq))
                    .replace(SEC_MARK, f'"{now_us // 1_000_000}"')
                    .replace(QTY_MARK, f"{1 + (now_us % WRAP_US) / WRAP_US:.8f}")
                )
                self.send(text.encode())
                self.stats[self.venue] += 1
        except OSError:
            pass
        finally:
            self.closed = True


def blaster_main(rate: float) -> None:
    templates = {v: _template(v) for v in VENUES}  # loads the venue registry here, before any thread
    stats = dict.fromkeys(VENUES, 0)
    ports = {}
    listeners = []
    for i, venue in enumerate(VENUES):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(8)
        ports[venue] = ls.getsockname()[1]
        listeners.append((venue, ls, i * 0.5 / rate))

    def accept(venue: str, ls: socket.socket, phase: float) -> None:
        while True:
            sock, _ = ls.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(venue, templates[venue], sock, rate, phase, stats)
            try:
                conn.handshake()
            except (ConnectionError, OSError, KeyError, IndexError):
                sock.close()
                continue
            threading.Thread(target=conn.reader, daemon=True).start()
            threading.Thread(target=conn.sender, daemon=True).start()

    for venue, ls, phase in listeners:
        threading.Thread(target=accept, args=(venue, ls, phase), daemon=True).start()
    print(json.dumps(ports), flush=True)
    for line in sys.stdin:  # the parent asks for the counts, and closes stdin to stop us
        if line.strip() == "stats":
            print(json.dumps(stats), flush=True)


# ------------------------------------------------------------------------------------------------ server
async def server_main(ports: dict[str, int], dump: str) -> None:
    from dragonfly.services.grpc import GrpcServer, GrpcServerConfig
    from dragonfly.services.grpc import server as server_mod
    from dragonfly.topology import Pipeline, PipelineConfig

    writes: list[int] = []
    published: list[int] = []
    views: list[Any] = []
    monotonic, time_ns, append, append_published = time.monotonic, time.time_ns, writes.append, published.append

    def clock() -> float:  # the server's clock before each context.write: stamp the write too
        append(time_ns())
        append_published(views[0].published)  # world views produced so far
        return monotonic()

    server_mod._clock = clock
    base_urls = {v: f"ws://127.0.0.1:{p}" for v, p in ports.items()}
    cfg = PipelineConfig(instrument="ethbtc", venues=VENUES, base_urls=base_urls)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with Pipeline(cfg) as pipe:
        views.append(pipe.views)
        async with GrpcServer.for_pipelines([pipe], GrpcServerConfig(port=0, grace_s=0)) as srv:

            def begin() -> None:  # a call is about to start: forget earlier writes
                writes.clear()
                published.clear()
                Path(dump).write_text("")

            def end() -> None:  # the call has ended: hand over its write stamps and the views produced by each
                payload = {"writes": list(writes), "published": list(published)}
                tmp = Path(dump + ".tmp")
                tmp.write_text(json.dumps(payload))
                tmp.replace(dump)

            loop.add_signal_handler(signal.SIGUSR1, begin)
            loop.add_signal_handler(signal.SIGUSR2, end)
            print(f"READY {srv.port}", flush=True)
            await stop.wait()


async def floor_main(rate: float) -> None:
    """gRPC alone: a bare grpc.aio server streaming 8-byte payloads (its send time) at ``rate`` messages/s."""
    import grpc

    from dragonfly.services.grpc.protos import BOOK_SUMMARY, ORDERBOOK_SERVICE, orderbook_pb2

    async def stream(request: Any, context: Any) -> None:
        period = 1.0 / rate
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += period
            await asyncio.sleep(max(0.0, due - loop.time()))
            await context.write(time.time_ns().to_bytes(8, "little"))

    handler = grpc.method_handlers_generic_handler(ORDERBOOK_SERVICE, {
        "BookSummary": grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=orderbook_pb2.Empty.FromString, response_serializer=lambda b: b
        )
    })
    assert BOOK_SUMMARY.endswith("/BookSummary")
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"READY {port}", flush=True)
    await stop.wait()
    await server.stop(0)


def run_floor(rate: float, warmup: float, duration: float, client: str) -> list[float]:
    server = _spawn(["--floor-serve", str(rate)])
    assert server.stdout is not None
    try:
        line = server.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"floor server did not start: {line!r}")
        address = f"127.0.0.1:{line.split()[1]}"
        receive = {"sync": _receive_sync, "node": _receive_node}.get(client) or (lambda *a: asyncio.run(_receive(*a)))
        got, window = receive(address, "BookSummary", warmup, duration)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return [(t - int.from_bytes(raw, "little")) / 1e3 for t, raw in got[window["first"]:window["last"]]]


# ------------------------------------------------------------------------------------------------ client
def _receive_sync(address: str, rpc: str, warmup: float, duration: float) -> tuple[list[tuple[int, bytes]], dict]:
    """The blocking client (``grpc.insecure_channel``): a thread iterates the call."""
    import grpc

    from dragonfly.services.grpc.protos import BOOK_SUMMARY, STREAM_BOOK, book_pb2, orderbook_pb2

    got: list[tuple[int, bytes]] = []
    window = {"t0": 0, "t1": 0, "first": -1, "last": -1}
    with grpc.insecure_channel(address, options=CLIENT_OPTIONS) as ch:
        if rpc == "BookSummary":
            call = ch.unary_stream(BOOK_SUMMARY, request_serializer=orderbook_pb2.Empty.SerializeToString)(
                orderbook_pb2.Empty()
            )
        else:
            call = ch.unary_stream(STREAM_BOOK, request_serializer=book_pb2.BookRequest.SerializeToString)(
                book_pb2.BookRequest()
            )
        clock = time.time_ns
        append = got.append

        def read() -> None:
            with contextlib.suppress(grpc.RpcError):
                for msg in call:
                    append((clock(), msg))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(warmup)
        window["t0"], window["first"] = time.time_ns(), len(got)
        time.sleep(duration)
        window["t1"], window["last"] = time.time_ns(), len(got)
        call.cancel()
        reader.join(5)
    return got, window


def _receive_node(address: str, rpc: str, warmup: float, duration: float) -> tuple[list[tuple[int, bytes]], dict]:
    """The Node client (``benchmarks/grpc_node_client.js``, @grpc/grpc-js) in its own process."""
    from dragonfly.services.grpc.protos import BOOK_SUMMARY, STREAM_BOOK

    out = tempfile.mktemp(prefix="bench_grpc_node_", suffix=".txt")
    script = str(ROOT / "benchmarks" / "grpc_node_client.js")
    offset = time.time_ns() - time.monotonic_ns()  # both processes read CLOCK_MONOTONIC
    method = BOOK_SUMMARY if rpc == "BookSummary" else STREAM_BOOK
    t_start = time.time_ns()
    subprocess.run(["node", script, address, method, str(warmup + duration), out], check=True, timeout=warmup
                   + duration + 30)
    got = []
    try:
        for line in Path(out).read_text().splitlines():
            t, _, b64 = line.partition("\t")
            got.append((int(t) + offset, base64.b64decode(b64)))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out)
    t0 = t_start + int(warmup * 1e9)
    t1 = t0 + int(duration * 1e9)
    first = next((i for i, (t, _) in enumerate(got) if t >= t0), len(got))
    last = next((i for i, (t, _) in enumerate(got) if t >= t1), len(got))
    return got, {"t0": t0, "t1": t1, "first": first, "last": last}


async def _receive(address: str, rpc: str, warmup: float, duration: float) -> tuple[list[tuple[int, bytes]], dict]:
    import grpc

    from dragonfly.services.grpc.protos import BOOK_SUMMARY, STREAM_BOOK, book_pb2, orderbook_pb2

    got: list[tuple[int, bytes]] = []
    window = {"t0": 0, "t1": 0, "first": -1, "last": -1}
    async with grpc.aio.insecure_channel(address, options=CLIENT_OPTIONS) as ch:
        if rpc == "BookSummary":
            method = ch.unary_stream(BOOK_SUMMARY, request_serializer=orderbook_pb2.Empty.SerializeToString)
            call = method(orderbook_pb2.Empty())
        else:
            method = ch.unary_stream(STREAM_BOOK, request_serializer=book_pb2.BookRequest.SerializeToString)
            call = method(book_pb2.BookRequest())
        clock = time.time_ns
        append = got.append

        async def read() -> None:
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    return
                append((clock(), msg))

        task = asyncio.ensure_future(read())
        await asyncio.sleep(warmup)
        window["t0"], window["first"] = time.time_ns(), len(got)
        await asyncio.sleep(duration)
        window["t1"], window["last"] = time.time_ns(), len(got)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await task
    return got, window


def _stamp_us(levels: Any) -> int | None:
    """The newest venue send stamp (µs modulo WRAP_US) among the stamped quantities, or None."""
    best = None
    for lv in levels:
        if 1.0 <= lv.amount < 2.0:
            s = round((lv.amount - 1.0) * WRAP_US) % WRAP_US
            best = s if best is None else _newer(best, s)
    return best


def _newer(a: int, b: int) -> int:
    return b if (b - a) % WRAP_US < WRAP_US // 2 else a


def _send_ns(client_ns: int, stamp_us: int) -> int:
    """The full send time of a stamp taken before ``client_ns``."""
    ago_us = (client_ns // 1000 - stamp_us) % WRAP_US
    return (client_ns // 1000 - ago_us) * 1000


def _analyse(rpc: str, got: list[tuple[int, bytes]], window: dict, srv: dict) -> dict[str, Any]:
    from dragonfly.services.grpc.protos import book_pb2, orderbook_pb2

    decode = orderbook_pb2.Summary.FromString if rpc == "BookSummary" else book_pb2.BookUpdate.FromString
    writes = srv["writes"]
    # the k-th write of the call is the k-th message received; writes made before the client cancelled may
    # not have been read yet; a pairing that puts a write after its receipt is no pairing
    paired = len(writes) >= len(got) and all(writes[k] <= got[k][0] for k in range(len(got)))
    hops: dict[str, list[float]] = {k: [] for k in ("send->receipt", "receipt->view", "view->write",
                                                    "write->client", "total")}
    for k in range(window["first"], window["last"]):
        t_client, raw = got[k]
        msg = decode(raw)
        stamp = _stamp_us(msg.bids)
        if stamp is None:
            continue
        t_send = _send_ns(t_client, stamp)
        hops["total"].append((t_client - t_send) / 1e3)
        if paired:
            hops["write->client"].append((t_client - writes[k]) / 1e3)
        if rpc == "StreamBook":
            hops["send->receipt"].append((msg.receive_ts_ns - t_send) / 1e3)
            hops["receipt->view"].append((msg.publish_ts_ns - msg.receive_ts_ns) / 1e3)
            if paired:
                hops["view->write"].append((writes[k] - msg.publish_ts_ns) / 1e3)
    sent = window["last"] - window["first"]
    produced = float("nan")
    if paired and sent > 1:  # world views the aggregator published between the window's first and last writes
        first, last = window["first"], window["last"] - 1
        produced = (srv["published"][last] - srv["published"][first]) / ((writes[last] - writes[first]) / 1e9)
    seconds = (window["t1"] - window["t0"]) / 1e9
    return {"hops": hops, "sent_per_s": sent / seconds, "produced_per_s": produced, "paired": paired}


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)


def run_rate(rate: float, warmup: float, duration: float, client: str) -> dict[str, dict[str, Any]]:
    blaster = _spawn(["--blast", str(rate)])
    assert blaster.stdout is not None and blaster.stdin is not None
    ports = json.loads(blaster.stdout.readline())
    dump = tempfile.mktemp(prefix="bench_grpc_", suffix=".json")
    server = _spawn(["--serve", json.dumps(ports), "--dump", dump])
    assert server.stdout is not None
    out: dict[str, dict[str, Any]] = {}
    try:
        line = server.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"server did not start: {line!r}")
        address = f"127.0.0.1:{line.split()[1]}"
        for rpc in ("BookSummary", "StreamBook"):
            os.kill(server.pid, signal.SIGUSR1)
            _wait_file(dump, lambda text: text == "")
            blaster.stdin.write("stats\n")
            blaster.stdin.flush()
            frames0 = json.loads(blaster.stdout.readline())
            cpu0, wall0 = _timing.cpu_seconds(server.pid), time.monotonic()
            if client == "sync":
                got, window = _receive_sync(address, rpc, warmup, duration)
            elif client == "node":
                got, window = _receive_node(address, rpc, warmup, duration)
            else:
                got, window = asyncio.run(_receive(address, rpc, warmup, duration))
            cpu, wall = _timing.cpu_seconds(server.pid) - cpu0, time.monotonic() - wall0
            blaster.stdin.write("stats\n")
            blaster.stdin.flush()
            frames1 = json.loads(blaster.stdout.readline())
            time.sleep(0.2)  # the server's handler has seen the call end
            os.kill(server.pid, signal.SIGUSR2)
            srv = json.loads(_wait_file(dump, lambda text: text.startswith("{")))
            res = _analyse(rpc, got, window, srv)
            res["frames_per_s"] = {v: (frames1[v] - frames0[v]) / wall for v in VENUES}
            res["server_cpu_pct"] = 100.0 * cpu / wall
            out[rpc] = res
    finally:
        for p in (server, blaster):
            if p is server:
                p.send_signal(signal.SIGTERM)
            else:
                assert p.stdin is not None
                p.stdin.close()
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        with contextlib.suppress(OSError):
            os.unlink(dump)
    return out


def _wait_file(path: str, ready: Any, timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            text = Path(path).read_text()
            if ready(text):
                return text
        time.sleep(0.01)
    raise SystemExit(f"the server did not answer through {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blast", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    ap.add_argument("--floor-serve", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--rates", default="1000,5000", help="frames/s per venue, comma-separated (default 1000,5000)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds measured per call (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring (default 2)")
    ap.add_argument("--quick", action="store_true", help="short run (3 s per call)")
    ap.add_argument("--client", choices=["aio", "sync", "node"], default="aio",
                    help="the client: Python grpc.aio (default), Python's blocking API read by a thread, or Node "
                    "@grpc/grpc-js (benchmarks/grpc_node_client.js; `npm ci --prefix tests/e2e/node_client` first)")
    args = ap.parse_args()
    if args.blast:
        blaster_main(args.blast)
        return
    if args.serve:
        asyncio.run(server_main(json.loads(args.serve), args.dump))
        return
    if args.floor_serve:
        asyncio.run(floor_main(args.floor_serve))
        return
    _timing.require_compiled("bench_grpc")
    if args.quick:
        args.duration, args.warmup = 3.0, 1.0
    _timing.header("bench_grpc: venue send -> gRPC client receive", compared=("grpcio", "protobuf", "aiohttp"))
    print(f"# two venues (binance, bitstamp), one call at a time, {args.duration:g} s measured after "
          f"{args.warmup:g} s; latencies in µs (p50 / p99 / p99.9)")
    print("# load average at start: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    rates = [float(r) for r in args.rates.split(",")]
    for rate in rates:
        samples = run_floor(2 * rate, args.warmup, args.duration, args.client)
        pc = _timing.percentiles(samples)
        print(f"\ngRPC alone (bare grpc.aio server writing 8-byte messages at {2 * rate:g}/s, {args.client} client):\n"
              f"  {'write->client':<14} {pc[50]:8.0f} {pc[99]:8.0f} {pc[99.9]:8.0f}   (n={len(samples)})")
    for rate in rates:
        results = run_rate(rate, args.warmup, args.duration, args.client)
        for rpc, res in results.items():
            fps = " + ".join(f"{res['frames_per_s'][v]:.0f}" for v in VENUES)
            print(f"\n{rpc} at {rate:g} frames/s per venue (sent {fps} frames/s): views sent/produced "
                  f"{res['sent_per_s']:.0f}/{res['produced_per_s']:.0f} per s; server process CPU "
                  f"{res['server_cpu_pct']:.0f}%" + ("" if res["paired"] else "; write stamps not paired"))
            for hop, samples in res["hops"].items():
                if not samples:
                    continue
                pc = _timing.percentiles(samples)
                print(f"  {hop:<14} {pc[50]:8.0f} {pc[99]:8.0f} {pc[99.9]:8.0f}   (n={len(samples)})")
    print("\n# load average at end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
