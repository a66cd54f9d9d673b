"""Encoding views for the gRPC streams, and the client's address parsing and rendering (no network)."""

from __future__ import annotations

import io

import pytest

from dragonfly._core.merge import merge_liquidity
from dragonfly.errors import ConfigError
from dragonfly.model import LiquidityView, VenueHealth, VenueStatus, WorldView
from dragonfly.services.grpc.client import BookRenderer, BookSnapshot, GrpcClientConfig, RateMeter, parse_address
from dragonfly.services.grpc.encode import (
    encode_book_update,
    encode_liquidity_from_view,
    encode_liquidity_update,
    encode_summary_bytes,
    select_book,
    summary_pb,
)
from dragonfly.services.grpc.protos import book_pb2, orderbook_pb2
from dragonfly.services.grpc.testing import synthetic_view

VENUES = ("binance", "bitstamp")


def test_summary_bytes_equal_the_protobuf_encoding() -> None:
    for seq in range(1, 30):
        view = synthetic_view(seq, venues=VENUES)
        for depth in (1, 3, 10):
            raw = encode_summary_bytes(view, depth=depth)
            bids, asks = view.bids[:depth], view.asks[:depth]
            spread = view.spread if depth >= 10 else asks[0][1] - bids[0][1]
            assert raw == summary_pb(bids, asks, spread).SerializeToString()
            msg = orderbook_pb2.Summary.FromString(raw)
            assert msg.spread == asks[0][1] - bids[0][1]


def test_select_book_subset_remerges_that_venues_top() -> None:
    view = synthetic_view(11, venues=VENUES)
    bids, asks, spread = select_book(view, depth=4, venues=frozenset({"binance"}))
    assert bids == tuple(("binance", p, q) for p, q in view.books["binance"][0][:4])
    assert asks == tuple(("binance", p, q) for p, q in view.books["binance"][1][:4])
    assert spread == asks[0][1] - bids[0][1]


def test_select_book_without_per_venue_books_filters() -> None:
    v = synthetic_view(12, venues=VENUES)
    bare = WorldView(v.instrument, v.seq, v.bids, v.asks, v.spread, v.venues)
    bids, asks, _ = select_book(bare, depth=10, venues=frozenset({"bitstamp"}))
    assert bids == tuple(lv for lv in v.bids if lv[0] == "bitstamp")
    assert asks == tuple(lv for lv in v.asks if lv[0] == "bitstamp")


def test_empty_side_has_zero_spread() -> None:
    view = WorldView("ETH-BTC", 1, (("binance", 1.0, 2.0),), (), 0.0)
    msg = orderbook_pb2.Summary.FromString(encode_summary_bytes(view, depth=10))
    assert msg.spread == 0.0 and len(msg.bids) == 1 and not msg.asks
    assert select_book(view, depth=10, venues=frozenset({"binance"}))[2] == 0.0


def test_book_update_carries_seq_timestamps_and_health() -> None:
    base = synthetic_view(5, venues=VENUES)
    health = {
        "binance": VenueHealth("binance", VenueStatus.LIVE, 123),
        "bitstamp": VenueHealth("bitstamp", VenueStatus.STALE, 99, "no data for 10s"),
    }
    view = WorldView(base.instrument, 42, base.bids, base.asks, base.spread, health, 1, 2, 3, base.books)
    msg = book_pb2.BookUpdate.FromString(
        encode_book_update(view, depth=2, venues=None, all_venues=(*VENUES, "kraken"))
    )
    assert (msg.instrument, msg.seq, msg.exchange_ts_ns, msg.receive_ts_ns, msg.publish_ts_ns) == (
        "ETH-BTC",
        42,
        1,
        2,
        3,
    )
    assert len(msg.bids) == len(msg.asks) == 2
    assert [(h.venue, h.status, h.last_update_ns, h.reason) for h in msg.venues] == [
        ("binance", book_pb2.VENUE_STATUS_LIVE, 123, ""),
        ("bitstamp", book_pb2.VENUE_STATUS_STALE, 99, "no data for 10s"),
        ("kraken", book_pb2.VENUE_STATUS_SYNCING, 0, "no data yet"),
    ]


def test_liquidity_update_from_aggregator_view_and_subset() -> None:
    view = synthetic_view(8, venues=VENUES)
    bids, asks = merge_liquidity(view.books, 10)
    lv = LiquidityView("ETH-BTC", 8, tuple(bids), tuple(asks), view.venues, 1, 2, 3)
    full = book_pb2.LiquidityUpdate.FromString(encode_liquidity_update(lv, depth=5, venues=None, all_venues=VENUES))
    assert [(x.price, x.amount) for x in full.bids] == [(p, t) for p, t, _ in bids[:5]]
    assert [[(y.exchange, y.amount) for y in x.venues] for x in full.asks] == [
        sorted(d.items()) for _, _, d in asks[:5]
    ]
    sub = book_pb2.LiquidityUpdate.FromString(
        encode_liquidity_from_view(view, depth=3, venues=frozenset({"bitstamp"}), all_venues=VENUES)
    )
    assert [(x.price, x.amount) for x in sub.bids] == [(p, q) for p, q in view.books["bitstamp"][0][:3]]
    assert [h.venue for h in sub.venues] == ["bitstamp"]
    filtered = book_pb2.LiquidityUpdate.FromString(
        encode_liquidity_update(lv, depth=10, venues=frozenset({"binance"}), all_venues=VENUES)
    )
    for x in filtered.bids:
        assert [y.exchange for y in x.venues] == ["binance"] and x.amount == x.venues[0].amount


@pytest.mark.parametrize(
    "text, expected",
    [("127.0.0.1:50051", ("127.0.0.1", 50051)), ("localhost:1", ("localhost", 1)), ("[::1]:443", ("::1", 443))],
)
def test_parse_address_ok(text, expected) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text", ["", "127.0.0.1", ":50051", "host:0", "host:65536", "host:x", "a b:1", "[::1]50051", "[zz]:1"]
)
def test_parse_address_bad(text) -> None:
    with pytest.raises(ConfigError):
        parse_address(text)
    with pytest.raises(ConfigError):
        GrpcClientConfig(address=text)


def _snap() -> BookSnapshot:
    view = synthetic_view(3, venues=VENUES)
    msg = book_pb2.BookUpdate.FromString(encode_book_update(view, depth=10, venues=None, all_venues=VENUES))
    return BookSnapshot.from_update(msg)


def test_plain_rendering_is_lines_without_escapes() -> None:
    out = io.StringIO()
    r = BookRenderer(out, live=False, rows=3)
    snap = _snap()
    r.render(snap, 12.5)
    snap.seq += 5
    r.render(snap, 12.5)
    text = out.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("ETH-BTC seq=3 skipped=0 spread=")
    assert "rate=12.5/s" in lines[0] and "venues=binance:LIVE,bitstamp:LIVE" in lines[0]
    assert len(lines) == 8 and lines[4].startswith("ETH-BTC seq=8 skipped=4 ")
    b, a = snap.bids[0], snap.asks[0]
    assert lines[1].split() == [
        "bid",
        b[0],
        f"{b[1]:.8f}",
        f"{b[2]:.8f}",
        "|",
        "ask",
        a[0],
        f"{a[1]:.8f}",
        f"{a[2]:.8f}",
    ]


def test_live_rendering_redraws_one_screen() -> None:
    out = io.StringIO()
    r = BookRenderer(out, live=True, rows=10, footer=[" hello"])
    r.render(_snap(), 3.0)
    text = out.getvalue()
    assert text.startswith("\x1b[2J" + BookRenderer.CLEAR)  # first draw clears the screen
    r.render(_snap(), 3.0)
    assert out.getvalue()[len(text) :].startswith(BookRenderer.CLEAR)  # then redraws in place
    assert "BIDS" in text and "ASKS" in text and "updates/s" in text and " hello" in text
    assert text.count("binance") >= 2


def test_rate_meter() -> None:
    m = RateMeter(window_s=1.0)
    assert m.tick(0) == 0.0
    for i in range(1, 11):
        rate = m.tick(i * 100_000_000)  # every 0.1 s
    assert rate == pytest.approx(10.0)
    assert m.tick(10 * 1_000_000_000) == 0.0  # long pause: the window emptied


def test_summary_snapshot() -> None:
    raw = encode_summary_bytes(synthetic_view(2, venues=VENUES), depth=10)
    snap = BookSnapshot.from_summary(orderbook_pb2.Summary.FromString(raw), instrument="ETH-BTC")
    assert snap.seq == 0 and len(snap.bids) == 10 and snap.bids[0][0] in VENUES


def test_book_update_bytes_equal_the_protobuf_encoding() -> None:
    """The core's direct BookUpdate encoding is what building the protobuf objects would send, byte for byte."""
    from dragonfly.services.grpc.encode import _health_pb

    for seq in range(1, 20):
        base = synthetic_view(seq, venues=VENUES)
        health = {
            "binance": VenueHealth("binance", VenueStatus.LIVE, 1_764_500_000_000_000_000 + seq),
            "bitstamp": VenueHealth("bitstamp", [VenueStatus.SYNCING, VenueStatus.STALE][seq % 2], 0, "resync é"),
        }
        view = WorldView(base.instrument, seq, base.bids, base.asks, base.spread, health,
                         seq * 7, 1_764_500_000_000_000_000 + seq, 1_764_500_000_000_000_500 + seq, base.books)
        for depth, venues in ((10, None), (3, None), (4, frozenset({"bitstamp"}))):
            keep = [v for v in (*VENUES, "kraken") if venues is None or v in venues]
            bids, asks, spread = select_book(view, depth=depth, venues=venues)
            want = book_pb2.BookUpdate(
                instrument=view.instrument, seq=view.seq, spread=spread,
                bids=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in bids],
                asks=[orderbook_pb2.Level(exchange=v, price=p, amount=q) for v, p, q in asks],
                exchange_ts_ns=view.exchange_ts_ns, receive_ts_ns=view.receive_ts_ns,
                publish_ts_ns=view.publish_ts_ns, venues=_health_pb(view.venues, keep),
            ).SerializeToString()
            got = encode_book_update(view, depth=depth, venues=venues, all_venues=(*VENUES, "kraken"))
            assert got == want
