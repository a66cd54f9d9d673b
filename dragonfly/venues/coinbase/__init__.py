"""Coinbase market data: diff-stream books (:mod:`.diff`)."""

from .diff import *  # noqa: F401,F403
from .diff import __all__
