# Stub of the compiled twin of dragonfly._core.topn_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from typing import Any

from typing_extensions import Self, disjoint_base

__all__ = ("TopState",)

@disjoint_base
class TopState:
    accepted: int
    # built in __cinit__, so the compiled class has no __init__ of its own
    def __new__(cls) -> Self: ...
    def accept(self, source: Any) -> str: ...
    def clear(self) -> None: ...
    @property
    def bids(self) -> tuple[tuple[float, float], ...]: ...
    @property
    def asks(self) -> tuple[tuple[float, float], ...]: ...
