"""Venue adapters (sans-IO) on self-written frames: parsing into events, names, subscribe
messages, URLs. Their conformance on the live captures is in tests/integration/test_book_captures.py."""

from __future__ import annotations

import json
import zlib

import pytest

from dragonfly.errors import ConfigError, FrameError, SequenceGapError
from dragonfly.instruments import parse_instrument
from dragonfly.listeners.events import Delta, Heartbeat, Reconnect, Rejected, Snapshot
from dragonfly.listeners.keeper import BookKeeper
from dragonfly.venues.binance import BinanceAdapter, BinanceConfig, BinanceDiffAdapter, BinanceDiffConfig
from dragonfly.venues.bitstamp import BitstampAdapter, BitstampConfig, BitstampDiffAdapter, BitstampDiffConfig
from dragonfly.venues.bybit import BybitAdapter, BybitConfig
from dragonfly.venues.coinbase import CoinbaseAdapter, CoinbaseConfig
from dragonfly.venues.kraken import KrakenAdapter, KrakenConfig
from dragonfly.venues.okx import OkxAdapter, OkxConfig


def test_binance_parse_and_urls() -> None:
    v = BinanceDiffAdapter(BinanceDiffConfig(base_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9"), depth=10)
    data = {"e": "depthUpdate", "E": 5, "s": "BTCUSDT", "U": 7, "u": 9, "b": [["1.0", "2"]], "a": []}
    frame = {"stream": "btcusdt@depth@100ms", "data": data}
    (ev,) = v.parse(json.dumps(frame))
    assert (ev.symbol, ev.first, ev.last, ev.exchange_ts_ns, ev.bids) == ("BTCUSDT", 7, 9, 5_000_000, [["1.0", "2"]])
    assert not v.parse('{"stream":"btcusdt@trade","data":{"e":"trade"}}')
    assert not v.parse('{"result":null,"id":1}')
    with pytest.raises(ValueError):
        v.parse("[1,2]")
    assert v.url(["BTCUSDT", "ETHUSDT"]) == "ws://127.0.0.1:9/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms"
    assert v.snapshot_url("BTCUSDT") == "http://127.0.0.1:9/api/v3/depth?symbol=BTCUSDT&limit=1000"
    snap = v.parse_snapshot("BTCUSDT", b'{"lastUpdateId": 12, "bids": [], "asks": [["2", "1"]]}')
    assert snap.last == 12 and snap.asks == [["2", "1"]]
    with pytest.raises(ValueError):
        BinanceDiffConfig(speed="10ms")
    with pytest.raises(ValueError):
        BinanceDiffConfig(rest_url="ftp://x")


def test_bitstamp_parse() -> None:
    v = BitstampDiffAdapter(BitstampDiffConfig(), depth=10)
    data = {"timestamp": "1", "microtimestamp": "1000005", "bids": [["1", "2"]], "asks": []}
    frame = {"data": data, "channel": "diff_order_book_btcusd", "event": "data"}
    (ev,) = v.parse(json.dumps(frame))
    assert (ev.symbol, ev.last, ev.exchange_ts_ns) == ("btcusd", 1000005, 1000005000)
    assert not v.parse('{"event":"bts:subscription_succeeded","channel":"diff_order_book_btcusd","data":{}}')
    assert json.loads(v.subscribe(["btcusd"])[0]) == {
        "event": "bts:subscribe", "data": {"channel": "diff_order_book_btcusd"}
    }
    (r,) = v.parse('{"event":"bts:request_reconnect","channel":"","data":""}')
    assert isinstance(r, Reconnect)
    (rej,) = v.parse(
        '{"event":"bts:error","channel":"diff_order_book_btcusd","data":{"message":"Bad subscription string."}}'
    )
    assert isinstance(rej, Rejected) and rej.symbol == "btcusd" and rej.reason == "Bad subscription string."
    assert v.snapshot_url("btcusd").endswith("/api/v2/order_book/btcusd/")


def test_coinbase_exchange_and_advanced_parse() -> None:
    v = CoinbaseAdapter(CoinbaseConfig(), depth=10)
    msg = {"type": "l2update", "product_id": "BTC-USD", "changes": [["buy", "1", "2"], ["sell", "3", "0"]], "time": "t"}
    (ev,) = v.parse(json.dumps(msg))
    assert ev.bids == [("1", "2")] and ev.asks == [("3", "0")]
    assert v.parse('{"type":"heartbeat","product_id":"BTC-USD"}') == (Heartbeat(symbol="BTC-USD"),)
    assert not v.parse('{"type":"subscriptions","channels":[]}')
    with pytest.raises(ValueError):
        v.parse('{"type":"l2update","product_id":"X","changes":[["hold","1","2"]]}')
    adv = CoinbaseAdapter(CoinbaseConfig(api="advanced", base_url="ws://127.0.0.1:1"), depth=10)
    updates = [
        {"side": "bid", "price_level": "1", "new_quantity": "2"},
        {"side": "offer", "price_level": "3", "new_quantity": "4"},
    ]
    snap = {
        "channel": "l2_data",
        "sequence_num": 0,
        "events": [{"type": "snapshot", "product_id": "BTC-USD", "updates": updates}],
    }
    (s,) = adv.parse(json.dumps(snap))
    assert isinstance(s, Snapshot) and s.bids == [("1", "2")] and s.asks == [("3", "4")]
    upd = dict(snap, sequence_num=1, events=[{"type": "update", "product_id": "BTC-USD", "updates": []}])
    assert isinstance(adv.parse(json.dumps(upd))[0], Delta)
    with pytest.raises(SequenceGapError):
        adv.parse(json.dumps(dict(upd, sequence_num=5)))
    adv.connected()
    assert adv.parse(json.dumps(dict(upd, sequence_num=9)))  # a new connection starts over


def test_kraken_v1_parse() -> None:
    v = KrakenAdapter(KrakenConfig(), depth=10)
    snap = [1, {"as": [["2.0", "1.0", "1617666423.1"]], "bs": [["1.0", "1.0", "1617666423.2"]]}, "book-1000", "XBT/USD"]
    (s,) = v.parse(json.dumps(snap))
    assert isinstance(s, Snapshot) and s.symbol == "XBT/USD" and s.exchange_ts_ns == 1617666423200000000
    upd = [1, {"a": [["2.0", "0.0", "1.0"]]}, {"b": [["1.5", "1.0", "1.0", "r"]], "c": "123"}, "book-1000", "XBT/USD"]
    (u,) = v.parse(json.dumps(upd))
    assert u.checksum == 123 and len(u.asks) == 1 and len(u.bids) == 1
    assert v.parse('{"event":"heartbeat"}') == (Heartbeat(),)
    assert not v.parse(json.dumps([1, [["1", "2", "3", "s", "m", ""]], "trade", "XBT/USD"]))
    sub = [json.loads(f) for f in v.resubscribe("XBT/USD")]
    assert [f["event"] for f in sub] == ["unsubscribe", "subscribe"] and sub[1]["pair"] == ["XBT/USD"]
    with pytest.raises(ValueError):
        KrakenConfig(depth=7)
    assert v.symbol(parse_instrument("BTC-USD")) == "XBT/USD"
    assert KrakenAdapter(KrakenConfig(version=2), depth=10).symbol(parse_instrument("XBT-USD")) == "BTC/USD"


def test_kraken_v2_keeps_the_wire_digits_for_the_checksum() -> None:
    v = KrakenAdapter(KrakenConfig(version=2, base_url="ws://127.0.0.1:1/v2", depth=10), depth=10)
    # numbers as Kraken v2 sends them (full precision, trailing zeros kept on the wire)
    text = ('{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",'
            '"bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price":45285.2,"qty":0.00100000}],"checksum":1}]}')
    (s,) = v.parse(text)
    assert s.bids == [("45283.5", "0.10000000")] and s.asks == [("45285.2", "0.00100000")]
    sync = BookKeeper(
        venue="kraken", instrument="BTC-USD", symbol="BTC/USD", depth=10, rule=v.rule, checksum=v.checksum
    )
    expected = zlib.crc32(b"452852" + b"100000" + b"452835" + b"10000000")
    s.checksum = expected
    assert not sync.on_snapshot(s).fault and sync.stats.checksums_ok == 1
    assert json.loads(v.subscribe(["BTC/USD"])[0])["params"] == {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}


def test_okx_parse() -> None:
    v = OkxAdapter(OkxConfig(channel="books50-l2-tbt"), depth=10)
    data = {"asks": [["2", "1", "0", "1"]], "bids": [], "ts": "5", "checksum": -7, "seqId": 12, "prevSeqId": 10}
    msg = {"arg": {"channel": "books50-l2-tbt", "instId": "BTC-USDT"}, "action": "update", "data": [data]}
    (u,) = v.parse(json.dumps(msg))
    assert (u.last, u.prev, u.checksum, u.exchange_ts_ns) == (12, 10, -7, 5_000_000)
    assert v.book_depth("BTC-USDT") == 50
    assert not v.parse("pong") and not v.parse('{"event":"subscribe","arg":{}}')
    (rej,) = v.parse(
        '{"event":"error","code":"60018","msg":"Wrong URL or channel","arg":{"channel":"books","instId":"X-Y"}}'
    )
    assert isinstance(rej, Rejected) and rej.symbol == "X-Y" and "60018" in rej.reason


def test_bybit_parse() -> None:
    v = BybitAdapter(BybitConfig(depth=200), depth=10)
    data = {"s": "BTCUSDT", "b": [], "a": [["1", "0"]], "u": 44, "seq": 9}
    msg = {"topic": "orderbook.200.BTCUSDT", "type": "delta", "ts": 3, "data": data}
    (u,) = v.parse(json.dumps(msg))
    assert isinstance(u, Delta) and u.last == 44
    (s,) = v.parse(json.dumps(dict(msg, type="snapshot")))
    assert isinstance(s, Snapshot) and s.last == 44
    assert not v.parse('{"success":true,"op":"subscribe"}')
    with pytest.raises(ValueError):
        v.parse(json.dumps(dict(msg, type="weird")))


# -- top-N snapshot feeds ------------------------------------------------------------------------------


def test_binance_depth_frames_become_top_snapshots() -> None:
    v = BinanceAdapter(BinanceConfig(), depth=2)
    text = ('{"stream":"ethbtc@depth20@100ms","data":{"lastUpdateId":160,'
            '"bids":[["0.0024","10"],["0.0023","1"],["0.0022","1"]],"asks":[["0.0026","100"]]}}')
    for frame in (text, text.encode()):
        (s,) = v.parse(frame)
        assert isinstance(s, Snapshot) and s.symbol == "ethbtc@depth20@100ms" and s.last == 160
        assert s.bids == ((0.0024, 10.0), (0.0023, 1.0)) and s.asks == ((0.0026, 100.0),)
    assert not v.parse('{"result":null,"id":1}')
    with pytest.raises(FrameError) as err:
        v.parse('{"stream":"ethbtc@depth20@100ms","data":{"lastUpdateId":5,"bids":[["x","1"]],"asks":[]}}')
    assert err.value.symbol == "ethbtc@depth20@100ms"  # only that instrument goes stale
    with pytest.raises(FrameError) as err:
        v.parse("not json")
    assert err.value.symbol == ""
    assert v.url(["ethbtc@depth20@100ms", "btcusdt@depth20@100ms"]) == (
        "wss://stream.binance.com:9443/stream?streams=ethbtc@depth20@100ms/btcusdt@depth20@100ms")


def test_bitstamp_order_book_frames_become_top_snapshots() -> None:
    v = BitstampAdapter(BitstampConfig(), depth=1)
    text = (
        '{"data":{"timestamp":"1617654351","microtimestamp":"1617654351123456","bids":[["0.035","1.0"],["0.034","2"]],'
        '"asks":[["0.036","2.0"]]},"channel":"order_book_ethbtc","event":"data"}'
    )
    spaced = json.dumps(json.loads(text))  # the same with spaces after every colon and comma
    for frame in (text, spaced, spaced.encode()):
        (s,) = v.parse(frame)
        assert s.symbol == "order_book_ethbtc" and s.last == 1617654351123456
        assert s.exchange_ts_ns == 1617654351123456000 and s.bids == ((0.035, 1.0),)
    (r,) = v.parse('{"event":"bts:request_reconnect","channel":"","data":""}')
    assert isinstance(r, Reconnect)
    assert not v.parse('{"event":"bts:subscription_succeeded","channel":"order_book_ethbtc","data":{}}')
    with pytest.raises(ConfigError):
        BitstampConfig(base_url="http://example.org")


def test_adapters_check_the_depth_their_channel_carries() -> None:
    with pytest.raises(ConfigError):
        BybitAdapter(BybitConfig(depth=50), depth=51)
    with pytest.raises(ConfigError):
        OkxAdapter(OkxConfig(channel="books50-l2-tbt"), depth=60)
    with pytest.raises(ConfigError):
        KrakenAdapter(KrakenConfig(depth=10), depth=11)
