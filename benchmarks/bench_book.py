"""Diff-book throughput: replaying recorded Kraken and Binance diff feeds, per contender.

Method
------
The book messages of a capture are loaded into memory as the raw text the venue sent (Kraken v1
``book-1000``: 10 pairs, 14,496 checksummed updates; Binance ``depth@100ms``: REST snapshot + 3,451
diffs). One *run* replays every message from a fresh state, in one process. Every figure says which
API it times and which hops it covers (there is no socket in any of them: the frame text is in memory):

* ``dragonfly feed [user path]``: frame text -> the venue adapter (parsed by the core's ``Doc``) -> the
  instrument's ``BookKeeper`` (``Book.apply_doc``, sequence rule, checksum, crossed check) -> a
  ``BookUpdate`` when the top 10 changed. What a running feed does per frame, minus the socket.
* ``dragonfly Book + json.loads [user API]``: ``json.loads`` of the frame, ``Book.apply`` of the venue's
  strings, ``Book.top(10)``, and (Kraken) ``Book.checksum`` compared with the venue's ``c``.
* ``cryptofeed <Venue>.message_handler [its own handler]``: cryptofeed's feed handler fed each frame as
  its connection would (``await feed.message_handler(frame, conn, ts)``): its JSON parse with Decimal
  floats, ``Decimal()`` per level, its order-book (the ``order-book`` C extension), checksum validation
  on (Kraken), Binance's update-id rule; a book callback reads the top 10 of each side
  (``SortedDict.index``). Its symbol tables are filled offline from the capture's pairs through
  cryptofeed's own ``_parse_symbol_data`` (it fetches them over the network at start-up otherwise), and
  Binance's REST snapshot request is answered with the capture's snapshot text (no network).
* ``order-book C path [internal]``: the ``order-book`` C extension's own code with the types it takes
  natively, fed deltas converted beforehand (not timed: no JSON, no ``Decimal()``/``float()`` in the
  loop): per level one ``SortedDict`` set/delete (the library has no bulk update), then the top 10
  through ``index``, and its own ``checksum()`` (Kraken, Decimal keys: the checksum needs the venue's
  digits). Binance with float keys and with Decimal keys.
* ``dragonfly Book C path [internal]``: the same pre-parsed input (the venue's strings, JSON parsed
  beforehand, not timed) into ``Book.apply`` + ``Book.top(10)`` + checksum: the counterpart of the row
  above.

Contenders are timed in interleaved rounds (``_timing.interleaved_cpu``: CPU time of this thread,
one replay per call, median of ``--runs`` rounds); figures are deltas (price levels applied) per
second and ns per delta, with the ratio to the fastest. Every contender's checksums must all match
(Kraken), or the benchmark fails.
Captures are read from ``../shared/captures`` (or ``$DRAGONFLY_CAPTURES``); without them, a synthetic
Kraken-format stream from :mod:`dragonfly.sim.diff` is used and the cryptofeed rows are left out.

Usage: ``python benchmarks/bench_book.py [--runs 5]`` (``pip install .[bench]`` for order-book and
cryptofeed).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from _loads_loops import kraken_loads
from _timing import REPO, captures_dir, header, interleaved_cpu, require_compiled

sys.path.insert(0, str(REPO))

from dragonfly.clients.base import ClientStats
from dragonfly.sim.diff.recordings import read_cryptofeed, read_hftbacktest
from dragonfly.venues import create_feed, get_venue
from dragonfly.venues.binance import BinanceDiffConfig
from dragonfly.venues.kraken import KrakenConfig

TOP = 10


# -- workloads ------------------------------------------------------------------------------------


def kraken_messages() -> tuple[str, list[str]]:
    path = captures_dir() / "kraken" / "cryptofeed__KRAKEN-c197c0.0"
    if path.is_file():
        out = [r.body for r in read_cryptofeed(path) if r.kind == "recv" and r.body.startswith("[")]
        return "Kraken v1 capture (book-1000, 10 pairs)", [m for m in out if '"book-' in m]
    from dragonfly.sim.diff.server import DiffSim, DiffSimConfig
    from dragonfly.venues.kraken.sim import KrakenEncoder

    symbols = ("XBT/USD", "ETH/USD")
    sim = DiffSim(KrakenEncoder(KrakenConfig(depth=1000)), DiffSimConfig(symbols=symbols, levels=100))
    msgs = [sim.encoder.snapshot_frame(sim.book_state(s)) for s in symbols]
    for _ in range(7000):
        for s in symbols:
            msgs.append(sim.encoder.delta_frame(sim.generate(s)))
    return "synthetic Kraken v1 stream (captures not found)", msgs


def binance_messages() -> tuple[str, str, list[str]] | None:
    path = captures_dir() / "binance" / "hftbacktest__spot_btcusdt_20240808.gz"
    if not path.is_file():
        return None
    snapshot = ""
    diffs: list[str] = []
    for _ts, body in read_hftbacktest(path):
        if body.startswith('{"lastUpdateId"'):
            snapshot = body
        elif "depthUpdate" in body:
            diffs.append(body)  # those before the snapshot are buffered by a real listener
    return "Binance spot capture (BTCUSDT depth@100ms, REST snapshot)", snapshot, diffs


def count_kraken_deltas(msgs: list[str]) -> int:
    n = 0
    for raw in msgs:
        m = json.loads(raw)
        for part in m[1:-2]:
            for key in ("as", "bs", "a", "b"):
                n += len(part.get(key, ()))
    return n


# -- Kraken contenders ------------------------------------------------------------------------------


def kraken_dragonfly(book_cls: Any, msgs: list[str]) -> Callable[[], int]:
    """``Book`` + ``json.loads``: the Kraken loop of ``_loads_loops`` (path (a) of ``bench_diff_parse.py``); its
    result here is the checksums that matched."""
    replay = kraken_loads(book_cls, msgs)

    def run() -> int:
        return replay()[0]

    return run


class _NoClient:
    """The feed's layer-1 stand-in: frames are handed to the driver here, no socket."""

    def __init__(self) -> None:
        self.stats = ClientStats()
        self.on_connect = self.on_disconnect = self.on_gap = None


class _NullSink:
    published = 0

    def publish(self, update: Any) -> None:
        self.published += 1


def _feed(venue: str, config: Any, symbols: list[str], impl_book: Any) -> Any:
    """The venue's feed (adapter + one keeper per instrument + driver), as create_feed builds it."""
    return create_feed(
        get_venue(venue),
        instruments=symbols,
        depth=TOP,
        sink=_NullSink(),
        config=config,
        client=_NoClient(),
        book_type=impl_book,
    )


def kraken_feed(impl_book: Any, msgs: list[str]) -> Callable[[], int]:
    pairs = sorted({json.loads(raw)[-1] for raw in msgs})
    instruments = [p.replace("XBT", "BTC").replace("/", "-") for p in pairs]

    def run() -> int:
        feed = _feed("kraken", KrakenConfig(depth=1000), instruments, impl_book)
        on_frame = feed.on_frame
        for i, raw in enumerate(msgs):
            on_frame(raw, i + 1)
        if feed.stats.faults or feed.stats.bad_frames:
            raise AssertionError(f"feed faults: {feed.stats.as_dict()}")
        return sum(k.stats.checksums_ok for k in feed.keepers.values())

    return run


def kraken_preparsed(msgs: list[str], key: Callable[[str], Any]) -> list[tuple[str, bool, list[Any], list[Any], Any]]:
    """Each message as (pair, is_snapshot, bids, asks, checksum) with prices and sizes through ``key``,
    in the order the venue lists them: the C-path contenders' input, made before timing."""
    out = []
    for raw in msgs:
        m = json.loads(raw)
        pair = m[-1]
        first = m[1]
        if "as" in first or "bs" in first:
            out.append(
                (
                    pair,
                    True,
                    [(key(p), key(q)) for p, q, *_ in first.get("bs", ())],
                    [(key(p), key(q)) for p, q, *_ in first.get("as", ())],
                    None,
                )
            )
            continue
        bids: list[Any] = []
        asks: list[Any] = []
        c = None
        for part in m[1:-2]:
            asks += [(key(p), key(q)) for p, q, *_ in part.get("a", ())]
            bids += [(key(p), key(q)) for p, q, *_ in part.get("b", ())]
            c = part.get("c", c)
        out.append((pair, False, bids, asks, None if c is None else int(c)))
    return out


def kraken_orderbook_c(msgs: list[str]) -> Callable[[], int] | None:
    """order-book's own C code on pre-parsed Decimal deltas: set/delete per level, top 10, checksum."""
    try:
        from order_book import OrderBook
    except ImportError:
        return None
    pre = kraken_preparsed(msgs, Decimal)

    def run() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for pair, snap, bids, asks, c in pre:
            if snap:
                ob = books[pair] = OrderBook(max_depth=1000, checksum_format="KRAKEN")
                ob.bids = dict(bids)
                ob.asks = dict(asks)
            else:
                ob = books[pair]
                ob_b = ob.bids
                ob_a = ob.asks
                for p, q in asks:
                    if q == 0:
                        if p in ob_a:
                            del ob_a[p]
                    else:
                        ob_a[p] = q
                for p, q in bids:
                    if q == 0:
                        if p in ob_b:
                            del ob_b[p]
                    else:
                        ob_b[p] = q
                ob_b.truncate()
                ob_a.truncate()
            b_idx = ob.bids.index
            a_idx = ob.asks.index
            [b_idx(i) for i in range(min(TOP, len(ob.bids)))]
            [a_idx(i) for i in range(min(TOP, len(ob.asks)))]
            if c is not None:
                ok += ob.checksum() == c
        return ok

    return run


def kraken_book_c(book_cls: Any, msgs: list[str]) -> Callable[[], int]:
    """dragonfly's Book on the same pre-parsed input (the venue's strings): apply, top 10, checksum."""
    pre = kraken_preparsed(msgs, str)

    def run() -> int:
        books: dict[str, Any] = {}
        ok = 0
        for pair, snap, bids, asks, c in pre:
            if snap:
                book = books[pair] = book_cls(max_depth=1000)
            else:
                book = books[pair]
            book.apply(bids, asks)
            book.top(TOP)
            if c is not None:
                ok += book.checksum("crc32_top10_digits") == c
        return ok

    return run


def _cryptofeed_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    return loop


def kraken_cryptofeed(msgs: list[str]) -> Callable[[], int] | None:
    """cryptofeed's own Kraken handler on every frame, symbol table filled offline."""
    try:
        from cryptofeed.defines import L2_BOOK
        from cryptofeed.exchanges import Kraken
        from cryptofeed.symbols import Symbols
    except ImportError:
        return None
    pairs = sorted({json.loads(raw)[-1] for raw in msgs})
    # what Kraken's REST AssetPairs answer holds for these pairs (wsname), read by cryptofeed's own parser
    syms, info = Kraken._parse_symbol_data({"result": {p: {"wsname": p} for p in pairs}})
    Symbols.set(Kraken.id, syms, info)
    std = [k for k, v in syms.items() if v in pairs]
    loop = _cryptofeed_loop()
    ok = [0]

    async def on_book(book: Any, receipt: float) -> None:
        b = book.book
        [b.bids.index(i) for i in range(min(TOP, len(b.bids)))]
        [b.asks.index(i) for i in range(min(TOP, len(b.asks)))]
        if book.checksum is not None:
            ok[0] += 1  # checksum_validation raised BadChecksum otherwise

    async def replay() -> int:
        feed = Kraken(symbols=std, channels=[L2_BOOK], callbacks={L2_BOOK: on_book}, checksum_validation=True)
        handler = feed.message_handler
        for i, raw in enumerate(msgs):
            await handler(raw, None, float(i))
        return ok[0]

    def run() -> int:
        ok[0] = 0
        return loop.run_until_complete(replay())

    return run


# -- Binance contenders -----------------------------------------------------------------------------


def binance_dragonfly(book_cls: Any, snapshot: str, diffs: list[str]) -> Callable[[], int]:
    loads = json.loads

    def run() -> int:
        snap = loads(snapshot)
        book = book_cls(max_depth=5000)
        book.apply(snap["bids"], snap["asks"])
        last = snap["lastUpdateId"]
        n = 0
        for raw in diffs:
            d = loads(raw)["data"]
            if d["u"] <= last:
                continue
            book.apply(d["b"], d["a"])
            last = d["u"]
            book.top(TOP)
            if book.is_crossed():
                raise AssertionError("crossed")
            n += 1
        return n

    return run


def binance_feed(impl_book: Any, snapshot: str, diffs: list[str]) -> Callable[[], int]:
    def run() -> int:
        feed = _feed("binance-diff", BinanceDiffConfig(), ["BTC-USDT"], impl_book)
        (k,) = feed.keepers.values()
        feed._handle(k, k.on_snapshot(feed.adapter.parse_snapshot("BTCUSDT", snapshot.encode())), 0)  # the REST answer
        on_frame = feed.on_frame
        for i, raw in enumerate(diffs):
            on_frame(raw, i + 1)
        if feed.stats.faults or feed.stats.bad_frames:
            raise AssertionError(f"feed faults: {feed.stats.as_dict()}")
        return int(k.stats.applied)

    return run


def binance_preparsed(snapshot: str, diffs: list[str], key: Callable[[str], Any]) -> tuple[Any, list[Any]]:
    """The snapshot's sides and the applicable diffs' (bids, asks) through ``key``, made before timing."""
    snap = json.loads(snapshot)
    last = snap["lastUpdateId"]
    out = []
    for raw in diffs:
        d = json.loads(raw)["data"]
        if d["u"] <= last:
            continue
        last = d["u"]
        out.append(([(key(p), key(q)) for p, q in d["b"]], [(key(p), key(q)) for p, q in d["a"]]))
    sides = ([(key(p), key(q)) for p, q in snap["bids"]], [(key(p), key(q)) for p, q in snap["asks"]])
    return sides, out


def binance_orderbook_c(snapshot: str, diffs: list[str], key: Callable[[str], Any]) -> Callable[[], int] | None:
    """order-book's own C code on pre-parsed deltas (``key``: float or Decimal): set/delete, top 10, crossed."""
    try:
        from order_book import OrderBook
    except ImportError:
        return None
    (snap_b, snap_a), pre = binance_preparsed(snapshot, diffs, key)

    def run() -> int:
        ob = OrderBook(max_depth=5000)
        ob.bids = dict(snap_b)
        ob.asks = dict(snap_a)
        ob_b = ob.bids
        ob_a = ob.asks
        n = 0
        for bids, asks in pre:
            for p, q in bids:
                if q == 0:
                    if p in ob_b:
                        del ob_b[p]
                else:
                    ob_b[p] = q
            for p, q in asks:
                if q == 0:
                    if p in ob_a:
                        del ob_a[p]
                else:
                    ob_a[p] = q
            b_idx = ob_b.index
            a_idx = ob_a.index
            [b_idx(i) for i in range(min(TOP, len(ob_b)))]
            [a_idx(i) for i in range(min(TOP, len(ob_a)))]
            if len(ob_b) and len(ob_a) and b_idx(0)[0] >= a_idx(0)[0]:
                raise AssertionError("crossed")
            n += 1
        return n

    return run


def binance_book_c(book_cls: Any, snapshot: str, diffs: list[str]) -> Callable[[], int]:
    """dragonfly's Book on the same pre-parsed input (the venue's strings): apply, top 10, crossed."""
    (snap_b, snap_a), pre = binance_preparsed(snapshot, diffs, str)

    def run() -> int:
        book = book_cls(max_depth=5000)
        book.apply(snap_b, snap_a)
        n = 0
        for bids, asks in pre:
            book.apply(bids, asks)
            book.top(TOP)
            if book.is_crossed():
                raise AssertionError("crossed")
            n += 1
        return n

    return run


class _OfflineRest:
    """Stands in for cryptofeed's HTTP connection: the REST snapshot request gets the capture's answer."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.requests = 0

    async def read(self, address: str, **kwargs: Any) -> str:
        self.requests += 1
        return self.body

    async def close(self) -> None:
        return None


def binance_cryptofeed(snapshot: str, diffs: list[str]) -> Callable[[], int] | None:
    """cryptofeed's own Binance handler on every frame: symbol table offline, REST snapshot from the capture."""
    try:
        from cryptofeed.defines import L2_BOOK
        from cryptofeed.exchanges import Binance
        from cryptofeed.symbols import Symbols
    except ImportError:
        return None
    # what Binance's exchangeInfo holds for the captured symbol, read by cryptofeed's own parser
    info = {
        "symbols": [
            {
                "symbol": "BTCUSDT",
                "baseAsset": "BTC",
                "quoteAsset": "USDT",
                "status": "TRADING",
                "filters": [{"tickSize": "0.01000000"}],
            }
        ]
    }
    syms, extra = Binance._parse_symbol_data(info)
    Symbols.set(Binance.id, syms, extra)
    loop = _cryptofeed_loop()
    count = [0]

    async def on_book(book: Any, receipt: float) -> None:
        b = book.book
        [b.bids.index(i) for i in range(min(TOP, len(b.bids)))]
        [b.asks.index(i) for i in range(min(TOP, len(b.asks)))]
        if book.delta is not None:
            count[0] += 1  # one per applied diff (the snapshot's callback has no delta)

    async def replay() -> int:
        feed = Binance(symbols=["BTC-USDT"], channels=[L2_BOOK], callbacks={L2_BOOK: on_book}, max_depth=5000)
        feed.http_conn = _OfflineRest(snapshot)
        handler = feed.message_handler
        for i, raw in enumerate(diffs):
            await handler(raw, None, float(i))
        if feed.http_conn.requests != 1:
            raise AssertionError(f"cryptofeed asked for {feed.http_conn.requests} snapshots (a gap?)")
        return count[0]

    def run() -> int:
        count[0] = 0
        return loop.run_until_complete(replay())

    return run


# -- driver -----------------------------------------------------------------------------------------


def measure(contenders: list[tuple[str, Callable[[], int] | None]], runs: int) -> list[tuple[str, float, int]]:
    """Run each contender once (warm-up and its result), then time them in interleaved rounds."""
    present = [(name, fn) for name, fn in contenders if fn is not None]
    for name, fn in contenders:
        if fn is None:
            print(f"note: {name}: not installed (pip install .[bench]); skipped")
    results = [fn() for _, fn in present]
    times = interleaved_cpu([fn for _, fn in present], runs)
    return [(name, t, r) for (name, _), t, r in zip(present, times, results, strict=True)]


def report(
    title: str,
    deltas: int,
    messages: int,
    rows: list[tuple[str, float, int]],
    expect: int | None,
    expect_for: dict[str, int] | None = None,
) -> None:
    """``expect``: checksums every contender must match, unless ``expect_for`` names its own count."""
    print(f"\n{title}: {messages:,} messages, {deltas:,} deltas per run")
    best = min(t for _, t, _ in rows)
    head = f"{'CPU s':>9s} {'msgs/s':>10s} {'deltas/s':>12s} {'ns/delta':>9s} {'vs best':>8s}"
    print(f"  {'contender':58s} {head}  check")
    for name, t, result in rows:
        want = (expect_for or {}).get(name, expect)
        flag = "" if want is None else (f"{result} ok" if result == want else f"MISMATCH {result}/{want}")
        rates = f"{messages / t:10,.0f} {deltas / t:12,.0f} {t / deltas * 1e9:9.1f}"
        print(f"  {name:58s} {t:9.4f} {rates} {t / best:7.2f}x  {flag}")
        if want is not None and result != want:
            raise SystemExit(f"{name}: checksums do not all match")


def main() -> None:
    require_compiled("bench_book")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds (median reported)")
    args = ap.parse_args()
    header("bench_book", ("order-book", "cryptofeed"))
    cls = importlib.import_module("dragonfly._core.book_c").Book

    title, kmsgs = kraken_messages()
    deltas = count_kraken_deltas(kmsgs)
    expect = sum(1 for raw in kmsgs if '"c":' in raw)
    captured = title.startswith("Kraken v1 capture")
    rows = measure(
        [
            ("dragonfly feed: adapter (Doc) + keeper [user path]", kraken_feed(cls, kmsgs)),
            ("dragonfly Book + json.loads [user API]", kraken_dragonfly(cls, kmsgs)),
            ("cryptofeed Kraken.message_handler [its own handler]", kraken_cryptofeed(kmsgs) if captured else None),
            ("dragonfly Book, pre-parsed strings [internal]", kraken_book_c(cls, kmsgs)),
            ("order-book C path, pre-parsed Decimal [internal]", kraken_orderbook_c(kmsgs)),
        ],
        args.runs,
    )
    # cryptofeed validates a message's checksum only when `c` is in its first part (a frame carrying both
    # an `a` and a `b` part has it in the second): those it applies without checking
    cf_checked = sum(1 for raw in kmsgs if "c" in json.loads(raw)[1])
    report(
        title + " - parse + apply + truncate + top 10 + checksum",
        deltas,
        len(kmsgs),
        rows,
        expect,
        {"cryptofeed Kraken.message_handler [its own handler]": cf_checked},
    )
    if cf_checked != expect:
        print(f"  note: cryptofeed checked {cf_checked} of the {expect} checksums (the others are in a second part)")

    binance = binance_messages()
    if binance is None:
        print("\nBinance capture not found; skipped")
        return
    title, snapshot, diffs = binance
    snap = json.loads(snapshot)
    deltas = (
        len(snap["bids"])
        + len(snap["asks"])
        + sum(
            len(d["b"]) + len(d["a"]) for d in (json.loads(x)["data"] for x in diffs) if d["u"] > snap["lastUpdateId"]
        )
    )
    rows = measure(
        [
            ("dragonfly feed: adapter (Doc) + keeper [user path]", binance_feed(cls, snapshot, diffs)),
            ("dragonfly Book + json.loads [user API]", binance_dragonfly(cls, snapshot, diffs)),
            ("cryptofeed Binance.message_handler [its own handler]", binance_cryptofeed(snapshot, diffs)),
            ("dragonfly Book, pre-parsed strings [internal]", binance_book_c(cls, snapshot, diffs)),
            ("order-book C path, pre-parsed float [internal]", binance_orderbook_c(snapshot, diffs, float)),
            ("order-book C path, pre-parsed Decimal [internal]", binance_orderbook_c(snapshot, diffs, Decimal)),
        ],
        args.runs,
    )
    report(title + " - parse + apply + top 10 + crossed check", deltas, len(diffs) + 1, rows, None)


if __name__ == "__main__":
    main()
