"""Layer 1: order entry over HTTP -- child orders to one venue, and what the venue answered.

Pieces
------
* :class:`OrderRequest` / :class:`OrderResult` / :class:`Fill` -- a child order as the execution
  engine sends it (the venue's symbol, side, quantity, an optional limit price, always
  immediate-or-cancel or market), and the venue's answer: status, fills, reason.
* :class:`Credentials` -- an API key and secret, read from a file or the environment; their
  ``repr`` shows neither, and nothing in this module puts them in an error, a log line or health.
* :class:`OrderProtocol` -- what a venue's order-entry adapter provides, free of I/O (the venue
  folder's ``orders.py``, named by its :class:`~dragonfly.venues.base.VenueSpec` ``orders``): the
  signed HTTP request of a new order, a status query and a cancel, and how to read the answers.
  :class:`SimOrderProtocol` is the generic JSON protocol every simulator speaks
  (``/sim/v1/order``), for venues without an order adapter of their own.
* :class:`OrderClient` -- does the I/O: one aiohttp session, a timeout per request, bounded bodies;
  a venue that does not answer in time raises :class:`~dragonfly.errors.OrderTimeoutError`, a
  connection failure :class:`~dragonfly.errors.OrderError`; a venue's refusal is an
  :class:`OrderResult` with status ``"rejected"`` and the venue's reason.

Errors are summarised (exception type, HTTP status, host): never the query string (signed requests
carry the signature there), never a header (the API key).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import stat
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

import aiohttp

from ..errors import ConfigError, CredentialsError, OrderError, OrderTimeoutError
from ..instruments import Instrument
from .base import summarize_error, url_with_host

__all__ = (
    "BUY",
    "SELL",
    "Credentials",
    "Fill",
    "HttpCall",
    "HttpReply",
    "OrderClient",
    "OrderEntry",
    "OrderProtocol",
    "OrderRequest",
    "OrderResult",
    "SIM_ORDER_PATH",
    "SimAnswer",
    "SimOrderCall",
    "SimOrderProtocol",
    "decimal_text",
    "new_client_id",
)

log = logging.getLogger(__name__)

BUY = "buy"
SELL = "sell"
#: Path of the simulators' generic order endpoint (POST a new order, DELETE to cancel).
SIM_ORDER_PATH = "/sim/v1/order"
#: Statuses of an :class:`OrderResult`.
STATUSES = ("new", "partially_filled", "filled", "canceled", "expired", "rejected")
_MAX_BODY = 1 << 20


def decimal_text(value: float) -> str:
    """``value`` as plain decimal text, as venues want numbers in requests: the shortest text that
    reads back as the same float, without an exponent (``1e-05`` -> ``"0.00001"``, ``2.0`` -> ``"2"``)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def new_client_id(prefix: str = "df") -> str:
    """A fresh client order id (36 characters at most, letters, digits and ``-``)."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """A child order for one venue.

    Parameters
    ----------
    client_id : str
        Our id of the order at the venue (``newClientOrderId``, ``client_order_id``...).
    symbol : str
        The venue's symbol (``ETHBTC``, ``ethbtc``...).
    side : {"buy", "sell"}
    qty : float
        Base-asset quantity, on the venue's lot grid.
    price : float or None
        Limit price (immediate-or-cancel); None for a market order.
    """

    client_id: str
    symbol: str
    side: str
    qty: float
    price: float | None = None

    def __post_init__(self) -> None:
        if self.side not in (BUY, SELL):
            raise ValueError(f"side must be 'buy' or 'sell', got {self.side!r}")
        if not (isinstance(self.qty, (int, float)) and math.isfinite(self.qty) and self.qty > 0):
            raise ValueError(f"qty must be a positive number, got {self.qty!r}")
        if self.price is not None and not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"price must be a positive number, got {self.price!r}")
        if not self.client_id or not self.symbol:
            raise ValueError("client_id and symbol must not be empty")

    @property
    def qty_text(self) -> str:
        return decimal_text(self.qty)

    @property
    def price_text(self) -> str:
        return "" if self.price is None else decimal_text(self.price)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of a child order: ``qty`` at ``price`` (``fee`` in the asset the venue charged)."""

    price: float
    qty: float
    fee: float = 0.0
    trade_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderResult:
    """What a venue says about a child order.

    Attributes
    ----------
    client_id : str
    venue_order_id : str
        The venue's id ("" when it never accepted the order).
    status : str
        One of ``new`` (accepted, fills not known yet), ``partially_filled``, ``filled``,
        ``canceled``, ``expired`` (an immediate-or-cancel remainder), ``rejected``.
    fills : tuple of Fill
    reason : str
        The venue's reason for a rejection (its error code and message; no request data).
    unknown_order : bool
        The venue does not know the order (a cancel of an order it never accepted).
    """

    client_id: str
    venue_order_id: str = ""
    status: str
    fills: tuple[Fill, ...] = ()
    reason: str = ""
    unknown_order: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def filled_qty(self) -> float:
        return math.fsum(f.qty for f in self.fills)

    @property
    def done(self) -> bool:
        """No more fills can come (filled, cancelled, expired or rejected)."""
        return self.status in ("filled", "canceled", "expired", "rejected")


class Credentials:
    """An API key and its secret, never shown: ``repr`` and ``str`` name only where they came from.

    Parameters
    ----------
    api_key, secret : str
    source : str
        Where they were read (an environment variable prefix, a file path), for messages.
    """

    __slots__ = ("_key", "_secret", "source")

    def __init__(self, api_key: str, secret: str, *, source: str = "") -> None:
        if not isinstance(api_key, str) or not isinstance(secret, str) or not api_key or not secret:
            raise CredentialsError(f"empty API key or secret{f' from {source}' if source else ''}")
        if any(c in api_key + secret for c in "\r\n\x00"):
            raise CredentialsError(f"API key or secret{f' from {source}' if source else ''} holds a line break")
        self._key = api_key
        self._secret = secret
        self.source = source

    @property
    def api_key(self) -> str:
        return self._key

    @property
    def secret(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self._key == other._key and self._secret == other._secret

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        raise TypeError("Credentials are not picklable")

    @classmethod
    def from_env(cls, prefix: str, environ: Mapping[str, str] | None = None) -> Credentials:
        """``<PREFIX>_API_KEY`` and ``<PREFIX>_API_SECRET`` from the environment.

        Raises
        ------
        CredentialsError
            Either variable is missing or empty (the message names the variables only).
        """
        env = os.environ if environ is None else environ
        names = (f"{prefix}_API_KEY", f"{prefix}_API_SECRET")
        key, secret = (env.get(n, "") for n in names)
        if not key or not secret:
            raise CredentialsError(f"set {names[0]} and {names[1]}")
        return cls(key, secret, source=f"${prefix}_API_*")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Credentials:
        """A file of ``api_key=...`` and ``api_secret=...`` lines (``#`` comments), or a JSON object
        with those members. A file others can read is refused.

        Raises
        ------
        CredentialsError
            Unreadable, readable by group or others, or without both values.
        """
        p = Path(path)
        try:
            mode = p.stat().st_mode
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise CredentialsError(f"cannot read credentials file {p}: {exc.strerror or type(exc).__name__}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise CredentialsError(f"credentials file {p} is readable by others: chmod 600 it")
        values: dict[str, str] = {}
        stripped = text.strip()
        if stripped.startswith("{"):
            try:
                obj = json.loads(stripped)
            except ValueError:
                raise CredentialsError(f"credentials file {p} is not valid JSON") from None
            if isinstance(obj, dict):
                values = {str(k): str(v) for k, v in obj.items() if isinstance(v, str)}
        else:
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                k, _, v = line.partition("=")
                values[k.strip().lower()] = v.strip()
        key, secret = values.get("api_key", ""), values.get("api_secret", "")
        if not key or not secret:
            raise CredentialsError(f"credentials file {p} needs api_key and api_secret")
        return cls(key, secret, source=str(p))


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCall:
    """One HTTP request an order protocol asks for (sans-IO).

    ``query`` is the encoded query string without ``?`` ("" for none); ``body`` the encoded body.
    """

    method: str
    path: str
    query: str = ""
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpReply:
    """The answer to an :class:`HttpCall`: status, headers, body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class OrderProtocol(Protocol):
    """A venue's order entry, free of I/O (see the module notes).

    Attributes
    ----------
    name : str
        Label for logs and errors.
    needs_credentials : bool
        Requests are signed: an :class:`OrderClient` refuses to start without credentials.
    taker_fee : float
        The venue's base taker fee rate (0.001 = 0.1 %), the planner's default.
    """

    name: str
    needs_credentials: bool
    taker_fee: float
    #: The answer to a new order has no fills: they are queried (:meth:`query_order`) at once.
    query_after_new: bool

    def symbol(self, instrument: Instrument) -> str:
        """The venue's spelling of ``instrument`` in orders (``ETH-BTC`` -> ``ETHBTC``)."""
        ...

    def new_order(self, order: OrderRequest, creds: Credentials | None, host: str, now_ms: int) -> HttpCall:
        """The request that places ``order`` (``host``: the venue's host[:port], for signatures that cover it)."""
        ...

    def order_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        """The venue's answer to :meth:`new_order` (status ``new`` when fills are to be queried)."""
        ...

    def query_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                    now_ms: int) -> HttpCall:
        """The request of the order's status and fills (by the venue's id when known, else by the client id);
        its answer is read by :meth:`order_result` (``unknown_order`` when the venue never had it)."""
        ...

    def cancel_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                     now_ms: int) -> HttpCall:
        """The request that cancels the order (by the venue's id when known, else by the client id)."""
        ...

    def cancel_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        """The venue's answer to :meth:`cancel_order`."""
        ...


def _json_reply(reply: HttpReply) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


class SimOrderProtocol:
    """The simulators' generic order entry (``POST /sim/v1/order`` with a JSON order, ``DELETE
    /sim/v1/order?client_id=...``), for venues whose folder has no order adapter of its own.

    Request body: ``{"client_id", "symbol", "side", "qty", "price"}`` (numbers as decimal text,
    ``price`` absent for a market order). Answer: ``{"client_id", "order_id", "status", "fills":
    [[price, qty], ...], "reason"}`` with HTTP 200, or a 4xx with ``{"reason"}``.
    """

    name = "sim"
    needs_credentials = False
    taker_fee = 0.0
    query_after_new = False

    def symbol(self, instrument: Instrument) -> str:
        return instrument.name

    def new_order(self, order: OrderRequest, creds: Credentials | None, host: str, now_ms: int) -> HttpCall:
        body: dict[str, str] = {"client_id": order.client_id, "symbol": order.symbol, "side": order.side,
                                "qty": order.qty_text}
        if order.price is not None:
            body["price"] = order.price_text
        return HttpCall(method="POST", path=SIM_ORDER_PATH, body=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json"})

    def order_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        obj = _json_reply(reply)
        if not isinstance(obj, dict):
            raise ValueError("answer is not a JSON object")
        if reply.status != 200:
            return OrderResult(client_id=order.client_id, status="rejected", unknown_order=reply.status == 404,
                               reason=str(obj.get("reason", f"HTTP {reply.status}"))[:200])
        fills = tuple(Fill(float(p), float(q)) for p, q in obj.get("fills", ()))
        return OrderResult(client_id=order.client_id, venue_order_id=str(obj.get("order_id", "")),
                           status=str(obj["status"]), fills=fills, reason=str(obj.get("reason", ""))[:200])

    def query_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                    now_ms: int) -> HttpCall:
        return HttpCall(method="GET", path=SIM_ORDER_PATH, query=f"client_id={order.client_id}")

    def cancel_order(self, order: OrderRequest, venue_order_id: str, creds: Credentials | None, host: str,
                     now_ms: int) -> HttpCall:
        return HttpCall(method="DELETE", path=SIM_ORDER_PATH, query=f"client_id={order.client_id}")

    def cancel_result(self, order: OrderRequest, reply: HttpReply) -> OrderResult:
        return self.order_result(order, reply)

    # -- the simulator's side ---------------------------------------------------------------------
    def sim_parse(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
                  secret_of: Any) -> SimOrderCall | SimAnswer | None:
        """A simulator's reading of a request (``query``: the raw query string): the order call, an
        error answer, or None (not this protocol's path)."""
        if path.rstrip("/") != SIM_ORDER_PATH:
            return None
        if method in ("DELETE", "GET"):
            kind = "cancel" if method == "DELETE" else "query"
            return SimOrderCall(kind=kind, client_id=dict(parse_qsl(query)).get("client_id", ""))
        if method != "POST":
            return 405, json.dumps({"reason": "method not allowed"}), {}
        try:
            obj = json.loads(body)
            price = obj.get("price")
            return SimOrderCall(kind="new", client_id=str(obj["client_id"]), symbol=str(obj["symbol"]),
                                side=str(obj["side"]), qty=float(obj["qty"]),
                                price=None if price is None else float(price))
        except (ValueError, KeyError, TypeError, AttributeError):
            return 400, json.dumps({"reason": "malformed order"}), {}

    def sim_render(self, call: SimOrderCall, result: OrderResult) -> SimAnswer:
        """A simulator's answer carrying ``result``."""
        if result.unknown_order:
            return 404, json.dumps({"reason": result.reason or "unknown order"}), {}
        if result.status == "rejected" and not result.venue_order_id:
            return 400, json.dumps({"reason": result.reason}), {}
        return 200, json.dumps({
            "client_id": result.client_id, "order_id": result.venue_order_id, "status": result.status,
            "fills": [[decimal_text(f.price), decimal_text(f.qty)] for f in result.fills], "reason": result.reason,
        }), {}


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOrderCall:
    """An order-entry request as a simulator reads it (the sim side of an :class:`OrderProtocol`).

    ``kind`` is ``"new"``, ``"query"`` or ``"cancel"``; a cancel or query names the order by
    ``venue_order_id`` or ``client_id``.
    """

    kind: str
    client_id: str = ""
    venue_order_id: str = ""
    symbol: str = ""
    side: str = ""
    qty: float = 0.0
    price: float | None = None


#: A simulator's answer: HTTP status, body text, headers.
SimAnswer = tuple[int, str, Mapping[str, str]]


class OrderEntry(Protocol):
    """What the execution engine sends child orders through (an :class:`OrderClient`, or a test double)."""

    @property
    def name(self) -> str: ...

    async def place(self, order: OrderRequest) -> OrderResult: ...

    async def cancel(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult: ...

    async def query(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult: ...

    async def close(self) -> None: ...


class OrderClient:
    """Child orders to one venue over HTTP, through its :class:`OrderProtocol`.

    Parameters
    ----------
    protocol : OrderProtocol
        The venue's order adapter (or :class:`SimOrderProtocol`).
    base_url : str
        ``https://api.venue.com`` in production, a simulator's ``http://127.0.0.1:PORT`` in tests.
    credentials : Credentials or None
        Required when the protocol signs its requests.
    timeout_s : float
        Bound on one request; past it :class:`~dragonfly.errors.OrderTimeoutError`.
    name : str
        Label (default: the protocol's name).
    session : aiohttp.ClientSession, optional
        Shared session (left open by :meth:`close`).
    """

    def __init__(
        self,
        protocol: OrderProtocol,
        *,
        base_url: str,
        credentials: Credentials | None = None,
        timeout_s: float = 5.0,
        name: str = "",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        u = url_with_host(base_url, ("http", "https")) if isinstance(base_url, str) else None
        if u is None:
            raise ConfigError("order entry base_url must be http://host[:port] or https://...")
        if protocol.needs_credentials and credentials is None:
            raise CredentialsError(f"{name or protocol.name}: order entry needs credentials")
        if not timeout_s > 0:
            raise ConfigError("timeout_s must be > 0")
        self.protocol = protocol
        self.base_url = base_url.rstrip("/")
        self.host = f"{u.host}:{u.port}" if u.explicit_port else str(u.host)
        self._creds = credentials
        self.timeout_s = float(timeout_s)
        self._name = name or protocol.name
        self._session = session
        self._own = session is None
        self.requests = 0
        self.failures = 0

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<OrderClient {self._name} {self.host}>"

    async def _call(self, call: HttpCall, client_id: str) -> HttpReply:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self.base_url + call.path + (f"?{call.query}" if call.query else "")
        self.requests += 1
        what = f"{self._name}: {call.method} {call.path} at {self.host}"
        failure: OrderError | None = None
        reply: HttpReply | None = None
        try:
            async with self._session.request(
                call.method, url, data=call.body or None, headers=dict(call.headers),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), allow_redirects=False,
            ) as resp:
                body = await resp.content.read(_MAX_BODY + 1)
                if len(body) > _MAX_BODY:
                    raise OrderError(f"{what}: answer larger than {_MAX_BODY} bytes", venue=self._name,
                                     client_id=client_id)
                reply = HttpReply(resp.status, dict(resp.headers.items()), body)
        except asyncio.TimeoutError:
            failure = OrderTimeoutError(f"{what}: no answer within {self.timeout_s:g} s", venue=self._name,
                                        client_id=client_id)
        except OrderError as exc:
            failure = exc
        except (aiohttp.ClientError, OSError) as exc:
            failure = OrderError(f"{what} failed: {summarize_error(exc, host=self.host)}", venue=self._name,
                                 client_id=client_id)
        if failure is not None:  # raised outside the handler: aiohttp's exception (URL, headers) is not chained
            self.failures += 1
            raise failure
        assert reply is not None
        return reply

    def _read(self, fn: Any, order: OrderRequest, reply: HttpReply) -> OrderResult:
        if reply.status >= 500:  # the venue's own failure: the order's state there is unknown
            self.failures += 1
            raise OrderTimeoutError(f"{self._name}: HTTP {reply.status} from {self.host}: order state unknown",
                                    venue=self._name, client_id=order.client_id, code=reply.status)
        try:
            result: OrderResult = fn(order, reply)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            self.failures += 1
            raise OrderError(f"{self._name}: unreadable answer (HTTP {reply.status}): {type(exc).__name__}",
                             venue=self._name, client_id=order.client_id, code=reply.status) from None
        return result

    async def place(self, order: OrderRequest) -> OrderResult:
        """Send ``order``; the venue's answer, its fills queried when the answer has none yet.

        Raises
        ------
        OrderTimeoutError
            No answer in time: the order may exist at the venue (cancel it to know).
        OrderError
            The connection failed or the answer cannot be read.
        """
        now = int(time.time() * 1000)
        reply = await self._call(self.protocol.new_order(order, self._creds, self.host, now), order.client_id)
        result = self._read(self.protocol.order_result, order, reply)
        if result.status == "new" and result.venue_order_id and self.protocol.query_after_new:
            queried = await self.query(order, result.venue_order_id)
            if queried.status != "rejected":
                result = queried
        if result.status == "rejected":
            log.info("%s: order %s rejected: %s", self._name, order.client_id, result.reason)
        return result

    async def query(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult:
        """The order's status and fills at the venue (``unknown_order`` when it never had it).

        Raises
        ------
        OrderTimeoutError, OrderError
            As :meth:`place`.
        """
        now = int(time.time() * 1000)
        call = self.protocol.query_order(order, venue_order_id, self._creds, self.host, now)
        reply = await self._call(call, order.client_id)
        return self._read(self.protocol.order_result, order, reply)

    async def cancel(self, order: OrderRequest, venue_order_id: str = "") -> OrderResult:
        """Cancel ``order`` at the venue (by its id when known); the venue's answer.

        Raises
        ------
        OrderTimeoutError, OrderError
            As :meth:`place`.
        """
        now = int(time.time() * 1000)
        call = self.protocol.cancel_order(order, venue_order_id, self._creds, self.host, now)
        reply = await self._call(call, order.client_id)
        return self._read(self.protocol.cancel_result, order, reply)

    async def close(self) -> None:
        """Close the owned session (a shared one stays open). Idempotent."""
        s, self._session = self._session, None
        if s is not None and self._own:
            await s.close()
