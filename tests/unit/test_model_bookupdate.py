"""BookUpdate: a tuple subclass that must behave like the frozen dataclass it replaced."""

from __future__ import annotations

import copy
import pickle

import pytest

from dragonfly.model import BookUpdate, VenueStatus

BIDS = ((0.05, 1.0), (0.049, 2.0))
ASKS = ((0.051, 3.0),)


def test_keyword_and_positional_construction_with_defaults() -> None:
    u = BookUpdate(venue="binance", instrument="ETH-BTC", bids=BIDS, asks=ASKS)
    assert (u.venue, u.instrument, u.bids, u.asks) == ("binance", "ETH-BTC", BIDS, ASKS)
    assert (u.status, u.exchange_ts_ns, u.receive_ts_ns, u.reason) == (VenueStatus.LIVE, 0, 0, "")
    v = BookUpdate("binance", "ETH-BTC", BIDS, ASKS, VenueStatus.STALE, 5, 6, "gone")
    assert (v.status, v.exchange_ts_ns, v.receive_ts_ns, v.reason) == (VenueStatus.STALE, 5, 6, "gone")
    assert BookUpdate._make(("binance", "ETH-BTC", BIDS, ASKS, VenueStatus.STALE, 5, 6, "gone")) == v
    with pytest.raises(TypeError):
        BookUpdate("binance", "ETH-BTC", BIDS)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        BookUpdate("binance", "ETH-BTC", BIDS, ASKS, nope=1)  # type: ignore[call-arg]


def test_fields_cannot_be_set_or_added() -> None:
    u = BookUpdate("binance", "ETH-BTC", BIDS, ASKS)
    for name in ("venue", "bids", "status", "reason"):
        with pytest.raises(AttributeError):
            setattr(u, name, None)
    with pytest.raises(AttributeError):
        u.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        del u.venue
    assert u.venue == "binance"


def test_equality_hash_and_repr_like_the_dataclass() -> None:
    a = BookUpdate("binance", "ETH-BTC", BIDS, ASKS, receive_ts_ns=7)
    b = BookUpdate("binance", "ETH-BTC", BIDS, ASKS, VenueStatus.LIVE, 0, 7, "")
    c = BookUpdate("binance", "ETH-BTC", BIDS, ASKS, receive_ts_ns=8)
    assert a == b and not (a != b) and hash(a) == hash(b)
    assert a != c and not (a == c)
    plain = tuple(a)
    assert a != plain and plain != a and not (a == plain) and not (plain == a)
    assert a != "binance" and a is not None
    with pytest.raises(TypeError):
        _ = a < c  # type: ignore[operator]
    assert repr(a) == (
        "BookUpdate(venue='binance', instrument='ETH-BTC', bids=((0.05, 1.0), (0.049, 2.0)), "
        "asks=((0.051, 3.0),), status=<VenueStatus.LIVE: 'LIVE'>, exchange_ts_ns=0, receive_ts_ns=7, reason='')"
    )


def test_pickle_copy_and_match() -> None:
    u = BookUpdate("bitstamp", "ETH-BTC", BIDS, ASKS, VenueStatus.SYNCING, 1, 2, "why")
    for clone in (pickle.loads(pickle.dumps(u)), copy.copy(u), copy.deepcopy(u)):
        assert clone == u and type(clone) is BookUpdate and clone.reason == "why"
    match u:
        case BookUpdate(venue, instrument, status=VenueStatus.SYNCING):
            assert (venue, instrument) == ("bitstamp", "ETH-BTC")
        case _:  # pragma: no cover - the case above must match
            pytest.fail("positional/keyword match on BookUpdate failed")


def test_replace_changes_only_the_named_fields() -> None:
    from dragonfly.model import BookUpdate, VenueStatus

    u = BookUpdate("binance", "ETH-BTC", ((1.0, 2.0),), ((3.0, 4.0),), VenueStatus.LIVE, 5, 6, "")
    r = u._replace(venue="binance-diff", reason="x")
    assert type(r) is BookUpdate
    assert (r.venue, r.reason) == ("binance-diff", "x")
    assert (r.instrument, r.bids, r.asks, r.status, r.exchange_ts_ns, r.receive_ts_ns) == (
        u.instrument, u.bids, u.asks, u.status, u.exchange_ts_ns, u.receive_ts_ns)
    assert u.venue == "binance"  # the original is unchanged
    import pytest

    with pytest.raises(TypeError, match="nope"):
        u._replace(nope=1)
