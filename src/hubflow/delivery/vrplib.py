"""Read VRPLIB VRPTW instances (Solomon, Gehring-Homberger) as planning problems.

Values follow the DIMACS convention the published best-known solutions use: every distance,
time and duration is scaled by 10 and truncated, so a plan's distance divided by 10 compares
directly with the BKS. Demand goes in the parcels dimension; travel time equals distance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import vrplib as _vrplib  # type: ignore[import-untyped]

from hubflow.delivery.problem import Depot, Job, PlanningProblem, Profile, Vehicle

__all__ = ["DIMACS_SCALE", "read"]

DIMACS_SCALE = 10
_PROFILE = "vrplib"


def _dimacs(values: object) -> np.ndarray:
    return (DIMACS_SCALE * np.asarray(values, dtype=float)).astype(np.int64)


def read(path: str | Path) -> PlanningProblem:
    """One depot, ``VEHICLES`` identical vehicles costing 1 per scaled distance unit, and one
    required job per customer (all at any depot)."""
    inst = _vrplib.read_instance(str(path))
    depots = np.atleast_1d(inst["depot"])
    if len(depots) != 1 or int(depots[0]) != 0:
        raise ValueError(f"{path}: expected node 1 to be the single depot")
    dist = _dimacs(inst["edge_weight"])
    n = dist.shape[0]
    tw = _dimacs(inst["time_window"])
    service = np.broadcast_to(_dimacs(inst.get("service_time", 0)), (n,))
    demand = np.asarray(inst["demand"], dtype=np.int64)
    horizon_early, horizon_late = int(tw[0, 0]), int(tw[0, 1])
    jobs = [
        Job(
            id=str(i),
            location=i,
            depot=None,
            weight_g=0,
            volume_cm3=0,
            parcels=int(demand[i]),
            service_s=int(service[i]),
            tw_early=int(tw[i, 0]),
            tw_late=int(tw[i, 1]),
            required=True,
        )
        for i in range(1, n)
    ]
    # The instance gives an upper bound on the fleet; with distance the only objective the
    # solver picks how many to use.
    num_vehicles = int(inst.get("vehicles", n - 1))
    vehicles = [
        Vehicle(
            id=f"v{k}",
            profile=_PROFILE,
            depot=0,
            capacity_parcels=int(inst["capacity"]),
            shift_early=horizon_early,
            shift_late=horizon_late,
            cost_per_km=1000,  # 1 per scaled distance unit
        )
        for k in range(num_vehicles)
    ]
    return PlanningProblem(
        depots=(Depot("depot", 0, horizon_early, horizon_late),),
        jobs=tuple(jobs),
        vehicles=tuple(vehicles),
        profiles={_PROFILE: Profile(_PROFILE, dist, dist.copy())},
        num_locations=n,
    )
