"""The accepted top N of a snapshot feed (checked, levels built only when read), and the one-call
reader of a top-N frame's routing key, sequence number and levels, and a feed's frame path over it.

Selects :mod:`dragonfly._core.topn_c` or its twin :mod:`~dragonfly._core.topn_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .topn_py import SEQ_DIGITS, TAIL_WINDOW, TopPath, TopReader, TopState
else:
    _impl = select("topn")
    TopState = _impl.TopState
    TopReader = _impl.TopReader
    TopPath = _impl.TopPath
    SEQ_DIGITS = _impl.SEQ_DIGITS
    TAIL_WINDOW = _impl.TAIL_WINDOW

__all__ = ("TopPath", "TopReader", "TopState", "SEQ_DIGITS", "TAIL_WINDOW")
