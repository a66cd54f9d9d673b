"""Optional bearer-token check and TLS credentials for the gRPC server and client.

A call must carry the metadata ``authorization: Bearer <token>`` with one of
the server's tokens; one without it (or with another token) ends with
``UNAUTHENTICATED`` before the handler runs, also for a method the server does
not have (a caller without a token learns nothing about what is served).
Health checks (``Check``, ``Watch``) stay open, so probes need no secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc

from ...errors import ConfigError
from .protos import HEALTH_SERVICE

__all__ = ("AUTH_HEADER", "BearerTokenInterceptor", "bearer_metadata", "channel_credentials")

AUTH_HEADER = "authorization"
_OPEN_METHODS = frozenset({f"/{HEALTH_SERVICE}/Check", f"/{HEALTH_SERVICE}/Watch"})


def bearer_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata that carries ``token`` (empty when there is none)."""
    return ((AUTH_HEADER, f"Bearer {token}"),) if token else ()


def _denied(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that refuses the call."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")

    kw = {"request_deserializer": handler.request_deserializer, "response_serializer": handler.response_serializer}
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse, **kw)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, **kw)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse, **kw)
    return grpc.unary_unary_rpc_method_handler(refuse, **kw)


async def _refuse_unknown(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")


#: Answer to a call of a method the server does not have, from a caller without a valid token: any
#: kind of call can be answered by a stream-stream handler (the request bytes are never read).
_DENIED_UNKNOWN = grpc.stream_stream_rpc_method_handler(_refuse_unknown)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuse calls without ``authorization: Bearer <token>`` (constant-time compare).

    Parameters
    ----------
    token : str or sequence of str
        The shared secret, or several (one per caller: :meth:`identify` tells them apart).
    open_methods : sequence of str
        Method paths served without a token (default: the health service's ``Check`` and ``Watch``).

    Attributes
    ----------
    refused : int
        Calls refused with UNAUTHENTICATED.
    """

    def __init__(self, token: str | Sequence[str], *, open_methods: Sequence[str] = tuple(_OPEN_METHODS)) -> None:
        tokens = (token,) if isinstance(token, str) else tuple(token)
        if not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise ConfigError("the bearer token must not be empty")
        self._expected = tuple(f"Bearer {t}".encode() for t in tokens)
        self._open = frozenset(open_methods)
        self.refused = 0

    def identify(self, metadata: Sequence[tuple[str, Any]] | None) -> int | None:
        """Index of the token ``metadata`` carries (in the order given), or None when it carries none of them.

        Every header and every token is compared, in constant time for each pair.
        """
        found = None
        for key, value in metadata or ():
            if key == AUTH_HEADER:
                got = value.encode() if isinstance(value, str) else bytes(value)
                for i, want in enumerate(self._expected):
                    if hmac.compare_digest(got, want) and found is None:
                        found = i
        return found

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler_call_details.method in self._open:
            return handler
        if self.identify(handler_call_details.invocation_metadata) is not None:
            return handler  # None for an unknown method: UNIMPLEMENTED, to a caller with a token only
        self.refused += 1
        return _DENIED_UNKNOWN if handler is None else _denied(handler)


def channel_credentials(ca_file: str | Path | None) -> grpc.ChannelCredentials:
    """TLS channel credentials trusting ``ca_file`` (PEM), or the system roots when None.

    Raises
    ------
    ConfigError
        When the file cannot be read.
    """
    if ca_file is None:
        return grpc.ssl_channel_credentials()
    try:
        roots = Path(ca_file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read CA file {ca_file}: {exc}") from None
    return grpc.ssl_channel_credentials(root_certificates=roots)
