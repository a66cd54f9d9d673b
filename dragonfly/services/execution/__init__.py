"""Layer 5: the execution engine -- split a large order across venues' liquidity, send the children
through order-entry clients, report fills; entry points over FIX (35=D/35=F -> 35=8) and gRPC
(``dragonfly.v1.Execution``).

- :mod:`.planner`: :func:`plan_order` over a summed-liquidity side and each venue's :class:`VenueRules`.
- :mod:`.engine`: :class:`ExecutionEngine` (risk controls, children, re-planning, kill switch).
- :mod:`.fix`: :class:`FixOrderServer`, FIX 4.4 order entry for legacy customers.
- :mod:`.grpc_service`: :class:`ExecutionGrpcServer`, ``dragonfly.v1.Execution``.
"""

from __future__ import annotations

from .engine import (
    ExecType,
    ExecutionConfig,
    ExecutionEngine,
    ExecutionError,
    ExecutionReport,
    OrdStatus,
    ParentRequest,
    RiskLimits,
    Route,
)
from .planner import Child, Plan, VenueRules, plan_order

__all__ = (
    "Child",
    "ExecType",
    "ExecutionConfig",
    "ExecutionEngine",
    "ExecutionError",
    "ExecutionReport",
    "OrdStatus",
    "ParentRequest",
    "Plan",
    "RiskLimits",
    "Route",
    "VenueRules",
    "plan_order",
)
