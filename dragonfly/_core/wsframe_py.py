"""WebSocket frame splitter in front of a transport's own frame parser (pure-Python reference).

:mod:`dragonfly._core.wsframe_c` is the compiled twin and must behave identically.

A :class:`FrameSplitter` sits where a WebSocket connection feeds its frame parser
(the ``delegate``, e.g. aiohttp's ``WebSocketReader``: ``feed_data(bytes) -> (error, tail)``
and ``feed_eof()``). It cuts the byte stream into frames (RFC 6455, section 5.2) and:

* while a consumer is attached (:meth:`FrameSplitter.attach`), hands the payload of every
  *plain data frame* straight to ``on_frame`` (one call per frame, no queue): a final
  (FIN) text or binary frame, no RSV bit, not masked, shorter than ``max_msg_size`` bytes
  (0: no limit; a longer one goes to the delegate, which applies its own limit). A text
  payload is decoded from UTF-8 when ``decode_text`` is true;
* hands every other frame to the delegate, unchanged and whole: control frames (ping,
  pong, close) one by one, and while no consumer is attached every frame, in runs;
* on the first frame it does not take apart (a fragment or continuation, an RSV bit, a
  mask, an unknown opcode, a data frame not under the limit, a control frame over 125 bytes,
  text that is not UTF-8), **falls back** for good: that frame and everything after it go
  to the delegate as they arrive, which then reports the error or assembles the message.
  So the delegate always receives frames from their first byte on, and the
  order of data frames is kept: those before the fallback were delivered, those after it
  are the delegate's.

The delegate's own checks and errors apply to everything it receives; the splitter never
reports an error of its own. ``feed_data`` returns the delegate's ``(error, tail)`` when it
reported one, else ``(False, b"")``.

``on_frame`` raising stops delivery: the exception is kept in :attr:`FrameSplitter.error`,
the consumer is detached, ``on_stop()`` is called, and the rest of the data goes to the
delegate. The counters ``stats.messages`` and ``stats.bytes`` (payload bytes) grow by the
frames delivered, once per ``feed_data`` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ("FrameSplitter",)

_NONE: tuple[bool, bytes] = (False, b"")


class FrameSplitter:
    """See the module notes.

    Parameters
    ----------
    delegate : object
        The transport's frame parser: ``feed_data(bytes) -> (bool, bytes)``, ``feed_eof()``.
    max_msg_size : int
        Data frames of this many bytes or more are not delivered here (0: no limit) but go to
        the delegate, which applies its own limit.
    decode_text : bool
        Hand text payloads over as ``str`` (decoded from UTF-8) rather than ``bytes``.
    """

    __slots__ = (
        "delegate",
        "max_msg_size",
        "decode_text",
        "on_frame",
        "on_first",
        "on_stop",
        "stats",
        "error",
        "_fallback",
        "_partial",
        "_need",
    )

    def __init__(self, delegate: Any, max_msg_size: int, decode_text: bool) -> None:
        if max_msg_size < 0:
            raise ValueError(f"max_msg_size must be >= 0, got {max_msg_size}")
        self.delegate = delegate
        self.max_msg_size = max_msg_size
        self.decode_text = bool(decode_text)
        self.on_frame: Callable[[Any], object] | None = None
        self.on_first: Callable[[], object] | None = None
        self.on_stop: Callable[[], object] | None = None
        self.stats: Any = None
        self.error: BaseException | None = None
        self._fallback = False
        self._partial = bytearray()  # the start of a frame not complete yet
        self._need = 0  # that frame's whole length, once its header is complete

    @property
    def fallback(self) -> bool:
        """True once every frame goes to the delegate (see the module notes)."""
        return self._fallback

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held here."""
        return len(self._partial)

    def attach(
        self,
        on_frame: Callable[[Any], object],
        on_first: Callable[[], object] | None,
        on_stop: Callable[[], object],
        stats: Any,
    ) -> None:
        """Deliver plain data frames to ``on_frame`` from now on; ``on_first()`` before the first one."""
        self.stats = stats
        self.on_stop = on_stop
        self.on_first = on_first
        self.on_frame = on_frame

    def detach(self) -> None:
        """Stop delivering: data frames go to the delegate again."""
        self.on_frame = self.on_first = self.on_stop = None

    def feed_eof(self) -> None:
        self.delegate.feed_eof()

    def feed_data(self, data: Any) -> tuple[bool, bytes]:
        if type(data) is not bytes:
            data = bytes(data)
        if self._fallback:
            return self.delegate.feed_data(data)
        partial = self._partial
        if not partial:
            return self._feed(data, 0)
        # complete the frame begun in an earlier call (copying only its bytes), then go on in place
        if not self._need:
            head = bytes(partial) + data[:14]
            h = _header(head, 0)
            if h is None:
                partial += data
                return _NONE
            if _kind(head[0], head[1], h[1], self.max_msg_size) == _OTHER:
                self._fallback = True
                data = bytes(partial) + data
                partial.clear()
                return self.delegate.feed_data(data)
            self._need = h[0] + h[1]
        k = self._need - len(partial)
        if len(data) < k:
            partial += data  # a long frame still incomplete
            return _NONE
        partial += data[:k]
        frame = bytes(partial)
        partial.clear()
        self._need = 0
        result = self._feed(frame, 0)
        if result[0] or k == len(data):
            return result
        if self._fallback:
            return self.delegate.feed_data(data[k:])
        return self._feed(data, k)

    def _feed(self, data: bytes, pos: int) -> tuple[bool, bytes]:
        """The frames of ``data`` from ``pos`` on; an incomplete one at the end is kept."""
        n = len(data)
        run = -1  # start of the frames waiting to go to the delegate in one piece
        delivered = 0
        nbytes = 0
        limit = self.max_msg_size
        result = _NONE
        fall = False  # a frame this splitter does not take apart starts at pos
        try:
            while True:
                h = _header(data, pos)
                if h is None:
                    break
                hl, length = h
                b0 = data[pos]
                kind = _kind(b0, data[pos + 1], length, limit)
                if kind == _OTHER:
                    fall = True
                    break
                if n - pos < hl + length:
                    self._need = hl + length
                    break
                end = pos + hl + length
                on_frame = self.on_frame
                if kind == _CONTROL or on_frame is None:
                    if run < 0:
                        run = pos
                    pos = end
                    continue
                payload: Any = data[pos + hl : end]
                if b0 & 0x0F == 1 and self.decode_text:
                    try:
                        payload = payload.decode("utf-8")
                    except UnicodeDecodeError:
                        fall = True  # the delegate reports it
                        break
                if run >= 0:
                    result = self.delegate.feed_data(data[run:pos])
                    run = -1
                    if result[0]:
                        return result
                first = self.on_first
                if first is not None:
                    self.on_first = None
                    first()
                delivered += 1
                nbytes += length
                pos = end
                try:
                    on_frame(payload)
                except BaseException as exc:  # the consumer stopped: it gets the exception back
                    self.error = exc
                    stop = self.on_stop
                    self.detach()
                    if stop is not None:
                        stop()
            if fall:  # from pos on, everything goes to the delegate
                self._fallback = True
                if run < 0:
                    run = pos
                pos = n
            if run >= 0:
                result = self.delegate.feed_data(data[run:pos])
            if pos < n and not result[0]:
                self._partial += data[pos:]
            return result
        finally:
            if delivered:
                stats = self.stats
                stats.messages += delivered
                stats.bytes += nbytes


_OTHER, _PLAIN, _CONTROL = 0, 1, 2


def _header(data: bytes, pos: int) -> tuple[int, int] | None:
    """(header length, payload length) of the frame at ``pos``, or None while its header is incomplete."""
    n = len(data)
    if n - pos < 2:
        return None
    b1 = data[pos + 1]
    length = b1 & 0x7F
    hl = 2
    if length == 126:
        if n - pos < 4:
            return None
        length = (data[pos + 2] << 8) | data[pos + 3]
        hl = 4
    elif length == 127:
        if n - pos < 10:
            return None
        length = int.from_bytes(data[pos + 2 : pos + 10], "big")
        hl = 10
    if b1 & 0x80:
        hl += 4
    return hl, length


def _kind(b0: int, b1: int, length: int, limit: int) -> int:
    """_PLAIN: a final unmasked text or binary frame without RSV bits, shorter than ``limit`` (0: none);
    _CONTROL: ping, pong or close of at most 125 bytes (the delegate checks the rest); else _OTHER."""
    op = b0 & 0x0F
    if (b0 & 0xF0) == 0x80 and not b1 & 0x80 and (op == 1 or op == 2):
        if length < limit if limit else length < 1 << 63:
            return _PLAIN
        return _OTHER
    if 8 <= op <= 10 and length <= 125:
        return _CONTROL
    return _OTHER
