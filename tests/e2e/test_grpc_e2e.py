"""``dragonfly-grpc-server --simulate`` as a subprocess, read by real clients.

Simulated Binance and Bitstamp on 127.0.0.1 -> pipeline -> gRPC server, all
started and stopped by the test; clients: the generated Python stubs, the
``dragonfly-grpc-client`` script, and a Node.js client that loads the proto
files at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import grpc
import pytest
from e2e_helpers import REPO, TIMEOUT, Proc, child_env, command, run_cmd, start_server

from dragonfly.services.grpc.protos import aggregator_pb2_grpc, book_pb2, orderbook_pb2, orderbook_pb2_grpc

VENUES = {"binance", "bitstamp"}
NODE_CLIENT = REPO / "tests" / "e2e" / "node_client"


@pytest.fixture(scope="module")
def server():
    proc, address = start_server("--instrument-name", "ethbtc", "--simulate", "--port", "0", "--seed", "7")
    try:
        yield address
    finally:
        proc.signal(signal.SIGTERM)
        try:
            assert proc.wait() == 0, "".join(proc.err)
        finally:
            proc.kill()


def _check_book(bids, asks, spread) -> None:
    bp = [lv.price for lv in bids]
    ap = [lv.price for lv in asks]
    assert bp == sorted(bp, reverse=True), bp
    assert ap == sorted(ap), ap
    assert spread == ap[0] - bp[0]
    for lv in list(bids) + list(asks):
        assert lv.exchange in VENUES and lv.amount > 0


def _full_books(messages, want: int):
    """The first ``want`` messages with both sides quoted by both venues."""
    out = []
    for msg in messages:
        venues = {lv.exchange for lv in msg.bids} | {lv.exchange for lv in msg.asks}
        if msg.bids and msg.asks and venues == VENUES:
            out.append(msg)
            if len(out) == want:
                break
    return out


def test_python_stub_book_summary(server) -> None:
    with grpc.insecure_channel(server) as ch:
        call = orderbook_pb2_grpc.OrderbookAggregatorStub(ch).BookSummary(orderbook_pb2.Empty(), timeout=TIMEOUT)
        books = _full_books(call, 5)
        call.cancel()
    assert len(books) == 5
    for msg in books:
        _check_book(msg.bids, msg.asks, msg.spread)
        assert len(msg.bids) == len(msg.asks) == 10


def test_python_stub_stream_book(server) -> None:
    with grpc.insecure_channel(server) as ch:
        stub = aggregator_pb2_grpc.AggregatorStub(ch)
        call = stub.StreamBook(book_pb2.BookRequest(instrument="ETH-BTC", depth=5), timeout=TIMEOUT)
        books = _full_books(call, 3)
        call.cancel()
    seqs = [m.seq for m in books]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    for msg in books:
        _check_book(msg.bids, msg.asks, msg.spread)
        assert len(msg.bids) == 5 and msg.instrument == "ETH-BTC"
        assert {h.venue for h in msg.venues} == VENUES
        assert all(h.status == book_pb2.VENUE_STATUS_LIVE for h in msg.venues)
        assert 0 < msg.exchange_ts_ns and 0 < msg.receive_ts_ns <= msg.publish_ts_ns


def test_venue_update_times_follow_the_venues(server) -> None:
    """``venues[].last_update_ns`` moves with each venue's updates (issue 12: it froze at the first one)."""
    times: dict[str, set[int]] = {v: set() for v in VENUES}
    with grpc.insecure_channel(server) as ch:
        call = aggregator_pb2_grpc.AggregatorStub(ch).StreamBook(book_pb2.BookRequest(), timeout=TIMEOUT)
        for msg in _full_books(call, 30):
            for h in msg.venues:
                assert 0 < h.last_update_ns <= msg.publish_ts_ns
                assert msg.publish_ts_ns - h.last_update_ns < 10e9  # within the staleness limit: never frozen
                times[h.venue].add(h.last_update_ns)
        call.cancel()
    assert all(len(t) > 1 for t in times.values()), times


def test_python_stub_venue_subset_and_liquidity(server) -> None:
    with grpc.insecure_channel(server) as ch:
        stub = aggregator_pb2_grpc.AggregatorStub(ch)
        call = stub.StreamBook(book_pb2.BookRequest(venues=["bitstamp"]), timeout=TIMEOUT)
        only = next(m for m in call if m.bids and m.asks)
        call.cancel()
        call = stub.StreamLiquidity(book_pb2.BookRequest(depth=5), timeout=TIMEOUT)
        liq = next(m for m in call if len({p.exchange for lv in m.bids for p in lv.venues}) == 2)
        call.cancel()
    assert {lv.exchange for lv in list(only.bids) + list(only.asks)} == {"bitstamp"}
    assert [h.venue for h in only.venues] == ["bitstamp"]
    _check_book(only.bids, only.asks, only.spread)
    assert liq.instrument == "ETH-BTC" and 0 < len(liq.bids) <= 5 and 0 < len(liq.asks) <= 5
    assert [lv.price for lv in liq.bids] == sorted((lv.price for lv in liq.bids), reverse=True)
    assert [lv.price for lv in liq.asks] == sorted(lv.price for lv in liq.asks)
    for lv in list(liq.bids) + list(liq.asks):
        assert lv.amount == pytest.approx(sum(p.amount for p in lv.venues), rel=1e-12)
        assert {p.exchange for p in lv.venues} <= VENUES and all(p.price == lv.price for p in lv.venues)


def _books_shown(out: str) -> int:
    """Headers followed by levels: the books ``--count`` counts (empty views of syncing venues are shown too)."""
    lines = out.splitlines()
    return sum(
        ln.startswith("ETH-BTC seq=") and i + 1 < len(lines) and lines[i + 1].startswith("  bid ")
        for i, ln in enumerate(lines)
    )


def test_grpc_client_script_prints_a_book(server) -> None:
    rc, out, err = run_cmd("dragonfly-grpc-client", "--address", server, "--count", "40")
    assert rc == 0, err
    assert "Traceback" not in err
    lines = out.splitlines()
    assert _books_shown(out) == 40
    assert any("bid binance" in ln for ln in lines) and any("bitstamp" in ln for ln in lines)
    assert "\x1b[" not in out  # plain lines when not on a terminal


def test_dragonfly_grpc_client_subcommand_legacy(server) -> None:
    rc, out, err = run_cmd("dragonfly", "grpc-client", "--address", server, "--legacy", "--count", "30")
    assert rc == 0, err
    assert any(ln.startswith("  bid ") and " | ask " in ln for ln in out.splitlines())


@pytest.mark.skipif(shutil.which("node") is None and not os.environ.get("CI"), reason="node is not installed")
def test_node_client_reads_the_proto_at_run_time(server) -> None:
    if not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"run: npm ci --prefix {NODE_CLIENT}")
        pytest.skip(f"node modules not installed (npm ci --prefix {NODE_CLIENT})")
    r = subprocess.run(
        [
            "node",
            str(NODE_CLIENT / "client.js"),
            "--address",
            server,
            "--count",
            "20",
            "--proto-dir",
            str(REPO / "proto"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=child_env(),
        check=False,
    )
    assert r.returncode == 0, r.stderr
    msgs = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    legacy = [m for m in msgs if m["service"] == "orderbook"]
    ext = [m for m in msgs if m["service"] == "dragonfly.v1"]
    assert len(legacy) == 20 and len(ext) == 20
    full = [m for m in legacy if m["bids"] and m["asks"]]
    assert full
    for m in full:
        bp = [lv["price"] for lv in m["bids"]]
        ap = [lv["price"] for lv in m["asks"]]
        assert bp == sorted(bp, reverse=True) and ap == sorted(ap)
        assert m["spread"] == ap[0] - bp[0]
        assert {lv["exchange"] for lv in m["bids"] + m["asks"]} <= VENUES
    seqs = [int(m["seq"]) for m in ext]
    assert seqs == sorted(seqs)
    assert {v["venue"] for v in ext[-1]["venues"]} == VENUES


def test_sigterm_ends_streams_cleanly_and_exits_0() -> None:
    proc, address = start_server("--instrument-name", "ETH-BTC", "--simulate", "--port", "0", "--grace", "5")
    try:
        with grpc.insecure_channel(address) as ch:
            call = aggregator_pb2_grpc.AggregatorStub(ch).StreamBook(book_pb2.BookRequest(), timeout=TIMEOUT)
            got = 0
            for _ in call:
                got += 1
                if got == 3:
                    proc.signal(signal.SIGTERM)  # mid-stream
            # the loop ended: the stream closed without an error
            assert call.code() == grpc.StatusCode.OK
        assert got >= 3
        assert proc.wait() == 0
        assert "Traceback" not in "".join(proc.err)
    finally:
        proc.kill()


def test_sigint_stops_the_server_too() -> None:
    proc, _ = start_server("--instrument-name", "ethbtc", "--port", "0", "--venues", "bitstamp", DRAGONFLY_SIMULATE="1")
    try:
        assert "simulated venues bitstamp" in "".join(proc.err)
        proc.signal(signal.SIGINT)
        assert proc.wait() == 0
    finally:
        proc.kill()


def test_token_and_unauthenticated(tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text("abc123\n")
    proc, address = start_server("--instrument-name", "ethbtc", "--simulate", "--port", "0", "--token-file", str(token))
    try:
        rc, _, err = run_cmd("dragonfly-grpc-client", "--address", address, "--count", "1")
        assert rc == 1 and "UNAUTHENTICATED" in err and len(err.strip().splitlines()) == 1
        rc, _, err = run_cmd("dragonfly-grpc-client", "--address", address, "--count", "2", "--token-file", str(token))
        assert rc == 0, err
        rc, _, err = run_cmd(
            "dragonfly-grpc-client", "--address", address, "--count", "2", DRAGONFLY_GRPC_TOKEN="abc123"
        )
        assert rc == 0, err
    finally:
        proc.signal(signal.SIGTERM)
        proc.wait()
        proc.kill()


def test_tls_flags(tmp_path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    proc, address = start_server(
        "--instrument-name", "ethbtc", "--simulate", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)
    )
    try:
        assert "tls=on" in "".join(proc.err)
        rc, out, err = run_cmd("dragonfly-grpc-client", "--address", address, "--count", "2", "--tls-ca", str(cert))
        assert rc == 0, err
        assert out.count("ETH-BTC seq=") == 2
        rc, _, err = run_cmd("dragonfly-grpc-client", "--address", address, "--count", "1", "--connect-timeout", "2")
        assert "cannot reach" in _one_line_error(rc, err)  # plaintext client, TLS server
    finally:
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 0
        proc.kill()


# --------------------------------------------------------------------------- demo
def test_demo_prints_a_book() -> None:
    rc, out, err = run_cmd("dragonfly", "demo", "--count", "30")
    assert rc == 0, err
    lines = out.splitlines()
    assert _books_shown(out) == 30  # books: a view still empty while the venues connect is shown, not counted
    levels = [ln for ln in lines if ln.startswith("  bid ")]
    assert levels and any("binance" in ln for ln in levels) and any("bitstamp" in ln for ln in levels)
    assert "Traceback" not in err


def test_demo_as_python_module() -> None:
    """The README's main-job command runs ``python3 -m dragonfly demo`` (no PATH or shim needed)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dragonfly", "demo", "--count", "3"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert _books_shown(proc.stdout) == 3
    assert "  bid " in proc.stdout and "Traceback" not in proc.stderr


def test_demo_duration_bound() -> None:
    rc, out, err = run_cmd("dragonfly", "demo", "--duration", "2", "--depth", "2", "--sim-venues", "binance")
    assert rc == 0, err
    assert "ETH-BTC seq=" in out and "bitstamp" not in out


def test_demo_runs_until_ctrl_c() -> None:
    proc = Proc([*command("dragonfly"), "demo", "--depth", "3"])
    try:
        proc.wait_line(lambda tag, text: tag == "out" and text.startswith("  bid "), "a book line")
        proc.signal(signal.SIGINT)
        assert proc.wait() == 0
        assert "Traceback" not in "".join(proc.err)
    finally:
        proc.kill()


# --------------------------------------------------------------------------- bad arguments
def _one_line_error(rc: int, err: str) -> str:
    assert rc != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_port_in_use() -> None:
    proc, address = start_server("--instrument-name", "ethbtc", "--simulate", "--port", "0")
    try:
        port = address.rsplit(":", 1)[1]
        rc, _, err = run_cmd("dragonfly-grpc-server", "--instrument-name", "ethbtc", "--simulate", "--port", port)
        line = _one_line_error(rc, err)
        assert "cannot listen" in line and port in line
    finally:
        proc.signal(signal.SIGTERM)
        proc.wait()
        proc.kill()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--address", "127.0.0.1"], "bad address"),
        (["--address", "127.0.0.1:99999"], "bad port"),
        (["--address", "not a host:50051"], "bad host"),
        (["--address", "127.0.0.1:1", "--connect-timeout", "1"], "cannot reach"),
    ],
)
def test_client_bad_address(args, needle) -> None:
    rc, _, err = run_cmd("dragonfly-grpc-client", *args)
    assert needle in _one_line_error(rc, err)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--instrument-name", "ethbtc", "--venues", "binance,nasdaq", "--simulate"], "unknown venue"),
        (["--instrument-name", "notapair", "--simulate"], "instrument"),
        (["--instrument-name", "ethbtc", "--port", "http", "--simulate"], "invalid port"),
        (["--simulate"], "--instrument-name"),
    ],
)
def test_server_bad_arguments(args, needle) -> None:
    rc, _, err = run_cmd("dragonfly-grpc-server", *args)
    assert needle in _one_line_error(rc, err)


def test_fix_server_under_its_three_names() -> None:
    """``dragonfly-fix-server``, ``dragonfly fix-server`` and ``python -m dragonfly fix-server``: one command."""
    names = {
        "dragonfly-fix-server": command("dragonfly-fix-server"),
        "dragonfly fix-server": [*command("dragonfly"), "fix-server"],
        "python -m": [sys.executable, "-m", "dragonfly", "fix-server"],
    }
    helps = set()
    for name, argv in names.items():
        r = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=TIMEOUT, env=child_env(),
                           cwd=REPO, check=False)
        assert r.returncode == 0, (name, r.stderr)
        helps.add(r.stdout[r.stdout.index("options:"):])
        r = subprocess.run([*argv, "--instrument-name", "ethbtc"], capture_output=True, text=True, timeout=TIMEOUT,
                           env=child_env(DRAGONFLY_FIX_CUSTOMERS=""), cwd=REPO, check=False)
        assert r.returncode == 2 and "no customers configured" in _one_line_error(r.returncode, r.stderr), name
    (text,) = helps  # the same options and help everywhere
    assert "--customer COMPID[:PASSWORD]" in text and "--store-dir" in text and "--simulate" in text
