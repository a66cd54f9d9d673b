"""The accepted top N of a snapshot feed, checked and kept without Python objects per frame (reference twin).

A top-N feed (Binance ``depth20``, Bitstamp ``order_book``) sends its whole top N in every frame;
the venue adapter reads it with a :class:`~dragonfly._core.extract.TopExtractor`. The book keeper
holds one :class:`TopState` per instrument: :meth:`TopState.accept` checks the extractor's last
levels (the rules and messages of :func:`~dragonfly._core.merge.check_top`) and, when they are
sound, keeps a copy of them; :attr:`TopState.bids` / :attr:`TopState.asks` build the level tuples
only when read, once per change. Most frames of a fast feed are replaced before anyone reads them,
so most frames cost a check and a copy, not a tuple per level. The compiled twin
(``topn_c.pyx``) reads the compiled extractor's C arrays directly.

:class:`TopReader` reads what a top-N adapter needs from a frame in one call: the routing key,
the sequence number and the top N (the extractor of that key, updated). It handles the compact
spelling the venues send (a fixed head before the key, or a fixed tail after it; the sequence
number at the first occurrence of its key) and answers None for anything else, where the adapter
takes its general path (which reads any valid spelling the same way).

:meth:`TopReader.take` goes one step further for the routine frame of a LIVE instrument: a stream
bound to a :class:`TopState` (:meth:`TopReader.bind`, the keeper's) whose held top is not newer than
the frame gets the frame's top accepted straight into it, with the frame's sequence number, in the
same call; it answers the bound item (the driver's mark for the aggregator), or None for everything
else, which the caller then hands to its general path unchanged.

:class:`TopPath` is the whole of a feed's frame handling as one callable (the one its client's pump
calls): it counts the frame, takes its receive time, and for a frame :meth:`TopReader.take` accepts
it does the rest of what the keeper and the driver would (the keeper's sequence position, snapshot
count and exchange time; the instrument's latest-wins mark in the consumer's queue); every other frame
goes to the caller's general path with its receive time. The compiled twin does all of that in C.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import ExtractError
from .extract_py import TopExtractor, _same
from .merge_py import check_top

__all__ = ("TopPath", "TopReader", "TopState", "SEQ_DIGITS", "TAIL_WINDOW")

#: longest run of digits a sequence number may have on the compact path (longer: the general path)
SEQ_DIGITS = 18
#: how far from the end a tail-routed key's needle is looked for
TAIL_WINDOW = 128


class TopState:
    """The last accepted top N of one instrument (see the module notes).

    Attributes
    ----------
    accepted : int
        Tops accepted since construction.
    """

    __slots__ = ("_asks", "_bids", "_held", "_seq", "accepted")

    def __init__(self) -> None:
        self._bids: tuple[tuple[float, float], ...] = ()
        self._asks: tuple[tuple[float, float], ...] = ()
        self._held = False
        self._seq = -1
        self.accepted = 0

    def accept(self, source: Any, seq: int = -1) -> str:
        """Check ``source``'s levels (its ``bids`` and ``asks``, best first) and keep them.

        Parameters
        ----------
        source : TopExtractor
            Read right after a successful ``update`` (any object with ``bids`` and ``asks``
            sequences of ``(price, qty, ...)`` numbers is accepted; they are kept as float pairs).
        seq : int
            The top's sequence position (:attr:`seq` once accepted; :meth:`TopReader.take` accepts
            only frames not older than it).

        Returns
        -------
        str
            ``""`` when accepted; else what is wrong (the text of ``check_top``), and the state
            is unchanged.

        Raises
        ------
        TypeError, IndexError
            A level that is not a sequence of at least two numbers (text is not a number here), or
            ``seq`` not an int.
        """
        if not isinstance(seq, int):
            raise TypeError(f"seq must be an int, not {type(seq).__name__}")
        bids = _levels(source.bids)
        asks = _levels(source.asks)
        problem = check_top(bids, asks)
        if problem:
            return problem
        self._keep(bids, asks, seq)
        return ""

    def _keep(self, bids: tuple[tuple[float, float], ...], asks: tuple[tuple[float, float], ...], seq: int) -> None:
        self.accepted += 1
        self._held = True
        self._seq = seq
        if not _same(bids, self._bids):  # unchanged: the same tuples (readers compare by identity)
            self._bids = bids
        if not _same(asks, self._asks):
            self._asks = asks

    def clear(self) -> None:
        """Forget the levels (both sides empty) and their sequence position."""
        self._bids = ()
        self._asks = ()
        self._held = False
        self._seq = -1

    @property
    def held(self) -> bool:
        """True when a top was accepted since construction or the last :meth:`clear`."""
        return self._held

    @property
    def seq(self) -> int:
        """Sequence position of the held top (``accept``'s ``seq``; -1 when none)."""
        return self._seq

    @property
    def bids(self) -> tuple[tuple[float, float], ...]:
        """Bid levels, best first (the same tuple until they change)."""
        return self._bids

    @property
    def asks(self) -> tuple[tuple[float, float], ...]:
        """Ask levels, best first (the same tuple until they change)."""
        return self._asks

    def __repr__(self) -> str:
        return f"<TopState {len(self._bids)} bids, {len(self._asks)} asks>"


def _number(x: Any) -> float:
    """``x`` as a float, as C's ``PyFloat_AsDouble`` takes it: numbers yes, text no."""
    if type(x) is float:
        return x
    if isinstance(x, (str, bytes, bytearray)):
        raise TypeError(f"must be real number, not {type(x).__name__}")
    return float(x)


def _levels(side: Any) -> tuple[tuple[float, float], ...]:
    return tuple([(_number(lv[0]), _number(lv[1])) for lv in side])


class TopReader:
    """Routing key, sequence number and top N of a top-N feed's frames, in one call (see the module notes).

    Parameters
    ----------
    bids_path, asks_path : str
        The extractor's paths (one :class:`~dragonfly._core.extract.TopExtractor` per routing key,
        made on first sight).
    depth : int
        Levels per side.
    seq_key : str
        The sequence number's key: its first occurrence is read, ``"seq_key":123,`` (or
        ``"seq_key":"123"`` with ``seq_quoted``), 1 to 18 ASCII digits.
    route_head : str
        The frame starts with this text and the key follows, up to the next ``"`` (Binance:
        ``{"stream":"``); or "" to route by the tail.
    route_tail, route_needle : str
        The frame ends with ``route_tail`` and the key follows the last ``route_needle`` within the
        last 128 bytes, up to the next ``"`` (Bitstamp: ``,"event":"data"}`` and ``"channel":"``).
    seq_quoted : bool
        The sequence number is a JSON string.

    Attributes
    ----------
    key : str
        Routing key of the last frame routed ("" before any).
    seq : int
        Its sequence number.
    top : TopExtractor or None
        Its extractor, updated from it (None before any); after a failed extraction, the key's
        extractor with its previous levels.
    """

    __slots__ = (
        "_extractors", "_paths", "_seq", "_quoted", "_head", "_tail", "_needle", "_bound", "key", "seq", "top"
    )

    def __init__(
        self,
        bids_path: str,
        asks_path: str,
        depth: int,
        *,
        seq_key: str,
        route_head: str = "",
        route_tail: str = "",
        route_needle: str = "",
        seq_quoted: bool = False,
    ) -> None:
        if bool(route_head) == bool(route_tail and route_needle):
            raise ValueError("route by a head, or by a tail and a needle (exactly one)")
        if not seq_key:
            raise ValueError("seq_key must not be empty")
        TopExtractor(bids_path, asks_path, depth)  # check the paths and depth now
        self._extractors: dict[str, TopExtractor] = {}
        self._paths = (bids_path, asks_path, depth)
        self._seq = f'"{seq_key}":'.encode()
        self._quoted = seq_quoted
        self._head = route_head.encode()
        self._tail = route_tail.encode()
        self._needle = route_needle.encode()
        self._bound: dict[str, tuple[TopState, Any]] = {}
        self.key = ""
        self.seq = -1
        self.top: TopExtractor | None = None

    def read(self, frame: str | bytes) -> str | None:
        """Route ``frame`` and update its key's extractor.

        Returns
        -------
        str or None
            The routing key (also in :attr:`key`; :attr:`seq` and :attr:`top` are set), or None when
            the frame is not in the compact spelling (nothing was changed).

        Raises
        ------
        ExtractError
            The frame was routed (:attr:`key`, :attr:`seq` and :attr:`top` are set) but its levels are
            malformed; the extractor keeps its previous state.
        """
        found = self._locate(frame)
        if found is None:
            return None
        found[0].update(frame)
        return self.key

    def bind(self, key: str, state: TopState, item: Any) -> None:
        """Let :meth:`take` accept the frames of stream ``key`` into ``state`` and answer ``item``.

        Parameters
        ----------
        key : str
            A routing key (binding it again replaces the binding).
        state : TopState
            Where its tops go; :meth:`take` leaves a frame to the caller unless ``state`` holds a top
            whose sequence position is not newer than the frame's.
        item : object
            What :meth:`take` answers for an accepted frame of ``key``.
        """
        if not isinstance(key, str):
            raise TypeError("key must be a str")
        if not isinstance(state, TopState):
            raise TypeError("state must be a TopState")
        self._bound[key] = (state, item)

    def take(self, frame: str | bytes) -> Any:
        """A routine frame of a bound stream in one call: route it and read its sequence number as
        :meth:`read` does; when its key is bound (:meth:`bind`) to a state that holds a top not newer than
        the frame, update the key's extractor and accept its top into the state with the frame's sequence
        number.

        Returns
        -------
        object or None
            The bound item when the top was accepted; else None and the bound state is unchanged (the
            key's extractor may have read the frame; :attr:`key` and :attr:`seq` are set once the frame is
            routed, as by :meth:`read`): the frame is not in the compact spelling, its key is not bound,
            the state holds no top or a newer one, or the levels are malformed or not a sound top. The
            caller then takes its general path with the frame, which finds the same.
        """
        found = self._locate(frame)
        if found is None:
            return None
        ext, seq = found
        bound = self._bound.get(self.key)
        if bound is None:
            return None
        state, item = bound
        if not state._held or seq < state._seq:
            return None  # the first top, or an older frame: the general path
        try:
            ext.update(frame)
        except ExtractError:
            return None  # the general path reads it again and reports it
        bids, asks = ext.bids, ext.asks
        if check_top(bids, asks):
            return None  # not a sound top (state unchanged): the general path finds the same and resyncs
        state._keep(bids, asks, seq)
        return item

    def path(
        self,
        stats: Any,
        general: Callable[[str | bytes, int], object],
        publish_lazy: Callable[[Any], object],
        *,
        seq_ts_ns: int = 0,
    ) -> TopPath:
        """A :class:`TopPath` over this reader (of the same twin): ``TopPath(self, stats, general, publish_lazy,
        seq_ts_ns=seq_ts_ns)``."""
        return TopPath(self, stats, general, publish_lazy, seq_ts_ns=seq_ts_ns)

    def _locate(self, frame: str | bytes) -> tuple[TopExtractor, int] | None:
        """What :meth:`read` and :meth:`take` share: route the frame and read its sequence number; its
        key's extractor (now the current stream) and the number, or None when the frame is not in the
        compact spelling (or is a ``str`` with a lone surrogate: the general path reports it)."""
        if type(frame) is str:
            try:
                data = frame.encode()
            except UnicodeEncodeError:
                return None
        elif type(frame) is bytes:
            data = frame
        else:
            return None
        key = self._route(data)
        if key is None:
            return None
        seq = self._sequence(data)
        if seq < 0:
            return None
        return self._select(key, seq), seq

    def _select(self, key: str, seq: int) -> TopExtractor:
        self.key = key
        self.seq = seq
        ext = self._extractors.get(key)
        if ext is None:
            ext = self._extractors[key] = TopExtractor(*self._paths)
        self.top = ext
        return ext

    def _route(self, data: bytes) -> str | None:
        if self._head:
            if not data.startswith(self._head):
                return None
            j = len(self._head)
        else:
            if not data.endswith(self._tail):
                return None
            i = data.rfind(self._needle, max(0, len(data) - TAIL_WINDOW))
            if i < 0:
                return None
            j = i + len(self._needle)
        k = data.find(b'"', j)
        if k <= j or b"\\" in data[j:k]:
            return None
        try:
            return data[j:k].decode()
        except UnicodeDecodeError:
            return None

    def _sequence(self, data: bytes) -> int:
        i = data.find(self._seq)
        if i < 0:
            return -1
        j = i + len(self._seq)
        if self._quoted:
            if data[j : j + 1] != b'"':
                return -1
            j += 1
            k = data.find(b'"', j)
        else:
            k = data.find(b",", j)
        if not 0 < k - j <= SEQ_DIGITS:
            return -1
        digits = data[j:k]
        if not digits.isdigit():  # bytes.isdigit: ASCII digits only
            return -1
        return int(digits)

    def __repr__(self) -> str:
        return f"<TopReader {len(self._extractors)} keys, last {self.key!r}>"


class TopPath:
    """A top-N feed's frames in one call (see the module notes): ``path(frame)`` or ``path(frame, receive_ns)``.

    For a frame :meth:`TopReader.take` accepts into a stream bound here (:meth:`bind`), it does what the
    driver and the keeper would do after ``BookKeeper.on_snapshot`` of that top: ``keeper.last`` becomes the
    frame's sequence number, ``keeper.stats.snapshots`` grows by one, ``keeper.exchange_ts_ns`` becomes
    ``seq * seq_ts_ns`` when that is nonzero, ``item.receive_ns`` the receive time; then it marks the item
    for the consumer as ``publish_lazy(item)`` would: while the item waits in its queue
    (``item.queued_in``, see :class:`~dragonfly.queues.Lazy`), only that queue's ``conflated`` grows by one,
    else ``publish_lazy(item)`` is called. Every other frame goes to ``general(frame, receive_ns)``.

    Parameters
    ----------
    reader : TopReader
        The reader of the feed's compact spelling (the same twin).
    stats : object
        The feed's counters: ``stats.frames`` grows by one per frame.
    general : callable
        ``general(frame, receive_ns)``: the caller's general path, for every frame not taken here.
    publish_lazy : callable
        The consumer's ``publish_lazy`` (:meth:`~dragonfly.queues.KeyedQueue.publish_lazy`), for an item
        not waiting in its queue.
    seq_ts_ns : int
        Exchange time in ns per unit of the sequence number (0: the frames carry none).

    Attributes
    ----------
    last_receive_ns : int
        The receive time of the last frame (given, or taken from the clock as ``time.time_ns()``).
    """

    __slots__ = ("_general", "_publish_lazy", "_reader", "_routes", "_seq_ts_ns", "_stats", "last_receive_ns")

    def __init__(
        self,
        reader: TopReader,
        stats: Any,
        general: Callable[[str | bytes, int], object],
        publish_lazy: Callable[[Any], object],
        *,
        seq_ts_ns: int = 0,
    ) -> None:
        if not isinstance(reader, TopReader):
            raise TypeError("reader must be a TopReader")
        if not callable(general) or not callable(publish_lazy):
            raise TypeError("general and publish_lazy must be callable")
        if not isinstance(seq_ts_ns, int) or seq_ts_ns < 0:
            raise ValueError("seq_ts_ns must be an int >= 0")
        self._reader = reader
        self._stats = stats
        self._general = general
        self._publish_lazy = publish_lazy
        self._seq_ts_ns = seq_ts_ns
        self._routes: dict[str, Any] = {}
        self.last_receive_ns = 0

    def bind(self, key: str, state: TopState, keeper: Any, item: Any) -> None:
        """Take the routine frames of stream ``key`` here: :meth:`TopReader.bind` ``(key, state, item)``, and
        ``keeper`` (with ``last``, ``stats.snapshots`` and ``exchange_ts_ns``) gets what such a frame changes.

        ``item`` is the instrument's :class:`~dragonfly.queues.Lazy` (with ``receive_ns``).
        """
        self._reader.bind(key, state, item)
        self._routes[key] = keeper

    def __call__(self, frame: str | bytes, receive_ns: int = 0) -> None:
        """One frame: :meth:`on_frame`."""
        self.on_frame(frame, receive_ns)

    def on_frame(self, frame: str | bytes, receive_ns: int = 0) -> None:
        """One frame received at ``receive_ns`` (0: now, ``time.time_ns()``): its routine way here, or
        ``general(frame, receive_ns)``. (Calling the path does the same; the compiled twin's bound
        ``on_frame`` is the cheaper callable to hand a client's pump.)"""
        self._stats.frames += 1
        if not receive_ns:
            receive_ns = time.time_ns()
        self.last_receive_ns = receive_ns
        reader = self._reader
        item = reader.take(frame)
        keeper = self._routes.get(reader.key) if item is not None else None
        if keeper is None:
            self._general(frame, receive_ns)
            return
        keeper.last = seq = reader.seq
        keeper.stats.snapshots += 1
        if self._seq_ts_ns:
            ts = seq * self._seq_ts_ns
            if ts:
                keeper.exchange_ts_ns = ts
        item.receive_ns = receive_ns
        queue = getattr(item, "queued_in", None)
        if queue is None:
            self._publish_lazy(item)  # not waiting: queued now (or dropped at the bound, or the queue closed)
        else:
            queue.conflated += 1  # waiting in its queue: publishing it again would only count it there

    def __repr__(self) -> str:
        return f"<TopPath over {self._reader!r}>"
