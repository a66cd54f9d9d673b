"""The pipeline tests against the Binance and Bitstamp simulators (``test_pipeline_sim``: consolidated top 10,
liquidity, disconnects, stalls, malformed and out-of-order frames, slow consumers, reconnect requests) with the
feeds on the optional picows WebSocket transport: what is served must not depend on the transport."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("picows", reason="the optional picows transport is not installed")

import test_pipeline_sim as base

from dragonfly.sim import SimulatedVenues
from dragonfly.topology import Pipeline, PipelineConfig


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedVenues]:
    async with SimulatedVenues(venues=base.VENUES, instrument="ETH-BTC", seed=7, interval_s=0.02) as s:
        yield s


@pytest.fixture
async def pipeline(sim: SimulatedVenues) -> AsyncIterator[Pipeline]:
    cfg = PipelineConfig(
        instrument="ethbtc", venues=base.VENUES, depth=base.DEPTH, base_urls=sim.base_urls,
        staleness_s=base.STALENESS, ws=dataclasses.replace(base.WS, transport="picows"),
    )
    async with Pipeline(cfg) as p:
        from dragonfly.clients.ws_picows import PicowsWebSocketClient

        assert all(isinstance(f.client, PicowsWebSocketClient) for f in p.feeds.values())
        yield p


def _uses_the_pipeline_fixture(fn: Any) -> bool:
    return "pipeline" in getattr(fn, "__code__", fn).co_varnames[: getattr(fn, "__code__", fn).co_argcount]


globals().update({
    name: fn for name, fn in vars(base).items()
    if name.startswith("test_") and callable(fn) and _uses_the_pipeline_fixture(getattr(fn, "__wrapped__", fn))
})
