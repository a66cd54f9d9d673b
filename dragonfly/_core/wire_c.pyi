# Stub of the compiled twin of dragonfly._core.wire_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from collections.abc import Sequence
from typing import TypeAlias

__all__ = ("encode_summary", "encode_name_field")

_WireLevel: TypeAlias = tuple[str, float, float]

def encode_summary(bids: Sequence[_WireLevel], asks: Sequence[_WireLevel], *, spread: float | None = None) -> bytes: ...
def encode_name_field(venue: str) -> bytes: ...
