"""Build- and run-time switches read from the environment.

This module is imported by ``setup.py`` (by file path, before the package is
built) and by the runtime, so it must depend on nothing but the standard
library.
"""

from __future__ import annotations

import os
import platform

__all__ = ("NO_EXTENSIONS", "env_flag")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def env_flag(name: str, environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """Return the boolean value of the environment variable ``name``.

    Accepts ``1/true/yes/on`` and ``0/false/no/off`` (any case, surrounding
    blanks ignored); unset means false. Anything else raises ``ValueError`` so a
    typo never silently selects the wrong build.
    """
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name}={env.get(name)!r}: expected one of 1/0, true/false, yes/no, on/off")


#: True when the pure-Python twins must be used (and, at build time, when no
#: extension is compiled). Non-CPython interpreters always use the twins.
NO_EXTENSIONS: bool = env_flag("DRAGONFLY_NO_EXTENSIONS") or platform.python_implementation() != "CPython"
