"""One gRPC stream shared by its calls: each update encoded once, the bytes shared, no repeat and no loss of
the newest change for a call that was busy (no network: the calls' side is driven by hand)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from dragonfly.queues import Broadcast
from dragonfly.services.grpc.encode import BookUpdateEncoder, SummaryEncoder
from dragonfly.services.grpc.server import _Stream
from dragonfly.services.grpc.testing import synthetic_view

VENUES = ("venue-a", "venue-b")


@pytest.mark.parametrize("kind", ["summary", "book"])
def test_encoded_once_shared_and_a_busy_call_still_gets_the_newest_change(kind: str) -> None:
    views: Broadcast = Broadcast()
    encode = (
        SummaryEncoder(depth=10) if kind == "summary" else BookUpdateEncoder(depth=10, venues=None, all_venues=VENUES)
    )
    stream = _Stream((kind,), views, encode)
    a, b = stream.subscribe(), stream.subscribe()
    v1 = synthetic_view(1)
    views.publish(v1)
    pa, va = stream.payload(a.get_nowait())
    pb, vb = stream.payload(b.get_nowait())
    assert pa is pb and va == vb == 1 and stream.encoded == 1  # one encoding, the same bytes for both
    v2 = synthetic_view(2)
    views.publish(v2)
    p2, v = stream.payload(a.get_nowait())
    assert v == 2 and p2 != pa
    # the same content again (a later seq and time, nothing a subscriber sees changed for Summary; for BookUpdate
    # seq alone does not make it new either): b, busy, had v2 conflated away and now takes v3
    v3 = dataclasses.replace(v2, seq=3, publish_ts_ns=v2.publish_ts_ns + 1)
    views.publish(v3)
    assert b.skipped == 1
    assert stream.payload(a.get_nowait()) == (p2, 2)  # unchanged for a: the version it sent, nothing to send
    assert stream.unchanged == 1
    got, version = stream.payload(b.get_nowait())
    assert (got, version) == (p2, 2) and got is p2  # b never sent v2's change: it gets it now
    assert (stream.encoded, stream.unchanged) == (2, 1)
    stream.close()
    assert a.closed and b.closed


def test_an_update_that_cannot_be_encoded_is_counted_and_not_served(caplog: pytest.LogCaptureFixture) -> None:
    views: Broadcast = Broadcast()
    stream = _Stream(("book",), views, BookUpdateEncoder(depth=10, venues=None, all_venues=VENUES))
    sub = stream.subscribe()
    views.publish(synthetic_view(1))
    good = stream.payload(sub.get_nowait())
    bad = dataclasses.replace(synthetic_view(2), seq=-5)  # seq must be a uint64
    views.publish(bad)
    with caplog.at_level(logging.ERROR):
        assert stream.payload(sub.get_nowait()) == good  # the previous bytes, same version: nothing sent
        assert stream.payload(bad) == good  # examined once, counted once
    assert (stream.errors, stream.encoded) == (1, 1)
    assert sum("cannot encode" in r.getMessage() for r in caplog.records) == 1
