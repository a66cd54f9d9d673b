"""The bus's parts without processes: balancing feeds over workers, the worker's publisher (latest message per
key, per consumer), the aggregator side's BusFeed on good and bad messages, configurations, URLs, subjects, and the
command line's checks of --workers/--bus/--base-url and ``dragonfly worker``."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from dragonfly import cli
from dragonfly._core.busmsg import decode_update, encode_update
from dragonfly.bus import LocalBus, open_bus
from dragonfly.bus.base import BusFeed, BusPublisher, book_subject, view_subject
from dragonfly.bus.local import UnixBusClient
from dragonfly.bus.supervisor import assign_feeds, describe_exit, worker_configs
from dragonfly.bus.worker import WorkerConfig
from dragonfly.errors import BusError, ConfigError
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.topology import PipelineConfig, ScaleOut

LIVE = VenueStatus.LIVE


def upd(venue: str = "binance", instrument: str = "ETH-BTC", price: float = 1.0, **kw: object) -> BookUpdate:
    return BookUpdate(venue, instrument, ((price, 1.0),), ((price + 0.5, 2.0),), LIVE, 1, 2, "")._replace(**kw)


# -- balancing --------------------------------------------------------------------------------------------------


def test_assign_feeds_balances_expected_rates() -> None:
    rates = {"a": 10.0, "b": 10.0, "c": 5.0, "d": 1.0, "e": 0.5}
    keys = [(v, f"I{i}-USD") for v in rates for i in range(100)]
    shares = assign_feeds(keys, 2, rates)
    assert len(shares) == 2
    assert sorted(k for s in shares for k in s) == sorted(keys)  # each feed exactly once
    loads = [sum(rates[v] for v, _ in s) for s in shares]
    assert abs(loads[0] - loads[1]) <= max(rates.values())
    assert assign_feeds(list(reversed(keys)), 2, rates) == shares  # deterministic, whatever the order
    three = assign_feeds(keys, 3, rates)
    loads3 = [sum(rates[v] for v, _ in s) for s in three]
    assert max(loads3) - min(loads3) <= max(rates.values())


def test_assign_feeds_more_workers_than_feeds_and_defaults() -> None:
    shares = assign_feeds([("a", "X-Y"), ("b", "X-Y")], 5)
    assert sorted(map(len, shares)) == [1, 1]
    assert assign_feeds([("a", "X-Y")], 1, lambda v: 0.0) == [[("a", "X-Y")]]  # a useless rate: the default
    with pytest.raises(ConfigError):
        assign_feeds([("a", "X-Y")], 0)


def test_worker_configs_one_feed_per_venue() -> None:
    shares = [[("binance", "ETH-BTC"), ("kraken", "ETH-BTC"), ("binance", "BTC-USDT")], [("bitstamp", "ETH-BTC")]]
    configs = worker_configs(shares, bus="local:///tmp/x", depth=5)
    assert [c.worker_id for c in configs] == ["1", "2"]
    assert configs[0].feeds == (("binance", ("ETH-BTC", "BTC-USDT")), ("kraken", ("ETH-BTC",)))
    assert set(configs[0].keys) == set(shares[0])
    assert configs[1].depth == 5


def test_worker_config_json_round_trip_and_checks() -> None:
    cfg = WorkerConfig(worker_id="w-1", bus="nats://127.0.0.1:4222", feeds=(("binance", ("ethbtc", "btc_usdt")),),
                       depth=7, base_urls={"BINANCE": "ws://127.0.0.1:9"}, keepalive_s=0.5)
    assert cfg.feeds == (("binance", ("ETH-BTC", "BTC-USDT")),)
    assert dict(cfg.base_urls) == {"binance": "ws://127.0.0.1:9"}
    assert WorkerConfig.from_json(cfg.to_json()) == cfg
    for bad in ("w/1", "", "a b"):
        with pytest.raises(ConfigError):
            WorkerConfig(worker_id=bad, bus="local", feeds=(("binance", ("ETH-BTC",)),))
    with pytest.raises(ConfigError):
        WorkerConfig(worker_id="1", bus="local", feeds=())
    with pytest.raises(ConfigError):
        WorkerConfig(worker_id="1", bus="local", feeds=(("binance", ("ETH-BTC", "ethbtc")),))
    with pytest.raises(ConfigError):
        WorkerConfig(worker_id="1", bus="local", feeds=(("binance", ("ETH-BTC",)),), depth=10_000)
    with pytest.raises(ConfigError):
        WorkerConfig.from_json("{not json")
    with pytest.raises(ConfigError):
        WorkerConfig.from_json('{"worker_id": "1"}')


def test_describe_exit() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exit status 3"


# -- the worker's publisher -------------------------------------------------------------------------------------


async def test_publisher_keeps_the_latest_message_per_key_per_consumer() -> None:
    pub = BusPublisher()
    early = pub.attach()
    for p in (1.0, 2.0, 3.0):
        pub.publish(upd(price=p))
    pub.publish(upd(venue="kraken"))
    items = await early.take()
    assert [k for k, _ in items] == [("binance", "ETH-BTC"), ("kraken", "ETH-BTC")]
    assert decode_update(items[0][1]).bids == ((3.0, 1.0),)  # latest wins
    assert pub.stats.conflated == 2 and pub.stats.written == 2
    late = pub.attach()  # a new consumer starts from the current state of every key
    assert {k for k, _ in await late.take()} == {("binance", "ETH-BTC"), ("kraken", "ETH-BTC")}
    pub.publish(upd(price=4.0))
    assert [decode_update(d).bids[0][0] for _, d in await early.take()] == [4.0]
    assert [decode_update(d).bids[0][0] for _, d in await late.take()] == [4.0]
    pub.resend_all()
    assert len(await early.take()) == 2
    waiting = asyncio.ensure_future(early.take())
    await asyncio.sleep(0)  # let it wait
    early.close()
    assert await asyncio.wait_for(waiting, 5) == []


def test_publisher_counts_what_it_cannot_encode_and_bounds_keys() -> None:
    pub = BusPublisher(max_keys=2)
    pub.publish(upd(venue=""))  # not encodable
    assert pub.stats.encode_errors == 1 and pub.keys == ()
    pub.publish(upd(venue="a"))
    pub.publish(upd(venue="b"))
    pub.publish(upd(venue="c"))
    assert pub.keys == (("a", "ETH-BTC"), ("b", "ETH-BTC")) and pub.stats.dropped_keys == 1


# -- the aggregator side ----------------------------------------------------------------------------------------


class ListSink:
    def __init__(self) -> None:
        self.got: list[BookUpdate] = []

    def publish(self, u: BookUpdate) -> None:
        self.got.append(u)


def test_bus_feed_forwards_good_messages_and_drops_bad_ones(tmp_path: Path) -> None:
    sink = ListSink()
    feed = BusFeed(name="bus test", client=UnixBusClient(tmp_path / "x.sock", name="bus test"), sink=sink,
                   keys=[("binance", "ETH-BTC")])
    good = encode_update(upd())
    feed.on_message(good, "dragonfly.book.binance.ETH-BTC")
    feed.on_message(good)  # the local bus has no subjects
    feed.on_message(good, "dragonfly.book.kraken.ETH-BTC")  # mismatched
    feed.on_message(b"\x00" * 40, "dragonfly.book.binance.ETH-BTC")
    feed.on_message(good[:-1])
    feed.on_message(encode_update(upd()._replace(bids=((5.0, 1.0),), asks=((4.0, 1.0),))))  # crossed
    feed.on_message(encode_update(upd()._replace(bids=((1.0, 1.0), (2.0, 1.0)))))  # bids not best first
    stale = upd(status=VenueStatus.STALE, bids=(), asks=(), reason="x")
    feed.on_message(encode_update(stale))
    assert sink.got == [decode_update(good), decode_update(good), stale]
    s = feed.stats
    assert (s.messages, s.published, s.bad_messages, s.mismatched, s.invalid_tops) == (8, 3, 2, 1, 2)
    assert s.errors_by_reason == {"subject": 1, "magic": 1, "truncated": 1, "top": 2}
    assert feed.health()["binance ETH-BTC"].status is VenueStatus.STALE
    # a lost connection: every key it carries STALE with the reason
    feed._connected = True
    feed.on_message(encode_update(upd(venue="okx")))
    feed._on_disconnect(feed.client, "closed by the worker")
    lost = sink.got[-2:]
    assert {(u.venue, u.status) for u in lost} == {("binance", VenueStatus.STALE), ("okx", VenueStatus.STALE)}
    assert all(u.reason == "bus test: closed by the worker" and not u.bids for u in lost)
    assert s.losses == 1
    feed._on_disconnect(feed.client, "connect failed")  # not connected: nothing new
    assert len(sink.got) == 6


# -- URLs, subjects, configuration ------------------------------------------------------------------------------


def test_open_bus() -> None:
    short = tempfile.TemporaryDirectory(prefix="dfb-", dir="/tmp")  # a Unix socket path holds ~100 bytes
    tmp_path = Path(short.name)
    bus = open_bus("local")
    assert isinstance(bus, LocalBus) and bus.directory.is_dir() and bus.kind == "local"
    bus.close()
    assert not bus.directory.exists()
    mine = open_bus(f"local://{tmp_path}")
    assert isinstance(mine, LocalBus) and mine.directory == tmp_path and mine.path("1") == tmp_path / "1.sock"
    mine.close()
    assert tmp_path.is_dir()  # not ours to remove
    with pytest.raises(BusError):
        mine.path("../x")
    nats = open_bus("nats://127.0.0.1:4222,nats://127.0.0.1:4223")
    assert nats.kind == "nats" and nats.shared
    for bad in ("redis://x", "local://relative", "nats://", ""):
        with pytest.raises(BusError):
            open_bus(bad)
    with pytest.raises(BusError, match="too long"):
        LocalBus("/tmp/" + "d" * 100).path("1")
    short.cleanup()


def test_subjects() -> None:
    assert book_subject("binance-diff", "ETH-BTC") == "dragonfly.book.binance-diff.ETH-BTC"
    assert view_subject("ETH-BTC") == "dragonfly.view.ETH-BTC"
    for bad in ("a.b", "", "a*", "a>", "a b"):
        with pytest.raises(BusError):
            book_subject(bad, "ETH-BTC")


def test_scale_out_configuration() -> None:
    assert PipelineConfig(instrument="ethbtc", workers=2).workers == 2
    assert PipelineConfig(instrument="ethbtc", bus="nats://127.0.0.1:4222").bus
    for kw in ({"workers": -1}, {"workers": True}, {"bus": "local"}, {"bus": ""}):
        with pytest.raises(ConfigError):
            PipelineConfig(instrument="ethbtc", **kw)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ScaleOut(instruments=("ethbtc",), venues=("binance",))  # neither workers nor a bus
    so = ScaleOut(instruments=("ethbtc", "btcusdt"), venues=("binance", "kraken"), workers=2)
    assert so.keys == [("binance", "ETH-BTC"), ("kraken", "ETH-BTC"), ("binance", "BTC-USDT"), ("kraken", "BTC-USDT")]
    with pytest.raises(ConfigError):
        so.attach("xrpbtc", ListSink())
    sink = ListSink()
    so.attach("ETH-BTC", sink)
    so.router.publish(upd())
    so.router.publish(upd(instrument="XRP-BTC"))
    assert len(sink.got) == 1 and so.router.unroutable == 1


# -- the command line ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("main", "argv", "message"),
    [
        (cli.grpc_server_main, ["--instrument-name", "ethbtc", "--bus", "local"], "--workers"),
        (cli.grpc_server_main, ["--instrument-name", "ethbtc", "--workers", "x"], "number of workers"),
        (cli.grpc_server_main, ["--instrument-name", "ethbtc", "--base-url", "binance"], "VENUE=URL"),
        (cli.grpc_server_main, ["--instrument-name", "ethbtc", "--base-url", "kraken=ws://x:1"], "not among"),
        (cli.grpc_server_main, ["--instrument-name", "ethbtc", "--base-url", "binance=http://x:1"], ""),
        (cli.worker_main, ["--instrument-name", "ethbtc"], "--bus is required"),
        (cli.worker_main, ["--bus", "local", "--instrument-name", "ethbtc"], "NATS"),
        (cli.worker_main, ["--bus", "nats://127.0.0.1:1"], "--instrument-name"),
        (cli.worker_main, ["--config-json", "{}"], "worker configuration"),
    ],
)
def test_command_line_usage_errors(
    main: object, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(main)
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own checks
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err


def test_dragonfly_lists_the_worker_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert Counter(line.split()[0] for line in out.splitlines() if line.startswith("  "))["worker"] == 1


def test_credentials_in_a_bus_url_never_shown() -> None:
    from dragonfly.bus import redact_url
    from dragonfly.bus.natsbus import NatsBusClient
    from dragonfly.bus.supervisor import Supervisor

    assert redact_url("nats://user:secret@h:4222,nats://h2:4222") == "nats://***@h:4222,nats://h2:4222"
    assert redact_url("local") == "local"
    with pytest.raises(BusError) as info:
        open_bus("redis://user:secret@h:1")
    assert "secret" not in str(info.value)
    bus = open_bus("nats://user:secret@127.0.0.1:4222")
    assert "secret" not in bus.display_url
    assert NatsBusClient(["nats://user:secret@127.0.0.1:4222"]).host == "127.0.0.1:4222"
    cfg = WorkerConfig(worker_id="1", bus="nats://user:secret@127.0.0.1:4222", feeds=(("binance", ("ETH-BTC",)),))
    argv = Supervisor([cfg], sink=ListSink()).command(cfg)
    assert not any("secret" in a for a in argv)  # the configuration goes through stdin, not argv


async def test_publisher_writes_directly_when_nothing_waits() -> None:
    pub = BusPublisher()
    out = pub.attach()
    written: list[tuple[object, bytes]] = []
    room = {"ok": True}

    def direct(key: object, data: bytes) -> bool:
        if room["ok"]:
            written.append((key, data))
        return room["ok"]

    out.direct = direct
    pub.publish(upd(price=1.0))
    assert [decode_update(d).bids[0][0] for _, d in written] == [1.0] and len(out._dirty) == 0
    room["ok"] = False  # backed up: the key waits for take()
    pub.publish(upd(price=2.0))
    room["ok"] = True
    pub.publish(upd(venue="kraken"))  # another key while one waits: waits too (nothing overtakes)
    assert len(written) == 1
    items = await out.take()
    assert [(k, decode_update(d).bids[0][0]) for k, d in items] == [(("binance", "ETH-BTC"), 2.0),
                                                                    (("kraken", "ETH-BTC"), 1.0)]
    assert pub.stats.written == 3


def test_bus_feed_hands_an_unchanged_top_on_as_the_same_tuples(tmp_path: Path) -> None:
    sink = ListSink()
    feed = BusFeed(name="bus test", client=UnixBusClient(tmp_path / "x.sock", name="bus test"), sink=sink)
    feed.on_message(encode_update(upd(price=1.0)))
    feed.on_message(encode_update(upd(price=1.0, receive_ts_ns=5)))  # a keepalive
    feed.on_message(encode_update(upd(price=2.0)))
    a, b, c = sink.got
    assert b.bids is a.bids and b.asks is a.asks and b.receive_ts_ns == 5  # the aggregator's keepalive test
    assert c.bids is not a.bids and c.bids == ((2.0, 1.0),)
