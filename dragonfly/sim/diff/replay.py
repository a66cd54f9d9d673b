"""Replay a recorded diff feed over a real socket: WebSocket frames + REST snapshot bodies.

:class:`ReplaySim` serves, on 127.0.0.1, the frames of a recording in their
recorded order (after the client's first subscribe message when
``wait_subscribe``), and answers REST snapshot requests with the recorded
bodies once ``release_after`` frames were sent -- the way the venue's
snapshot arrived after the first diffs in the live capture. The recording is
handed in by the caller (see :mod:`dragonfly.sim.diff.recordings`); nothing
is copied anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from ..local import LocalSite

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("ReplaySim",)


class ReplaySim(LocalSite):
    """Parameters
    ----------
    frames : sequence of str
        WebSocket payloads in order.
    rest : mapping of str to str
        Snapshot body per key; ``rest_key(request)`` gives the key of a request
        (default: the ``symbol`` query parameter, else the last path segment).
    release_after : int
        REST answers wait until this many frames were sent.
    wait_subscribe : bool
        Start sending after the client's first text message.
    """

    def __init__(
        self,
        *,
        frames: Sequence[str],
        rest: Mapping[str, str] | None = None,
        release_after: int = 0,
        wait_subscribe: bool = True,
        rest_key: Callable[[web.Request], str] | None = None,
    ) -> None:
        self.frames = list(frames)
        self.rest = dict(rest or {})
        self.release_after = release_after
        self.wait_subscribe = wait_subscribe
        self.rest_key = rest_key or (lambda r: r.query.get("symbol") or r.path.rstrip("/").rsplit("/", 1)[-1])
        self.sent = 0
        self.snapshot_requests = 0
        self._progress = asyncio.Condition()

    async def __aenter__(self) -> Self:
        await self._listen([web.route("GET", "/{tail:.*}", self._handle)])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._unlisten()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            key = self.rest_key(request)
            body = self.rest.get(key)
            if body is None:
                raise web.HTTPNotFound()
            self.snapshot_requests += 1
            async with self._progress:
                await self._progress.wait_for(lambda: self.sent >= self.release_after)
            return web.Response(text=body, content_type="application/json")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if self.wait_subscribe:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    break
        for frame in self.frames:
            await ws.send_str(frame)
            self.sent += 1
            if self.sent == self.release_after or self.sent == len(self.frames):
                async with self._progress:
                    self._progress.notify_all()
        async for _msg in ws:  # keep the connection until the client leaves
            pass
        return ws
