"""How the simulator speaks a FIX 4.4 market-data venue (see :mod:`dragonfly.sim.encoder`).

The wire format is standard FIX 4.4 (35=V/W/X/Y, in the generic FIX engine); the encoder
gives the names: the venue's CompID, the counterparties it accepts, the symbols (55).
"""

from __future__ import annotations

from ...instruments import Instrument
from .config import FixsimConfig

__all__ = ("FixsimEncoder",)


class FixsimEncoder:
    """The venue this configuration logs on to: CompID ``target_comp_id``, accepting
    ``sender_comp_id`` with ``password``; symbols are normalised names (``ETH-BTC``)."""

    engine = "fix"

    def __init__(self, config: FixsimConfig) -> None:
        self.config = config
        self.comp_id = config.target_comp_id
        self.counterparties = {config.sender_comp_id: config.password}

    def symbol(self, instrument: Instrument) -> str:
        return instrument.name
