"""A stock QuickFIX customer (QuickFIX's own FIX44.xml, unmodified) liquidates a large order across
simulated venues through the FIX order entry, and the ExecutionReports' fills add up to what the
venues booked."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fix_peers"))
from harness import Peer, build_peers, free_port, settings

from dragonfly.execution import build_engine
from dragonfly.services.execution import ExecutionConfig, RiskLimits
from dragonfly.services.execution.fix import FixOrderServer, FixOrderServerConfig
from dragonfly.topology import Pipeline, PipelineConfig

VENUES = ("binance", "bitstamp-diff", "kraken")


def fields(line: str) -> dict[int, str]:
    """The tags of an ``APP`` line (last value wins)."""
    out = {}
    for part in line.split(" ", 1)[1].split("|"):
        if "=" in part:
            k, _, v = part.partition("=")
            out[int(k)] = v
    return out


@pytest.fixture
def trader_bin() -> Path:
    return build_peers()["qf_trader"]


async def test_quickfix_customer_liquidates_across_venues(trader_bin: Path, tmp_path: Path) -> None:
    config = PipelineConfig(instrument="ETH-BTC", venues=VENUES, simulate=True, depth=10)
    async with Pipeline(config) as pipe:
        limits = {"TRADER": RiskLimits(max_qty=10_000.0)}
        engine = build_engine([pipe], config=ExecutionConfig(limits=limits, default_limits=RiskLimits(max_qty=1.0)))
        server = FixOrderServer(engine, FixOrderServerConfig(port=free_port(), customers={"TRADER": "pw"}))
        await server.start()
        peer = Peer(trader_bin, str(settings(tmp_path / "t.cfg", initiator=True, port=server.port, sender="TRADER",
                                             target="DRAGONFLY", store=tmp_path / "store", heartbeat_s=5)), "pw")
        try:
            await peer.start()
            await peer.expect("LOGON")
            # wait until every venue is in the summed book
            while True:
                view = await engine.wait_liquidity("ETH-BTC", min_seq=(engine.latest("ETH-BTC").seq + 1
                                                                       if engine.latest("ETH-BTC") else 0))
                per_venue: dict[str, float] = {}
                for _p, _t, d in view.bids:
                    for v, q in d.items():
                        per_venue[v] = per_venue.get(v, 0.0) + q
                if set(per_venue) == set(VENUES):
                    break
            largest, second = sorted(per_venue.values(), reverse=True)[:2]
            qty = round(largest + second / 2, 4)
            assert qty > max(per_venue.values())  # no single venue can take it all
            mark = peer.mark()
            await peer.send(f"order L1 ETHBTC 2 {qty} 1 - 3")
            final = await peer.expect(lambda s: s.startswith("APP") and "|35=8|" in s and
                                      fields(s).get(39) in ("2", "4", "8"), since=mark)
            reports = [fields(s) for s in peer.lines[mark:] if s.startswith("APP") and "|35=8|" in s]
            assert reports[0][150] == "0" and reports[0][39] == "0"  # New
            trades = [r for r in reports if r[150] == "F"]
            venues = {r[30] for r in trades}
            assert len(venues) >= 2, venues
            filled = math.fsum(float(r[32]) for r in trades)
            end = fields(final)
            assert float(end[14]) == pytest.approx(filled)
            booked = math.fsum(pipe.sim[v].orders.booked_qty("ETH-BTC") for v in VENUES)
            assert filled == pytest.approx(booked)
            assert filled > max(per_venue.values()) * 0.5
            notional = math.fsum(float(r[32]) * float(r[31]) for r in trades)
            assert float(end[6]) == pytest.approx(notional / filled)
            # refused: a duplicate ClOrdID, and an order above the customer's limit
            mark = peer.mark()
            await peer.send("order L1 ETHBTC 2 0.1 1 - 3")
            dup = fields(await peer.expect(lambda s: s.startswith("APP") and "|39=8|" in s, since=mark))
            assert dup[103] == "6" and "duplicate" in dup[58]
            mark = peer.mark()
            await peer.send("order L2 ETHBTC 2 20000 1 - 3")
            big = fields(await peer.expect(lambda s: s.startswith("APP") and "|39=8|" in s, since=mark))
            assert big[103] == "3" and big[11] == "L2"
            # a cancel of an order that is not working: OrderCancelReject
            mark = peer.mark()
            await peer.send("cancel C1 NOPE ETHBTC 2 1")
            rej = fields(await peer.expect(lambda s: s.startswith("APP") and "|35=9|" in s, since=mark))
            assert rej[41] == "NOPE" and rej[102] == "1"
            # a resting Day limit order far from the market, then canceled by the customer
            best = view.bids[0][0]
            mark = peer.mark()
            await peer.send(f"order D1 ETHBTC 2 0.5 2 {best * 2} 0")
            await peer.expect(lambda s: s.startswith("APP") and "|11=D1|" in s and "|39=0|" in s, since=mark)
            await peer.send("cancel C2 D1 ETHBTC 2 0.5")
            done = fields(await peer.expect(lambda s: s.startswith("APP") and "|39=4|" in s, since=mark))
            assert done[11] == "C2" and done[41] == "D1" and float(done[14]) == 0.0
            # QuickFIX found nothing to reject in either direction
            assert not [s for s in peer.lines if s.startswith(("ADMIN_IN 3", "ADMIN_OUT 3"))]
        finally:
            await peer.stop()
            await server.stop()
