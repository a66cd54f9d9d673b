"""The KuCoin feed against its simulator over real sockets on 127.0.0.1: a token before every
connection (``POST /api/v1/bullet-public``), the WebSocket at the endpoint it names with the token
and a connectId, REST snapshots, books equal to the true books; and the token never reaches a
log line, a health reason or an update, whether it is accepted or refused.

:class:`TokenSim` is the diff simulator answering the connect request with the encoder's
``connect_response`` (the generic simulator's POST route), counting them and able to refuse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from conftest import core_module

from dragonfly.clients.base import Backoff
from dragonfly.clients.ws import WebSocketConfig
from dragonfly.model import BookUpdate, VenueStatus
from dragonfly.sim import make_encoder
from dragonfly.sim.diff.server import DiffSim, DiffSimConfig
from dragonfly.venues import create_feed
from dragonfly.venues.registry import get_venue

SPEC = get_venue("kucoin")
INSTRUMENTS = ("BTC-USDT", "ETH-USDT")
TIMEOUT = 10.0
LIVE = VenueStatus.LIVE


class TokenSim(DiffSim):
    """The diff simulator, with connect requests counted and optionally refused (``refusal``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token_requests = 0
        self.refusal: str | None = None

    async def _post(self, request: web.Request) -> web.StreamResponse:
        self.token_requests += 1
        if self.refusal is not None:
            self._signal()
            return web.Response(text=self.refusal, content_type="application/json")
        return await super()._post(request)


class Recorder:
    def __init__(self) -> None:
        self.updates: list[BookUpdate] = []
        self.event = asyncio.Event()

    def publish(self, update: BookUpdate) -> None:
        self.updates.append(update)
        self.event.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async def _wait() -> None:
            while not predicate():
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(_wait(), TIMEOUT)


def _feed(sim: DiffSim, sink: Recorder, impl: str) -> Any:
    feed = create_feed(
        SPEC,
        instruments=list(INSTRUMENTS),
        depth=10,
        sink=sink,
        base_url=sim.ws_url,
        ws=WebSocketConfig.build(url=sim.ws_url, backoff=Backoff(initial_s=0.01, max_s=0.05), heartbeat_s=None),
        book_type=core_module("book", impl).Book,
    )
    on_frame = feed.on_frame

    def probed(frame: Any, receive_ns: int = 0) -> None:
        on_frame(frame, receive_ns)
        sink.event.set()

    feed.on_frame = probed
    return feed


def _matches_truth(sim: DiffSim, feed: Any) -> bool:
    return all(
        k.status is LIVE and k.book.bids() == sim.symbols[s].book.bids() and k.book.asks() == sim.symbols[s].book.asks()
        for s, k in feed.keepers.items()
    )


def _assert_secret_kept(secrets: list[str], caplog: pytest.LogCaptureFixture, sink: Recorder, feed: Any) -> None:
    texts = [caplog.text, *(u.reason for u in sink.updates), *(h.reason for h in feed.health().values())]
    assert secrets and all(s for s in secrets)
    for secret in secrets:
        assert all(secret not in t for t in texts)


async def test_a_token_for_every_connection(core_impl: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    encoder = make_encoder(SPEC, SPEC.config())
    async with TokenSim(encoder, DiffSimConfig(symbols=INSTRUMENTS, seed=5, levels=20)) as sim:
        await sim.step(3)
        sink = Recorder()
        feed = _feed(sim, sink, core_impl)
        feed.start()
        try:
            await sink.until(lambda: all(k.status is LIVE for k in feed.keepers.values()))
            assert sim.token_requests == 1 and sim.snapshot_requests == 2
            assert encoder.connects[-1] == {"token": encoder.tokens[-1], "connectId": encoder.connects[-1]["connectId"]}
            await sim.step(30)
            await sink.until(lambda: _matches_truth(sim, feed))
            assert all(k.stats.applied >= 30 for k in feed.keepers.values())
            # a new connection asks for a new token and goes where the answer says
            assert await sim.disconnect() == 1
            await sim.wait_for(lambda: sim.connections == 2)
            await sink.until(lambda: all(k.status is LIVE for k in feed.keepers.values()))
            assert sim.token_requests == 2 and len(set(encoder.tokens)) == 2
            assert encoder.connects[-1]["token"] == encoder.tokens[-1]
            assert encoder.connects[0]["connectId"] != encoder.connects[-1]["connectId"]
            await sim.step(5)
            await sink.until(lambda: _matches_truth(sim, feed))
            assert feed.stats.faults == 0 and feed.stats.bad_frames == 0
        finally:
            await feed.stop()
        assert feed.error is None
        _assert_secret_kept(list(encoder.tokens), caplog, sink, feed)


async def test_a_refused_token_keeps_the_feed_out_and_the_token_secret(
    core_impl: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Sx9-refused-token-kK2=.zz=="
    encoder = make_encoder(SPEC, SPEC.config())
    async with TokenSim(encoder, DiffSimConfig(symbols=INSTRUMENTS, seed=6, levels=10)) as sim:
        sim.refusal = '{"code":"400003","msg":"KC-API-KEY not exists ' + secret + '","data":{"token":"' + secret + '"}}'
        sink = Recorder()
        feed = _feed(sim, sink, core_impl)
        feed.start()
        try:
            await sim.wait_for(lambda: sim.token_requests >= 3)  # retried with backoff
            assert sim.connections == 0 and not any(k.status is LIVE for k in feed.keepers.values())
            assert feed.stats.client.connects == 0
            sim.refusal = None
            await sink.until(lambda: all(k.status is LIVE for k in feed.keepers.values()))
            await sim.step(5)
            await sink.until(lambda: _matches_truth(sim, feed))
        finally:
            await feed.stop()
        assert feed.error is None
        assert "400003" in caplog.text  # the refusal is reported, by its code
        _assert_secret_kept([secret, *encoder.tokens], caplog, sink, feed)
