"""Order entry without I/O: the venues' signatures against their documentation's examples, the
requests the adapters build, the simulator's side of each protocol, credentials that never show."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from urllib.parse import parse_qsl

import pytest

from dragonfly.clients.orders import (
    Credentials,
    HttpReply,
    OrderRequest,
    OrderResult,
    SimOrderCall,
    SimOrderProtocol,
    decimal_text,
)
from dragonfly.errors import CredentialsError
from dragonfly.venues import get_venue
from dragonfly.venues.binance.orders import BinanceOrders
from dragonfly.venues.binance.orders import sign as binance_sign
from dragonfly.venues.bitstamp.orders import BitstampOrders, string_to_sign
from dragonfly.venues.bitstamp.orders import sign as bitstamp_sign

# Binance spot REST API, "SIGNED Endpoint Examples for POST /api/v3/order" (rest-api.md)
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_PARAMS = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
              "&timestamp=1499827319559")


def test_binance_signature_matches_the_documented_examples() -> None:
    # example 1 (request body) and 2 (query string) sign the same totalParams
    assert binance_sign(DOC_SECRET, DOC_PARAMS) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    # example 3: query string and body concatenated with no '&' between them
    mixed = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
             + "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
    assert binance_sign(DOC_SECRET, mixed) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def _doc_creds() -> Credentials:
    return Credentials(DOC_KEY, DOC_SECRET, source="docs")


def test_binance_new_order_is_signed_as_the_docs_say() -> None:
    proto = BinanceOrders()
    order = OrderRequest(client_id="c1", symbol="LTCBTC", side="buy", qty=1.0, price=0.1)
    call = proto.new_order(order, _doc_creds(), "api.binance.com", 1499827319559)
    assert call.method == "POST" and call.path == "/api/v3/order" and call.query == ""
    assert call.headers["X-MBX-APIKEY"] == DOC_KEY
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    body = call.body.decode()
    unsigned, _, signature = body.rpartition("&signature=")
    assert unsigned == ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=IOC&quantity=1&price=0.1"
                        "&newClientOrderId=c1&newOrderRespType=FULL&recvWindow=5000&timestamp=1499827319559")
    assert signature == hmac.new(DOC_SECRET.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
    # a market order has no price and no timeInForce
    market = proto.new_order(OrderRequest(client_id="c2", symbol="LTCBTC", side="sell", qty=0.5), _doc_creds(), "",
                             1)
    params = dict(parse_qsl(market.body.decode()))
    assert params["type"] == "MARKET" and "price" not in params and "timeInForce" not in params
    assert params["side"] == "SELL" and params["quantity"] == "0.5"


def test_binance_simulator_side_checks_the_signature() -> None:
    proto = BinanceOrders()
    order = OrderRequest(client_id="c1", symbol="ETHBTC", side="sell", qty=2.5, price=0.05)
    call = proto.new_order(order, _doc_creds(), "127.0.0.1:1", 1000)
    secrets = {DOC_KEY: DOC_SECRET}.get
    parsed = proto.sim_parse("POST", call.path, call.query, call.headers, call.body, secrets)
    assert parsed == SimOrderCall(kind="new", client_id="c1", symbol="ETHBTC", side="sell", qty=2.5, price=0.05)
    tampered = call.body.replace(b"quantity=2.5", b"quantity=25")
    status, body, _ = proto.sim_parse("POST", call.path, call.query, call.headers, tampered, secrets)  # type: ignore[misc]
    assert status == 400 and json.loads(body)["code"] == -1022
    status, body, _ = proto.sim_parse("POST", call.path, call.query, {"X-MBX-APIKEY": "other"}, call.body,  # type: ignore[misc]
                                      secrets)
    assert status == 401 and json.loads(body)["code"] == -2015
    cancel = proto.cancel_order(order, "", _doc_creds(), "", 2000)
    assert cancel.method == "DELETE" and cancel.body == b""
    parsed = proto.sim_parse("DELETE", cancel.path, cancel.query, cancel.headers, b"", secrets)
    assert parsed == SimOrderCall(kind="cancel", client_id="c1", symbol="ETHBTC")


def test_binance_answers_read_back() -> None:
    proto = BinanceOrders()
    order = OrderRequest(client_id="c1", symbol="ETHBTC", side="sell", qty=2.0, price=0.05)
    call = SimOrderCall(kind="new", client_id="c1", symbol="ETHBTC", side="sell", qty=2.0, price=0.05)
    from dragonfly.clients.orders import Fill

    result = OrderResult(client_id="c1", venue_order_id="7", status="expired",
                         fills=(Fill(0.051, 1.25, trade_id="1"), Fill(0.0505, 0.5, trade_id="2")))
    status, text, headers = proto.sim_render(call, result)
    back = proto.order_result(order, HttpReply(status, headers, text.encode()))
    assert back.status == "expired" and back.venue_order_id == "7"
    assert [(f.price, f.qty) for f in back.fills] == [(0.051, 1.25), (0.0505, 0.5)]
    rejected = proto.order_result(order, HttpReply(400, {}, b'{"code": -2010, "msg": "insufficient balance"}'))
    assert rejected.status == "rejected" and rejected.reason == "-2010 insufficient balance"
    unknown = proto.cancel_result(order, HttpReply(400, {}, b'{"code": -2011, "msg": "Unknown order sent."}'))
    assert unknown.unknown_order and unknown.status == "rejected"


def test_bitstamp_string_to_sign_follows_the_documented_construction() -> None:
    # Bitstamp's authentication example: POST www.bitstamp.net/api/v2/user_transactions/ with offset=1
    # (its docs give the construction and the code, not a fixed output: nonce and time vary)
    msg = string_to_sign(api_key="key", method="POST", host="www.bitstamp.net", path="/api/v2/user_transactions/",
                         query="", content_type="application/x-www-form-urlencoded", nonce="n-1", timestamp="1700",
                         body="offset=1")
    assert msg == ("BITSTAMP key" "POST" "www.bitstamp.net" "/api/v2/user_transactions/" ""
                   "application/x-www-form-urlencoded" "n-1" "1700" "v2" "offset=1")
    # without a body the content type is left out of the message
    assert string_to_sign(api_key="k", method="POST", host="h", path="/p/", query="", content_type="x/y",
                          nonce="n", timestamp="1", body="") == "BITSTAMP kPOSTh/p/n1v2"
    assert bitstamp_sign("secret", msg) == hmac.new(b"secret", msg.encode(), hashlib.sha256).hexdigest()


def test_bitstamp_requests_and_simulator_side() -> None:
    proto = BitstampOrders(nonce=lambda: "nonce-1")
    creds = Credentials("key1", "secret1")
    order = OrderRequest(client_id="c9", symbol="ethbtc", side="sell", qty=1.5, price=0.049)
    call = proto.new_order(order, creds, "www.bitstamp.net", 1234)
    assert call.path == "/api/v2/sell/ethbtc/"
    assert dict(parse_qsl(call.body.decode())) == {"amount": "1.5", "price": "0.049", "ioc_order": "True",
                                                   "client_order_id": "c9"}
    h = call.headers
    assert h["X-Auth"] == "BITSTAMP key1" and h["X-Auth-Nonce"] == "nonce-1" and h["X-Auth-Timestamp"] == "1234"
    assert h["X-Auth-Version"] == "v2"
    expected = string_to_sign(api_key="key1", method="POST", host="www.bitstamp.net", path="/api/v2/sell/ethbtc/",
                              query="", content_type="application/x-www-form-urlencoded", nonce="nonce-1",
                              timestamp="1234", body=call.body.decode())
    assert h["X-Auth-Signature"] == bitstamp_sign("secret1", expected)
    market = proto.new_order(OrderRequest(client_id="c8", symbol="ethbtc", side="buy", qty=1.0), creds, "h", 1)
    assert market.path == "/api/v2/buy/market/ethbtc/"
    headers = {**h, "Host": "www.bitstamp.net"}
    secrets = {"key1": "secret1"}.get
    parsed = proto.sim_parse("POST", call.path, "", headers, call.body, secrets)
    assert parsed == SimOrderCall(kind="new", client_id="c9", symbol="ethbtc", side="sell", qty=1.5, price=0.049)
    _status, body, _ = proto.sim_parse("POST", call.path, "", {**headers, "Host": "evil"}, call.body,  # type: ignore[misc]
                                      secrets)
    assert json.loads(body)["code"] == "API0005"


def test_bitstamp_answers_read_back() -> None:
    from dragonfly.clients.orders import Fill

    proto = BitstampOrders()
    order = OrderRequest(client_id="c9", symbol="ethbtc", side="sell", qty=2.0, price=0.049)
    call = SimOrderCall(kind="new", client_id="c9", symbol="ethbtc", side="sell", qty=2.0, price=0.049)
    placed = OrderResult(client_id="c9", venue_order_id="42", status="expired", fills=(Fill(0.05, 1.5),))
    st, text, hd = proto.sim_render(call, placed)
    first = proto.order_result(order, HttpReply(st, hd, text.encode()))
    assert first.status == "new" and first.venue_order_id == "42" and not first.fills
    st, text, hd = proto.sim_render(SimOrderCall(kind="query", client_id="c9", side="sell", qty=2.0), placed)
    queried = proto.order_result(order, HttpReply(st, hd, text.encode()))
    assert queried.status == "expired" and [(f.price, f.qty) for f in queried.fills] == [(0.05, 1.5)]
    real = {"id": "5", "status": "Finished", "amount_remaining": "0",
            "transactions": [{"tid": 1, "price": "0.05", "eth": "2.0", "btc": "0.1", "fee": "0.0004", "type": 2}]}
    done = proto.order_result(order, HttpReply(200, {}, json.dumps(real).encode()))
    assert done.status == "filled" and done.fills[0].qty == 2.0
    body = b'{"status": "error", "reason": {"__all__": ["Minimum order size is 10"]}, "code": "API0012"}'
    err = proto.order_result(order, HttpReply(200, {}, body))
    assert err.status == "rejected" and "Minimum order size" in err.reason


def test_sim_protocol_round_trip() -> None:
    proto = SimOrderProtocol()
    order = OrderRequest(client_id="x", symbol="ETHBTC", side="buy", qty=0.3, price=0.1)
    call = proto.new_order(order, None, "", 0)
    parsed = proto.sim_parse("POST", call.path, call.query, call.headers, call.body, lambda k: None)
    assert parsed == SimOrderCall(kind="new", client_id="x", symbol="ETHBTC", side="buy", qty=0.3, price=0.1)


def test_registry_names_each_venues_order_adapter() -> None:
    assert isinstance(get_venue("binance").order_protocol(), BinanceOrders)
    assert isinstance(get_venue("binance-diff").order_protocol(), BinanceOrders)
    assert isinstance(get_venue("bitstamp").order_protocol(), BitstampOrders)
    assert get_venue("kraken").order_protocol() is None


def test_decimal_text() -> None:
    assert decimal_text(1e-05) == "0.00001"
    assert decimal_text(2.0) == "2"
    assert decimal_text(0.1 + 0.2) == "0.30000000000000004"
    with pytest.raises(ValueError):
        decimal_text(float("nan"))


def test_credentials_never_show(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = Credentials("the-key", "the-secret", source="test")
    assert "the-key" not in repr(creds) and "the-secret" not in str(creds)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(creds)
    monkeypatch.setenv("DFX_API_KEY", "k1")
    monkeypatch.setenv("DFX_API_SECRET", "s1")
    env = Credentials.from_env("DFX")
    assert env.api_key == "k1" and env.secret == "s1" and "s1" not in repr(env)
    with pytest.raises(CredentialsError) as err:
        Credentials.from_env("NOPE_NOT_SET")
    assert "NOPE_NOT_SET_API_KEY" in str(err.value)
    path = tmp_path / "creds"  # type: ignore[operator]
    path.write_text("# binance\napi_key = fk\napi_secret = fs\n")
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError) as err:
        Credentials.from_file(path)
    assert "readable by others" in str(err.value) and "fs" not in str(err.value)
    os.chmod(path, 0o600)
    f = Credentials.from_file(path)
    assert (f.api_key, f.secret) == ("fk", "fs")
    path.write_text(json.dumps({"api_key": "jk", "api_secret": "js"}))
    assert Credentials.from_file(path).secret == "js"
    path.write_text("api_key = only\n")
    with pytest.raises(CredentialsError) as err:
        Credentials.from_file(path)
    assert "only" not in str(err.value)
