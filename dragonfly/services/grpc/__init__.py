"""gRPC service (layer 5): ``orderbook.OrderbookAggregator`` and ``dragonfly.v1.Aggregator``.

Server: :class:`GrpcServer` over :class:`Feed`\\ s; client: :class:`BookClient`.
The protobuf modules are generated from ``proto/`` at build time into ``_gen/``.
"""

from __future__ import annotations

from .client import BookClient, BookRenderer, BookSnapshot, GrpcClientConfig, parse_address
from .server import BindError, Feed, GrpcServer, GrpcServerConfig, StreamStats, SubscriberStats

__all__ = (
    "BindError",
    "BookClient",
    "BookRenderer",
    "BookSnapshot",
    "Feed",
    "GrpcClientConfig",
    "GrpcServer",
    "GrpcServerConfig",
    "StreamStats",
    "SubscriberStats",
    "parse_address",
)
