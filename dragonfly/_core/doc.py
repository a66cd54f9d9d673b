"""One JSON document parsed strictly into a tape, read through integer handles.

Selects :mod:`dragonfly._core.doc_c` or its twin :mod:`~dragonfly._core.doc_py`
(the reference, where the semantics are documented).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._select import select

if TYPE_CHECKING:
    from .doc_py import ARRAY, FALSE, KIND_NAMES, MAX_DEPTH, NULL, NUMBER, OBJECT, STRING, TRUE, Doc
else:
    _impl = select("doc")
    Doc = _impl.Doc
    NULL = _impl.NULL
    FALSE = _impl.FALSE
    TRUE = _impl.TRUE
    NUMBER = _impl.NUMBER
    STRING = _impl.STRING
    ARRAY = _impl.ARRAY
    OBJECT = _impl.OBJECT
    MAX_DEPTH = _impl.MAX_DEPTH
    KIND_NAMES = _impl.KIND_NAMES

__all__ = ("ARRAY", "FALSE", "KIND_NAMES", "MAX_DEPTH", "NULL", "NUMBER", "OBJECT", "STRING", "TRUE", "Doc")
