"""A FIX 4.4 market-data venue: MarketDataRequest (35=V), snapshots (35=W) and incrementals (35=X).

The simulated ``fixsim`` speaks it, as does any venue with standard FIX 4.4 market data:

* subscribe: ``35=V`` with MDReqID (262), SubscriptionRequestType 263=1, MarketDepth (264),
  MDUpdateType (265: 1 incremental, 0 full refresh), MDEntryTypes bid and offer, one symbol (55);
  unsubscribe: 263=2 with the request's MDReqID;
* ``35=W``: the whole book of the request's symbol; ``35=X``: entries with MDUpdateAction
  (279: 0 new, 1 change, 2 delete), each naming its symbol (55) or the request's;
* ``35=Y`` MarketDataRequestReject: that symbol is STALE with the reason.

Entries change absolute sizes, and the venue says which levels exist: a change or delete of a
level the book does not have is an integrity fault (strict deltas). A gap-filled sequence (the
venue skipped messages instead of resending them) may have lost incrementals: every book of
the session resyncs, except in full-refresh mode where every message is a snapshot.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from ..._core.fix import market_data, parse_message
from ...errors import FixParseError, FrameError
from ...instruments import Instrument
from ...listeners.events import Delta, Rejected, Snapshot
from ...listeners.rules import NoSequence
from ..base import Event, VenueAdapter
from .config import FixsimConfig, parse_fix_url

__all__ = ("FixsimAdapter",)

_ACTIONS = ("new", "change", "delete")


class FixsimAdapter(VenueAdapter):
    """FIX 4.4 market data; the symbol is the instrument's normalised name (``ETH-BTC``), tag 55."""

    protocol = "fix"
    session_heartbeats = True

    def __init__(self, config: FixsimConfig, *, depth: int) -> None:
        super().__init__(config, depth=depth)
        self.check_depth(config.max_depth)
        self.rule = NoSequence()
        self._req_ids = itertools.count(1)
        self._by_req: dict[str, str] = {}  # MDReqID -> symbol, for the current session
        self._req_of: dict[str, str] = {}  # symbol -> its current MDReqID

    @property
    def gap_sensitive(self) -> bool:
        """Full-refresh subscriptions lose nothing to a gap: every message is a snapshot."""
        return bool(self.config.incremental)

    def symbol(self, instrument: Instrument) -> str:
        return instrument.name

    def client(self, symbols: Sequence[str], *, ws: Any = None, backoff: Any = None) -> Any:
        from ...clients.fix import FixClient, FixClientConfig, FixSessionConfig

        cfg = self.config
        host, port, tls = parse_fix_url(cfg.base_url)
        session = FixSessionConfig(
            sender_comp_id=cfg.sender_comp_id,
            target_comp_id=cfg.target_comp_id,
            heartbeat_s=cfg.heartbeat_s,
            password=cfg.password,
            store_path=cfg.store_path,
            reset_seq_num=cfg.reset_seq_num,
        )
        kwargs: dict[str, Any] = {"name": self.name}
        if tls:
            kwargs["ssl"] = True
        if backoff is not None or ws is not None:
            kwargs["backoff"] = backoff if backoff is not None else ws.backoff
        return FixClient(FixClientConfig(host=host, port=port, session=session, **kwargs))

    def connected(self) -> None:
        self._by_req.clear()
        self._req_of.clear()

    def _request(self, symbol: str) -> tuple[str, list[tuple[int, object]]]:
        req = f"{symbol}:{next(self._req_ids)}"
        old = self._req_of.get(symbol)
        if old is not None:
            self._by_req.pop(old, None)
        self._req_of[symbol] = req
        self._by_req[req] = symbol
        return "V", [(262, req), (263, 1), (264, self.depth), (265, 1 if self.config.incremental else 0),
                     (267, 2), (269, 0), (269, 1), (146, 1), (55, symbol)]

    def subscribe(self, symbols: Sequence[str]) -> list[Any]:
        return [self._request(s) for s in symbols]

    def unsubscribe(self, symbols: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        for s in symbols:
            req = self._req_of.pop(s, None)
            if req is not None:
                self._by_req.pop(req, None)
                out.append(("V", [(262, req), (263, 2), (264, self.depth), (267, 2), (269, 0), (269, 1), (146, 1),
                                  (55, s)]))
        return out

    def parse(self, frame: str | bytes) -> Sequence[Event]:
        raw = frame.encode("latin-1") if isinstance(frame, str) else frame
        msg = parse_message(raw)
        mt = msg.msg_type
        if mt == "Y":
            req = msg.get_str(262)
            symbol = self._by_req.get(req, "")
            text = msg.get_str(58) or f"reason {msg.get_str(281)}"
            return (Rejected(symbol=symbol, reason=text),) if symbol else ()
        if mt != "W" and mt != "X":
            return ()
        try:
            md = market_data(msg)
        except FixParseError as exc:
            symbol = self._by_req.get(msg.get_str(262), "") or msg.get_str(55)
            raise FrameError(f"bad 35={mt} ({exc.reason}, tag {exc.tag}): {exc}", symbol=symbol) from None
        if md.md_req_id and md.md_req_id not in self._by_req:
            return ()  # the tail of a replaced subscription
        req_symbol = self._by_req.get(md.md_req_id, "") if md.md_req_id else ""
        if mt == "W":
            symbol = req_symbol or md.symbol
            if md.symbol and md.symbol != symbol:
                return ()
            bids: list[tuple[float, float]] = []
            asks: list[tuple[float, float]] = []
            for _action, side, price, size, _sym, _mkt in md.entries():
                if not (price > 0 and size > 0):
                    raise FrameError(f"snapshot level {price!r} x {size!r} is not positive", symbol=symbol)
                (bids if side == 0 else asks).append((price, size))
            return (Snapshot(symbol=symbol, bids=bids, asks=asks),)
        groups: dict[str, tuple[list[Any], list[Any]]] = {}
        for action, side, price, size, sym, _mkt in md.entries():
            symbol = sym or req_symbol
            if not 0 <= action <= 2:
                raise FrameError(f"bad MDUpdateAction {action!r}", symbol=symbol)
            if action != 2 and not (price > 0 and size >= 0):
                raise FrameError(f"level {price!r} x {size!r} is not positive", symbol=symbol)
            entry = (price, 0.0 if action == 2 else size, _ACTIONS[action])
            group = groups.setdefault(symbol, ([], []))
            group[0 if side == 0 else 1].append(entry)
        return [Delta(symbol=s, bids=b, asks=a, strict=True) for s, (b, a) in groups.items()]
