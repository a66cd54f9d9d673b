"""Running things: what runs between ``start()`` and ``stop()`` is an async context manager (one mixin
for every such class), and a background task is stopped by cancelling it and waiting for it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("StartStop", "cancel_and_wait")


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (None: nothing to do) and wait until it has finished; its cancellation is not
    raised here."""
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


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
