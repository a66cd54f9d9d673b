"""Diff-feed venue adapters, sequence rules and the per-instrument sync, on self-written messages."""

from __future__ import annotations

import json
import zlib

import pytest

from dragonfly.errors import SequenceGapError
from dragonfly.listeners.diff import (
    Contiguous,
    Delta,
    InstrumentSync,
    NoSequence,
    PrevId,
    Snapshot,
    Timestamp,
    UpdateIdRange,
    Verdict,
)
from dragonfly.model import VenueStatus
from dragonfly.venues.binance.diff import BinanceDiffConfig, BinanceDiffVenue
from dragonfly.venues.bitstamp.diff import BitstampDiffVenue
from dragonfly.venues.bybit import BybitBookConfig, BybitBookVenue
from dragonfly.venues.coinbase import CoinbaseBookConfig, CoinbaseBookVenue
from dragonfly.venues.kraken import KrakenBookConfig, KrakenBookVenue
from dragonfly.venues.okx import OkxBookConfig, OkxBookVenue

A, S, G = Verdict.APPLY, Verdict.SKIP, Verdict.GAP


def d(first: int = -1, last: int = -1, prev: int = -1, **kw: object) -> Delta:
    return Delta(symbol="X", first=first, last=last, prev=prev, **kw)  # type: ignore[arg-type]


# -- rules -------------------------------------------------------------------------------------------


def test_update_id_range_rule() -> None:
    r = UpdateIdRange()
    assert r.verdict(100, True, d(90, 100)) is S  # u <= lastUpdateId
    assert r.verdict(100, True, d(95, 105)) is A  # straddles
    assert r.verdict(100, True, d(101, 105)) is A
    assert r.verdict(100, True, d(102, 105)) is G  # snapshot too old
    assert r.verdict(105, False, d(106, 110)) is A
    assert r.verdict(105, False, d(107, 110)) is G
    assert r.verdict(105, False, d(100, 105)) is S


def test_contiguous_prev_id_timestamp_rules() -> None:
    assert Contiguous().verdict(10, False, d(last=11)) is A
    assert Contiguous().verdict(10, False, d(last=12)) is G
    assert Contiguous().verdict(10, True, d(last=10)) is S
    assert PrevId().verdict(10, False, d(last=15, prev=10)) is A
    assert PrevId().verdict(10, False, d(last=15, prev=9)) is G
    assert PrevId().verdict(10, False, d(last=9, prev=8)) is S
    assert PrevId().verdict(10, False, d(last=-1, prev=-1)) is A  # feeds without seqId
    assert Timestamp().verdict(100, True, d(last=100)) is S
    assert Timestamp().verdict(100, True, d(last=101)) is A
    assert Timestamp().verdict(100, False, d(last=99)) is G  # out of order after the first
    assert Timestamp().verdict(100, False, d(last=100)) is A
    assert NoSequence().verdict(5, False, d()) is A


# -- the sync state machine --------------------------------------------------------------------------


def make_sync(rule: object = None, **kw: object) -> InstrumentSync:
    return InstrumentSync(venue="v", instrument="X-Y", symbol="X", rule=rule or UpdateIdRange(), **kw)  # type: ignore[arg-type]


def test_sync_buffers_until_snapshot_then_goes_live() -> None:
    s = make_sync()
    assert s.status is VenueStatus.SYNCING and s.top(5) == ((), ())
    s.on_delta(d(95, 100, bids=[("1", "1")]))
    s.on_delta(d(101, 103, bids=[("2", "1")], asks=[("5", "1")]))
    assert s.buffered == 2
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("6", "1")], last=100))
    assert step.publish and not step.fault
    assert s.status is VenueStatus.LIVE
    assert s.book.top(5) == (((2.0, 1.0), (1.0, 3.0)), ((5.0, 1.0), (6.0, 1.0)))
    assert (s.stats.skipped, s.stats.applied, s.last) == (1, 1, 103)


def test_sync_stale_snapshot_keeps_buffer_and_asks_again() -> None:
    s = make_sync()
    s.on_delta(d(110, 112, bids=[("1", "1")]))
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], last=100))
    assert step.need_snapshot and not step.fault and s.stats.stale_snapshots == 1
    assert s.status is VenueStatus.SYNCING and s.buffered == 1
    step = s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("2", "1")], last=110))
    assert s.status is VenueStatus.LIVE and s.book.bids() == ((1.0, 1.0),)


@pytest.mark.parametrize(
    ("delta", "fault"),
    [
        (d(105, 106, bids=[("1", "1")]), "gap"),
        (d(101, 101, bids=[("9", "1")]), "crossed"),
        (d(101, 101, bids=[("x", "1")]), "invalid"),
    ],
)
def test_sync_faults_resync(delta: Delta, fault: str) -> None:
    s = make_sync()
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("2", "1")], last=100))
    step = s.on_delta(delta)
    assert step.fault == fault and step.need_snapshot and step.publish
    assert s.status is VenueStatus.STALE and fault in s.reason
    assert len(s.book) == 0 and s.top(1) == ((), ())
    assert s.stats.resyncs == 1
    s.on_delta(d(101, 101))  # buffered while the new snapshot loads
    assert s.buffered == 1


def test_sync_checksum_verified_and_mismatch() -> None:
    s = make_sync(NoSequence(), checksum="kraken", buffer_deltas=False)
    s.on_delta(d(bids=[("1.0", "1.0")]))  # before the snapshot: dropped
    assert s.stats.dropped == 1
    s.on_snapshot(Snapshot(symbol="X", bids=[("1.0", "1.0")], asks=[("2.0", "1.0")]))
    good = zlib.crc32(b"20" + b"10" + b"10" + b"20")
    assert not s.on_delta(d(bids=[("1.0", "2.0")], checksum=good)).fault
    assert s.stats.checksums_ok == 1
    step = s.on_delta(d(bids=[("1.0", "3.0")], checksum=good))
    assert step.fault == "checksum" and s.stats.checksum_errors == 1


def test_sync_disconnect_is_stale_without_fault() -> None:
    s = make_sync()
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], last=100))
    assert s.disconnected("gone").publish
    assert s.status is VenueStatus.STALE and s.stats.resyncs == 0 and s.awaiting_snapshot
    assert not s.disconnected("gone").publish  # unchanged: nothing new to publish


def test_sync_buffer_is_bounded() -> None:
    s = make_sync(buffer_limit=3)
    for i in range(5):
        s.on_delta(d(i, i))
    assert s.buffered == 3 and s.stats.buffer_overflows == 2


def test_sync_arguments_checked() -> None:
    with pytest.raises(ValueError):
        make_sync(checksum="binance")
    with pytest.raises(ValueError):
        make_sync(buffer_limit=0)


# -- venue parsers ------------------------------------------------------------------------------------


def test_binance_parse_and_urls() -> None:
    v = BinanceDiffVenue(BinanceDiffConfig(base_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9"))
    frame = {"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate", "E": 5, "s": "BTCUSDT", "U": 7, "u": 9, "b": [["1.0", "2"]], "a": []}}
    (ev,) = v.parse(json.dumps(frame))
    assert (ev.symbol, ev.first, ev.last, ev.exchange_ts_ns, ev.bids) == ("BTCUSDT", 7, 9, 5_000_000, [["1.0", "2"]])
    assert v.parse('{"stream":"btcusdt@trade","data":{"e":"trade"}}') == []
    assert v.parse('{"result":null,"id":1}') == []
    with pytest.raises(ValueError):
        v.parse("[1,2]")
    assert v.ws_url(["btcusdt", "ETH-USDT"]) == "ws://127.0.0.1:9/stream?streams=btcusdt@depth@100ms/ethusdt@depth@100ms"
    assert v.snapshot_url("btcusdt") == "http://127.0.0.1:9/api/v3/depth?symbol=BTCUSDT&limit=1000"
    snap = v.parse_snapshot("BTCUSDT", '{"lastUpdateId": 12, "bids": [], "asks": [["2", "1"]]}')
    assert snap.last == 12 and snap.asks == [["2", "1"]]
    with pytest.raises(ValueError):
        BinanceDiffConfig(speed="10ms")
    with pytest.raises(ValueError):
        BinanceDiffConfig(rest_url="ftp://x")


def test_bitstamp_parse() -> None:
    v = BitstampDiffVenue()
    frame = {"data": {"timestamp": "1", "microtimestamp": "1000005", "bids": [["1", "2"]], "asks": []}, "channel": "diff_order_book_btcusd", "event": "data"}
    (ev,) = v.parse(json.dumps(frame))
    assert (ev.symbol, ev.last, ev.exchange_ts_ns) == ("btcusd", 1000005, 1000005000)
    assert v.parse('{"event":"bts:subscription_succeeded","channel":"diff_order_book_btcusd","data":{}}') == []
    assert json.loads(v.subscribe_frames(["BTC-USD"])[0]) == {"event": "bts:subscribe", "data": {"channel": "diff_order_book_btcusd"}}
    assert v.snapshot_url("btcusd").endswith("/api/v2/order_book/btcusd/")


def test_coinbase_exchange_and_advanced_parse() -> None:
    v = CoinbaseBookVenue()
    msg = {"type": "l2update", "product_id": "BTC-USD", "changes": [["buy", "1", "2"], ["sell", "3", "0"]], "time": "t"}
    (ev,) = v.parse(json.dumps(msg))
    assert ev.bids == [("1", "2")] and ev.asks == [("3", "0")]
    assert v.parse('{"type":"heartbeat"}') == []
    with pytest.raises(ValueError):
        v.parse('{"type":"l2update","product_id":"X","changes":[["hold","1","2"]]}')
    adv = CoinbaseBookVenue(CoinbaseBookConfig(api="advanced", base_url="ws://127.0.0.1:1"))
    snap = {"channel": "l2_data", "sequence_num": 0, "events": [{"type": "snapshot", "product_id": "BTC-USD", "updates": [
        {"side": "bid", "price_level": "1", "new_quantity": "2"}, {"side": "offer", "price_level": "3", "new_quantity": "4"}]}]}
    (s,) = adv.parse(json.dumps(snap))
    assert isinstance(s, Snapshot) and s.bids == [("1", "2")] and s.asks == [("3", "4")]
    upd = dict(snap, sequence_num=1, events=[{"type": "update", "product_id": "BTC-USD", "updates": []}])
    assert isinstance(adv.parse(json.dumps(upd))[0], Delta)
    with pytest.raises(SequenceGapError):
        adv.parse(json.dumps(dict(upd, sequence_num=5)))
    adv.reset()
    assert adv.parse(json.dumps(dict(upd, sequence_num=9)))  # a new connection starts over


def test_kraken_v1_parse() -> None:
    v = KrakenBookVenue()
    snap = [1, {"as": [["2.0", "1.0", "1617666423.1"]], "bs": [["1.0", "1.0", "1617666423.2"]]}, "book-1000", "XBT/USD"]
    (s,) = v.parse(json.dumps(snap))
    assert isinstance(s, Snapshot) and s.symbol == "XBT/USD" and s.exchange_ts_ns == 1617666423200000000
    upd = [1, {"a": [["2.0", "0.0", "1.0"]]}, {"b": [["1.5", "1.0", "1.0", "r"]], "c": "123"}, "book-1000", "XBT/USD"]
    (u,) = v.parse(json.dumps(upd))
    assert u.checksum == 123 and len(u.asks) == 1 and len(u.bids) == 1
    assert v.parse('{"event":"heartbeat"}') == []
    assert v.parse(json.dumps([1, [["1", "2", "3", "s", "m", ""]], "trade", "XBT/USD"])) == []
    sub = [json.loads(f) for f in v.resubscribe_frames("xbt-usd")]
    assert [f["event"] for f in sub] == ["unsubscribe", "subscribe"] and sub[1]["pair"] == ["XBT/USD"]
    with pytest.raises(ValueError):
        KrakenBookConfig(depth=7)


def test_kraken_v2_keeps_the_wire_digits_for_the_checksum() -> None:
    v = KrakenBookVenue(KrakenBookConfig(version=2, base_url="ws://127.0.0.1:1/v2", depth=10))
    # numbers as Kraken v2 sends them (full precision, trailing zeros kept on the wire)
    text = ('{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",'
            '"bids":[{"price":45283.5,"qty":0.10000000}],"asks":[{"price":45285.2,"qty":0.00100000}],"checksum":1}]}')
    (s,) = v.parse(text)
    assert s.bids == [("45283.5", "0.10000000")] and s.asks == [("45285.2", "0.00100000")]
    sync = InstrumentSync(venue="kraken", instrument="BTC-USD", symbol="BTC/USD", rule=v.rule, checksum="kraken", buffer_deltas=False)
    expected = zlib.crc32(b"452852" + b"100000" + b"452835" + b"10000000")
    s.checksum = expected
    assert not sync.on_snapshot(s).fault and sync.stats.checksums_ok == 1
    assert json.loads(v.subscribe_frames(["BTC/USD"])[0])["params"] == {"channel": "book", "symbol": ["BTC/USD"], "depth": 10}


def test_okx_parse() -> None:
    v = OkxBookVenue(OkxBookConfig(channel="books50-l2-tbt"))
    msg = {"arg": {"channel": "books50-l2-tbt", "instId": "BTC-USDT"}, "action": "update",
           "data": [{"asks": [["2", "1", "0", "1"]], "bids": [], "ts": "5", "checksum": -7, "seqId": 12, "prevSeqId": 10}]}
    (u,) = v.parse(json.dumps(msg))
    assert (u.last, u.prev, u.checksum, u.exchange_ts_ns) == (12, 10, -7, 5_000_000)
    assert v.book_depth("BTC-USDT") == 50
    assert v.parse("pong") == [] and v.parse('{"event":"subscribe","arg":{}}') == []


def test_bybit_parse() -> None:
    v = BybitBookVenue(BybitBookConfig(depth=200))
    msg = {"topic": "orderbook.200.BTCUSDT", "type": "delta", "ts": 3, "data": {"s": "BTCUSDT", "b": [], "a": [["1", "0"]], "u": 44, "seq": 9}}
    (u,) = v.parse(json.dumps(msg))
    assert isinstance(u, Delta) and u.last == 44
    (s,) = v.parse(json.dumps(dict(msg, type="snapshot")))
    assert isinstance(s, Snapshot) and s.last == 44
    assert v.parse('{"success":true,"op":"subscribe"}') == []
    with pytest.raises(ValueError):
        v.parse(json.dumps(dict(msg, type="weird")))


def test_sync_side_that_is_not_a_list_is_invalid_not_a_crash() -> None:
    s = make_sync()
    s.on_snapshot(Snapshot(symbol="X", bids=[("1", "3")], asks=[("2", "1")], last=100))
    step = s.on_delta(Delta(symbol="X", bids=None, asks=[], first=101, last=101))  # type: ignore[arg-type]
    assert step.fault == "invalid" and s.status is VenueStatus.STALE
    step = s.on_snapshot(Snapshot(symbol="X", bids=5, last=200))  # type: ignore[arg-type]
    assert step.fault == "invalid" and s.awaiting_snapshot
