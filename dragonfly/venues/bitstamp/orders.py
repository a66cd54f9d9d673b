"""Bitstamp order entry (HTTP API v2), free of I/O.

Orders: ``POST /api/v2/{buy|sell}/market/<pair>/`` (``amount``) or ``POST
/api/v2/{buy|sell}/<pair>/`` (``amount``, ``price``, ``ioc_order=True``), both with
``client_order_id``; the answer is the order (``id``...), whose fills come from ``POST
/api/v2/order_status/`` (``id``: ``status``, ``transactions``, ``amount_remaining``); cancel is ``POST
/api/v2/cancel_order/`` (``id``).

Authentication (Bitstamp's "API authentication", version 2): headers ``X-Auth: BITSTAMP <key>``,
``X-Auth-Signature``, ``X-Auth-Nonce`` (a fresh UUID), ``X-Auth-Timestamp`` (ms), ``X-Auth-Version:
v2`` and, with a body, ``Content-Type``. The signature is the HMAC-SHA256 (hex) keyed with the
secret of ``"BITSTAMP " + key + method + host + path + query + content type + nonce + timestamp +
"v2" + body``, the content type left out of it when there is no body. An error answer is
``{"status": "error", "reason": ..., "code": ...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ...clients.orders import (
    BUY,
    Credentials,
    Fill,
    HttpCall,
    HttpReply,
    OrderRequest,
    OrderResult,
    SimAnswer,
    SimOrderCall,
    decimal_text,
)
from ...instruments import Instrument

__all__ = ("BitstampOrders", "sign", "string_to_sign")

_FORM = "application/x-www-form-urlencoded"
_ORDER_PATH = re.compile(r"^/api/v2/(buy|sell)/(market/)?([a-z0-9]+)/$")
_STATUS_PATH = "/api/v2/order_status/"
_CANCEL_PATH = "/api/v2/cancel_order/"
_TX_KEYS = frozenset({"tid", "price", "fee", "datetime", "type"})


def string_to_sign(*, api_key: str, method: str, host: str, path: str, query: str, content_type: str, nonce: str,
                   timestamp: str, body: str) -> str:
    """What Bitstamp's v2 signature covers (the content type only when there is a body)."""
    return "".join(("BITSTAMP ", api_key, method, host, path, query, content_type if body else "", nonce, timestamp,
                    "v2", body))


def sign(secret: str, message: str) -> str:
    """HMAC-SHA256 of ``message`` keyed with ``secret``, hex."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _amount(tx: Mapping[str, Any], price: float) -> float:
    """The base-asset amount of a transaction: of its two currency members, the one that times the
    price gives the other (Bitstamp names them by currency: ``{"eth": ..., "btc": ...}``)."""
    values = [float(v) for k, v in tx.items() if k not in _TX_KEYS]
    if len(values) == 1:
        return values[0]
    if len(values) != 2:
        raise ValueError("a transaction needs its two currency amounts")
    a, b = values
    return a if abs(a * price - b) <= abs(b * price - a) else b


class BitstampOrders:
    """Bitstamp order entry (see the module notes)."""

    name = "bitstamp"
    needs_credentials = True
    #: Bitstamp's taker fee of the first volume tier (0.40 %).
    taker_fee = 0.004
    query_after_new = True  # the answer to a new order has no fills: order_status has them

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}".lower()

    def __init__(self, *, nonce: Callable[[], str] | None = None) -> None:
        self._nonce = nonce or (lambda: str(uuid.uuid4()))

    def _signed(self, path: str, params: list[tuple[str, str]], creds: Credentials | None, host: str,
                now_ms: int) -> HttpCall:
        if creds is None:
            raise ValueError("Bitstamp order entry needs credentials")
        body = urlencode(params)
        nonce, ts = self._nonce(), str(now_ms)
        message = string_to_sign(api_key=creds.api_key, method="POST", host=host, path=path, query="",
                                 content_type=_FORM, nonce=nonce, timestamp=ts, body=body)
        headers = {
            "X-Auth": f"BITSTAMP {creds.api_key}",
            "X-Auth-Signature": sign(creds.secret, message),
            "X-Auth-Nonce": nonce,
            "X-Auth-Timestamp": ts,
            "X-Auth-Version": "v2",
        }
        if body:
            headers["Content-Type"] = _FORM
        return HttpCall(method="POST", path=path, body=body.encode(), headers=headers)

    @staticmethod
    def order_path(order: OrderRequest) -> str:
        side = "buy" if order.side == BUY else "sell"
        return f"/api/v2/{side}/market/{order.symbol}/" if order.price is None else f"/api/v2/{side}/{order.symbol}/"

    def new_order(self, order: OrderRequest, creds: Credentials | None, host: str, now_ms: int) -> HttpCall:
        params = [("amount", order.qty_text)]
        if order.price is not None:
            params += [("price", order.price_text), ("ioc_order", "True")]
        params.append(("client_order_id", order.client_id))
        return self._signed(self.order_path(order), params, creds, host, now_ms)

    @staticmethod
    def _error(order: OrderRequest, obj: Any, status: int) -> OrderResult | None:
        if status == 200 and isinstance(obj, dict) and obj.get("status") != "error" and "error" not in obj:
            return None
        if isinstance(obj, dict):
            reason = obj.get("reason", obj.get("error", f"HTTP {status}"))
            if isinstance(reason, dict):
                reason = "; ".join(f"{k}: {v}" for k, v in reason.items())
            code = obj.get("code", "")
            text = f"{code} {reason}".strip() if code else str(reason)
        else:
            text = f"HTTP {status}"
        unknown = "not found" in text.lower()
        return OrderResult(client_id=order.client_id, status="rejected", reason=text[:200], unknown_order=unknown)

    def order_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        obj = json.loads(reply.body)
        err = self._error(order, obj, reply.status)
        if err is not None:
            return err
        vid = str(obj["id"])
        if "transactions" not in obj:  # the answer to a new order: fills come from order_status
            return OrderResult(client_id=order.client_id, venue_order_id=vid, status="new")
        fills = []
        for tx in obj["transactions"]:
            price = float(tx["price"])
            fills.append(Fill(price, _amount(tx, price), float(tx.get("fee", 0.0)), str(tx.get("tid", ""))))
        remaining = float(obj.get("amount_remaining", 0.0))
        status = str(obj.get("status", ""))
        if status == "Finished":
            state = "filled" if remaining <= 0 else "expired"
        elif status in ("Canceled", "Cancelled"):
            state = "canceled"
        elif status == "Expired":
            state = "expired"
        else:
            state = "partially_filled" if fills else "new"
        return OrderResult(client_id=order.client_id, venue_order_id=vid, status=state, fills=tuple(fills))

    def query_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                    now_ms: int) -> HttpCall:
        ref = ("id", venue_order_id) if venue_order_id else ("client_order_id", order.client_id)
        return self._signed(_STATUS_PATH, [ref], creds, host, now_ms)

    def cancel_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                     now_ms: int) -> HttpCall:
        ref = ("id", venue_order_id) if venue_order_id else ("client_order_id", order.client_id)
        return self._signed(_CANCEL_PATH, [ref], creds, host, now_ms)

    def cancel_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        obj = json.loads(reply.body)
        err = self._error(order, obj, reply.status)
        if err is not None:
            return err
        return OrderResult(client_id=order.client_id, venue_order_id=str(obj.get("id", "")), status="canceled")

    # -- the simulator's side ---------------------------------------------------------------------
    def sim_parse(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
                  secret_of: Callable[[str], str | None]) -> SimOrderCall | SimAnswer | None:
        """A simulator's reading of a request: checks the key and the v2 signature as Bitstamp does."""
        m = _ORDER_PATH.match(path)
        if m is None and path not in (_STATUS_PATH, _CANCEL_PATH):
            return None
        if method != "POST":
            return _error("API0001", "method not allowed", 405)
        auth = headers.get("X-Auth", "")
        key = auth[9:] if auth.startswith("BITSTAMP ") else ""
        secret = secret_of(key) if key else None
        if secret is None:
            return _error("API0001", "Invalid API key")
        text = body.decode("utf-8", errors="replace")
        message = string_to_sign(api_key=key, method=method, host=headers.get("Host", ""), path=path, query=query,
                                 content_type=headers.get("Content-Type", ""), nonce=headers.get("X-Auth-Nonce", ""),
                                 timestamp=headers.get("X-Auth-Timestamp", ""), body=text)
        if headers.get("X-Auth-Version") != "v2" or not hmac.compare_digest(
            sign(secret, message), headers.get("X-Auth-Signature", "").lower()
        ):
            return _error("API0005", "Invalid signature")
        params = dict(parse_qsl(text))
        if path == _STATUS_PATH:
            return SimOrderCall(kind="query", venue_order_id=params.get("id", ""),
                                client_id=params.get("client_order_id", ""))
        if path == _CANCEL_PATH:
            return SimOrderCall(kind="cancel", venue_order_id=params.get("id", ""),
                                client_id=params.get("client_order_id", ""))
        assert m is not None
        try:
            qty = float(params["amount"])
            price = None if m.group(2) else float(params["price"])
        except (KeyError, ValueError):
            return _error("API0002", "amount (and price) required")
        if not (math.isfinite(qty) and qty > 0):
            return _error("API0002", "Ensure this value is greater than 0")
        return SimOrderCall(kind="new", client_id=params.get("client_order_id", ""), symbol=m.group(3),
                            side=m.group(1), qty=qty, price=price)

    def sim_render(self, call: SimOrderCall, result: OrderResult) -> SimAnswer:
        """A simulator's answer in Bitstamp's format."""
        if result.unknown_order:
            return 404, json.dumps({"error": "Order not found"}), {"Content-Type": "application/json"}
        if result.status == "rejected" and not result.venue_order_id:
            return _error("API0010", result.reason)
        if call.kind == "new":
            obj: dict[str, Any] = {"id": result.venue_order_id, "type": "0" if call.side == BUY else "1",
                                   "amount": decimal_text(call.qty), "client_order_id": result.client_id}
            if call.price is not None:
                obj["price"] = decimal_text(call.price)
        elif call.kind == "cancel":
            obj = {"id": result.venue_order_id}
        else:
            done = result.status in ("filled", "expired", "canceled")
            status = "Canceled" if result.status == "canceled" else "Finished" if done else "Open"
            executed = math.fsum(f.qty for f in result.fills)
            obj = {"id": result.venue_order_id, "status": status, "client_order_id": result.client_id,
                   "amount_remaining": decimal_text(max(0.0, call.qty - executed)) if call.qty else "0",
                   "transactions": [{"tid": f.trade_id or str(i), "price": decimal_text(f.price),
                                     "base": decimal_text(f.qty), "quote": decimal_text(f.qty * f.price),
                                     "fee": decimal_text(f.fee), "type": 2} for i, f in enumerate(result.fills)]}
        return 200, json.dumps(obj), {"Content-Type": "application/json"}


def _error(code: str, reason: str, status: int = 200) -> SimAnswer:
    return status, json.dumps({"status": "error", "reason": reason, "code": code}), {"Content-Type": "application/json"}
