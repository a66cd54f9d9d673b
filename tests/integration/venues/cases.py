"""The venue cases the contract runs, found through the registry.

* :func:`venue_cases`: every registered venue with a simulator (any engine);
* :func:`diff_cases`: every registered venue whose encoder serves a diff feed, plus the
  variants its encoder module lists in ``SIM_VARIANTS`` (label -> configuration), e.g.
  ``kraken[v2]``.

What a case's venue can see of a fault is read from its adapter and encoder (sequence rule,
checksum kind, connection-wide numbering), so a new venue gets the right expectations
without naming it anywhere.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dragonfly.instruments import Instrument, parse_instrument
from dragonfly.sim import encoder_class
from dragonfly.venues.base import VenueAdapter, VenueSpec
from dragonfly.venues.registry import get_venue, venue_names

__all__ = ("DiffCase", "diff_cases", "venue_cases")


@dataclass(frozen=True)
class DiffCase:
    """One diff-feed setup of a registered venue.

    Attributes
    ----------
    id : str
        ``"<venue>"`` or ``"<venue>[<variant>]"``.
    venue : str
        Registry name.
    config : Any
        The venue's configuration (production URLs; the harness points them at the simulator).
    """

    id: str
    venue: str
    config: Any

    @property
    def spec(self) -> VenueSpec:
        return get_venue(self.venue)

    def encoder(self) -> Any:
        return encoder_class(self.venue)(self.config)

    def adapter(self, depth: int = 10) -> VenueAdapter:
        return self.spec.adapter(self.config, depth=depth)

    @cached_property
    def _probe(self) -> tuple[VenueAdapter, Any]:
        return self.adapter(), self.encoder()

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
        return bool(self._probe[1].connection_sequence)

    @property
    def heartbeat(self) -> str | None:
        return self._probe[1].heartbeat()  # type: ignore[no-any-return]

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
        inst = instrument if isinstance(instrument, Instrument) else parse_instrument(instrument)
        return self._probe[1].symbol(inst)  # type: ignore[no-any-return]

    def __str__(self) -> str:
        return self.id


def venue_cases() -> list[str]:
    """Every registered venue that names a simulator."""
    return [v for v in venue_names() if get_venue(v).simulator]


def diff_cases() -> list[DiffCase]:
    """Every registered diff-feed venue with a simulator, and its encoder module's variants."""
    out: list[DiffCase] = []
    for name in venue_cases():
        spec = get_venue(name)
        cls = encoder_class(name)
        if cls.engine != "diff":
            continue
        out.append(DiffCase(name, name, spec.config()))
        variants = getattr(sys.modules[cls.__module__], "SIM_VARIANTS", {})
        for label, config in variants.items():
            if isinstance(spec.config, type) and isinstance(config, spec.config) and cls(config).engine == "diff":
                out.append(DiffCase(f"{name}[{label}]", name, config))
    return out
