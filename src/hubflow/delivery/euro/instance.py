"""The EURO-NeurIPS 2022 (ORTEC) VRPTW instance format.

A VRPLIB-like text file: ``KEY : value`` header lines (``NAME``, ``DIMENSION``,
``CAPACITY``, ...), then sections, each a header line and one row per node (1-based node
number first, except in ``EDGE_WEIGHT_SECTION``, a full integer matrix of driving seconds,
and ``DEPOT_SECTION``, a list of node numbers closed by ``-1``), up to ``EOF``. Node 1 is
the depot; everything here is 0-based, depot first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EuroInstance", "RunConfig", "read_configs", "read_instance"]

IntArray = npt.NDArray[np.int64]

_SECTIONS = (
    "EDGE_WEIGHT_SECTION",
    "NODE_COORD_SECTION",
    "DEMAND_SECTION",
    "DEPOT_SECTION",
    "SERVICE_TIME_SECTION",
    "TIME_WINDOW_SECTION",
)


@dataclass(frozen=True, eq=False)
class EuroInstance:
    """A static VRPTW: node 0 the depot, the rest customers; times in seconds."""

    name: str
    capacity: int
    coords: IntArray  # (n, 2)
    demands: IntArray  # (n,)
    time_windows: IntArray  # (n, 2): earliest, latest arrival
    service_times: IntArray  # (n,)
    duration_matrix: IntArray  # (n, n), asymmetric

    def __post_init__(self) -> None:
        n = len(self.demands)
        if n < 2:
            raise ValueError("an instance needs a depot and at least one customer")
        shapes = {
            "coords": (self.coords.shape, (n, 2)),
            "time_windows": (self.time_windows.shape, (n, 2)),
            "service_times": (self.service_times.shape, (n,)),
            "duration_matrix": (self.duration_matrix.shape, (n, n)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise ValueError(f"{name} has shape {got}, expected {want}")
        if self.capacity <= 0:
            raise ValueError("capacity must be positive")
        if (self.demands < 0).any() or (self.demands > self.capacity).any():
            raise ValueError("demands must be within [0, capacity]")
        if (self.time_windows[:, 0] > self.time_windows[:, 1]).any():
            raise ValueError("a time window ends before it starts")
        if (self.duration_matrix < 0).any() or (self.service_times < 0).any():
            raise ValueError("durations must be >= 0")

    @property
    def num_customers(self) -> int:
        return len(self.demands) - 1

    @property
    def is_depot(self) -> npt.NDArray[np.bool_]:
        mask = np.zeros(len(self.demands), dtype=bool)
        mask[0] = True
        return mask

    def to_dict(self) -> dict[str, Any]:
        """The competition's instance dict (numpy arrays; serialise as lists)."""
        return {
            "is_depot": self.is_depot,
            "coords": self.coords,
            "demands": self.demands,
            "capacity": self.capacity,
            "time_windows": self.time_windows,
            "service_times": self.service_times,
            "duration_matrix": self.duration_matrix,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str = "") -> EuroInstance:
        """From :meth:`to_dict` output, arrays or (after JSON) nested lists."""
        return cls(
            name=str(data.get("name", name)),
            capacity=int(data["capacity"]),
            coords=np.asarray(data["coords"], dtype=np.int64).reshape(-1, 2),
            demands=np.asarray(data["demands"], dtype=np.int64),
            time_windows=np.asarray(data["time_windows"], dtype=np.int64).reshape(-1, 2),
            service_times=np.asarray(data["service_times"], dtype=np.int64),
            duration_matrix=np.asarray(data["duration_matrix"], dtype=np.int64),
        )


def read_instance(path: str | Path) -> EuroInstance:
    """Read one instance file; raises ``ValueError`` on a malformed one."""
    path = Path(path)
    header: dict[str, str] = {}
    sections: dict[str, list[list[int]]] = {}
    current: str | None = None
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "EOF":
            break
        if line in _SECTIONS:
            current = line
            sections[current] = []
        elif current is None:
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"{path}:{lineno}: expected 'KEY : value', got {line!r}")
            header[key.strip()] = value.strip()
        else:
            try:
                sections[current].append([int(tok) for tok in line.split()])
            except ValueError:
                raise ValueError(f"{path}:{lineno}: expected integers, got {line!r}") from None
    missing = [s for s in _SECTIONS if s not in sections]
    if missing or "CAPACITY" not in header or "DIMENSION" not in header:
        raise ValueError(f"{path}: missing {missing or 'CAPACITY/DIMENSION'}")
    n = int(header["DIMENSION"])
    depots = [d for row in sections["DEPOT_SECTION"] for d in row if d != -1]
    if depots != [1]:
        raise ValueError(f"{path}: expected node 1 as the only depot, got {depots}")

    def per_node(section: str, width: int) -> IntArray:
        rows = sections[section]
        if len(rows) != n or any(len(r) != width + 1 for r in rows):
            raise ValueError(f"{path}: {section} must have {n} rows of {width + 1} numbers")
        ordered = sorted(rows, key=lambda r: r[0])
        if [r[0] for r in ordered] != list(range(1, n + 1)):
            raise ValueError(f"{path}: {section} must number nodes 1..{n}")
        return np.asarray([r[1:] for r in ordered], dtype=np.int64)

    matrix = np.asarray(sections["EDGE_WEIGHT_SECTION"], dtype=np.int64)
    if matrix.shape != (n, n):
        raise ValueError(f"{path}: EDGE_WEIGHT_SECTION must be {n} x {n}")
    return EuroInstance(
        name=header.get("NAME", path.stem),
        capacity=int(header["CAPACITY"]),
        coords=per_node("NODE_COORD_SECTION", 2),
        demands=per_node("DEMAND_SECTION", 1)[:, 0],
        time_windows=per_node("TIME_WINDOW_SECTION", 2),
        service_times=per_node("SERVICE_TIME_SECTION", 1)[:, 0],
        duration_matrix=matrix,
    )


@dataclass(frozen=True)
class RunConfig:
    """One run of the competition's ``configs.json``."""

    instance: str
    instance_seed: int
    static: bool
    epoch_tlim: int


def read_configs(path: str | Path) -> list[RunConfig]:
    raw = json.loads(Path(path).read_text())
    return [
        RunConfig(
            instance=str(r["instance"]),
            instance_seed=int(r["instance_seed"]),
            static=bool(r["static"]),
            epoch_tlim=int(r["epoch_tlim"]),
        )
        for r in raw
    ]
