"""The Gemini adapter and its simulator encoder on self-written frames (market data v2 formats).

Conformance on the live captures is in tests/integration/captures/test_gemini.py; the adapter
against its simulator over sockets in the shared venue contract (tests/integration/venues).
"""

from __future__ import annotations

import json

import pytest
from conftest import core_module

from dragonfly.errors import ConfigError, ExtractError, FrameError
from dragonfly.instruments import parse_instrument
from dragonfly.listeners.events import Delta, Heartbeat, Rejected, Snapshot
from dragonfly.listeners.keeper import BookKeeper, Fault
from dragonfly.model import VenueStatus
from dragonfly.sim.encoder import BookState, Update
from dragonfly.venues.gemini import GeminiAdapter, GeminiConfig
from dragonfly.venues.gemini.sim import GeminiEncoder
from dragonfly.venues.registry import get_venue


def _adapter(**kw: object) -> GeminiAdapter:
    return GeminiAdapter(GeminiConfig(**kw), depth=10)  # type: ignore[arg-type]


def _l2(changes: list, symbol: str = "BTCUSD", *, book: bool = False) -> str:
    msg: dict = {"type": "l2_updates", "symbol": symbol, "changes": changes}
    if book:
        msg["trades"] = [
            {
                "type": "trade",
                "symbol": symbol,
                "event_id": 1,
                "timestamp": 1,
                "price": "1",
                "quantity": "1",
                "side": "buy",
            }
        ]
        msg["auction_events"] = []
    return json.dumps(msg)


BOOK = _l2([["buy", "9122.04", "0.5"], ["buy", "9122.00", "1"], ["sell", "9122.07", "0.9"]], book=True)


def test_names_config_and_subscriptions() -> None:
    v = _adapter()
    assert (
        v.symbol(parse_instrument("btc-usd"))
        == "BTCUSD"
        == GeminiEncoder(GeminiConfig()).symbol(parse_instrument("BTCUSD"))
    )
    assert v.url(["BTCUSD"]) == "wss://api.gemini.com/v2/marketdata"
    assert get_venue("gemini").make_config(base_url="ws://127.0.0.1:9").base_url == "ws://127.0.0.1:9"
    for bad in ({"max_depth": 0}, {"max_depth": True}, {"base_url": "https://api.gemini.com"}):
        with pytest.raises(ConfigError):
            GeminiConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at most 5"):
        GeminiAdapter(GeminiConfig(max_depth=5), depth=10)
    assert _adapter(max_depth=17).book_depth("BTCUSD") == 17
    (sub,) = v.subscribe(["BTCUSD", "ETHUSD"])
    assert json.loads(sub) == {"type": "subscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD", "ETHUSD"]}]}
    (unsub,) = v.unsubscribe(["BTCUSD"])
    assert json.loads(unsub) == {"type": "unsubscribe", "subscriptions": [{"name": "l2", "symbols": ["BTCUSD"]}]}
    assert [json.loads(m)["type"] for m in v.resubscribe("BTCUSD")] == ["unsubscribe", "subscribe"]


def test_first_message_is_the_book_then_changes() -> None:
    v = _adapter()
    (s,) = v.parse(BOOK)
    assert isinstance(s, Snapshot) and s.symbol == "BTCUSD"
    assert s.bids == [("9122.04", "0.5"), ("9122.00", "1")] and s.asks == [("9122.07", "0.9")]
    (d,) = v.parse(_l2([["sell", "9160.20", "0.1921229751"], ["buy", "9000", "0"]]))
    assert isinstance(d, Delta) and not d.strict and (d.first, d.last, d.prev) == (-1, -1, -1)
    assert d.bids == [("9000", "0")] and d.asks == [("9160.20", "0.1921229751")]
    # a symbol's first message on a connection is its book, with or without trades
    (s2,) = v.parse(_l2([["buy", "1", "1"]], "ETHUSD"))
    assert isinstance(s2, Snapshot) and s2.symbol == "ETHUSD"
    assert isinstance(v.parse(_l2([["buy", "1", "2"]], "ETHUSD"))[0], Delta)
    # a message shaped like the initial response is a whole book again
    assert isinstance(v.parse(BOOK)[0], Snapshot)
    # a new connection: every symbol's next message is its book
    v.connected()
    assert isinstance(v.parse(_l2([["buy", "1", "3"]], "ETHUSD"))[0], Snapshot)
    assert isinstance(v.parse(_l2([["buy", "1", "4"]], "ETHUSD"))[0], Delta)


def test_resubscribe_waits_for_the_new_book() -> None:
    """Changes of the old subscription still on the wire are not taken for the new book."""
    v = _adapter()
    v.parse(BOOK)
    v.resubscribe("BTCUSD")
    (late,) = v.parse(_l2([["buy", "9122.04", "0.7"]]))
    assert isinstance(late, Delta)  # the keeper drops it while it waits for the book
    (s,) = v.parse(BOOK)
    assert isinstance(s, Snapshot)
    assert isinstance(v.parse(_l2([["buy", "9122.04", "0.8"]]))[0], Delta)
    # a symbol re-subscribed before its first book: the next message is that book
    v.resubscribe("ETHUSD")
    assert isinstance(v.parse(_l2([["buy", "1", "1"]], "ETHUSD"))[0], Snapshot)
    # a reconnect forgets pending re-subscriptions
    v.resubscribe("BTCUSD")
    v.connected()
    assert isinstance(v.parse(_l2([["buy", "1", "1"]]))[0], Snapshot)


def test_control_frames() -> None:
    v = _adapter()
    assert v.parse('{"type":"heartbeat","timestamp":1617645248100}') == (Heartbeat(),)
    assert (
        v.parse('{"type":"trade","symbol":"BTCUSD","event_id":1,"timestamp":1,"price":"1","quantity":"1","side":"buy"}')
        == ()
    )
    assert v.parse('{"type":"candles_1m_updates","symbol":"BTCUSD","changes":[]}') == ()
    assert v.parse('{"type":"error","symbol":"NOPEUSD","reason":"InvalidSymbol"}') == (
        Rejected(symbol="NOPEUSD", reason="InvalidSymbol"),
    )
    assert v.parse('{"type":"error","reason":"InvalidJson"}') == ()


@pytest.mark.parametrize(
    ("frame", "symbol"),
    [
        (_l2([["hold", "1", "1"]]), "BTCUSD"),
        (_l2([["buy", "1"]]), "BTCUSD"),
        (_l2(["buy"]), "BTCUSD"),
        (_l2({"buy": 1}), "BTCUSD"),  # type: ignore[arg-type]
        (_l2([[1, "1", "1"]]), "BTCUSD"),
        ('{"type":"l2_updates","symbol":"ETHUSD"}', "ETHUSD"),
        ('{"type":"l2_updates","changes":[]}', ""),
        ('{"symbol":"BTCUSD"}', ""),
        ("[1]", ""),
    ],
)
def test_malformed_frames_name_their_symbol(frame: str, symbol: str) -> None:
    with pytest.raises(FrameError) as info:
        _adapter().parse(frame)
    assert info.value.symbol == symbol


def test_not_json_is_an_extract_error() -> None:
    with pytest.raises(ExtractError):
        _adapter().parse('{"type":"l2_updates"')


def test_books_in_the_keeper(core_impl: str) -> None:
    """Zero for a level the book lacks is a no-op; a crossed book and a bad number are faults."""
    v = _adapter()
    k = BookKeeper(
        venue="gemini",
        instrument="BTC-USD",
        symbol="BTCUSD",
        depth=10,
        rule=v.rule,
        book_type=core_module("book", core_impl).Book,
    )
    k.on_snapshot(v.parse(BOOK)[0])
    assert k.status is VenueStatus.LIVE
    (d,) = v.parse(_l2([["buy", "9000.00", "0"], ["sell", "9122.07", "0"], ["sell", "9123", "2"]]))
    assert not k.on_delta(d).fault
    assert k.book.asks() == ((9123.0, 2.0),) and len(k.book.bids()) == 2
    (d,) = v.parse(_l2([["buy", "9124", "1"]]))
    step = k.on_delta(d)
    assert step.fault is Fault.CROSSED and step.need_snapshot and k.status is VenueStatus.STALE
    k.on_snapshot(v.parse(BOOK)[0])
    (d,) = v.parse(_l2([["buy", "9122.04", "x"]]))
    assert k.on_delta(d).fault is Fault.INVALID


def test_encoder() -> None:
    enc, v = GeminiEncoder(GeminiConfig()), _adapter()

    class Conn:
        def __init__(self) -> None:
            self.subs: set[str] = set()

        def subscribe(self, symbol: str, key: str = "") -> bool:
            self.subs.add(symbol)
            return True

        def unsubscribe(self, symbol: str, key: str = "") -> bool:
            self.subs.discard(symbol)
            return True

        def keys(self) -> list[str]:
            return sorted(self.subs)

    conn = Conn()
    assert enc.client_message(v.subscribe(["BTCUSD", "ETHUSD"])[0], conn) == [] and conn.subs == {"BTCUSD", "ETHUSD"}
    assert enc.client_message(v.unsubscribe(["ETHUSD"])[0], conn) == [] and conn.subs == {"BTCUSD"}
    for bad in ("nope", "[]", '{"type":"subscribe","subscriptions":[{"name":"candles_1m","symbols":["X"]}]}'):
        assert enc.client_message(bad, conn) == []
    assert conn.subs == {"BTCUSD"}
    assert v.parse(enc.heartbeat() or "") == (Heartbeat(),)
    assert enc.level(9122.5, 0.1, 2) == ["9122.50", "0.1"] and enc.level(1.0, 0.0, 0) == ["1", "0"]
    state = BookState(symbol="BTCUSD", bids=[["99.00", "1"]], asks=[["101.00", "2"]], last=5, micro=0, checksum=None)
    v.resubscribe("BTCUSD")
    (s,) = v.parse(enc.snapshot_frame(state))
    assert isinstance(s, Snapshot) and s.bids == [("99.00", "1")] and s.asks == [("101.00", "2")]
    u = Update(
        symbol="BTCUSD", bids=[["98.00", "0"]], asks=[["101.00", "3"]], first=6, last=6, prev=5, checksum=None, micro=1
    )
    (d,) = v.parse(enc.delta_frame(u))
    assert isinstance(d, Delta) and d.bids == [("98.00", "0")] and d.asks == [("101.00", "3")]
