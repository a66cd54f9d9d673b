"""``dragonfly.cli.fix_server_main`` (``dragonfly-fix-server``, ``dragonfly fix-server``,
``python -m dragonfly fix-server``) end to end. Its arguments are tested in ``tests/unit/test_cli.py``, a port
in use in ``test_topology_servers.py``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

from dragonfly._core.fix import market_data
from dragonfly.clients.fix import FixClient

T = 30.0


async def _drain(it) -> None:
    async for _ in it:
        pass


async def test_serves_simulated_pipeline_and_stops_on_sigterm(tmp_path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dragonfly", "fix-server",
        "--instrument-name", "ethbtc,btcusdt", "--simulate", "--seed", "3", "--port", "0", "--customer", "BOT:pw",
        "--store-dir", str(tmp_path), stderr=asyncio.subprocess.PIPE, env=env,
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
        m = re.search(r"serving ETH-BTC, BTC-USDT over FIX on 127\.0\.0\.1:(\d+) as DRAGONFLY to BOT", line)
        assert m, line
        client = FixClient.build(host="127.0.0.1", port=int(m.group(1)), sender_comp_id="BOT",
                                 target_comp_id="DRAGONFLY", password="pw")
        await client.connect()
        # full refresh (265=0): every change is a complete 35=W; the first may be empty while venues connect
        await client.send_message("V", [(262, "c"), (263, 1), (264, 5), (265, 0), (146, 1), (55, "ETH-BTC")])
        it = client.messages().__aiter__()
        while True:
            w = await asyncio.wait_for(it.__anext__(), T)
            assert w.msg_type == "W"
            md = market_data(w)
            if {md.side(i) for i in range(len(md))} == {0, 1}:
                break
        venues = {md.entry_market(i) for i in range(len(md))}
        assert venues <= {"binance", "bitstamp"} and venues
        bids = [md.price(i) for i in range(len(md)) if md.side(i) == 0]
        asks = [md.price(i) for i in range(len(md)) if md.side(i) == 1]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and max(bids) < min(asks)
        gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on_disconnect = lambda c, reason: gone.done() or gone.set_result(reason)
        drain = asyncio.ensure_future(_drain(it))
        proc.send_signal(signal.SIGTERM)
        # the customer is logged out cleanly and the command exits 0
        reason = await asyncio.wait_for(gone, T)
        assert "server shutting down" in reason
        assert await asyncio.wait_for(proc.wait(), T) == 0
        await client.close()
        drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
        await it.aclose()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
