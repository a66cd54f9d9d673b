"""The FIX codec (dragonfly._core.fix): both twins, same results."""

from __future__ import annotations

import pytest
from conftest import core_module
from hypothesis import given, settings
from hypothesis import strategies as st

from dragonfly.errors import FixParseError

SOH = b"\x01"


@pytest.fixture
def fix(core_impl: str):
    return core_module("fix", core_impl)


@pytest.fixture(scope="module")
def both():
    from dragonfly._env import NO_EXTENSIONS

    mods = [core_module("fix", "python")]
    if not NO_EXTENSIONS:
        mods.append(core_module("fix", "cython"))
    return mods


def _snapshot_fields(n: int = 20, symbol: str = "ETH-BTC") -> list[tuple[int, object]]:
    fields: list[tuple[int, object]] = [(49, "VENUE"), (56, "DF"), (34, 12), (52, "20240101-00:00:00.000")]
    fields += [(262, "req-1"), (55, symbol), (268, n)]
    for i in range(n):
        side = i % 2
        price = 0.0651 - 0.00001 * (i // 2) if side == 0 else 0.0652 + 0.00001 * (i // 2)
        fields += [(269, side), (270, price), (271, 1.25 + i), (30, f"venue{i % 3}")]
    return fields


def _manual(body: bytes, blen: bytes | None = None, cks: bytes | None = None) -> bytes:
    head = b"8=FIX.4.4\x019=" + (str(len(body)).encode() if blen is None else blen) + SOH
    msg = head + body
    if cks is None:
        cks = b"%03d" % (sum(msg) % 256)
    return msg + b"10=" + cks + SOH


def test_encode_layout_and_checksum(fix) -> None:
    raw = fix.encode_message("0", [(49, "A"), (56, "B"), (34, 1)])
    body = b"35=0\x0149=A\x0156=B\x0134=1\x01"
    assert raw.startswith(b"8=FIX.4.4\x019=%d\x01" % len(body) + body)
    assert raw.endswith(b"10=%03d\x01" % (sum(raw[:-7]) % 256))
    msg = fix.parse_message(raw)
    assert msg.msg_type == "0"
    assert msg.fields == ((8, b"FIX.4.4"), (9, b"%d" % len(body)), (35, b"0"), (49, b"A"), (56, b"B"), (34, b"1"),
                          (10, raw[-4:-1]))
    assert msg.get(56) == b"B" and msg.get_int(34) == 1 and msg.get(99) is None and msg.get_str(49) == "A"


def test_format_values(fix) -> None:
    assert fix.format_value(1e-07) == b"0.0000001"
    assert fix.format_value(1.5e20) == b"150000000000000000000"
    assert fix.format_value(True) == b"Y" and fix.format_value(12) == b"12" and fix.format_value("x") == b"x"
    for bad in (float("nan"), float("inf"), "", b"a\x01b"):
        with pytest.raises(ValueError):
            fix.format_value(bad)
    with pytest.raises(TypeError):
        fix.format_value(object())
    with pytest.raises(ValueError):
        fix.encode_message("0", [(10, "1")])
    with pytest.raises(ValueError):
        fix.encode_message("0", [(0, "1")])


def test_zero_padded_body_length_accepted(fix) -> None:
    body = b"35=0\x0149=A\x0156=B\x0134=2\x01"
    raw = _manual(body, blen=b"%06d" % len(body))
    assert fix.parse_message(raw).get(34) == b"2"
    framer = fix.FixFramer()
    assert [m.raw for m in framer.feed(raw)] == [raw]


@pytest.mark.parametrize(
    ("raw", "reason", "tag"),
    [
        (_manual(b"35=0\x0149=A\x01", cks=b"000"), "checksum", 10),
        (_manual(b"35=0\x0149=A\x01", cks=b"12"), "checksum", 10),
        (_manual(b"35=0\x0149=A\x01", blen=b"3"), "body_length", 9),
        (_manual(b"35=0\x0149=A\x01", blen=b"x1"), "body_length", 9),
        (_manual(b"35=0\x0149=\x01"), "empty_value", 49),
        (_manual(b"35=0\x01049=A\x01"), "tag", 0),
        (_manual(b"35=0\x01abc\x01"), "field", 0),
        (_manual(b"49=A\x0135=0\x01"), "msg_type", 35),
        (b"9=5\x018=FIX.4.4\x0135=0\x0110=000\x01", "begin_string", 8),
        (b"8=FOO\x019=5\x0135=0\x0110=000\x01", "begin_string", 8),
        (b"8=FIX.4.4\x019=5\x0135=0\x01", "checksum", 10),
        (b"8=FIX.4.4\x019=5\x0135=0\x0110=000", "truncated", 0),
    ],
)
def test_parse_errors(both, raw: bytes, reason: str, tag: int) -> None:
    for fix in both:
        with pytest.raises(FixParseError) as info:
            fix.parse_message(raw)
        assert (info.value.reason, info.value.tag) == (reason, tag), fix.__name__


def test_too_large(fix) -> None:
    raw = fix.encode_message("0", [(58, "x" * 200)])
    with pytest.raises(FixParseError) as info:
        fix.parse_message(raw, 100)
    assert info.value.reason == "too_large"
    ok = fix.encode_message("0", [(34, 5)])
    framer = fix.FixFramer(max_size=100)
    out = framer.feed(raw + ok)
    assert [m.raw for m in out] == [ok]
    assert framer.dropped_messages == 1 and framer.dropped_bytes == len(raw)
    assert [e.reason for e in framer.take_errors()] == ["too_large"]
    assert framer.take_errors() == []


def test_framer_never_buffers_more_than_max(fix) -> None:
    # a header promising a huge body is rejected as soon as the header is complete
    framer = fix.FixFramer(max_size=1000)
    assert framer.feed(b"8=FIX.4.4\x019=999999999\x0135=0\x01") == []
    assert [e.reason for e in framer.take_errors()] == ["too_large"]
    assert framer.pending < 16
    framer.feed(b"y" * 5000)
    assert framer.pending <= 4


def test_truncation_at_every_byte(fix) -> None:
    raw = fix.encode_message("W", _snapshot_fields(20))
    for k in range(len(raw)):
        with pytest.raises(FixParseError):
            fix.parse_message(raw[:k])
        framer = fix.FixFramer()
        assert framer.feed(raw[:k]) == []
        assert framer.dropped_messages == 0 and framer.dropped_bytes == 0
        got = framer.feed(raw[k:])
        assert [m.raw for m in got] == [raw]
        assert framer.pending == 0


def test_corrupted_byte_detected(fix) -> None:
    raw = fix.encode_message("W", _snapshot_fields(5))
    good = fix.encode_message("0", [(34, 9)])
    for k in range(len(raw)):
        bad = bytearray(raw)
        bad[k] = bad[k] ^ 0x04  # '0'<->'4', 'A'<->'E', SOH -> 0x05: never a no-op
        with pytest.raises(FixParseError):
            fix.parse_message(bytes(bad))
        framer = fix.FixFramer()
        # a corrupted BodyLength may claim more bytes: the framer waits for them, then resyncs
        stream = bytes(bad) + good * 30
        out = framer.feed(stream)
        assert out and all(m.raw == good for m in out)
        assert framer.dropped_messages >= 1 or k < 5  # a broken "8=FIX" is plain garbage
        assert framer.dropped_bytes + len(out) * len(good) + framer.pending == len(stream)


def test_garbage_resync_counted(fix) -> None:
    a = fix.encode_message("0", [(34, 1)])
    b = fix.encode_message("0", [(34, 2)])
    framer = fix.FixFramer()
    out = framer.feed(b"\x00\xffnoise" + a + b"8=FI")
    out += framer.feed(b"Z" + b"more garbage" + b)
    assert [m.get_int(34) for m in out] == [1, 2]
    assert framer.dropped_bytes == len(b"\x00\xffnoise") + len(b"8=FIZmore garbage")
    assert framer.dropped_messages == 0


def test_market_data_snapshot_20(fix) -> None:
    fields = _snapshot_fields(20)
    md = fix.market_data(fix.parse_message(fix.encode_message("W", fields)))
    assert (md.msg_type, md.symbol, md.md_req_id, len(md), md.skipped) == ("W", "ETH-BTC", "req-1", 20, 0)
    want = []
    for i in range(20):
        _, side = fields[7 + 4 * i]
        _, price = fields[8 + 4 * i]
        _, size = fields[9 + 4 * i]
        want.append((0, side, price, size, "ETH-BTC", f"venue{i % 3}"))
    assert md.entries() == want
    assert md.side(1) == 1 and md.price(0) == want[0][2] and md.size(19) == want[19][3]
    assert md.entry_market(4) == "venue1" and md.entry_symbol(3) == "ETH-BTC"
    with pytest.raises(IndexError):
        md.price(20)


def test_market_data_incremental(fix) -> None:
    fields = [(262, "r"), (268, 4)]
    fields += [(279, 0), (269, 0), (55, "ETH-BTC"), (270, "0.065"), (271, "2")]
    fields += [(279, 2), (269, 1), (55, "ETH-BTC"), (270, "0.066")]
    fields += [(279, 1), (269, 2), (270, "0.07"), (271, "1")]  # a trade: skipped
    fields += [(279, 1), (269, 1), (55, "LTC-BTC"), (270, "-.5"), (271, "3."), (207, "X"), (30, "Y")]
    md = fix.market_data(fix.parse_message(fix.encode_message("X", fields)))
    assert md.skipped == 1
    assert md.entries() == [
        (0, 0, 0.065, 2.0, "ETH-BTC", ""),
        (2, 1, 0.066, 0.0, "ETH-BTC", ""),
        (1, 1, -0.5, 3.0, "LTC-BTC", "Y"),
    ]


@pytest.mark.parametrize(
    ("market_fields", "want"),
    [
        ([(275, "binance")], "binance"),  # MDMkt: the field FIX 4.4 defines in the 35=W/35=X entry groups
        ([(30, "last"), (275, "mdmkt"), (207, "exch")], "mdmkt"),  # MDMkt wins over LastMkt wherever it is
        ([(275, "mdmkt"), (30, "last")], "mdmkt"),
        ([(207, "exch"), (30, "last")], "last"),  # LastMkt over SecurityExchange, in any order
        ([(30, "last"), (207, "exch")], "last"),
        ([(207, "exch")], "exch"),
        ([], ""),
    ],
)
def test_market_data_entry_market_precedence(fix, market_fields, want) -> None:
    for mt, lead in (("W", [(269, 0)]), ("X", [(279, 0), (269, 0)])):
        fields = [(262, "r"), (55, "ETH-BTC"), (268, 2), *lead, (270, "1"), (271, "2"), *market_fields,
                  *lead, (270, "0.5"), (271, "1"), (275, "other")]
        md = fix.market_data(fix.parse_message(fix.encode_message(mt, fields)))
        assert [md.entry_market(0), md.entry_market(1)] == [want, "other"], mt


def test_market_data_mdmkt_before_the_first_entry_is_a_group_error(fix) -> None:
    msg = fix.parse_message(fix.encode_message("W", [(268, 1), (275, "x"), (269, 0), (270, 1)]))
    with pytest.raises(FixParseError) as err:
        fix.market_data(msg)
    assert (err.value.reason, err.value.tag) == ("group", 275)


@pytest.mark.parametrize(
    ("mt", "fields", "reason", "tag"),
    [
        ("0", [(268, 0)], "msg_type", 35),
        ("W", [(55, "A")], "group_count", 268),
        ("W", [(268, 2), (269, 0), (270, 1)], "group_count", 268),
        ("W", [(268, 1), (270, 1), (269, 0)], "group", 270),
        ("W", [(268, 1), (269, 0), (271, 1)], "missing", 270),
        ("W", [(268, 1), (269, 0), (270, "1e5")], "value", 270),
        ("W", [(268, 1), (269, 0), (270, "1.2.3")], "value", 270),
        ("W", [(268, 1), (269, 0), (270, "1"), (271, " 1")], "value", 271),
        ("W", [(268, 1), (269, "00"), (270, "1")], "value", 269),
        ("W", [(268, "x")], "value", 268),
        ("X", [(268, 1), (279, 3), (269, 0), (270, "1")], "value", 279),
        ("X", [(268, 1), (279, 0)], "group", 269),
    ],
)
def test_market_data_errors(both, mt: str, fields, reason: str, tag: int) -> None:
    for fix in both:
        msg = fix.parse_message(fix.encode_message(mt, fields))
        with pytest.raises(FixParseError) as info:
            fix.market_data(msg)
        assert (info.value.reason, info.value.tag) == (reason, tag), fix.__name__


# -- hypothesis: round trips, and the two twins agree on anything --------------------------------

_values = st.binary(min_size=1, max_size=12).filter(lambda b: SOH not in b)
_tags = st.integers(min_value=1, max_value=99999).filter(lambda t: t not in (8, 9, 10, 35))
_field_lists = st.lists(st.tuples(_tags, _values), max_size=12)


@settings(max_examples=150, deadline=None)
@given(mt=st.sampled_from(["0", "A", "W", "X", "AE"]), fields=_field_lists)
def test_roundtrip(both, mt: str, fields) -> None:
    raws = {fix.encode_message(mt, fields) for fix in both}
    assert len(raws) == 1
    raw = raws.pop()
    for fix in both:
        msg = fix.parse_message(raw)
        assert msg.msg_type == mt
        assert list(msg.fields[3:-1]) == list(fields)
        assert msg.raw == raw


@settings(max_examples=100, deadline=None)
@given(price=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), size=st.floats(min_value=0, max_value=1e9))
def test_float_roundtrip(both, price: float, size: float) -> None:
    for fix in both:
        raw = fix.encode_message("W", [(55, "S"), (268, 1), (269, 1), (270, price), (271, size)])
        md = fix.market_data(fix.parse_message(raw))
        assert md.entries() == [(0, 1, price, size, "S", "")]


def _outcome(fix, data: bytes):
    try:
        return ("ok", fix.parse_message(data).fields)
    except FixParseError as err:
        return ("err", err.reason, err.tag)


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=80), st.lists(st.sampled_from(
    [b"8=FIX.4.4", b"9=", b"12", b"0", b"35=", b"W", b"10=", b"=", SOH, b"268=", b"269=", b"270=", b"1.5", b"x"]),
    max_size=30).map(b"".join)))
def test_twins_agree_on_arbitrary_bytes(both, data: bytes) -> None:
    outcomes = [_outcome(fix, data) for fix in both]
    assert all(o == outcomes[0] for o in outcomes)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=5),
    junk=st.lists(st.binary(max_size=10), min_size=6, max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=20),
)
def test_framer_chunking(both, n: int, junk: list[bytes], cuts: list[int]) -> None:
    msgs = [both[0].encode_message("0", [(34, i + 1), (58, "x" * (i + 1))]) for i in range(n)]
    stream = b"".join(j.replace(b"8", b"") + m for j, m in zip(junk, msgs, strict=False)) + junk[-1].replace(b"8", b"")
    results = []
    for fix in both:
        framer = fix.FixFramer()
        got = []
        pos = 0
        for c in cuts:
            got += framer.feed(stream[pos : pos + c])
            pos += c
        got += framer.feed(stream[pos:])
        assert [m.raw for m in got] == msgs
        results.append((framer.dropped_bytes, framer.dropped_messages))
    assert all(r == results[0] for r in results)
    assert results[0][0] == sum(len(j.replace(b"8", b"")) for j in junk[: n]) + len(junk[-1].replace(b"8", b""))


_decimal_text = st.builds(
    lambda neg, whole, frac, dot: ("-" if neg else "") + whole + ("." + frac if dot else ""),
    st.booleans(), st.text("0123456789", min_size=1, max_size=20), st.text("0123456789", max_size=25), st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(text=_decimal_text)
def test_price_text_parses_like_float(both, text: str) -> None:
    # bit-identical to float(text), fast path (<= 15 significant digits) or not
    for fix in both:
        raw = fix.encode_message("W", [(55, "S"), (268, 1), (269, 0), (270, text), (271, "1")])
        got = fix.market_data(fix.parse_message(raw)).price(0)
        want = float(text)
        assert got == want and str(got) == str(want), (fix.__name__, text)
