"""dragonfly's FIX client and server against a real FIX engine (QuickFIX/C++ 1.15, Debian libquickfix-dev).

* ``qf_venue`` (QuickFIX acceptor) plays a market-data venue; our
  :class:`~dragonfly.clients.fix.FixClient` + FIX venue feed subscribe to it.
* ``qf_customer`` (QuickFIX initiator) plays a legacy customer of our
  :class:`~dragonfly.services.fix_server.FixServer`.

Both validate every message with the FIX 4.4 dictionary QuickFIX ships, unmodified
(``harness.stock_dictionary``), and every test ends by checking that neither side sent
a session-level Reject (35=3).

Everything runs on 127.0.0.1 and is started and stopped by the tests. The peers
print one line per FIX event; the tests await those lines (timeouts are a safety
net, nothing asserts on time).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fix_peers"))
from harness import Collector, Peer, build_peers, free_port, settings, wait_until

from dragonfly._core.fix import market_data, parse_message
from dragonfly.clients.base import Backoff
from dragonfly.clients.fix import FileSeqStore
from dragonfly.model import LiquidityView, VenueStatus, WorldView
from dragonfly.queues import Broadcast
from dragonfly.services.fix_server import MAX_SYMBOLS_PER_REQUEST, FixServer, FixServerConfig
from dragonfly.venues import create_feed, get_venue
from dragonfly.venues.fixsim import FixsimConfig

FAST = Backoff(initial_s=0.05, max_s=0.5)
INITIAL_BIDS = ((0.05, 1.5), (0.0499, 2.0), (0.0498, 3.25))
INITIAL_ASKS = ((0.0501, 1.0), (0.0502, 4.0), (0.0503, 0.5))


@pytest.fixture(scope="module")
def peers() -> dict[str, Path]:
    return build_peers()


def assert_no_session_reject(peer: Peer) -> None:
    """Neither side sent a Reject (35=3): QuickFIX accepted everything we sent, and we everything it sent."""
    bad = [line for line in peer.lines if line.startswith(("ADMIN_IN 3 ", "ADMIN_OUT 3 "))]
    assert not bad, "35=3 exchanged:\n" + "\n".join(bad)


# ----------------------------------------------------------------------------------------------
# our client -> QuickFIX venue


class Venue:
    def __init__(self, peer: Peer, port: int) -> None:
        self.peer = peer
        self.port = port


@pytest.fixture
async def qf_venue(peers, tmp_path):
    port = free_port()
    cfg = settings(tmp_path / "venue.cfg", initiator=False, port=port, sender="QFVENUE", target="DRAGONFLY",
                   store=tmp_path / "qf-venue-store")
    peer = await Peer(peers["qf_venue"], str(cfg)).start()
    try:
        yield Venue(peer, port)
    finally:
        await peer.stop()
    assert_no_session_reject(peer)


def _feed(port: int, sink: Collector, store: Path, *, sender: str = "DRAGONFLY", heartbeat_s: int = 1):
    cfg = FixsimConfig(base_url=f"fix://127.0.0.1:{port}", sender_comp_id=sender,
                       target_comp_id="QFVENUE", heartbeat_s=heartbeat_s, store_path=str(store))
    spec = dataclasses.replace(get_venue("fixsim"), name="qfvenue")  # another FIX venue: the same adapter, its own name
    return create_feed(spec, instruments=["ETH-BTC"], depth=5, sink=sink, config=cfg, backoff=FAST)


def _live(bids=None, asks=None):
    def pred(u) -> bool:
        if u.status is not VenueStatus.LIVE:
            return False
        return (bids is None or u.bids == bids) and (asks is None or u.asks == asks)

    return pred


async def test_client_logon_snapshot_and_incrementals(qf_venue, tmp_path) -> None:
    sink = Collector()
    feed = _feed(qf_venue.port, sink, tmp_path / "ours.seq")
    feed.start()
    try:
        await qf_venue.peer.expect("LOGON")
        req = await qf_venue.peer.expect("MDREQ")
        assert req.split()[1:] == ["ETH-BTC:1", "ETH-BTC", "5", "1", "1"]  # id, symbol, depth, 265=1, 263=1
        first = await sink.wait_for(_live())
        assert (first.venue, first.instrument) == ("qfvenue", "ETH-BTC")
        assert first.bids == INITIAL_BIDS and first.asks == INITIAL_ASKS
        n = len(sink.items)
        await qf_venue.peer.send("set 0 0.0500 7")  # change
        await qf_venue.peer.send("set 0 0.04995 1")  # new level
        await qf_venue.peer.send("del 1 0.0501")  # delete the best ask
        await sink.wait_for(_live(bids=((0.05, 7.0), (0.0499, 2.0), (0.0498, 3.25)), asks=None), since=n)
        await sink.wait_for(_live(bids=((0.05, 7.0), (0.04995, 1.0), (0.0499, 2.0), (0.0498, 3.25))), since=n)
        last = await sink.wait_for(_live(asks=((0.0502, 4.0), (0.0503, 0.5))), since=n)
        assert last.bids[1] == (0.04995, 1.0)
    finally:
        await feed.stop()
    # a clean stop logs out: QuickFIX saw our Logout and answered it
    await qf_venue.peer.expect("ADMIN_IN 5")
    await qf_venue.peer.expect("LOGOUT")


async def test_client_heartbeats_and_test_request(qf_venue, tmp_path) -> None:
    sink = Collector()
    feed = _feed(qf_venue.port, sink, tmp_path / "ours.seq", heartbeat_s=1)
    feed.start()
    try:
        await sink.wait_for(_live())
        mark = qf_venue.peer.mark()
        # heartbeats both ways while the book is quiet
        await qf_venue.peer.expect("ADMIN_IN 0", since=mark)
        await qf_venue.peer.expect("ADMIN_OUT 0", since=mark)
        session = feed.client.session
        assert session is not None
        await wait_until(lambda: session.stats.heartbeats_sent >= 2, what="our heartbeats")
        # stop our own heartbeats: QuickFIX sends a TestRequest, we answer it, the session lives on
        session.heartbeat_s = 3600.0
        mark = qf_venue.peer.mark()
        await qf_venue.peer.expect("ADMIN_OUT 1", since=mark)
        answered = qf_venue.peer.mark()
        await qf_venue.peer.expect("ADMIN_IN 0", since=mark)
        session.heartbeat_s = 1.0
        await qf_venue.peer.expect("ADMIN_OUT 0", since=answered)
        assert not session.closed and qf_venue.peer.count("LOGOUT", since=mark) == 0
        assert feed.client.stats.reconnects == 0
    finally:
        await feed.stop()


async def test_client_silent_is_dropped_then_resumes_with_gap_fill(qf_venue, tmp_path) -> None:
    sink = Collector()
    feed = _feed(qf_venue.port, sink, tmp_path / "ours.seq", heartbeat_s=1)
    feed.start()
    try:
        await sink.wait_for(_live())
        session = feed.client.session
        assert session is not None
        # nothing we write reaches QuickFIX (but uses sequence numbers): its TestRequest goes unanswered
        session.muted = True
        mark = qf_venue.peer.mark()
        await qf_venue.peer.expect("ADMIN_OUT 1", since=mark)
        await qf_venue.peer.expect("LOGOUT", since=mark)
        # we log on again by ourselves; QuickFIX asks for the numbers it missed and we gap-fill them
        await qf_venue.peer.expect("LOGON", since=mark)
        fill = await qf_venue.peer.expect("ADMIN_IN 4", since=mark)
        assert fill.split()[3] == "Y"  # PossDupFlag on the SequenceReset-GapFill
        await qf_venue.peer.expect("ADMIN_OUT 2", since=mark)
        await wait_until(lambda: feed.client.session is not None and feed.client.session.stats.gap_fills_sent >= 1,
                         what="our gap fill")
        assert feed.client.stats.reconnects >= 1
        n = len(sink.items)
        await qf_venue.peer.send("set 0 0.0500 3")
        await sink.wait_for(_live(bids=((0.05, 3.0), (0.0499, 2.0), (0.0498, 3.25))), since=n)
    finally:
        await feed.stop()


async def test_client_sequence_gap_is_resent_and_book_resyncs(qf_venue, tmp_path) -> None:
    sink = Collector()
    feed = _feed(qf_venue.port, sink, tmp_path / "ours.seq")
    feed.start()
    try:
        await sink.wait_for(_live())
        mark = qf_venue.peer.mark()
        n = len(sink.items)
        await qf_venue.peer.send("gap 3")
        await qf_venue.peer.send("set 1 0.0501 9")
        await qf_venue.peer.expect("ADMIN_IN 2", since=mark)  # our ResendRequest
        await qf_venue.peer.expect("ADMIN_OUT 4", since=mark)  # QuickFIX's SequenceReset-GapFill
        # the gap-filled numbers might have been market data: the feed re-requests a snapshot
        await sink.wait_for(
            lambda u: u.status is VenueStatus.STALE and "skipped by the counterparty" in u.reason, since=n
        )
        await qf_venue.peer.expect(lambda s: s.startswith("MDREQ") and s.endswith(" 1") and "ETH-BTC:2" in s,
                                   since=mark)
        await sink.wait_for(_live(asks=((0.0501, 9.0), (0.0502, 4.0), (0.0503, 0.5))), since=n)
        stats = feed.client.session.stats
        assert stats.resend_requests_sent == 1 and stats.gap_fills_received >= 1
    finally:
        await feed.stop()


async def test_client_reconnect_resumes_sequence_and_gets_resends(qf_venue, tmp_path) -> None:
    store = tmp_path / "ours.seq"
    sink = Collector()
    feed = _feed(qf_venue.port, sink, store)
    feed.start()
    await sink.wait_for(_live())
    await feed.stop()
    await qf_venue.peer.expect("LOGOUT")
    saved = FileSeqStore(store)
    out_seq, in_seq = saved.next_out, saved.next_in
    saved.close()
    assert out_seq > 2 and in_seq > 2
    # while we are away the venue publishes two updates (QuickFIX stores them)
    await qf_venue.peer.send("set 0 0.0500 8")
    await qf_venue.peer.send("set 1 0.0501 2")
    await qf_venue.peer.send("seq")
    seq_line = await qf_venue.peer.expect("SEQ")
    assert int(seq_line.split()[2]) == out_seq  # QuickFIX expects exactly our next MsgSeqNum

    # a new process (new client, same store file) resumes the session: no reset, no "too low"
    sink2 = Collector()
    feed2 = _feed(qf_venue.port, sink2, store)
    mark = qf_venue.peer.mark()
    feed2.start()
    try:
        await qf_venue.peer.expect("LOGON", since=mark)
        logon_in = await qf_venue.peer.expect("ADMIN_IN A", since=mark)
        assert int(logon_in.split()[2]) == out_seq
        # its Logon showed a gap: we asked for the two stored updates and QuickFIX resent them (PossDupFlag=Y)
        await qf_venue.peer.expect("ADMIN_IN 2", since=mark)
        await wait_until(lambda: feed2.client.session is not None and
                         feed2.client.session.stats.poss_dup_received >= 2, what="resent messages")
        await sink2.wait_for(_live(bids=((0.05, 8.0), (0.0499, 2.0), (0.0498, 3.25)),
                                   asks=((0.0501, 2.0), (0.0502, 4.0), (0.0503, 0.5))))
        assert qf_venue.peer.count("ADMIN_OUT 5", since=mark) == 0  # QuickFIX never logged us out
    finally:
        await feed2.stop()


async def test_client_venue_logout_then_reconnect(qf_venue, tmp_path) -> None:
    sink = Collector()
    feed = _feed(qf_venue.port, sink, tmp_path / "ours.seq")
    feed.start()
    try:
        await sink.wait_for(_live())
        n = len(sink.items)
        mark = qf_venue.peer.mark()
        await qf_venue.peer.send("logout")
        await qf_venue.peer.expect("ADMIN_IN 5", since=mark)  # we confirmed the Logout
        stale = await sink.wait_for(lambda u: u.status is VenueStatus.STALE, since=n)
        assert "logout" in stale.reason
        # QuickFIX refuses logons until re-enabled; we keep retrying with backoff and carry on
        await wait_until(lambda: feed.client.stats.failed_connects >= 1, what="a refused logon")
        await qf_venue.peer.send("enable")
        await qf_venue.peer.expect("LOGON", since=mark)  # and logged on again by ourselves
        await sink.wait_for(_live(), since=sink.items.index(stale))
        assert feed.client.stats.reconnects >= 1
    finally:
        await feed.stop()


async def test_client_unknown_comp_id_is_refused_and_process_carries_on(qf_venue, tmp_path) -> None:
    sink = Collector()
    bad = _feed(qf_venue.port, sink, tmp_path / "evil.seq", sender="EVIL")
    task = bad.start()
    try:
        await wait_until(lambda: bad.client.stats.failed_connects >= 2, what="refused logons")
        assert not task.done() and bad.client.stats.connects == 0
        assert all(u.status is not VenueStatus.LIVE for u in sink.items)
        assert qf_venue.peer.count("LOGON") == 0
    finally:
        await bad.stop()
    # the venue (and we) carry on: a good client still logs on
    good_sink = Collector()
    good = _feed(qf_venue.port, good_sink, tmp_path / "ours.seq")
    good.start()
    try:
        await good_sink.wait_for(_live())
    finally:
        await good.stop()


# ----------------------------------------------------------------------------------------------
# QuickFIX customer -> our FIX server


def _view(seq: int, bid: float, ask: float) -> WorldView:
    bids = (("binance", bid, 1.0), ("bitstamp", round(bid - 0.0001, 6), 2.5))
    asks = (("bitstamp", ask, 0.75), ("binance", round(ask + 0.0001, 6), 3.0))
    return WorldView(instrument="ETH-BTC", seq=seq, bids=bids, asks=asks, spread=ask - bid)


def _liquidity(seq: int, bid: float, ask: float) -> LiquidityView:
    """Summed liquidity: two venues at the best bid, one at the best ask."""
    bids = ((bid, 3.5, {"binance": 1.0, "bitstamp": 2.5}), (round(bid - 0.0001, 6), 4.0, {"binance": 4.0}))
    asks = ((ask, 0.75, {"bitstamp": 0.75}),)
    return LiquidityView(instrument="ETH-BTC", seq=seq, bids=bids, asks=asks)


class Served:
    def __init__(self, server: FixServer, views: Broadcast[WorldView], liquidity: Broadcast[LiquidityView],
                 tmp: Path, peers) -> None:
        self.server = server
        self.views = views
        self.liquidity = liquidity
        self.tmp = tmp
        self.peers = peers
        self.customers: list[Peer] = []

    async def customer(self, comp_id: str = "CUST", password: str | None = "secret", heartbeat_s: int = 1,
                       store: str = "qf-cust-store") -> Peer:
        cfg = settings(self.tmp / f"{comp_id}.cfg", initiator=True, port=self.server.port, sender=comp_id,
                       target="DRAGONFLY", store=self.tmp / store, heartbeat_s=heartbeat_s)
        args = [str(cfg)] + ([password] if password else [])
        peer = await Peer(self.peers["qf_customer"], *args).start()
        self.customers.append(peer)
        return peer


@pytest.fixture
async def served(peers, tmp_path):
    views: Broadcast[WorldView] = Broadcast("test")
    views.publish(_view(1, 0.05, 0.0502))
    liquidity: Broadcast[LiquidityView] = Broadcast("test-liquidity")
    liquidity.publish(_liquidity(1, 0.05, 0.0502))
    cfg = FixServerConfig(port=0, customers={"CUST": "secret", "OPEN": None}, store_dir=str(tmp_path / "srv"))
    server = FixServer({"ETH-BTC": views}, cfg, liquidity={"ETH-BTC": liquidity})
    await server.start()
    s = Served(server, views, liquidity, tmp_path, peers)
    try:
        yield s
    finally:
        await server.stop()
    for peer in s.customers:
        assert_no_session_reject(peer)


def _app(line: str):
    raw = line[4:].replace("|", "\x01").encode("latin-1")
    return parse_message(raw)


async def test_server_snapshot_then_incrementals_with_venues(served) -> None:
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send("sub r1 ethbtc 10 1")
        w = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert w.msg_type == "W" and w.get(262) == b"r1"
        md = market_data(w)
        assert sorted(md.entries()) == sorted([
            (0, 0, 0.05, 1.0, "ethbtc", "binance"), (0, 0, 0.0499, 2.5, "ethbtc", "bitstamp"),
            (0, 1, 0.0502, 0.75, "ethbtc", "bitstamp"), (0, 1, 0.0503, 3.0, "ethbtc", "binance"),
        ])
        mark = cust.mark()
        served.views.publish(_view(2, 0.0501, 0.0502))
        x = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert x.msg_type == "X"
        got = {(a, s, p, m): q for a, s, p, q, _, m in market_data(x).entries()}
        assert got[(2, 0, 0.05, "binance")] == 1.0  # old best bid deleted
        assert got[(0, 0, 0.0501, "binance")] == 1.0  # new best bid
        assert (2, 1, 0.0502, "bitstamp") not in got  # unchanged asks are not repeated
        assert served.server.stats.snapshots == 1 and served.server.stats.incrementals == 1
    finally:
        await cust.stop()


async def test_server_bbo_266_N_carries_each_venue_in_MDMkt(served) -> None:
    """266=N (explicit) streams the per-venue levels; each entry's venue is in MDMkt (275), never LastMkt (30)."""
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send("sub n1 ETH-BTC 10 0 N")
        line = await cust.expect("APP 8=FIX.4.4", since=mark)
        w = _app(line)
        assert w.msg_type == "W"
        assert w.get_all(275) == [b"binance", b"bitstamp", b"bitstamp", b"binance"] and w.get(30) is None
        assert {(s, p, q, m) for _, s, p, q, _, m in market_data(w).entries()} == {
            (0, 0.05, 1.0, "binance"), (0, 0.0499, 2.5, "bitstamp"),
            (1, 0.0502, 0.75, "bitstamp"), (1, 0.0503, 3.0, "binance"),
        }
    finally:
        await cust.stop()


async def test_server_liquidity_266_Y_streams_summed_sizes_per_price(served) -> None:
    """266=Y: summed liquidity per price (no venue per entry), as a 35=W then 35=X, to a stock QuickFIX customer."""
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send("sub l1 ETH-BTC 10 1 Y")
        w = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert w.msg_type == "W" and w.get(262) == b"l1"
        assert w.get_all(275) == [] and w.get_all(30) == []
        assert sorted(market_data(w).entries()) == sorted([
            (0, 0, 0.05, 3.5, "ETH-BTC", ""), (0, 0, 0.0499, 4.0, "ETH-BTC", ""), (0, 1, 0.0502, 0.75, "ETH-BTC", ""),
        ])
        mark = cust.mark()
        served.liquidity.publish(_liquidity(2, 0.0501, 0.0502))
        x = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert x.msg_type == "X" and x.get_all(275) == []
        got = {(a, s, p): q for a, s, p, q, _, _ in market_data(x).entries()}
        assert got == {(2, 0, 0.0499): 4.0, (0, 0, 0.0501): 3.5, (1, 0, 0.05): 4.0}
        # a snapshot request (263=0) of the summed book works the same way
        mark = cust.mark()
        await cust.send("snap l2 ETH-BTC 1 Y")
        snap = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert snap.msg_type == "W" and sorted(market_data(snap).entries()) == sorted([
            (0, 0, 0.0501, 3.5, "ETH-BTC", ""), (0, 1, 0.0502, 0.75, "ETH-BTC", ""),
        ])
    finally:
        await cust.stop()


async def test_server_one_request_listing_a_symbol_1200_times_gets_one_reject(served) -> None:
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send("many big ETH-BTC 1200")
        y = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert y.msg_type == "Y" and y.get(262) == b"big" and y.get(281) == b"2"
        assert f"at most {MAX_SYMBOLS_PER_REQUEST}".encode() in (y.get(58) or b"")
        # the next request is answered, and nothing else came for the big one
        await cust.send("snap after ETH-BTC 1")
        w = _app(await cust.expect(lambda s: s.startswith("APP ") and "262=after" in s, since=mark))
        assert w.msg_type == "W"
        assert cust.count("APP ", since=mark) == 2
        assert served.server.stats.request_rejects == 1 and served.server.subscriptions_of("CUST") == 0
    finally:
        await cust.stop()


async def test_server_repeated_symbol_is_rejected_once(served) -> None:
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send(f"many twice ETH-BTC {MAX_SYMBOLS_PER_REQUEST}")
        y = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert y.msg_type == "Y" and b"listed twice" in (y.get(58) or b"")
        await cust.send("snap after ETH-BTC 1")
        await cust.expect(lambda s: s.startswith("APP ") and "262=after" in s, since=mark)
        assert cust.count("APP ", since=mark) == 2 and served.server.subscriptions_of("CUST") == 0
    finally:
        await cust.stop()


async def test_server_unknown_instrument_gets_35_Y(served) -> None:
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.send("sub r9 DOGE-XYZ 5 1")
        y = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert y.msg_type == "Y" and y.get(262) == b"r9" and y.get(281) == b"0"
        assert b"DOGE-XYZ" in (y.get(58) or b"")
        # the session goes on: a good request still works
        mark = cust.mark()
        await cust.send("snap r10 ETH-BTC 1")
        w = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert w.msg_type == "W" and len(market_data(w)) == 2  # depth 1: one bid, one ask
    finally:
        await cust.stop()


@pytest.mark.parametrize(("comp_id", "password", "reason"), [
    ("CUST", "wrong", "wrong or missing password"),
    ("CUST", None, "wrong or missing password"),
    ("STRANGER", None, "unknown SenderCompID"),
])
async def test_server_refuses_bad_logons(served, comp_id, password, reason) -> None:
    cust = await served.customer(comp_id=comp_id, password=password, store=f"store-{comp_id}-{password}")
    try:
        line = await cust.expect("ADMIN_IN 5")
        assert reason in line
        assert cust.count("LOGON") == 0 and served.server.stats.logons == 0
    finally:
        await cust.stop()
    # the server carries on
    ok = await served.customer(comp_id="OPEN", password=None, store="store-open")
    try:
        await ok.expect("LOGON")
    finally:
        await ok.stop()


async def test_server_heartbeats_and_customer_gap(served) -> None:
    cust = await served.customer(heartbeat_s=1)
    try:
        await cust.expect("LOGON")
        mark = cust.mark()
        await cust.expect("ADMIN_IN 0", since=mark)  # our heartbeat reached QuickFIX
        session = served.server.sessions["CUST"]
        await wait_until(lambda: session.stats.received >= 2, what="customer heartbeats")
        # the customer skips 2 sequence numbers, then subscribes: we ask for a resend and still serve it
        mark = cust.mark()
        await cust.send("gap 2")
        await cust.send("sub r2 ETH-BTC 5 1")
        await cust.expect("ADMIN_IN 2", since=mark)  # our ResendRequest
        await cust.expect("ADMIN_OUT 4", since=mark)  # QuickFIX's GapFill
        w = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert w.msg_type == "W"
        assert session.stats.resend_requests_sent == 1 and session.stats.poss_dup_received >= 1
    finally:
        await cust.stop()


async def test_server_reconnect_and_restart_resume_sequence(served, peers, tmp_path) -> None:
    cust = await served.customer()
    try:
        await cust.expect("LOGON")
        await cust.send("sub r1 ETH-BTC 5 1")
        await cust.expect("APP 8=FIX.4.4")
        mark = cust.mark()
        await cust.send("logout")
        await cust.expect("LOGOUT", since=mark)
        await cust.send("enable")  # QuickFIX reconnects after ReconnectInterval, same sequence numbers
        await cust.expect("LOGON", since=mark)
        # restart the server on the same port with the same store directory
        port = served.server.port
        mark = cust.mark()
        await served.server.stop()
        await cust.expect("LOGOUT", since=mark)
        cfg = FixServerConfig(port=port, customers={"CUST": "secret"}, store_dir=str(tmp_path / "srv"))
        mark = cust.mark()
        server2 = FixServer({"ETH-BTC": served.views}, cfg)
        await server2.start()
        try:
            await cust.expect("LOGON", since=mark)
            # neither side saw "MsgSeqNum too low": both resumed where they were
            assert not any("too low" in line for line in cust.lines)
            await cust.send("seq")
            seq = await cust.expect("SEQ", since=mark)
            assert int(seq.split()[1]) > 3 and int(seq.split()[2]) > 3
            mark = cust.mark()
            await cust.send("sub r3 ETH-BTC 5 0")
            w = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
            assert w.msg_type == "W"
        finally:
            await server2.stop()
        await cust.expect("ADMIN_IN 5", since=mark)  # "server shutting down"
    finally:
        await cust.stop()


async def test_end_to_end_quickfix_venue_to_quickfix_customer(peers, tmp_path) -> None:
    """QuickFIX venue -> our FIX client -> the BBO aggregator (with a second venue) -> our FIX server -> QuickFIX
    customer."""
    from dragonfly.aggregators.bbo import AggregatorConfig, BboAggregator
    from dragonfly.model import BookUpdate

    vport = free_port()
    vcfg = settings(tmp_path / "venue.cfg", initiator=False, port=vport, sender="QFVENUE", target="DRAGONFLY",
                    store=tmp_path / "venue-store")
    venue = await Peer(peers["qf_venue"], str(vcfg)).start()
    agg = BboAggregator(AggregatorConfig(instrument="ETH-BTC", venues=("qfvenue", "other"), depth=3,
                                         liquidity=False))
    agg.start()
    feed = _feed(vport, agg, tmp_path / "ours.seq")  # type: ignore[arg-type]
    feed.start()
    server = FixServer({"ETH-BTC": agg.views}, FixServerConfig(port=0, customers={"CUST": None}))
    await server.start()
    ccfg = settings(tmp_path / "cust.cfg", initiator=True, port=server.port, sender="CUST", target="DRAGONFLY",
                    store=tmp_path / "cust-store")
    cust = await Peer(peers["qf_customer"], str(ccfg)).start()
    try:
        await venue.expect("MDREQ")
        agg.publish(BookUpdate("other", "ETH-BTC", ((0.04995, 9.0),), ((0.0505, 9.0),), VenueStatus.LIVE))
        await cust.expect("LOGON")

        def both_venues(v) -> bool:
            return v is not None and {lv[0] for lv in v.bids} == {"qfvenue", "other"}

        await wait_until(lambda: both_venues(agg.views.latest), what="a view with both venues")
        mark = cust.mark()
        await cust.send("sub e2e ETH-BTC 3 1")
        w = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert w.msg_type == "W"
        assert sorted(market_data(w).entries()) == sorted([
            (0, 0, 0.05, 1.5, "ETH-BTC", "qfvenue"), (0, 0, 0.04995, 9.0, "ETH-BTC", "other"),
            (0, 0, 0.0499, 2.0, "ETH-BTC", "qfvenue"),
            (0, 1, 0.0501, 1.0, "ETH-BTC", "qfvenue"), (0, 1, 0.0502, 4.0, "ETH-BTC", "qfvenue"),
            (0, 1, 0.0503, 0.5, "ETH-BTC", "qfvenue"),
        ])
        # the venue improves its bid over FIX: the customer gets it over FIX, labelled with the venue
        mark = cust.mark()
        await venue.send("set 0 0.05005 4")
        x = _app(await cust.expect("APP 8=FIX.4.4", since=mark))
        assert x.msg_type == "X"
        assert (0, 0, 0.05005, 4.0, "ETH-BTC", "qfvenue") in market_data(x).entries()
    finally:
        await cust.stop()
        await server.stop()
        await feed.stop()
        await agg.stop()
        await venue.stop()
