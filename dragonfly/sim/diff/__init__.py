"""Simulators for diff-stream venues (issue: full-depth books from diff streams).

* :mod:`.server` -- :class:`~.server.DiffSim`: a synthetic venue (Binance,
  Bitstamp, Coinbase, Kraken v1/v2, OKX, Bybit) with WebSocket stream, REST
  snapshot endpoint, checksums, and fault injection.
* :mod:`.replay` -- :class:`~.replay.ReplaySim`: a recorded feed served over a
  real socket, REST snapshots released after the first frames.
* :mod:`.recordings` -- readers of the capture formats (every record kind,
  including sent frames and inline REST responses).
"""

from __future__ import annotations

from .recordings import Record, read_cryptofeed, read_hftbacktest, read_lines, received
from .replay import ReplaySim
from .server import VENUES, DiffSim, DiffSimConfig

__all__ = (
    "DiffSim",
    "DiffSimConfig",
    "VENUES",
    "ReplaySim",
    "Record",
    "read_cryptofeed",
    "read_hftbacktest",
    "read_lines",
    "received",
)
