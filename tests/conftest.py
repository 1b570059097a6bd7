"""Shared fixtures: a clean database per test on SQLite and on PostgreSQL, a
manual clock, the app, and an API client with operator and merchant keys.

PostgreSQL is the server on 127.0.0.1:5432 (database ``test``); each test run
works in its own schema, dropped at the end. Set HUBFLOW_TEST_PG_URL to point
elsewhere.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from hubflow.api.app import create_app, import_tables
from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key, create_merchant
from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork, make_engine, metadata
from hubflow.core.migrate import upgrade
from hubflow.core.settings import Settings

PG_URL = os.environ.get("HUBFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A Monday afternoon in Seattle (15:00 UTC = 07:00 PST).
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

import_tables()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_schema() -> Iterator[str]:
    schema = f"hubflow_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - the CI machine has PostgreSQL
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL}: {exc}")
    engine = _pg_engine(schema)
    upgrade(engine)
    engine.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _pg_engine(schema: str, pool_size: int = 10) -> Engine:
    sep = "&" if "?" in PG_URL else "?"
    return make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}", pool_size=pool_size)


def _truncate(engine: Engine) -> None:
    names = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        else:
            for n in names:
                conn.execute(text(f'DELETE FROM "{n}"'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database of the parametrised kind."""
    if db_kind == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "hubflow.db"
        shutil.copy(template, path)
        eng = make_engine(f"sqlite:///{path}")
    else:
        eng = _pg_engine(request.getfixturevalue("_pg_schema"), pool_size=40)
        _truncate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty SQLite database, for tests that need only one kind."""
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "hubflow.db"
    shutil.copy(template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@dataclass
class Api:
    """A TestClient with the keys a test needs."""

    client: TestClient
    engine: Engine
    clock: ManualClock
    operator_key: str

    @property
    def op(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_key}"}

    def merchant(self, name: str = "Acme", kind: str = "retailer") -> tuple[str, dict[str, str]]:
        """A new merchant: (merchant id, auth headers)."""
        with UnitOfWork(self.engine) as uow:
            merchant, key = create_merchant(uow, name, kind, self.clock.now())
        return merchant["id"], {"Authorization": f"Bearer {key.secret}"}

    def hub(self, **overrides: Any) -> str:
        body: dict[str, Any] = {
            "name": "Seattle FC",
            "kind": "fulfillment_center",
            "location": {"lat": 47.45, "lng": -122.25},
            "timezone": "America/Los_Angeles",
            "service_radius_km": 80,
        }
        body.update(overrides)
        r = self.client.post("/v1/hubs", json=body, headers=self.op)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def product(self, headers: dict[str, str], sku: str = "SKU-1", **overrides: Any) -> str:
        body: dict[str, Any] = {
            "sku": sku,
            "name": "Sourdough loaf",
            "dimensions_mm": {"length": 300, "width": 120, "height": 100},
            "weight_g": 800,
            "value": {"amount": 650, "currency": "USD"},
        }
        body.update(overrides)
        r = self.client.post("/v1/products", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def receive(self, headers: dict[str, str], hub_id: str, product_id: str, qty: int) -> None:
        r = self.client.post(
            "/v1/stock/receipts",
            json={"hub_id": hub_id, "product_id": product_id, "quantity": qty},
            headers=headers,
        )
        assert r.status_code == 201, r.text

    @staticmethod
    def order_body(
        lines: list[tuple[str, int]], lat: float = 47.61, lng: float = -122.33, **extra: Any
    ) -> dict[str, Any]:
        return {
            "lines": [{"product_id": p, "quantity": q} for p, q in lines],
            "customer": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "address": {
                "line1": "400 Pine St",
                "city": "Seattle",
                "postcode": "98101",
                "country": "US",
                "lat": lat,
                "lng": lng,
            },
            **extra,
        }


@pytest.fixture
def api(engine: Engine, clock: ManualClock) -> Iterator[Api]:
    # A short solver budget: tests check behaviour, benchmarks measure quality.
    app = create_app(
        Settings(dispatch_time_limit_s=0.2), engine=engine, clock=clock, run_relay=False
    )
    with UnitOfWork(engine) as uow:
        key, _ = create_key(uow, Role.OPERATOR, None, "tests", clock.now())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, engine, clock, key.secret)
