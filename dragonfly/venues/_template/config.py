"""Template venue: configuration (frozen, keyword-only; validated in ``__post_init__``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ..base import check_url

__all__ = ("KINDS", "TemplateConfig")

DEFAULT_WS_URL = "wss://stream.example.invalid/ws"  # the production endpoint (a simulator's in tests)
DEFAULT_REST_URL = "https://api.example.invalid"
#: The kinds of feed the template shows (a real venue has one per registry entry).
KINDS = ("resubscribe", "rest", "top")


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateConfig:
    """Parameters
    ----------
    base_url : str
        WebSocket URL.
    rest_url : str
        REST base for snapshots (``kind="rest"``); follows ``base_url`` when that is overridden.
    kind : {"resubscribe", "rest", "top"}
        Which kind of feed (see the package docstring).
    max_depth : int
        Book depth cap per side.
    """

    base_url: str = DEFAULT_WS_URL
    rest_url: str = DEFAULT_REST_URL
    kind: str = "resubscribe"
    max_depth: int = 1000

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ConfigError("max_depth must be a positive int")
        check_url(self.base_url, ("ws", "wss"))
        check_url(self.rest_url, ("http", "https"))
