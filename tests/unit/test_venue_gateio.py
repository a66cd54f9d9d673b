"""Gate.io adapter (sans-IO) on self-written frames from Gate.io's documented formats, spot and
futures: subscribe/unsubscribe/ping messages, ``order_book_update`` deltas and ``full`` snapshots,
subscription answers and refusals, REST snapshots, configuration; and through a book keeper (both
core twins) the documented sync, with a REST snapshot overtaken by a ``full`` message. The live
captures are in tests/integration/captures/test_gateio.py."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import core_module

from dragonfly.errors import ConfigError, DragonflyError, FrameError
from dragonfly.instruments import parse_instrument
from dragonfly.listeners.events import Delta, DocSide, Rejected, Snapshot
from dragonfly.listeners.keeper import BookKeeper
from dragonfly.listeners.rules import UpdateIdRange, Verdict
from dragonfly.model import VenueStatus
from dragonfly.venues.gateio import GateioAdapter, GateioConfig
from dragonfly.venues.registry import get_venue

FUTURES = GateioConfig(market="futures")


def adapter(config: GateioConfig | None = None, depth: int = 10) -> GateioAdapter:
    return GateioAdapter(config or GateioConfig(), depth=depth)


def spot_update(symbol: str, first: int, last: int, bids: list[Any], asks: list[Any], **extra: Any) -> str:
    result = {"t": 1606294781123, "e": "depthUpdate", "E": 1606294781, "s": symbol, "U": first, "u": last,
              "b": bids, "a": asks, **extra}
    return json.dumps({"time": 1606294781, "time_ms": 1606294781236, "channel": "spot.order_book_update",
                       "event": "update", "result": result}, separators=(",", ":"))


def futures_update(symbol: str, first: int, last: int, bids: list[Any], asks: list[Any], **extra: Any) -> str:
    result = {"t": 1615366381417, "s": symbol, "U": first, "u": last, "b": bids, "a": asks, "l": "100", **extra}
    return json.dumps({"time": 1615366381, "time_ms": 1615366381123, "channel": "futures.order_book_update",
                       "event": "update", "result": result}, separators=(",", ":"))


# -- registry, configuration, names -----------------------------------------------------------------


def test_registry_entry_and_symbols() -> None:
    spec = get_venue("gateio")
    assert spec.adapter is GateioAdapter and spec.config is GateioConfig and spec.kind == "diff"
    assert spec.max_depth == 100 and spec.simulator == "dragonfly.venues.gateio.sim:GateioEncoder"
    assert spec.default_base_url == "wss://api.gateio.ws/ws/v4/"
    a = adapter()
    assert a.symbol(parse_instrument("eth-btc")) == "ETH_BTC" and a.symbol(parse_instrument("BTCUSDT")) == "BTC_USDT"
    assert a.snapshot_source == "rest" and a.checksum is None and isinstance(a.rule, UpdateIdRange)
    assert a.book_depth("BTC_USDT") == 100 and a.ping_interval_s == 10.0


def test_config_checks() -> None:
    assert GateioConfig().base_url == "wss://api.gateio.ws/ws/v4/"
    assert FUTURES.base_url == "wss://fx-ws.gateio.ws/v4/ws/usdt"
    assert GateioConfig(market="futures", settle="btc").base_url == "wss://fx-ws.gateio.ws/v4/ws/btc"
    # another market's production endpoint is replaced by this market's; any other URL is kept
    assert GateioConfig(market="futures", base_url="wss://api.gateio.ws/ws/v4/").base_url == FUTURES.base_url
    assert GateioConfig(market="futures", base_url="ws://127.0.0.1:5/x").base_url == "ws://127.0.0.1:5/x"
    assert GateioConfig(interval="20ms", depth=20).depth == 20
    assert GateioConfig(market="futures", depth=50).depth == 50
    for bad in ({"market": "margin"}, {"settle": "eth"}, {"interval": "1000ms"}, {"depth": 50},
                {"interval": "20ms"}, {"market": "futures", "interval": "20ms", "depth": 50}, {"depth": True},
                {"base_url": "https://api.gateio.ws"}, {"rest_url": "wss://api.gateio.ws"}):
        with pytest.raises(ConfigError):
            GateioConfig(**bad)
    with pytest.raises(ConfigError):
        GateioAdapter(GateioConfig(interval="20ms", depth=20), depth=21)
    assert get_venue("gateio").make_config(base_url="ws://127.0.0.1:5").rest_url == "http://127.0.0.1:5"


def test_snapshot_urls() -> None:
    local = GateioConfig(base_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9/gate")
    assert adapter(local).snapshot_url("BTC_USDT") == (
        "http://127.0.0.1:9/gate/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true")
    assert adapter(FUTURES).snapshot_url("BTC_USDT") == (
        "https://api.gateio.ws/api/v4/futures/usdt/order_book?contract=BTC_USDT&limit=100&with_id=true")
    btc = GateioConfig(market="futures", settle="btc", interval="20ms", depth=20)
    assert adapter(btc).snapshot_url("BTC_USD").endswith(
        "/api/v4/futures/btc/order_book?contract=BTC_USD&limit=20&with_id=true")


def test_messages_subscribe_unsubscribe_ping() -> None:
    a = adapter()
    before = int(time.time())
    subs = [json.loads(m) for m in a.subscribe(["BTC_USDT", "ETH_BTC"])]
    assert [m["payload"] for m in subs] == [["BTC_USDT", "100ms"], ["ETH_BTC", "100ms"]]  # one pair a request
    assert all(m["channel"] == "spot.order_book_update" and m["event"] == "subscribe" for m in subs)
    assert all(before <= m["time"] <= int(time.time()) for m in subs)  # Gate.io refuses a request 60 s off
    (unsub,) = [json.loads(m) for m in a.unsubscribe(["BTC_USDT"])]
    assert unsub["event"] == "unsubscribe" and unsub["payload"] == ["BTC_USDT", "100ms"]
    assert len({m["id"] for m in [*subs, unsub]}) == 3
    ping = json.loads(a.ping())
    assert ping["channel"] == "spot.ping" and isinstance(ping["time"], int)
    f = adapter(GateioConfig(market="futures", depth=50))
    (sub,) = [json.loads(m) for m in f.subscribe(["BTC_USDT"])]
    assert sub["channel"] == "futures.order_book_update" and sub["payload"] == ["BTC_USDT", "100ms", "50"]
    assert json.loads(f.ping())["channel"] == "futures.ping"


# -- frames ----------------------------------------------------------------------------------------


def test_spot_update_becomes_a_delta() -> None:
    (ev,) = adapter().parse(spot_update("BTC_USDT", 48776301, 48776306, [["19137.74", "0.0001"], ["19088.37", "0"]],
                                        [["19137.75", "0.6135"]]))
    assert isinstance(ev, Delta) and ev.symbol == "BTC_USDT"
    assert (ev.first, ev.last, ev.exchange_ts_ns) == (48776301, 48776306, 1606294781123 * 1_000_000)
    assert isinstance(ev.bids, DocSide) and ev.bids == [["19137.74", "0.0001"], ["19088.37", "0"]]
    assert ev.asks == [["19137.75", "0.6135"]]


def test_futures_update_becomes_a_delta() -> None:
    frame = futures_update("BTC_USD", 2517661101, 2517661113, [{"p": "54672.1", "s": 0}, {"p": "54664.5", "s": 58794}],
                           [{"p": "54743.6", "s": 0}, {"p": "54742", "s": 95}])
    (ev,) = adapter(FUTURES).parse(frame.encode())
    assert isinstance(ev, Delta) and (ev.symbol, ev.first, ev.last) == ("BTC_USD", 2517661101, 2517661113)
    assert ev.bids == [("54672.1", "0"), ("54664.5", "58794")] and ev.asks == [("54743.6", "0"), ("54742", "95")]
    assert ev.exchange_ts_ns == 1615366381417 * 1_000_000


def test_a_full_message_is_a_snapshot() -> None:
    (snap,) = adapter().parse(spot_update("BTC_USDT", 10, 15, [["1.5", "2"]], [["1.6", "3"]], full=True, l="100"))
    assert isinstance(snap, Snapshot) and (snap.symbol, snap.last) == ("BTC_USDT", 15)
    assert snap.bids == [["1.5", "2"]] and snap.asks == [["1.6", "3"]]
    (fut,) = adapter(FUTURES).parse(futures_update("BTC_USDT", 1, 4, [{"p": "1", "s": 2}], [], full=True))
    assert isinstance(fut, Snapshot) and fut.last == 4 and fut.bids == [("1", "2")]
    (delta,) = adapter().parse(spot_update("BTC_USDT", 10, 15, [], [], full=False))
    assert isinstance(delta, Delta)


def test_answers_refusals_and_other_channels() -> None:
    a = adapter()
    ok, bad = (json.loads(m)["id"] for m in a.subscribe(["BTC_USDT", "NOPE_USDT"]))
    answer = {"time": 1, "time_ms": 1000, "channel": "spot.order_book_update", "event": "subscribe"}
    assert a.parse(json.dumps({**answer, "id": ok, "error": None, "result": {"status": "success"}})) == ()
    refusal = {**answer, "id": bad, "error": {"code": 2, "message": "unknown currency pair NOPE_USDT"}, "result": None}
    assert a.parse(json.dumps(refusal)) == (Rejected(symbol="NOPE_USDT", reason="2 unknown currency pair NOPE_USDT"),)
    with pytest.raises(FrameError, match="unknown currency pair") as info:  # answered already: not a refusal now
        a.parse(json.dumps(refusal))
    assert info.value.symbol == ""
    (unsub,) = a.unsubscribe(["BTC_USDT"])
    with pytest.raises(FrameError) as info:  # a refused unsubscribe resyncs nothing
        a.parse(json.dumps({**answer, "event": "unsubscribe", "id": json.loads(unsub)["id"],
                            "error": {"code": 2, "message": "x"}}))
    assert info.value.symbol == ""
    (late,) = a.subscribe(["ETH_BTC"])
    a.connected()  # the previous connection's requests will never be answered
    with pytest.raises(FrameError):
        a.parse(json.dumps({**answer, "id": json.loads(late)["id"], "error": {"code": 2, "message": "x"}}))
    assert a.parse('{"time":1545404023,"channel":"spot.pong","event":"","error":null,"result":null}') == ()
    assert a.parse('{"time":1,"channel":"spot.trades","event":"update","result":{}}') == ()
    # the other market's channel is not this feed's
    assert a.parse(futures_update("BTC_USDT", 1, 2, [], [])) == ()


@pytest.mark.parametrize(
    ("futures", "frame", "symbol"),
    [
        (False, spot_update("BTC_USDT", 1, 2, [], []).replace('"u":2', '"u":"x"'), "BTC_USDT"),
        (False, spot_update("BTC_USDT", 1, 2, [], []).replace('"U":1,', ""), "BTC_USDT"),
        (False, spot_update("BTC_USDT", 1, 2, [], []).replace('"b":[]', '"b":{}'), "BTC_USDT"),
        (False, spot_update("BTC_USDT", 1, 2, [], []).replace(',"a":[]', ""), "BTC_USDT"),
        (True, futures_update("BTC_USDT", 1, 2, [{"p": "1"}], []), "BTC_USDT"),
        (True, futures_update("BTC_USDT", 1, 2, [["1", "2"]], []), "BTC_USDT"),
        (True, futures_update("BTC_USDT", 1, 2, [], []).replace('"a":[]', '"a":null'), "BTC_USDT"),
        (False, '{"time":1,"channel":"spot.order_book_update","event":"update"}', ""),
        (False, '{"time":1}', ""),
        (False, "[1]", ""),
    ],
)
def test_malformed_frames_raise_frame_error_with_the_symbol(futures: bool, frame: str, symbol: str) -> None:
    with pytest.raises(FrameError) as info:
        adapter(FUTURES if futures else None).parse(frame)
    assert info.value.symbol == symbol


def test_frames_that_are_not_json() -> None:
    for frame in ("", "\x00garbage{", spot_update("BTC_USDT", 1, 2, [], [])[:50]):
        with pytest.raises(DragonflyError):
            adapter().parse(frame)


def test_parse_snapshot() -> None:
    spot = adapter().parse_snapshot("BTC_USDT", b'{"id": 123, "current": 1623898993123, "update": 1623898993121, '
                                                b'"asks": [["1.52", "1.151"]], "bids": [["1.17", "201.863"]]}')
    assert (spot.symbol, spot.last, spot.exchange_ts_ns) == ("BTC_USDT", 123, 1623898993121 * 1_000_000)
    assert spot.asks == [["1.52", "1.151"]] and spot.bids == [["1.17", "201.863"]]
    body = b'{"current": 1684930166.668, "update": 1684930166.609, "asks": [{"s": 129, "p": "0.7711"}], ' \
           b'"bids": [{"p": "0.7702", "s": 2}], "id": 3132789259}'
    fut = adapter(FUTURES).parse_snapshot("OMG_USDT", body)
    assert (fut.last, fut.exchange_ts_ns) == (3132789259, 1684930166609 * 1_000_000)
    assert fut.asks == [("0.7711", "129")] and fut.bids == [("0.7702", "2")]
    with pytest.raises(IndexError, match="id"):
        adapter().parse_snapshot("BTC_USDT", b'{"asks": [], "bids": []}')
    with pytest.raises(DragonflyError):
        adapter().parse_snapshot("BTC_USDT", b'{"label":"INVALID_CURRENCY_PAIR"')


# -- with a book keeper ----------------------------------------------------------------------------


def _keeper(a: GateioAdapter, impl: str) -> BookKeeper:
    return BookKeeper(venue="gateio", instrument="BTC-USDT", symbol="BTC_USDT", depth=5, rule=a.rule,
                      max_depth=a.book_depth("BTC_USDT"), buffer_deltas=a.snapshot_source == "rest",
                      book_type=core_module("book", impl).Book)


def _rest(a: GateioAdapter, last: int, bid: str) -> Snapshot:
    return a.parse_snapshot("BTC_USDT", json.dumps({"id": last, "asks": [["2.0", "1"]], "bids": [[bid, "1"]]}).encode())


def test_the_documented_sync(core_impl: str) -> None:
    a = adapter()
    k = _keeper(a, core_impl)
    k.connected()
    for first, last in ((5, 7), (8, 11), (12, 12)):  # buffered while the snapshot (id 9) loads
        (d,) = a.parse(spot_update("BTC_USDT", first, last, [[f"1.{last:02d}", "1"]], []))
        k.on_delta(d)
    assert not k.on_snapshot(_rest(a, 9, "1.00")).fault
    assert k.status is VenueStatus.LIVE and k.last == 12 and (k.stats.skipped, k.stats.applied) == (1, 2)
    assert k.book.bids()[:3] == ((1.12, 1.0), (1.11, 1.0), (1.0, 1.0))
    (gap,) = a.parse(spot_update("BTC_USDT", 14, 15, [], []))
    step = k.on_delta(gap)
    assert step.fault is not None and step.fault.value == "gap" and step.need_snapshot


def test_a_rest_snapshot_overtaken_by_a_full_message_is_skipped(core_impl: str) -> None:
    a = adapter()
    k = _keeper(a, core_impl)
    k.connected()
    (full,) = a.parse(spot_update("BTC_USDT", 20, 25, [["1.50", "1"]], [["2.0", "1"]], full=True))
    assert not k.on_snapshot(full).fault and k.status is VenueStatus.LIVE and k.last == 25
    # the REST answer requested on connect arrives later, older than the book: skipped
    assert not k.on_snapshot(_rest(a, 21, "1.00")).publish
    assert k.stats.skipped == 1 and k.last == 25 and k.book.best_bid() == (1.5, 1.0)
    (d,) = a.parse(spot_update("BTC_USDT", 26, 26, [["1.60", "1"]], []))
    assert not k.on_delta(d).fault and k.book.best_bid() == (1.6, 1.0)
    # a newer one replaces the book
    assert k.on_snapshot(_rest(a, 30, "1.70")).publish and k.last == 30 and k.book.best_bid() == (1.7, 1.0)
    assert UpdateIdRange().snapshot_verdict(30, 30) is Verdict.APPLY
    assert UpdateIdRange().snapshot_verdict(-1, 5) is Verdict.APPLY
