"""Simulators for diff-stream venues (full-depth books from diff streams).

* :mod:`.server` -- :class:`~.server.DiffSim`: a synthetic venue speaking any
  :class:`~dragonfly.sim.encoder.DiffEncoder`'s wire format, with WebSocket stream, REST
  snapshot endpoint, checksums, and fault injection.
* :mod:`.venues` -- :class:`~.venues.SimulatedDiffVenue`: a DiffSim stepped on a timer,
  behind the :class:`~dragonfly.sim.SimulatedVenues` interface.
* :mod:`.replay` -- :class:`~.replay.ReplaySim`: a recorded feed served over a
  real socket, REST snapshots released after the first frames.
* :mod:`.recordings` -- readers of the capture formats (every record kind,
  including sent frames and inline REST responses).
"""

from __future__ import annotations

from .recordings import Record, read_cryptofeed, read_hftbacktest, read_lines, received
from .replay import ReplaySim
from .server import DiffSim, DiffSimConfig
from .venues import SimulatedDiffVenue

__all__ = (
    "DiffSim",
    "DiffSimConfig",
    "Record",
    "ReplaySim",
    "SimulatedDiffVenue",
    "read_cryptofeed",
    "read_hftbacktest",
    "read_lines",
    "received",
)
