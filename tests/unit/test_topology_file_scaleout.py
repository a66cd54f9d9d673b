"""The ``[scaleout]`` table of topology files, without a network: what ``dragonfly check`` accepts and prints,
and one clear error (file, line, key, what is wrong; exit status 2) for each bad table and for each feed shape a
worker process cannot run as written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dragonfly import cli
from dragonfly.errors import ConfigError, TopologyFileError
from dragonfly.topology import ScaleOut
from dragonfly.topology_file import ScaleOutNode, load_topology, parse_topology

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the conditional dependency
    import tomli as tomllib

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "topologies"

BASE = """\
[feeds.binance]
instruments = ["ETH-BTC", "BTC-USDT"]

[feeds.bitstamp]
instruments = ["ethbtc"]

[aggregators.world]
kind = "bbo"
inputs = ["binance", "bitstamp"]

[aggregators.summed]
kind = "liquidity"
inputs = ["binance", "bitstamp"]
"""


def write(tmp_path: Path, text: str, name: str = "topo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][-1]


# -- good tables -------------------------------------------------------------------------------------------------


def test_local_workers_graph_and_node(tmp_path, capsys) -> None:
    text = BASE + '\n[scaleout]\nworkers = 2\nbus = "local"\nrates = { binance = 20, bitstamp = 2.5 }\n'
    path = write(tmp_path, text)
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("scaleout [2 worker processes, bus local; 3 books (venue x instrument) from 2 feeds, depth 10; "
            "rates binance 20/s, bitstamp 2.5/s]") in out
    node = load_topology(path).scaleout
    assert isinstance(node, ScaleOutNode)
    assert node.workers == 2 and node.bus == "local" and node.rates == {"binance": 20.0, "bitstamp": 2.5}
    assert node.routes == {("binance", "ETH-BTC"): "binance", ("binance", "BTC-USDT"): "binance",
                           ("bitstamp", "ETH-BTC"): "bitstamp"}
    assert node.views is None  # the local bus carries no views
    assert node.depth == 10 and node.keepalive_s == 1.0


def test_no_table_no_scaleout() -> None:
    topo = parse_topology(BASE, path="t.toml")
    assert topo.scaleout is None and "scaleout" not in topo.graph()


def test_nats_defaults_and_credentials_never_printed(tmp_path, capsys) -> None:
    if importlib.util.find_spec("nats") is None:
        pytest.skip("nats-py is not installed")  # the next test covers the error without it
    text = BASE + '\n[scaleout]\nbus = "nats://bob:hunter2@127.0.0.1:4222"\n'
    topo = parse_topology(text, path="t.toml")
    node = topo.scaleout
    assert node is not None and node.workers == 0 and node.views == "world"  # the first bbo aggregator
    graph = topo.graph()
    assert "scaleout [workers started elsewhere (dragonfly worker --bus ...), bus nats://***@127.0.0.1:4222" in graph
    assert "views of world on dragonfly.view.<instrument>" in graph and "hunter2" not in graph
    explicit = parse_topology(BASE + '\n[scaleout]\nworkers = 1\nbus = "nats://h:1,nats://g:2"\nviews = "world"\n',
                              path="t.toml")
    assert explicit.scaleout is not None and explicit.scaleout.views == "world" and explicit.scaleout.workers == 1
    bad = BASE + '\n[scaleout]\nbus = "nats://bob:hunter2@"\n'
    with pytest.raises(TopologyFileError) as info:
        parse_topology(bad, path="t.toml")
    assert "bad NATS URL" in str(info.value) and "hunter2" not in str(info.value)


def test_nats_without_nats_py_is_refused(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nats" else real(name, *a))
    text = BASE + '\n[scaleout]\nworkers = 2\nbus = "nats://127.0.0.1:4222"\n'
    with pytest.raises(TopologyFileError) as info:
        parse_topology(text, path="t.toml")
    assert info.value.key == "scaleout.bus" and "needs nats-py" in info.value.reason
    assert info.value.line == line_of(text, 'bus = "nats://')


def test_scaleout_example_checks(capsys) -> None:
    assert cli.main(["check", str(EXAMPLES / "scaleout.toml")]) == 0
    out = capsys.readouterr().out
    assert "scaleout [2 worker processes, bus local; 4 books (venue x instrument) from 3 feeds, depth 10" in out


def test_readme_shows_the_example_table() -> None:
    """The README's [scaleout] block is the example's table (only its comments differ)."""
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    block = readme.split("**Scale-out in a file.**", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    example = tomllib.loads((EXAMPLES / "scaleout.toml").read_text())
    assert tomllib.loads(block) == {"scaleout": example["scaleout"]}


def test_scaleout_runs_only_the_keys_it_is_given() -> None:
    """A topology file's feeds are not every venue for every instrument: ScaleOut takes them as they are."""
    keys = [("binance", "ethbtc"), ("binance", "BTC-USDT"), ("bitstamp", "ETH-BTC")]
    s = ScaleOut(instruments=("ETH-BTC", "BTC-USDT"), venues=("binance", "bitstamp"), workers=2, keys=keys)
    assert s.keys == [("binance", "ETH-BTC"), ("binance", "BTC-USDT"), ("bitstamp", "ETH-BTC")]
    every = ScaleOut(instruments=("ETH-BTC", "BTC-USDT"), venues=("binance", "bitstamp"), workers=2)
    assert ("bitstamp", "BTC-USDT") in every.keys and len(every.keys) == 4


# -- one clear error per bad table or feed shape ----------------------------------------------------------------


def so(body: str) -> str:
    return BASE + "\n[scaleout]\n" + body


BAD = [
    pytest.param(so("workers = 2\nthreads = 4\n"), "threads = 4", "scaleout.threads",
                 "unknown key; scaleout takes workers, bus, rates, views", id="unknown-key"),
    pytest.param(so('workers = "2"\n'), 'workers = "2"', "scaleout.workers", "must be an integer, got str '2'",
                 id="workers-type"),
    pytest.param(so("workers = -1\n"), "workers = -1", "scaleout.workers", "must be >= 0, got -1",
                 id="workers-negative"),
    pytest.param(so("workers = 0\n"), "workers = 0", "scaleout.workers",
                 "the local bus joins worker processes started here: it needs workers > 0", id="local-no-workers"),
    pytest.param(so('bus = "local"\n'), "[scaleout]", "scaleout",
                 "the local bus joins worker processes started here: it needs workers > 0", id="empty-local"),
    pytest.param(so("workers = 2\nbus = 4222\n"), "bus = 4222", "scaleout.bus", "must be a string, got int 4222",
                 id="bus-type"),
    pytest.param(so('workers = 2\nbus = "redis://127.0.0.1:6379"\n'), "bus = ", "scaleout.bus",
                 "unknown bus 'redis://127.0.0.1:6379': expected local, local:///dir or nats://host:port",
                 id="bus-scheme"),
    pytest.param(so('workers = 2\nbus = "nats://:4222"\n'), "bus = ", "scaleout.bus",
                 "bad NATS URL 'nats://:4222'", id="nats-no-host"),
    pytest.param(so('workers = 2\nbus = "nats://127.0.0.1:4222,"\n'), "bus = ", "scaleout.bus",
                 "bad NATS URL", id="nats-empty-server"),
    pytest.param(so('workers = 2\nbus = "local://relative/dir"\n'), "bus = ", "scaleout.bus",
                 "local:///absolute/directory", id="local-relative"),
    pytest.param(so("workers = 2\nrates = { kraken = 5.0 }\n"), "rates = ", "scaleout.rates",
                 "'kraken' is not a venue of the feeds (binance, bitstamp)", id="rates-unknown-venue"),
    pytest.param(so("workers = 2\nrates = { binance = 0 }\n"), "rates = ", "scaleout.rates",
                 "binance: must be messages/s > 0, got int 0", id="rates-zero"),
    pytest.param(so("workers = 2\nrates = { binance = true }\n"), "rates = ", "scaleout.rates",
                 "binance: must be messages/s > 0, got true", id="rates-bool"),
    pytest.param(so("workers = 2\nrates = { binance = inf }\n"), "rates = ", "scaleout.rates",
                 "binance: must be messages/s > 0, got float inf", id="rates-inf"),
    pytest.param(so("workers = 2\nrates = [1, 2]\n"), "rates = ", "scaleout.rates", "must be a table, got a list",
                 id="rates-type"),
    pytest.param(so('workers = 2\nviews = "world"\n'), "views = ", "scaleout.views",
                 "only a nats:// bus carries views", id="views-on-local"),
    pytest.param("scaleout = 2\n" + BASE, "scaleout = 2", "scaleout", "must be a table, got int 2",
                 id="not-a-table"),
    # feed shapes a worker cannot run as written: the error names the feed
    pytest.param(BASE.replace('inputs = ["binance", "bitstamp"]\n\n[aggregators.summed]',
                              'inputs = ["binance", "bitstamp"]\n\n[aggregators.summed]\n#')
                 + '\n[feeds.again]\nvenue = "binance"\ninstruments = ["XRP-BTC", "BTC-USDT"]\n'
                 + '\n[aggregators.other]\nkind = "bbo"\ninputs = ["again"]\n' + "\n[scaleout]\nworkers = 2\n",
                 'instruments = ["XRP-BTC", "BTC-USDT"]', "feeds.again.instruments[1]",
                 "binance BTC-USDT is also carried by feeds.binance: with [scaleout] a book on the bus is one venue "
                 "and instrument, so one feed carries it", id="one-book-two-feeds"),
    pytest.param(BASE.replace('instruments = ["ethbtc"]', 'instruments = ["ethbtc"]\ndepth = 5')
                 + "\n[scaleout]\nworkers = 2\n", "depth = 5", "feeds.bitstamp.depth",
                 "5 differs from feeds.binance's 10: with [scaleout] the workers publish one depth", id="depths"),
    pytest.param(BASE.replace('instruments = ["ethbtc"]', 'instruments = ["ethbtc"]\nkeepalive_s = 2.5')
                 + "\n[scaleout]\nworkers = 2\n", "keepalive_s = 2.5", "feeds.bitstamp.keepalive_s",
                 "2.5 differs from feeds.binance's 1: with [scaleout] the workers keep one keepalive", id="keepalives"),
    pytest.param(BASE + '\n[feeds.alt]\nvenue = "binance"\ninstruments = ["XRP-BTC"]\n'
                 'base_url = "wss://mirror.example/ws"\n\n[aggregators.xrp]\nkind = "bbo"\ninputs = ["alt"]\n'
                 "\n[scaleout]\nworkers = 2\n", "base_url = ", "feeds.alt.base_url",
                 "differs from feeds.binance's (also binance): with [scaleout] a venue has one base URL in the "
                 "workers", id="base-urls"),
]


@pytest.mark.parametrize(("text", "needle", "key", "reason"), BAD)
def test_bad_scaleout_one_clear_error_exit_2(tmp_path, capsys, text, needle, key, reason) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TopologyFileError) as info:
        load_topology(path)
    err = info.value
    assert isinstance(err, ConfigError) and err.path == str(path) and err.key == key, err
    assert reason in err.reason, err
    assert err.line == line_of(text, needle), err
    assert cli.main(["check", str(path)]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert out.out == "" and len(lines) == 1, out
    assert lines[0] == f"dragonfly check: error: {path}:{err.line}: {key}: {err.reason}"


def test_views_must_name_a_bbo_aggregator() -> None:
    if importlib.util.find_spec("nats") is None:
        pytest.skip("nats-py is not installed")
    for views, reason in (("nobody", "'nobody' names no aggregator (there are: world, summed)"),
                          ("summed", "'summed' is a liquidity aggregator; views needs a bbo aggregator")):
        text = so(f'bus = "nats://127.0.0.1:4222"\nviews = "{views}"\n')
        with pytest.raises(TopologyFileError) as info:
            parse_topology(text, path="t.toml")
        assert info.value.key == "scaleout.views" and reason in info.value.reason
        assert info.value.line == line_of(text, "views = ")


def test_same_book_on_two_feeds_is_fine_without_scaleout() -> None:
    """The shape [scaleout] refuses is valid in one process (two connections to one venue)."""
    text = BASE + '\n[feeds.again]\nvenue = "binance"\ninstruments = ["BTC-USDT"]\n' \
                  '\n[aggregators.other]\nkind = "bbo"\ninputs = ["again"]\n'
    topo = parse_topology(text, path="t.toml")
    assert topo.scaleout is None and topo.feeds["again"].venue == "binance"
