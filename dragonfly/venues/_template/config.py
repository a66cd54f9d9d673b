"""Template: the venue's frozen configuration."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...clients.ws import WebSocketConfig
from .schemas import DEFAULT_BASE_URL


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateConfig:
    base_url: str = DEFAULT_BASE_URL
    ws: WebSocketConfig | None = None

    def __post_init__(self) -> None:
        WebSocketConfig(url=self.base_url)

    def with_base_url(self, base_url: str) -> TemplateConfig:
        return replace(self, base_url=base_url)
