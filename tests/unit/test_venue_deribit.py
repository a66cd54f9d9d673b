"""The Deribit adapter and its simulator encoder on self-written frames (Deribit API v2 formats).

Conformance on the live capture is in tests/integration/captures/test_deribit.py; the adapter
against its simulator over sockets in the shared venue contract (tests/integration/venues).
"""

from __future__ import annotations

import json

import pytest
from conftest import core_module

from dragonfly.errors import ConfigError, ExtractError, FrameError
from dragonfly.instruments import parse_instrument
from dragonfly.listeners.events import Delta, Heartbeat, Rejected, Reply, Snapshot
from dragonfly.listeners.keeper import BookKeeper, Fault
from dragonfly.model import VenueStatus
from dragonfly.sim.encoder import BookState, Update
from dragonfly.venues.deribit import DeribitAdapter, DeribitConfig, instrument_name
from dragonfly.venues.deribit.sim import DeribitEncoder
from dragonfly.venues.registry import get_venue


def _adapter(**kw: object) -> DeribitAdapter:
    return DeribitAdapter(DeribitConfig(**kw), depth=10)  # type: ignore[arg-type]


def _book(
    kind: str,
    symbol: str = "BTC-PERPETUAL",
    *,
    bids: list | None = None,
    asks: list | None = None,
    change_id: int = 8,
    prev: int | None = 7,
    channel: str | None = None,
) -> str:
    data: dict = {
        "type": kind,
        "timestamp": 1617644858339,
        "instrument_name": symbol,
        "change_id": change_id,
        "bids": bids if bids is not None else [],
        "asks": asks if asks is not None else [],
    }
    if prev is not None and kind == "change":
        data["prev_change_id"] = prev
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {"channel": channel or f"book.{symbol}.100ms", "data": data},
        }
    )


# -- instruments, configuration, requests -----------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "deribit"),
    [
        ("BTC-PERPETUAL", "BTC-PERPETUAL"),
        ("eth-perpetual", "ETH-PERPETUAL"),
        ("SOL-USDCPERPETUAL", "SOL_USDC-PERPETUAL"),
        ("BTC-25MAR22", "BTC-25MAR22"),
        ("ETH-9APR211950C", "ETH-9APR21-1950-C"),
        ("BTC-31DEC21300000P", "BTC-31DEC21-300000-P"),
        ("XRP-USDC29NOV240D6C", "XRP_USDC-29NOV24-0d6-C"),
        ("BTC-USDC", "BTC_USDC"),
        ("ethbtc", "ETH_BTC"),
    ],
)
def test_instrument_names(written: str, deribit: str) -> None:
    inst = parse_instrument(written)
    assert instrument_name(inst) == deribit
    assert _adapter().symbol(inst) == deribit
    assert DeribitEncoder(DeribitConfig()).symbol(inst) == deribit


def test_config_checks() -> None:
    assert DeribitConfig().base_url == "wss://www.deribit.com/ws/api/v2"
    assert get_venue("deribit").make_config(base_url="ws://127.0.0.1:9").base_url == "ws://127.0.0.1:9"
    for bad in (
        {"interval": "agg2"},
        {"interval": "1s"},
        {"heartbeat_s": 9},
        {"heartbeat_s": True},
        {"heartbeat_s": 30.0},
        {"max_depth": 0},
        {"base_url": "https://www.deribit.com"},
        {"base_url": "ws://"},
    ):
        with pytest.raises(ConfigError):
            DeribitConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at most 5"):
        DeribitAdapter(DeribitConfig(max_depth=5), depth=10)
    assert _adapter(max_depth=20).book_depth("BTC-PERPETUAL") == 20


def test_subscribe_messages() -> None:
    v = _adapter()
    hb, sub = (json.loads(m) for m in v.subscribe(["BTC-PERPETUAL", "ETH-9APR21-1950-C"]))
    assert hb == {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 30}}
    assert sub == {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "public/subscribe",
        "params": {"channels": ["book.BTC-PERPETUAL.100ms", "book.ETH-9APR21-1950-C.100ms"]},
    }
    (unsub,) = (json.loads(m) for m in v.unsubscribe(["BTC-PERPETUAL"]))
    assert unsub == {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "public/unsubscribe",
        "params": {"channels": ["book.BTC-PERPETUAL.100ms"]},
    }
    # a snapshot on the stream: unsubscribe + subscribe, no new heartbeat request
    assert [json.loads(m)["method"] for m in v.resubscribe("BTC-PERPETUAL")] == [
        "public/unsubscribe",
        "public/subscribe",
    ]
    raw = _adapter(interval="raw", heartbeat_s=10)
    hb, sub = (json.loads(m) for m in raw.subscribe(["BTC-PERPETUAL"]))
    assert hb["params"] == {"interval": 10} and sub["params"]["channels"] == ["book.BTC-PERPETUAL.raw"]
    assert v.url(["BTC-PERPETUAL"]) == "wss://www.deribit.com/ws/api/v2"


# -- book notifications -------------------------------------------------------------------------


def test_snapshot_and_change() -> None:
    v = _adapter()
    (s,) = v.parse(
        _book("snapshot", bids=[["new", 0.0795, 4.0], ["new", 0.079, 4.0]], asks=[["new", 0.0945, 5.0]], change_id=7)
    )
    assert isinstance(s, Snapshot)
    assert (s.symbol, s.last, s.exchange_ts_ns) == ("BTC-PERPETUAL", 7, 1617644858339_000_000)
    assert s.bids == [("0.0795", "4.0"), ("0.079", "4.0")] and s.asks == [("0.0945", "5.0")]
    (d,) = v.parse(
        _book(
            "change",
            bids=[["delete", 0.0255, 0.0], ["new", 0.026, 299.0]],
            asks=[["change", 0.0945, 3]],
            change_id=8,
            prev=7,
        )
    )
    assert isinstance(d, Delta) and d.strict
    assert (d.symbol, d.prev, d.last) == ("BTC-PERPETUAL", 7, 8)
    assert d.bids == [("0.0255", "0", "delete"), ("0.026", "299.0", "new")]
    assert d.asks == [("0.0945", "3", "change")]
    # a delete removes the level whatever amount it carries
    (d,) = v.parse(_book("change", bids=[["delete", 1.5, 2.0]]))
    assert d.bids == [("1.5", "0", "delete")]
    # an empty book (Deribit sends one for an instrument without orders)
    (e,) = v.parse(_book("snapshot", change_id=0))
    assert e.bids == [] and e.asks == [] and e.last == 0
    # the symbol comes from the notification (also when it only names the channel)
    (d,) = v.parse(_book("change", "ETH-9APR21-1950-C", bids=[["new", 1, 1]]))
    assert d.symbol == "ETH-9APR21-1950-C"
    msg = json.loads(_book("change", "ETH-9APR21-1950-C"))
    del msg["params"]["data"]["instrument_name"]
    assert v.parse(json.dumps(msg))[0].symbol == "ETH-9APR21-1950-C"


def test_control_frames() -> None:
    v = _adapter()
    assert v.parse('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}') == (Heartbeat(),)
    (reply,) = v.parse('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}')
    assert isinstance(reply, Reply)
    answer = json.loads(reply.data)
    assert answer["method"] == "public/test" and answer["params"] == {} and answer["jsonrpc"] == "2.0"
    (again,) = v.parse('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}')
    assert json.loads(again.data)["id"] != answer["id"]
    assert (
        v.parse(
            '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-PERPETUAL.raw",'
            '"data":{"best_bid_price":1}}}'
        )
        == ()
    )
    assert (
        v.parse('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.raw","data":[]}}')
        == ()
    )
    assert v.parse('{"jsonrpc":"2.0","id":99,"result":{"version":"1.2.26"}}') == ()  # not a pending subscribe


def test_refused_subscriptions_are_rejected() -> None:
    v = _adapter()
    _, sub = v.subscribe(["BTC-PERPETUAL", "NOPE-PERPETUAL"])
    rid = json.loads(sub)["id"]
    assert v.parse(json.dumps({"jsonrpc": "2.0", "id": rid - 1, "result": "ok"})) == ()  # set_heartbeat
    # Deribit leaves a channel it does not have out of the answer
    (rej,) = v.parse(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "result": ["book.BTC-PERPETUAL.100ms"],
                "usIn": 1,
                "usOut": 2,
                "usDiff": 1,
                "testnet": False,
            }
        )
    )
    assert rej == Rejected(symbol="NOPE-PERPETUAL", reason="no such channel")
    assert v.parse(json.dumps({"jsonrpc": "2.0", "id": rid, "result": []})) == ()  # answered once only
    (unsub,) = v.unsubscribe(["BTC-PERPETUAL"])
    assert v.parse(json.dumps({"jsonrpc": "2.0", "id": json.loads(unsub)["id"], "result": []})) == ()
    # a JSON-RPC error refuses every channel of the request
    sub = v.resubscribe("BTC-PERPETUAL")[-1]
    err = {"jsonrpc": "2.0", "id": json.loads(sub)["id"], "error": {"code": 11050, "message": "bad_request"}}
    assert v.parse(json.dumps(err)) == (Rejected(symbol="BTC-PERPETUAL", reason="11050 bad_request"),)
    # a new connection: answers to the old one's requests are not ours any more
    _, sub = v.subscribe(["BTC-PERPETUAL"])
    v.connected()
    assert v.parse(json.dumps({"jsonrpc": "2.0", "id": json.loads(sub)["id"], "result": []})) == ()
    with pytest.raises(FrameError):
        v.parse(json.dumps({"jsonrpc": "2.0", "id": json.loads(v.subscribe(["X_Y"])[1])["id"]}))


def test_pending_requests_are_bounded() -> None:
    v = _adapter()
    first = json.loads(v.subscribe(["BTC-PERPETUAL"])[1])["id"]
    for _ in range(3000):
        v.resubscribe("BTC-PERPETUAL")
    assert len(v._subscribes) <= 1024
    assert v.parse(json.dumps({"jsonrpc": "2.0", "id": first, "result": []})) == ()  # forgotten, not rejected


_NO_CHANGE_ID = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms",'
    '"data":{"type":"change","instrument_name":"BTC-PERPETUAL","bids":[],"asks":[]}}}'
)


@pytest.mark.parametrize(
    ("frame", "symbol"),
    [
        (_book("change", bids=[["modify", 1, 1]]), "BTC-PERPETUAL"),
        (_book("change", bids=[[1, 1]]), "BTC-PERPETUAL"),
        (_book("change", bids=[["new", "x", 1]]), "BTC-PERPETUAL"),
        (_book("change", asks={"new": 1}), "BTC-PERPETUAL"),  # type: ignore[arg-type]
        (_book("partial"), "BTC-PERPETUAL"),
        (_book("change", bids=[["new", 1, "1"]]), "BTC-PERPETUAL"),
        (_book("change", "ETH-PERPETUAL", change_id="eight"), "ETH-PERPETUAL"),  # type: ignore[arg-type]
        ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms"}}', "BTC-PERPETUAL"),
        (_NO_CHANGE_ID, "BTC-PERPETUAL"),
        ('{"jsonrpc":"2.0","usIn":1}', ""),
        ("[1,2]", ""),
    ],
)
def test_malformed_frames_name_their_instrument(frame: str, symbol: str) -> None:
    with pytest.raises(FrameError) as info:
        _adapter().parse(frame)
    assert info.value.symbol == symbol


def test_not_json_is_an_extract_error() -> None:
    with pytest.raises(ExtractError):
        _adapter().parse('{"jsonrpc":"2.0","method":"subscription"')


def test_strict_changes_in_the_keeper(core_impl: str) -> None:
    """The actions reach the keeper: a change or delete of a level the book lacks is a fault."""
    v = _adapter()
    k = BookKeeper(
        venue="deribit",
        instrument="BTC-PERPETUAL",
        symbol="BTC-PERPETUAL",
        depth=10,
        rule=v.rule,
        book_type=core_module("book", core_impl).Book,
    )
    (s,) = v.parse(_book("snapshot", bids=[["new", 10, 1]], asks=[["new", 11, 1]], change_id=5))
    assert k.on_snapshot(s).publish and k.status is VenueStatus.LIVE
    (d,) = v.parse(
        _book("change", bids=[["change", 10, 2], ["new", 9, 3]], asks=[["delete", 11, 0]], change_id=6, prev=5)
    )
    assert not k.on_delta(d).fault
    assert k.book.bids() == ((10.0, 2.0), (9.0, 3.0)) and k.book.asks() == ()
    (d,) = v.parse(_book("change", asks=[["change", 12, 1]], change_id=9, prev=6))
    step = k.on_delta(d)
    assert step.fault is Fault.INVALID and step.need_snapshot and k.status is VenueStatus.STALE
    (s,) = v.parse(_book("snapshot", bids=[["new", 10, 1]], asks=[["new", 11, 1]], change_id=20))
    k.on_snapshot(s)
    (d,) = v.parse(_book("change", bids=[["delete", 8, 0]], change_id=21, prev=20))
    assert k.on_delta(d).fault is Fault.INVALID
    (s,) = v.parse(_book("snapshot", bids=[["new", 10, 1]], asks=[["new", 11, 1]], change_id=30))
    k.on_snapshot(s)
    (d,) = v.parse(_book("change", bids=[["new", 9, 1]], change_id=32, prev=31))  # a lost notification
    assert k.on_delta(d).fault is Fault.GAP
    assert (k.stats.invalid, k.stats.gaps) == (2, 1)


# -- the simulator encoder ------------------------------------------------------------------------


def _update(bids: list, asks: list, last: int, prev: int) -> Update:
    return Update(
        symbol="BTC_USD", bids=bids, asks=asks, first=prev + 1, last=last, prev=prev, checksum=None, micro=1_000_000
    )


def test_encoder_requests() -> None:
    enc = DeribitEncoder(DeribitConfig())

    class Conn:
        def __init__(self) -> None:
            self.subs: set[str] = set()

        def subscribe(self, symbol: str, key: str = "") -> bool:
            if symbol != "BTC_USD":
                return False
            self.subs.add(symbol)
            return True

        def unsubscribe(self, symbol: str, key: str = "") -> bool:
            had = symbol in self.subs
            self.subs.discard(symbol)
            return had

        def keys(self) -> list[str]:
            return sorted(self.subs)

    conn = Conn()
    v = _adapter()
    hb, sub = v.subscribe(["BTC_USD", "NOPE_USD"])
    assert [json.loads(a) for a in enc.client_message(hb, conn)] == [{"jsonrpc": "2.0", "id": 1, "result": "ok"}]
    (answer,) = enc.client_message(sub, conn)
    assert json.loads(answer)["result"] == ["book.BTC_USD.100ms"] and conn.subs == {"BTC_USD"}
    assert v.parse(answer) == (Rejected(symbol="NOPE_USD", reason="no such channel"),)
    (answer,) = enc.client_message(v.unsubscribe(["BTC_USD"])[0], conn)
    assert json.loads(answer)["result"] == ["book.BTC_USD.100ms"] and not conn.subs
    (reply,) = v.parse(enc.heartbeat() or "")  # the heartbeat notification
    assert reply == Heartbeat()
    (test,) = v.parse('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}')
    assert "version" in json.loads(enc.client_message(test.data, conn)[0])["result"]
    for bad in ("nope", "[]", '{"id":4,"method":"private/buy","params":{}}', '{"id":5,"method":"public/subscribe"}'):
        (err,) = enc.client_message(bad, conn)
        assert "error" in json.loads(err)


def test_encoder_labels_levels_by_the_book_it_wrote() -> None:
    enc, v = DeribitEncoder(DeribitConfig()), _adapter()
    state = BookState(
        symbol="BTC_USD",
        bids=[["99.00", "1.0"], ["98.00", "2.0"]],
        asks=[["101.00", "1.0"]],
        last=100,
        micro=1_000_000,
        checksum=None,
    )
    (s,) = v.parse(enc.snapshot_frame(state))
    assert s.bids == [("99.00", "1.0"), ("98.00", "2.0")] and s.last == 100
    # 99 exists (change), 97 does not (new), 98 deleted, 96 deleted but absent: left out as Deribit does
    u = _update([["99.00", "3.0"], ["97.00", "1.0"], ["98.00", "0.0"], ["96.00", "0.0"]], [["101.00", "0.0"]], 120, 100)
    (d,) = v.parse(enc.delta_frame(u))
    assert d.bids == [("99.00", "3.0", "change"), ("97.00", "1.0", "new"), ("98.00", "0", "delete")]
    assert d.asks == [("101.00", "0", "delete")] and (d.prev, d.last) == (100, 120)
    # a frame re-based on the state before the last one replaces it (the last was never applied)
    u2 = _update([["98.00", "5.0"]], [], 121, 100)
    (d,) = v.parse(enc.delta_frame(u2))
    assert d.bids == [("98.00", "5.0", "change")]
    # a delta that does not chain is labelled against the known book, which it does not change
    (d,) = v.parse(enc.delta_frame(_update([["97.00", "1.0"]], [], 150, 140)))
    assert d.bids == [("97.00", "1.0", "new")]
    (d,) = v.parse(enc.delta_frame(_update([["97.00", "2.0"]], [], 122, 121)))
    assert d.bids == [("97.00", "2.0", "new")]
    # a quantity that is not a number (an injected fault) leaves the known book as it was
    assert "1.0x" in enc.delta_frame(_update([["97.00", "1.0x"]], [], 123, 122))
    (d,) = v.parse(enc.delta_frame(_update([["97.00", "3.0"]], [], 123, 122)))
    assert d.bids == [("97.00", "3.0", "change")]
    # a snapshot puts the encoder back on the true book
    enc.snapshot_frame(BookState(symbol="BTC_USD", bids=[["90.00", "1.0"]], asks=[], last=500, micro=0, checksum=None))
    (d,) = v.parse(enc.delta_frame(_update([["97.00", "1.0"], ["90.00", "0.0"]], [], 501, 500)))
    assert d.bids == [("97.00", "1.0", "new"), ("90.00", "0", "delete")]
