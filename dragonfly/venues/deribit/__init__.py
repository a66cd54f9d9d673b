"""Deribit API v2 market data: ``book.<instrument>.<interval>`` over JSON-RPC, full-depth books.

A snapshot after subscribing, then changes naming the change they follow
(``change_id``/``prev_change_id``) with a ``new``/``change``/``delete`` action per level, so a
lost notification and a change of a level the book lacks are both seen. Heartbeats are asked
for with ``public/set_heartbeat`` and Deribit's ``test_request``s answered with ``public/test``.
Instrument names: see :mod:`dragonfly.venues.deribit.adapter` (``ETH-9APR211950C`` is the option
``ETH-9APR21-1950-C``).
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import DeribitAdapter, instrument_name
from .config import INTERVALS, DeribitConfig

__all__ = ("INTERVALS", "VENUES", "DeribitAdapter", "DeribitConfig", "instrument_name")

VENUES = (
    VenueSpec(
        name="deribit",
        adapter=DeribitAdapter,
        config=DeribitConfig,
        max_depth=10_000,
        simulator="dragonfly.venues.deribit.sim:DeribitEncoder",
        description="Deribit book.<instrument>.100ms|raw, change_id chain, strict new/change/delete levels",
    ),
)
