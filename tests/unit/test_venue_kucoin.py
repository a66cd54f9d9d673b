"""KuCoin adapter (sans-IO) on self-written frames from KuCoin's documented formats: the token
request and the URL built from it (the token never reaches an error), subscribe/unsubscribe/ping
messages, ``trade.l2update`` deltas (``["0", "0", seq]`` fillers skipped), acks and refusals, REST
snapshots, configuration, and the per-entry trimming of the message that straddles a snapshot
through a book keeper (both core twins). The live capture is in tests/integration/captures/test_kucoin.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import core_module

from dragonfly.errors import ConfigError, DragonflyError, FrameError, VenueError
from dragonfly.instruments import parse_instrument
from dragonfly.listeners.events import Delta, DocSide, Rejected, Snapshot
from dragonfly.listeners.keeper import BookKeeper
from dragonfly.listeners.rules import EntryUpdateIdRange
from dragonfly.model import VenueStatus
from dragonfly.venues.kucoin import KucoinAdapter, KucoinConfig
from dragonfly.venues.registry import get_venue

LOCAL = KucoinConfig(base_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9/kc")
TOKEN = "2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPusi34M_wGoSf7iNyEWJ4a=.mvnekBb8DJegZIg=="


def adapter(config: KucoinConfig = LOCAL, depth: int = 10) -> KucoinAdapter:
    return KucoinAdapter(config, depth=depth)


def bullet(token: str = TOKEN, endpoint: str = "wss://ws-api-spot.kucoin.com/", **server: Any) -> bytes:
    srv = {"endpoint": endpoint, "encrypt": True, "protocol": "websocket", "pingInterval": 18000, "pingTimeout": 10000}
    srv.update(server)
    return json.dumps({"code": "200000", "data": {"token": token, "instanceServers": [srv]}}).encode()


def update(symbol: str, start: int, end: int, bids: list[Any], asks: list[Any], **data: Any) -> str:
    d = {"sequenceStart": start, "symbol": symbol, "changes": {"asks": asks, "bids": bids}, "sequenceEnd": end, **data}
    return json.dumps({"data": d, "subject": "trade.l2update", "topic": f"/market/level2:{symbol}", "type": "message"},
                      separators=(",", ":"))


# -- registry, configuration, names -----------------------------------------------------------------


def test_registry_entry_and_symbols() -> None:
    spec = get_venue("kucoin")
    assert spec.adapter is KucoinAdapter and spec.config is KucoinConfig and spec.kind == "diff"
    assert spec.max_depth == 100 and spec.simulator == "dragonfly.venues.kucoin.sim:KucoinEncoder"
    a = adapter()
    assert a.symbol(parse_instrument("eth_btc")) == "ETH-BTC"
    assert a.symbol(parse_instrument("BTC-USDT")) == "BTC-USDT"
    assert a.snapshot_source == "rest" and a.checksum is None and isinstance(a.rule, EntryUpdateIdRange)
    assert a.book_depth("BTC-USDT") == 100


def test_config_checks() -> None:
    cfg = KucoinConfig()
    assert (cfg.base_url, cfg.rest_url, cfg.snapshot_depth, cfg.max_depth) == (
        "wss://ws-api-spot.kucoin.com", "https://api.kucoin.com", 100, 100)
    for bad in ({"snapshot_depth": 50}, {"max_depth": 0}, {"max_depth": True}, {"base_url": "https://x"},
                {"rest_url": "wss://x"}, {"rest_url": "http://"}):
        with pytest.raises(ConfigError):
            KucoinConfig(**bad)
    with pytest.raises(ConfigError, match="level2_20"):
        KucoinAdapter(KucoinConfig(snapshot_depth=20), depth=21)
    with pytest.raises(ConfigError):
        KucoinAdapter(KucoinConfig(max_depth=5), depth=6)
    assert KucoinAdapter(KucoinConfig(snapshot_depth=20, max_depth=20), depth=20).depth == 20
    # rest_url follows a base_url override (a simulator serves both)
    assert get_venue("kucoin").make_config(base_url="ws://127.0.0.1:5").rest_url == "http://127.0.0.1:5"


def test_urls() -> None:
    a = adapter()
    req = a.connect_request(["BTC-USDT"])
    assert (req.method, req.url, req.json) == ("POST", "http://127.0.0.1:9/kc/api/v1/bullet-public", None)
    assert a.snapshot_url("BTC-USDT") == "http://127.0.0.1:9/kc/api/v1/market/orderbook/level2_100?symbol=BTC-USDT"
    small = adapter(KucoinConfig(snapshot_depth=20, max_depth=20))
    assert small.snapshot_url("ETH-BTC") == "https://api.kucoin.com/api/v1/market/orderbook/level2_20?symbol=ETH-BTC"


# -- the token and the connection ------------------------------------------------------------------


def test_connect_url_from_the_token_response() -> None:
    from yarl import URL

    a = adapter()
    assert a.ping_interval_s == 18.0
    url = URL(a.connect_url(["BTC-USDT"], bullet(endpoint="wss://ws-api-spot.kucoin.com/", pingInterval=15000)))
    assert (url.scheme, url.host, url.path) == ("wss", "ws-api-spot.kucoin.com", "/")
    assert url.query["token"] == TOKEN  # the '=' survive the query encoding
    assert len(url.query["connectId"]) >= 16
    assert a.ping_interval_s == 15.0
    other = URL(a.connect_url(["BTC-USDT"], bullet(endpoint="ws://127.0.0.1:7")))
    assert (other.host, other.port, other.query["token"]) == ("127.0.0.1", 7, TOKEN)
    assert other.query["connectId"] != url.query["connectId"]  # one per connection
    assert a.ping_interval_s == 18.0
    a.connect_url([], bullet(pingInterval=5))  # an absurd interval is not taken
    assert a.ping_interval_s == 18.0


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"code": "400100", "msg": "refused " + TOKEN, "data": {"token": TOKEN}}).encode(),
        json.dumps({"code": "200000", "data": {"token": TOKEN, "instanceServers": []}}).encode(),
        json.dumps({"code": "200000", "data": {"token": TOKEN}}).encode(),
        json.dumps({"code": "200000", "data": {"token": TOKEN, "instanceServers": [{"endpoint": 5}]}}).encode(),
        bullet(endpoint="https://ws-api-spot.kucoin.com/"),
        bullet(endpoint="not a url at all"),
        bullet(token=""),
        bullet()[:-7],  # truncated
        b'["' + TOKEN.encode() + b'"]',
    ],
    ids=["refused", "no-server", "no-servers", "endpoint-not-text", "https-endpoint", "not-a-url", "empty-token",
         "truncated", "not-an-object"],
)
def test_a_bad_token_response_is_a_venue_error_without_the_token(body: bytes) -> None:
    with pytest.raises(VenueError) as info:
        adapter().connect_url(["BTC-USDT"], body)
    exc = info.value
    for text in (str(exc), repr(exc), repr(exc.args), repr(exc.code), repr(exc.payload)):
        assert TOKEN not in text and "mvnekBb8" not in text
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert exc.venue == "kucoin"


def test_messages_subscribe_unsubscribe_ping() -> None:
    a = adapter()
    symbols = [f"S{i}-USDT" for i in range(150)]
    subs = [json.loads(m) for m in a.subscribe(symbols)]
    assert [len(m["topic"].split(":", 1)[1].split(",")) for m in subs] == [100, 50]  # 100 symbols per topic
    assert all(m["type"] == "subscribe" and m["response"] is True for m in subs)
    assert subs[0]["topic"].startswith("/market/level2:S0-USDT,S1-USDT,")
    (unsub,) = [json.loads(m) for m in a.unsubscribe(["BTC-USDT"])]
    assert unsub["type"] == "unsubscribe" and unsub["topic"] == "/market/level2:BTC-USDT"
    ping = json.loads(a.ping())
    assert ping["type"] == "ping" and isinstance(ping["id"], str)
    ids = [m["id"] for m in subs] + [unsub["id"], ping["id"]]
    assert len(set(ids)) == len(ids)


# -- frames ----------------------------------------------------------------------------------------


def test_update_becomes_a_delta() -> None:
    a = adapter()
    (ev,) = a.parse(update("BTC-USDT", 14701689783, 14701689784, [["67990.1", "0.5", "14701689784"]],
                           [["67993.3", "1.21427407", "14701689783"]], time=1729816425625))
    assert isinstance(ev, Delta) and ev.symbol == "BTC-USDT"
    assert (ev.first, ev.last, ev.exchange_ts_ns) == (14701689783, 14701689784, 1729816425625 * 1_000_000)
    assert isinstance(ev.bids, DocSide) and isinstance(ev.asks, DocSide)  # applied straight from the frame
    assert ev.bids == [["67990.1", "0.5", "14701689784"]] and ev.asks == [["67993.3", "1.21427407", "14701689783"]]
    (from_topic,) = a.parse(update("BTC-USDT", 5, 5, [], []).replace('"symbol":"BTC-USDT",', ""))
    assert from_topic.symbol == "BTC-USDT"
    (no_time,) = a.parse(update("BTC-USDT", 5, 5, [], []).encode())  # bytes; the 2021 capture has no time
    assert no_time.exchange_ts_ns == 0 and list(no_time.bids) == [] and no_time.last == 5


def test_fillers_are_skipped() -> None:
    frame = update("ETH-BTC", 7, 10, [["0", "0", "7"], ["0.05", "1", "8"]], [["0", "0", "9"], ["0.06", "0", "10"]])
    for f in (frame, frame.encode()):
        (ev,) = adapter().parse(f)
        assert ev.bids == [["0.05", "1", "8"]] and ev.asks == [["0.06", "0", "10"]]
        assert (ev.first, ev.last) == (7, 10)
    (only,) = adapter().parse(update("ETH-BTC", 11, 11, [], [["0", "0", "11"]]))
    assert list(only.bids) == [] and list(only.asks) == [] and only.last == 11  # still a step of the sequence


def test_control_frames_acks_and_other_topics() -> None:
    a = adapter()
    (sub,) = a.subscribe(["BTC-USDT"])
    rid = json.loads(sub)["id"]
    assert a.parse('{"id":"hQvf8jkno","type":"welcome"}') == ()
    assert a.parse('{"id":"1545910590801","type":"pong"}') == ()
    assert a.parse(json.dumps({"id": rid, "type": "ack"})) == ()
    # an ack settles the request: a later error with its id is no refusal of these symbols
    with pytest.raises(FrameError):
        a.parse(json.dumps({"id": rid, "type": "error", "code": 404, "data": "topic does not exist"}))
    assert a.parse('{"type":"message","topic":"/market/ticker:BTC-USDT","subject":"trade.ticker","data":{}}') == ()
    assert a.parse(update("BTC-USDT", 1, 1, [], []).replace("trade.l2update", "trade.l2snapshot")) == ()
    assert a.parse('{"type":"notice","data":{}}') == ()


def test_a_refused_subscription_rejects_its_symbols() -> None:
    a = adapter()
    first, = a.subscribe(["BTC-USDT", "NOPE-USDT"])
    rid = json.loads(first)["id"]
    evs = a.parse(json.dumps({"id": rid, "type": "error", "code": 404, "data": "topic does not exist"}))
    assert evs == (Rejected(symbol="BTC-USDT", reason="404 topic does not exist"),
                   Rejected(symbol="NOPE-USDT", reason="404 topic does not exist"))
    with pytest.raises(FrameError, match="401 token expired"):  # not an answer to a subscription
        a.parse('{"id":"conn-1","type":"error","code":401,"data":"token expired"}')
    (second,) = a.subscribe(["ETH-BTC"])
    a.connected()  # a new connection: the previous one's requests will never be answered
    with pytest.raises(FrameError):
        a.parse(json.dumps({"id": json.loads(second)["id"], "type": "error", "code": 404, "data": "x"}))


@pytest.mark.parametrize(
    ("frame", "symbol"),
    [
        (update("BTC-USDT", 1, 2, [], []).replace('"sequenceEnd":2', '"sequenceEnd":"x"'), "BTC-USDT"),
        (update("BTC-USDT", 1, 2, [], []).replace('"sequenceStart":1,', ""), "BTC-USDT"),
        (update("BTC-USDT", 1, 2, [], []).replace('"bids":[]', '"buys":[]'), "BTC-USDT"),
        (update("BTC-USDT", 1, 2, [], []).replace('"changes":{"asks":[],"bids":[]}', '"changes":[]'), "BTC-USDT"),
        (update("BTC-USDT", 1, 2, [["0", "0", "1"]], []).replace('"asks":[]', '"asks":5'), "BTC-USDT"),
        (update("BTC-USDT", 1, 2, [], []).replace('"symbol":"BTC-USDT",', "").replace('"bids":[]', '"bids":{}'),
         "BTC-USDT"),  # the symbol from the topic
        ('{"type":"message","topic":"/market/level2:ETH-BTC","subject":"trade.l2update"}', "ETH-BTC"),
        ('{"id":"1"}', ""),
        ("[1,2]", ""),
    ],
)
def test_malformed_frames_raise_frame_error_with_the_symbol(frame: str, symbol: str) -> None:
    with pytest.raises(FrameError) as info:
        adapter().parse(frame)
    assert info.value.symbol == symbol


def test_frames_that_are_not_json() -> None:
    for frame in ("", "garbage{", update("BTC-USDT", 1, 2, [], [])[:40]):
        with pytest.raises(DragonflyError):
            adapter().parse(frame)


# -- snapshots -------------------------------------------------------------------------------------


def test_parse_snapshot() -> None:
    body = {"code": "200000", "data": {"time": 1550653727731, "sequence": "3262786978",
                                       "bids": [["6500.12", "0.45054140"], ["6500.11", "0.45054140"]],
                                       "asks": [["6500.16", "0.57753524"], ["6500.15", "0.57753524"]]}}
    snap = adapter().parse_snapshot("BTC-USDT", json.dumps(body).encode())
    assert isinstance(snap, Snapshot) and snap.symbol == "BTC-USDT"
    assert (snap.last, snap.exchange_ts_ns) == (3262786978, 1550653727731 * 1_000_000)
    assert snap.bids == [["6500.12", "0.45054140"], ["6500.11", "0.45054140"]] and len(snap.asks) == 2
    with pytest.raises(VenueError, match="400100") as info:
        adapter().parse_snapshot("BTC-USDT", b'{"code":"400100","msg":"Unsupported trading pair."}')
    assert info.value.code == "400100"
    with pytest.raises(IndexError, match="sequence"):
        adapter().parse_snapshot("BTC-USDT", b'{"code":"200000","data":{"bids":[],"asks":[]}}')
    with pytest.raises(IndexError):
        adapter().parse_snapshot("BTC-USDT", b'{"code":"200000","data":null}')


# -- with a book keeper ----------------------------------------------------------------------------


def _keeper(a: KucoinAdapter, impl: str) -> BookKeeper:
    return BookKeeper(venue="kucoin", instrument="ETH-BTC", symbol="ETH-BTC", depth=5, rule=a.rule,
                      max_depth=a.book_depth("ETH-BTC"), buffer_deltas=a.snapshot_source == "rest",
                      book_type=core_module("book", impl).Book)


def _snapshot(a: KucoinAdapter, seq: int) -> Snapshot:
    body = {"code": "200000", "data": {"time": 1, "sequence": str(seq), "bids": [["0.050", "1"], ["0.049", "2"]],
                                       "asks": [["0.051", "1"], ["0.052", "2"]]}}
    return a.parse_snapshot("ETH-BTC", json.dumps(body).encode())


def test_the_straddling_message_is_applied_from_the_snapshot_on(core_impl: str) -> None:
    a = adapter()
    k = _keeper(a, core_impl)
    k.connected()
    # buffered while the snapshot (sequence 10) loads: 6..8 is older; 9..12 straddles it
    for frame in (update("ETH-BTC", 6, 8, [["0.050", "9", "6"]], [["0.051", "0", "8"]]),
                  update("ETH-BTC", 9, 12, [["0.049", "7", "9"], ["0.048", "3", "11"], ["0", "0", "12"]],
                         [["0.052", "0", "10"], ["0.053", "4", "11"]])):
        (d,) = a.parse(frame)
        k.on_delta(d)
    assert k.buffered == 2
    step = k.on_snapshot(_snapshot(a, 10))
    assert not step.fault and k.status is VenueStatus.LIVE and k.last == 12
    assert (k.stats.skipped, k.stats.applied) == (1, 1)
    # 0.049 -> 7 (sequence 9) and the 0.052 delete (10) are in the snapshot already; 11 applies
    assert k.book.bids() == ((0.05, 1.0), (0.049, 2.0), (0.048, 3.0))
    assert k.book.asks() == ((0.051, 1.0), (0.052, 2.0), (0.053, 4.0))
    (d,) = a.parse(update("ETH-BTC", 13, 13, [], [["0", "0", "13"]]))  # a filler still moves the sequence
    assert not k.on_delta(d).fault and k.last == 13
    (d,) = a.parse(update("ETH-BTC", 15, 15, [["0.047", "1", "15"]], []))
    step = k.on_delta(d)
    assert step.fault is not None and step.fault.value == "gap" and step.need_snapshot
    assert k.status is VenueStatus.STALE


def test_a_snapshot_older_than_the_buffer_is_fetched_again(core_impl: str) -> None:
    a = adapter()
    k = _keeper(a, core_impl)
    k.connected()
    (d,) = a.parse(update("ETH-BTC", 20, 21, [["0.050", "9", "20"]], []))
    k.on_delta(d)
    step = k.on_snapshot(_snapshot(a, 10))  # 11..19 are missing between the snapshot and the buffer
    assert step.need_snapshot and k.status is not VenueStatus.LIVE and k.stats.stale_snapshots == 1
