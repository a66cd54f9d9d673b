"""What the WebSocket simulators share: one aiohttp application listening on 127.0.0.1, its URLs,
and dropping its connections (cleanly, or by aborting the TCP connection)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from aiohttp import WSCloseCode, web

__all__ = ("LocalSite", "drop_connections")


class LocalSite:
    """Base of a simulator served by one aiohttp application (WebSocket and HTTP on one port).

    Attributes
    ----------
    host : str
        Interface it listens on (default 127.0.0.1).
    port : int
        Its port: 0 until :meth:`_listen` picks a free one (unless set to a fixed port before).
    """

    host: str = "127.0.0.1"
    port: int = 0
    _runner: web.AppRunner | None = None

    async def _listen(self, routes: Iterable[web.AbstractRouteDef]) -> None:
        """Serve ``routes`` on :attr:`host`:``port`` (no access log) and read back the port."""
        app = web.Application()
        app.router.add_routes(routes)
        self._runner = runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self.port = int(runner.addresses[0][1])

    async def _unlisten(self) -> None:
        """Stop serving (nothing when not listening)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """The HTTP base on the same port (REST snapshots, connect requests)."""
        return f"http://{self.host}:{self.port}"


class _Connection(Protocol):
    @property
    def request(self) -> web.Request: ...

    @property
    def ws(self) -> web.WebSocketResponse: ...


async def drop_connections(
    conns: Iterable[_Connection], *, abrupt: bool, code: int = WSCloseCode.OK, message: bytes = b""
) -> int:
    """Close every connection of ``conns``: a WebSocket close (``code``, ``message``), or with ``abrupt``
    a TCP abort (no close frame, as when a network path dies). Returns how many there were."""
    conns = list(conns)
    for conn in conns:
        transport = conn.request.transport
        if abrupt and transport is not None:
            transport.abort()
        else:
            await conn.ws.close(code=code, message=message)
    return len(conns)
