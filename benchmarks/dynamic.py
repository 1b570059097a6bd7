"""Dynamic dispatch: the ``sampling`` policy against the competition's baselines.

A hand-run benchmark, not a test. On the EURO Meets NeurIPS 2022 qualification instances
(``--instances``, default ``../shared/data/dispatch/euro-neurips-2022/qualification``) it
plays the dynamic environment (:mod:`hubflow.delivery.euro.environment`, the published
rules) once per instance and seed -- the seeds of the dynamic runs in the folder's
``configs.json`` unless ``--seeds`` is given -- with each policy of ``--policies``
(default ``greedy sampling``; ``lazy`` too if asked), every epoch limited to
``--epoch-tlim`` seconds (default 15; the competition used 60 s in qualification, 120 s
in the final). Runs are in process (``--pipes``: through ``hubflow dispatch-agent`` and
the in-repo controller instead). The score is the total driving duration; the report
gives each policy's mean cost and its ratio to greedy (the competition's winner was
12.7 % below greedy, at 120 s per epoch).

Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/dynamic.py                          # all ten, 15 s per epoch
    python benchmarks/dynamic.py --only c170c387 --epoch-tlim 5 --policies greedy lazy sampling
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hubflow.delivery.euro.agent import AgentSettings, play
from hubflow.delivery.euro.environment import Environment, epoch_bounds, run_controller
from hubflow.delivery.euro.instance import read_configs, read_instance
from hubflow.delivery.policy import SamplingParams

DEFAULT_DIR = (
    Path(__file__).resolve().parents[2] / "shared/data/dispatch/euro-neurips-2022/qualification"
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def runs_to_play(folder: Path, seeds: list[int] | None, only: list[str]) -> list[tuple[Path, int]]:
    """(instance file, environment seed) pairs, in a stable order."""
    files = sorted(folder.glob("*.txt"))
    if only:
        files = [f for f in files if any(o in f.name for o in only)]
    config_seeds: dict[str, list[int]] = {}
    if (folder / "configs.json").is_file():
        for c in read_configs(folder / "configs.json"):
            if not c.static:
                config_seeds.setdefault(c.instance, []).append(c.instance_seed)
    return [(f, s) for f in files for s in (seeds or config_seeds.get(f.name, [1]))]


def play_one(
    path: Path, seed: int, policy: str, tlim: float, agent_seed: int, pipes: bool
) -> dict[str, Any]:
    inst = read_instance(path)
    env = Environment(inst, seed=seed, epoch_tlim=tlim)
    t0 = time.perf_counter()
    if pipes:
        exe = shutil.which("hubflow")
        base = [exe] if exe else [sys.executable, "-m", "hubflow.cli"]
        cmd = [*base, "dispatch-agent", "--policy", policy, "--seed", str(agent_seed)]
        res = run_controller(env, cmd)
        cost, epochs, error = res.cost, res.epochs, res.error
    else:
        out = play(env, AgentSettings(policy=policy, seed=agent_seed))
        cost, epochs, error = out.cost, len(out.rewards), out.error
    return {
        "instance": inst.name,
        "seed": seed,
        "policy": policy,
        "cost": cost if error is None else None,
        "epochs": epochs,
        "requests": env.num_requests,
        "seconds": round(time.perf_counter() - t0, 1),
        "error": error,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--epoch-tlim", type=float, default=15.0)
    ap.add_argument("--seeds", type=int, nargs="*", help="environment seeds (default: configs)")
    ap.add_argument("--only", nargs="*", default=[], help="instance name substrings")
    ap.add_argument(
        "--policies",
        nargs="+",
        default=["greedy", "sampling"],
        choices=["greedy", "lazy", "sampling"],
    )
    ap.add_argument("--agent-seed", type=int, default=1)
    ap.add_argument("--pipes", action="store_true", help="play through hubflow dispatch-agent")
    args = ap.parse_args()

    plays = runs_to_play(args.instances, args.seeds, args.only)
    if not plays:
        log(f"no instances in {args.instances}")
        return 2
    epochs_total = 0
    for path, _ in plays:
        start, end = epoch_bounds(read_instance(path))
        epochs_total += end - start + 1
    log(
        f"== {len(plays)} runs x {len(args.policies)} policies, {epochs_total} epochs each policy,"
        f" {args.epoch_tlim:g} s per epoch: about "
        f"{epochs_total * len(args.policies) * args.epoch_tlim / 60:.0f} min"
    )
    results: list[dict[str, Any]] = []
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("dynamic", total=len(plays) * len(args.policies))
        for path, seed in plays:
            for policy in args.policies:
                bar.update(task, description=f"{path.stem[18:26]} seed {seed} {policy}")
                r = play_one(path, seed, policy, args.epoch_tlim, args.agent_seed, args.pipes)
                results.append(r)
                bar.console.log(
                    f"{r['instance']} seed {seed} {policy}: cost {r['cost']} "
                    f"({r['epochs']} epochs, {r['requests']} requests, {r['seconds']} s)"
                    + (f" ERROR {r['error']}" if r["error"] else "")
                )
                bar.advance(task)

    failed = [r for r in results if r["error"] is not None]
    # Means over the runs every policy completed, so the ratios compare like with like.
    complete = {
        (r["instance"], r["seed"])
        for r in results
        if all(
            q["cost"] is not None
            for q in results
            if (q["instance"], q["seed"]) == (r["instance"], r["seed"])
        )
    }
    mean_cost = {
        p: round(
            statistics.fmean(
                r["cost"]
                for r in results
                if r["policy"] == p and (r["instance"], r["seed"]) in complete
            ),
            1,
        )
        for p in args.policies
        if complete
    }
    summary: dict[str, Any] = {
        "benchmark": "dynamic",
        "epoch_tlim": args.epoch_tlim,
        "runs": len(plays),
        "policies": args.policies,
        "sampling_params": asdict(SamplingParams()),
        "agent": {
            **{
                k: v
                for k, v in asdict(AgentSettings()).items()
                if k not in ("policy", "policy_params")
            },
            "seed": args.agent_seed,
        },
        "via_pipes": args.pipes,
        "mean_cost": mean_cost,
        "failed": len(failed),
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    if "greedy" in mean_cost:
        summary["ratio_to_greedy"] = {
            p: round(c / mean_cost["greedy"], 4) for p, c in mean_cost.items()
        }
        summary["pct_below_greedy"] = {
            p: round(100 * (1 - c / mean_cost["greedy"]), 2) for p, c in mean_cost.items()
        }
    log(f"== mean cost {mean_cost}; ratio to greedy {summary.get('ratio_to_greedy')}")
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
