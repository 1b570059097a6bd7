"""core.prepared: statements on the driver's cursor, still inside the unit of work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, insert, select, update

from hubflow.core.db import UnitOfWork, pipelined
from hubflow.core.events import events_table
from hubflow.core.prepared import MAX_ROWS, Prepared

_INSERT = Prepared(insert(events_table))
_MARK = Prepared(
    update(events_table)
    .where(events_table.c.subject_id == "pre")
    .values(dispatched_at=datetime(2030, 1, 1, tzinfo=UTC))
)
NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _rows(n: int, subject: str = "s") -> list[dict[str, object]]:
    return [
        {
            "id": f"evt_{subject}{i:05d}",
            "type": "t",
            "merchant_id": None,
            "subject_id": subject,
            "payload": {"n": i, "nested": ["a", {"b": None}]},
            "created_at": NOW,
            "dispatched_at": None,
        }
        for i in range(n)
    ]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(events_table)).scalar_one())


@pytest.mark.parametrize("begin_in_pipeline", [False, True])
def test_writes_in_a_pipeline_land_as_sqlalchemy_would_write_them(
    engine: Engine, begin_in_pipeline: bool
) -> None:
    n = MAX_ROWS + 3  # more than one multi-row INSERT
    with UnitOfWork(engine, begin_in_pipeline=begin_in_pipeline) as uow:
        with pipelined(uow.conn):
            _INSERT.executemany(uow.conn, _rows(1, "pre"))
        with pipelined(uow.conn):  # on PostgreSQL: one statement of three parts
            _INSERT.executemany(uow.conn, _rows(n))
            _INSERT.executemany(uow.conn, _rows(2, "t"))
            _MARK.write(uow.conn, {})  # the row of the earlier statement
    with engine.connect() as conn:
        got = {r.id: r for r in conn.execute(select(events_table))}
    assert len(got) == n + 3
    first = got["evt_s00000"]
    assert first.payload == {"n": 0, "nested": ["a", {"b": None}]}
    assert first.created_at == NOW  # aware UTC back, to the microsecond
    assert got["evt_pre00000"].dispatched_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert {r.dispatched_at for k, r in got.items() if k != "evt_pre00000"} == {None}


def test_a_unit_of_work_that_begins_in_its_pipeline_still_rolls_back(engine: Engine) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        UnitOfWork(engine, begin_in_pipeline=True) as uow,
    ):
        with pipelined(uow.conn):
            _INSERT.executemany(uow.conn, _rows(3))
        _INSERT.executemany(uow.conn, _rows(2, "t"))  # after the pipeline, same transaction
        raise RuntimeError("boom")
    assert _count(engine) == 0


def test_nothing_runs_before_the_pipeline_that_sends_begin(engine: Engine) -> None:
    with UnitOfWork(engine, begin_in_pipeline=True) as uow:
        if engine.dialect.name == "postgresql":
            with pytest.raises(RuntimeError, match="pipelined"):
                _INSERT.executemany(uow.conn, _rows(1))
        else:  # SQLite's BEGIN IMMEDIATE went already: nothing to wait for
            _INSERT.executemany(uow.conn, _rows(1))
