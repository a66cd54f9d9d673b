"""Layer 3 for snapshot feeds: the top-of-book change forwarder.

A :class:`SnapshotListener` owns one (venue, instrument). For every raw frame
routed to it, it extracts the top N levels with the core's
:class:`~dragonfly._core.extract.TopExtractor`, checks them, and publishes a
:class:`~dragonfly.model.BookUpdate` to its sink only when the top N changed
(or, at most once per ``keepalive_s``, an unchanged one so downstream knows the
venue is alive). Exchange time and receive time are stamped in nanoseconds.

Bad input (malformed JSON, wrong types, unsorted or crossed sides, an
unreadable sequence field) is counted, logged once per episode with context,
and turns the venue STALE ("bad data") for this instrument only; the next good
frame, which for a snapshot feed is a complete book, brings it back LIVE.
A frame older than the last one (by the venue's sequence) is dropped and counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .._core.extract import TopExtractor
from .._core.merge import check_top
from ..errors import DragonflyError, ExtractError
from ..model import BookUpdate, Side, VenueStatus
from ..queues import Sink

__all__ = ("SnapshotListener", "ListenerStats")

log = logging.getLogger(__name__)

_LIVE = VenueStatus.LIVE
_STALE = VenueStatus.STALE
_SYNCING = VenueStatus.SYNCING
_make_update = BookUpdate._make  # all eight fields, unchecked: one per forwarded frame

#: Reads an integer field (sequence or exchange time) from a raw frame; raises ValueError when absent/bad.
FieldReader = Callable[[str | bytes], int]


class ListenerStats:
    """Counters of one listener."""

    __slots__ = ("frames", "forwarded", "unchanged", "keepalives", "bad_frames", "out_of_order", "status_changes")

    def __init__(self) -> None:
        self.frames = 0  #: frames routed to the listener
        self.forwarded = 0  #: LIVE updates published because the top N changed
        self.unchanged = 0  #: frames whose top N equalled the previous one
        self.keepalives = 0  #: unchanged updates published to show liveness
        self.bad_frames = 0  #: frames rejected as bad data
        self.out_of_order = 0  #: frames dropped as older than the last one
        self.status_changes = 0  #: non-LIVE updates published

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class SnapshotListener:
    """Top-N change forwarder for one venue's snapshot feed of one instrument.

    Parameters
    ----------
    venue, instrument : str
        Labels put on every update (``instrument`` normalised, e.g. ``"ETH-BTC"``).
    bids_path, asks_path : str
        Dotted key paths of the level arrays in a frame (e.g. ``"data.bids"``).
    depth : int
        Levels per side to extract and forward.
    sink : Sink[BookUpdate]
        Where updates go (usually the aggregator's MPSC queue, or a :class:`~dragonfly.queues.Tee`).
    exchange_ts : callable, optional
        Frame -> exchange time in ns (0 when the venue sends none).
    sequence : callable, optional
        Frame -> monotonically increasing number; frames below the last seen are dropped.
    sequence_unit_ns : int
        When non-zero, the sequence is a timestamp in this unit and gives the
        exchange time (``seq * sequence_unit_ns``); e.g. 1000 for microseconds.
    keepalive_s : float
        Publish an unchanged update at most this often so the aggregator sees liveness.
    """

    __slots__ = (
        "venue",
        "instrument",
        "depth",
        "sink",
        "stats",
        "status",
        "reason",
        "_ext",
        "_exchange_ts",
        "_sequence",
        "_seq_unit_ns",
        "_last_seq",
        "_keepalive_ns",
        "_last_fwd_ns",
        "_last_bids",
        "_last_asks",
        "_logged",
    )

    def __init__(
        self,
        *,
        venue: str,
        instrument: str,
        bids_path: str,
        asks_path: str,
        depth: int,
        sink: Sink[BookUpdate],
        exchange_ts: FieldReader | None = None,
        sequence: FieldReader | None = None,
        sequence_unit_ns: int = 0,
        keepalive_s: float = 1.0,
    ) -> None:
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        if not keepalive_s > 0:
            raise ValueError("keepalive_s must be > 0")
        if not hasattr(sink, "publish"):
            raise TypeError("sink must have a publish() method")
        self.venue = venue
        self.instrument = instrument
        self.depth = depth
        self.sink = sink
        self.stats = ListenerStats()
        self.status = _SYNCING
        self.reason = "waiting for the first book"
        self._ext = TopExtractor(bids_path, asks_path, depth)
        self._exchange_ts = exchange_ts
        self._sequence = sequence
        self._seq_unit_ns = int(sequence_unit_ns)
        self._last_seq = -1
        self._keepalive_ns = int(keepalive_s * 1e9)
        self._last_fwd_ns = 0
        self._last_bids: Side = ()
        self._last_asks: Side = ()
        self._logged = False

    # -- hot path -------------------------------------------------------------------
    def on_frame(self, frame: str | bytes, receive_ns: int = 0) -> None:
        """Process one raw data frame of this instrument (never raises on bad input)."""
        stats = self.stats
        stats.frames += 1
        if not receive_ns:
            receive_ns = time.time_ns()
        seq = 0
        ex_ts = 0
        try:
            if self._sequence is not None:
                seq = self._sequence(frame)
                if seq < self._last_seq:
                    stats.out_of_order += 1
                    return
                if self._seq_unit_ns:
                    ex_ts = seq * self._seq_unit_ns
            if self._exchange_ts is not None:
                ex_ts = self._exchange_ts(frame)
            changed = self._ext.update(frame)
        except (ExtractError, ValueError) as exc:
            self._bad(frame, exc)
            return
        self._last_seq = seq
        if changed:
            bids = self._ext.bids
            asks = self._ext.asks
            problem = check_top(bids, asks)
            if problem:
                self._bad(frame, DragonflyError(problem))
                return
            self._last_bids = bids
            self._last_asks = asks
            stats.forwarded += 1
        elif self.status is _LIVE:
            stats.unchanged += 1
            if receive_ns - self._last_fwd_ns < self._keepalive_ns:
                return
            stats.keepalives += 1
        else:  # pragma: no cover - non-LIVE always resets the extractor, so the next frame is "changed"
            stats.forwarded += 1
        self._last_fwd_ns = receive_ns
        if self.status is not _LIVE:
            if self._logged:
                log.info("%s %s: live again", self.venue, self.instrument)
            self.status = _LIVE
            self.reason = ""
            self._logged = False
        self.sink.publish(
            _make_update((self.venue, self.instrument, self._last_bids, self._last_asks, _LIVE, ex_ts, receive_ns, ""))
        )

    # -- state changes ----------------------------------------------------------------
    def set_status(self, status: VenueStatus, reason: str) -> None:
        """Publish a non-LIVE status (disconnected, subscribing, ...) and resync.

        The extractor is reset so the next good frame is forwarded (and checked) in full.
        """
        if status is _LIVE:
            raise ValueError("LIVE is reached only through a good frame")
        self._ext.reset()
        self._last_seq = -1
        self._last_bids = self._last_asks = ()
        if status is self.status and reason == self.reason:
            return
        self.status = status
        self.reason = reason
        self.stats.status_changes += 1
        self.sink.publish(BookUpdate(self.venue, self.instrument, (), (), status, 0, time.time_ns(), reason))

    def _bad(self, frame: str | bytes, exc: BaseException) -> None:
        self.stats.bad_frames += 1
        if not self._logged:
            self._logged = True
            excerpt = frame[:160] if isinstance(frame, (str, bytes)) else repr(frame)[:160]
            log.warning(
                "%s %s: bad frame #%d skipped, resyncing (%s: %s); frame starts %r",
                self.venue,
                self.instrument,
                self.stats.bad_frames,
                type(exc).__name__,
                exc,
                excerpt,
            )
        else:
            log.debug("%s %s: bad frame skipped: %s", self.venue, self.instrument, exc)
        self.set_status(_STALE, f"bad data: {type(exc).__name__}: {exc}"[:200])

    def __repr__(self) -> str:
        return f"<SnapshotListener {self.venue} {self.instrument} {self.status.value}>"


def _check_sides(bids: Side, asks: Side) -> str:
    """Return a description of what is wrong with a snapshot top, or ``""``.

    The extractor guarantees finite numbers; this checks order, sign and crossing
    (:func:`dragonfly._core.merge.check_top`, compiled in the Cython core).
    """
    return check_top(bids, asks)
