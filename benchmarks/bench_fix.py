"""FIX: parsing a 35=W with 20 MDEntries (dragonfly vs simplefix), and end-to-end latency over FIX.

Method
------
Part 1, parsing. One MarketDataSnapshotFullRefresh (35=W) with 20 entries (10 bids,
10 offers, each with 269/270/271/30), 882 bytes, generated here. Candidates, all in
this process on the same bytes:

* ``dragonfly parse``            -- ``parse_message``: split into fields, verify BodyLength and CheckSum;
* ``dragonfly parse+decode``     -- the same plus ``market_data``: the 268 group into C arrays of
  side/price/size (floats), i.e. everything a listener needs;
* ``dragonfly framer+decode``    -- ``FixFramer.feed`` (stream framing) + ``market_data``;
* the pure-Python twin of the two dragonfly decode paths;
* ``simplefix parse``            -- ``FixParser.append_buffer`` + ``get_message`` (splits fields; it
  does not verify the CheckSum);
* ``simplefix parse+decode``     -- the same plus walking the pairs into (side, price, size) floats.

Every candidate's decoded entries are checked equal before timing. Timing:
``_timing.interleaved_cpu`` (CPU time of this thread),
``--repeat`` rounds of ``--number`` calls (the pure twin: a twentieth), candidates in rotating
order; the median per call gives messages/s; ratio = candidate / ``dragonfly parse+decode``.

Part 2, end to end. In one process and one event loop: the simulated FIX venue
(:mod:`dragonfly.sim.fix_venue`, stalled so the benchmark drives it) -> our FIX
client and venue feed (35=X incrementals) -> the BBO aggregator -> the FIX server ->
a customer's FIX client. For each sample the venue steps its book once and sends the
35=X; the latency is from just before that send to the moment the customer's client
yields the resulting 35=X (both ``perf_counter_ns`` in the same process). Samples
where the consolidated top N did not change (no message reaches the customer) are
skipped. p50/p90/p99 over ``--samples`` samples.

Run: ``python benchmarks/bench_fix.py [--quick]`` (refuses to run on the pure-Python core).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

import simplefix
from _timing import header, interleaved_cpu, percentiles, require_compiled

from dragonfly._core import fix_py

try:
    from dragonfly._core import fix_c
except ImportError:  # pure build
    fix_c = None  # type: ignore[assignment]


def make_w() -> bytes:
    fields: list[tuple[int, object]] = [
        (49, "VENUE"),
        (56, "DRAGONFLY"),
        (34, 123456),
        (52, "20240101-12:00:00.000"),
        (262, "ETH-BTC:1"),
        (55, "ETH-BTC"),
        (268, 20),
    ]
    for i in range(10):
        fields += [(269, "0"), (270, round(0.065 - i * 0.00001, 5)), (271, round(1.5 + i * 0.37, 3)), (30, "binance")]
    for i in range(10):
        fields += [
            (269, "1"),
            (270, round(0.06501 + i * 0.00001, 5)),
            (271, round(2.25 + i * 0.41, 3)),
            (30, "bitstamp"),
        ]
    return fix_py.encode_message("W", fields)


def entries_of(md: Any) -> list[tuple[int, float, float]]:
    return [(md.side(i), md.price(i), md.size(i)) for i in range(len(md))]


def simplefix_decode(raw: bytes) -> list[tuple[int, float, float]]:
    p = simplefix.FixParser()
    p.append_buffer(raw)
    m = p.get_message()
    out = []
    side = -1
    price = 0.0
    for tag, value in m.pairs:
        t = int(tag)
        if t == 269:
            side = int(value)
        elif t == 270:
            price = float(value)
        elif t == 271:
            out.append((side, price, float(value)))
    return out


def bench_parse(number: int, repeat: int) -> None:
    raw = make_w()
    ref = entries_of(fix_py.market_data(fix_py.parse_message(raw)))
    assert simplefix_decode(raw) == ref, "simplefix decode disagrees"
    cands: list[tuple[str, Callable[[], object]]] = []
    for name, mod in (("", fix_c), (" [pure]", fix_py)):
        if mod is None:
            continue
        assert entries_of(mod.market_data(mod.parse_message(raw))) == ref
        framer = mod.FixFramer()
        got = framer.feed(raw)
        assert len(got) == 1 and entries_of(mod.market_data(got[0])) == ref
        cands.append((f"dragonfly parse+decode{name}", lambda m=mod: m.market_data(m.parse_message(raw))))
        cands.append((f"dragonfly framer+decode{name}", lambda m=mod, f=framer: m.market_data(f.feed(raw)[0])))
        cands.append((f"dragonfly parse{name}", lambda m=mod: m.parse_message(raw)))

    def sf_parse() -> object:
        p = simplefix.FixParser()
        p.append_buffer(raw)
        return p.get_message()

    cands.append(("simplefix parse", sf_parse))
    cands.append(("simplefix parse+decode", lambda: simplefix_decode(raw)))
    fast = [(name, fn) for name, fn in cands if "[pure]" not in name]
    slow = [(name, fn) for name, fn in cands if "[pure]" in name]
    times = interleaved_cpu([fn for _, fn in fast], repeat, number=number)
    times += interleaved_cpu([fn for _, fn in slow], repeat, number=max(1, number // 20)) if slow else []
    results = [(name, t * 1e9) for (name, _), t in zip(fast + slow, times, strict=True)]
    base = results[0][1]
    print(f"# 35=W, 20 MDEntries, {len(raw)} bytes; median of {repeat} interleaved rounds of {number} calls")
    print(f"{'candidate':34s} {'ns/msg':>10s} {'msgs/s':>12s} {'ratio':>10s}  (ratio: ns/msg over {results[0][0]})")
    for name, ns in results:
        print(f"{name:34s} {ns:10.0f} {1e9 / ns:12,.0f} {ns / base:10.2f}")


async def bench_e2e(samples: int) -> None:
    from dragonfly.aggregators.bbo import AggregatorConfig, BboAggregator
    from dragonfly.clients.base import Backoff
    from dragonfly.clients.fix import FixClient
    from dragonfly.services.fix_server import FixServer, FixServerConfig
    from dragonfly.sim.fix_venue import FixVenueConfig, FixVenueSimulator
    from dragonfly.venues import create_feed, get_venue
    from dragonfly.venues.fixsim import FixsimConfig

    sim = FixVenueSimulator(FixVenueConfig(comp_id="FIXSIM", interval_s=3600.0, levels=20, seed=7))
    await sim.start()
    sim.stall()
    agg = BboAggregator(AggregatorConfig(instrument="ETH-BTC", venues=("fixsim",), depth=10, liquidity=False))
    agg.start()
    feed = create_feed(
        get_venue("fixsim"),
        instruments=["ETH-BTC"],
        depth=10,
        sink=agg,
        config=FixsimConfig(base_url=sim.address, heartbeat_s=30),
        backoff=Backoff(),
    )
    feed.start()
    server = FixServer({"ETH-BTC": agg.views}, FixServerConfig(port=0, customers={"BOT": None}))
    await server.start()
    cust = FixClient.build(host="127.0.0.1", port=server.port, sender_comp_id="BOT", target_comp_id="DRAGONFLY")
    await cust.connect()
    inbox: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    async def pump() -> None:  # stamp each message when the customer's client yields it
        async for m in cust.messages():
            inbox.put_nowait((time.perf_counter_ns(), m))

    pump_task = asyncio.get_running_loop().create_task(pump())
    with agg.views.subscribe() as first_view:  # the world view exists once one is published
        await asyncio.wait_for(first_view.get(), 10)
    await cust.send_message("V", [(262, "b"), (263, 1), (264, 10), (265, 1), (146, 1), (55, "ETH-BTC")])
    _, first = await asyncio.wait_for(inbox.get(), 10)
    assert first.msg_type == "W"
    lat: list[int] = []
    skipped = 0
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        sim.tick()
        try:
            t1, m = await asyncio.wait_for(inbox.get(), 0.05)
        except asyncio.TimeoutError:
            skipped += 1
            continue
        lat.append(t1 - t0)
        assert m.msg_type == "X"
        while not inbox.empty():  # a late message from a skipped sample
            inbox.get_nowait()
    await cust.close()
    pump_task.cancel()
    await asyncio.gather(pump_task, return_exceptions=True)
    await server.stop()
    await feed.stop()
    await agg.stop()
    await sim.stop()
    pct = percentiles([x / 1000 for x in lat], (50, 90, 99))
    print(
        "# end to end: FIX venue send -> our FIX client -> feed -> aggregator -> FIX server -> customer's FIX "
        "client yields the 35=X, one process"
    )
    print(
        f"samples {len(lat)} (skipped {skipped} with no change in the top 10): "
        f"p50 {pct[50]:.1f} us, p90 {pct[90]:.1f} us, p99 {pct[99]:.1f} us"
    )


def main(argv: list[str] | None = None) -> int:
    require_compiled("bench_fix")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    ap.add_argument("--number", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--samples", type=int, default=2000)
    args = ap.parse_args(argv)
    if args.quick:
        args.number, args.repeat, args.samples = 500, 3, 100
    header("bench_fix", ("simplefix",))
    bench_parse(args.number, args.repeat)
    asyncio.run(bench_e2e(args.samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
