"""``dragonfly.services.fix_server.main`` (the ``dragonfly-fix-server`` command) end to end."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import pytest

from dragonfly._core.fix import market_data
from dragonfly.clients.fix import FixClient
from dragonfly.services.fix_server import main

T = 30.0


@pytest.mark.parametrize("argv", [
    ["--instrument-name", "ethbtc"],  # no customer
    ["--instrument-name", "ethbtc", "--customer", ":pw"],
    ["--instrument-name", "ethbtc", "--customer", "A", "--tls-cert", "x.pem"],
    ["--instrument-name", "ethbtc", "--customer", "A", "--venues", "nowhere"],
    ["--customer", "A"],  # no instrument
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys, monkeypatch) -> None:
    monkeypatch.delenv("DRAGONFLY_FIX_CUSTOMERS", raising=False)
    with pytest.raises(SystemExit) if "--instrument-name" not in argv else _nothing():
        rc = main(argv)
        assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0]


async def _drain(it) -> None:
    async for _ in it:
        pass


def test_port_in_use_exits_2(capsys, monkeypatch) -> None:
    import socket

    monkeypatch.delenv("DRAGONFLY_SIMULATE", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc = main(["--instrument-name", "ethbtc", "--customer", "A", "--port", str(port)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot listen on 127.0.0.1:" in err[0]


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


async def test_serves_simulated_pipeline_and_stops_on_sigterm(tmp_path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from dragonfly.services.fix_server import main; sys.exit(main())",
        "--instrument-name", "ethbtc", "--simulate", "--seed", "3", "--port", "0", "--customer", "BOT:pw",
        "--store-dir", str(tmp_path), stderr=asyncio.subprocess.PIPE, env=env,
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), T)).decode()
        m = re.search(r"on 127\.0\.0\.1:(\d+)", line)
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
