# Stub of the compiled twin of dragonfly._core.busmsg_py: the same public API, the same types
# (tests/unit/test_stubs.py checks both against the runtime module and the pure twin).
from typing import Final

from dragonfly.model import BookUpdate

__all__ = ("encode_update", "decode_update", "MAGIC", "VERSION", "HEADER_SIZE", "MAX_LEVELS")

MAGIC: Final = b"\xdf\xb1"
VERSION: Final = 1
HEADER_SIZE: Final = 28
MAX_LEVELS: Final = 65535

def encode_update(update: BookUpdate) -> bytes: ...
def decode_update(data: bytes) -> BookUpdate: ...
