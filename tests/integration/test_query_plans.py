"""The hot per-owner and per-wave statements find their rows by index on SQLite, which has
no planner statistics in the twin's fresh database: each statement the service really runs
is captured and explained."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event

from hubflow.core.db import UnitOfWork
from hubflow.fulfillment import outbound
from hubflow.inventory import service as inventory

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def listen(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def plans(engine: Engine, work: Callable[[UnitOfWork], object]) -> list[str]:
    with captured(engine) as seen, UnitOfWork(engine) as uow:
        work(uow)
    out = []
    with engine.connect() as conn:
        for statement, params in seen:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            out.append(" / ".join(r[3] for r in rows))
    return out


def test_per_owner_flips_use_the_owner_index(sqlite_engine: Engine) -> None:
    for work in (
        lambda uow: inventory.ship_owner(uow, "ord_x", NOW, hub_id="hub_x"),
        lambda uow: inventory.ship_owner(uow, "ord_x", NOW),
        lambda uow: inventory.release_owner(uow, "ord_x", NOW),
        lambda uow: inventory.transfer_owner(uow, "mer_x", "hld_x", "ord_x", NOW),
    ):
        (plan,) = plans(sqlite_engine, work)
        assert "ix_reservations_owner (owner_id=? AND status=?" in plan, plan


def test_a_waves_reads_use_indexes(sqlite_engine: Engine) -> None:
    def wave_reads(uow: UnitOfWork) -> None:
        outbound._due_shipments(uow.conn, "hub_x", NOW)
        outbound._lines(uow.conn, "hub_x", ["ord_x", "ord_y"])
        outbound._free_in_bins(uow.conn, "hub_x", {"prd_x"})

    due, lines, free = plans(sqlite_engine, wave_reads)
    assert "ix_shipments_hub_packed (hub_id=? AND packed_at=?)" in due, due
    assert "SCAN pick_tasks" not in due, due
    assert "ix_reservations_owner (owner_id=? AND status=?)" in lines, lines
    assert "SCAN" not in free and "MATERIALIZE" not in free, free
