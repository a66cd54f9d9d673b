"""The planner: fees, minimum size, lots, ticks, caps and balances, and the comparison with the
best single venue, on hand-made books whose answers are worked out in the comments."""

from __future__ import annotations

import math

import pytest

from dragonfly.errors import ConfigError
from dragonfly.services.execution.planner import VenueRules, plan_order

# bids of a summed book: (price, total, {venue: qty}), best first
BIDS = [
    (100.0, 3.0, {"a": 1.0, "b": 2.0}),
    (99.0, 4.0, {"a": 4.0}),
    (98.0, 5.0, {"b": 5.0}),
]
FREE = {"a": VenueRules(), "b": VenueRules()}


def test_sell_walks_the_consolidated_bids_best_first() -> None:
    plan = plan_order("sell", 6.0, BIDS, FREE)
    kids = {c.venue: c for c in plan.children}
    # 100 x (1 a + 2 b), then 99 x 3 a
    assert kids["a"].qty == pytest.approx(4.0) and kids["a"].limit_price == 99.0
    assert kids["b"].qty == pytest.approx(2.0) and kids["b"].limit_price == 100.0
    assert plan.filled == pytest.approx(6.0)
    assert plan.avg_price == pytest.approx((300 + 297) / 6)
    # alone, a fills 5 (1 @100 + 4 @99), b fills 6 (2 @100 + 4 @98): b is the best single venue (fills more)
    assert plan.best_venue == "b" and plan.best_venue_filled == pytest.approx(6.0)
    assert plan.compared_qty == pytest.approx(6.0)
    assert plan.saving == pytest.approx(597 - (200 + 392))
    assert plan.improvement_bps == pytest.approx(5 / 592 * 1e4)


def test_fees_reorder_the_venues() -> None:
    rules = {"a": VenueRules(taker_fee=0.02), "b": VenueRules(taker_fee=0.0)}
    plan = plan_order("sell", 2.0, BIDS, rules)
    # net: b 100, a 98 at 100 and 97.02 at 99: b's two at 100 come first
    assert [(c.venue, c.qty) for c in plan.children] == [("b", 2.0)]
    assert plan.net_avg_price == pytest.approx(100.0)
    plan = plan_order("sell", 3.0, BIDS, rules)
    kids = {c.venue: c.qty for c in plan.children}
    assert kids == {"b": 2.0, "a": 1.0}  # a at 100 (net 98) before b at 98 (net 98: tie on net, higher price)
    assert plan.net_avg_price == pytest.approx((200 + 98) / 3)


def test_buy_takes_asks_up_to_the_limit() -> None:
    asks = [(10.0, 1.0, {"a": 1.0}), (11.0, 2.0, {"b": 2.0}), (12.0, 9.0, {"a": 9.0})]
    plan = plan_order("buy", 5.0, asks, FREE, limit=11.0)
    assert plan.filled == pytest.approx(3.0)
    assert {c.venue: c.limit_price for c in plan.children} == {"a": 10.0, "b": 11.0}


def test_lots_and_minimum_sizes() -> None:
    rules = {"a": VenueRules(lot=0.5), "b": VenueRules(min_qty=3.0)}
    plan = plan_order("sell", 2.7, BIDS, rules)
    kids = {c.venue: c.qty for c in plan.children}
    # greedy: a 1 @100, b 1.7 @100 -> b below its minimum of 3 is dropped; a tops up to 2.5 (lot 0.5)
    assert kids == {"a": 2.5}
    assert all(math.isclose(q / 0.5, round(q / 0.5)) for q in kids.values())
    rules = {"a": VenueRules(lot=1.0), "b": VenueRules(lot=1.0)}
    plan = plan_order("sell", 6.5, BIDS, rules)
    assert plan.filled == pytest.approx(6.0)  # 6.5 is not on any lot grid: 6 it is
    assert all(c.qty == int(c.qty) for c in plan.children)


def test_caps_and_balances() -> None:
    rules = {"a": VenueRules(max_qty=2.0), "b": VenueRules(balance=1.5)}
    plan = plan_order("sell", 10.0, BIDS, rules)
    assert {c.venue: c.qty for c in plan.children} == {"a": 2.0, "b": 1.5}
    # a buy's balance is quote currency, fees included
    asks = [(10.0, 5.0, {"a": 5.0})]
    plan = plan_order("buy", 5.0, asks, {"a": VenueRules(balance=30.0, taker_fee=0.0)})
    assert plan.filled == pytest.approx(3.0)


def test_tick_rounds_the_child_limit_toward_the_market() -> None:
    bids = [(100.07, 1.0, {"a": 1.0}), (99.93, 1.0, {"a": 1.0})]
    plan = plan_order("sell", 2.0, bids, {"a": VenueRules(tick=0.1)})
    assert plan.children[0].limit_price == pytest.approx(99.9)
    asks = [(100.07, 1.0, {"a": 1.0})]
    assert plan_order("buy", 1.0, asks, {"a": VenueRules(tick=0.1)}).children[0].limit_price == pytest.approx(100.1)


def test_nothing_to_take() -> None:
    plan = plan_order("sell", 1.0, BIDS, {"c": VenueRules()})
    assert plan.filled == 0 and not plan.children and plan.best_venue == ""
    with pytest.raises(ValueError):
        plan_order("sell", 0.0, BIDS, FREE)
    with pytest.raises(ConfigError):
        VenueRules(taker_fee=-1)
