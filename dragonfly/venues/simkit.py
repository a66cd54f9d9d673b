"""What the simulator encoders of the venue folders (``<venue>/sim.py``) share.

The encoder protocols are in :mod:`dragonfly.sim.encoder`. Most venues answer several of their
members the same way: subscriptions come by message (not in the URL), the venue sends no
heartbeat of its own and never asks clients to reconnect; a diff venue's ids grow by one, its
levels are written with the tick's decimals and eight-decimal quantities, and the members its
engine never calls for it (the REST ones of a venue whose snapshots come on the stream, the
stream snapshot of a REST venue, ``stamp`` of a venue that does not number its frames) raise
NotImplementedError. :class:`SnapshotEncoderBase` and :class:`DiffEncoderBase` hold those
answers once; an encoder subclasses one and overrides what its venue does differently.

Like the encoders, this module imports nothing from :mod:`dragonfly.sim` (the simulators import
venues, never the reverse): only the standard library.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = (
    "DiffEncoderBase",
    "SnapshotEncoderBase",
    "WsEncoderBase",
    "compact_json",
    "json_object",
    "quoted_side",
    "text_side",
)


def compact_json(obj: Any) -> str:
    """``obj`` as JSON without spaces (``{"a":1,"b":[2,3]}``), as most venues write it."""
    return json.dumps(obj, separators=(",", ":"))


def json_object(text: str) -> dict[str, Any] | None:
    """A client message parsed as a JSON object; None when it is not valid JSON or not an object."""
    try:
        msg = json.loads(text)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None


def quoted_side(levels: Iterable[tuple[str, str]]) -> str:
    """Levels as a JSON array of ``["price","qty"]`` string pairs, the number text kept as it is."""
    return "[" + ",".join(f'["{p}","{q}"]' for p, q in levels) + "]"


def text_side(levels: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """The ``(price_text, qty_text)`` pairs of a recorded side (``[[price, qty, ...], ...]``; extra
    members of a level are dropped)."""
    return tuple((str(p), str(q)) for p, q, *_ in levels)


class WsEncoderBase:
    """The common answers of a WebSocket venue's encoder (the ``WsEncoder`` protocol).

    Parameters
    ----------
    config
        The venue's configuration (the same object its adapter is built from).
    """

    def __init__(self, config: Any) -> None:
        self.config = config

    def connect(self, path: str, query: Mapping[str, str], conn: Any) -> None:
        """Subscriptions come by message: the URL subscribes to nothing."""
        return None

    def heartbeat(self) -> str | None:
        """None: the venue sends no heartbeat of its own (it may answer the client's pings)."""
        return None

    def reconnect_request(self) -> str | None:
        """None: the venue never asks clients to reconnect."""
        return None


class SnapshotEncoderBase(WsEncoderBase):
    """The common part of a top-N snapshot venue's encoder (the ``SnapshotEncoder`` protocol)."""

    engine = "snapshot"
    style: Mapping[str, Any]
    sends_unchanged: bool


class DiffEncoderBase(WsEncoderBase):
    """The common answers of a diff-stream venue's encoder (the ``DiffEncoder`` protocol):
    snapshots on the stream, no checksum, no connection sequence.

    Parameters
    ----------
    config
        The venue's configuration.
    depth : int
        Levels per side the venue's book carries.
    """

    engine = "diff"
    snapshots = "stream"
    checksum: str | None = None
    connection_sequence = False

    def __init__(self, config: Any, *, depth: int) -> None:
        super().__init__(config)
        self.depth = depth

    def level(self, price: float, qty: float, decimals: int) -> list[str]:
        """The price with the tick's decimals, the quantity with eight."""
        return [f"{price:.{decimals}f}", f"{qty:.8f}"]

    def id_step(self, rng: random.Random) -> int:
        """Ids grow by one per delta."""
        return 1

    def snapshot_frame(self, book: Any) -> str:
        """Only for ``snapshots == "stream"``."""
        raise NotImplementedError(f"{type(self).__name__}: snapshots come by REST")

    def rest_symbol(self, path: str, query: Mapping[str, str]) -> str | None:
        """None (no REST snapshot endpoint) unless ``snapshots == "rest"``."""
        return None

    def rest_body(self, book: Any) -> str:
        """Only for ``snapshots == "rest"``."""
        raise NotImplementedError(f"{type(self).__name__}: snapshots come on the stream")

    def stamp(self, frame: str, seq: int) -> str | None:
        """Only for ``connection_sequence``."""
        raise NotImplementedError(f"{type(self).__name__} does not number its connection's frames")
