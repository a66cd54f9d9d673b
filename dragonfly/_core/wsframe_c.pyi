# Stub of the compiled twin of dragonfly._core.wsframe_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from collections.abc import Callable
from typing import Any

from typing_extensions import disjoint_base

__all__ = ("FrameSplitter",)

@disjoint_base
class FrameSplitter:
    delegate: Any
    max_msg_size: int
    decode_text: bool
    on_frame: Callable[[Any], object] | None
    on_first: Callable[[], object] | None
    on_stop: Callable[[], object] | None
    stats: Any
    error: BaseException | None
    def __init__(self, delegate: Any, max_msg_size: int, decode_text: bool) -> None: ...
    @property
    def fallback(self) -> bool: ...
    @property
    def buffered(self) -> int: ...
    def attach(
        self,
        on_frame: Callable[[Any], object],
        on_first: Callable[[], object] | None,
        on_stop: Callable[[], object],
        stats: Any,
    ) -> None: ...
    def detach(self) -> None: ...
    def feed_eof(self) -> None: ...
    def feed_data(self, data: Any) -> tuple[bool, bytes]: ...
