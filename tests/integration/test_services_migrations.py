"""The Alembic migrations produce exactly the schema the code declares, on SQLite and
PostgreSQL, and the start-up schema check refuses a database that does not match."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from hubflow.core.db import UnitOfWork, make_engine, metadata
from hubflow.core.errors import SchemaOutOfDate
from hubflow.core.migrate import check_schema, current_revision, head_revision, upgrade
from hubflow.inventory.store import stock_table
from tests.builders import make_hub, make_merchant, make_product
from tests.conftest import PG_URL, T0, _pg_engine


def _diffs(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        # No filtering needed: UTCDateTime and the JSON/JSONB variant compare clean on
        # both databases (checked on SQLAlchemy 2.0 / Alembic 1.x). If a future version
        # reports type-only noise for those two custom types, filter just those here.
        return list(compare_metadata(ctx, metadata))


def test_migrated_schema_matches_the_metadata(engine: Engine) -> None:
    assert _diffs(engine) == []


def test_check_constraints_exist_in_the_database(engine: Engine) -> None:
    # Alembic's comparison ignores CHECK constraints; they are the last line of defence
    # for the stock invariant, so look for each one by name.
    insp = inspect(engine)
    for table in metadata.sorted_tables:
        declared = {
            str(c.name) for c in table.constraints if isinstance(c, CheckConstraint) and c.name
        }
        if not declared:
            continue
        found = {str(c["name"]) for c in insp.get_check_constraints(table.name)}
        assert declared <= found, (table.name, declared - found)
    stock_checks = {c["name"] for c in insp.get_check_constraints("stock")}
    assert "ck_stock_reserved_within_on_hand" in stock_checks


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    check_schema(engine)  # does not raise


def test_stock_check_constraint_is_enforced(engine: Engine) -> None:
    # Bypass the service: the database itself refuses reserved > on_hand.
    m = make_merchant(engine, T0)
    h = make_hub(engine, T0)
    p = make_product(engine, T0, m)
    with pytest.raises(IntegrityError), UnitOfWork(engine) as uow:
        uow.conn.execute(
            stock_table.insert().values(
                hub_id=h, product_id=p, merchant_id=m, on_hand=1, reserved=2, updated_at=T0
            )
        )


# -- check_schema -------------------------------------------------------------------------


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def empty_pg() -> Iterator[Engine]:
    schema = f"hubflow_empty_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = _pg_engine(schema, pool_size=2)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_check_schema_refuses_an_empty_sqlite_database(empty_sqlite: Engine) -> None:
    with pytest.raises(SchemaOutOfDate) as info:
        check_schema(empty_sqlite)
    assert info.value.code == "schema_out_of_date"
    assert "hubflow db upgrade" in info.value.message
    upgrade(empty_sqlite)
    check_schema(empty_sqlite)
    assert _diffs(empty_sqlite) == []


@pytest.mark.postgres
def test_check_schema_refuses_an_empty_postgres_schema(empty_pg: Engine) -> None:
    with pytest.raises(SchemaOutOfDate):
        check_schema(empty_pg)
    upgrade(empty_pg)
    check_schema(empty_pg)


def test_check_schema_refuses_a_newer_schema(empty_sqlite: Engine) -> None:
    upgrade(empty_sqlite)
    with empty_sqlite.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(SchemaOutOfDate) as info:
        check_schema(empty_sqlite)
    assert "newer" in info.value.message


def test_upgrade_is_idempotent(empty_sqlite: Engine) -> None:
    upgrade(empty_sqlite)
    upgrade(empty_sqlite)
    assert current_revision(empty_sqlite) == head_revision()
