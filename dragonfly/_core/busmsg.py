"""The bus's binary ``BookUpdate`` message: encode and decode.

Selects :mod:`dragonfly._core.busmsg_c` or its twin :mod:`~dragonfly._core.busmsg_py`
(which documents the layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .busmsg_py import HEADER_SIZE, MAGIC, MAX_LEVELS, VERSION, decode_update, encode_update
else:
    _impl = select("busmsg")
    encode_update = _impl.encode_update
    decode_update = _impl.decode_update
    MAGIC = _impl.MAGIC
    VERSION = _impl.VERSION
    HEADER_SIZE = _impl.HEADER_SIZE
    MAX_LEVELS = _impl.MAX_LEVELS

__all__ = ("encode_update", "decode_update", "MAGIC", "VERSION", "HEADER_SIZE", "MAX_LEVELS")
