"""gRPC service (layer 5): ``orderbook.OrderbookAggregator`` and ``dragonfly.v1.Aggregator``.

Server: :class:`GrpcServer` over :class:`ServedBook`\\ s (one per instrument); client: :class:`BookClient`.
The protobuf modules are generated from ``proto/`` at build time into ``_gen/``.
"""

from __future__ import annotations

from .client import BookClient, BookRenderer, BookSnapshot, GrpcClientConfig, parse_address
from .server import (
    BindError,
    GrpcServer,
    GrpcServerConfig,
    GrpcServerStats,
    ServedBook,
    StreamStats,
    SubscriberStats,
)

__all__ = (
    "BindError",
    "BookClient",
    "BookRenderer",
    "BookSnapshot",
    "GrpcClientConfig",
    "GrpcServer",
    "GrpcServerConfig",
    "GrpcServerStats",
    "ServedBook",
    "StreamStats",
    "SubscriberStats",
    "parse_address",
)
