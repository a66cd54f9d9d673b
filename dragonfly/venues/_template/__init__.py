"""The skeleton of a venue: copy this folder to ``dragonfly/venues/<name>/`` and rename.

Every venue folder has these files, with these names for these things:

``__init__.py``  the registry entries: ``VENUES = (VenueSpec(...),)``; the registry imports every package
                 under ``dragonfly/venues/`` whose name does not start with ``_`` (so this one is skipped)
``config.py``    ``<Venue>Config``: frozen, keyword-only; ``base_url`` (and ``rest_url`` when snapshots come
                 by REST) validated eagerly; ``<Venue>Config()`` is the production setup
``adapter.py``   ``<Venue>Adapter(VenueAdapter)``: symbols, subscribe/unsubscribe, frames -> events,
                 snapshot source, sequence rule, checksum kind; no I/O
``sim.py``       ``<Venue>Encoder``: how :mod:`dragonfly.sim` speaks this venue (its simulator)

This template is a complete venue of a made-up JSON protocol (documented in ``adapter.py``) that
covers every kind of feed, picked by ``TemplateConfig.kind``:

``"resubscribe"``  a diff feed whose snapshot comes on the stream after (re-)subscribing (Kraken, OKX, Bybit)
``"rest"``         a diff feed whose snapshot comes by REST, deltas buffered meanwhile (Binance diff, KuCoin)
``"top"``          every message is the whole top N (Binance depth20, Bitstamp order_book)

A real venue has one kind per registry entry; delete what yours does not need. The shared venue
tests (tests/integration/venues/) run the template against its simulator in every kind, so it
stays true. See the README, "Writing a venue".
"""

from __future__ import annotations

from ..base import VenueSpec
from .adapter import TemplateAdapter
from .config import TemplateConfig

__all__ = ("VENUES", "TemplateAdapter", "TemplateConfig")

VENUES = (
    VenueSpec(
        name="template",
        adapter=TemplateAdapter,
        config=TemplateConfig,
        max_depth=1000,
        simulator="dragonfly.venues._template.sim:TemplateEncoder",
        description="the venue skeleton (not registered: its folder starts with '_')",
    ),
)
