"""One twin run end to end: a fresh database in the output folder, the scenario's world,
the simulated day(s), and the results written as ``results.json`` and ``report.html``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hubflow.core.db import make_engine
from hubflow.delivery.fleet import Mode
from hubflow.sim.engine import Twin
from hubflow.sim.kpis import compute, window_hours
from hubflow.sim.report import render
from hubflow.sim.scenario import Scenario
from hubflow.sim.world import DRIVEN

__all__ = ["DEFAULT_SCENARIO", "RunOutput", "fresh_database", "run_on", "simulate", "write"]

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "seattle.toml"


@dataclass(frozen=True)
class RunOutput:
    out: Path
    results: dict[str, Any]


def fresh_database(path: Path) -> str:
    """A new, migrated SQLite file at ``path`` (any old one and its WAL removed)."""
    from hubflow.api.app import import_tables
    from hubflow.core.migrate import upgrade

    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    import_tables()
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def simulate(
    sc: Scenario,
    out: Path,
    *,
    seed: int | None = None,
    on_progress: Callable[[float], None] = lambda _f: None,
) -> RunOutput:
    """Run ``sc`` on a fresh SQLite file ``out/twin.db`` and write its results into
    ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(fresh_database(out / "twin.db"))
    try:
        results = run_on(engine, sc, sc.seed if seed is None else seed, on_progress)
    finally:
        engine.dispose()
    write(out, results)
    return RunOutput(out, results)


def run_on(
    engine: Engine,
    sc: Scenario,
    seed: int,
    on_progress: Callable[[float], None] = lambda _f: None,
) -> dict[str, Any]:
    """Run ``sc`` on ``engine`` (a migrated, empty database) and answer its results."""
    t0 = time.perf_counter()
    twin = Twin(engine, sc, seed, on_progress=on_progress)
    rec = twin.run()
    span_h = (twin.horizon - twin.start) / timedelta(hours=1)
    fleet: dict[str, int] = {}
    for h in sc.hubs:
        for mode, n in sc.fleet_of(h).items():
            fleet[mode] = fleet.get(mode, 0) + n
    meta = {
        "scenario": sc.name,
        "seed": seed,
        "date": sc.date.isoformat(),
        "days": sc.days,
        "timezone": sc.timezone,
        "midnight": twin.midnight,
        "end": twin.horizon,
        "hours": window_hours(twin.midnight, twin.horizon),
        "fleet": dict(sorted(fleet.items())),
        # Drivers work 16-hour shifts; self-driving vehicles the whole simulated span.
        "available_hours": {
            m: 16.0 * sc.days if Mode(m) in DRIVEN else span_h for m in sorted(fleet)
        },
        "hubs": [
            {"key": h.key, "name": h.name, "kind": h.kind.value, "lat": h.lat, "lng": h.lng}
            for h in sc.hubs
        ],
        "lockers": [{"key": x.key, "name": x.name, "lat": x.lat, "lng": x.lng} for x in sc.lockers],
    }
    results = compute(engine, rec, meta)
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    results["simulated_orders_per_s"] = round(
        results["day"]["orders"] / max(results["wall_seconds"], 1e-9), 1
    )
    return results


def write(out: Path, results: dict[str, Any]) -> None:
    (out / "results.json").write_text(
        json.dumps(results, indent=1, sort_keys=False, default=str), encoding="utf-8"
    )
    (out / "report.html").write_text(render(results), encoding="utf-8")
