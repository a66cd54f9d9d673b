"""FIX session layer, simulated FIX venue and FIX server over real sockets on 127.0.0.1 (no QuickFIX needed).

Raw sockets play misbehaving peers (garbage bytes, bad checksum, oversized
messages, unknown CompIDs, low sequence numbers); the simulator plays a venue
that stalls, gaps and disconnects. Every fault must be logged and survived.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fix_peers"))
from harness import Collector, wait_until

from dragonfly._core.fix import FixFramer, encode_message, market_data
from dragonfly.clients.base import Backoff
from dragonfly.clients.fix import FixClient, sending_time
from dragonfly.errors import VenueConnectionError
from dragonfly.model import VenueStatus, WorldView
from dragonfly.queues import Broadcast
from dragonfly.services.fix_server import FixServer, FixServerConfig
from dragonfly.sim.fix_venue import FixVenueConfig, FixVenueSimulator
from dragonfly.venues import create_feed, get_venue
from dragonfly.venues.fixsim import FixsimConfig

FAST = Backoff(initial_s=0.05, max_s=0.3)
T = 15.0  # safety-net timeout for awaited events


# ----------------------------------------------------------------------------------------------
# a raw FIX peer: writes exactly the bytes a test wants, reads what comes back


class RawPeer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sender: str, target: str) -> None:
        self.reader = reader
        self.writer = writer
        self.sender = sender
        self.target = target
        self.seq = 1
        self.framer = FixFramer(1 << 20)
        self.inbox: list = []

    open: ClassVar[list[RawPeer]] = []

    @classmethod
    async def connect(cls, port: int, sender: str = "CUST", target: str = "DRAGONFLY") -> RawPeer:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(r, w, sender, target)
        cls.open.append(peer)
        return peer

    def msg(self, msg_type: str, fields=(), seq: int | None = None) -> bytes:
        s = self.seq if seq is None else seq
        if seq is None:
            self.seq += 1
        return encode_message(msg_type, [(49, self.sender), (56, self.target), (34, s), (52, sending_time()),
                                         *fields])

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def logon(self, password: str | None = None, heartbeat_s: int = 30, reset: bool = False) -> None:
        fields: list = [(98, 0), (108, heartbeat_s)]
        if reset:
            fields.append((141, "Y"))
        if password:
            fields.append((554, password))
        await self.send(self.msg("A", fields))

    async def next(self, msg_type: str | None = None, timeout: float = T):
        """Next message (of ``msg_type``), or None at EOF."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self.inbox:
                m = self.inbox.pop(0)
                if msg_type is None or m.msg_type == msg_type:
                    return m
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no 35={msg_type} arrived")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                return None
            self.inbox += self.framer.feed(data)

    def close(self) -> None:
        self.writer.close()


@pytest.fixture(autouse=True)
async def _close_raw_peers():
    yield
    peers, RawPeer.open = RawPeer.open, []
    for p in peers:
        p.writer.close()
        try:
            await p.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def _view(seq: int, bid: float = 0.05) -> WorldView:
    return WorldView(instrument="ETH-BTC", seq=seq, bids=(("binance", bid, 1.0), ("kraken", bid - 0.0001, 2.0)),
                     asks=(("bitstamp", bid + 0.0002, 3.0),), spread=0.0002)


@pytest.fixture
async def server(tmp_path):
    views: Broadcast[WorldView] = Broadcast("t")
    views.publish(_view(1))
    srv = FixServer({"ETH-BTC": views}, FixServerConfig(port=0, customers={"CUST": "pw", "OPEN": None},
                                                        max_msg_size=4096))
    await srv.start()
    srv.test_views = views  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        await srv.stop()


async def _logged_on(server: FixServer, **kw) -> RawPeer:
    peer = await RawPeer.connect(server.port)
    await peer.logon(password="pw", **kw)
    ack = await peer.next("A")
    assert ack is not None and ack.get_int(34) == 1
    return peer


# ----------------------------------------------------------------------------------------------
# server faults


async def test_server_logon_test_request_and_logout(server) -> None:
    peer = await _logged_on(server)
    await peer.send(peer.msg("1", [(112, "ping-1")]))
    hb = await peer.next("0")
    assert hb.get(112) == b"ping-1"
    await peer.send(peer.msg("5", [(58, "bye")]))
    out = await peer.next("5")
    assert out is not None
    assert await peer.next() is None  # the server closed after confirming
    await wait_until(lambda: "CUST" not in server.sessions, what="session removed")
    assert server.stats.sessions_ended == 1


@pytest.mark.parametrize(("sender", "password", "reason"), [
    ("EVIL", None, b"unknown SenderCompID"),
    ("CUST", "nope", b"wrong or missing password"),
    ("CUST", None, b"wrong or missing password"),
])
async def test_server_refuses_logon(server, caplog, sender, password, reason) -> None:
    caplog.set_level(logging.WARNING)
    peer = await RawPeer.connect(server.port, sender=sender)
    await peer.logon(password=password)
    out = await peer.next("5")
    assert reason in out.get(58)
    assert await peer.next() is None
    assert reason.decode() in caplog.text
    # the server carries on
    good = await _logged_on(server)
    good.close()


async def test_server_garbage_then_session_continues(server, caplog) -> None:
    caplog.set_level(logging.WARNING)
    peer = await _logged_on(server)
    await peer.send(b"\x00\xff this is not FIX at all \x01\x01 8=FOO")
    await peer.send(peer.msg("1", [(112, "after-garbage")]))
    hb = await peer.next("0")
    assert hb.get(112) == b"after-garbage"
    assert "garbage bytes skipped" in caplog.text
    assert server.sessions["CUST"].stats.garbage_bytes > 0


async def test_server_bad_checksum_dropped_then_gap_resend(server, caplog) -> None:
    caplog.set_level(logging.WARNING)
    peer = await _logged_on(server)
    good = peer.msg("1", [(112, "lost")])  # uses seq 2
    bad = good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
    await peer.send(bad)
    await peer.send(peer.msg("1", [(112, "next")]))  # seq 3: a gap, since 2 was dropped
    rr = await peer.next("2")
    assert (rr.get_int(7), rr.get_int(16)) == (2, 0)
    assert "CheckSum" in caplog.text and server.sessions["CUST"].stats.garbled == 1
    # we answer with a gap fill; the session goes on
    await peer.send(peer.msg("4", [(123, "Y"), (36, 4)], seq=2))
    await peer.send(peer.msg("1", [(112, "ok")]))
    hb = await peer.next("0")
    while hb.get(112) != b"ok":
        hb = await peer.next("0")


async def test_server_too_large_disconnects(server, caplog) -> None:
    caplog.set_level(logging.WARNING)
    peer = await _logged_on(server)
    await peer.send(peer.msg("0", [(58, "x" * 10000)]))
    assert await peer.next() is None  # disconnected
    assert "larger than 4096 bytes" in caplog.text
    await wait_until(lambda: "CUST" not in server.sessions, what="session removed")
    again = await RawPeer.connect(server.port)  # and the server carries on
    again.seq = peer.seq  # we continue our numbering; the dropped message leaves a gap
    await again.logon(password="pw")
    ack = await again.next("A")
    assert ack is not None
    rr = await again.next("2")  # the server asks for what it missed
    assert rr.get_int(7) == 2


async def test_server_rejects_malformed_request_and_low_sequence(server) -> None:
    peer = await _logged_on(server)
    await peer.send(peer.msg("V", [(263, 1), (264, 5), (146, 1), (55, "ETH-BTC")]))  # no MDReqID
    rej = await peer.next("3")
    assert rej.get_int(45) == 2 and rej.get_int(371) == 262 and rej.get_int(373) == 1
    await peer.send(peer.msg("D", [(11, "order")]))  # not served here
    rej = await peer.next("3")
    assert rej.get(372) == b"D"
    await peer.send(peer.msg("0", [], seq=1))  # MsgSeqNum too low, no PossDupFlag
    out = await peer.next("5")
    assert b"too low" in out.get(58)
    assert await peer.next() is None


async def test_server_aggregated_book_checks(server) -> None:
    """266 must be Y or N (else 35=3 on tag 266); 266=Y for an instrument without a liquidity source gets one
    35=Y with 281=7, and a request with an unknown symbol among good ones is rejected once, as a whole."""
    peer = await _logged_on(server)
    await peer.send(peer.msg("V", [(262, "q"), (263, 1), (264, 5), (266, "maybe"), (146, 1), (55, "ETH-BTC")]))
    rej = await peer.next("3")
    assert rej.get_int(371) == 266 and rej.get_int(373) == 5
    await peer.send(peer.msg("V", [(262, "y"), (263, 1), (264, 5), (266, "Y"), (146, 1), (55, "ETH-BTC")]))
    y = await peer.next("Y")
    assert y.get(262) == b"y" and y.get(281) == b"7" and b"summed liquidity" in y.get(58)
    await peer.send(peer.msg("V", [(262, "m"), (263, 1), (264, 5), (146, 3), (55, "ETH-BTC"), (55, "DOGE-XYZ"),
                                   (55, "ETH-BTC")]))
    y = await peer.next("Y")
    assert y.get(262) == b"m" and y.get(281) == b"0" and b"DOGE-XYZ" in y.get(58)
    await peer.send(peer.msg("1", [(112, "sync")]))
    while True:  # nothing else came for those requests: no 35=W for the good symbol of the rejected one
        m = await peer.next()
        assert m.msg_type not in ("W", "X", "Y")
        if m.msg_type == "0" and m.get(112) == b"sync":
            break
    assert server.subscriptions_of("CUST") == 0 and server.stats.request_rejects == 2


async def test_server_first_message_must_be_logon(server, caplog) -> None:
    caplog.set_level(logging.WARNING)
    peer = await RawPeer.connect(server.port)
    await peer.send(peer.msg("0"))
    assert await peer.next() is None
    assert "first message must be Logon" in caplog.text


async def test_server_reset_seq_num_flag(server) -> None:
    peer = await _logged_on(server)
    await peer.send(peer.msg("0"))
    await peer.send(peer.msg("5"))
    await peer.next("5")
    peer.close()
    again = await RawPeer.connect(server.port)
    await again.logon(password="pw", reset=True)  # our seq 1 again; the server must reset too
    ack = await again.next("A")
    assert ack.get(141) == b"Y" and ack.get_int(34) == 1


async def test_server_stream_snapshot_incremental_and_unsubscribe(server) -> None:
    peer = await _logged_on(server)
    await peer.send(peer.msg("V", [(262, "a"), (263, 1), (264, 2), (265, 1), (146, 1), (55, "eth-btc")]))
    w = await peer.next("W")
    assert sorted(market_data(w).entries()) == sorted([
        (0, 0, 0.05, 1.0, "eth-btc", "binance"), (0, 0, 0.0499, 2.0, "eth-btc", "kraken"),
        (0, 1, 0.0502, 3.0, "eth-btc", "bitstamp")])
    server.test_views.publish(_view(2, 0.0501))
    x = await peer.next("X")
    acts = {(a, s, p, m) for a, s, p, _, _, m in market_data(x).entries()}
    assert (0, 0, 0.0501, "binance") in acts and (2, 0, 0.05, "binance") in acts
    await peer.send(peer.msg("V", [(262, "a"), (263, 2), (264, 2), (146, 1), (55, "eth-btc")]))
    await peer.send(peer.msg("1", [(112, "sync")]))
    await peer.next("0")
    server.test_views.publish(_view(3, 0.0502))
    await peer.send(peer.msg("1", [(112, "sync2")]))
    while True:  # after the unsubscribe only heartbeats arrive
        m = await peer.next()
        assert m.msg_type not in ("W", "X")
        if m.msg_type == "0" and m.get(112) == b"sync2":
            break


async def test_server_conflates_a_slow_customer(server) -> None:
    slow = await _logged_on(server)
    await slow.send(slow.msg("V", [(262, "s"), (263, 1), (264, 2), (265, 0), (146, 1), (55, "ETH-BTC")]))
    await slow.next("W")
    fast = FixClient.build(host="127.0.0.1", port=server.port, sender_comp_id="OPEN", target_comp_id="DRAGONFLY")
    await fast.connect()
    await fast.send_message("V", [(262, "f"), (263, 1), (264, 2), (265, 0), (146, 1), (55, "ETH-BTC")])
    # the slow customer stops reading; we publish far more than its socket can hold
    views = server.test_views
    last = None
    got = []
    it = fast.messages().__aiter__()
    for i in range(3000):
        last = _view(10 + i, 0.05 + (i % 50) * 1e-5)
        views.publish(last)
        if i % 100 == 0:
            await asyncio.sleep(0)
            got.append(await asyncio.wait_for(it.__anext__(), T))
    # the fast customer reaches the newest view
    want = last.bids[0][1]
    while True:
        m = await asyncio.wait_for(it.__anext__(), T)
        md = market_data(m)
        if any(p == want and s == 0 for _, s, p, *_ in md.entries()):
            break
    slow_session = server.sessions["CUST"]
    assert server.stats.conflated > 0
    assert slow_session.write_buffer_size < 512 * 1024  # bounded, however slow the customer
    await fast.close()
    slow.close()


# ----------------------------------------------------------------------------------------------
# client against the simulated venue


@pytest.fixture
async def sim(tmp_path):
    s = FixVenueSimulator(FixVenueConfig(comp_id="FIXSIM", interval_s=0.02, counterparties={"DRAGONFLY": None}))
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def _sim_feed(sim, sink, tmp_path, **kw):
    cfg = FixsimConfig(base_url=sim.address, heartbeat_s=kw.pop("heartbeat_s", 1),
                             store_path=str(tmp_path / "c.seq"), **kw)
    return create_feed(get_venue("fixsim"), instruments=["ETH-BTC"], depth=5, sink=sink, config=cfg, backoff=FAST)


async def test_feed_matches_simulator_book(sim, tmp_path) -> None:
    sink = Collector()
    feed = _sim_feed(sim, sink, tmp_path)
    feed.start()
    try:
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE)
        await wait_until(lambda: feed.keepers["ETH-BTC"].stats.applied >= 5, what="incrementals")
        sim.stall()
        # once the venue is quiet, our top 5 equals the simulator's
        want = sim.books["ETH-BTC"].top(5)
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE and list(u.bids) == want[0]
                            and list(u.asks) == want[1])
        assert feed.stats.bad_frames == 0 and feed.stats.resubscribes == 0 and feed.stats.faults == 0
    finally:
        await feed.stop()


async def test_client_test_request_on_silence_then_reconnect(sim, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    sink = Collector()
    feed = _sim_feed(sim, sink, tmp_path)
    feed.start()
    try:
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE)
        session = feed.client.session
        n = len(sink.items)
        sim.silence()  # no data, no heartbeats, no answers
        stale = await sink.wait_for(lambda u: u.status is VenueStatus.STALE, since=n)
        assert "no answer to TestRequest" in stale.reason
        assert session.stats.test_requests_sent == 1
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE, since=sink.items.index(stale))
        assert feed.client.stats.reconnects == 1
    finally:
        await feed.stop()


async def test_client_survives_venue_faults(sim, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    sink = Collector()
    feed = _sim_feed(sim, sink, tmp_path)
    feed.start()
    try:
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE)
        session = feed.client.session
        sim.inject_garbage()
        sim.inject_bad_checksum()
        n = len(sink.items)
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE, since=n)  # data keeps flowing
        assert session.stats.garbled >= 1 and session.stats.garbage_bytes > 0
        assert not session.closed
        sim.inject_gap(4)
        await wait_until(lambda: session.stats.resend_requests_sent >= 1, what="ResendRequest")
        n = len(sink.items)
        sim.inject_too_large()
        stale = await sink.wait_for(lambda u: u.status is VenueStatus.STALE, since=n)
        assert "larger than" in stale.reason
        await sink.wait_for(lambda u: u.status is VenueStatus.LIVE, since=sink.items.index(stale))
        assert feed.client.stats.reconnects == 1
        assert "CheckSum" in caplog.text and "garbage bytes" in caplog.text
    finally:
        await feed.stop()


async def test_client_unknown_symbol_and_reset_seq_num(sim, tmp_path) -> None:
    sink = Collector()
    cfg = FixsimConfig(base_url=sim.address, heartbeat_s=1, reset_seq_num=True)
    feed = create_feed(
        get_venue("fixsim"), instruments=["ETH-BTC", "DOGE-XYZ"], depth=3, sink=sink, config=cfg, backoff=FAST
    )
    feed.start()
    try:
        rej = await sink.wait_for(lambda u: u.instrument == "DOGE-XYZ" and u.status is VenueStatus.STALE
                                  and "rejected" in u.reason)
        assert "unknown symbol" in rej.reason
        await sink.wait_for(lambda u: u.instrument == "ETH-BTC" and u.status is VenueStatus.LIVE)
        n = len(sink.items)
        sim.disconnect()
        stale = await sink.wait_for(lambda u: u.instrument == "ETH-BTC" and u.status is VenueStatus.STALE, since=n)
        await sink.wait_for(lambda u: u.instrument == "ETH-BTC" and u.status is VenueStatus.LIVE,
                            since=sink.items.index(stale))
        # ResetSeqNumFlag=Y on every logon: both sides restarted at 1
        assert feed.client.stats.reconnects == 1
        assert sim.sessions["DRAGONFLY"].store.next_in < 10
    finally:
        await feed.stop()


async def test_client_logout_and_unknown_comp_id(sim, tmp_path) -> None:
    bad = FixClient.build(host="127.0.0.1", port=sim.port, sender_comp_id="NOBODY", target_comp_id="FIXSIM")
    with pytest.raises(VenueConnectionError) as info:
        await bad.connect()
    assert "unknown SenderCompID" in str(info.value)
    good = FixClient.build(host="127.0.0.1", port=sim.port, sender_comp_id="DRAGONFLY", target_comp_id="FIXSIM")
    await good.connect()
    await sim.changed.wait()
    assert "DRAGONFLY" in sim.sessions
    await good.close()
    await wait_until(lambda: "DRAGONFLY" not in sim.sessions, what="venue saw the logout")
    assert good.session is None or good.session.closed


# ----------------------------------------------------------------------------------------------
# TLS


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


async def test_tls_client_and_server(tmp_path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    views: Broadcast[WorldView] = Broadcast("tls")
    views.publish(_view(1))
    srv = FixServer({"ETH-BTC": views}, FixServerConfig(port=0, customers={"CUST": None}, ssl=server_ctx))
    await srv.start()
    try:
        client = FixClient.build(host="127.0.0.1", port=srv.port, sender_comp_id="CUST", target_comp_id="DRAGONFLY",
                                 ssl=client_ctx)
        await client.connect()
        await client.send_message("V", [(262, "t"), (263, 0), (264, 1), (146, 1), (55, "ETH-BTC")])
        it = client.messages().__aiter__()
        w = await asyncio.wait_for(it.__anext__(), T)
        assert w.msg_type == "W" and len(market_data(w)) == 2
        await client.close()
        # a plain-TCP client cannot log on to the TLS server
        plain = FixClient.build(host="127.0.0.1", port=srv.port, sender_comp_id="CUST", target_comp_id="DRAGONFLY",
                                logon_timeout_s=2.0)
        with pytest.raises(VenueConnectionError):
            await plain.connect()
    finally:
        await srv.stop()


async def test_client_send_raw_bytes_and_frames(server) -> None:
    """``send(bytes)`` re-stamps the header of a ready-made message; ``frames()`` yields raw bytes."""
    client = FixClient.build(host="127.0.0.1", port=server.port, sender_comp_id="OPEN", target_comp_id="DRAGONFLY")
    await client.connect()
    seq_before = client.store.next_out
    ready_made = encode_message("V", [(49, "X"), (56, "Y"), (34, 999), (52, "20000101-00:00:00"), (262, "raw"),
                                      (263, 0), (264, 1), (146, 1), (55, "ETH-BTC")])
    await client.send(ready_made)
    assert client.store.next_out == seq_before + 1  # our numbering, not the 999 in the bytes
    it = client.frames().__aiter__()
    frame = await asyncio.wait_for(it.__anext__(), T)
    assert isinstance(frame, bytes) and b"\x0135=W\x01" in frame and b"\x01262=raw\x01" in frame
    await client.close()
    await it.aclose()


async def test_quiet_venue_book_is_kept_alive(sim, tmp_path) -> None:
    """No book change for a while: the feed re-publishes the unchanged LIVE book every keepalive_s."""
    sink = Collector()
    cfg = FixsimConfig(base_url=sim.address, heartbeat_s=1)
    feed = create_feed(
        get_venue("fixsim"), instruments=["ETH-BTC"], depth=3, sink=sink, config=cfg, backoff=FAST, keepalive_s=0.2
    )
    feed.start()
    try:
        first = await sink.wait_for(lambda u: u.status is VenueStatus.LIVE)
        sim.stall()
        n = len(sink.items)
        top = sim.books["ETH-BTC"].top(3)
        # two more identical LIVE updates arrive although the venue sends nothing but heartbeats
        a = await sink.wait_for(lambda u: u.status is VenueStatus.LIVE and list(u.bids) == top[0], since=n)
        b = await sink.wait_for(lambda u: u is not a and u.status is VenueStatus.LIVE and u.bids == a.bids,
                                since=sink.items.index(a) + 1)
        assert b.receive_ts_ns > a.receive_ts_ns > first.receive_ts_ns
        assert feed.keepers["ETH-BTC"].stats.keepalives >= 1
    finally:
        await feed.stop()


# ----------------------------------------------------------------------------------------------
# layer-1 interface: send((msg_type, fields)), on_gap


_SUBSCRIBE = ("V", [(262, "g"), (263, 1), (264, 3), (265, 1), (267, 2), (269, 0), (269, 1), (146, 1),
                    (55, "ETH-BTC")])


async def test_client_send_tuple_and_bad_payloads(server) -> None:
    """``send((msg_type, fields))`` is what a venue adapter's subscribe messages are."""
    client = FixClient.build(host="127.0.0.1", port=server.port, sender_comp_id="OPEN", target_comp_id="DRAGONFLY")
    await client.connect()
    seq_before = client.store.next_out
    await client.send(("V", [(262, "tup"), (263, 0), (264, 1), (146, 1), (55, "ETH-BTC")]))
    assert client.store.next_out == seq_before + 1 and client.stats.sent == 1
    it = client.messages().__aiter__()
    w = await asyncio.wait_for(it.__anext__(), T)
    assert w.msg_type == "W" and w.get(262) == b"tup"
    for bad in [("V",), (1, []), 3.5]:
        with pytest.raises(TypeError):
            await client.send(bad)  # type: ignore[arg-type]
    assert client.stats.sent == 1
    await client.close()
    await it.aclose()
    with pytest.raises(VenueConnectionError):
        await client.send(_SUBSCRIBE)


@pytest.mark.parametrize("form", ["reason", "range"])
async def test_client_on_gap_when_the_venue_gap_fills(sim, form) -> None:
    """The venue skips sequence numbers; asked to resend, it gap-fills them: application data may be lost."""
    client = FixClient.build(host="127.0.0.1", port=sim.port, sender_comp_id="DRAGONFLY", target_comp_id="FIXSIM",
                             heartbeat_s=1, backoff=FAST)
    gaps: list[tuple] = []
    gapped = asyncio.Event()
    if form == "reason":
        def on_gap(c, reason):  # the generic Client hook
            gaps.append((c, reason))
            gapped.set()
    else:
        def on_gap(c, first, last):  # the older FIX-only form, still accepted
            gaps.append((c, first, last))
            gapped.set()
    client.on_gap = on_gap

    async def on_connect(c) -> None:
        await c.send(_SUBSCRIBE)

    client.on_connect = on_connect
    injected = False

    async def run() -> None:
        nonlocal injected
        async for _msg in client.messages():
            if not injected:
                injected = True
                sim.inject_gap(4)
            if gapped.is_set():
                return

    try:
        await asyncio.wait_for(run(), T)
    finally:
        await client.close()
    assert len(gaps) == 1 and gaps[0][0] is client
    if form == "reason":
        assert "skipped by the counterparty" in gaps[0][1]
    else:
        first, last = gaps[0][1:]
        assert last - first == 3
    assert client.stats.gaps == 1
    assert client.session_stats[-1].gap_fills_received == 1
