"""Picker routing: route length against the exact optimum, time per route, batching savings.

A hand-run benchmark, not a test. On two generated layouts, ``single`` (one block, 12 aisles,
25 bins a side) and ``multi`` (three blocks, 12 aisles, 10 bins a side per block), it:

1. draws ``--instances`` pick lists per layout, 5 to 30 picks each, bins uniformly at random
   (two bins may share a pick point: both sides, several levels);
2. routes each list with ``auto``, ``s_shape`` and ``largest_gap`` and checks every route with
   ``pickroute.check_route``;
3. computes the optimum independently of the library for lists of at most ``--exact-max``
   distinct pick points: its own walking graph built from the aisle and cross-aisle
   coordinates, Dijkstra, then Held-Karp (a forward, subset-by-subset variant, unlike the
   library's). On ``single`` every Ratliff-Rosenthal route must equal it exactly (the run
   stops otherwise), and larger lists are compared with Ratliff-Rosenthal, which is exact. On
   ``multi``, larger lists are compared with the best known route: the shortest of ours and a
   long PyVRP run (``--reference-iterations``) on the independent distances;
4. times ``auto`` on ``--timing`` lists of exactly 30 picks per layout (p50 / p99);
5. batches ``--waves`` waves of ``--orders`` orders (1 to 4 picks, 1 or 2 totes) per layout
   onto carts of 8 totes and 60 kg and reports the walking saved against one order per cart.

Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/picking.py --seed 1
    python benchmarks/picking.py --seed 1 --instances 40 --timing 50 --waves 1
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from itertools import pairwise
from typing import Any

import numpy as np
import pyvrp
from pyvrp.stop import MaxIterations
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hubflow.fulfillment.batching import Cart, Order, batch_orders
from hubflow.fulfillment.layout import Layout, Location, generate
from hubflow.fulfillment.pickroute import Method, check_route, route

BASELINES: tuple[Method, ...] = ("s_shape", "largest_gap")
RUNS: tuple[Method, ...] = ("auto", *BASELINES)
CART = Cart(totes=8, max_weight_g=60_000)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))], 3)


def mean(values: list[float], digits: int = 3) -> float | None:
    return round(statistics.fmean(values), digits) if values else None


# -- the independent optimum ----------------------------------------------------------------------


def spot(layout: Layout, loc: Location) -> tuple[int, int]:
    return layout.aisles[loc.aisle].x_mm, loc.position_mm


def walking_distances(layout: Layout, spots: list[tuple[int, int]]) -> np.ndarray:
    """Shortest walks between ``spots`` over a graph built here from the raw coordinates."""
    xs = [a.x_mm for a in layout.aisles]
    ys = [c.y_mm for c in layout.cross_aisles]
    nodes = {(x, y) for x in xs for y in ys} | set(spots)
    adj: dict[tuple[int, int], list[tuple[tuple[int, int], int]]] = defaultdict(list)
    column: dict[int, list[int]] = defaultdict(list)
    for x, y in nodes:
        column[x].append(y)
    for x, col in column.items():
        col.sort()
        for a, b in pairwise(col):
            adj[x, a].append(((x, b), b - a))
            adj[x, b].append(((x, a), b - a))
    for y in ys:
        for a, b in pairwise(xs):
            adj[a, y].append(((b, y), b - a))
            adj[b, y].append(((a, y), b - a))
    out = np.zeros((len(spots), len(spots)), dtype=np.int64)
    for i, s in enumerate(spots):
        best = {s: 0}
        queue = [(0, s)]
        while queue:
            d, u = heapq.heappop(queue)
            if d > best[u]:
                continue
            for v, w in adj[u]:
                if d + w < best.get(v, math.inf):
                    best[v] = d + w
                    heapq.heappush(queue, (d + w, v))
        out[i] = [best[t] for t in spots]
    return out


def held_karp(d: np.ndarray) -> int:
    """Length of the shortest tour from node 0 through all others (forward over subsets)."""
    n = len(d) - 1
    if n == 0:
        return 0
    inf = np.int64(1) << 60
    full = 1 << n
    best = np.full((full, n), inf, dtype=np.int64)
    for j in range(n):
        best[1 << j, j] = d[0, j + 1]
    between = d[1:, 1:]
    bits = 1 << np.arange(n)
    for mask in range(1, full):
        row = best[mask]
        outside = np.nonzero((mask & bits) == 0)[0]
        if not len(outside):
            continue
        reach = (row[:, None] + between[:, outside]).min(axis=0)
        targets = mask | bits[outside]
        best[targets, outside] = np.minimum(best[targets, outside], reach)
    return int((best[full - 1] + d[1:, 0]).min())


def long_pyvrp(d: np.ndarray, iterations: int, seed: int) -> int:
    n = len(d)
    matrix: Any = d  # PyVRP's stubs want ``ndarray[int]``, which no real array is
    zeros: Any = np.zeros_like(d)
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(0.0, 0.0) for _ in range(n)],
        clients=[pyvrp.Client(location=i) for i in range(1, n)],
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[pyvrp.VehicleType(1)],
        distance_matrices=[matrix],
        duration_matrices=[zeros],
    )
    res = pyvrp.solve(data, MaxIterations(iterations), seed=seed, collect_stats=False)
    return int(res.best.distance())


# -- runs -----------------------------------------------------------------------------------------


def draw_picks(layout: Layout, rng: random.Random, n: int) -> list[Location]:
    return [layout.location(rng.choice(layout.bins).id) for _ in range(n)]


def gap_pct(value: int, best: int) -> float:
    return 100.0 * (value - best) / best if best else 0.0


def quality(
    name: str, layout: Layout, args: argparse.Namespace, rng: random.Random, tick: Any
) -> dict[str, Any]:
    single = layout.blocks == 1
    depot = (layout.aisles[layout.depot_aisle].x_mm, layout.cross_aisles[0].y_mm)
    gaps: dict[str, dict[str, list[float]]] = {m: {"exact": [], "best_known": []} for m in RUNS}
    ms: dict[str, list[float]] = {m: [] for m in RUNS}
    violations: list[str] = []
    algorithms: dict[str, int] = defaultdict(int)
    rr_checked = 0
    for _ in range(args.instances):
        picks = draw_picks(layout, rng, rng.randint(5, 30))
        lengths: dict[str, int] = {}
        for m in RUNS:
            t0 = time.perf_counter()
            r = route(layout, picks, m, seed=args.seed)
            ms[m].append((time.perf_counter() - t0) * 1000)
            violations += [f"{name}/{m}: {v}" for v in check_route(layout, picks, r)]
            lengths[m] = r.distance_mm
            if m == "auto":
                algorithms[r.algorithm] += 1
        spots = sorted({spot(layout, p) for p in picks})
        if len(spots) <= args.exact_max:
            best = held_karp(walking_distances(layout, [depot, *spots]))
            kind = "exact"
            if single:
                rr_checked += 1
                if lengths["auto"] != best:
                    raise SystemExit(f"Ratliff-Rosenthal {lengths['auto']} != Held-Karp {best}")
        elif single:
            best, kind = lengths["auto"], "exact"  # Ratliff-Rosenthal is exact at any size
        else:
            d = walking_distances(layout, [depot, *spots])
            best = min(long_pyvrp(d, args.reference_iterations, args.seed), *lengths.values())
            kind = "best_known"
        for method, length in lengths.items():
            gaps[method][kind].append(gap_pct(length, best))
        tick()

    def summary(m: str) -> dict[str, Any]:
        out: dict[str, Any] = {"ms_per_route_mean": mean(ms[m])}
        for kind, values in gaps[m].items():
            if values:
                out[f"vs_{kind}"] = {
                    "routes": len(values),
                    "mean_gap_pct": mean(values),
                    "max_gap_pct": round(max(values), 3),
                    "share_optimal": round(sum(v == 0 for v in values) / len(values), 3),
                }
        return out

    return {
        "layout": {
            "blocks": layout.blocks,
            "aisles": len(layout.aisles),
            "bins": len(layout.bins),
            "depth_mm": layout.cross_aisles[-1].y_mm - layout.cross_aisles[0].y_mm,
            "width_mm": layout.aisles[-1].x_mm - layout.aisles[0].x_mm,
        },
        "instances": args.instances,
        "auto_algorithms": dict(algorithms),
        "ratliff_rosenthal_equals_held_karp": rr_checked if single else None,
        "check_route_violations": len(violations),
        "first_violations": violations[:5],
        **{m: summary(m) for m in RUNS},
    }


def timing(layout: Layout, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    route(layout, draw_picks(layout, rng, 30), seed=args.seed)  # warm up
    ms = []
    for _ in range(args.timing):
        picks = draw_picks(layout, rng, 30)
        t0 = time.perf_counter()
        route(layout, picks, seed=args.seed)
        ms.append((time.perf_counter() - t0) * 1000)
    return {
        "routes": len(ms),
        "p50": pct(ms, 0.5),
        "p99": pct(ms, 0.99),
        "max": round(max(ms), 3) if ms else None,
    }


def batching(layout: Layout, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    saved, seconds, carts, per_cart = [], [], [], []
    alone_total = walked_total = 0
    for _ in range(args.waves):
        orders = [
            Order(
                f"o{i}",
                tuple(draw_picks(layout, rng, rng.choice([1, 1, 2, 2, 3, 4]))),
                totes=rng.choice([1, 1, 1, 2]),
                weight_g=rng.randint(300, 9_000),
            )
            for i in range(args.orders)
        ]
        t0 = time.perf_counter()
        res = batch_orders(layout, orders, CART, seed=args.seed)
        seconds.append(time.perf_counter() - t0)
        by_id = {o.id: o for o in orders}
        for b in res.batches:
            picks = [p for oid in b.order_ids for p in by_id[oid].picks]
            if check_route(layout, picks, b.route):
                raise SystemExit(f"batch {b.order_ids} failed the checker")
        saved.append(100 * res.saved_share)
        carts.append(len(res.batches))
        per_cart.append(args.orders / len(res.batches))
        alone_total += res.alone_mm
        walked_total += res.distance_mm
    return {
        "waves": args.waves,
        "orders_per_wave": args.orders,
        "cart": {"totes": CART.totes, "max_weight_g": CART.max_weight_g},
        "mean_saved_pct": mean(saved, 2),
        "walked_km": round(walked_total / 1e6, 3),
        "alone_km": round(alone_total / 1e6, 3),
        "mean_carts_per_wave": mean([float(c) for c in carts], 2),
        "mean_orders_per_cart": mean(per_cart, 2),
        "seconds_per_wave": {"mean": mean(seconds), "max": round(max(seconds), 3)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--instances", type=int, default=300, help="pick lists per layout")
    ap.add_argument("--exact-max", type=int, default=14, help="largest Held-Karp reference")
    ap.add_argument("--reference-iterations", type=int, default=5_000)
    ap.add_argument("--timing", type=int, default=300, help="30-pick lists timed per layout")
    ap.add_argument("--waves", type=int, default=3)
    ap.add_argument("--orders", type=int, default=30)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    layouts = {
        "single": generate(blocks=1, aisles=12, bins_per_side=25, levels=4, seed=args.seed),
        "multi": generate(blocks=3, aisles=12, bins_per_side=10, levels=4, seed=args.seed),
    }
    result: dict[str, Any] = {
        "benchmark": "picking",
        "seed": args.seed,
        "exact_max_points": args.exact_max,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        for name, layout in layouts.items():
            task = bar.add_task(f"{name}: routes", total=args.instances)
            q = quality(name, layout, args, rng, lambda task=task: bar.advance(task))
            bar.update(task, description=f"{name}: 30-pick timing")
            q["ms_per_route_30_picks"] = timing(layout, args, rng)
            bar.update(task, description=f"{name}: batching")
            q["batching"] = batching(layout, args, rng)
            bar.update(task, description=f"{name}: done")
            result[name] = q
            auto = q["auto"]
            log(
                f"{name}: auto {json.dumps(auto)}; s_shape "
                f"{json.dumps(q['s_shape'].get('vs_exact'))}; 30 picks "
                f"{json.dumps(q['ms_per_route_30_picks'])}; batching saves "
                f"{q['batching']['mean_saved_pct']} %"
            )

    single, multi = result["single"], result["multi"]
    multi_gaps = [
        multi["auto"][k]["mean_gap_pct"]
        for k in ("vs_exact", "vs_best_known")
        if k in multi["auto"]
    ]
    p99 = max(single["ms_per_route_30_picks"]["p99"], multi["ms_per_route_30_picks"]["p99"])
    result["targets"] = {
        "multi_mean_gap_pct_at_most": 1.0,
        "single_gap_pct": 0.0,
        "p99_ms_30_picks_below": 50,
    }
    result["targets_met"] = bool(
        all(g <= 1.0 for g in multi_gaps)
        and single["auto"]["vs_exact"]["max_gap_pct"] == 0
        and p99 < 50
        and single["check_route_violations"] == multi["check_route_violations"] == 0
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
