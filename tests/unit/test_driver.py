"""The feed driver without sockets: a fake layer-1 client and a fake HTTP client around the
template venue's adapter (every kind of feed), events in, updates and requests out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dragonfly.clients.base import ClientStats
from dragonfly.clients.http import HttpResponse
from dragonfly.errors import VenueConnectionError
from dragonfly.listeners import BookKeeper, FeedDriver
from dragonfly.listeners.events import Reply
from dragonfly.listeners.rules import NoSequence
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.venues import create_feed
from dragonfly.venues._template import VENUES, TemplateAdapter, TemplateConfig
from dragonfly.venues.base import ConnectRequest

TEMPLATE = VENUES[0]
LIVE, STALE, SYNCING = VenueStatus.LIVE, VenueStatus.STALE, VenueStatus.SYNCING


class Sink:
    def __init__(self) -> None:
        self.items: list[BookUpdate] = []

    def publish(self, u: BookUpdate) -> None:
        self.items.append(u)


class FakeClient:
    """What the driver needs of a layer-1 client: hooks, send, reconnect requests, liveness."""

    def __init__(self) -> None:
        self.stats = ClientStats()
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        self.on_gap: Any = None
        self.resolve_url: Any = None
        self.sent: list[Any] = []
        self.sent_event = asyncio.Event()
        self.reconnects: list[str] = []
        self.alive = True
        self.connected = False

    async def send(self, data: Any) -> None:
        if not self.connected:
            raise VenueConnectionError("not connected")
        self.sent.append(data)
        self.sent_event.set()

    def request_reconnect(self, reason: str = "") -> None:
        self.reconnects.append(reason)

    async def connect(self) -> None:
        self.connected = True
        await self.on_connect(self)

    def drop(self, reason: str) -> None:
        self.connected = False
        self.on_disconnect(self, reason)

    async def frames(self) -> AsyncIterator[str]:  # pragma: no cover - not run here
        if False:
            yield ""

    async def close(self) -> None:
        self.connected = False


class FakeHttp:
    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies
        self.requests: list[tuple[str, str]] = []
        self.done = asyncio.Event()

    async def get(self, url: str) -> HttpResponse:
        return await self.request("GET", url)

    async def request(self, method: str, url: str, *, json: Any = None) -> HttpResponse:
        self.requests.append((method, url))
        body = self.bodies.get(url)
        self.done.set()
        return HttpResponse(status=404 if body is None else 200, body=body or b"")

    async def close(self) -> None:
        pass


def feed(
    kind: str, sink: Sink, instruments: tuple[str, ...] = ("ETH-BTC", "BTC-USD"), **kw: Any
) -> tuple[FeedDriver, FakeClient]:
    client = FakeClient()
    driver = create_feed(TEMPLATE, instruments=instruments, depth=2, sink=sink, client=client,
                         config=TemplateConfig(kind=kind), base_url="ws://127.0.0.1:1", **kw)
    return driver, client


def book(kind: str, symbol: str, seq: int, bids: list, asks: list, prev: int | None = None) -> str:
    msg: dict[str, Any] = {"channel": "book", "type": kind, "symbol": symbol, "seq": seq, "bids": bids, "asks": asks}
    if prev is not None:
        msg["prev"] = prev
    return json.dumps(msg)


async def test_connect_subscribes_then_snapshots_make_each_instrument_live() -> None:
    sink = Sink()
    driver, client = feed("resubscribe", sink)
    await client.connect()
    assert [json.loads(m) for m in client.sent] == [
        {"op": "subscribe", "channel": "book", "symbols": ["ETH-BTC", "BTC-USD"]}
    ]
    assert [(u.instrument, u.status) for u in sink.items] == [("ETH-BTC", SYNCING), ("BTC-USD", SYNCING)]
    driver.on_frame(book("snapshot", "ETH-BTC", 5, [["0.05", "1"]], [["0.06", "2"]]), 10)
    driver.on_frame(book("update", "ETH-BTC", 6, [["0.051", "1"]], [], prev=5), 11)
    assert sink.items[-1].status is LIVE and sink.items[-1].bids == ((0.051, 1.0), (0.05, 1.0))
    assert sink.items[-1].receive_ts_ns == 11 and sink.items[-1].venue == "template"
    assert driver.health()["BTC-USD"].status is SYNCING and driver.health()["ETH-BTC"].last_update_ns == 11


async def test_a_gap_resubscribes_that_instrument_only() -> None:
    sink = Sink()
    driver, client = feed("resubscribe", sink, snapshot_timeout_s=5.0)
    await client.connect()
    for sym in ("ETH-BTC", "BTC-USD"):
        driver.on_frame(book("snapshot", sym, 5, [["1", "1"]], [["2", "1"]]), 1)
    client.sent.clear()
    client.sent_event.clear()
    driver.on_frame(book("update", "ETH-BTC", 9, [["1.5", "1"]], [], prev=7), 2)  # 7 is not 5: a gap
    await asyncio.wait_for(client.sent_event.wait(), 5)
    assert [json.loads(m)["op"] for m in client.sent] == ["unsubscribe", "subscribe"]
    assert all(json.loads(m)["symbols"] == ["ETH-BTC"] for m in client.sent)
    assert driver.keepers["ETH-BTC"].status is STALE and driver.keepers["BTC-USD"].status is LIVE
    assert driver.stats.faults == 1 and driver.stats.resubscribes == 1
    driver.on_frame(book("snapshot", "ETH-BTC", 20, [["1", "3"]], [["2", "1"]]), 3)  # the fresh snapshot
    assert driver.keepers["ETH-BTC"].status is LIVE
    await driver.close()


async def test_rest_snapshots_are_fetched_after_subscribing_and_deltas_buffered() -> None:
    sink = Sink()
    url = "http://127.0.0.1:1/book?symbol=ETH-BTC"
    http = FakeHttp({url: b'{"seq": 6, "bids": [["1", "1"]], "asks": [["3", "1"]]}'})
    driver, client = feed("rest", sink, ("ETH-BTC",), http=http)  # the REST URL follows the base URL
    await client.connect()
    driver.on_frame(book("update", "ETH-BTC", 6, [["0.5", "1"]], [], prev=5), 1)  # older than the snapshot
    driver.on_frame(book("update", "ETH-BTC", 7, [["2", "1"]], [], prev=6), 2)
    assert driver.keepers["ETH-BTC"].buffered == 2
    await asyncio.wait_for(http.done.wait(), 5)
    for _ in range(10):  # let the fetch task finish applying what it got
        if driver.keepers["ETH-BTC"].status is LIVE:
            break
        await asyncio.sleep(0)
    assert http.requests == [("GET", url)]
    k = driver.keepers["ETH-BTC"]
    assert k.status is LIVE and k.stats.skipped == 1 and k.stats.applied == 1 and driver.stats.snapshot_requests == 1
    assert sink.items[-1].bids == ((2.0, 1.0), (1.0, 1.0))
    await driver.close()


async def test_top_feed_bad_frame_is_only_that_instrument() -> None:
    sink = Sink()
    driver, client = feed("top", sink)
    await client.connect()
    driver.on_frame(book("snapshot", "ETH-BTC", 5, [["0.05", "1"]], [["0.06", "2"]]), 1)
    driver.on_frame(book("snapshot", "BTC-USD", 5, [["100", "1"]], [["101", "2"]]), 1)
    driver.on_frame('{"channel":"book","type":"snapshot","symbol":"ETH-BTC","seq":"x","bids":[],"asks":[]}', 2)
    assert driver.keepers["ETH-BTC"].status is STALE and driver.keepers["BTC-USD"].status is LIVE
    driver.on_frame("garbage", 3)  # no instrument to blame, and a top-N feed loses nothing: no resync
    assert driver.stats.bad_frames == 2 and driver.keepers["BTC-USD"].status is LIVE
    assert client.sent == [client.sent[0]]  # no snapshot request on a top-N feed: the next message is one


async def test_control_events_reply_reconnect_reject_heartbeat_unroutable() -> None:
    sink = Sink()
    driver, client = feed("resubscribe", sink)
    await client.connect()
    client.sent.clear()
    client.sent_event.clear()
    driver.adapter.parse = lambda frame: [Reply(data="pong")]  # type: ignore[method-assign]
    driver.on_frame("ping", 1)
    await asyncio.wait_for(client.sent_event.wait(), 5)
    assert client.sent == ["pong"]
    del driver.adapter.parse  # back to the template's own
    driver.on_frame('{"op":"error","symbol":"BTC-USD","message":"unknown symbol"}', 2)
    assert sink.items[-1].status is STALE and sink.items[-1].reason == "subscription rejected: unknown symbol"
    driver.on_frame(book("snapshot", "XRP-EUR", 1, [], []), 3)
    assert driver.stats.unroutable == 1
    driver.on_frame(book("snapshot", "ETH-BTC", 1, [["1", "1"]], [["2", "1"]]), 4)
    n = len(sink.items)
    driver.on_frame('{"channel":"heartbeat"}', 5)  # within keepalive: nothing new
    driver.on_frame('{"channel":"heartbeat"}', 5 + 2_000_000_000)
    assert len(sink.items) == n + 1 and sink.items[-1].status is LIVE
    assert driver.keepers["ETH-BTC"].stats.keepalives == 1


async def test_disconnect_and_transport_gap() -> None:
    sink = Sink()
    driver, client = feed("resubscribe", sink)
    await client.connect()
    for sym in ("ETH-BTC", "BTC-USD"):
        driver.on_frame(book("snapshot", sym, 5, [["1", "1"]], [["2", "1"]]), 1)
    driver._on_gap(client, "sequence numbers 3..5 skipped")  # what a FIX client reports
    assert {k.status for k in driver.keepers.values()} == {STALE} and driver.stats.data_losses == 1
    client.drop("closed by peer")
    assert all(u.reason == "disconnected: closed by peer" for u in sink.items[-2:])
    await driver.close()


async def test_connect_request_pings_and_reply_are_wired() -> None:
    sink = Sink()

    class Adapter(TemplateAdapter):
        """A venue that hands out a token per connection and wants pings."""

        ping_interval_s = 0.01

        def connect_request(self, symbols):  # type: ignore[no-untyped-def]
            return ConnectRequest(url="http://127.0.0.1:1/token")

        def connect_url(self, symbols, body):  # type: ignore[no-untyped-def]
            return "ws://127.0.0.1:1/ws?token=" + json.loads(body)["token"]

        def ping(self) -> str:
            return '{"op":"ping"}'

    client = FakeClient()
    http = FakeHttp({"http://127.0.0.1:1/token": b'{"token": "s3cret"}'})
    keeper = BookKeeper(venue="template", instrument="ETH-BTC", symbol="ETH-BTC", depth=1, rule=NoSequence())
    driver = FeedDriver(venue="template", adapter=Adapter(TemplateConfig(base_url="ws://127.0.0.1:1"), depth=1),
                        client=client, keepers=[keeper], sink=sink, http=http)
    assert client.resolve_url is not None
    assert await client.resolve_url() == "ws://127.0.0.1:1/ws?token=s3cret"
    await client.connect()
    for _ in range(100):
        if '{"op":"ping"}' in client.sent:
            break
        client.sent_event.clear()
        await asyncio.wait_for(client.sent_event.wait(), 5)
    assert '{"op":"ping"}' in client.sent
    client.drop("gone")
    assert driver._pinger is None  # pings stop with the connection
    await driver.close()


def test_two_instruments_with_one_symbol_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        create_feed(TEMPLATE, instruments=["ETH-BTC", "eth_btc"], depth=1, sink=Sink(), client=FakeClient())
