"""The Bitfinex adapter and its simulator encoder on self-written frames (Bitfinex WebSocket v2 formats).

Conformance on the live capture is in tests/integration/captures/test_bitfinex.py; the adapter
against its simulator over sockets in the shared venue contract (tests/integration/venues).
"""

from __future__ import annotations

import json
import zlib

import pytest
from conftest import core_module

from dragonfly.errors import ConfigError, FrameError, SequenceGapError
from dragonfly.instruments import parse_instrument
from dragonfly.listeners.events import Delta, Heartbeat, Reconnect, Rejected, Snapshot
from dragonfly.listeners.keeper import BookKeeper, Fault
from dragonfly.model import VenueStatus
from dragonfly.sim.encoder import BookState, Update
from dragonfly.venues.bitfinex import VENUES, BitfinexAdapter, BitfinexConfig
from dragonfly.venues.bitfinex import adapter as adapter_module
from dragonfly.venues.bitfinex.sim import BitfinexEncoder, js_number

SPEC = VENUES[0]
CHAN = 17082


def _adapter(depth: int = 10, **kw: object) -> BitfinexAdapter:
    return BitfinexAdapter(BitfinexConfig(**kw), depth=depth)  # type: ignore[arg-type]


def _subscribed(v: BitfinexAdapter, symbol: str = "tETHBTC", chan: int = CHAN) -> None:
    msg = {"event": "subscribed", "channel": "book", "chanId": chan, "symbol": symbol, "prec": "P0",
           "freq": "F0", "len": "25", "pair": symbol[1:]}
    assert v.parse(json.dumps(msg)) == ()


def _msg(*parts: object) -> str:
    return json.dumps(list(parts))


def _crc(items: list[str]) -> int:
    """Bitfinex's checksum written out here: signed CRC32 of the items joined with ':'."""
    crc = zlib.crc32(":".join(items).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


# -- configuration, symbols, requests ---------------------------------------------------------------


def test_config_defaults_and_checks() -> None:
    c = BitfinexConfig()
    assert (c.base_url, c.length, c.checksum, c.currencies) == ("wss://api-pub.bitfinex.com/ws/2", 25, True, ())
    assert BitfinexConfig(length=100).length == 100 and BitfinexConfig(length=250).length == 250
    for bad in (1, 10, 26, "25", 0):
        with pytest.raises(ConfigError):
            BitfinexConfig(length=bad)  # type: ignore[arg-type]
    for url in ("http://api-pub.bitfinex.com/ws/2", "wss://", "ws://127.0.0.1:99999", ""):
        with pytest.raises(ConfigError):
            BitfinexConfig(base_url=url)
    with pytest.raises(ConfigError):
        BitfinexConfig(checksum=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        BitfinexConfig(currencies={"eth2": "eth 2x"})
    with pytest.raises(ConfigError):
        BitfinexConfig(currencies=[("ETH2",)])  # type: ignore[list-item]
    # a mapping is stored as sorted upper-case pairs (hashable, frozen)
    c = BitfinexConfig(currencies={"eth2": "eth2x", "ALGO": "ALG"})
    assert c.currencies == (("ALGO", "ALG"), ("ETH2", "ETH2X"))
    hash(c)
    # the registry entry: overrides of base_url are checked, there is no REST snapshot
    assert SPEC.name == "bitfinex" and SPEC.kind == "diff" and SPEC.max_depth == 250 and not SPEC.default
    assert SPEC.make_config(base_url="ws://127.0.0.1:9").base_url == "ws://127.0.0.1:9"
    with pytest.raises(ConfigError):
        SPEC.make_config(rest_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError):
        SPEC.check_base_url("ftp://x")


def test_symbols() -> None:
    v = _adapter()
    cases = {
        "ETH-BTC": "tETHBTC",
        "ethbtc": "tETHBTC",
        "BTC-USD": "tBTCUSD",
        "BTC-USDT": "tBTCUST",  # Bitfinex's code for Tether
        "ETH-USDC": "tETHUDC",
        "DASH-BTC": "tDSHBTC",
        "DOGE-USD": "tDOGE:USD",  # a code longer than three letters: the colon form
        "TESTBTC-TESTUSD": "tTESTBTC:TESTUSD",
        "ETH-TESTUSD": "tETH:TESTUSD",
    }
    for name, symbol in cases.items():
        assert v.symbol(parse_instrument(name)) == symbol, name
    extra = _adapter(currencies={"ETH2": "ETH2X"})
    assert extra.symbol(parse_instrument("ETH2-ETH")) == "tETH2X:ETH"  # as in the live capture
    assert extra.symbol(parse_instrument("BTC-USDT")) == "tBTCUST"  # the built-in codes still apply


def test_subscribe_unsubscribe_resubscribe() -> None:
    v = _adapter()
    conf, sub = (json.loads(m) for m in v.subscribe(["tETHBTC"]))
    assert conf == {"event": "conf", "flags": 65536 + 131072}  # SEQ_ALL + OB_CHECKSUM, first
    assert sub == {
        "event": "subscribe", "channel": "book", "symbol": "tETHBTC", "prec": "P0", "freq": "F0", "len": "25"
    }
    assert json.loads(_adapter(length=100, checksum=False).subscribe([])[0]) == {"event": "conf", "flags": 65536}
    assert [json.loads(m)["symbol"] for m in v.subscribe(["tETHBTC", "tBTCUST"])[1:]] == ["tETHBTC", "tBTCUST"]
    # no channel yet: nothing to unsubscribe; a resubscribe is a subscribe (without a second conf)
    assert v.unsubscribe(["tETHBTC"]) == [] and v.channel("tETHBTC") is None
    assert [json.loads(m)["event"] for m in v.resubscribe("tETHBTC")] == ["subscribe"]
    _subscribed(v)
    assert v.channel("tETHBTC") == CHAN
    assert [json.loads(m) for m in v.unsubscribe(["tETHBTC", "tBTCUST"])] == [{"event": "unsubscribe", "chanId": CHAN}]
    resub = [json.loads(m) for m in v.resubscribe("tETHBTC")]
    assert resub == [{"event": "unsubscribe", "chanId": CHAN}, sub]
    # the venue confirms; the channel is gone; a new subscription brings a new id
    assert v.parse(json.dumps({"event": "unsubscribed", "status": "OK", "chanId": CHAN})) == ()
    assert v.channel("tETHBTC") is None
    _subscribed(v, chan=CHAN + 1)
    assert v.channel("tETHBTC") == CHAN + 1
    # channel ids belong to one connection
    v.connected()
    assert v.channel("tETHBTC") is None
    assert v.url(["tETHBTC"]) == "wss://api-pub.bitfinex.com/ws/2"


def test_depth_and_book_cap() -> None:
    assert _adapter(depth=25).book_depth("tETHBTC") == 25
    assert _adapter(depth=25, length=100).book_depth("tETHBTC") == 100
    with pytest.raises(ConfigError):
        _adapter(depth=26)
    assert _adapter().snapshot_source == "resubscribe" and _adapter().full_book
    assert _adapter().checksum == "crc32_top25_signed_amounts" and _adapter(checksum=False).checksum is None


# -- book messages ----------------------------------------------------------------------------------


def test_snapshot_and_levels_without_checksums() -> None:
    v = _adapter(checksum=False)
    _subscribed(v)
    snap = f"[{CHAN},[[0.035,2,1.5],[0.0349,1,0.0000081],[0.0351,1,-2.25],[0.036,3,-4.9e-7]],1]"
    (s,) = v.parse(snap)
    assert isinstance(s, Snapshot) and s.symbol == "tETHBTC"
    # the venue's number text is kept; asks lose their sign
    assert s.bids == [("0.035", "1.5"), ("0.0349", "0.0000081")]
    assert s.asks == [("0.0351", "2.25"), ("0.036", "4.9e-7")]
    (d,) = v.parse(f"[{CHAN},[0.0352,4,-7],2]")
    assert isinstance(d, Delta) and d.bids == [] and d.asks == [("0.0352", "7")] and d.checksum is None
    (d,) = v.parse(f"[{CHAN},[0.035,0,1],3]")  # count 0: delete; amount 1: a bid
    assert d.bids == [("0.035", "0")] and d.asks == []
    (d,) = v.parse(f"[{CHAN},[0.0351,0,-1],4]")
    assert d.bids == [] and d.asks == [("0.0351", "0")]
    (d,) = v.parse(f"[{CHAN},[0.034,1,12.5],5]")
    assert d.bids == [("0.034", "12.5")]
    (e,) = v.parse(f'[{CHAN},[],6]')  # an empty book
    assert isinstance(e, Snapshot) and e.bids == [] and e.asks == []
    assert v.parse(f'[{CHAN},"hb",7]') == (Heartbeat(symbol="tETHBTC"),)
    (cs,) = v.parse(f'[{CHAN},"cs",-12345,8]')  # sent anyway: an empty delta with the checksum
    assert cs == Delta(symbol="tETHBTC", checksum=-12345)


def test_levels_are_held_until_their_checksum() -> None:
    v = _adapter()
    _subscribed(v)
    _subscribed(v, "tBTCUST", CHAN + 5)
    (s,) = v.parse(f"[{CHAN},[[100.5,1,1],[101,1,-2]],1]")
    assert isinstance(s, Snapshot)
    (c0,) = v.parse(f'[{CHAN},"cs",111,2]')  # the snapshot's own checksum
    assert c0 == Delta(symbol="tETHBTC", checksum=111)
    assert v.parse(f"[{CHAN},[100.4,2,3],3]") == ()
    assert v.parse(f"[{CHAN + 5},[9,1,-1],4]") == ()  # another book, held apart
    assert v.parse(f"[{CHAN},[101,0,-1],5]") == ()
    assert v.parse(f"[{CHAN},[100.5,3,0.25],6]") == ()
    (d,) = v.parse(f'[{CHAN},"cs",-222,7]')
    assert d == Delta(symbol="tETHBTC", bids=[("100.4", "3"), ("100.5", "0.25")], asks=[("101", "0")], checksum=-222)
    (d2,) = v.parse(f'[{CHAN + 5},"cs",5,8]')
    assert d2 == Delta(symbol="tBTCUST", bids=[], asks=[("9", "1")], checksum=5)
    # a snapshot drops what was held (it replaces the book)
    assert v.parse(f"[{CHAN},[100.4,1,1],9]") == ()
    v.parse(f"[{CHAN},[[100,1,1]],10]")
    (d3,) = v.parse(f'[{CHAN},"cs",7,11]')
    assert d3 == Delta(symbol="tETHBTC", checksum=7)
    # so does a new subscription of the book
    assert v.parse(f"[{CHAN},[100.3,1,1],12]") == ()
    _subscribed(v, chan=CHAN + 9)
    v.parse(f"[{CHAN + 9},[[100,1,1]],13]")
    assert v.parse(f'[{CHAN + 9},"cs",8,14]') == (Delta(symbol="tETHBTC", checksum=8),)


def test_too_many_levels_without_a_checksum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter_module, "MAX_PENDING", 3)
    v = _adapter()
    _subscribed(v)
    for i in range(3):
        assert v.parse(f"[{CHAN},[{100 + i},1,1]]") == ()
    with pytest.raises(FrameError) as err:
        v.parse(f"[{CHAN},[104,1,1]]")
    assert err.value.symbol == "tETHBTC"
    assert v.parse(f'[{CHAN},"cs",1]') == (Delta(symbol="tETHBTC", checksum=1),)  # what was held is gone


def test_connection_sequence() -> None:
    v = _adapter()
    _subscribed(v)
    v.parse(f"[{CHAN},[[1,1,1]],41]")  # a connection starts anywhere
    v.parse(f'[{CHAN},"hb",42]')
    v.parse(f'[{CHAN},"cs",5,43]')
    v.parse("[146470,[0.98,47.9,0.999,439.4,0,0,0.999,0.1,0.999,0.999],44]")  # another channel counts too
    v.parse('[117757,"te",[1,1617617932920,-359.4,0.15],45]')
    assert v.parse(json.dumps({"event": "info", "version": 2})) == ()  # events are not numbered
    with pytest.raises(SequenceGapError) as err:
        v.parse(f"[{CHAN},[2,1,1],47]")  # 46 was lost
    assert (err.value.expected, err.value.got) == (46, 47)
    v.parse(f"[{CHAN},[2,1,1],48]")  # and goes on from there
    with pytest.raises(SequenceGapError):
        v.parse(f'[{CHAN},"hb",48]')  # a repeat is not the next either
    v.connected()
    _subscribed(v)
    v.parse(f'[{CHAN},"hb",1]')  # a new connection starts over
    # unnumbered messages (conf without SEQ_ALL) are read, and checked by nothing
    w = _adapter(checksum=False)
    _subscribed(w)
    assert isinstance(w.parse(f"[{CHAN},[1,1,1]]")[0], Delta)
    assert isinstance(w.parse(f'[{CHAN},"cs",3]')[0], Delta)


def test_a_gap_drops_the_held_levels() -> None:
    v = _adapter()
    _subscribed(v)
    v.parse(f"[{CHAN},[[1,1,1]],1]")
    assert v.parse(f"[{CHAN},[2,1,1],2]") == ()
    with pytest.raises(SequenceGapError):
        v.parse(f"[{CHAN},[3,1,1],4]")
    assert v.parse(f'[{CHAN},"cs",9,5]') == (Delta(symbol="tETHBTC", checksum=9),)


def test_other_channels() -> None:
    v = _adapter()
    _subscribed(v)
    ticker = {"event": "subscribed", "channel": "ticker", "chanId": 146470, "symbol": "tETHBTC", "pair": "ETHBTC"}
    assert v.parse(json.dumps(ticker)) == ()
    assert v.parse("[146470,[0.98,47.9,0.999,439.4,0,0,0.999,0.1,0.999,0.999],1]") == ()
    assert v.parse('[146470,"hb",2]') == ()
    # book data on a channel no subscription announced: an event of no instrument (unroutable)
    assert v.parse("[999,[1,1,1],3]") == ()  # a level: it would come out with its checksum
    assert v.parse('[999,"cs",5,4]') == (Delta(symbol=""),)
    assert v.parse("[999,[[1,1,1]],5]") == (Delta(symbol=""),)
    assert v.parse('[999,"hb",6]') == ()
    w = _adapter(checksum=False)
    assert w.parse("[999,[1,1,1]]") == (Delta(symbol=""),)
    # an unsubscribed channel is unknown again
    assert v.parse(json.dumps({"event": "unsubscribed", "status": "OK", "chanId": CHAN})) == ()
    assert v.parse(f"[{CHAN},[[1,1,1]],7]") == (Delta(symbol=""),)
    assert v.parse(f'[{CHAN},"xx",8]') == ()


# -- events -----------------------------------------------------------------------------------------


def test_control_events() -> None:
    v = _adapter()
    assert v.parse('{"event":"info","version":2,"serverId":"x","platform":{"status":1}}') == ()
    assert v.parse('{"event":"conf","status":"OK","flags":196608}') == ()
    assert v.parse('{"event":"pong","ts":1,"cid":2}') == ()
    with pytest.raises(FrameError):
        v.parse('{"event":"conf","status":"FAILED","flags":196608}')
    for code in (20051, 20061):
        (r,) = v.parse(json.dumps({"event": "info", "code": code, "msg": "Stopping. Please try to reconnect"}))
        assert isinstance(r, Reconnect) and str(code) in r.reason
    assert v.parse('{"event":"info","code":20060,"msg":"Entering in Maintenance mode"}') == ()
    error = {"channel": "book", "pair": "XXXBTC", "prec": "P0", "len": "25", "event": "error", "symbol": "tXXXBTC",
             "msg": "symbol: invalid", "code": 10300}
    (rej,) = v.parse(json.dumps(error))
    assert isinstance(rej, Rejected) and rej.symbol == "tXXXBTC" and rej.reason == "10300 symbol: invalid"
    assert v.parse(json.dumps(dict(error, channel="ticker"))) == ()  # not a book
    assert v.parse('{"event":"error","msg":"unsubscribe: invalid","code":10400,"chanId":5}') == ()
    assert v.parse('{"event":"auth","status":"OK"}') == ()


# -- malformed input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "[17082,[0.035,1,1x],5]",  # not JSON, but its ends read: blamed on the channel's book
        "[17082,[1.0,1.5,2],5]",  # count not an integer
        "[17082,[1.0,1,0],5]",  # amount 0: no side
        "[17082,[1.0,0,0],5]",  # a delete naming no side
        "[17082,[1.0,-1,2],5]",  # negative count
        "[17082,[1.0,1],5]",  # too short
        '[17082,[1.0,1,"x"],5]',
        "[17082,[[1.0,1,2],[1.1,0,-1]],5]",  # a snapshot level with count 0
        "[17082,[[1.0,1,2],7],5]",
        '[17082,"cs","x",5]',
        "[17082,[1.0,1,2],5.5]",  # sequence not an integer
        '[17082,[1.0,1,2],"5"]',
        "[17082,{},5]",
    ],
)
def test_malformed_book_messages_name_their_book(frame: str) -> None:
    v = _adapter()
    _subscribed(v)
    v.parse(f'[{CHAN},"hb",4]')
    with pytest.raises(FrameError) as err:
        v.parse(frame)
    assert err.value.symbol == "tETHBTC"


def test_malformed_frames_of_unknown_book() -> None:
    v = _adapter()
    _subscribed(v)
    for frame in ("\x00garbage{", f"[{CHAN},[0.0", "[]", "[1]", '["x",[1,1,1]]', "[1.5,[1,1,1]]", "5", '"hb"',
                  '{"event":"subscribed","channel":"book"}'):
        with pytest.raises(FrameError) as err:
            v.parse(frame)
        assert err.value.symbol == "", frame


def test_a_malformed_frame_keeps_its_number() -> None:
    v = _adapter()
    _subscribed(v)
    v.parse(f"[{CHAN},[[1,1,1]],1]")
    assert v.parse(f"[{CHAN},[2,1,1],2]") == ()
    with pytest.raises(FrameError):
        v.parse(f"[{CHAN},[3,1,1x],3]")
    # its number was read: the next one follows; what the book held was dropped with it
    assert v.parse(f'[{CHAN},"cs",9,4]') == (Delta(symbol="tETHBTC", checksum=9),)
    # a truncated frame has no readable number: the one after it shows the loss
    with pytest.raises(FrameError):
        v.parse(f"[{CHAN},[3,1,1],5")
    with pytest.raises(SequenceGapError):
        v.parse(f'[{CHAN},"hb",6]')


# -- the checksum on a hand-built book -------------------------------------------------------------


def _keeper(v: BitfinexAdapter, impl: str) -> BookKeeper:
    return BookKeeper(venue="bitfinex", instrument="ETH-BTC", symbol="tETHBTC", depth=10, rule=v.rule,
                      checksum=v.checksum, max_depth=v.book_depth("tETHBTC"), book_type=core_module("book", impl).Book)


def test_checksum_of_a_hand_built_book(core_impl: str) -> None:
    v = _adapter(length=100)
    _subscribed(v)
    k = _keeper(v, core_impl)
    # 27 bids and 3 asks: the checksum takes the top 25 bids, interleaved with the asks while they last
    bids = [(f"{100 - i * 0.5:g}", f"{1 + i}.25") for i in range(27)]
    asks = [("100.5", "0.0000081"), ("101", "4.9e-7"), ("102", "3")]
    entries = [f"[{p},1,{q}]" for p, q in bids] + [f"[{p},2,-{q}]" for p, q in asks]
    (snap,) = v.parse(f"[{CHAN},[{','.join(entries)}],1]")
    assert not k.on_snapshot(snap).fault and k.status is VenueStatus.LIVE
    items: list[str] = []
    for i in range(25):
        items += list(bids[i])
        if i < len(asks):
            items += [asks[i][0], "-" + asks[i][1]]
    (cs,) = v.parse(f'[{CHAN},"cs",{_crc(items)},2]')
    assert not k.on_delta(cs).fault and k.stats.checksums_ok == 1
    # changes, then their checksum: the best ask goes, a bid changes, one is deleted
    for i, frame in enumerate((f"[{CHAN},[100.5,0,-1]]", f"[{CHAN},[100,3,7.5]]", f"[{CHAN},[99.5,0,1]]")):
        assert v.parse(frame[:-1] + f",{3 + i}]") == ()
    bids = [("100", "7.5"), *bids[2:]]
    asks = asks[1:]
    items = []
    for i in range(25):
        items += list(bids[i])
        if i < len(asks):
            items += [asks[i][0], "-" + asks[i][1]]
    (d,) = v.parse(f'[{CHAN},"cs",{_crc(items)},6]')
    assert len(d.bids) == 2 and len(d.asks) == 1
    step = k.on_delta(d)
    assert not step.fault and k.stats.checksums_ok == 2 and k.status is VenueStatus.LIVE
    assert k.book.top(2) == (((100.0, 7.5), (99.0, 3.25)), ((101.0, 4.9e-7), (102.0, 3.0)))
    # a checksum that disagrees: the held change is refused, the book resyncs, never published
    before = k.emit(10**9)
    assert v.parse(f"[{CHAN},[100,3,8]]") == ()
    (bad,) = v.parse(f'[{CHAN},"cs",{_crc(items)}]')  # the checksum of the book without that change
    step = k.on_delta(bad)
    assert step.fault is Fault.CHECKSUM and step.need_snapshot and k.status is VenueStatus.STALE
    assert before is not None and before.bids[0] == (100.0, 7.5)
    assert k.top() == ((), ())


def test_a_crossing_level_is_refuted_by_its_checksum(core_impl: str) -> None:
    v = _adapter()
    _subscribed(v)
    k = _keeper(v, core_impl)
    k.on_snapshot(v.parse(f"[{CHAN},[[10,1,1],[11,1,-1]]]")[0])
    v.parse(f"[{CHAN},[12,1,2]]")  # a bid above the best ask
    (d,) = v.parse(f'[{CHAN},"cs",{_crc(["10", "1", "11", "-1"])}]')
    assert k.on_delta(d).fault is Fault.CHECKSUM  # checked before the crossing: the venue's book lacks it


# -- the simulator encoder --------------------------------------------------------------------------


def test_js_number() -> None:
    cases = {0.0: "0", 7254.5: "7254.5", 230850.0: "230850", 0.0000081: "0.0000081", 4.9e-7: "4.9e-7",
             1e-6: "0.000001", 1e-7: "1e-7", 1e20: "100000000000000000000", 1e21: "1e+21", -0.5: "-0.5",
             12.345: "12.345", 1.5e-300: "1.5e-300"}
    for x, text in cases.items():
        assert js_number(x) == text, x
        assert float(text) == x


def test_encoder_frames_read_back() -> None:
    cfg = BitfinexConfig()
    enc, v = BitfinexEncoder(cfg), BitfinexAdapter(cfg, depth=10)
    assert enc.symbol(parse_instrument("BTC-USDT")) == v.symbol(parse_instrument("BTC-USDT")) == "tBTCUST"
    subs: set[str] = set()

    class Conn:
        def subscribe(self, symbol: str, key: str = "") -> bool:
            if symbol == "tNOPE":
                return False
            subs.add(symbol)
            return True

        def unsubscribe(self, symbol: str, key: str = "") -> bool:
            subs.discard(symbol)
            return True

        def keys(self) -> list[str]:
            return sorted(subs)

    conn = Conn()
    replies = [r for m in v.subscribe(["tETHBTC", "tNOPE"]) for r in enc.client_message(m, conn)]
    assert json.loads(replies[0]) == {"event": "conf", "status": "OK", "flags": 196608}
    events = [e for r in replies for e in v.parse(r)]
    assert events == [Rejected(symbol="tNOPE", reason="10300 symbol: invalid")]
    chan = enc.channel_id("tETHBTC")
    assert v.channel("tETHBTC") == chan and 100_000 <= chan < 1_000_000
    (dup,) = enc.client_message(v.resubscribe("tETHBTC")[-1], conn)  # without unsubscribing first
    assert json.loads(dup)["code"] == 10301
    unsub, sub = v.resubscribe("tETHBTC")
    assert [v.parse(r) for m in (unsub, sub) for r in enc.client_message(m, conn)] == [(), ()]
    assert subs == {"tETHBTC"} and v.channel("tETHBTC") == chan
    # a snapshot and a delta, numbered as a connection numbers them
    book = BookState(
        symbol="tETHBTC", bids=[["100.5", "1.25"]], asks=[["101", "0.0000081"]], last=1, micro=0, checksum=7
    )
    (s,) = v.parse(enc.stamp(enc.snapshot_frame(book), 0))
    assert s.bids == [("100.5", "1.25")] and s.asks == [("101", "0.0000081")]
    u = Update(symbol="tETHBTC", bids=[["100.5", "0"], ["100", "2"]], asks=[["101.5", "3"]], first=2, last=2,
               prev=1, checksum=-9, micro=1)
    frames = enc.delta_frame(u)
    assert frames == [f"[{chan},[100.5,0,1]]", f"[{chan},[100,1,2]]", f"[{chan},[101.5,1,-3]]", f'[{chan},"cs",-9]']
    events = [e for i, f in enumerate(frames) for e in v.parse(enc.stamp(f, i + 1))]
    assert events == [Delta(symbol="tETHBTC", bids=[("100.5", "0"), ("100", "2")], asks=[("101.5", "3")], checksum=-9)]
    assert enc.stamp('{"event":"info"}', 5) is None
    assert enc.heartbeat() is None and isinstance(v.parse(enc.reconnect_request() or "")[0], Reconnect)
    assert BitfinexEncoder(BitfinexConfig(checksum=False)).delta_frame(u)[-1] == f"[{chan},[101.5,1,-3]]"
