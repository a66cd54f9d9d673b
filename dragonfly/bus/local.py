"""The ``local`` bus: worker processes on one host, no server.

Each worker listens on a Unix domain socket ``<directory>/<worker>.sock``; the aggregator side
connects to every worker's socket with a :class:`UnixBusClient` (a layer-1 client: reconnect with
backoff, hooks, counters), so a worker that dies is noticed at once (the connection ends) and one
that comes back is reconnected to. The stream is a sequence of frames, each a 4-byte little-endian
length and one busmsg ``BookUpdate`` message (at most :data:`MAX_MESSAGE` bytes; a longer length
means a corrupt stream, and the connection is dropped and made again).

Bounded at both ends: the worker keeps only the latest message per (venue, instrument) for each
connection and writes while the socket takes it (asyncio's write buffer high-water mark), the
aggregator's queue keeps the latest update per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..clients.base import Backoff, Client
from ..errors import BusError, VenueConnectionError
from .base import Bus, BusLink, BusPublisher, Key, Outlet

__all__ = ("LocalBus", "LocalLink", "UnixBusClient", "MAX_MESSAGE")

log = logging.getLogger(__name__)

#: Largest message a frame may carry (a depth-5000 update is about 160 kB).
MAX_MESSAGE = 1 << 20
_LEN = struct.Struct("<I")
_READ = 1 << 16


class LocalLink(BusLink):
    """Worker side: a Unix socket server; every connection gets the publisher's messages (latest wins)."""

    def __init__(self, path: Path, publisher: BusPublisher) -> None:
        self.path = path
        self.publisher = publisher
        self._server: asyncio.AbstractServer | None = None
        self._conns: dict[asyncio.Task[None], Outlet] = {}
        self.connections = 0

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a worker that died
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        outlet: Outlet = self.publisher.attach()
        self._conns[task] = outlet
        eof = asyncio.ensure_future(reader.read())  # the consumer sends nothing: this ends when it goes
        eof.add_done_callback(lambda _: outlet.close())  # ... and then take() returns nothing
        pack = _LEN.pack
        transport = writer.transport
        high = transport.get_write_buffer_limits()[1]

        def direct(key: Key, data: bytes) -> bool:
            """Write now (from the feed's publish) unless the socket is backed up or closing."""
            if transport.is_closing() or transport.get_write_buffer_size() >= high:
                return False
            writer.write(pack(len(data)) + data)
            return True

        outlet.direct = direct
        try:
            while True:
                items = await outlet.take()
                if not items:
                    break
                writer.writelines([b for _, data in items for b in (pack(len(data)), data)])
                await writer.drain()  # waits only above the transport's high-water mark
        except (ConnectionError, OSError):
            pass
        finally:
            outlet.direct = None
            outlet.close()
            eof.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._conns.pop(task, None)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for outlet in list(self._conns.values()):
            outlet.close()  # each connection's loop ends and closes its socket
        if self._conns:
            await asyncio.gather(*self._conns, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class UnixBusClient(Client):
    """Aggregator side: one worker's stream (frames are ``("", message)``)."""

    def __init__(self, path: Path, *, name: str, backoff: Backoff | None = None) -> None:
        super().__init__()
        self.path = path
        self._name = name
        self._backoff = backoff or Backoff(initial_s=0.02, max_s=1.0)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._end = ""

    @property
    def name(self) -> str:
        return self._name

    @property
    def backoff(self) -> Backoff:
        return self._backoff

    async def send(self, data: Any) -> None:
        raise BusError(f"{self._name}: the local bus is one-way (worker -> aggregator)")

    def _is_open(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def _open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(str(self.path))
        except OSError as exc:
            text = self._summary(exc)
            raise VenueConnectionError(f"{self._name}: connect failed: {text}", venue=self._name) from None
        self._end = ""

    def _payload_size(self, payload: Any) -> int:
        return len(payload[1])

    async def _receive(self) -> AsyncIterator[tuple[str, bytes]]:
        reader = self._reader
        if reader is None:
            return
        buf = b""
        unpack = _LEN.unpack_from
        while True:
            chunk = await reader.read(_READ)
            if not chunk:
                self._end = "closed by the worker"
                return
            buf = buf + chunk if buf else chunk
            pos = 0
            size = len(buf)
            while size - pos >= 4:
                (n,) = unpack(buf, pos)
                if n > MAX_MESSAGE:
                    raise VenueConnectionError(f"{self._name}: corrupt stream (frame of {n} bytes)", venue=self._name)
                if size - pos - 4 < n:
                    break
                yield "", buf[pos + 4 : pos + 4 + n]
                pos += 4 + n
            buf = buf[pos:]

    async def _drop(self) -> str:
        writer, self._writer = self._writer, None
        self._reader = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return self._end or "closed"

    def _abort(self) -> None:
        if self._writer is not None:
            self._writer.close()

    async def _shutdown(self) -> None:
        await self._drop()


class LocalBus(Bus):
    """Workers on this host, each behind a Unix socket in ``directory`` (a private temporary one
    when None; removed by :meth:`close` if this object made it)."""

    kind = "local"
    shared = False

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._own = directory is None
        if directory is None:  # a Unix socket path holds about 100 bytes: a short temporary directory
            base = tempfile.gettempdir()
            if len(base) > 60 and os.path.isdir("/tmp"):
                base = "/tmp"
            self.directory = Path(tempfile.mkdtemp(prefix="dragonfly-bus-", dir=base))
        else:
            self.directory = Path(directory)
        self.url = f"local://{self.directory}"

    def path(self, worker: str) -> Path:
        if not worker or "/" in worker or worker.startswith("."):
            raise BusError(f"bad worker name {worker!r}")
        path = self.directory / f"{worker}.sock"
        if len(str(path).encode()) > 100:  # sun_path holds 108 bytes
            raise BusError(f"socket path too long for a Unix socket: {path}")
        return path

    def link(self, worker: str, publisher: BusPublisher) -> LocalLink:
        return LocalLink(self.path(worker), publisher)

    def clients(self, *, workers: Sequence[str], instruments: Sequence[str]) -> Mapping[str, Client]:
        if not workers:
            raise BusError("the local bus reaches workers this process starts (--workers N); none given")
        return {f"worker {w}": UnixBusClient(self.path(w), name=f"bus worker {w}") for w in workers}

    def close(self) -> None:
        if self._own:
            with contextlib.suppress(OSError):
                for p in self.directory.glob("*.sock"):
                    p.unlink()
                self.directory.rmdir()
