"""Membership and points: what loyalty costs order intake, a burn storm on one account,
and the renewal job.

A hand-run benchmark, not a test. On an empty database (a temporary SQLite file, or a
fresh PostgreSQL schema with ``--db postgresql``) with one hub, one merchant and one
product in stock, in process through the services the API calls:

1. ``--orders`` orders (default 300) each way: without a customer id (no points), with
   one (earn), and with one burning 10 points (burn and earn); the median and p95
   milliseconds and the SQL statements per order (PostgreSQL sends some of them
   together, in one round trip);
2. a burn storm: ``--threads`` threads (default 8) each placing ``--burns`` orders
   (default 20) that burn 100 points from one account holding enough for about half of
   them; checks that every placed order burned its 100, that what is left cannot pay
   another, and that the balance equals its ledger;
3. ``--subscriptions`` monthly subscriptions (default 2,000) renewed by one
   ``renew_due`` run a month later, then a second run (which must renew nothing).

Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/loyalty.py
    python benchmarks/loyalty.py --db postgresql
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from _shared import database
from sqlalchemy import Engine, event, func, select

from hubflow.api.app import import_tables
from hubflow.catalog.service import create_merchant, create_product
from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.errors import Conflict
from hubflow.core.geo import LatLng
from hubflow.core.migrate import upgrade
from hubflow.inventory import service as inventory
from hubflow.membership import service as membership
from hubflow.membership.model import Benefits, Billing, Plan
from hubflow.network.model import DAYS
from hubflow.network.service import create_hub
from hubflow.orders import service as orders
from hubflow.points import service as points
from hubflow.points.model import Program
from hubflow.points.store import accounts_table, entries_table

T0 = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
ADDRESS = {"line1": "400 Pine St", "city": "Seattle", "postcode": "98101", "country": "US"}


def _world(engine: Engine) -> tuple[str, str]:
    with UnitOfWork(engine) as uow:
        merchant, _ = create_merchant(uow, "Bench", "retailer", T0)
        m = merchant["id"]
        hub = create_hub(
            uow,
            T0,
            name="FC",
            kind="fulfillment_center",
            lat=47.45,
            lng=-122.25,
            timezone="America/Los_Angeles",
            region="default",
            opening_hours={d: [["00:00", "24:00"]] for d in DAYS},
            capabilities=[],
            service_radius_km=80.0,
        )
        product = create_product(
            uow,
            m,
            T0,
            sku="SKU-1",
            name="Loaf",
            length_mm=300,
            width_mm=120,
            height_mm=100,
            weight_g=800,
            value_amount=650,
            currency="USD",
            temperature="ambient",
            hazmat=False,
        )
        inventory.receive(uow, m, hub.id, product.id, 1_000_000, T0)
        points.set_program(uow.conn, m, Program(), T0)  # 1 point per 1.00
    return m, product.id


def _request(product: str, customer: str | None, burn: int = 0) -> orders.OrderRequest:
    who = {"name": "Ada"} if customer is None else {"id": customer, "name": "Ada"}
    return orders.OrderRequest(
        [(product, 1)], LatLng(47.61, -122.33), ADDRESS, who, points_to_burn=burn
    )


def _intake(engine: Engine, m: str, product: str, n: int) -> dict[str, Any]:
    with UnitOfWork(engine) as uow:
        points.grant(uow, m, "cus_burn", 10 * n, "bench", "bench", T0)
    out: dict[str, Any] = {}
    ways = {"no_points": None, "earn": "cus_earn", "burn_and_earn": "cus_burn"}
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    for way, customer in ways.items():
        req = _request(product, customer, 10 if way == "burn_and_earn" else 0)
        ms = []
        statements[0] = 0
        for i in range(n):
            start = time.perf_counter()
            placed = orders.place_order(engine, m, m, f"{way}-{i}", f"{way}-{i}", req, T0)
            ms.append((time.perf_counter() - start) * 1000)
            assert placed.status_code == 201
        ms.sort()
        out[way] = {
            "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[int(len(ms) * 0.95)], 2),
            "statements_per_order": round(statements[0] / n, 1),
        }
        print(f"intake {way}: {out[way]}", file=sys.stderr)
    event.remove(engine, "before_cursor_execute", count)
    return out


def _storm(engine: Engine, m: str, product: str, threads: int, burns: int) -> dict[str, Any]:
    total = threads * burns
    with UnitOfWork(engine) as uow:
        points.grant(uow, m, "cus_storm", 100 * (total // 2), "storm", "storm", T0)
    req = replace(_request(product, "cus_storm"), points_to_burn=100)
    won, refused = [0], [0]
    lock, barrier = threading.Lock(), threading.Barrier(threads)

    def run(t: int) -> None:
        barrier.wait()
        for i in range(burns):
            try:
                orders.place_order(engine, m, m, f"storm-{t}-{i}", f"s-{t}-{i}", req, T0)
                with lock:
                    won[0] += 1
            except Conflict:
                with lock:
                    refused[0] += 1

    start = time.perf_counter()
    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    seconds = time.perf_counter() - start
    a, e = accounts_table.c, entries_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        balance = uow.conn.execute(
            select(a.balance).where(a.customer_id == "cus_storm")
        ).scalar_one()
        sums = dict(
            uow.conn.execute(
                select(e.kind, func.sum(e.points))
                .where(e.customer_id == "cus_storm")
                .group_by(e.kind)
            ).all()
        )
    # Every placed order burned 100 (and earned a little); the refused ones could not pay.
    paid = -sums.get("burn", 0) == 100 * won[0] and balance < 100
    out = {
        "orders": total,
        "placed": won[0],
        "refused": refused[0],
        "balance": balance,
        "ledger_agrees": balance == sum(sums.values()),
        "no_overspend": paid and balance >= 0,
        "orders_per_s": round(total / seconds, 1),
    }
    print(f"storm: {out}", file=sys.stderr)
    return out


def _renewals(engine: Engine, m: str, n: int) -> dict[str, Any]:
    plan = Plan("mpl_bench", m, "plus", "Plus", "USD", 999, None, 0, 0, Benefits({}))
    with UnitOfWork(engine) as uow:
        membership.create_plan(uow, plan, T0)
        for i in range(n):
            membership.subscribe(uow, m, plan.id, f"sub-{i}", Billing.MONTHLY, ADDRESS, T0)
    later = T0 + timedelta(days=32)
    start = time.perf_counter()
    with UnitOfWork(engine) as uow:
        first = membership.renew_due(uow, later, limit=n + 1)
    seconds = time.perf_counter() - start
    with UnitOfWork(engine) as uow:
        second = membership.renew_due(uow, later, limit=n + 1)
    out = {
        "subscriptions": n,
        "renewed": first["renewed"],
        "seconds": round(seconds, 2),
        "per_s": round(n / seconds, 1),
        "second_run_renewed": second["renewed"],
    }
    print(f"renewals: {out}", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--burns", type=int, default=20)
    ap.add_argument("--subscriptions", type=int, default=2000)
    args = ap.parse_args()
    import_tables()
    with database(args.db, "bench-loyalty") as url:
        engine = make_engine(url)
        upgrade(engine)
        m, product = _world(engine)
        result = {
            "db": args.db,
            "intake": _intake(engine, m, product, args.orders),
            "burn_storm": _storm(engine, m, product, args.threads, args.burns),
            "renewals": _renewals(engine, m, args.subscriptions),
        }
        engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
