"""What runs between ``start()`` and ``stop()`` is an async context manager: one mixin for every such class."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("StartStop",)


class StartStop:
    """Mixin: ``async with x:`` awaits ``x.start()`` on the way in and ``x.stop()`` on the way out,
    whatever happened inside. Subclasses define both (``start`` may return something, e.g. a port)."""

    __slots__ = ()

    async def start(self) -> object:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
