"""Order sourcing: which hubs supply which units (pure).

Policy for now: the nearest open hub that holds every line; otherwise a split
across the fewest open hubs (exact up to ``EXACT_SPLIT_MAX`` hubs, greedy
beyond), preferring nearby hubs. Hubs that are closed now are used only when the
open hubs together cannot serve the order; it then waits for them to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from hubflow.inventory.model import StockRequest

__all__ = ["Candidate", "Shortfall", "plan_sourcing"]

EXACT_SPLIT_MAX = 3
EXACT_SEARCH_HUBS = 16


@dataclass(frozen=True)
class Candidate:
    hub_id: str
    distance_km: float
    open_now: bool
    available: dict[str, int]

    def rank(self) -> tuple[bool, float, str]:
        return (not self.open_now, self.distance_km, self.hub_id)


@dataclass(frozen=True)
class Shortfall:
    """Lines that no combination of hubs can fill: product -> (wanted, available)."""

    lines: dict[str, tuple[int, int]]


def _covers(group: tuple[Candidate, ...], lines: dict[str, int]) -> bool:
    return all(sum(c.available.get(p, 0) for c in group) >= q for p, q in lines.items())


def _allocate(group: tuple[Candidate, ...], lines: dict[str, int]) -> list[StockRequest]:
    """Fill each line from the best-ranked hub of the group first."""
    out = []
    for product, qty in sorted(lines.items()):
        left = qty
        for c in sorted(group, key=Candidate.rank):
            take = min(left, c.available.get(product, 0))
            if take > 0:
                out.append(StockRequest(c.hub_id, product, take))
                left -= take
            if left == 0:
                break
    return out


def _group_cost(group: tuple[Candidate, ...]) -> tuple[int, float]:
    return (sum(not c.open_now for c in group), sum(c.distance_km for c in group))


def plan_sourcing(
    lines: dict[str, int], candidates: list[Candidate]
) -> list[StockRequest] | Shortfall:
    ranked = sorted(candidates, key=Candidate.rank)
    totals = {p: sum(c.available.get(p, 0) for c in ranked) for p in lines}
    short = {p: (q, totals[p]) for p, q in lines.items() if totals[p] < q}
    if short:
        return Shortfall(short)
    open_now = [c for c in ranked if c.open_now]
    if open_now and _covers(tuple(open_now), lines):
        return _plan_within(open_now, lines)
    return _plan_within(ranked, lines)


def _plan_within(ranked: list[Candidate], lines: dict[str, int]) -> list[StockRequest]:
    """Fewest hubs from ``ranked`` (which together cover ``lines``), best-ranked first."""
    for c in ranked:
        if _covers((c,), lines):
            return _allocate((c,), lines)
    pool = ranked[:EXACT_SEARCH_HUBS]
    for k in range(2, min(EXACT_SPLIT_MAX, len(pool)) + 1):
        groups = [g for g in combinations(pool, k) if _covers(g, lines)]
        if groups:
            return _allocate(min(groups, key=_group_cost), lines)
    return _greedy(ranked, lines)


def _greedy(ranked: list[Candidate], lines: dict[str, int]) -> list[StockRequest]:
    """Set-cover heuristic: repeatedly add the hub that fills the most missing units."""
    missing = dict(lines)
    chosen: list[Candidate] = []
    while any(missing.values()):
        best = max(
            (c for c in ranked if c not in chosen),
            key=lambda c: (
                sum(min(c.available.get(p, 0), q) for p, q in missing.items()),
                [-x for x in (not c.open_now, c.distance_km)],
            ),
        )
        chosen.append(best)
        for p in missing:
            missing[p] = max(0, missing[p] - best.available.get(p, 0))
    return _allocate(tuple(chosen), lines)
