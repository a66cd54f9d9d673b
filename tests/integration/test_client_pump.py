"""``Client.pump(on_frame)``: the layer-1 contract of ``frames()`` with a callback per payload, run
against every transport of the client contract (WebSocket, FIX): the same payloads in the same order,
the same hooks, states, counters, retries and close, and an ``on_frame`` that raises stops reading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from test_client_contract import TINY, TRANSPORTS, Recorder, T, Transport

from dragonfly.clients import Backoff, ClientState
from dragonfly.errors import VenueConnectionError


@pytest.fixture(params=sorted(TRANSPORTS))
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    t = TRANSPORTS[request.param]()
    try:
        yield t
    finally:
        await t.stop()


class Enough(Exception):
    """Raised by a test's on_frame to stop reading."""


async def test_pump_delivers_like_frames_across_drops(transport: Transport) -> None:
    server = await transport.start([("data", 2), ("data", 2)], default=("hold", 2))  # the third: close() ends it
    client = transport.client(server.port, Backoff(**TINY, max_retries=0))
    rec = Recorder(client)
    got: list[str] = []
    closing: list[asyncio.Task[None]] = []

    def on_frame(payload: Any) -> None:
        got.append(transport.text(payload))
        rec.events.append(("data", got[-1], client.state))
        if len(got) == 6:
            closing.append(asyncio.get_running_loop().create_task(client.close()))  # pump then returns

    await asyncio.wait_for(client.pump(on_frame), T)
    await closing[0]
    assert got == ["1:0", "1:1", "2:0", "2:1", "3:0", "3:1"]
    assert rec.kinds() == ["connect", "data", "data", "disconnect", "connect", "data", "data", "disconnect",
                           "connect", "data", "data", "disconnect"]
    drops = [(r, s) for k, r, s in rec.events if k == "disconnect"]
    assert [s for _, s in drops[:2]] == [ClientState.BACKOFF] * 2
    assert drops[2] == ("closed by client", ClientState.CLOSED)
    assert client.stats.connects == 3 and client.stats.disconnects == 3 and client.stats.messages == 6
    assert client.stats.bytes > 0 and client.state is ClientState.CLOSED


async def test_pump_gives_up_after_max_retries_and_resets_on_data(transport: Transport) -> None:
    script: list[Any] = [("data", 1), ("refuse",), ("data", 1), ("refuse",), ("refuse",)]
    server = await transport.start(script, default=("data", 1))
    client = transport.client(server.port, Backoff(**TINY, max_retries=1))
    got: list[str] = []
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(client.pump(lambda p: got.append(transport.text(p))), T)
    assert got == ["1:0", "2:0"] and server.attempts == 5
    assert "giving up after 2 failed attempts" in str(info.value)
    assert client.state is ClientState.CLOSED
    await client.close()


async def test_pump_connection_ending_before_data_is_a_failure(transport: Transport) -> None:
    server = await transport.start([], default=("data", 0))
    client = transport.client(server.port, Backoff(**TINY, max_retries=1))
    with pytest.raises(VenueConnectionError) as info:
        await asyncio.wait_for(client.pump(lambda p: None), T)
    assert server.attempts == 2 and "ended before any data" in str(info.value)
    await client.close()


async def test_on_frame_raising_stops_reading(transport: Transport) -> None:
    server = await transport.start([], default=("hold", 2))
    client = transport.client(server.port, Backoff(**TINY))
    rec = Recorder(client)
    got: list[str] = []

    def on_frame(payload: Any) -> None:
        got.append(transport.text(payload))
        raise Enough

    with pytest.raises(Enough):
        await asyncio.wait_for(client.pump(on_frame), T)
    assert got == ["1:0"]
    assert rec.kinds() == ["connect", "disconnect"]
    assert rec.events[1][1:] == ("reading stopped", ClientState.IDLE)
    assert not client.connected
    got.clear()
    with pytest.raises(Enough):  # pumping again reconnects
        await asyncio.wait_for(client.pump(on_frame), T)
    assert got == ["2:0"]
    await client.close()


async def test_cancelled_pump_stops_reading(transport: Transport) -> None:
    server = await transport.start([], default=("hold", 1))
    client = transport.client(server.port, Backoff(**TINY))
    rec = Recorder(client)
    first = asyncio.Event()
    task = asyncio.get_running_loop().create_task(client.pump(lambda p: first.set()))
    await asyncio.wait_for(first.wait(), T)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.kinds() == ["connect", "disconnect"]
    assert rec.events[1][1:] == ("reading stopped", ClientState.IDLE)
    await client.close()


async def test_close_during_backoff_ends_the_pump(transport: Transport) -> None:
    server = await transport.start([], default=("refuse",))
    client = transport.client(server.port, Backoff(initial_s=3600.0, max_s=3600.0, jitter=0.0))
    rec = Recorder(client)
    task = asyncio.get_running_loop().create_task(client.pump(lambda p: None))
    await rec.wait_for(lambda: rec.kinds() == ["disconnect"])
    assert client.state is ClientState.BACKOFF
    await asyncio.wait_for(client.close(), 2.0)
    await asyncio.wait_for(task, 2.0)  # ended without an error
    assert client.state is ClientState.CLOSED and server.attempts == 1
