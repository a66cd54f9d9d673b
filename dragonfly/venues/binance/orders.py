"""Binance spot order entry (``POST /api/v3/order``, ``DELETE /api/v3/order``), free of I/O.

Signed requests (Binance's "SIGNED (TRADE and USER_DATA) Endpoint security"): the parameters go
in the request body (``application/x-www-form-urlencoded``) with ``timestamp`` and
``recvWindow``; ``signature`` is the HMAC-SHA256 (hex) of the query string concatenated with the
body, keyed with the secret; the API key travels in the ``X-MBX-APIKEY`` header. A new order is
``LIMIT`` with ``timeInForce=IOC`` (or ``MARKET``), ``newOrderRespType=FULL`` so that the answer
lists the fills. A 4xx answer is a rejection (``{"code", "msg"}``); a 5xx means the order's state
is unknown (the client raises :class:`~dragonfly.errors.OrderTimeoutError`).

:class:`BinanceOrders` also has the simulator's side (``sim_parse``/``sim_render``): the
simulator checks the signature with the secret of the key and answers in Binance's format.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
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

__all__ = ("BinanceOrders", "sign")

ORDER_PATH = "/api/v3/order"
RECV_WINDOW_MS = 5000
_FORM = "application/x-www-form-urlencoded"
_STATUS = {
    "NEW": "new",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "PENDING_CANCEL": "canceled",
    "REJECTED": "rejected",
    "EXPIRED": "expired",
    "EXPIRED_IN_MATCH": "expired",
}
_STATUS_OUT = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED", "canceled": "CANCELED",
               "expired": "EXPIRED", "rejected": "REJECTED"}
#: Binance's "Unknown order sent." (cancel of an order it does not have).
UNKNOWN_ORDER = -2011
#: Binance's "Order does not exist." (query of an order it does not have).
NO_SUCH_ORDER = -2013


def sign(secret: str, total_params: str) -> str:
    """HMAC-SHA256 of ``total_params`` (query string + body) keyed with ``secret``, lower-case hex."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def _rejected(order: OrderRequest, obj: Any, status: int) -> OrderResult:
    if isinstance(obj, dict) and "code" in obj:
        code = obj.get("code")
        reason = f"{code} {obj.get('msg', '')}".strip()
    else:
        code, reason = None, f"HTTP {status}"
    return OrderResult(client_id=order.client_id, status="rejected", reason=reason[:200],
                       unknown_order=code in (UNKNOWN_ORDER, NO_SUCH_ORDER))


class BinanceOrders:
    """Binance spot order entry (see the module notes).

    Parameters
    ----------
    recv_window_ms : int
        ``recvWindow`` sent with every signed request.
    """

    name = "binance"
    needs_credentials = True
    #: Binance's base spot taker fee (0.1 %).
    taker_fee = 0.001
    query_after_new = False  # newOrderRespType=FULL: the answer lists the fills

    def __init__(self, *, recv_window_ms: int = RECV_WINDOW_MS) -> None:
        if not 0 < recv_window_ms <= 60000:
            raise ValueError("recv_window_ms must be within 1..60000")
        self.recv_window_ms = recv_window_ms

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}{instrument.quote}".upper()

    def _signed(self, method: str, params: list[tuple[str, str]], creds: Credentials | None, now_ms: int,
                in_body: bool) -> HttpCall:
        if creds is None:
            raise ValueError("Binance order entry needs credentials")
        params = [*params, ("recvWindow", str(self.recv_window_ms)), ("timestamp", str(now_ms))]
        text = urlencode(params)
        signed = f"{text}&signature={sign(creds.secret, text)}"
        headers = {"X-MBX-APIKEY": creds.api_key}
        if in_body:
            headers["Content-Type"] = _FORM
            return HttpCall(method=method, path=ORDER_PATH, body=signed.encode(), headers=headers)
        return HttpCall(method=method, path=ORDER_PATH, query=signed, headers=headers)

    def order_params(self, order: OrderRequest) -> list[tuple[str, str]]:
        """The new-order parameters before ``recvWindow``, ``timestamp`` and ``signature``."""
        params = [("symbol", order.symbol), ("side", "BUY" if order.side == BUY else "SELL")]
        if order.price is None:
            params += [("type", "MARKET"), ("quantity", order.qty_text)]
        else:
            params += [("type", "LIMIT"), ("timeInForce", "IOC"), ("quantity", order.qty_text),
                       ("price", order.price_text)]
        return [*params, ("newClientOrderId", order.client_id), ("newOrderRespType", "FULL")]

    def new_order(self, order: OrderRequest, creds: Credentials | None, host: str, now_ms: int) -> HttpCall:
        return self._signed("POST", self.order_params(order), creds, now_ms, in_body=True)

    def order_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        obj = json.loads(reply.body)
        if reply.status != 200:
            return _rejected(order, obj, reply.status)
        if "fills" in obj:
            fills = tuple(
                Fill(float(f["price"]), float(f["qty"]), float(f.get("commission", 0.0)), str(f.get("tradeId", "")))
                for f in obj["fills"]
            )
        else:  # a query's answer: the executed quantity and its quote amount
            executed = float(obj.get("executedQty", 0.0))
            quote = float(obj.get("cummulativeQuoteQty", 0.0))
            fills = (Fill(quote / executed, executed),) if executed > 0 else ()
        return OrderResult(client_id=str(obj.get("clientOrderId", order.client_id)),
                           venue_order_id=str(obj["orderId"]), status=_STATUS[obj["status"]], fills=fills)

    def query_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                    now_ms: int) -> HttpCall:
        ref = ("orderId", venue_order_id) if venue_order_id else ("origClientOrderId", order.client_id)
        return self._signed("GET", [("symbol", order.symbol), ref], creds, now_ms, in_body=False)

    def cancel_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                     now_ms: int) -> HttpCall:
        ref = ("orderId", venue_order_id) if venue_order_id else ("origClientOrderId", order.client_id)
        return self._signed("DELETE", [("symbol", order.symbol), ref], creds, now_ms, in_body=False)

    def cancel_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        obj = json.loads(reply.body)
        if reply.status != 200:
            return _rejected(order, obj, reply.status)
        executed = float(obj.get("executedQty", 0.0))
        quote = float(obj.get("cummulativeQuoteQty", 0.0))
        fills = (Fill(quote / executed, executed),) if executed > 0 else ()
        return OrderResult(client_id=order.client_id, venue_order_id=str(obj.get("orderId", "")),
                           status=_STATUS.get(obj.get("status", "CANCELED"), "canceled"), fills=fills)

    # -- the simulator's side ---------------------------------------------------------------------
    def sim_parse(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
                  secret_of: Callable[[str], str | None]) -> SimOrderCall | SimAnswer | None:
        """A simulator's reading of a request: checks the API key and the signature as Binance does."""
        if path != ORDER_PATH:
            return None
        raw_query = query
        text = body.decode("utf-8", errors="replace")
        secret = secret_of(headers.get("X-MBX-APIKEY", ""))
        if secret is None:
            return _error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        total = raw_query + text
        params = dict(parse_qsl(raw_query)) | dict(parse_qsl(text))
        given = params.pop("signature", "")
        unsigned = total.replace(f"&signature={given}", "").replace(f"signature={given}", "")
        if not given or not hmac.compare_digest(sign(secret, unsigned), given.lower()):
            return _error(400, -1022, "Signature for this request is not valid.")
        if "timestamp" not in params:
            return _error(400, -1102, "Mandatory parameter 'timestamp' was not sent.")
        if method == "GET":
            return SimOrderCall(kind="query", client_id=params.get("origClientOrderId", ""),
                                venue_order_id=params.get("orderId", ""), symbol=params.get("symbol", ""))
        if method == "DELETE":
            return SimOrderCall(kind="cancel", client_id=params.get("origClientOrderId", ""),
                                venue_order_id=params.get("orderId", ""), symbol=params.get("symbol", ""))
        if method != "POST":
            return _error(405, -1000, "Method not allowed.")
        try:
            qty = float(params["quantity"])
            price = float(params["price"]) if params.get("type") == "LIMIT" else None
            side = params["side"]
        except (KeyError, ValueError):
            return _error(400, -1102, "A mandatory parameter was not sent or is malformed.")
        if side not in ("BUY", "SELL") or not (math.isfinite(qty) and qty > 0):
            return _error(400, -1100, "Illegal characters found in a parameter.")
        return SimOrderCall(kind="new", client_id=params.get("newClientOrderId", ""), symbol=params.get("symbol", ""),
                            side="buy" if side == "BUY" else "sell", qty=qty, price=price)

    def sim_render(self, call: SimOrderCall, result: OrderResult) -> SimAnswer:
        """A simulator's answer in Binance's format."""
        if result.unknown_order:
            if call.kind == "query":
                return _error(400, NO_SUCH_ORDER, "Order does not exist.")
            return _error(400, UNKNOWN_ORDER, "Unknown order sent.")
        if result.status == "rejected" and not result.venue_order_id:
            code, _, msg = result.reason.partition(" ")
            return _error(400, int(code) if code.lstrip("-").isdigit() else -2010, msg or result.reason)
        executed = math.fsum(f.qty for f in result.fills)
        quote = math.fsum(f.qty * f.price for f in result.fills)
        obj: dict[str, Any] = {
            "symbol": call.symbol, "orderId": int(result.venue_order_id), "clientOrderId": result.client_id,
            "origQty": decimal_text(call.qty) if call.qty else decimal_text(executed),
            "executedQty": decimal_text(executed), "cummulativeQuoteQty": decimal_text(quote),
            "status": _STATUS_OUT[result.status],
        }
        if call.kind == "new":
            obj |= {
                "price": decimal_text(call.price) if call.price is not None else "0",
                "type": "MARKET" if call.price is None else "LIMIT", "timeInForce": "IOC",
                "side": "BUY" if call.side == BUY else "SELL",
                "fills": [{"price": decimal_text(f.price), "qty": decimal_text(f.qty), "commission": "0",
                           "commissionAsset": "BNB", "tradeId": int(f.trade_id or 0)} for f in result.fills],
            }
        return 200, json.dumps(obj), {"Content-Type": "application/json"}


def _error(status: int, code: int, msg: str) -> SimAnswer:
    return status, json.dumps({"code": code, "msg": msg}), {"Content-Type": "application/json"}
