"""Cartonization: do the pieces of a box always go back into it? hubflow against py3dbp.

A hand-run benchmark, not a test. For each size in ``--sizes`` (default 5, 10 and 20
pieces) it makes ``--instances`` instances where everything is known to fit:

1. a box of 150-600 mm a side is cut by random guillotine cuts (a piece chosen by volume,
   an axis by length, the cut anywhere that leaves both parts at least 15 mm) into that
   many pieces, which are shuffled and each turned at random;
2. ``hubflow.fulfillment.cartonize.pack`` packs them with that one box as the catalogue
   (``--time-limit`` seconds, seed from ``--seed``), and ``check_packing`` checks the result;
3. py3dbp (from PyPI, in a venv of its own created once under ``benchmarks/.venv-py3dbp/``:
   it is never a dependency of hubflow) packs the same pieces into the same box, once as
   called by default and once with ``bigger_first=True``; its placements go through the same
   checker.

Per size and packer it reports the share of instances with every piece in the box (and a
valid packing), the mean volume utilisation of the box, and the time per instance.
Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/packing.py --seed 1
    python benchmarks/packing.py --seed 1 --instances 10 --sizes 20 --no-py3dbp
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hubflow.fulfillment.cartonize import (
    Box,
    Item,
    PackedBox,
    Packing,
    Placement,
    Unpacked,
    check_packing,
    pack,
)

VENV = Path(__file__).resolve().parent / ".venv-py3dbp"
MIN_PIECE = 15

# Runs inside the py3dbp venv: instances as JSON on stdin, one JSON result per line out.
PY3DBP_RUNNER = r"""
import json, sys, time
from py3dbp import Bin, Item, Packer

for line in sys.stdin:
    case = json.loads(line)
    out = {}
    for name, bigger_first in (("default", False), ("bigger_first", True)):
        packer = Packer()
        L, W, H = case["box"]
        packer.add_bin(Bin("box", L, W, H, case["max_weight"]))
        for n, (dims, weight) in enumerate(zip(case["items"], case["weights"])):
            packer.add_item(Item(f"p{n}", dims[0], dims[1], dims[2], weight))
        t0 = time.perf_counter()
        packer.pack(bigger_first=bigger_first)
        seconds = time.perf_counter() - t0
        (b,) = packer.bins
        out[name] = {
            "seconds": seconds,
            "placed": [
                [it.name, [int(p) for p in it.position], [int(d) for d in it.get_dimension()]]
                for it in b.items
            ],
        }
    print(json.dumps(out), flush=True)
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def guillotine(rng: random.Random, pieces: int) -> tuple[Box, list[Item]]:
    """A box and the pieces of random guillotine cuts through it, shuffled and turned."""
    dims = tuple(rng.randint(150, 600) for _ in range(3))
    parts: list[tuple[int, ...]] = [dims]
    while len(parts) < pieces:
        cuttable = [p for p in parts if max(p) >= 2 * MIN_PIECE]
        part = rng.choices(cuttable, weights=[p[0] * p[1] * p[2] for p in cuttable])[0]
        lengths = [d if d >= 2 * MIN_PIECE else 0 for d in part]
        axis = rng.choices(range(3), weights=lengths)[0]
        at = rng.randint(MIN_PIECE, part[axis] - MIN_PIECE)
        a, b = list(part), list(part)
        a[axis], b[axis] = at, part[axis] - at
        parts.remove(part)
        parts += [tuple(a), tuple(b)]
    rng.shuffle(parts)
    items = []
    for n, p in enumerate(parts):
        turned = rng.sample(list(p), 3)
        items.append(Item(f"p{n}", (turned[0], turned[1], turned[2]), rng.randint(50, 2_000)))
    box = Box("box", (dims[0], dims[1], dims[2]), sum(i.weight for i in items))
    return box, items


def fullest(box: Box, items: list[Item], packing: Packing) -> float:
    """The share of the box's volume filled, in the fullest box used."""
    vol = {i.id: i.volume for i in items}
    best = max((sum(vol[p.item_id] for p in pb.placements) for pb in packing.boxes_used), default=0)
    return best / box.volume


def score(box: Box, items: list[Item], packing: Packing, seconds: float) -> dict[str, Any]:
    errors = check_packing([box], items, packing)
    return {
        "all_in": not errors and len(packing.boxes_used) == 1 and not packing.unpacked,
        "valid": not errors,
        "utilisation": fullest(box, items, packing),
        "seconds": seconds,
    }


def ours(box: Box, items: list[Item], limit: float, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    packing = pack([box], items, time_limit_s=limit, seed=seed)
    return score(box, items, packing, time.perf_counter() - t0)


def py3dbp_python() -> Path:
    """The venv's interpreter, with py3dbp installed the first time."""
    python = VENV / "bin" / "python"
    ready = python.exists() and (
        subprocess.run([python, "-c", "import py3dbp"], capture_output=True).returncode == 0
    )
    if not ready:
        log(f"creating {VENV} with py3dbp from PyPI (once)")
        venv.create(VENV, with_pip=True, clear=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "py3dbp"],
            check=True,
        )
    return python


def as_packing(items: list[Item], placed: list[list[Any]]) -> Packing:
    by_id = {i.id: i for i in items}
    placements = []
    for name, pos, size in placed:
        dims = by_id[name].dims
        # py3dbp reports the turned size but not which turn; any that gives the size will do.
        turn = next(
            o for o in ("lwh", "lhw", "wlh", "whl", "hlw", "hwl") if _turned(dims, o) == size
        )
        placements.append(Placement(name, tuple(pos), tuple(size), turn))  # type: ignore[arg-type]
    weight = sum(by_id[name].weight for name, *_ in placed)
    left = sorted(set(by_id) - {name for name, *_ in placed})
    return Packing(
        (PackedBox("box", tuple(placements), weight),) if placed else (),
        tuple(Unpacked(name, "py3dbp left it out") for name in left),
    )


def _turned(dims: tuple[int, int, int], o: str) -> list[int]:
    return [dims["lwh".index(ch)] for ch in o]


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    secs = [r["seconds"] for r in rows]
    return {
        "all_in_share": round(sum(r["all_in"] for r in rows) / len(rows), 3),
        "valid_share": round(sum(r["valid"] for r in rows) / len(rows), 3),
        "mean_utilisation": round(statistics.fmean(r["utilisation"] for r in rows), 4),
        "mean_seconds": round(statistics.fmean(secs), 3),
        "max_seconds": round(max(secs), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--instances", type=int, default=50, help="per size")
    ap.add_argument("--sizes", default="5,10,20", help="pieces per instance, comma-separated")
    ap.add_argument("--time-limit", type=float, default=5.0, help="seconds per instance (ours)")
    ap.add_argument("--no-py3dbp", action="store_true", help="skip the py3dbp comparison")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    rng = random.Random(args.seed)
    cases = {n: [guillotine(rng, n) for _ in range(args.instances)] for n in sizes}
    results: dict[str, dict[str, Any]] = {}
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())

    proc = None
    if not args.no_py3dbp:
        proc = subprocess.Popen(
            [py3dbp_python(), "-c", PY3DBP_RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
    with Progress(*columns, console=console) as bar:
        for n in sizes:
            task = bar.add_task(f"{n} pieces", total=len(cases[n]))
            rows: dict[str, list[dict[str, Any]]] = {"hubflow": []}
            for k, (box, items) in enumerate(cases[n]):
                rows["hubflow"].append(ours(box, items, args.time_limit, args.seed + k))
                if proc is not None:
                    assert proc.stdin is not None and proc.stdout is not None
                    case = {
                        "box": list(box.dims),
                        "max_weight": box.max_weight,
                        "items": [list(i.dims) for i in items],
                        "weights": [i.weight for i in items],
                    }
                    proc.stdin.write(json.dumps(case) + "\n")
                    proc.stdin.flush()
                    theirs = json.loads(proc.stdout.readline())
                    for name, got in theirs.items():
                        packing = as_packing(items, got["placed"])
                        row = score(box, items, packing, got["seconds"])
                        rows.setdefault(f"py3dbp_{name}", []).append(row)
                bar.advance(task)
            results[str(n)] = {name: summary(r) for name, r in rows.items()}
            line = ", ".join(
                f"{name} {s['all_in_share']:.0%} in ({s['mean_utilisation']:.1%}, "
                f"{s['mean_seconds']:.2f} s)"
                for name, s in results[str(n)].items()
            )
            bar.console.print(f"{n} pieces: {line}")
    if proc is not None:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)

    print(
        json.dumps(
            {
                "benchmark": "packing",
                "seed": args.seed,
                "instances_per_size": args.instances,
                "time_limit_s": args.time_limit,
                "sizes": results,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
