"""WebSocket frame splitter in front of a transport's own frame parser: plain data frames to a
consumer by callback, everything else to the transport's parser.

Selects :mod:`dragonfly._core.wsframe_c` or its twin :mod:`~dragonfly._core.wsframe_py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .wsframe_py import FrameSplitter
else:
    FrameSplitter = select("wsframe").FrameSplitter

__all__ = ("FrameSplitter",)
