"""Template: pure functions on raw frames (decode only what routing needs)."""

from __future__ import annotations

from ..routing import string_field
from ..symbols import Instrument


def venue_symbol(instrument: Instrument) -> str:
    return f"{instrument.base}{instrument.quote}".lower()


def route(frame: str | bytes) -> str | None:
    return string_field(frame, "channel")
