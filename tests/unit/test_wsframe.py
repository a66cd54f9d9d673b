"""The WebSocket frame splitter (``dragonfly._core.wsframe``) against aiohttp's own frame parser.

The splitter sits in front of aiohttp's ``WebSocketReader`` (its delegate) and must never change what
a connection reads: the same data payloads in the same order, the same control messages, the same
protocol errors as the stock reader fed the same bytes, however the bytes are cut into reads, whenever
the consumer attaches, and whatever frame makes it fall back. Both twins run every test.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

from tests.conftest import core_module

TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10
LIMIT = 1 << 16


@pytest.fixture
def splitter_cls(core_impl: str) -> Any:
    return core_module("wsframe", core_impl).FrameSplitter


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


class Protocol:
    """What aiohttp's queue asks of the connection's protocol (flow control)."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


class Stats:
    messages = 0
    bytes = 0


def frame(op: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bytes | None = None,
          declared: int | None = None) -> bytes:
    n = len(payload) if declared is None else declared
    b1 = 0x80 if mask else 0
    head = bytes([(0x80 if fin else 0) | rsv | op])
    if n < 126:
        head += bytes([b1 | n])
    elif n < 1 << 16:
        head += bytes([b1 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([b1 | 127]) + n.to_bytes(8, "big")
    if mask:
        head += mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def plain(rng: random.Random) -> bytes:
    size = rng.choice([0, 1, 5, 125, 126, 127, 300, 65535, 65536, 70000]) if rng.random() < 0.2 else rng.randrange(200)
    if rng.random() < 0.5:
        text = "".join(rng.choice("ab{}[]\",.0123456789é€") for _ in range(size // 2))
        return frame(TEXT, text.encode())
    return frame(BINARY, rng.randbytes(size))


def control(rng: random.Random) -> bytes:
    op = rng.choice([PING, PONG])
    return frame(op, rng.randbytes(rng.randrange(126)))


#: frames the splitter does not take apart: after one, everything goes to the delegate
DISRUPTORS = {
    "fragmented text": lambda rng: frame(TEXT, b"par", fin=False) + frame(PING, b"in between")
    + frame(0, b"tial", fin=False) + frame(0, b" message"),
    "continuation first": lambda rng: frame(0, b"orphan"),
    "masked": lambda rng: frame(TEXT, b"masked payload", mask=b"\x01\x02\x03\x04"),
    "rsv1 without compression": lambda rng: frame(TEXT, b"x", rsv=0x40),
    "reserved opcode": lambda rng: frame(3, b"x"),
    "text that is not utf-8": lambda rng: frame(TEXT, b"\xff\xfe bad"),
    "over the size limit": lambda rng: frame(BINARY, b"y" * (LIMIT + 1)),
    "huge declared length": lambda rng: frame(BINARY, b"", declared=1 << 62),
    "control frame over 125 bytes": lambda rng: frame(PING, b"p" * 126),
    "fragmented control frame": lambda rng: frame(PING, b"p", fin=False),
    "close": lambda rng: frame(CLOSE, (1000).to_bytes(2, "big") + b"bye"),
}


def stream(rng: random.Random, disruptor: str | None) -> bytes:
    parts = [plain(rng) if rng.random() < 0.8 else control(rng) for _ in range(rng.randrange(1, 40))]
    if disruptor is not None:
        parts.insert(rng.randrange(len(parts) + 1), DISRUPTORS[disruptor](rng))
    return b"".join(parts)


def cuts(rng: random.Random, data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        step = rng.choice([1, 2, 3, 7, 13, 100, 1000, 70000, len(data)])
        out.append(data[pos : pos + step])
        pos += step
    return out


def reference(
    chunks: list[bytes], decode_text: bool, loop: asyncio.AbstractEventLoop
) -> tuple[tuple[list[Any], list[Any]], str]:
    q = WebSocketDataQueue(Protocol(), 1 << 30, loop=loop)
    reader = WebSocketReader(q, LIMIT, compress=False, decode_text=decode_text)
    for c in chunks:
        if reader.feed_data(c)[0]:
            break
    return _parts([(m.type, m.data) for m, _ in q._buffer]), repr(q.exception())


_DATA = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)


def _parts(msgs: list[Any]) -> tuple[list[Any], list[Any]]:
    """(data messages, the others), each in order."""
    return [m for m in msgs if m[0] in _DATA], [m for m in msgs if m[0] not in _DATA]


_STOP = aiohttp.WSMessage(aiohttp.WSMsgType.ERROR, "stop", None)


def split(
    cls: Any, chunks: list[bytes], decode_text: bool, loop: asyncio.AbstractEventLoop, attach_at: int | None,
    raise_at: int | None,
) -> tuple[tuple[list[Any], list[Any]], str, Any, Stats]:
    """The same chunks through a splitter in front of a stock reader: the data messages in the order a
    connection reads them (queued before the consumer attached, delivered, queued after), then the rest."""
    q = WebSocketDataQueue(Protocol(), 1 << 30, loop=loop)
    s = cls(WebSocketReader(q, LIMIT, compress=False, decode_text=decode_text), LIMIT, decode_text)
    stats = Stats()
    direct: list[Any] = []
    before = None
    stops = []

    class Stop(Exception):
        pass

    def on_frame(payload: Any) -> None:
        direct.append(payload)
        if raise_at is not None and len(direct) == raise_at:
            raise Stop

    def on_stop() -> None:
        stops.append(len(q._buffer))
        q.feed_data(_STOP, 0)

    firsts: list[int] = []
    for i, c in enumerate(chunks):
        if i == attach_at:
            before = len(q._buffer)
            s.attach(on_frame, lambda: firsts.append(len(direct)), on_stop, stats)
        if s.feed_data(c)[0]:
            break
    queued = [(m.type, m.data) for m, _ in q._buffer if m is not _STOP]
    assert sum(m is _STOP for m, _ in q._buffer) == len(stops) <= 1
    if stops:
        assert isinstance(s.error, Stop) and s.on_frame is None and len(direct) == raise_at
    if direct:
        assert firsts == [0]  # on_first, once, before the first delivery
    cut = len(queued) if before is None else before
    # a delivered payload's type: str is text; bytes are binary when text is decoded (else either, see _same)
    delivered = [(aiohttp.WSMsgType.TEXT if type(p) is str else aiohttp.WSMsgType.BINARY, p) for p in direct]
    early, late = _parts(queued[:cut]), _parts(queued[cut:])
    msgs = (early[0] + delivered + late[0], early[1] + late[1])
    stats_expected = (len(direct), sum(len(p.encode() if type(p) is str else p) for p in direct))
    assert (stats.messages, stats.bytes) == stats_expected
    return msgs, repr(q.exception()), s, stats


def _same(ref: tuple[list[Any], list[Any]], got: tuple[list[Any], list[Any]], decode_text: bool) -> None:
    assert got[1] == ref[1]  # control messages
    data, ref_data = got[0], ref[0]
    if not decode_text:  # without decoding, text and binary payloads are both bytes when delivered
        data = [(aiohttp.WSMsgType.BINARY, d) for _, d in data]
        ref_data = [(aiohttp.WSMsgType.BINARY, d) for _, d in ref_data]
    assert data == ref_data


@pytest.mark.parametrize("decode_text", [True, False])
@pytest.mark.parametrize("disruptor", [None, *DISRUPTORS])
def test_reads_what_aiohttp_reads(splitter_cls: Any, loop: asyncio.AbstractEventLoop, decode_text: bool,
                                  disruptor: str | None) -> None:
    rng = random.Random(f"{disruptor}-{decode_text}")
    fell_back = delivered = 0
    for _ in range(40):
        data = stream(rng, disruptor)
        chunks = cuts(rng, data)
        ref, ref_error = reference(chunks, decode_text, loop)
        attach_at = rng.choice([None, 0, 0, 0, rng.randrange(len(chunks))])
        raise_at = rng.choice([None, None, None, 1, 3])
        got, error, s, stats = split(splitter_cls, chunks, decode_text, loop, attach_at, raise_at)
        _same(ref, got, decode_text)
        assert error == ref_error
        fell_back += s.fallback
        delivered += stats.messages
    assert delivered > 0  # the fast path was taken
    if disruptor is not None and disruptor != "close":
        assert fell_back > 0 or (disruptor == "text that is not utf-8" and not decode_text)


def test_plain_frames_go_to_the_consumer_and_control_frames_to_the_delegate(splitter_cls: Any,
                                                                            loop: asyncio.AbstractEventLoop) -> None:
    q = WebSocketDataQueue(Protocol(), 1 << 30, loop=loop)
    s = splitter_cls(WebSocketReader(q, LIMIT, compress=False, decode_text=False), LIMIT, False)
    got: list[Any] = []
    stats = Stats()
    s.attach(got.append, None, lambda: None, stats)
    data = frame(TEXT, b'{"a":1}') + frame(PING, b"hi") + frame(BINARY, b"\x00\x01")
    assert s.feed_data(data[:5]) == (False, b"")
    assert s.buffered == 5 and got == []
    assert s.feed_data(data[5:]) == (False, b"")
    assert got == [b'{"a":1}', b"\x00\x01"]
    assert [(m.type, m.data) for m, _ in q._buffer] == [(aiohttp.WSMsgType.PING, b"hi")]
    assert (stats.messages, stats.bytes) == (2, 9)
    assert not s.fallback and s.buffered == 0
    s.detach()
    assert s.feed_data(frame(TEXT, b"later")) == (False, b"")
    assert got == [b'{"a":1}', b"\x00\x01"]  # detached: the delegate queues it
    assert [m.data for m, _ in q._buffer][-1] == b"later"


def test_a_long_frame_in_many_reads_is_copied_once(splitter_cls: Any, loop: asyncio.AbstractEventLoop) -> None:
    q = WebSocketDataQueue(Protocol(), 1 << 30, loop=loop)
    s = splitter_cls(WebSocketReader(q, 0, compress=False, decode_text=True), 0, True)
    got: list[Any] = []
    s.attach(got.append, None, lambda: None, Stats())
    payload = "x" * 1_000_000
    data = frame(TEXT, payload.encode()) + frame(TEXT, b"next")
    for i in range(0, len(data), 4096):
        s.feed_data(data[i : i + 4096])
    assert got == [payload, "next"]
    assert s.buffered == 0 and not s.fallback


def test_bad_arguments(splitter_cls: Any) -> None:
    with pytest.raises(ValueError, match="max_msg_size"):
        splitter_cls(object(), -1, True)
