"""Topology files without a network: what ``dragonfly check`` accepts, the graph it prints, and one clear
error (file, line, key, what is wrong; exit status 2) for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dragonfly import cli
from dragonfly.errors import ConfigError, TopologyFileError
from dragonfly.model import BookUpdate
from dragonfly.topology_file import load_topology, parse_topology

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "topologies"

FEEDS = """\
[feeds.binance]
instruments = ["ETH-BTC"]

[feeds.bitstamp]
instruments = ["ethbtc", "BTC-USDT"]
depth = 5
"""

GOOD = FEEDS + """
[aggregators.world]
kind = "bbo"
inputs = ["binance", "bitstamp"]

[aggregators.summed]
kind = "liquidity"
inputs = ["binance", "bitstamp"]
instruments = ["ETH-BTC"]

[services.bots]
kind = "grpc"
bbo = "world"
port = 50051

[services.legacy]
kind = "fix"
bbo = "world"
liquidity = "summed"
customers = ["LEGACY:hunter2", "OTHER"]
port = 9880
"""


def double_sizes(update: BookUpdate) -> BookUpdate:
    """A transformer for the tests: every size doubled."""
    return BookUpdate(update.venue, update.instrument, tuple((p, 2 * q) for p, q in update.bids),
                      tuple((p, 2 * q) for p, q in update.asks), update.status, update.exchange_ts_ns,
                      update.receive_ts_ns, update.reason)


def scale_by(factor: float):
    def scale(update: BookUpdate) -> BookUpdate:
        return BookUpdate(update.venue, update.instrument, tuple((p, factor * q) for p, q in update.bids),
                          tuple((p, factor * q) for p, q in update.asks), update.status)

    return scale


def write(tmp_path: Path, text: str, name: str = "topo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    """The line of the last occurrence of ``needle``."""
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][-1]


def test_good_file_graph_and_nodes(tmp_path, capsys) -> None:
    path = write(tmp_path, GOOD)
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 2 feeds, 0 transformers, 2 aggregators, 2 services" in out
    assert "feed binance [binance: ETH-BTC, depth 10] -> aggregator world, aggregator summed (one connection" in out
    assert "aggregator world [bbo, depth 10; ETH-BTC: binance, bitstamp; BTC-USDT: bitstamp]" in out
    assert "aggregator summed [liquidity, depth 10; ETH-BTC: binance, bitstamp]" in out
    assert "service legacy (266=Y)" in out and "service legacy (266=N)" in out
    assert "customers LEGACY, OTHER" in out and "hunter2" not in out  # passwords are never printed
    topo = load_topology(path)
    assert topo.feeds["bitstamp"].instruments == ("ETH-BTC", "BTC-USDT") and topo.feeds["bitstamp"].spec.depth == 5
    assert topo.aggregators["world"].instruments == ("ETH-BTC", "BTC-USDT")
    assert topo.aggregators["world"].venues == {"ETH-BTC": ("binance", "bitstamp"), "BTC-USDT": ("bitstamp",)}
    assert topo.consumers["binance"] == ("world", "summed")


@pytest.mark.parametrize("name", ["simple.toml", "complex.toml"])
def test_examples_check(name, capsys) -> None:
    assert cli.main(["check", str(EXAMPLES / name)]) == 0
    out = capsys.readouterr().out
    for venue in ("binance", "bitstamp", "fixsim"):
        assert f"feed {venue} [{venue}: ETH-BTC, depth 10]" in out
    if name == "complex.toml":
        assert out.count("(one connection, shared)") == 3
        assert "service legacy (266=N)" in out and "service legacy (266=Y)" in out
        assert "service execution (liquidity)" in out  # the engine plans against aggregator 2
        assert "service legacy [fix; " in out and "orders for execution]" in out
        assert "service execution [execution; every venue of liquidity, orders from bots (grpc), legacy (fix)]" in out
        assert "not runnable" not in out


def test_readme_block_is_the_whole_simple_example() -> None:
    """The README shows simple.toml whole (only its comments differ)."""
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    block = readme.split("The whole of `simple.toml` is this", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    shown = parse_topology(block, path="README.md")
    real = load_topology(EXAMPLES / "simple.toml")
    assert shown.feeds == real.feeds and shown.aggregators == real.aggregators
    assert shown.services["bots"].options == real.services["bots"].options


def test_execution_service_is_built_for_the_services_that_name_it() -> None:
    """The complex example's engine: no server of its own; the FIX and gRPC services take orders for it; the
    file's limits and fees; real venues without --live-orders: plans only, every order refused."""
    runtime = load_topology(EXAMPLES / "complex.toml").build(any_port=True)  # real venues, not started
    assert set(runtime.servers) == {"bots", "legacy"} and set(runtime.engines) == {"execution"}
    engine = runtime.engines["execution"].engine
    fix, grpc = runtime.servers["legacy"], runtime.servers["bots"]
    assert fix.orders is not None and fix.orders.engine is engine  # type: ignore[attr-defined]
    assert grpc.execution is not None and grpc.execution.engine is engine  # type: ignore[attr-defined]
    assert engine.config.limits["LEGACY"].max_qty == 500.0 and engine.config.limits["LEGACY"].max_notional == 50.0
    assert engine.config.default_limits.max_qty == 100.0
    routes = engine.routes["ETHBTC"]
    assert routes["binance"].rules.taker_fee == 0.001 and routes["bitstamp"].rules.taker_fee == 0.003
    # not live: a route for every venue, none of which sends
    assert not engine.config.live and set(routes) == {"binance", "bitstamp", "fixsim"}
    assert {type(r.client).__name__ for r in routes.values()} == {"_NoOrders"}


def test_execution_with_live_orders_needs_credentials(tmp_path, monkeypatch) -> None:
    for var in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BITSTAMP_API_KEY", "BITSTAMP_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    path = write(tmp_path, FEEDS + AGG + """
[services.engine]
kind = "execution"
liquidity = "world"
venues = ["binance"]
credentials = { binance = "env:MYBINANCE" }

[services.s]
kind = "grpc"
bbo = "world"
execution = "engine"
""")
    topo = load_topology(path)
    with pytest.raises(ConfigError, match=r"set MYBINANCE_API_KEY and MYBINANCE_API_SECRET"):
        topo.build(live_orders=True, any_port=True)
    monkeypatch.setenv("MYBINANCE_API_KEY", "k3y-SECRET-1")
    monkeypatch.setenv("MYBINANCE_API_SECRET", "s3cret-SECRET-2")
    runtime = topo.build(live_orders=True, any_port=True)
    engine = runtime.engines["engine"].engine
    assert engine.config.live and set(engine.routes["ETHBTC"]) == {"binance"}  # only the venue named
    client = engine.routes["ETHBTC"]["binance"].client
    assert type(client).__name__ == "OrderClient" and "SECRET" not in repr(client)
    # with --simulate the simulators take the orders; no credential is read
    monkeypatch.delenv("MYBINANCE_API_KEY")
    sim = topo.build(live_orders=True, simulate=True, any_port=True).engines["engine"]
    assert sim.simulated and sim.engine.config.live and sim.engine.routes["ETHBTC"] == {}  # routes at start


def test_execution_live_credentials_from_a_file_or_the_venues_variables(tmp_path, monkeypatch) -> None:
    """A venue without a named source reads <VENUE>_API_KEY/<VENUE>_API_SECRET; file:PATH reads a file only its
    owner can read; no error and no line of ``run`` shows a key."""
    for var in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BITSTAMP_API_KEY", "BITSTAMP_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    keyfile = tmp_path / "bitstamp.key"
    keyfile.write_text("api_key = bs-KEY-7\napi_secret = bs-SECRET-8\n")
    keyfile.chmod(0o644)
    path = write(tmp_path, FEEDS + AGG + f"""
[services.engine]
kind = "execution"
liquidity = "world"
credentials = {{ bitstamp = "file:{keyfile}" }}

[services.s]
kind = "grpc"
bbo = "world"
execution = "engine"
""")
    topo = load_topology(path)
    with pytest.raises(ConfigError, match="readable by others") as err:
        topo.build(live_orders=True, any_port=True)
    assert "bs-SECRET-8" not in str(err.value)
    keyfile.chmod(0o600)
    with pytest.raises(ConfigError, match=r"binance: live orders need credentials: set BINANCE_API_KEY and "
                                          r"BINANCE_API_SECRET") as err:
        topo.build(live_orders=True, any_port=True)
    monkeypatch.setenv("BINANCE_API_KEY", "bn-KEY-5")
    monkeypatch.setenv("BINANCE_API_SECRET", "bn-SECRET-6")
    engine = topo.build(live_orders=True, any_port=True).engines["engine"].engine
    routes = engine.routes["ETHBTC"]
    assert engine.config.live and set(routes) == {"binance", "bitstamp"}
    assert (routes["bitstamp"].client._creds.api_key, routes["binance"].client._creds.api_key) == (
        "bs-KEY-7", "bn-KEY-5")
    # without --live-orders nothing is read and nothing is sent: planning only
    monkeypatch.delenv("BINANCE_API_SECRET")
    planning = topo.build(any_port=True).engines["engine"].engine
    assert not planning.config.live and {type(r.client).__name__ for r in planning.routes["ETHBTC"].values()} == {
        "_NoOrders"}


def test_run_live_orders_without_credentials_exits_2_before_connecting(monkeypatch, capsys) -> None:
    """``dragonfly run complex.toml --live-orders`` against the real venues: a venue without credentials stops it
    before anything listens or connects: one line naming the file, the key and the variables, never a value."""
    for var in ("BITSTAMP_API_KEY", "BITSTAMP_API_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BINANCE_API_KEY", "bn-KEY-5")
    monkeypatch.setenv("BINANCE_API_SECRET", "bn-SECRET-6")
    path = EXAMPLES / "complex.toml"
    assert cli.main(["run", str(path), "--live-orders", "--any-port"]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert out.out == "" and lines == [f"dragonfly run: error: {path}: services.execution.credentials: bitstamp: live "
                                       "orders need credentials: set BITSTAMP_API_KEY and BITSTAMP_API_SECRET, or "
                                       "name them (env:PREFIX or file:PATH)"]


def test_transformers_are_imported_and_chained(tmp_path, capsys) -> None:
    text = FEEDS + f"""
[transformers.doubled]
input = "binance"
function = "{__name__}:double_sizes"

[transformers.halved]
input = "doubled"
function = "{__name__}:scale_by"
options = {{ factor = 0.5 }}

[aggregators.world]
kind = "bbo"
inputs = ["halved", "bitstamp"]
"""
    topo = parse_topology(text, path="t.toml")
    assert topo.consumers == {"binance": ("doubled",), "bitstamp": ("world",), "doubled": ("halved",),
                              "halved": ("world",)}
    up = BookUpdate("binance", "ETH-BTC", ((1.0, 3.0),), ((2.0, 5.0),))
    twice = topo.transformers["halved"].fn(topo.transformers["doubled"].fn(up))
    assert twice is not None and twice.bids == ((1.0, 3.0),) and twice.asks == ((2.0, 5.0),)
    assert topo.aggregators["world"].venues["ETH-BTC"] == ("binance", "bitstamp")
    assert "transformer halved [" in topo.graph()


# -- one clear error per bad file --------------------------------------------------------------------------------


AGG = """
[aggregators.world]
kind = "bbo"
inputs = ["binance", "bitstamp"]
"""

EXEC = """
[services.engine]
kind = "execution"
liquidity = "world"
"""

TAKER = """
[services.s]
kind = "fix"
bbo = "world"
execution = "engine"
"""

BAD = [
    pytest.param(
        FEEDS.replace("[feeds.bitstamp]", "[feeds.bitstamp]\nvenue = \"bitstamp-pro\"") + AGG,
        'venue = "bitstamp-pro"', "feeds.bitstamp.venue", "unknown venue 'bitstamp-pro'", id="unknown-venue"),
    pytest.param(
        FEEDS.replace("[feeds.binance]", '[feeds.main]\nvenue = "binance"') + AGG.replace('"binance"', '"main"')
        + '\n[aggregators.other]\nkind = "bbo"\ninputs = ["binance"]\n',
        'inputs = ["binance"]', "aggregators.other.inputs[0]", "'binance' names no feed or transformer",
        id="input-names-nothing"),
    pytest.param(
        FEEDS + AGG + '\n[aggregators.bad]\nkind = "bbo"\ninputs = ["world"]\n',
        'inputs = ["world"]', "aggregators.bad.inputs[0]", "'world' is an aggregator, not a feed or transformer",
        id="input-names-an-aggregator"),
    pytest.param(
        FEEDS + AGG.replace('"bitstamp"]', '"bitstamp", "t1"]')
        + f'\n[transformers.t1]\ninput = "t2"\nfunction = "{__name__}:double_sizes"\n'
        + f'\n[transformers.t2]\ninput = "t1"\nfunction = "{__name__}:double_sizes"\n',
        'input = "t2"', "transformers.t1.input", "cycle: t1 -> t2 -> t1", id="cycle"),
    pytest.param(
        FEEDS + AGG + '\n[services.a]\nkind = "grpc"\nbbo = "world"\nport = 9000\n'
        + '\n[services.b]\nkind = "fix"\nbbo = "world"\nport = 9000\n',
        "port = 9000", "services.b.port", "port 9000 is also the port of services.a", id="port-used-twice"),
    pytest.param(
        FEEDS + AGG + '\n[services.a]\nkind = "grpc"\nbbo = "world"\nport = 1\n'
        + '\n[services.b]\nkind = "fix"\nbbo = "world"\nport = 9000\n'
        + '\n[services.c]\nkind = "grpc"\nbbo = "world"\nport = 9000\n',
        "port = 9000", "services.c.port", "port 9000 is also the port of services.b", id="port-used-twice-later"),
    pytest.param(FEEDS + AGG.replace('kind = "bbo"', 'kind = "bbo'), 'kind = "bbo', "",
                 "not valid TOML: Illegal character", id="toml-syntax"),
    pytest.param(FEEDS + AGG.replace('kind = "bbo"', 'kind = "bbo"\ndepht = 5'), "depht = 5",
                 "aggregators.world.depht", "unknown key; aggregators.world takes kind, inputs", id="unknown-key"),
    pytest.param(FEEDS + AGG.replace('kind = "bbo"', 'kind = "vwap"'), 'kind = "vwap"', "aggregators.world.kind",
                 "unknown kind 'vwap'; one of bbo, liquidity", id="unknown-aggregator-kind"),
    pytest.param(FEEDS + AGG + '\n[services.s]\nkind = "rest"\n', 'kind = "rest"', "services.s.kind",
                 "unknown kind 'rest'; one of grpc, fix, execution", id="unknown-service-kind"),
    pytest.param(FEEDS + AGG.replace('kind = "bbo"', 'kind = "liquidity"') + '\n[services.s]\nkind = "grpc"\n'
                 'bbo = "world"\n', 'bbo = "world"', "services.s.bbo",
                 "'world' is a liquidity aggregator; bbo needs a bbo aggregator", id="wrong-aggregator-kind"),
    pytest.param(FEEDS + AGG + '\n[services.s]\nkind = "fix"\nbbo = "world"\nexecution = "nobody"\n',
                 'execution = "nobody"', "services.s.execution", "'nobody' names no service",
                 id="execution-names-nothing"),
    pytest.param(FEEDS + AGG.replace('inputs = ["binance", "bitstamp"]', 'inputs = ["binance"]'), "[feeds.bitstamp]",
                 "feeds.bitstamp", "feeds nothing", id="feed-unused"),
    pytest.param(FEEDS + AGG + '\n[aggregators.two]\nkind = "bbo"\ninputs = ["bitstamp", "again"]\n'
                 '\n[feeds.again]\nvenue = "bitstamp"\ninstruments = ["ETH-BTC"]\n',
                 'inputs = ["bitstamp", "again"]', "aggregators.two.inputs", "venue bitstamp reaches it twice for "
                 "ETH-BTC", id="venue-twice"),
    pytest.param(FEEDS.replace('["ETH-BTC"]', '["ETH-BTC", "NOTAPAIR"]') + AGG, 'instruments = ["ETH-BTC", "NOTAPAIR"]',
                 "feeds.binance.instruments[1]", "NOTAPAIR", id="bad-instrument"),
    pytest.param(FEEDS.replace("depth = 5", "depth = 5000") + AGG, "depth = 5000", "feeds.bitstamp.depth",
                 "must be within 1..", id="depth"),
    pytest.param(FEEDS + AGG + '\n[aggregators.w2]\nkind = "bbo"\ninputs = "binance"\ninstruments = ["LTC-BTC"]\n',
                 'instruments = ["LTC-BTC"]', "aggregators.w2.instruments[0]", "no input carries LTC-BTC",
                 id="instrument-not-carried"),
    pytest.param(FEEDS + AGG.replace('kind = "bbo"', "kind = 3"), "kind = 3", "aggregators.world.kind",
                 "must be a string, got int 3", id="wrong-type"),
    pytest.param(FEEDS + AGG + "\n[services.s]\nkind = \"fix\"\nport = 9000\n", "[services.s]", "services.s",
                 "a fix service needs 'bbo' or 'liquidity'", id="fix-serves-nothing"),
    pytest.param(FEEDS + AGG + '\n[transformers.t]\ninput = "binance"\nfunction = "no.such.module:fn"\n',
                 'function = "no.such.module:fn"', "transformers.t.function", "cannot import no.such.module:fn",
                 id="transformer-not-importable"),
    pytest.param(FEEDS + AGG + EXEC, "[services.engine]", "services.engine",
                 "takes no orders: no fix or grpc service names it in its 'execution' key", id="execution-unused"),
    pytest.param(FEEDS + AGG + EXEC.replace('liquidity = "world"', 'liquidity = "world"\nfees = { kraken = 0.001 }')
                 + TAKER, "fees = { kraken", "services.engine.fees", "'kraken' is not a venue of aggregator world",
                 id="execution-fee-venue"),
    pytest.param(FEEDS + AGG + EXEC.replace('liquidity = "world"', 'liquidity = "world"\nfees = { binance = 1.5 }')
                 + TAKER, "fees = { binance", "services.engine.fees", "binance: a taker fee is a rate in 0..0.1",
                 id="execution-fee-rate"),
    pytest.param(FEEDS + AGG + EXEC.replace('liquidity = "world"',
                                            'liquidity = "world"\nlimits = { BOT = { max_qtty = 1 } }') + TAKER,
                 "limits = {", "services.engine.limits", "BOT: unknown key 'max_qtty'", id="execution-limit-key"),
    pytest.param(FEEDS + AGG + EXEC.replace('liquidity = "world"',
                                            'liquidity = "world"\ncredentials = { binance = "AKIAXYZ123" }') + TAKER,
                 "credentials = {", "services.engine.credentials",
                 'binance: must be "env:PREFIX" or "file:PATH"', id="execution-credentials-literal"),
    pytest.param(FEEDS + AGG + EXEC.replace('liquidity = "world"', 'liquidity = "world"\nvenues = ["okx"]') + TAKER,
                 'venues = ["okx"]', "services.engine.venues", "'okx' is not a venue of aggregator world",
                 id="execution-venue"),
    pytest.param(FEEDS + "\n[pipelines.x]\n", "", "pipelines",
                 "unknown key; the file takes feeds, transformers, aggregators, services", id="unknown-section"),
]


@pytest.mark.parametrize(("text", "needle", "key", "reason"), BAD)
def test_bad_file_one_clear_error_exit_2(tmp_path, capsys, text, needle, key, reason) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TopologyFileError) as info:
        load_topology(path)
    err = info.value
    assert isinstance(err, ConfigError) and err.path == str(path) and err.key == key
    assert reason in err.reason, err
    if needle:
        assert err.line == line_of(text, needle), err
    assert cli.main(["check", str(path)]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert out.out == "" and len(lines) == 1, out
    assert "AKIAXYZ123" not in lines[0]  # a key pasted where its source belongs is never echoed
    where = f"{path}:{err.line}" if err.line else str(path)
    assert lines[0] == f"dragonfly check: error: {where}: {key + ': ' if key else ''}{err.reason}"


def test_unreadable_file_exit_2(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.toml"
    assert cli.main(["check", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"dragonfly check: error: {missing}: cannot read it: No such file or " \
                                               "directory"
    assert cli.main(["run", str(missing)]) == 2


def test_run_without_services_or_customers_exit_2(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("DRAGONFLY_FIX_CUSTOMERS", raising=False)
    path = write(tmp_path, FEEDS + AGG)
    assert cli.main(["run", str(path), "--simulate"]) == 2
    assert "services: nothing to serve" in capsys.readouterr().err
    path = write(tmp_path, FEEDS + AGG + '\n[services.s]\nkind = "fix"\nbbo = "world"\n', "nocust.toml")
    assert cli.main(["run", str(path), "--simulate", "--any-port"]) == 2
    assert "services.s.customers: no FIX customers" in capsys.readouterr().err
