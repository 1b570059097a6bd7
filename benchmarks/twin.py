"""Digital twin at scale: one simulated day of 20,000 orders, 30 hubs and 300 vehicles.

A hand-run benchmark, not a test. It grows the default Seattle scenario with the
generator (``hubflow scenario --hubs 30 --vehicles 300 --orders 20000``), runs the day
through the real services in-process on a fresh SQLite file (the twin's default) and
reports wall time, simulated orders per second, peak memory (the process's maximum
resident set size) and the headline KPIs. ``--set`` overrides apply as in
``hubflow simulate``.

Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/twin.py
    python benchmarks/twin.py --orders 2000 --set delivery.planner_iterations=50
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from hubflow.sim.generate import generate
from hubflow.sim.report import headline
from hubflow.sim.run import simulate
from hubflow.sim.scenario import Scenario, apply_overrides


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hubs", type=int, default=30)
    ap.add_argument("--vehicles", type=int, default=300)
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None, help="keep the results here (default: a temp dir)")
    args = ap.parse_args()

    sc = Scenario.from_dict(
        apply_overrides(generate(args.hubs, args.vehicles, args.orders, args.seed), args.sets)
    )
    out = Path(args.out or tempfile.mkdtemp(prefix="hubflow-twin-bench-"))
    last = [-1]

    def progress(f: float) -> None:
        pct = int(f * 100)
        if pct >= last[0] + 5:
            last[0] = pct
            print(f"  {pct:3d}% of the day, {time.perf_counter() - t0:6.0f} s", file=sys.stderr)

    t0 = time.perf_counter()
    r = simulate(sc, out, seed=args.seed, on_progress=progress).results
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    d = r["day"]
    for k, v in headline(r):
        print(f"{k:>18}: {v}", file=sys.stderr)
    print(
        json.dumps(
            {
                "benchmark": "twin",
                "hubs": len(sc.hubs),
                "vehicles": sum(sum(sc.fleet_of(h).values()) for h in sc.hubs),
                "orders_target": sc.demand.orders_per_day,
                "orders": d["orders"],
                "quotes": d["quotes"],
                "wall_s": round(wall, 1),
                "simulated_orders_per_s": round(d["orders"] / wall, 1),
                "peak_rss_mib": round(peak_mib, 1),
                "planner_s": d["dispatch"]["planner_seconds"],
                "epochs": d["dispatch"]["epochs"],
                "planner_iterations": sc.delivery.planner_iterations,
                "order_outcomes": d["order_outcomes"],
                "parcels_delivered": d["parcels_delivered"],
                "promises_kept": {k: v.get("kept_share") for k, v in d["promises"].items()},
                "cost_per_parcel": d["cost_per_parcel"],
                "km_total": d["km_total"],
                "kg_co2e": d["kg_co2e"],
                "failed_deliveries": d["failed_deliveries"],
                "stock_balances": d["ledgers"]["stock_balances"],
                "money_balances": d["ledgers"]["money_balances"],
                "bins_balance": d["ledgers"]["bins"]["balances"],
                "out": str(out),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
