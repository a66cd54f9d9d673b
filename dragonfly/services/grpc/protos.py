"""The generated protobuf/gRPC modules under stable names, and the method paths.

The modules are generated from ``proto/`` at build time (``setup.py``) into
``_gen/``; import them from here so the rest of the package never spells the
generated layout.
"""

from __future__ import annotations

from ._gen import orderbook_pb2, orderbook_pb2_grpc
from ._gen.dragonfly.v1 import aggregator_pb2, aggregator_pb2_grpc, book_pb2, execution_pb2, execution_pb2_grpc

__all__ = (
    "AGGREGATOR_SERVICE",
    "BOOK_SUMMARY",
    "EXECUTION_SERVICE",
    "HEALTH_SERVICE",
    "LIST_INSTRUMENTS",
    "ORDERBOOK_SERVICE",
    "STREAM_BOOK",
    "STREAM_LIQUIDITY",
    "aggregator_pb2",
    "aggregator_pb2_grpc",
    "book_pb2",
    "execution_pb2",
    "execution_pb2_grpc",
    "orderbook_pb2",
    "orderbook_pb2_grpc",
)

#: Full service names, as used by health checking and reflection.
ORDERBOOK_SERVICE = orderbook_pb2.DESCRIPTOR.services_by_name["OrderbookAggregator"].full_name
AGGREGATOR_SERVICE = aggregator_pb2.DESCRIPTOR.services_by_name["Aggregator"].full_name
EXECUTION_SERVICE = execution_pb2.DESCRIPTOR.services_by_name["Execution"].full_name
HEALTH_SERVICE = "grpc.health.v1.Health"

#: Method paths (``/package.Service/Method``).
BOOK_SUMMARY = f"/{ORDERBOOK_SERVICE}/BookSummary"
STREAM_BOOK = f"/{AGGREGATOR_SERVICE}/StreamBook"
STREAM_LIQUIDITY = f"/{AGGREGATOR_SERVICE}/StreamLiquidity"
LIST_INSTRUMENTS = f"/{AGGREGATOR_SERVICE}/ListInstruments"
