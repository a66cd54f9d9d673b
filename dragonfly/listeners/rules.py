"""Sequence rules: how a venue's deltas chain onto a snapshot and onto each other.

A venue adapter picks one rule; the :class:`~dragonfly.listeners.keeper.BookKeeper`
asks it about every delta (:meth:`SequenceRule.verdict`) and every snapshot
(:meth:`SequenceRule.snapshot_verdict`). Rules are stateless: the keeper passes the
sequence position of its book (``last``, -1 when unknown).
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from .events import Delta

__all__ = (
    "Contiguous",
    "EntryUpdateIdRange",
    "Monotonic",
    "NoSequence",
    "PrevId",
    "SequenceRule",
    "Timestamp",
    "UpdateIdRange",
    "Verdict",
)


class Verdict(enum.Enum):
    APPLY = "apply"
    SKIP = "skip"  #: already contained in the book (older than the snapshot, or a duplicate)
    GAP = "gap"  #: something is missing between the book and this event


_APPLY = Verdict.APPLY
_SKIP = Verdict.SKIP
_GAP = Verdict.GAP


class SequenceRule(Protocol):
    """How one venue's events chain.

    Attributes
    ----------
    detects_loss : bool
        Can the rule notice a lost delta? If not, a frame that could not be parsed (and may
        have carried any instrument's delta) resyncs every instrument of the connection.
    """

    detects_loss: bool

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        """Decide for ``d`` given the sequence position ``last`` of the book."""
        ...

    def snapshot_verdict(self, last: int, snapshot_last: int) -> Verdict:
        """Decide for a snapshot arriving while the book is live (APPLY replaces the book)."""
        ...

    def trim(self, last: int, d: Delta) -> Delta:
        """The part of the first delta applied after a snapshot at ``last`` that the snapshot
        does not contain yet (the whole delta, except for venues that number every entry)."""
        ...


class _Rule:
    detects_loss = True

    def snapshot_verdict(self, last: int, snapshot_last: int) -> Verdict:
        return _APPLY

    def trim(self, last: int, d: Delta) -> Delta:
        return d

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoSequence(_Rule):
    """Every delta applies (Kraken v1, Coinbase Exchange, Gemini): a loss shows only
    through a checksum or a crossed book."""

    detects_loss = False

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        return _APPLY


class Monotonic(_Rule):
    """Top-N snapshot feeds (Binance ``depth20`` ``lastUpdateId``, Bitstamp ``order_book``
    microtimestamp): every message is a whole top N; one older than the last applied
    arrived out of order and is skipped."""

    detects_loss = False  # nothing to lose: the next snapshot repairs everything

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        return _APPLY

    def snapshot_verdict(self, last: int, snapshot_last: int) -> Verdict:
        return _SKIP if 0 <= snapshot_last < last else _APPLY


class UpdateIdRange(_Rule):
    """Binance diff depth, Gate.io ``U``/``u``, KuCoin ``sequenceStart``/``sequenceEnd``:
    drop ``last <= snapshot``; the first applied event must straddle (``first <= snapshot + 1``);
    afterwards each ``first == previous last + 1``. Update ids only grow, so a snapshot older
    than the live book (a REST answer that arrives after a snapshot on the stream replaced the
    book) is skipped."""

    def snapshot_verdict(self, last: int, snapshot_last: int) -> Verdict:
        return _SKIP if 0 <= snapshot_last < last else _APPLY

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if d.last <= last:
            return _SKIP
        if first_after_snapshot:
            return _APPLY if d.first <= last + 1 else _GAP
        return _APPLY if d.first == last + 1 else _GAP


class EntryUpdateIdRange(UpdateIdRange):
    """KuCoin level2: :class:`UpdateIdRange` on ``sequenceStart``/``sequenceEnd``, and every
    change carries its own sequence as its third element: in the message that straddles the
    snapshot, the changes the snapshot already contains (sequence <= its sequence) are dropped."""

    def trim(self, last: int, d: Delta) -> Delta:
        if d.first > last:
            return d
        bids = [e for e in d.bids if _entry_seq(e) > last]
        asks = [e for e in d.asks if _entry_seq(e) > last]
        if len(bids) == len(d.bids) and len(asks) == len(d.asks):
            return d
        return Delta(symbol=d.symbol, bids=bids, asks=asks, first=last + 1, last=d.last, prev=d.prev,
                     checksum=d.checksum, exchange_ts_ns=d.exchange_ts_ns, strict=d.strict)


def _entry_seq(entry: Any) -> int:
    """An entry's own sequence number (its third element); an entry without one is kept."""
    try:
        return int(entry[2])
    except (IndexError, TypeError, ValueError):
        return 1 << 62


class Contiguous(_Rule):
    """Bybit ``u``: each delta's id is the previous one plus one."""

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if d.last <= last:
            return _SKIP
        return _APPLY if d.last == last + 1 else _GAP


class PrevId(_Rule):
    """OKX ``seqId``/``prevSeqId``, Deribit ``change_id``/``prev_change_id``: a delta names the id
    it follows. Deltas without sequence fields (older captures) always apply; the
    checksum, where the venue has one, still guards them."""

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if d.prev < 0 or last < 0:
            return _APPLY
        if d.prev == last:
            return _APPLY
        if d.last <= last:
            return _SKIP
        return _GAP


class Timestamp(_Rule):
    """Bitstamp diff: deltas keyed on microtimestamp. Until the first one is applied after a
    snapshot, those not newer than it are dropped; afterwards a delta older than the
    previous one arrived out of order and counts as a gap. A lost delta cannot be seen."""

    detects_loss = False

    def verdict(self, last: int, first_after_snapshot: bool, d: Delta) -> Verdict:
        if first_after_snapshot:
            return _SKIP if d.last <= last else _APPLY
        return _GAP if d.last < last else _APPLY
