"""Topology files without a network: what ``dragonfly check`` accepts, the graph it prints, and one clear
error (file, line, key, what is wrong; exit status 2) for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dragonfly import cli
from dragonfly.errors import ConfigError, TopologyFileError
from dragonfly.model import BookUpdate
from dragonfly.topology_file import SERVICE_KINDS, load_topology, parse_topology

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


def test_readme_block_is_the_whole_simple_example() -> None:
    """The README shows simple.toml whole (only its comments differ)."""
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    block = readme.split("The whole of `simple.toml` is this", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    shown = parse_topology(block, path="README.md")
    real = load_topology(EXAMPLES / "simple.toml")
    assert shown.feeds == real.feeds and shown.aggregators == real.aggregators
    assert shown.services["bots"].options == real.services["bots"].options


def _uncommented_execution() -> str:
    text = (EXAMPLES / "complex.toml").read_text()
    text = text.replace('# execution = "execution"', 'execution = "execution"')
    for line in ("[services.execution]", 'kind = "execution"', 'liquidity = "liquidity"'):
        text = text.replace(f"# {line}\n", f"{line}\n")
    assert "\n[services.execution]\n" in text and '\nexecution = "execution"' in text
    return text


def test_execution_service_checks_and_run_refuses_it(tmp_path, capsys) -> None:
    text = _uncommented_execution()
    path = write(tmp_path, text, "complex.toml")
    assert cli.main(["check", str(path)]) == 0
    assert "service execution [execution] (not runnable yet)" in capsys.readouterr().out
    # run refuses it before anything listens or connects: one line, the file, the line and the key
    assert cli.main(["run", str(path), "--simulate", "--any-port"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"dragonfly run: error: {path}:{line_of(text, '[services.execution]')}: "
                             "services.execution.kind: this version of dragonfly has no execution engine yet")
    assert SERVICE_KINDS["execution"].build is None  # the engine plugs in by giving this entry a build


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
