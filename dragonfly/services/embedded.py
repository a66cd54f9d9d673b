"""Layer 5, in process: world views for a bot running in the same event loop.

>>> async for view in service.stream(depth=5, venues=("binance",)):  # doctest: +SKIP
...     act_on(view.bids[0], view.asks[0])

Each stream is its own conflating subscription: a bot that reads slowly gets the
newest view, never a backlog (``stream.skipped`` counts what it missed; so do
gaps in ``view.seq``), and never slows the aggregator or other streams.
Filtering runs in the reader's task, on read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .._core.merge import merge_levels
from ..model import LiquidityView, WorldView
from ..queues import Broadcast, Subscription

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("EmbeddedService", "ViewStream", "LiquidityStream", "filter_view")

_V = TypeVar("_V")


def filter_view(view: WorldView, *, depth: int | None = None, venues: frozenset[str] | None = None) -> WorldView:
    """Restrict ``view`` to ``venues`` (re-merging their own tops) and cut it to ``depth`` levels."""
    if venues is not None and not venues.issuperset(view.books):
        books = {v: b for v, b in view.books.items() if v in venues}
        n = depth if depth is not None else max(len(view.bids), len(view.asks), 1)
        mb, ma = merge_levels(books, n)
        bids, asks = tuple(mb), tuple(ma)
        spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
        health = {v: h for v, h in view.venues.items() if v in venues}
        return replace(view, bids=bids, asks=asks, spread=spread, venues=health, books=books)
    if venues is not None and not venues.issuperset(view.venues):
        view = replace(view, venues={v: h for v, h in view.venues.items() if v in venues})
    if depth is not None and (len(view.bids) > depth or len(view.asks) > depth):
        bids, asks = view.bids[:depth], view.asks[:depth]
        spread = asks[0][1] - bids[0][1] if bids and asks else 0.0
        view = replace(view, bids=bids, asks=asks, spread=spread)
    return view


class _Stream(Generic[_V]):
    """A reader's stream: :meth:`get` (each subclass's filter on read) as an async iterator."""

    __slots__ = ("_sub",)

    def __init__(self, sub: Subscription[Any]) -> None:
        self._sub = sub

    @property
    def skipped(self) -> int:
        """Views dropped because this reader was slower than the aggregator."""
        return self._sub.skipped

    @property
    def received(self) -> int:
        return self._sub.received

    def __len__(self) -> int:
        return len(self._sub)

    def close(self) -> None:
        self._sub.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __aiter__(self) -> Self:
        return self

    async def get(self) -> _V:
        raise NotImplementedError

    async def __anext__(self) -> _V:
        try:
            return await self.get()
        except StopAsyncIteration:
            raise StopAsyncIteration from None


class ViewStream(_Stream[WorldView]):
    """Async iterator of filtered :class:`~dragonfly.model.WorldView` (see :meth:`EmbeddedService.stream`)."""

    __slots__ = ("depth", "venues")

    def __init__(self, sub: Subscription[WorldView], depth: int | None, venues: frozenset[str] | None) -> None:
        super().__init__(sub)
        self.depth = depth
        self.venues = venues

    async def get(self) -> WorldView:
        view: WorldView = await self._sub.get()
        if self.depth is None and self.venues is None:
            return view
        return filter_view(view, depth=self.depth, venues=self.venues)


class LiquidityStream(_Stream[LiquidityView]):
    """Async iterator of :class:`~dragonfly.model.LiquidityView` cut to ``depth``."""

    __slots__ = ("depth",)

    def __init__(self, sub: Subscription[LiquidityView], depth: int | None) -> None:
        super().__init__(sub)
        self.depth = depth

    async def get(self) -> LiquidityView:
        view: LiquidityView = await self._sub.get()
        d = self.depth
        if d is not None and (len(view.bids) > d or len(view.asks) > d):
            view = replace(view, bids=view.bids[:d], asks=view.asks[:d])
        return view


class EmbeddedService:
    """The embedded API over an aggregator's broadcasts.

    Parameters
    ----------
    views : Broadcast[WorldView]
    liquidity : Broadcast[LiquidityView], optional
    """

    def __init__(self, views: Broadcast[WorldView], liquidity: Broadcast[LiquidityView] | None = None) -> None:
        self.views = views
        self.liquidity = liquidity

    def stream(
        self, *, depth: int | None = None, venues: Iterable[str] | None = None, maxsize: int = 1
    ) -> ViewStream:
        """A new conflating stream of world views.

        Parameters
        ----------
        depth : int, optional
            Levels per side (at most the aggregator's depth).
        venues : iterable of str, optional
            Only these venues: the view is re-merged from their own tops, so it holds
            their best ``depth`` levels, with the spread between them.
        maxsize : int
            Views buffered for this reader before the oldest is dropped.
        """
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        vs = None
        if venues is not None:
            if isinstance(venues, str):
                venues = (venues,)
            vs = frozenset(v.strip().lower() for v in venues)
            if not vs:
                raise ValueError("venues must not be empty")
        return ViewStream(self.views.subscribe(maxsize=maxsize), depth, vs)

    def liquidity_stream(self, *, depth: int | None = None, maxsize: int = 1) -> LiquidityStream:
        """A new conflating stream of summed-liquidity views."""
        if self.liquidity is None:
            raise RuntimeError("this service has no liquidity broadcast")
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        return LiquidityStream(self.liquidity.subscribe(maxsize=maxsize), depth)

    def latest(self, *, depth: int | None = None, venues: Iterable[str] | None = None) -> WorldView | None:
        """The newest view (filtered), or None before the first."""
        v = self.views.latest
        if v is None:
            return None
        vs = frozenset(x.lower() for x in ((venues,) if isinstance(venues, str) else venues)) if venues else None
        return filter_view(v, depth=depth, venues=vs)
