"""Delivery planner: solution quality on VRPTW benchmark instances (Solomon) against the BKS.

A hand-run benchmark, not a test. For every VRPLIB instance in ``--instances`` it:

1. reads the instance into a ``PlanningProblem`` (``hubflow.delivery.vrplib``, DIMACS
   convention: distances and times times 10, truncated), plans it with ``planner.plan`` (the
   planner's own model-building path) and checks the plan with ``feasibility.check``;
2. solves the same file with PyVRP called directly on ``pyvrp.read(file, round_func="dimacs")``,
   same time limit and seed, as the reference for what the model-building path costs;
3. compares both total distances with the ``dimacs_cost`` column of ``bks.csv`` in that folder.

Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/vrptw.py --instances ../shared/data/vrptw/solomon --time-limit 10
    python benchmarks/vrptw.py --instances ../shared/data/vrptw/solomon --time-limit 2 --only C101
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pyvrp
from pyvrp.stop import MaxRuntime
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hubflow.delivery import feasibility, planner
from hubflow.delivery import vrplib as vrp_reader

SCALE = vrp_reader.DIMACS_SCALE


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bks(folder: Path) -> dict[str, float]:
    with (folder / "bks.csv").open() as fh:
        return {row["instance"]: float(row["dimacs_cost"]) for row in csv.DictReader(fh)}


def gap(value: float | None, best: float | None) -> float | None:
    if value is None or not best:
        return None
    return round(100 * (value - best) / best, 3)


def via_planner(path: Path, limit: float, seed: int, tick: Any) -> dict[str, Any]:
    problem = vrp_reader.read(path)
    t0 = time.perf_counter()
    result = planner.plan(problem, time_limit_s=limit, seed=seed, on_progress=tick)
    wall = time.perf_counter() - t0
    violations = feasibility.check(problem, result)
    complete = not result.unassigned
    return {
        "distance": sum(r.distance_m for r in result.routes) / SCALE if complete else None,
        "routes": len(result.routes),
        "feasible": result.feasible and complete and not violations,
        "unassigned": len(result.unassigned),
        "violations": violations[:5],
        "runtime_s": round(wall, 2),
    }


def direct(path: Path, limit: float, seed: int) -> dict[str, Any]:
    data = pyvrp.read(path, round_func="dimacs")
    t0 = time.perf_counter()
    res = pyvrp.solve(data, MaxRuntime(limit), seed=seed, collect_stats=False)
    wall = time.perf_counter() - t0
    feasible = res.is_feasible()
    return {
        "distance": res.cost() / SCALE if feasible else None,
        "routes": res.best.num_routes(),
        "feasible": feasible,
        "runtime_s": round(wall, 2),
    }


def mean(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r[key] is not None]
    return round(statistics.fmean(vals), 3) if vals else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=Path, required=True, help="folder with *.vrp and bks.csv")
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance and path")
    ap.add_argument("--only", nargs="*", default=None, help="instance names (default: all)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    files = sorted(args.instances.glob("*.vrp"))
    if args.only:
        files = [f for f in files if f.stem in set(args.only)]
    best = bks(args.instances)
    rows: list[dict[str, Any]] = []
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("vrptw", total=2 * len(files))
        for k, f in enumerate(files):
            bar.update(task, description=f"{f.stem} planner")

            def tick(fraction: float, k: int = k) -> None:
                bar.update(task, completed=2 * k + fraction)

            p = via_planner(f, args.time_limit, args.seed, tick)
            bar.update(task, completed=2 * k + 1, description=f"{f.stem} pyvrp")
            d = direct(f, args.time_limit, args.seed)
            bar.update(task, completed=2 * k + 2)
            b = best.get(f.stem)
            row = {
                "instance": f.stem,
                "bks": b,
                "planner": {**p, "gap_pct": gap(p["distance"], b)},
                "pyvrp": {**d, "gap_pct": gap(d["distance"], b)},
            }
            rows.append(row)
            log(
                f"{f.stem:8} bks {b}  planner {p['distance']} ({row['planner']['gap_pct']} %, "
                f"{p['routes']} routes, feasible {p['feasible']})  pyvrp {d['distance']} "
                f"({row['pyvrp']['gap_pct']} %, {d['routes']} routes)"
            )

    def summary(path: str) -> dict[str, Any]:
        flat = [r[path] for r in rows]
        return {
            "mean_gap_pct": mean(flat, "gap_pct"),
            "mean_routes": mean(flat, "routes"),
            "feasible": sum(1 for r in flat if r["feasible"]),
        }

    result = {
        "benchmark": "vrptw",
        "instances": len(rows),
        "time_limit_s": args.time_limit,
        "seed": args.seed,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "planner": summary("planner"),
        "pyvrp": summary("pyvrp"),
        "rows": rows,
    }
    pg, dg = result["planner"]["mean_gap_pct"], result["pyvrp"]["mean_gap_pct"]
    if pg is not None and dg is not None:
        result["planner_minus_pyvrp_pct_points"] = round(pg - dg, 3)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
