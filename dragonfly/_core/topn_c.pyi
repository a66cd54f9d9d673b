# Stub of the compiled twin of dragonfly._core.topn_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from collections.abc import Callable
from typing import Any, Final, final

from typing_extensions import Self, disjoint_base

from dragonfly._core.extract_c import TopExtractor

__all__ = ("TopPath", "TopReader", "TopState", "SEQ_DIGITS", "TAIL_WINDOW")

SEQ_DIGITS: Final = 18
TAIL_WINDOW: Final = 128

@disjoint_base
class TopState:
    accepted: int
    # built in __cinit__, so the compiled class has no __init__ of its own
    def __new__(cls) -> Self: ...
    def accept(self, source: Any, seq: int = -1) -> str: ...
    def clear(self) -> None: ...
    @property
    def held(self) -> bool: ...
    @property
    def seq(self) -> int: ...
    @property
    def bids(self) -> tuple[tuple[float, float], ...]: ...
    @property
    def asks(self) -> tuple[tuple[float, float], ...]: ...

@disjoint_base
class TopReader:
    key: str
    seq: int
    top: TopExtractor | None
    def __init__(
        self,
        bids_path: str,
        asks_path: str,
        depth: int,
        *,
        seq_key: str,
        route_head: str = "",
        route_tail: str = "",
        route_needle: str = "",
        seq_quoted: bool = False,
    ) -> None: ...
    def read(self, frame: str | bytes) -> str | None: ...
    def bind(self, key: str, state: TopState, item: Any) -> None: ...
    def take(self, frame: str | bytes) -> Any: ...
    def path(
        self,
        stats: Any,
        general: Callable[[str | bytes, int], object],
        publish_lazy: Callable[[Any], object],
        *,
        seq_ts_ns: int = 0,
    ) -> TopPath: ...

@final
class TopPath:
    @property
    def last_receive_ns(self) -> int: ...
    def __init__(
        self,
        reader: TopReader,
        stats: Any,
        general: Callable[[str | bytes, int], object],
        publish_lazy: Callable[[Any], object],
        *,
        seq_ts_ns: int = 0,
    ) -> None: ...
    def bind(self, key: str, state: TopState, keeper: Any, item: Any) -> None: ...
    def __call__(self, frame: str | bytes, receive_ns: int = 0) -> None: ...
    def on_frame(self, frame: str | bytes, receive_ns: int = 0) -> None: ...
