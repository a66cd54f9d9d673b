"""The planner: split one order across venues by walking the consolidated liquidity.

:func:`plan_order` takes the side of the summed-liquidity book an order would take (the bids of a
:class:`~dragonfly.model.LiquidityView` for a sell, its asks for a buy: ``(price, total, {venue: qty})``
best first) and each venue's :class:`VenueRules` (taker fee, minimum size, lot and tick size, the most
one order may carry, the balance available there). Every venue's quantity at every price becomes a
slice whose cost includes that venue's fee; slices are taken best first (after fees) within each
venue's cap; each venue's total is then cut to its lot, dropped below its minimum, and what that
left is topped up from the next best slices. The :class:`Plan` gives the children (one per venue,
an immediate-or-cancel limit at the worst price it reaches, on the venue's tick), the expected
average price with and without fees, and the comparison with the best single venue: the same
walk restricted to one venue, the venue that fills the most (then the cheapest), compared on the
quantity both fill.

Pure functions over plain data: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ...errors import ConfigError

__all__ = ("Child", "Plan", "VenueRules", "plan_order")

_EPS = 1e-12
BUY, SELL = "buy", "sell"


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueRules:
    """What one venue allows an order of one instrument.

    Parameters
    ----------
    taker_fee : float
        Fee rate on the notional (0.001 = 0.1 %).
    min_qty : float
        Smallest order (base asset); a venue's share below it is dropped.
    lot : float
        Quantity step (0: any quantity).
    tick : float
        Price step of limit prices (0: any price).
    max_qty : float
        Most one order may carry there.
    balance : float
        Available there: base asset for a sell, quote asset for a buy (inf: not limited).
    """

    taker_fee: float = 0.0
    min_qty: float = 0.0
    lot: float = 0.0
    tick: float = 0.0
    max_qty: float = math.inf
    balance: float = math.inf

    def __post_init__(self) -> None:
        for name in ("taker_fee", "min_qty", "lot", "tick"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.taker_fee >= 0.1:
            raise ConfigError(f"taker_fee is a rate (0.001 = 0.1 %), got {self.taker_fee!r}")
        for name in ("max_qty", "balance"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0) or math.isnan(v):
                raise ConfigError(f"{name} must be >= 0, got {v!r}")


@dataclass(frozen=True, slots=True)
class Child:
    """One venue's share of a plan: ``qty`` as an immediate-or-cancel limit at ``limit_price``.

    ``levels`` are the ``(price, qty)`` it is expected to take; ``avg_price`` their average (no fee).
    """

    venue: str
    qty: float
    limit_price: float
    avg_price: float
    levels: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What :func:`plan_order` found.

    Attributes
    ----------
    side : str
    qty : float
        Asked.
    filled : float
        What the children add up to (``qty - filled`` cannot be had within the limits).
    children : tuple of Child
        Best venue first.
    avg_price, net_avg_price : float
        Expected average price, without and with fees (0.0 when nothing fills).
    best_venue : str
        The best single venue ("" when none has liquidity).
    best_venue_filled, best_venue_net_avg : float
        What it alone would fill, and at what average (with fees).
    compared_qty : float
        The quantity both fill (the plan's best ``compared_qty`` units against the venue's).
    saving : float
        Quote currency saved on ``compared_qty`` against the best single venue (positive: better).
    improvement_bps : float
        ``saving`` relative to the single venue's cost, in basis points.
    """

    side: str
    qty: float
    filled: float
    children: tuple[Child, ...]
    avg_price: float
    net_avg_price: float
    best_venue: str = ""
    best_venue_filled: float = 0.0
    best_venue_net_avg: float = 0.0
    compared_qty: float = 0.0
    saving: float = 0.0
    improvement_bps: float = 0.0
    venues_used: tuple[str, ...] = field(default=())


def _floor_to(x: float, step: float) -> float:
    if step <= 0:
        return x
    return round(math.floor(x / step + 1e-9) * step, 12)


def _slices(side: str, levels: Iterable[Sequence[object]], rules: Mapping[str, VenueRules],
            limit: float | None) -> list[tuple[float, float, str, float]]:
    """``(net price, price, venue, qty)`` for every venue at every price, best first after fees."""
    buy = side == BUY
    out = []
    for level in levels:
        price = float(level[0])  # type: ignore[arg-type]
        if limit is not None and (price > limit if buy else price < limit):
            break
        per_venue: Mapping[str, float] = level[2]  # type: ignore[assignment]
        for venue, qty in per_venue.items():
            r = rules.get(venue)
            if r is None or qty <= 0:
                continue
            net = price * (1 + r.taker_fee) if buy else price * (1 - r.taker_fee)
            out.append((net, price, venue, float(qty)))
    out.sort(key=lambda s: (s[0] if buy else -s[0], s[1] if buy else -s[1], s[2]))
    return out


def _cap(side: str, r: VenueRules, price: float, used_qty: float, used_quote: float) -> float:
    """More quantity the venue can take at ``price``."""
    room = r.max_qty - used_qty
    if side == SELL:
        room = min(room, r.balance - used_qty)
    elif math.isfinite(r.balance):
        room = min(room, (r.balance - used_quote) / (price * (1 + r.taker_fee)))
    return max(0.0, room)


def _walk(side: str, qty: float, slices: list[tuple[float, float, str, float]],
          rules: Mapping[str, VenueRules]) -> dict[str, list[tuple[float, float]]]:
    """Greedy allocation best first, then lots, minimums and a top-up: venue -> [(price, qty)]."""
    taken: dict[str, list[tuple[float, float]]] = {}
    used: dict[str, tuple[float, float]] = {}
    full: set[str] = set()  # venues at their cap: skipped without a look
    for _round in range(3):
        total = math.fsum(q for lv in taken.values() for _, q in lv)
        left = qty - total
        if left <= _EPS:
            break
        at: dict[tuple[str, float], float] = {}
        for venue, lv in taken.items():
            for p, q in lv:
                at[venue, p] = at.get((venue, p), 0.0) + q
        for _net, price, venue, avail in slices:
            if left <= _EPS:
                break
            if venue in full:
                continue
            r = rules[venue]
            uq, uquote = used.get(venue, (0.0, 0.0))
            avail -= at.get((venue, price), 0.0)
            if avail <= _EPS:
                continue
            cap = _cap(side, r, price, uq, uquote)
            if cap <= _EPS:
                full.add(venue)
                continue
            take = min(avail, left, cap)
            taken.setdefault(venue, []).append((price, take))
            used[venue] = (uq + take, uquote + take * price * (1 + r.taker_fee))
            left -= take
        full.clear()
        # cut each venue to its lot and minimum; what that frees is topped up next round
        for venue in list(taken):
            r = rules[venue]
            levels = _merge(taken[venue])
            total_v = math.fsum(q for _, q in levels)
            keep = _floor_to(total_v, r.lot)
            if keep < r.min_qty - _EPS or keep <= _EPS:
                keep = 0.0
            if keep < total_v - _EPS:
                levels = _trim(levels, keep)
                used[venue] = (keep, math.fsum(p * q for p, q in levels) * (1 + r.taker_fee))
                # a venue cut back is not offered more at those prices by the top-up: cap it where it is
                rules = {**rules, venue: _capped(r, keep)}
            if levels:
                taken[venue] = levels
            else:
                del taken[venue]
    return taken


def _capped(r: VenueRules, qty: float) -> VenueRules:
    return VenueRules(taker_fee=r.taker_fee, min_qty=r.min_qty, lot=r.lot, tick=r.tick, max_qty=qty,
                      balance=r.balance)


def _merge(levels: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: dict[float, float] = {}
    for p, q in levels:
        out[p] = out.get(p, 0.0) + q
    return list(out.items())


def _trim(levels: list[tuple[float, float]], keep: float) -> list[tuple[float, float]]:
    """The first ``keep`` of ``levels`` (in their order: best first)."""
    out = []
    left = keep
    for p, q in levels:
        if left <= _EPS:
            break
        t = min(q, left)
        out.append((p, round(t, 12)))
        left -= t
    return out


def _limit_price(side: str, worst: float, tick: float, limit: float | None) -> float:
    if tick > 0:
        steps = worst / tick
        worst = round((math.floor(steps + 1e-9) if side == SELL else math.ceil(steps - 1e-9)) * tick, 12)
    if limit is not None:
        worst = max(worst, limit) if side == SELL else min(worst, limit)
    return worst


def _prefix_cost(side: str, units: list[tuple[float, float, float]], q: float) -> float:
    """Cost (with fees) of the best ``q`` of ``units`` ``(net price, price, qty)``, sorted best first."""
    cost = 0.0
    left = q
    for net, _p, qty in sorted(units, key=lambda u: u[0] if side == BUY else -u[0]):
        if left <= _EPS:
            break
        t = min(qty, left)
        cost += t * net
        left -= t
    return cost


def plan_order(side: str, qty: float, levels: Sequence[Sequence[object]], rules: Mapping[str, VenueRules], *,
               limit: float | None = None, compare: bool = True) -> Plan:
    """Plan ``qty`` on ``side`` over ``levels`` (see the module notes).

    Parameters
    ----------
    side : {"buy", "sell"}
    qty : float
    levels : sequence of ``(price, total, {venue: qty})``
        The side of the summed-liquidity book the order takes, best first (asks for a buy, bids for a sell).
    rules : Mapping[str, VenueRules]
        Only these venues are used.
    limit : float or None
        Worst price accepted.
    compare : bool
        Also compute the best single venue (a walk per venue).
    """
    if side not in (BUY, SELL):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    if not (math.isfinite(qty) and qty > 0):
        raise ValueError(f"qty must be a positive number, got {qty!r}")
    slices = _slices(side, levels, rules, limit)
    taken = _walk(side, qty, slices, rules)
    children = []
    units: list[tuple[float, float, float]] = []
    for venue, lv in taken.items():
        r = rules[venue]
        q = math.fsum(x for _, x in lv)
        avg = math.fsum(p * x for p, x in lv) / q
        worst = max(p for p, _ in lv) if side == BUY else min(p for p, _ in lv)
        children.append(Child(venue, round(q, 12), _limit_price(side, worst, r.tick, limit), avg, tuple(lv)))
        fee = r.taker_fee
        units += [(p * (1 + fee) if side == BUY else p * (1 - fee), p, x) for p, x in lv]
    children.sort(key=lambda c: (c.avg_price if side == BUY else -c.avg_price, c.venue))
    filled = math.fsum(c.qty for c in children)
    gross = math.fsum(p * x for _, p, x in units)
    net = math.fsum(n * x for n, _, x in units)
    plan = Plan(side=side, qty=qty, filled=filled, children=tuple(children),
                avg_price=gross / filled if filled else 0.0, net_avg_price=net / filled if filled else 0.0,
                venues_used=tuple(c.venue for c in children))
    if not compare or not filled:
        return plan
    best: tuple[float, float, str] | None = None  # (-filled, net avg signed, venue)
    singles: dict[str, Plan] = {}
    for venue in sorted({s[2] for s in slices}):
        single = plan_order(side, qty, levels, {venue: rules[venue]}, limit=limit, compare=False)
        if not single.filled:
            continue
        singles[venue] = single
        key = (-single.filled, single.net_avg_price if side == BUY else -single.net_avg_price, venue)
        if best is None or key < best:
            best = key
    if best is None:
        return plan
    venue = best[2]
    single = singles[venue]
    cq = min(filled, single.filled)
    fee = rules[venue].taker_fee
    single_units = [(p * (1 + fee) if side == BUY else p * (1 - fee), p, x) for c in single.children
                    for p, x in c.levels]
    ours = _prefix_cost(side, units, cq)
    theirs = _prefix_cost(side, single_units, cq)
    saving = theirs - ours if side == BUY else ours - theirs
    return Plan(side=side, qty=qty, filled=filled, children=plan.children, avg_price=plan.avg_price,
                net_avg_price=plan.net_avg_price, best_venue=venue, best_venue_filled=single.filled,
                best_venue_net_avg=single.net_avg_price, compared_qty=cq, saving=saving,
                improvement_bps=saving / theirs * 1e4 if theirs else 0.0, venues_used=plan.venues_used)
