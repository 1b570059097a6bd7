"""The twin's simulated day as a source for the operator's replay: the run that
``hubflow simulate --out DIR`` or ``hubflow demo`` wrote into ``HUBFLOW_TWIN_DIR``, its
day's bounds (from ``results.json``) and its own database, ``twin.db``, opened read-only
(the replay never writes to a run's record, and never mixes it with the served data)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from hubflow.core.errors import NotFound
from hubflow.core.settings import Settings

__all__ = ["MAX_DAYS", "TwinDay", "read_only", "require_twin_day", "twin_day"]

MAX_DAYS = 7  # a longer run replays its first week


@dataclass(frozen=True)
class TwinDay:
    db: Path
    scenario: str
    seed: int
    day: date
    timezone: str
    start: datetime  # the first simulated day's local midnight, in UTC
    end: datetime

    @property
    def label(self) -> str:
        return f"{self.scenario}, {self.day.isoformat()} (seed {self.seed})"


def twin_day(settings: Settings) -> TwinDay | None:
    """The twin run in ``settings.twin_dir``, if there is a finished one."""
    if not settings.twin_dir:
        return None
    folder = Path(settings.twin_dir)
    results, db = folder / "results.json", folder / "twin.db"
    if not results.is_file() or not db.is_file():
        return None
    try:
        meta = orjson.loads(results.read_bytes())
        day = date.fromisoformat(meta["date"])
        tz = ZoneInfo(meta["timezone"])
        days = min(MAX_DAYS, max(1, int(meta.get("days", 1))))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None  # a run still being written, or not a twin's folder
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    return TwinDay(
        db=db, scenario=str(meta.get("scenario", "twin")), seed=int(meta.get("seed", 0)),
        day=day, timezone=meta["timezone"], start=start, end=start + timedelta(days=days),
    )  # fmt: skip


def require_twin_day(settings: Settings) -> TwinDay:
    found = twin_day(settings)
    if found is None:
        raise NotFound(
            "no twin day to replay; run `hubflow demo` or `hubflow simulate --out DIR` and "
            "serve with HUBFLOW_TWIN_DIR=DIR",
            code="twin_not_run",
        )
    return found


def read_only(db: Path) -> Engine:
    """An engine on the run's SQLite file that cannot write to it (``mode=ro``)."""
    uri = f"{db.resolve().as_uri()}?mode=ro"
    return create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=NullPool,
    )
