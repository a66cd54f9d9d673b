"""Command-line parsing and errors, in process (nothing here opens a socket)."""

from __future__ import annotations

import pytest

from dragonfly import cli


def _one_line(capsys, rc: int) -> str:
    err = capsys.readouterr().err
    assert rc != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _exit_code(fn, argv) -> int:
    try:
        return fn(argv)
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--instrument-name", "ethbtc", "--venues", "binance,nasdaq"], "unknown venue 'nasdaq'"),
        (["--instrument-name", "ethbtc", "--venues", "binance,binance"], "twice"),
        (["--instrument-name", "ethbtc", "--venues", ","], "--venues is empty"),
        (["--instrument-name", "zzz"], "instrument"),
        (["--instrument-name", "ethbtc", "--depth", "0"], "--depth"),
        (["--instrument-name", "ethbtc", "--depth", "500"], "--depth 500"),
        (["--instrument-name", "ethbtc", "--port", "65536"], "invalid port"),
        (["--instrument-name", "ethbtc", "--tls-cert", "x.pem"], "--tls-cert and --tls-key"),
        (["--instrument-name", "ethbtc", "--token-file", "/nonexistent/token"], "cannot read token file"),
        (["--instrument-name", "ethbtc", "--bogus"], "unrecognized arguments"),
        ([], "--instrument-name"),
    ],
)
def test_server_bad_arguments(capsys, argv, needle) -> None:
    line = _one_line(capsys, _exit_code(cli.grpc_server_main, argv))
    assert line.startswith("dragonfly-grpc-server: error: ")
    assert needle in line


def test_bad_simulate_env(capsys, monkeypatch) -> None:
    monkeypatch.setenv("DRAGONFLY_SIMULATE", "perhaps")
    line = _one_line(capsys, _exit_code(cli.grpc_server_main, ["--instrument-name", "ethbtc"]))
    assert "DRAGONFLY_SIMULATE" in line


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--address", "nohostport"], "bad address"),
        (["--address", "h:0"], "bad port"),
        (["--count", "0"], "positive integer"),
        (["--duration", "-1"], "positive number"),
        (["--connect-timeout", "x"], "number of seconds"),
    ],
)
def test_client_bad_arguments(capsys, argv, needle) -> None:
    line = _one_line(capsys, _exit_code(cli.grpc_client_main, argv))
    assert line.startswith("dragonfly-grpc-client: error: ") and needle in line


def test_demo_bad_arguments(capsys) -> None:
    line = _one_line(capsys, _exit_code(cli.main, ["demo", "--sim-venues", "mtgox"]))
    assert line.startswith("dragonfly demo: error: ") and "unknown venue" in line


def test_dragonfly_dispatch(capsys) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("demo", "grpc-server", "grpc-client", "fix-server"))
    line = _one_line(capsys, cli.main(["launch"]))
    assert "unknown command 'launch'" in line
    assert cli.main([]) == 2
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dragonfly ")


FIX_SERVER_OPTIONS = ("--instrument-name", "--venues", "--host", "--port", "--depth", "--comp-id", "--customer",
                      "--store-dir", "--simulate", "--seed", "--tls-cert", "--tls-key", "--log-level")


def test_fix_server_help_is_the_same_under_every_name(capsys) -> None:
    helps = {}
    for name, entry, argv in (("dragonfly-fix-server", cli.fix_server_main, ["--help"]),
                              ("dragonfly fix-server", cli.main, ["fix-server", "--help"])):
        assert _exit_code(entry, argv) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: {name} ")
        helps[name] = out.replace(name, "PROG")
    assert helps["dragonfly-fix-server"] == helps["dragonfly fix-server"]
    text = helps["dragonfly-fix-server"]
    assert all(opt in text for opt in FIX_SERVER_OPTIONS), text
    assert "FIX 4.4" in text and "default 9880" in text


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--customer", "A"], "--instrument-name"),
        (["--instrument-name", "ethbtc"], "no customers configured"),
        (["--instrument-name", "ethbtc", "--customer", ":pw"], "bad --customer ':pw'"),
        (["--instrument-name", "ethbtc", "--customer", "A", "--tls-cert", "x.pem"], "--tls-cert and --tls-key"),
        (["--instrument-name", "ethbtc", "--customer", "A", "--venues", "nowhere"], "unknown venue 'nowhere'"),
        (["--instrument-name", "zzz", "--customer", "A"], "instrument"),
        (["--instrument-name", "ethbtc", "--customer", "A", "--depth", "500"], "--depth 500"),
        (["--instrument-name", "ethbtc", "--customer", "A", "--port", "70000"], "invalid port"),
        (["--instrument-name", "ethbtc", "--customer", "A", "--comp-id", "A\x01B"], "comp_id"),
    ],
)
def test_fix_server_bad_arguments(capsys, monkeypatch, argv, needle) -> None:
    monkeypatch.delenv("DRAGONFLY_FIX_CUSTOMERS", raising=False)
    monkeypatch.delenv("DRAGONFLY_SIMULATE", raising=False)
    line = _one_line(capsys, _exit_code(cli.fix_server_main, argv))
    assert line.startswith("dragonfly-fix-server: error: ") and needle in line
    line = _one_line(capsys, _exit_code(cli.main, ["fix-server", *argv]))
    assert line.startswith("dragonfly fix-server: error: ") and needle in line


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--instrument-name", "ethbtc", "--fix-customer", "BOT:pw"], "need --fix-port"),
        (["--instrument-name", "ethbtc", "--fix-store-dir", "/tmp/x"], "need --fix-port"),
        (["--instrument-name", "ethbtc", "--fix-comp-id", "ME"], "need --fix-port"),
        (["--instrument-name", "ethbtc", "--fix-port", "0"], "at least one --fix-customer"),
        (["--instrument-name", "ethbtc", "--fix-port", "0", "--fix-customer", ":pw"], "bad --fix-customer"),
        (["--instrument-name", "ethbtc", "--fix-port", "x", "--fix-customer", "BOT"], "invalid port"),
        (["--instrument-name", "ethbtc", "--fix-port", "70000", "--fix-customer", "BOT"], "invalid port"),
        (["--instrument-name", "ethbtc", "--fix-port", "0", "--fix-customer", "BOT", "--fix-comp-id", "A\x01B"],
         "comp_id"),
    ],
)
def test_server_bad_fix_arguments(capsys, monkeypatch, argv, needle) -> None:
    monkeypatch.delenv("DRAGONFLY_FIX_CUSTOMERS", raising=False)
    monkeypatch.delenv("DRAGONFLY_SIMULATE", raising=False)
    line = _one_line(capsys, _exit_code(cli.grpc_server_main, argv))
    assert line.startswith("dragonfly-grpc-server: error: ")
    assert needle in line


def test_server_fix_customers_from_env(monkeypatch) -> None:
    monkeypatch.setenv("DRAGONFLY_FIX_CUSTOMERS", "A:pw, B")
    args = cli._server_parser("x").parse_args(["--instrument-name", "ethbtc", "--fix-port", "0", "--fix-customer", "C"])
    cfg = cli._fix_config(args, 10)
    assert dict(cfg.customers) == {"C": None, "A": "pw", "B": None}
    assert cfg.port == 0 and cfg.host == "127.0.0.1" and cfg.max_depth == 10 and cfg.comp_id == "DRAGONFLY"
    args = cli._server_parser("x").parse_args(["--instrument-name", "ethbtc"])
    assert cli._fix_config(args, 10) is None  # no --fix-port: no FIX server


# -- issue 12: small things a new user tripped on ---------------------------------------------------


# (bounded by --duration / an unreachable address in case --depth 0 were taken)
@pytest.mark.parametrize(
    "entry, argv",
    [
        (cli.grpc_client_main, ["--address", "127.0.0.1:1", "--connect-timeout", "0.2"]),
        (cli.main, ["demo", "--duration", "0.5"]),
    ],
)
def test_depth_zero_is_refused(capsys, entry, argv) -> None:
    line = _one_line(capsys, _exit_code(entry, [*argv, "--depth", "0"]))
    assert "--depth" in line and "positive integer" in line


def _all_parsers() -> dict[str, object]:
    """Every command's parser, built as its entry point builds it."""
    return {
        "dragonfly-grpc-server": cli._server_parser("dragonfly-grpc-server"),
        "dragonfly-grpc-client": cli._client_parser("dragonfly-grpc-client"),
        "dragonfly demo": cli._demo_parser("dragonfly demo"),
        "dragonfly-fix-server": cli._fix_parser("dragonfly-fix-server"),
        "dragonfly check": cli._check_parser("dragonfly check"),
        "dragonfly run": cli._run_parser("dragonfly run"),
        "dragonfly worker": cli._worker_parser("dragonfly worker"),
    }


def test_every_option_of_every_command_has_help_text() -> None:
    import argparse

    assert set(_all_parsers()) >= {"dragonfly-grpc-server", "dragonfly-grpc-client", "dragonfly-fix-server"}
    assert {name.removeprefix("dragonfly ").removeprefix("dragonfly-") for name in _all_parsers()} == set(
        cli._COMMANDS
    ), "a command was added: list its parser here"
    missing = []
    for name, parser in _all_parsers().items():
        assert isinstance(parser, argparse.ArgumentParser)
        for action in parser._actions:
            if not (action.help and action.help.strip()) or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help text: {missing}"


def test_server_token_file_lists_one_token_per_caller(tmp_path, monkeypatch) -> None:
    f = tmp_path / "tokens"
    f.write_text("# bots\nalpha-1\n\n  beta-2  \n")
    assert cli._read_tokens(str(f)) == ("alpha-1", "beta-2")
    monkeypatch.setenv("DRAGONFLY_GRPC_TOKEN", "env-3")
    assert cli._read_tokens(None) == ("env-3",)
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(cli.UsageError, match="is empty"):
        cli._read_tokens(str(tmp_path / "empty"))


def test_server_limit_options() -> None:
    p = cli._server_parser("dragonfly-grpc-server")
    args = p.parse_args(["--instrument-name", "ethbtc"])
    assert (args.max_streams, args.max_streams_per_peer, args.max_streams_per_token, args.stall_timeout) == (
        1024, 64, None, 30.0)
    args = p.parse_args(["--instrument-name", "ethbtc", "--max-streams-per-peer", "0", "--max-streams-per-token", "8",
                         "--stall-timeout", "off", "--max-streams", "10"])
    assert (args.max_streams, args.max_streams_per_peer, args.max_streams_per_token, args.stall_timeout) == (
        10, None, 8, None)


@pytest.mark.parametrize(
    "argv", [["--max-streams-per-peer", "-1"], ["--stall-timeout", "soon"], ["--max-streams", "0"]]
)
def test_server_bad_limit_options(capsys, argv) -> None:
    line = _one_line(capsys, _exit_code(cli.grpc_server_main, ["--instrument-name", "ethbtc", *argv]))
    assert line.startswith("dragonfly-grpc-server: error: ") and argv[0] in line


@pytest.mark.parametrize("entry, base", [
    (cli.grpc_server_main, ["--instrument-name", "ethbtc"]),
    (cli.fix_server_main, ["--instrument-name", "ethbtc", "--customer", "T"]),
])
@pytest.mark.parametrize("extra, needle", [
    (["--live-orders"], "--live-orders: only with --execution"),
    (["--credentials", "binance=env:BN", "--max-order-qty", "3"], "--credentials, --max-order-qty: only with "
                                                                  "--execution"),
    (["--execution", "--credentials", "binance=AKIAKEY99"], "--credentials binance=...: expected VENUE=env:PREFIX"),
    (["--execution", "--credentials", "kraken=env:KR"], "--credentials kraken: not one of --venues"),
    (["--execution", "--max-order-qty", "0"], "--max-order-qty"),
])
def test_execution_options_are_checked_before_anything_starts(capsys, entry, base, extra, needle) -> None:
    """Order entry on the server commands: a bad option is one line and exit 2, before anything listens; a key
    pasted where its source belongs is never echoed."""
    line = _one_line(capsys, _exit_code(entry, [*base, "--venues", "binance,bitstamp", *extra]))
    assert needle in line and "AKIAKEY99" not in line


def test_execution_options_build_the_engine_config() -> None:
    p = cli._server_parser("dragonfly-grpc-server")
    args = p.parse_args(["--instrument-name", "ethbtc", "--execution", "--credentials", "binance=file:/k",
                         "--max-order-notional", "2.5"])
    orders = cli._Orders.from_args(args, ("binance", "bitstamp"))
    assert orders is not None and not orders.live_orders
    assert orders.credentials == {"binance": "file:/k"}
    assert orders.max_qty == float("inf") and orders.max_notional == 2.5
    assert cli._Orders.from_args(p.parse_args(["--instrument-name", "ethbtc"]), ("binance",)) is None


def test_execution_against_real_venues_plans_only_without_live_orders(monkeypatch) -> None:
    """No simulator and no --live-orders: the engine plans, sends nothing, and the banner says so; with
    --live-orders, the venues' credentials are needed (named, never shown)."""
    from dragonfly.errors import CredentialsError
    from dragonfly.topology import Pipeline, PipelineConfig

    for var in ("BINANCE_API_KEY", "BINANCE_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    pipe = Pipeline(PipelineConfig(instrument="ETH-BTC", venues=("binance",)))  # not started: no connection
    p = cli._server_parser("dragonfly-grpc-server")
    orders = cli._Orders.from_args(p.parse_args(["--instrument-name", "ethbtc", "--execution"]), ("binance",))
    assert orders is not None
    engine = orders.engine([pipe], order_urls={})
    assert not engine.config.live and cli._Orders.mode(engine, False) == "planning only (no --live-orders)"
    live = cli._Orders.from_args(p.parse_args(["--instrument-name", "ethbtc", "--execution", "--live-orders"]),
                                 ("binance",))
    assert live is not None
    with pytest.raises(CredentialsError, match="set BINANCE_API_KEY and BINANCE_API_SECRET"):
        live.engine([pipe], order_urls={})
    monkeypatch.setenv("BINANCE_API_KEY", "bn-KEY")
    monkeypatch.setenv("BINANCE_API_SECRET", "bn-SECRET")
    engine = live.engine([pipe], order_urls={})
    assert engine.config.live and cli._Orders.mode(engine, True) == "orders to binance"
