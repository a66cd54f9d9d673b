"""The venue cases the contract runs, found through the registry.

A case is one setup of a venue: its registry spec and a configuration. The cases are every
registered venue that names a simulator encoder, with its default configuration and every
variant its encoder module lists in ``SIM_VARIANTS`` (label -> configuration, e.g.
``kraken[v2]``), plus the venue template (``dragonfly/venues/_template``, unregistered: it is
the skeleton new venues copy, so it passes the same contract).

* :func:`all_cases`: every case, whatever its engine (top-N snapshots, diff, FIX);
* :func:`diff_cases`: the cases whose encoder serves a diff feed.

What a case's venue can see of a fault is read from its adapter and encoder (sequence rule,
checksum kind, connection-wide numbering), so a new venue gets the right expectations
without naming it anywhere.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dragonfly.instruments import Instrument, parse_instrument
from dragonfly.sim import encoder_class, make_encoder
from dragonfly.venues import _template
from dragonfly.venues.base import VenueAdapter, VenueSpec
from dragonfly.venues.registry import get_venue, venue_names

__all__ = ("Case", "all_cases", "diff_cases")


@dataclass(frozen=True)
class Case:
    """One setup of a venue.

    Attributes
    ----------
    id : str
        ``"<venue>"`` or ``"<venue>[<variant>]"``.
    spec : VenueSpec
    config : Any
        The venue's configuration (production URLs; tests point them at the simulator).
    """

    id: str
    spec: VenueSpec = field(repr=False)
    config: Any = field(repr=False)

    @property
    def venue(self) -> str:
        return self.spec.name

    def encoder(self) -> Any:
        return make_encoder(self.spec, self.config)

    def adapter(self, depth: int = 10) -> VenueAdapter:
        return self.spec.adapter(self.config, depth=depth)

    @cached_property
    def _probe(self) -> tuple[VenueAdapter, Any]:
        return self.adapter(), self.encoder()

    @property
    def engine(self) -> str:
        return self._probe[1].engine  # type: ignore[no-any-return]

    @property
    def checksum(self) -> str | None:
        return self._probe[0].checksum

    @property
    def detects_loss(self) -> bool:
        """The sequence rule sees a lost (or reordered) delta as a gap."""
        return bool(self._probe[0].rule.detects_loss)

    @property
    def rest_snapshots(self) -> bool:
        return self._probe[0].snapshot_source == "rest"

    @property
    def connection_sequence(self) -> bool:
        """The venue numbers every frame of a connection: a lost frame is seen connection-wide."""
        return bool(getattr(self._probe[1], "connection_sequence", False))

    @property
    def heartbeat(self) -> str | None:
        hb = getattr(self._probe[1], "heartbeat", None)
        return hb() if hb is not None else None

    @property
    def loss_signal(self) -> str | None:
        """What shows a lost delta: ``"connection"`` (every instrument of the connection resyncs),
        ``"gaps"`` or ``"checksum_errors"`` (that instrument resyncs), or None (nothing can)."""
        if self.connection_sequence:
            return "connection"
        if self.detects_loss:
            return "gaps"
        if self.checksum is not None:
            return "checksum_errors"
        return None

    def symbol(self, instrument: str | Instrument) -> str:
        """The venue's spelling of ``instrument``, as its simulator serves it."""
        inst = instrument if isinstance(instrument, Instrument) else parse_instrument(instrument)
        return self._probe[1].symbol(inst)  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return self.id


def _cases_of(spec: VenueSpec) -> list[Case]:
    out = [Case(spec.name, spec, spec.config())]
    variants = getattr(sys.modules[encoder_class(spec).__module__], "SIM_VARIANTS", {})
    for label, config in variants.items():
        assert isinstance(spec.config, type) and isinstance(config, spec.config), (spec.name, label)
        out.append(Case(f"{spec.name}[{label}]", spec, config))
    return out


@functools.cache
def all_cases() -> list[Case]:
    """Every registered venue with a simulator, its variants, and the template's setups."""
    specs = [get_venue(v) for v in venue_names()]
    out: list[Case] = []
    for spec in [*specs, *_template.VENUES]:
        if spec.simulator:
            out.extend(_cases_of(spec))
    return out


def diff_cases() -> list[Case]:
    """The cases whose encoder serves a diff feed."""
    return [c for c in all_cases() if c.engine == "diff"]
