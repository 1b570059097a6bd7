"""Concurrent requests against the real server (uvicorn, real sockets), on SQLite and PostgreSQL.

Stock is never oversold, never undersold, and the ledger always explains the
stock table; an Idempotency-Key creates one order however many times it is sent
at once; a cancel releases its units once however many times it is sent at once.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine, func, select

from hubflow.core.events import events_table
from hubflow.inventory.store import movements_table, reservations_table, stock_table
from hubflow.orders.store import order_lines_table, orders_table
from tests.conftest import Api
from tests.e2e.conftest import LiveServer

T = TypeVar("T")


def _in_parallel(n_threads: int, tasks: list[Callable[[], T]]) -> list[T]:
    """Run ``tasks`` on ``n_threads`` threads that all start at the same moment."""
    barrier = threading.Barrier(n_threads)

    def warm(task: Callable[[], T], first: bool) -> T:
        if first:
            barrier.wait(timeout=30)
        return task()

    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [pool.submit(warm, t, i < n_threads) for i, t in enumerate(tasks)]
        return [f.result(timeout=120) for f in futures]


def check_ledger(engine: Engine) -> dict[tuple[str, str], tuple[int, int]]:
    """Every stock row equals the sum of its movements and of its live reservations."""
    s, m, r = stock_table.c, movements_table.c, reservations_table.c
    with engine.connect() as conn:
        stock = {
            (row.hub_id, row.product_id): (row.on_hand, row.reserved)
            for row in conn.execute(select(s.hub_id, s.product_id, s.on_hand, s.reserved))
        }
        ledger = {
            (row.hub_id, row.product_id): (int(row.on_hand), int(row.reserved))
            for row in conn.execute(
                select(
                    m.hub_id,
                    m.product_id,
                    func.sum(m.on_hand_delta).label("on_hand"),
                    func.sum(m.reserved_delta).label("reserved"),
                ).group_by(m.hub_id, m.product_id)
            )
        }
        live = {
            (row.hub_id, row.product_id): int(row.qty)
            for row in conn.execute(
                select(r.hub_id, r.product_id, func.sum(r.quantity).label("qty"))
                .where(r.status == "active")
                .group_by(r.hub_id, r.product_id)
            )
        }
    assert stock == ledger, "the ledger does not add up to the stock table"
    for key, (on_hand, reserved) in stock.items():
        assert 0 <= reserved <= on_hand, (key, on_hand, reserved)
        assert live.get(key, 0) == reserved, (key, live.get(key), reserved)
    return stock


def _setup(api: Api, per_hub: list[int]) -> tuple[dict[str, str], str, list[str]]:
    _, m = api.merchant()
    product = api.product(m)
    hubs = []
    for i, units in enumerate(per_hub):
        hub = api.hub(name=f"Hub {i}", location={"lat": 47.45 + 0.1 * i, "lng": -122.25})
        api.receive(m, hub, product, units)
        hubs.append(hub)
    return m, product, hubs


def test_no_oversell_under_concurrent_orders(live: LiveServer) -> None:
    api = live.api
    per_hub = [13, 12]
    stock_units = sum(per_hub)
    m, product, _ = _setup(api, per_hub)
    rng = random.Random(7)
    quantities = [rng.randint(1, 3) for _ in range(120)]

    with live.client(limits=httpx.Limits(max_connections=24)) as client:

        def order(i: int, qty: int) -> Callable[[], tuple[int, int, dict[str, Any]]]:
            def go() -> tuple[int, int, dict[str, Any]]:
                r = client.post(
                    "/v1/orders",
                    json=api.order_body([(product, qty)]),
                    headers={**m, "Idempotency-Key": f"storm-{i}"},
                )
                return qty, r.status_code, r.json()

            return go

        results = _in_parallel(24, [order(i, q) for i, q in enumerate(quantities)])

    statuses = Counter(status for _, status, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    refused = [(qty, body) for qty, status, body in results if status == 409]
    assert {body["error"]["code"] for _, body in refused} <= {"insufficient_stock"}, refused
    accepted = [(qty, body) for qty, status, body in results if status == 201]
    sold = sum(qty for qty, _ in accepted)
    demand = sum(quantities)

    # Never oversold; and nothing refused that could have been served: whatever is left
    # is less than the smallest refused request (stock only went down during the storm).
    assert sold <= stock_units
    left = stock_units - sold
    if refused:
        assert left < min(qty for qty, _ in refused), (left, sorted(q for q, _ in refused))
    else:
        assert sold == demand
    assert refused, "the storm asked for more than there was; some orders must be refused"

    stock = check_ledger(api.engine)
    assert sum(reserved for _, reserved in stock.values()) == sold
    assert sorted(on_hand for on_hand, _ in stock.values()) == sorted(per_hub)
    with api.engine.connect() as conn:
        n_orders = conn.execute(select(func.count()).select_from(orders_table)).scalar_one()
        units = conn.execute(select(func.sum(order_lines_table.c.quantity))).scalar_one()
        accepted_events = conn.execute(
            select(func.count()).where(events_table.c.type == "order.accepted")
        ).scalar_one()
    assert n_orders == len(accepted) == accepted_events
    assert units == sold
    assert len({body["id"] for _, body in accepted}) == len(accepted)
    for qty, body in accepted:
        assert sum(a["quantity"] for a in body["allocations"]) == qty
    # The API agrees with the database.
    positions = api.client.get("/v1/stock", headers=m).json()["data"]
    assert sum(p["reserved"] for p in positions) == sold
    assert sum(p["available"] for p in positions) == left


def test_same_idempotency_key_at_once_creates_one_order(live: LiveServer) -> None:
    api = live.api
    m, product, _ = _setup(api, [10])
    body = api.order_body([(product, 2)])
    with live.client() as client:

        def go() -> httpx.Response:
            return client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "once"})

        responses = _in_parallel(16, [go] * 16)

    assert [r.status_code for r in responses] == [201] * 16, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert all(r.json() == responses[0].json() for r in responses)
    fresh = [r for r in responses if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1
    stock = check_ledger(api.engine)
    assert list(stock.values()) == [(10, 2)]
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders_table)).scalar_one() == 1


def test_same_key_with_different_bodies_at_once(live: LiveServer) -> None:
    """Racing bodies under one key: exactly one wins, the rest are 409, nothing doubles."""
    api = live.api
    m, product, _ = _setup(api, [50])
    with live.client() as client:

        def go(qty: int) -> Callable[[], tuple[int, httpx.Response]]:
            def send() -> tuple[int, httpx.Response]:
                r = client.post(
                    "/v1/orders",
                    json=api.order_body([(product, qty)]),
                    headers={**m, "Idempotency-Key": "contested"},
                )
                return qty, r

            return send

        results = _in_parallel(12, [go(1 + i % 4) for i in range(12)])

    won = [(q, r) for q, r in results if r.status_code == 201]
    lost = [(q, r) for q, r in results if r.status_code != 201]
    assert won, [r.text for _, r in results]
    assert len({r.json()["id"] for _, r in won}) == 1
    winning_qty = won[0][0]
    assert all(q == winning_qty for q, _ in won)
    assert all(r.status_code == 409 for _, r in lost)
    assert {r.json()["error"]["code"] for _, r in lost} <= {"idempotency_key_reused"}
    stock = check_ledger(api.engine)
    assert list(stock.values()) == [(50, winning_qty)]


def test_concurrent_cancels_release_once(live: LiveServer) -> None:
    api = live.api
    m, product, hubs = _setup(api, [3, 3])
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(product, 5)]),
        headers={**m, "Idempotency-Key": "to-cancel"},
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["split"] is True and len(order["allocations"]) == 2
    assert sum(q for _, q in check_ledger(api.engine).values()) == 5

    with live.client() as client:

        def cancel() -> httpx.Response:
            return client.post(
                f"/v1/orders/{order['id']}/cancel", json={"reason": "race"}, headers=m
            )

        responses = _in_parallel(16, [cancel] * 16)

    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in responses]
    assert ok[0].json()["status"] == "cancelled"
    others = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 409 for r in others), [r.text for r in others]
    assert {r.json()["error"]["code"] for r in others} <= {
        "illegal_transition",
        "concurrent_update",
    }

    stock = check_ledger(api.engine)
    assert sorted(stock.values()) == [(3, 0), (3, 0)]
    mv = movements_table.c
    with api.engine.connect() as conn:
        releases = conn.execute(
            select(func.count()).where(mv.kind == "release", mv.ref == order["id"])
        ).scalar_one()
        cancelled = conn.execute(
            select(func.count()).where(events_table.c.type == "order.cancelled")
        ).scalar_one()
    assert releases == 2  # one per allocation, once
    assert cancelled == 1
    final = api.client.get(f"/v1/orders/{order['id']}", headers=m).json()
    assert final["status"] == "cancelled"
    assert {a["status"] for a in final["allocations"]} == {"released"}
    assert sorted(a["hub_id"] for a in final["allocations"]) == sorted(hubs)


def test_orders_and_cancels_interleaved(live: LiveServer) -> None:
    """Orders racing with cancels of earlier orders: the books balance at the end."""
    api = live.api
    m, product, _ = _setup(api, [10])
    first = []
    for i in range(5):
        r = api.client.post(
            "/v1/orders",
            json=api.order_body([(product, 2)]),
            headers={**m, "Idempotency-Key": f"pre-{i}"},
        )
        assert r.status_code == 201, r.text
        first.append(r.json()["id"])
    with live.client() as client:

        def cancel(oid: str) -> Callable[[], httpx.Response]:
            return lambda: client.post(f"/v1/orders/{oid}/cancel", headers=m)

        def order(i: int) -> Callable[[], httpx.Response]:
            return lambda: client.post(
                "/v1/orders",
                json=api.order_body([(product, 1)]),
                headers={**m, "Idempotency-Key": f"mix-{i}"},
            )

        tasks = [cancel(o) for o in first] + [order(i) for i in range(20)]
        responses = _in_parallel(12, tasks)

    assert all(r.status_code in (200, 201, 409) for r in responses), [r.text for r in responses]
    assert all(r.status_code == 200 for r in responses[:5])
    placed = sum(1 for r in responses[5:] if r.status_code == 201)
    stock = check_ledger(api.engine)
    assert list(stock.values()) == [(10, placed)]
    # Whatever the interleaving, the cancelled units are all sellable again now.
    left = 10 - placed
    assert 0 <= left <= 10
    last = api.order_body([(product, left)]) if left else None
    if last:
        r = api.client.post("/v1/orders", json=last, headers={**m, "Idempotency-Key": "rest"})
        assert r.status_code == 201, r.text
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(product, 1)]),
        headers={**m, "Idempotency-Key": "none-left"},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_stock"
    assert list(check_ledger(api.engine).values()) == [(10, 10)]
