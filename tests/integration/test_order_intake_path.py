"""POST /v1/orders's lean path (hubflow.api.order_intake) answers as the route does.

The first order with a key goes through FastAPI's route (the key is not known yet);
later ones take the lean path. Each test checks which path ran, so none can pass
by going through the route only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from hubflow.api import order_intake
from hubflow.api.app import create_app
from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key
from hubflow.catalog.store import api_keys_table
from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.settings import Settings
from tests.conftest import Api


@pytest.fixture
def lean(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """One entry per POST /v1/orders: True when the lean path served it."""
    served: list[bool] = []
    common_case = order_intake._common_case

    def spy(*a: Any) -> Any:
        out = common_case(*a)
        served.append(out is not None)
        return out

    monkeypatch.setattr(order_intake, "_common_case", spy)
    yield served


def _world(api: Api) -> tuple[dict[str, str], str]:
    _, m = api.merchant()
    hub = api.hub()
    product = api.product(m)
    api.receive(m, hub, product, 10)
    return m, product


def test_same_answers_either_path_and_replays(api: Api, lean: list[bool]) -> None:
    m, product = _world(api)
    body = api.order_body([(product, 2)], external_ref="ref-1")
    first = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "a"})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The same key and body again, now on the lean path: the stored answer (the same
    # JSON; not the same bytes on PostgreSQL, whose jsonb orders an object's keys).
    again = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "a"})
    assert lean == [False, True]
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert "x-request-id" in again.headers
    # A new order on the lean path: its answer is what GET says about it.
    other = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "b"})
    assert lean[-1] is True and other.status_code == 201, other.text
    got = api.client.get(f"/v1/orders/{other.json()['id']}", headers=m)
    assert other.json() == got.json()
    # Same key, other body: 409 from the lean path, as from the route.
    body2 = api.order_body([(product, 1)])
    r = api.client.post("/v1/orders", json=body2, headers={**m, "Idempotency-Key": "b"})
    assert lean[-1] is True
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"


def test_errors_are_the_routes_own(api: Api, lean: list[bool]) -> None:
    m, product = _world(api)
    body = api.order_body([(product, 1)])
    ok = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "a"})
    assert ok.status_code == 201
    cases: list[tuple[dict[str, Any], int, str]] = [
        (
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "malformed_json",
        ),
        ({"json": {**body, "lines": []}}, 422, "invalid_request"),
        ({"json": {**body, "points_to_burn": 5}}, 422, "invalid_request"),
        ({"json": body, "headers": {"Idempotency-Key": "x" * 256}}, 422, "invalid_request"),
        ({"json": body, "headers": {"Hubflow-Merchant": "y" * 40}}, 422, "invalid_request"),
    ]
    for kw, status, code in cases:
        headers = {**m, "Idempotency-Key": "e", **kw.pop("headers", {})}
        r = api.client.post("/v1/orders", headers=headers, **kw)
        assert lean[-1] is False, kw
        assert r.status_code == status and r.json()["error"]["code"] == code, (kw, r.text)
    r = api.client.post("/v1/orders", json=body, headers=m)  # no Idempotency-Key
    assert lean[-1] is False and r.status_code == 400
    assert r.json()["error"]["code"] == "idempotency_key_missing"
    # Out of stock is the service's answer: the lean path gives it.
    big = api.order_body([(product, 50)])
    r = api.client.post("/v1/orders", json=big, headers={**m, "Idempotency-Key": "big"})
    assert lean[-1] is True
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_stock"
    assert json.loads(r.content)["error"]["details"]["short_lines"][0]["requested"] == 50


def test_a_key_revoked_after_it_was_seen_is_refused_on_the_lean_path(
    api: Api, lean: list[bool]
) -> None:
    m, product = _world(api)
    body = api.order_body([(product, 1)])
    r = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "a"})
    assert r.status_code == 201, r.text
    with UnitOfWork(api.engine) as uow:  # as another process would: straight in the database
        uow.conn.execute(update(api_keys_table).values(revoked_at=api.clock.now()))
    for key in ("a", "b"):  # a replay and a new order: both refused, nothing claimed
        r = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": key})
        assert r.status_code == 401 and r.json()["error"]["code"] == "revoked_api_key", r.text
    # The first refusal came from the lean path; the key is forgotten, so the route
    # (which reads the key itself) gives the second.
    assert lean[1:] == [True, False]


@pytest.mark.parametrize("concurrency", [0, 1])
def test_the_lean_path_with_and_without_its_gate(
    engine: Engine, clock: ManualClock, concurrency: int, lean: list[bool]
) -> None:
    app = create_app(
        Settings(intake_concurrency=concurrency), engine=engine, clock=clock, run_relay=False
    )
    with UnitOfWork(engine) as uow:
        operator, _ = create_key(uow, Role.OPERATOR, None, "tests", clock.now())
    with TestClient(app) as client:
        api = Api(client, engine, clock, operator.secret)
        m, product = _world(api)
        body = api.order_body([(product, 1)])
        for key in ("a", "b", "c"):
            r = client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": key})
            assert r.status_code == 201, r.text
    assert lean == [False, True, True]
