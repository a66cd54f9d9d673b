"""Layer 5: a FIX 4.4 market-data server streaming the consolidated book to legacy customers.

A customer logs on with a CompID (and a password, tag 554, when configured);
anyone else is refused with a Logout giving the reason. It sends a
MarketDataRequest (35=V) for an instrument and a depth, and receives a
MarketDataSnapshotFullRefresh (35=W) and then, for SubscriptionRequestType=1,
either MarketDataIncrementalRefresh (35=X, ``265=1``, the default) or a new 35=W
(``265=0``) each time the view changes.

- AggregatedBook (266) ``N`` or absent: the consolidated per-venue levels (the BBO world
  view); each MDEntry carries its venue in MDMkt (275), the FIX 4.4 field of the
  35=W and 35=X entry groups for the market of an entry.
- AggregatedBook ``Y``: the liquidity summed per price across venues (no venue per
  entry), from the instrument's liquidity source.

A request is answered as a whole: it lists at most :data:`MAX_SYMBOLS_PER_REQUEST`
symbols, and an unknown or repeated symbol, an unsupported depth, request type,
update type or AggregatedBook, or a subscription beyond the customer's limit gets
one MarketDataRequestReject (35=Y) for the request and nothing else, so one message
never produces more than one reply per symbol it may list. A request missing MDReqID
or with a malformed value gets a Reject (35=3).

Each subscription reads its own ``Broadcast.subscribe(maxsize=1)`` slot and
waits for the socket to drain before the next message, so a slow customer is
conflated (it receives the newest view; skipped views are counted) and never
slows the aggregator or other customers; the server never queues without bound.

Order entry: built with an execution engine (``execution=``), the same server, on the same port and
session, also takes NewOrderSingle (35=D) and OrderCancelRequest (35=F) and answers with
ExecutionReports (35=8) and OrderCancelReject (35=9): the founding document's "liquidate big order"
from a legacy customer. That is :class:`~dragonfly.services.execution.fix.FixOrderEntry`, the one
implementation of FIX order entry, mounted here (the order-only server mounts the same). Without an
engine, 35=D and 35=F are not supported (Reject, 35=3). The engine is not the server's to start or
stop; :meth:`FixServer.stop` cancels the working orders (their final reports reach the customers)
before it logs them out.

The same server can run beside gRPC over the same pipelines:
:class:`~dragonfly.services.host.ServiceHost` runs both. The
``dragonfly-fix-server`` command is :func:`dragonfly.cli.fix_server_main`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from .._core.fix import FixMessage
from ..clients.fix import FixAcceptor, FixSession
from ..errors import BindError, ConfigError, FixParseError, FixSessionError
from ..instruments import instrument_key
from ..model import LiquidityView, WorldView
from ..queues import Broadcast, Subscription

if TYPE_CHECKING:
    from .base import HostedPipeline
    from .execution.engine import ExecutionEngine
    from .execution.fix import FixOrderEntry

__all__ = ("DEFAULT_FIX_PORT", "FixServer", "FixServerConfig", "FixServerStats")

log = logging.getLogger(__name__)

DEFAULT_FIX_PORT = 9880
#: Most subscriptions one customer may hold at once.
MAX_SUBSCRIPTIONS = 64
#: Most symbols (NoRelatedSym entries) one MarketDataRequest may list.
MAX_SYMBOLS_PER_REQUEST = 16

#: Entry group key: (MDEntryType, price, venue); venue "" for summed liquidity (no MDMkt).
_Key = tuple[str, float, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class FixServerConfig:
    """The FIX server.

    Parameters
    ----------
    host, port : str, int
        Where to listen (port 0 picks a free one; read :attr:`FixServer.port`).
    comp_id : str
        Our CompID (customers send it as TargetCompID, 56).
    customers : Mapping[str, str or None]
        Allowed customer CompIDs and their password (None: no password).
    store_dir : str or None
        Directory of per-customer sequence files (restart resumes sessions);
        None keeps them in memory.
    max_depth : int
        Largest MarketDepth served; 264=0 (full book) means this.
    ssl : ssl.SSLContext or None
        TLS server context.
    max_msg_size : int
        Largest incoming message; larger ones disconnect the customer.
    logon_timeout_s : float
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_FIX_PORT
    comp_id: str = "DRAGONFLY"
    customers: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    store_dir: str | None = None
    max_depth: int = 50
    ssl: _ssl.SSLContext | None = None
    max_msg_size: int = 16384
    logon_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.comp_id, str) or not self.comp_id or "\x01" in self.comp_id:
            raise ConfigError(f"comp_id must be a non-empty string, got {self.comp_id!r}")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port < 65536:
            raise ConfigError(f"port must be within 0..65535, got {self.port!r}")
        customers = dict(self.customers)
        for comp, pw in customers.items():
            if not isinstance(comp, str) or not comp or "\x01" in comp or "=" in comp:
                raise ConfigError(f"bad customer CompID {comp!r}")
            if pw is not None and (not isinstance(pw, str) or not pw or "\x01" in pw):
                raise ConfigError(f"bad password for customer {comp!r}")
        object.__setattr__(self, "customers", MappingProxyType(customers))
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ConfigError("max_depth must be a positive int")
        if self.ssl is not None and not isinstance(self.ssl, _ssl.SSLContext):
            raise TypeError("ssl must be an SSLContext or None")
        if not isinstance(self.max_msg_size, int) or self.max_msg_size < 256:
            raise ConfigError("max_msg_size must be an int >= 256")
        if not self.logon_timeout_s > 0:
            raise ConfigError("logon_timeout_s must be > 0")

    @classmethod
    def build(cls, *, customers: Mapping[str, str | None], **kwargs: Any) -> FixServerConfig:
        """Keyword-only builder; checks every argument eagerly."""
        return cls(customers=customers, **kwargs)


@dataclass(slots=True)
class FixServerStats:
    """Counters of the server (mutable)."""

    logons: int = 0
    sessions_ended: int = 0
    requests: int = 0
    request_rejects: int = 0  #: 35=Y sent
    snapshots: int = 0  #: 35=W sent
    incrementals: int = 0  #: 35=X sent
    conflated: int = 0  #: views a slow customer skipped
    orders: int = 0  #: 35=D and 35=F handed to the order entry


class _Subscription:
    __slots__ = ("aggregated", "depth", "incremental", "instrument", "req_id", "sent", "symbol", "task")

    def __init__(
        self, req_id: str, symbol: str, instrument: str, depth: int, incremental: bool, aggregated: bool
    ) -> None:
        self.req_id = req_id
        self.symbol = symbol
        self.instrument = instrument
        self.depth = depth
        self.incremental = incremental
        self.aggregated = aggregated
        self.task: asyncio.Task[None] | None = None
        # (side, price, venue) -> size, as last sent
        self.sent: dict[_Key, float] = {}


def _levels(view: WorldView, depth: int) -> dict[_Key, float]:
    out: dict[_Key, float] = {}
    for venue, price, qty in view.bids[:depth]:
        out[("0", price, venue)] = qty
    for venue, price, qty in view.asks[:depth]:
        out[("1", price, venue)] = qty
    return out


def _liquidity_levels(view: LiquidityView, depth: int) -> dict[_Key, float]:
    out: dict[_Key, float] = {}
    for price, total, _ in view.bids[:depth]:
        out[("0", price, "")] = total
    for price, total, _ in view.asks[:depth]:
        out[("1", price, "")] = total
    return out


def _entry(side: str, price: float, qty: float, venue: str) -> list[tuple[int, object]]:
    """One MDEntry's 269/270/271 and, for a per-venue level, MDMkt (275)."""
    if venue:
        return [(269, side), (270, price), (271, qty), (275, venue)]
    return [(269, side), (270, price), (271, qty)]


class FixServer(FixAcceptor):
    """Serve world views and summed liquidity over FIX 4.4 (see the module docstring).

    Parameters
    ----------
    views : Mapping[str, Broadcast[WorldView]]
        Instrument (normalised, e.g. ``"ETH-BTC"``) -> its world-view broadcast
        (``Pipeline.views``), streamed for AggregatedBook (266) = N or absent.
        Customers may spell the symbol ``ETH-BTC``, ``ETHBTC``, ``eth/btc``...
    config : FixServerConfig
    liquidity : Mapping[str, Broadcast[LiquidityView]] or None
        Instrument -> its summed-liquidity broadcast (``Pipeline.liquidity``, or a liquidity
        aggregator's), streamed for 266=Y. An instrument without one answers 266=Y with a
        35=Y (281=7), and one without views answers 266=N the same way.
    execution : ExecutionEngine or None
        Take orders (35=D, 35=F) for this engine on the same sessions (see the module notes); None:
        market data only.

    Attributes
    ----------
    orders : FixOrderEntry or None
        The mounted order entry (with ``execution``).
    """

    #: How :class:`~dragonfly.services.host.ServiceHost` names this server in messages and addresses.
    name: ClassVar[str] = "FIX"

    def __init__(
        self,
        views: Mapping[str, Broadcast[WorldView]],
        config: FixServerConfig,
        *,
        liquidity: Mapping[str, Broadcast[LiquidityView]] | None = None,
        execution: ExecutionEngine | None = None,
    ) -> None:
        if not isinstance(config, FixServerConfig):
            raise TypeError("config must be a FixServerConfig")
        if not views and not liquidity:
            raise ConfigError("at least one instrument is required")
        super().__init__(
            host=config.host, port=config.port, ssl=config.ssl, comp_id=config.comp_id, counterparties=config.customers,
            store_dir=config.store_dir, max_msg_size=config.max_msg_size, logon_timeout_s=config.logon_timeout_s,
            label="fix-server",
        )
        self.config = config
        self.views = dict(views)
        self.liquidity = dict(liquidity or {})
        self._by_key = {instrument_key(k): k for k in (*self.views, *self.liquidity)}
        self.stats = FixServerStats()
        self._subs: dict[str, dict[str, _Subscription]] = {}
        #: ``hook(instrument, ns)`` after each message written, ns since its view's publication (set by a
        #: :class:`~dragonfly.services.metrics.MetricsServer`; None: nothing measured).
        self.write_latency: Callable[[str, int], None] | None = None
        self.orders: FixOrderEntry | None = None
        if execution is not None:
            from .execution.fix import FixOrderEntry

            self.orders = FixOrderEntry(execution, self.sessions, label="fix-server")
        self._supported = ("MarketDataRequest, NewOrderSingle, OrderCancelRequest" if self.orders is not None
                           else "only MarketDataRequest")

    @classmethod
    def for_pipelines(cls, pipelines: Sequence[HostedPipeline], config: FixServerConfig, *,
                      execution: ExecutionEngine | None = None) -> FixServer:
        """Serve the world views (266=N) and summed liquidity (266=Y) of pipelines (running or about to
        run), one per instrument, and with ``execution`` take orders for it."""
        return cls({p.config.instrument: p.views for p in pipelines}, config,
                   liquidity={p.config.instrument: p.liquidity for p in pipelines}, execution=execution)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def start(self) -> None:
        """Bind and listen.

        Raises
        ------
        BindError
            The address cannot be bound (port in use, unknown host, ...).
        """
        if self._server is None:
            cfg = self.config
            try:
                await self._listen()
            except OSError as exc:
                raise BindError(
                    f"cannot listen on {cfg.host}:{cfg.port} for {self.name}: {exc.strerror or exc}",
                    service=self.name, host=cfg.host, port=cfg.port,
                ) from None
            log.info("FIX server %s listening on %s", self.config.comp_id, self.address)

    async def stop(self) -> None:
        """Cancel the working orders (with an engine: their final reports go out first), log every customer
        out (bounded wait), stop listening, close the stores."""
        if self.orders is not None and self._server is not None:
            await self.orders.close("server shutting down")
        await self._shutdown("server shutting down")

    def subscriptions_of(self, comp_id: str) -> int:
        """How many subscriptions (263=1) the customer ``comp_id`` holds now."""
        return len(self._subs.get(comp_id, {}))

    # -- sessions ------------------------------------------------------------------------------
    def _logged_on(self, session: FixSession) -> None:
        self._subs[session.config.target_comp_id] = {}
        self.stats.logons += 1

    def _logged_off(self, session: FixSession) -> None:
        their = session.config.target_comp_id
        for sub in self._subs.pop(their, {}).values():
            if sub.task is not None:
                sub.task.cancel()
        self.stats.sessions_ended += 1
        log.info("fix-server: %s session ended: %s", their, session.closed_reason)

    def _reject_request(self, session: FixSession, req_id: str, code: str, text: str) -> None:
        self.stats.request_rejects += 1
        log.info("fix-server: %s: MarketDataRequest %s rejected: %s", session.config.target_comp_id, req_id, text)
        session.send_nowait("Y", [(262, req_id), (281, code), (58, text)])

    def _on_app(self, session: FixSession, msg: FixMessage) -> None:
        if msg.msg_type != "V":
            if self.orders is not None and msg.msg_type in self.orders.msg_types:
                self.stats.orders += 1
                self.orders.handle(session, msg)
                return
            session.reject(msg, 11, f"MsgType {msg.msg_type} is not supported ({self._supported})", 35)
            return
        self.stats.requests += 1
        their = session.config.target_comp_id
        subs = self._subs.setdefault(their, {})
        req_id = msg.get_str(262)
        if not req_id:
            session.reject(msg, 1, "MDReqID (262) missing", 262)
            return
        try:
            kind = msg.get_int(263)
            depth = msg.get_int(264, 0)
            update = msg.get_int(265, 1)
        except FixParseError as exc:
            session.reject(msg, 6, f"incorrect value: {exc}", exc.tag)
            return
        aggregated = msg.get(266, b"N")
        if aggregated not in (b"Y", b"N"):
            session.reject(msg, 5, "AggregatedBook (266) must be Y or N", 266)
            return
        if kind is None:
            session.reject(msg, 1, "SubscriptionRequestType (263) missing", 263)
            return
        if kind == 2:
            for key in [k for k in subs if k.startswith(req_id + "\x00")]:
                sub = subs.pop(key)
                if sub.task is not None:
                    sub.task.cancel()
            return
        if kind not in (0, 1):
            self._reject_request(session, req_id, "4", f"SubscriptionRequestType {kind} is not supported")
            return
        if depth is None or depth > self.config.max_depth:
            self._reject_request(session, req_id, "5", f"MarketDepth {depth} is above {self.config.max_depth}")
            return
        if update not in (0, 1):
            self._reject_request(session, req_id, "6", f"MDUpdateType {update} is not supported")
            return
        planned = self._plan(session, req_id, msg.get_all(55), kind == 1, aggregated == b"Y", subs)
        if planned is None:
            return
        for symbol, inst in planned:
            sub = _Subscription(req_id, symbol, inst, depth or self.config.max_depth, update == 1, aggregated == b"Y")
            if kind == 0:
                self._send_snapshot(session, sub)
                continue
            subs[f"{req_id}\x00{symbol}"] = sub
            sub.task = asyncio.get_running_loop().create_task(self._stream(session, sub),
                                                              name=f"fix-sub:{their}:{req_id}")

    def _plan(
        self, session: FixSession, req_id: str, raw_symbols: list[bytes], subscribe: bool, aggregated: bool,
        subs: Mapping[str, _Subscription],
    ) -> list[tuple[str, str]] | None:
        """``(symbol, instrument)`` for every symbol of a request, or None after one 35=Y for the whole
        request (the work is bounded by :data:`MAX_SYMBOLS_PER_REQUEST`)."""
        if not raw_symbols:
            self._reject_request(session, req_id, "0", "no Symbol (55) in the request")
            return None
        if len(raw_symbols) > MAX_SYMBOLS_PER_REQUEST:
            self._reject_request(session, req_id, "2", f"{len(raw_symbols)} symbols in one request; "
                                 f"at most {MAX_SYMBOLS_PER_REQUEST}")
            return None
        sources = self.liquidity if aggregated else self.views
        planned: list[tuple[str, str]] = []
        seen: set[str] = set()
        for raw in raw_symbols:
            symbol = raw.decode("latin-1")
            inst = self._by_key.get(instrument_key(symbol))
            if inst is None:
                self._reject_request(session, req_id, "0", f"unknown symbol {symbol[:32]}")
                return None
            if inst in seen:
                self._reject_request(session, req_id, "0", f"symbol {symbol[:32]} is listed twice")
                return None
            seen.add(inst)
            if inst not in sources:
                what = "summed liquidity (266=Y)" if aggregated else "the per-venue book (266=N)"
                self._reject_request(session, req_id, "7", f"{what} is not served for {symbol[:32]}")
                return None
            if subscribe and f"{req_id}\x00{symbol}" in subs:
                self._reject_request(session, req_id, "1", f"duplicate MDReqID {req_id} for {symbol[:32]}")
                return None
            planned.append((symbol, inst))
        if subscribe and len(subs) + len(planned) > MAX_SUBSCRIPTIONS:
            self._reject_request(session, req_id, "2", f"more than {MAX_SUBSCRIPTIONS} subscriptions")
            return None
        return planned

    # -- streaming -----------------------------------------------------------------------------
    def _source(self, sub: _Subscription) -> Broadcast[WorldView] | Broadcast[LiquidityView]:
        return self.liquidity[sub.instrument] if sub.aggregated else self.views[sub.instrument]

    def _send_snapshot(self, session: FixSession, sub: _Subscription) -> None:
        """263=0: one 35=W of the current state (subscribing makes a lazy liquidity source publish it)."""
        source = self._source(sub)
        with source.subscribe(maxsize=1):
            latest = source.latest
        if latest is None:
            self._reject_request(session, sub.req_id, "0", f"no book yet for {sub.symbol[:32]}")
        else:
            self._send_full(session, sub, latest)

    def _entries(self, sub: _Subscription, view: WorldView | LiquidityView) -> dict[_Key, float]:
        if isinstance(view, LiquidityView):
            return _liquidity_levels(view, sub.depth)
        return _levels(view, sub.depth)

    def _send_full(self, session: FixSession, sub: _Subscription, view: WorldView | LiquidityView) -> None:
        levels = self._entries(sub, view)
        fields: list[tuple[int, object]] = [(262, sub.req_id), (55, sub.symbol), (268, len(levels))]
        for (side, price, venue), qty in levels.items():
            fields += _entry(side, price, qty, venue)
        session.send_nowait("W", fields)
        sub.sent = levels
        self.stats.snapshots += 1

    def _send_incremental(self, session: FixSession, sub: _Subscription, view: WorldView | LiquidityView) -> None:
        new = self._entries(sub, view)
        old = sub.sent
        entries: list[tuple[int, object]] = []
        n = 0
        sym = sub.symbol
        for key, qty in old.items():
            if key not in new:
                side, price, venue = key
                entries += [(279, "2"), (269, side), (55, sym), (270, price), (271, qty)]
                if venue:
                    entries.append((275, venue))
                n += 1
        for key, qty in new.items():
            prev = old.get(key)
            if prev is None or prev != qty:
                side, price, venue = key
                entries += [(279, "0" if prev is None else "1"), (269, side), (55, sym), (270, price), (271, qty)]
                if venue:
                    entries.append((275, venue))
                n += 1
        sub.sent = new
        if n:
            session.send_nowait("X", [(262, sub.req_id), (268, n), *entries])
            self.stats.incrementals += 1

    async def _stream(self, session: FixSession, sub: _Subscription) -> None:
        stream: Subscription[WorldView] | Subscription[LiquidityView] = self._source(sub).subscribe(maxsize=1)
        first = True
        try:
            skipped = 0
            async for view in stream:
                if session.closed:
                    return
                observe, sent = self.write_latency, self.stats.snapshots + self.stats.incrementals
                if first or not sub.incremental:
                    self._send_full(session, sub, view)
                    first = False
                else:
                    self._send_incremental(session, sub, view)
                if stream.skipped != skipped:
                    self.stats.conflated += stream.skipped - skipped
                    skipped = stream.skipped
                await session.drain()  # a slow customer waits here; its slot conflates meanwhile
                if observe is not None and self.stats.snapshots + self.stats.incrementals != sent:
                    observe(view.instrument, time.time_ns() - view.publish_ts_ns)
        except (ConnectionError, OSError, FixSessionError) as exc:
            log.info("fix-server: %s stream %s ended: %r", session.config.target_comp_id, sub.req_id, exc)
        finally:
            stream.close()
