"""summarize_error: the one way layer 1 turns an exception into text (type, status, OS error, host; no secrets)."""

from __future__ import annotations

import asyncio
import errno

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from dragonfly.clients import summarize_error
from dragonfly.errors import VenueConnectionError

SECRET = "secret-key-123"


def _handshake_error(status: int) -> aiohttp.WSServerHandshakeError:
    url = URL("wss://stream.example.com:9443/ws/btcusdt@depth?signature=abc&listenKey=k")
    headers = CIMultiDictProxy(CIMultiDict({"X-MBX-APIKEY": SECRET, "Host": "stream.example.com"}))
    info = aiohttp.RequestInfo(url, "GET", headers, url)
    return aiohttp.WSServerHandshakeError(info, (), status=status, message="Invalid response status",
                                          headers=headers)


def test_aiohttp_handshake_error_keeps_type_status_host_only() -> None:
    exc = _handshake_error(401)
    assert SECRET in repr(exc) and "signature=abc" in str(exc)  # what we must not pass on
    text = summarize_error(exc)
    assert text == "WSServerHandshakeError (HTTP 401) at stream.example.com:9443"


@pytest.mark.parametrize(("exc", "want"), [
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "ConnectionRefusedError [ECONNREFUSED]"),
    (ConnectionResetError(errno.ECONNRESET, f"reset {SECRET}"), "ConnectionResetError [ECONNRESET]"),
    (asyncio.TimeoutError(), "TimeoutError"),
    (ValueError(f"token={SECRET}"), "ValueError"),
    (OSError("no errno"), "OSError"),
])
def test_foreign_exceptions_lose_their_text(exc: BaseException, want: str) -> None:
    assert summarize_error(exc) == want
    assert summarize_error(exc, host="h:1") == want + " at h:1"


def test_dragonfly_errors_keep_their_message() -> None:
    exc = VenueConnectionError("binance: connect failed: TimeoutError", venue="binance")
    assert summarize_error(exc) == "binance: connect failed: TimeoutError"
    assert summarize_error(exc, host="h:1") == "binance: connect failed: TimeoutError at h:1"
    assert summarize_error(VenueConnectionError("")) == "VenueConnectionError"


def test_status_that_is_not_an_int_is_ignored() -> None:
    class Odd(Exception):
        status = "401 secret"
        host = 5

    assert summarize_error(Odd()) == "Odd"


def test_redact_removes_every_secret_a_peer_echoed() -> None:
    from dragonfly.clients.base import redact

    text = "logon refused: invalid password hunter22 (hunter22) for key ABCD-1234"
    assert redact(text, ["hunter22", None, "ABCD-1234"]) == "logon refused: invalid password *** (***) for key ***"
    assert redact("a 1 b", ["1", ""]) == "a 1 b"  # too short to be a secret: left alone
