"""Layer 2 pieces without a network: names, routing-key decoding, venue parsing, registry, builders."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dragonfly.errors import ConfigError
from dragonfly.queues import KeyedQueue
from dragonfly.topology import FeedSpec, PipelineConfig
from dragonfly.venues import get_venue, normalize_instrument, parse_instrument, venue_names
from dragonfly.venues.binance import BinanceConfig, BinanceDiffConfig
from dragonfly.venues.binance import adapter as bn
from dragonfly.venues.bitstamp import BitstampConfig, BitstampDiffConfig
from dragonfly.venues.bitstamp import adapter as bs
from dragonfly.venues.routing import int_field, string_field


@pytest.mark.parametrize("text", ["ethbtc", "ETHBTC", "ETH-BTC", "eth_btc", "eth/btc", " Eth-Btc "])
def test_instrument_spellings_normalise(text: str) -> None:
    assert normalize_instrument(text) == "ETH-BTC"


@pytest.mark.parametrize(
    ("text", "name"),
    [("btcusdt", "BTC-USDT"), ("XRPUSDC", "XRP-USDC"), ("btc-usd", "BTC-USD"), ("dotusdt", "DOT-USDT")],
)
def test_longest_quote_wins(text: str, name: str) -> None:
    assert normalize_instrument(text) == name


@pytest.mark.parametrize("bad", ["", "eth", "btcbtc", "eth-btc-usd", "et h-btc", "usdt"])
def test_bad_instruments_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_instrument(bad)


def test_venue_names_are_kept() -> None:
    inst = parse_instrument("ETH-BTC")
    assert bn.BinanceAdapter(BinanceConfig(), depth=5).symbol(inst) == "ethbtc@depth20@100ms"
    assert bn.BinanceAdapter(BinanceConfig(levels=5, speed="1000ms"), depth=5).symbol(inst) == "ethbtc@depth5"
    assert bn.BinanceDiffAdapter(BinanceDiffConfig(), depth=5).symbol(inst) == "ETHBTC"
    assert bs.BitstampAdapter(BitstampConfig(), depth=5).symbol(inst) == "order_book_ethbtc"
    assert bs.BitstampDiffAdapter(BitstampDiffConfig(), depth=5).symbol(inst) == "ethbtc"
    with pytest.raises(ConfigError):
        bn.BinanceAdapter(BinanceConfig(levels=5), depth=10)  # depth5 carries 5 levels


BINANCE = (
    '{"stream":"ethbtc@depth20@100ms","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}}'
)
BITSTAMP = (
    '{"data":{"timestamp":"1617654351","microtimestamp":"1617654351123456","bids":[["0.035","1.0"]],'
    '"asks":[["0.036","2.0"]]},"channel":"order_book_ethbtc","event":"data"}'
)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_routing_keys(as_bytes: bool) -> None:
    def conv(s: str) -> str | bytes:
        return s.encode() if as_bytes else s

    assert bn.route(conv(BINANCE)) == "ethbtc@depth20@100ms"
    assert bn.last_update_id(conv(BINANCE)) == 160
    assert bs.route(conv(BITSTAMP)) == "order_book_ethbtc"
    assert bs.microtimestamp(conv(BITSTAMP)) == 1617654351123456
    ack = '{"event":"bts:subscription_succeeded","channel":"order_book_ethbtc","data":{}}'
    assert bs.route(conv(ack)) is None  # not a data event: goes to the control handler
    assert bn.route(conv('{"result":null,"id":1}')) is None
    spaced = '{ "stream" : "x@depth5" , "data" : { "lastUpdateId" : 7 } }'
    assert string_field(conv(spaced), "stream") == "x@depth5"
    assert int_field(conv(spaced), "lastUpdateId") == 7


@pytest.mark.parametrize(
    "frame", ['{"lastUpdateId":1.5}', '{"lastUpdateId":"12x"}', '{"lastUpdateId":-1}', '{"lastUpdateId":}', "{}"]
)
def test_int_field_rejects(frame: str) -> None:
    with pytest.raises(ValueError):
        int_field(frame, "lastUpdateId")
    with pytest.raises(ValueError):
        int_field(frame.encode(), "lastUpdateId")


def test_string_field_rejects_escapes_and_non_strings() -> None:
    assert string_field('{"stream":"a\\"b"}', "stream") is None
    assert string_field('{"stream":5}', "stream") is None
    assert string_field('{"stream":"abc', "stream") is None


def test_subscribe_messages_follow_the_documented_shapes() -> None:
    bitstamp = bs.BitstampAdapter(BitstampConfig(), depth=5)
    assert [json.loads(m) for m in bitstamp.subscribe(["order_book_ethbtc"])] == [
        {"event": "bts:subscribe", "data": {"channel": "order_book_ethbtc"}}
    ]
    assert [json.loads(m) for m in bitstamp.unsubscribe(["order_book_ethbtc"])] == [
        {"event": "bts:unsubscribe", "data": {"channel": "order_book_ethbtc"}}
    ]
    binance = bn.BinanceAdapter(BinanceConfig(), depth=5)
    assert binance.subscribe(["ethbtc@depth20@100ms"]) == []  # the streams are in the URL
    assert json.loads(binance.unsubscribe(["ethbtc@depth20@100ms"])[0]) == {
        "method": "UNSUBSCRIBE",
        "params": ["ethbtc@depth20@100ms"],
        "id": 1,
    }


def test_registry_and_feed_builders() -> None:
    assert {"binance", "bitstamp"} <= set(venue_names())
    assert get_venue("Binance").default_base_url.startswith("wss://stream.binance.com")
    with pytest.raises(ConfigError):
        get_venue("nope")
    spec = FeedSpec.build(venue="binance", instruments=["ethbtc", "btc_usdt"], depth=10, base_url="ws://127.0.0.1:9")
    assert spec.instruments == ("ETH-BTC", "BTC-USDT")
    q: KeyedQueue = KeyedQueue(lambda u: u.venue)
    feed = spec.create(q)
    assert feed.client.config.url == "ws://127.0.0.1:9/stream?streams=ethbtc@depth20@100ms/btcusdt@depth20@100ms"
    assert set(feed.keepers) == {"ethbtc@depth20@100ms", "btcusdt@depth20@100ms"}
    assert feed.instruments == ("ETH-BTC", "BTC-USDT") and feed.venue == "binance"
    assert spec.with_depth(5).depth == 5 and spec.depth == 10
    bfeed = FeedSpec.build(venue="bitstamp", instruments="ethbtc", depth=50, base_url="ws://127.0.0.1:9/").create(q)
    assert bfeed.client.config.url == "ws://127.0.0.1:9/"
    assert bfeed.adapter.subscribe(list(bfeed.keepers)) == bs.BitstampAdapter(BitstampConfig(), depth=5).subscribe(
        ["order_book_ethbtc"]
    )
    with pytest.raises(ConfigError):
        FeedSpec.build(venue="binance", instruments="ethbtc", depth=21)
    with pytest.raises(ConfigError):
        FeedSpec.build(venue="binance", instruments=(), depth=5)


def test_pipeline_config_normalises_and_checks() -> None:
    cfg = PipelineConfig(instrument="eth_btc", base_urls={"Binance": "ws://127.0.0.1:1"})
    assert cfg.instrument == "ETH-BTC" and cfg.venues == ("binance", "bitstamp")
    assert dict(cfg.base_urls) == {"binance": "ws://127.0.0.1:1"}
    specs = cfg.feed_specs()
    assert [s.base_url for s in specs] == ["ws://127.0.0.1:1", None]
    with pytest.raises(ConfigError):
        PipelineConfig(instrument="ethbtc", venues=("binance", "kraken-nope"))
    with pytest.raises(ConfigError):
        PipelineConfig(instrument="ethbtc", depth=50)  # binance depth20 carries 20
    with pytest.raises(ConfigError):
        PipelineConfig(instrument="ethbtc", base_urls={"okx": "ws://127.0.0.1:1"})
    with pytest.raises(ConfigError):
        PipelineConfig(instrument="ethbtc", staleness_s=0)
    with pytest.raises(ConfigError):
        PipelineConfig(instrument="ethbtc", staleness={"okx": 1.0})
    per = PipelineConfig(instrument="ethbtc", staleness={"Bitstamp": 30})
    assert per.aggregator_config().staleness_of("bitstamp") == 30.0
    assert per.aggregator_config().staleness_of("binance") == 10.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.depth = 5  # type: ignore[misc]  # frozen
