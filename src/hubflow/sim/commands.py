"""``hubflow simulate`` and ``hubflow scenario``: the twin from the command line, with a
progress bar, headline KPIs, and two runs side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hubflow.sim.generate import dumps, generate, seattle
from hubflow.sim.report import headline
from hubflow.sim.run import DEFAULT_SCENARIO, simulate
from hubflow.sim.scenario import Scenario, load

__all__ = ["compare", "load_results", "resolve", "run_one", "write_scenario"]

BUILT_IN = {"seattle": DEFAULT_SCENARIO}


def resolve(name: str) -> Path:
    """A built-in scenario's name or a path to a TOML file."""
    return BUILT_IN.get(name, Path(name))


def run_one(
    console: Console, scenario: str, seed: int | None, sets: list[str], out: Path
) -> dict[str, Any]:
    sc: Scenario = load(resolve(scenario), sets)
    console.print(f"[bold]Hubflow twin[/] — {sc.name}, seed {sc.seed if seed is None else seed}")
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}% of the simulated day"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("simulating", total=1.0)
        result = simulate(
            sc, out, seed=seed, on_progress=lambda f: progress.update(task, completed=f)
        )
    results = result.results
    print_headline(console, results)
    console.print(f"results: {out / 'results.json'}; report: {out / 'report.html'}")
    return results


def print_headline(console: Console, results: dict[str, Any]) -> None:
    t = Table(title=f"Twin — {results['scenario']}", show_header=False, title_justify="left")
    t.add_column("kpi", style="bold")
    t.add_column("value")
    for k, v in headline(results):
        t.add_row(k, v)
    t.add_row("simulated in", f"{results['wall_seconds']} s")
    console.print(t)


def load_results(path: Path) -> dict[str, Any] | None:
    f = path / "results.json" if path.is_dir() else None
    if f is None or not f.exists():
        return None
    out: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
    return out


ROWS: list[tuple[str, tuple[str, ...]]] = [
    ("orders", ("day", "orders")),
    ("parcels delivered", ("day", "parcels_delivered")),
    ("cost per parcel ($)", ("day", "cost_per_parcel")),
    ("km driven", ("day", "km_total")),
    ("kg CO2e", ("day", "kg_co2e")),
    ("kg CO2e per parcel", ("day", "kg_co2e_per_parcel")),
    ("failed attempts", ("day", "failed_deliveries")),
    ("locker deposits", ("day", "lockers", "deposits")),
    ("parcels to carrier", ("day", "carrier_parcels")),
    ("returns", ("day", "returns", "created")),
    ("wall seconds", ("wall_seconds",)),
]


def _get(d: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


def compare(console: Console, a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> None:
    t = Table(title="Twin runs side by side", title_justify="left")
    t.add_column("kpi", style="bold")
    t.add_column(names[0], justify="right")
    t.add_column(names[1], justify="right")
    t.add_column("change", justify="right")
    rows = list(ROWS)
    options = sorted(set(a["day"]["promises"]) | set(b["day"]["promises"]))
    rows += [(f"{o} promises kept", ("day", "promises", o, "kept_share")) for o in options]
    rows += [
        (f"{o} order-to-door p50 (min)", ("day", "order_to_door_minutes", o, "p50"))
        for o in options
    ]
    modes = sorted(set(a["day"]["modes"]) | set(b["day"]["modes"]))
    rows += [(f"{m} parcels", ("day", "modes", m, "parcels")) for m in modes]
    for label, path in rows:
        x, y = _get(a, path), _get(b, path)
        change = ""
        if isinstance(x, int | float) and isinstance(y, int | float) and x:
            change = f"{(y - x) / abs(x):+.1%}"
        t.add_row(label, _fmt(x), _fmt(y), change)
    console.print(t)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def write_scenario(path: Path, hubs: int | None, vehicles: int | None, orders: int | None) -> None:
    """The default scenario, or one grown to the sizes given, as a TOML file."""
    if hubs is None and vehicles is None and orders is None:
        data = seattle()
    else:
        base = seattle()
        n_vehicles = sum(sum(h["fleet"].values()) for h in base["hubs"])
        data = generate(
            hubs or len(base["hubs"]),
            vehicles or n_vehicles,
            orders or base["demand"]["orders_per_day"],
        )
    path.write_text(dumps(data), encoding="utf-8")
