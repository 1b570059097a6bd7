"""Renewals under any clock: whatever the jumps of the injected clock and however often
the job runs, a subscription is charged once for every period that has started, its
periods follow each other without gap or overlap on calendar months, and a trial is
never charged."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hubflow.core.db import UnitOfWork, make_engine
from hubflow.membership import service
from hubflow.membership.model import Benefits, Billing, Plan, add_months
from hubflow.membership.store import charges_table
from tests.builders import make_merchant
from tests.conftest import T0

ADDRESS = {"line1": "1 Main St", "postcode": "98101", "country": "US"}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start_day=st.integers(0, 60),
    trial_days=st.sampled_from([0, 7, 30]),
    billing=st.sampled_from(list(Billing)),
    jumps=st.lists(st.tuples(st.integers(0, 24 * 90), st.integers(1, 2)), max_size=6),
)
def test_one_charge_per_started_period(
    _sqlite_template: Path,
    start_day: int,
    trial_days: int,
    billing: Billing,
    jumps: list[tuple[int, int]],
) -> None:
    folder = tempfile.mkdtemp()
    try:
        path = Path(folder) / "hubflow.db"
        shutil.copy(_sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        start = T0 + timedelta(days=start_day - 30, hours=7)  # from 31 January
        m = make_merchant(engine, start)
        plan = Plan("mpl_p", m, "p", "P", "USD", 1000, 9000, trial_days, 0, Benefits({}))
        with UnitOfWork(engine) as uow:
            service.create_plan(uow, plan, start)
            sub = service.subscribe(uow, m, "mpl_p", "cus", billing, ADDRESS, start)
        now = start
        for hours, runs in jumps:
            now += timedelta(hours=hours)
            for _ in range(runs):
                with UnitOfWork(engine) as uow:
                    service.renew_due(uow, now)
        c = charges_table.c
        with UnitOfWork(engine, readonly=True) as uow:
            got = [
                (r.period_start, r.period_end, r.amount)
                for r in uow.conn.execute(
                    select(c.period_start, c.period_end, c.amount)
                    .where(c.subscription_id == sub["id"])
                    .order_by(c.period_start)
                )
            ]
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    anchor = start + timedelta(days=trial_days)
    price = 1000 if billing is Billing.MONTHLY else 9000
    expected = []
    k = 0
    while True:
        p_start = add_months(anchor, billing.months * k)
        paid_at_start = k == 0 and trial_days == 0
        if not paid_at_start and p_start > now:  # renewed only once its period has begun
            break
        expected.append((p_start, add_months(anchor, billing.months * (k + 1)), price))
        k += 1
    assert got == expected
