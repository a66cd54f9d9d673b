"""The accepted top N of a snapshot feed (checked, levels built only when read).

Selects :mod:`dragonfly._core.topn_c` or its twin :mod:`~dragonfly._core.topn_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .topn_py import TopState
else:
    _impl = select("topn")
    TopState = _impl.TopState

__all__ = ("TopState",)
