"""FIX venue feed (35=W/35=X into books), sequence stores and configs, without sockets."""

from __future__ import annotations

import pytest

from dragonfly._core.fix import encode_message, parse_message
from dragonfly.clients.fix import FileSeqStore, FixClient, FixClientConfig, FixSessionConfig, MemorySeqStore
from dragonfly.errors import ConfigError
from dragonfly.model import VenueStatus
from dragonfly.venues import create_feed, get_venue
from dragonfly.venues.fixsim import FixsimConfig, parse_fix_url

FIXSIM = get_venue("fixsim")


class Sink:
    def __init__(self) -> None:
        self.items: list = []

    def publish(self, item) -> None:
        self.items.append(item)


def _msg(mt: str, fields) -> object:
    return parse_message(encode_message(mt, [(49, "V"), (56, "D"), (34, 1), (52, "20240101-00:00:00"), *fields]))


def _w(req: str, levels) -> object:
    fields: list = [(262, req), (55, "ETH-BTC"), (268, len(levels))]
    for side, px, q in levels:
        fields += [(269, side), (270, px), (271, q)]
    return _msg("W", fields)


def _x(req: str, entries) -> object:
    fields: list = [(262, req), (268, len(entries))]
    for act, side, px, q in entries:
        fields += [(279, act), (269, side), (55, "ETH-BTC"), (270, px)]
        if q is not None:
            fields.append((271, q))
    return _msg("X", fields)


class Feed:
    """The fixsim feed of ETH-BTC, as if logged on and subscribed (MDReqID "ETH-BTC:1")."""

    def __init__(self, sink: Sink, **config) -> None:
        self.driver = create_feed(FIXSIM, instruments=["ETH-BTC"], depth=2, sink=sink,
                                  config=FixsimConfig(base_url="fix://127.0.0.1:1", **config))
        self.keeper = self.driver.keepers["ETH-BTC"]
        self.driver.adapter.connected()
        (self.subscribe,) = self.driver.adapter.subscribe(["ETH-BTC"])
        self.driver._handle(self.keeper, self.keeper.connected(), 0)
        self.stats = self.driver.stats

    def on_message(self, msg, receive_ns: int) -> None:
        self.driver.on_frame(msg.raw, receive_ns)


@pytest.fixture
def feed_and_sink():
    sink = Sink()
    return Feed(sink), sink


def test_subscription_is_a_market_data_request(feed_and_sink) -> None:
    feed, _ = feed_and_sink
    msg_type, fields = feed.subscribe
    assert msg_type == "V"
    assert fields == [(262, "ETH-BTC:1"), (263, 1), (264, 2), (265, 1), (267, 2), (269, 0), (269, 1), (146, 1),
                      (55, "ETH-BTC")]
    (unsub, resub) = feed.driver.adapter.resubscribe("ETH-BTC")
    assert unsub == (
        "V", [(262, "ETH-BTC:1"), (263, 2), (264, 2), (267, 2), (269, 0), (269, 1), (146, 1), (55, "ETH-BTC")]
    )
    assert resub[1][0] == (262, "ETH-BTC:2")


def test_snapshot_then_incrementals(feed_and_sink) -> None:
    feed, sink = feed_and_sink
    feed.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("0", "9", "2"), ("0", "8", "3"), ("1", "11", "4")]), 5)
    u = sink.items[-1]
    assert u.status is VenueStatus.LIVE and u.bids == ((10.0, 1.0), (9.0, 2.0)) and u.asks == ((11.0, 4.0),)
    assert u.receive_ts_ns == 5
    feed.on_message(_x("ETH-BTC:1", [("2", "0", "10", None), ("0", "1", "10.5", "1")]), 6)
    u = sink.items[-1]
    assert u.bids == ((9.0, 2.0), (8.0, 3.0)) and u.asks == ((10.5, 1.0), (11.0, 4.0))
    n = len(sink.items)
    feed.on_message(_x("ETH-BTC:1", [("1", "0", "8", "3")]), 7)  # level 3 below depth 2 changed to same size
    assert len(sink.items) == n  # top 2 unchanged: nothing forwarded
    assert feed.keeper.stats.unchanged == 1


@pytest.mark.parametrize(("entries", "reason"), [
    ([("2", "0", "7", None)], "delete of unknown bid level"),
    ([("1", "0", "7", "1")], "change of unknown bid level"),
    ([("0", "0", "12", "1")], "crossed: best bid (12.0, 1.0) >= best ask (11.0, 4.0)"),
    ([("0", "0", "-1", "1")], "not positive"),
])
def test_bad_incremental_resyncs_instrument(feed_and_sink, entries, reason) -> None:
    feed, sink = feed_and_sink
    feed.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("1", "11", "4")]), 1)
    feed.on_message(_x("ETH-BTC:1", entries), 2)
    u = sink.items[-1]
    assert u.status is VenueStatus.STALE and reason in u.reason and not u.bids
    assert feed.keeper.awaiting_snapshot and feed.keeper.stats.resyncs == 1
    # until the new snapshot arrives, incrementals are ignored (nothing LIVE is served)
    feed.on_message(_x("ETH-BTC:1", [("0", "0", "9", "1")]), 3)
    assert sink.items[-1].status is VenueStatus.STALE and feed.keeper.stats.dropped == 1
    feed.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("1", "11", "4")]), 4)  # the re-requested snapshot
    assert sink.items[-1].status is VenueStatus.LIVE


def test_garbled_group_and_other_requests(feed_and_sink) -> None:
    feed, sink = feed_and_sink
    feed.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("1", "11", "4")]), 1)
    bad = _msg("X", [(262, "ETH-BTC:1"), (268, 3), (279, "0"), (269, "0"), (270, "9"), (271, "1")])
    feed.on_message(bad, 2)
    assert feed.keeper.stats.bad_frames == 1 and sink.items[-1].status is VenueStatus.STALE
    assert "group_count" in sink.items[-1].reason
    feed.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("1", "11", "4")]), 3)
    n = len(sink.items)
    feed.on_message(_x("OLD:0", [("0", "0", "9", "1")]), 3)  # tail of a replaced subscription: ignored
    assert feed.stats.control_frames == 1 and len(sink.items) == n and feed.keeper.stats.applied == 0
    feed.on_message(_msg("Y", [(262, "ETH-BTC:1"), (281, "0"), (58, "unknown symbol")]), 4)
    assert sink.items[-1].status is VenueStatus.STALE and "unknown symbol" in sink.items[-1].reason


def test_full_refresh_mode_ignores_gaps() -> None:
    sink = Sink()
    full = Feed(sink, incremental=False)
    full.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("1", "11", "4")]), 1)
    full.driver._on_gap(full.driver.client, "sequence numbers 3..5 were gap-filled")  # every 35=W is complete
    assert full.keeper.status is VenueStatus.LIVE and full.keeper.stats.resyncs == 0
    inc = Feed(sink)
    inc.on_message(_w("ETH-BTC:1", [("0", "10", "1"), ("1", "11", "4")]), 1)
    inc.driver._on_gap(inc.driver.client, "sequence numbers 3..5 were gap-filled")
    assert inc.keeper.status is VenueStatus.STALE and inc.keeper.stats.gaps == 1
    assert "gap-filled" in sink.items[-1].reason and inc.stats.data_losses == 1


def test_file_store_resumes_and_rejects_corruption(tmp_path) -> None:
    path = tmp_path / "s" / "a.seq"
    s = FileSeqStore(path)
    assert (s.next_out, s.next_in) == (1, 1)
    s.next_out, s.next_in = 42, 17
    s.save()
    s.close()
    again = FileSeqStore(path)
    assert (again.next_out, again.next_in) == (42, 17)
    again.reset()
    again.close()
    assert (FileSeqStore(path).next_out, FileSeqStore(path).next_in) == (1, 1)
    path.write_bytes(b"garbage\n")
    with pytest.raises(ConfigError):
        FileSeqStore(path)
    m = MemorySeqStore(5, 6)
    m.reset()
    assert (m.next_out, m.next_in) == (1, 1)


def test_configs_check_eagerly() -> None:
    with pytest.raises(ConfigError):
        FixSessionConfig(sender_comp_id="", target_comp_id="X")
    with pytest.raises(ConfigError):
        FixSessionConfig(sender_comp_id="A=B", target_comp_id="X")
    with pytest.raises(ValueError):
        FixSessionConfig(sender_comp_id="A", target_comp_id="X", heartbeat_s=0)
    s = FixSessionConfig.build(sender_comp_id="A", target_comp_id="B")
    assert s.with_heartbeat(5).heartbeat_s == 5 and s.heartbeat_s == 30
    with pytest.raises(ConfigError):
        FixClientConfig(host="h", port=70000, session=s)
    with pytest.raises(TypeError):
        FixClient("not a config")  # type: ignore[arg-type]
    assert parse_fix_url("fixs://example.org:443") == ("example.org", 443, True)
    for bad in ("ws://h:1", "fix://h", "fix://:5"):
        with pytest.raises(ConfigError):
            parse_fix_url(bad)
    with pytest.raises(ConfigError):
        create_feed(FIXSIM, instruments=["ETH-BTC"], depth=100, sink=Sink())
    assert "secret" not in repr(FixsimConfig(password="secret"))  # a password never shows in a repr
