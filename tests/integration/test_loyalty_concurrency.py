"""Races on both databases, with real threads: concurrent checkouts burning one
customer's points never overspend (exactly as many win as the balance pays for, the
others get insufficient_points and place nothing), and renewal jobs running at once
renew a period once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine, func, select

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict
from hubflow.membership import service as membership
from hubflow.membership.model import Benefits, Billing, Plan
from hubflow.membership.store import charges_table
from hubflow.orders import service as orders
from hubflow.orders.store import orders_table
from hubflow.points import service as points
from hubflow.points.model import Program
from hubflow.points.store import accounts_table, entries_table
from tests.builders import make_hub, make_merchant, make_product, order_request, receive

THREADS = 8


def _race(n: int, task: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(n)
    results: list[str] = []

    def go(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results.append(task(i))
        except Conflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_concurrent_burns_never_overspend(engine: Engine, clock: ManualClock) -> None:
    now = clock.now()
    m = make_merchant(engine, now)
    hub = make_hub(engine, now)
    product = make_product(engine, now, m)  # 650 a unit
    receive(engine, now, m, hub, product, 100)
    with UnitOfWork(engine) as uow:
        points.set_program(uow.conn, m, Program(), now)
        points.grant(uow, m, "cus_1", 500, "welcome", "welcome", now)
    base = replace(
        order_request([(product, 1)]), customer={"id": "cus_1", "name": "Ada"}, points_to_burn=100
    )

    def place(i: int) -> str:
        placed = orders.place_order(engine, m, m, f"k{i}", f"fp{i}", base, now)
        return "placed" if placed.status_code == 201 else str(placed.status_code)

    results = _race(THREADS, place)
    assert sorted(results) == ["insufficient_points"] * 3 + ["placed"] * 5, results
    a, e = accounts_table.c, entries_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        conn = uow.conn
        balance = conn.execute(select(a.balance).where(a.customer_id == "cus_1")).scalar_one()
        burned = conn.execute(select(func.sum(e.points)).where(e.kind == "burn")).scalar_one()
        total = conn.execute(select(func.sum(e.points))).scalar_one()
        placed = conn.execute(select(func.count()).select_from(orders_table)).scalar_one()
    assert burned == -500 and placed == 5
    # Each placed order earned 5 points on its 550 paid (after the burns).
    assert balance == total == 5 * 5


def test_concurrent_renewal_runs_renew_once(engine: Engine, clock: ManualClock) -> None:
    now = clock.now()
    m = make_merchant(engine, now)
    plan = Plan("mpl_1", m, "plus", "Plus", "USD", 999, None, 0, 0, Benefits({}))
    address = {"line1": "1 Main St", "postcode": "98101", "country": "US"}
    with UnitOfWork(engine) as uow:
        membership.create_plan(uow, plan, now)
        sub = membership.subscribe(uow, m, "mpl_1", "cus_1", Billing.MONTHLY, address, now)
    later = now + timedelta(days=40)

    def renew(_: int) -> str:
        with UnitOfWork(engine) as uow:
            return str(membership.renew_due(uow, later)["renewed"])

    results = _race(4, renew)
    assert sorted(results) == ["0", "0", "0", "1"], results
    c = charges_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        charges = uow.conn.execute(
            select(func.count()).where(c.subscription_id == sub["id"])
        ).scalar_one()
    assert charges == 2  # the first month and one renewal
