"""Layer 4: listener aggregators (BBO world view, summed liquidity, venue health)."""

from __future__ import annotations

from .bbo import AggregatorConfig, AggregatorStats, BboAggregator

__all__ = ("AggregatorConfig", "AggregatorStats", "BboAggregator")
