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

from .extract_py import _same
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
            sequences of ``(price, qty, ...)`` numbers is accepted; they are kept as float pairs).

        Returns
        -------
        str
            ``""`` when accepted; else what is wrong (the text of ``check_top``), and the state
            is unchanged.

        Raises
        ------
        TypeError, IndexError
            A level that is not a sequence of at least two numbers (text is not a number here).
        """
        bids = _levels(source.bids)
        asks = _levels(source.asks)
        problem = check_top(bids, asks)
        if problem:
            return problem
        self.accepted += 1
        if not _same(bids, self._bids):  # unchanged: the same tuples (readers compare by identity)
            self._bids = bids
        if not _same(asks, self._asks):
            self._asks = asks
        return ""

    def clear(self) -> None:
        """Forget the levels (both sides empty)."""
        self._bids = ()
        self._asks = ()

    @property
    def bids(self) -> tuple[tuple[float, float], ...]:
        """Bid levels, best first (the same tuple until they change)."""
        return self._bids

    @property
    def asks(self) -> tuple[tuple[float, float], ...]:
        """Ask levels, best first (the same tuple until they change)."""
        return self._asks

    def __repr__(self) -> str:
        return f"<TopState {len(self._bids)} bids, {len(self._asks)} asks>"


def _number(x: Any) -> float:
    """``x`` as a float, as C's ``PyFloat_AsDouble`` takes it: numbers yes, text no."""
    if type(x) is float:
        return x
    if isinstance(x, (str, bytes, bytearray)):
        raise TypeError(f"must be real number, not {type(x).__name__}")
    return float(x)


def _levels(side: Any) -> tuple[tuple[float, float], ...]:
    return tuple([(_number(lv[0]), _number(lv[1])) for lv in side])
