"""Order sourcing for a promise: which hubs supply which units (pure).

A strategy gets the order's lines and the candidate hubs that can keep the
chosen promise (in range of a mode that carries the cart, in time, with a slot
left), each with the units it may promise (on hand, less reserved, less its
safety stock) and the cost of one shipment from it. It answers a plan or the
lines no combination of hubs can fill.

Strategies are named and registered, so the policy can be swapped by setting
``HUBFLOW_PROMISE_STRATEGY``; their parameters come from the settings too.

``lowest_cost`` (the default): one hub for the whole order whenever some hub
can serve it (the cheapest such hub); otherwise the fewest hubs, found by an
exact search over groups of up to ``exact_split_max`` hubs among the
``exact_search_hubs`` cheapest candidates, and a greedy set cover beyond that.
Among groups of the same size it minimises the shipment costs plus
``split_penalty`` per extra hub; fewer hubs always wins over a cheaper split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hubflow.inventory.model import StockRequest

__all__ = [
    "STRATEGIES",
    "Candidate",
    "LowestCost",
    "NearestFirst",
    "Plan",
    "Shortfall",
    "Strategy",
    "StrategyParams",
    "get_strategy",
    "register",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    hub_id: str
    distance_km: float
    cost: float  # one shipment from this hub for the chosen option
    available: Mapping[str, int]  # product -> units this hub may promise

    def key(self) -> tuple[float, float, str]:
        return (self.cost, self.distance_km, self.hub_id)


@dataclass(frozen=True)
class Plan:
    requests: list[StockRequest]
    hubs: tuple[str, ...]
    cost: float


@dataclass(frozen=True)
class Shortfall:
    """Lines the candidates together cannot fill: product -> (wanted, available)."""

    lines: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class StrategyParams:
    split_penalty: float = 500.0
    exact_split_max: int = 3
    exact_search_hubs: int = 16


class Strategy(Protocol):
    name: str

    def plan(
        self, lines: Mapping[str, int], candidates: Sequence[Candidate], params: StrategyParams
    ) -> Plan | Shortfall: ...


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    STRATEGIES[strategy.name] = strategy
    return strategy


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown sourcing strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}"
        ) from None


# -- shared pieces ----------------------------------------------------------------------------


def shortfall(lines: Mapping[str, int], candidates: Sequence[Candidate]) -> Shortfall | None:
    totals = {p: sum(c.available.get(p, 0) for c in candidates) for p in lines}
    short = {p: (q, totals[p]) for p, q in lines.items() if totals[p] < q}
    return Shortfall(short) if short else None


def covers(group: Sequence[Candidate], lines: Mapping[str, int]) -> bool:
    return all(sum(c.available.get(p, 0) for c in group) >= q for p, q in lines.items())


def allocate(group: Sequence[Candidate], lines: Mapping[str, int], penalty: float) -> Plan:
    """Fill each line from the cheapest hub of the group first."""
    ordered = sorted(group, key=Candidate.key)
    out: list[StockRequest] = []
    for product in sorted(lines):
        left = lines[product]
        for c in ordered:
            take = min(left, c.available.get(product, 0))
            if take > 0:
                out.append(StockRequest(c.hub_id, product, take))
                left -= take
            if left == 0:
                break
    used = {r.hub_id for r in out}
    hubs = tuple(c.hub_id for c in ordered if c.hub_id in used)
    cost = sum(c.cost for c in ordered if c.hub_id in used) + penalty * (len(hubs) - 1)
    return Plan(out, hubs, cost)


def greedy_cover(candidates: Sequence[Candidate], lines: Mapping[str, int]) -> list[Candidate]:
    """Set-cover heuristic: add the hub filling the most missing units (cheapest on ties),
    then drop any hub the others make redundant. The candidates must cover the lines."""
    missing = dict(lines)
    chosen: list[Candidate] = []
    pool = sorted(candidates, key=Candidate.key)
    while any(missing.values()):
        best = max(
            (c for c in pool if c not in chosen),
            key=lambda c: sum(min(c.available.get(p, 0), q) for p, q in missing.items()),
        )
        chosen.append(best)
        for p in missing:
            missing[p] = max(0, missing[p] - best.available.get(p, 0))
    for c in sorted(chosen, key=Candidate.key, reverse=True):
        rest = [x for x in chosen if x is not c]
        if rest and covers(rest, lines):
            chosen = rest
    return chosen


# -- strategies -------------------------------------------------------------------------------


class LowestCost:
    """One hub if any can serve the order (the cheapest); else the fewest, then cheapest."""

    name = "lowest_cost"

    def plan(
        self, lines: Mapping[str, int], candidates: Sequence[Candidate], params: StrategyParams
    ) -> Plan | Shortfall:
        short = shortfall(lines, candidates)
        if short is not None:
            return short
        pool = sorted(
            (c for c in candidates if any(c.available.get(p, 0) > 0 for p in lines)),
            key=Candidate.key,
        )
        for c in pool:  # cheapest first: the first hub that covers is the best single
            if all(c.available.get(p, 0) >= q for p, q in lines.items()):
                return allocate((c,), lines, params.split_penalty)
        best = _exact_split(lines, pool[: params.exact_search_hubs], params)
        if best is not None:
            return best
        return allocate(greedy_cover(pool, lines), lines, params.split_penalty)


def _exact_split(
    lines: Mapping[str, int], pool: Sequence[Candidate], params: StrategyParams
) -> Plan | None:
    """The cheapest group of the smallest size (2..exact_split_max) that covers the lines.

    A branch and bound over groups in lexicographic order of the cost-sorted pool: a
    branch stops once its cost plus the cheapest possible rest reaches the best group
    found, or once the hubs left cannot hold every line somewhere. Among groups of equal
    cost the first in that order wins, so the plan is deterministic.
    """
    products = sorted(lines)
    wanted = [lines[p] for p in products]
    n = len(pool)
    stock = [[c.available.get(p, 0) for p in products] for c in pool]
    costs = [c.cost for c in pool]
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    full = (1 << len(products)) - 1
    # Lines each hub holds at least one unit of: a group must hold every line somewhere.
    masks = [sum(1 << j for j, q in enumerate(row) if q > 0) for row in stock]
    rest = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        rest[i] = rest[i + 1] | masks[i]
    line_idx = range(len(wanted))

    def covers(group: list[int]) -> bool:
        for j in line_idx:
            need, have = wanted[j], 0
            for i in group:
                have += stock[i][j]
                if have >= need:
                    break
            else:
                return False
        return True

    best_cost = math.inf
    best: tuple[int, ...] | None = None
    chosen: list[int] = []

    def search(start: int, left: int, cost: float, mask: int) -> None:
        nonlocal best_cost, best
        for i in range(start, n - left + 1):
            c = cost + costs[i]
            # The cheapest completion takes the next left-1 hubs of the sorted pool.
            if c + prefix[i + left] - prefix[i + 1] >= best_cost:
                break
            m = mask | masks[i]
            chosen.append(i)
            if left == 1:
                if m == full and covers(chosen):
                    best_cost, best = c, tuple(chosen)
            elif m | rest[i + 1] == full:
                search(i + 1, left - 1, c, m)
            chosen.pop()

    for k in range(2, min(params.exact_split_max, n) + 1):
        search(0, k, 0.0, 0)
        if best is not None:
            return allocate([pool[i] for i in best], lines, params.split_penalty)
    return None


class NearestFirst:
    """Like ``lowest_cost`` but ranks hubs by distance instead of shipment cost."""

    name = "nearest_first"

    def plan(
        self, lines: Mapping[str, int], candidates: Sequence[Candidate], params: StrategyParams
    ) -> Plan | Shortfall:
        ranked = [
            Candidate(c.hub_id, c.distance_km, c.distance_km, c.available) for c in candidates
        ]
        result = LowestCost().plan(lines, ranked, params)
        if isinstance(result, Shortfall):
            return result
        by_id = {c.hub_id: c for c in candidates}
        real = sum(by_id[h].cost for h in result.hubs)
        return Plan(
            result.requests, result.hubs, real + params.split_penalty * (len(result.hubs) - 1)
        )


register(LowestCost())
register(NearestFirst())
