"""The accepted top N of a snapshot feed, checked and kept without Python objects per frame (reference twin).

A top-N feed (Binance ``depth20``, Bitstamp ``order_book``) sends its whole top N in every frame;
the venue adapter reads it with a :class:`~dragonfly._core.extract.TopExtractor`. The book keeper
holds one :class:`TopState` per instrument: :meth:`TopState.accept` checks the extractor's last
levels (the rules and messages of :func:`~dragonfly._core.merge.check_top`) and, when they are
sound, keeps a copy of them; :attr:`TopState.bids` / :attr:`TopState.asks` build the level tuples
only when read, once per change. Most frames of a fast feed are replaced before anyone reads them,
so most frames cost a check and a copy, not a tuple per level. The compiled twin
(``topn_c.pyx``) reads the compiled extractor's C arrays directly.
"""

from __future__ import annotations

from typing import Any

from .merge_py import check_top

__all__ = ("TopState",)


class TopState:
    """The last accepted top N of one instrument (see the module notes).

    Attributes
    ----------
    accepted : int
        Tops accepted since construction.
    """

    __slots__ = ("_asks", "_bids", "accepted")

    def __init__(self) -> None:
        self._bids: tuple[tuple[float, float], ...] = ()
        self._asks: tuple[tuple[float, float], ...] = ()
        self.accepted = 0

    def accept(self, source: Any) -> str:
        """Check ``source``'s levels (its ``bids`` and ``asks``, best first) and keep them.

        Parameters
        ----------
        source : TopExtractor
            Read right after a successful ``update`` (any object with ``bids`` and ``asks``
            sequences of ``(price, qty)`` floats is accepted).

        Returns
        -------
        str
            ``""`` when accepted; else what is wrong (the text of ``check_top``), and the state
            is unchanged.
        """
        bids = tuple(source.bids)
        asks = tuple(source.asks)
        problem = check_top(bids, asks)
        if problem:
            return problem
        self.accepted += 1
        self._bids = bids
        self._asks = asks
        return ""

    def clear(self) -> None:
        """Forget the levels (both sides empty)."""
        self._bids = ()
        self._asks = ()

    @property
    def bids(self) -> tuple[tuple[float, float], ...]:
        """Bid levels, best first."""
        return self._bids

    @property
    def asks(self) -> tuple[tuple[float, float], ...]:
        """Ask levels, best first."""
        return self._asks

    def __repr__(self) -> str:
        return f"<TopState {len(self._bids)} bids, {len(self._asks)} asks>"
