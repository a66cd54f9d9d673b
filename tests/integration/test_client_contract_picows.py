"""The layer-1 contract (every test of ``test_client_contract``) and the pump tests, run against the
optional picows WebSocket client (``dragonflybot[picows]``) on the same scripted aiohttp server as the
default client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("picows", reason="the optional picows transport is not installed")

import test_client_contract as contract
import test_client_pump as pump

from dragonfly.clients import Backoff, Client
from dragonfly.clients.ws import WebSocketConfig, websocket_client
from dragonfly.clients.ws_picows import PicowsWebSocketClient


class PicowsTransport(contract.WsTransport):
    name = "picows"

    def client(self, port: int, backoff: Backoff) -> Client:
        config = WebSocketConfig.build(url=f"ws://127.0.0.1:{port}/ws", name="picows", backoff=backoff,
                                       connect_timeout_s=contract.T, heartbeat_s=None, no_data_timeout_s=None,
                                       transport="picows")
        client = websocket_client(config)
        assert isinstance(client, PicowsWebSocketClient)
        return client


@pytest.fixture
async def transport() -> AsyncIterator[contract.Transport]:
    t = PicowsTransport()
    try:
        yield t
    finally:
        await t.stop()


def _tests(module: Any) -> dict[str, Any]:
    return {name: fn for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)}


globals().update({f"{name}": fn for name, fn in _tests(contract).items()})
globals().update({f"{name}": fn for name, fn in _tests(pump).items()})
