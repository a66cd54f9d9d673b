"""Layer 5: a FIX 4.4 market-data server streaming the consolidated book to legacy customers.

A customer logs on with a CompID (and a password, tag 554, when configured);
anyone else is refused with a Logout giving the reason. It sends a
MarketDataRequest (35=V) for an instrument and a depth, and receives a
MarketDataSnapshotFullRefresh (35=W) and then, for SubscriptionRequestType=1,
either MarketDataIncrementalRefresh (35=X, ``265=1``, the default) or a new 35=W
(``265=0``) each time the world view changes. Each MDEntry carries its venue in
LastMkt (30). An unknown instrument, an unsupported depth or request type get a
MarketDataRequestReject (35=Y); a request missing MDReqID gets a Reject (35=3).

Each subscription reads its own ``Broadcast.subscribe(maxsize=1)`` slot and
waits for the socket to drain before the next message, so a slow customer is
conflated (it receives the newest view; skipped views are counted) and never
slows the aggregator or other customers; the server never queues without bound.

The same server can run beside gRPC over the same pipelines:
:class:`~dragonfly.services.host.ServiceHost` runs both. The
``dragonfly-fix-server`` command is :func:`dragonfly.cli.fix_server_main`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from .._core.fix import FixMessage
from ..clients.fix import FixAcceptor, FixSession
from ..errors import BindError, ConfigError, FixParseError, FixSessionError
from ..instruments import instrument_key
from ..model import WorldView
from ..queues import Broadcast

if TYPE_CHECKING:
    from .base import HostedPipeline

__all__ = ("DEFAULT_FIX_PORT", "FixServer", "FixServerConfig", "FixServerStats")

log = logging.getLogger(__name__)

DEFAULT_FIX_PORT = 9880
#: Most subscriptions one customer may hold at once.
MAX_SUBSCRIPTIONS = 64


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


class _Subscription:
    __slots__ = ("depth", "incremental", "instrument", "req_id", "sent", "symbol", "task")

    def __init__(self, req_id: str, symbol: str, instrument: str, depth: int, incremental: bool) -> None:
        self.req_id = req_id
        self.symbol = symbol
        self.instrument = instrument
        self.depth = depth
        self.incremental = incremental
        self.task: asyncio.Task[None] | None = None
        # (side, price, venue) -> size, as last sent
        self.sent: dict[tuple[str, float, str], float] = {}


def _levels(view: WorldView, depth: int) -> dict[tuple[str, float, str], float]:
    out: dict[tuple[str, float, str], float] = {}
    for venue, price, qty in view.bids[:depth]:
        out[("0", price, venue)] = qty
    for venue, price, qty in view.asks[:depth]:
        out[("1", price, venue)] = qty
    return out


class FixServer(FixAcceptor):
    """Serve world views over FIX 4.4 (see the module docstring).

    Parameters
    ----------
    views : Mapping[str, Broadcast[WorldView]]
        Instrument (normalised, e.g. ``"ETH-BTC"``) -> its world-view broadcast
        (``Pipeline.views``). Customers may spell the symbol ``ETH-BTC``, ``ETHBTC``, ``eth/btc``...
    config : FixServerConfig
    """

    #: How :class:`~dragonfly.services.host.ServiceHost` names this server in messages and addresses.
    name: ClassVar[str] = "FIX"

    def __init__(self, views: Mapping[str, Broadcast[WorldView]], config: FixServerConfig) -> None:
        if not isinstance(config, FixServerConfig):
            raise TypeError("config must be a FixServerConfig")
        if not views:
            raise ConfigError("at least one instrument is required")
        super().__init__(
            host=config.host, port=config.port, ssl=config.ssl, comp_id=config.comp_id, counterparties=config.customers,
            store_dir=config.store_dir, max_msg_size=config.max_msg_size, logon_timeout_s=config.logon_timeout_s,
            label="fix-server",
        )
        self.config = config
        self.views = dict(views)
        self._by_key = {instrument_key(k): k for k in self.views}
        self.stats = FixServerStats()
        self._subs: dict[str, dict[str, _Subscription]] = {}

    @classmethod
    def for_pipelines(cls, pipelines: Sequence[HostedPipeline], config: FixServerConfig) -> FixServer:
        """Serve the world views of pipelines (running or about to run), one per instrument."""
        return cls({p.config.instrument: p.views for p in pipelines}, config)

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
        """Log every customer out (bounded wait), stop listening, close the stores."""
        await self._shutdown("server shutting down")

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
            session.reject(msg, 11, f"MsgType {msg.msg_type} is not supported (only MarketDataRequest)", 35)
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
        symbols = [s.decode("latin-1") for s in msg.get_all(55)]
        if not symbols:
            self._reject_request(session, req_id, "0", "no Symbol (55) in the request")
            return
        for symbol in symbols:
            inst = self._by_key.get(instrument_key(symbol))
            if inst is None:
                self._reject_request(session, req_id, "0", f"unknown symbol {symbol}")
                continue
            key = f"{req_id}\x00{symbol}"
            if key in subs:
                self._reject_request(session, req_id, "1", f"duplicate MDReqID {req_id} for {symbol}")
                continue
            if kind == 1 and len(subs) >= MAX_SUBSCRIPTIONS:
                self._reject_request(session, req_id, "0", f"more than {MAX_SUBSCRIPTIONS} subscriptions")
                continue
            sub = _Subscription(req_id, symbol, inst, depth or self.config.max_depth, update == 1)
            if kind == 0:
                latest = self.views[inst].latest
                if latest is None:
                    self._reject_request(session, req_id, "0", f"no book yet for {symbol}")
                else:
                    self._send_full(session, sub, latest)
                continue
            subs[key] = sub
            sub.task = asyncio.get_running_loop().create_task(self._stream(session, sub),
                                                              name=f"fix-sub:{their}:{req_id}")

    # -- streaming -----------------------------------------------------------------------------
    def _send_full(self, session: FixSession, sub: _Subscription, view: WorldView) -> None:
        levels = _levels(view, sub.depth)
        fields: list[tuple[int, object]] = [(262, sub.req_id), (55, sub.symbol), (268, len(levels))]
        for (side, price, venue), qty in levels.items():
            fields += [(269, side), (270, price), (271, qty), (30, venue)]
        session.send_nowait("W", fields)
        sub.sent = levels
        self.stats.snapshots += 1

    def _send_incremental(self, session: FixSession, sub: _Subscription, view: WorldView) -> None:
        new = _levels(view, sub.depth)
        old = sub.sent
        entries: list[tuple[int, object]] = []
        n = 0
        sym = sub.symbol
        for key, qty in old.items():
            if key not in new:
                side, price, venue = key
                entries += [(279, "2"), (269, side), (55, sym), (270, price), (271, qty), (30, venue)]
                n += 1
        for key, qty in new.items():
            prev = old.get(key)
            if prev is None or prev != qty:
                side, price, venue = key
                entries += [(279, "0" if prev is None else "1"), (269, side), (55, sym), (270, price),
                            (271, qty), (30, venue)]
                n += 1
        sub.sent = new
        if n:
            session.send_nowait("X", [(262, sub.req_id), (268, n), *entries])
            self.stats.incrementals += 1

    async def _stream(self, session: FixSession, sub: _Subscription) -> None:
        views = self.views[sub.instrument]
        stream = views.subscribe(maxsize=1)
        first = True
        try:
            skipped = 0
            async for view in stream:
                if session.closed:
                    return
                if first or not sub.incremental:
                    self._send_full(session, sub, view)
                    first = False
                else:
                    self._send_incremental(session, sub, view)
                if stream.skipped != skipped:
                    self.stats.conflated += stream.skipped - skipped
                    skipped = stream.skipped
                await session.drain()  # a slow customer waits here; its slot conflates meanwhile
        except (ConnectionError, OSError, FixSessionError) as exc:
            log.info("fix-server: %s stream %s ended: %r", session.config.target_comp_id, sub.req_id, exc)
        finally:
            stream.close()
