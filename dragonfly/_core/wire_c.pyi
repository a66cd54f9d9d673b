# Stub of the compiled twin of dragonfly._core.wire_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from collections.abc import Sequence
from typing import TypeAlias

__all__ = ("encode_summary", "encode_book_update", "encode_name_field")

_WireLevel: TypeAlias = tuple[str, float, float]
_WireHealth: TypeAlias = tuple[str, int, int, str]

def encode_summary(bids: Sequence[_WireLevel], asks: Sequence[_WireLevel], *, spread: float | None = None) -> bytes: ...
def encode_name_field(venue: str) -> bytes: ...
def encode_book_update(
    instrument: str,
    seq: int,
    bids: Sequence[_WireLevel],
    asks: Sequence[_WireLevel],
    *,
    spread: float | None = None,
    exchange_ts_ns: int = 0,
    receive_ts_ns: int = 0,
    publish_ts_ns: int = 0,
    venues: Sequence[_WireHealth] = (),
) -> bytes: ...
