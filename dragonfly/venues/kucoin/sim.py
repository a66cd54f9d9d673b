"""How the simulator speaks KuCoin spot ``/market/level2`` (see :mod:`dragonfly.sim.encoder`).

``POST /api/v1/bullet-public`` answers a token and the simulator's own WebSocket endpoint
(:meth:`KucoinEncoder.connect_response`); the WebSocket takes ``{"type": "subscribe", "topic":
"/market/level2:A,B", "id": .., "response": true}`` (acknowledged ``{"id": .., "type": "ack"}``;
an unknown symbol refuses the request with ``{"id": .., "type": "error", "code": 404, ...}``) and
``{"type": "ping"}`` (answered ``pong``). Every delta is a ``trade.l2update`` whose changes carry
their own sequence numbers, ``sequenceStart``..``sequenceEnd``; the numbers no level needs go to
``["0", "0", sequence]`` entries, as KuCoin sends them. Snapshots are REST
``/api/v1/market/orderbook/level2_{20,100}?symbol=..``.
"""

from __future__ import annotations

import json
import random
import secrets
from collections import deque
from collections.abc import Mapping
from typing import Any

from ...instruments import Instrument
from ..simkit import DiffEncoderBase, compact_json
from .config import SNAPSHOT_DEPTHS, KucoinConfig

__all__ = ("KucoinEncoder",)

_TOPIC = "/market/level2:"
_SNAPSHOT_PATHS = {f"/api/v1/market/orderbook/level2_{n}": n for n in SNAPSHOT_DEPTHS}
#: Changes a simulated delta can carry (up to 3 per side, a corrupted and a crossing level).
_MOST_CHANGES = 8


class KucoinEncoder(DiffEncoderBase):
    """KuCoin spot level2 increments, REST snapshots of the configured depth, a token per connection.

    Attributes
    ----------
    tokens : deque of str
        The last tokens handed out.
    connects : deque of dict
        The query of the last WebSocket connections (``token``, ``connectId``).
    """

    snapshots = "rest"

    def __init__(self, config: KucoinConfig) -> None:
        super().__init__(config, depth=config.snapshot_depth)
        self.tokens: deque[str] = deque(maxlen=16)
        self.connects: deque[dict[str, str]] = deque(maxlen=16)

    def symbol(self, instrument: Instrument) -> str:
        return f"{instrument.base}-{instrument.quote}"

    def connect_response(self, method: str, path: str, query: Mapping[str, str], ws_url: str) -> str | None:
        """The body answering the adapter's connect request (``POST /api/v1/bullet-public``), None for
        any other request; ``ws_url`` is the simulator's WebSocket base."""
        if method != "POST" or path != "/api/v1/bullet-public":
            return None
        token = secrets.token_urlsafe(24) + "=.sim=="  # KuCoin's tokens carry '=' and '.'
        self.tokens.append(token)
        server = {"endpoint": ws_url.rstrip("/") + "/", "encrypt": ws_url.startswith("wss:"), "protocol": "websocket",
                  "pingInterval": 18000, "pingTimeout": 10000}
        return compact_json({"code": "200000", "data": {"token": token, "instanceServers": [server]}})

    def connect(self, path: str, query: Mapping[str, str], conn: Any) -> None:
        self.connects.append({k: str(query[k]) for k in ("token", "connectId") if k in query})

    def client_message(self, text: str, conn: Any) -> list[str]:
        try:
            msg = json.loads(text)
            kind = msg["type"]
            rid = msg.get("id", "")
        except (ValueError, KeyError, TypeError, AttributeError):
            return [compact_json({"id": "", "type": "error", "code": 400, "data": "invalid request"})]
        if kind == "ping":
            return [compact_json({"id": rid, "type": "pong"})]
        if kind not in ("subscribe", "unsubscribe"):
            return [compact_json({"id": rid, "type": "error", "code": 400, "data": f"unknown type {kind}"})]
        topic = str(msg.get("topic", ""))
        if not topic.startswith(_TOPIC):
            return [compact_json({"id": rid, "type": "error", "code": 404, "data": "topic does not exist"})]
        symbols = [s for s in topic[len(_TOPIC) :].split(",") if s]
        if kind == "subscribe":
            bad = [s for s in symbols if not conn.subscribe(s)]
            if bad:
                missing = f"topic {_TOPIC}{bad[0]} does not exist"
                return [compact_json({"id": rid, "type": "error", "code": 404, "data": missing})]
        else:
            for s in symbols:
                conn.unsubscribe(s)
        return [compact_json({"id": rid, "type": "ack"})] if msg.get("response") else []

    def id_step(self, rng: random.Random) -> int:
        return _MOST_CHANGES + rng.randint(0, 2)  # a number for every change, and some for fillers

    def delta_frame(self, u: Any) -> str:
        seq = u.first
        sides: list[list[list[str]]] = [[], []]
        for i, levels in enumerate((u.bids, u.asks)):
            for p, q in levels:
                sides[i].append([p, q, str(min(seq, u.last))])
                seq += 1
        while seq <= u.last:  # the numbers no level needed
            sides[seq % 2].append(["0", "0", str(seq)])
            seq += 1
        data = {"changes": {"asks": sides[1], "bids": sides[0]}, "sequenceEnd": u.last, "sequenceStart": u.first,
                "symbol": u.symbol, "time": u.ts_ms}
        return compact_json({"topic": _TOPIC + u.symbol, "type": "message", "subject": "trade.l2update", "data": data})

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        return query.get("symbol", "") if path in _SNAPSHOT_PATHS else None

    def rest_body(self, book: Any) -> str:
        n = self.depth
        data = {"time": book.ts_ms, "sequence": str(book.last), "bids": book.bids[:n], "asks": book.asks[:n]}
        return compact_json({"code": "200000", "data": data})
