"""The simulators speak the venues' documented WebSocket protocols (plain aiohttp client, 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from dragonfly.sim import VenueSimulator
from dragonfly.venues.binance.config import BinanceConfig
from dragonfly.venues.binance.sim import BinanceEncoder
from dragonfly.venues.bitstamp.config import BitstampConfig
from dragonfly.venues.bitstamp.sim import BitstampEncoder

TIMEOUT = 10.0


async def recv_json(ws: aiohttp.ClientWebSocketResponse) -> Any:
    msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def test_bitstamp_subscribe_heartbeat_errors_and_data() -> None:
    simulator = VenueSimulator(BitstampEncoder(BitstampConfig()), instruments=["ETH-BTC"], seed=3, interval_s=0.01)
    async with simulator as sim:
        async with aiohttp.ClientSession() as s, s.ws_connect(sim.base_url) as ws:
            await ws.send_str(json.dumps({"event": "bts:subscribe", "data": {"channel": "order_book_nope"}}))
            assert (await recv_json(ws))["event"] == "bts:error"
            await ws.send_str(json.dumps({"event": "bts:heartbeat"}))
            hb = await recv_json(ws)
            assert hb == {"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}}
            await ws.send_str(json.dumps({"event": "bts:subscribe", "data": {"channel": "order_book_ethbtc"}}))
            ok = await recv_json(ws)
            assert ok == {"event": "bts:subscription_succeeded", "channel": "order_book_ethbtc", "data": {}}
            data = await recv_json(ws)
            assert data["event"] == "data" and data["channel"] == "order_book_ethbtc"
            assert set(data["data"]) == {"timestamp", "microtimestamp", "bids", "asks"}
            assert len(data["data"]["bids"]) == 100 and all(isinstance(x, str) for x in data["data"]["bids"][0])
            assert int(data["data"]["microtimestamp"]) // 1_000_000 == int(data["data"]["timestamp"])
            await sim.request_reconnect()
            while True:
                m = await recv_json(ws)
                if m["event"] == "bts:request_reconnect":
                    break
            await ws.send_str(json.dumps({"event": "bts:unsubscribe", "data": {"channel": "order_book_ethbtc"}}))
            while (await recv_json(ws))["event"] != "bts:unsubscription_succeeded":
                pass
            assert sim.subscribers() == 0


async def test_binance_combined_raw_and_method_subscriptions() -> None:
    encoder = BinanceEncoder(BinanceConfig())
    async with VenueSimulator(encoder, instruments=["ETH-BTC", "BTC-USDT"], seed=3, interval_s=0.01) as sim:
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(sim.base_url + "/stream?streams=ethbtc@depth5@100ms") as ws:
                m = await recv_json(ws)
                assert m["stream"] == "ethbtc@depth5@100ms"
                assert set(m["data"]) == {"lastUpdateId", "bids", "asks"} and len(m["data"]["bids"]) == 5
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth20@100ms"], "id": 7}))
                seen_ack = False
                streams = set()
                while not (seen_ack and "btcusdt@depth20@100ms" in streams):
                    m = await recv_json(ws)
                    if m == {"result": None, "id": 7}:
                        seen_ack = True
                    elif "stream" in m:
                        streams.add(m["stream"])
                await ws.send_str("not json")
                while "error" not in (m := await recv_json(ws)):
                    pass
            async with s.ws_connect(sim.base_url + "/ws/ethbtc@depth10") as raw:
                m = await recv_json(raw)
                assert set(m) == {"lastUpdateId", "bids", "asks"} and len(m["asks"]) == 10
