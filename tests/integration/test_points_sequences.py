"""The points ledger under any sequence of orders (with and without burns), cancels,
returns, grants, transfers out and expiry, on the real services and SQLite: after every
step the balance equals the sum of the entries and of the lots, nothing is negative (a
debt is a recorded entry), and every reversal matches its cause and never exceeds it
(nor takes again what expired unused)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.errors import InvalidInput
from hubflow.points import service as points
from hubflow.points.ledger import Cause, InsufficientPoints, debit
from hubflow.points.model import REVERSES, Kind, Program
from hubflow.points.store import accounts_table, entries_table
from tests.builders import make_merchant, make_product
from tests.conftest import T0

CUSTOMER = "cus_1"
BASKET = st.integers(0, 3)


def _machine(template: Path) -> type[RuleBasedStateMachine]:
    class Ledger(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.dir = tempfile.mkdtemp()
            path = Path(self.dir) / "hubflow.db"
            shutil.copy(template, path)
            self.engine = make_engine(f"sqlite:///{path}")
            self.now = T0
            self.m = make_merchant(self.engine, T0)
            self.products = [make_product(self.engine, T0, self.m, sku) for sku in ("A-1", "B-1")]
            with UnitOfWork(self.engine) as uow:
                program = Program(bonuses=(), expiry_days=20, max_burn_pct=80, points_per_unit=3)
                points.set_program(uow.conn, self.m, program, T0)
            self.bought: dict[str, dict[str, int]] = {}  # order -> product -> units left
            self.n = 0
            self.cancelled: set[str] = set()

        def teardown(self) -> None:
            self.engine.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)

        def _id(self, prefix: str) -> str:
            self.n += 1
            return f"{prefix}_{self.n}"

        # Half the orders burn nothing, so that orders are placed from an empty account too.
        @rule(qa=BASKET, qb=BASKET, burn=st.one_of(st.just(0), st.integers(1, 600)))
        def order(self, qa: int, qb: int, burn: int) -> None:
            lines = [(p, q) for p, q in zip(self.products, (qa, qb), strict=True) if q]
            if not lines:
                return
            order_id = self._id("ord")
            try:
                with UnitOfWork(self.engine) as uow:
                    points.checkout(uow.conn, self.m, order_id, CUSTOMER, lines, burn, self.now)
            except (InsufficientPoints, InvalidInput):
                return
            self.bought[order_id] = dict(lines)

        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            if not self.bought:
                return
            order_id = data.draw(st.sampled_from(sorted(self.bought)))
            with UnitOfWork(self.engine) as uow:
                points.order_cancelled(uow.conn, self.m, order_id, self.now)
            self.bought.pop(order_id)
            self.cancelled.add(order_id)

        @rule(data=st.data())
        def give_back(self, data: st.DataObject) -> None:
            left = {o: b for o, b in self.bought.items() if any(b.values())}
            if not left:
                return
            order_id = data.draw(st.sampled_from(sorted(left)))
            units = left[order_id]
            lines = [(p, data.draw(st.integers(0, q))) for p, q in units.items() if q]
            lines = [(p, q) for p, q in lines if q]
            if not lines:
                return
            with UnitOfWork(self.engine) as uow:
                points.lines_returned(uow.conn, self.m, order_id, self._id("ret"), lines, self.now)
            for p, q in lines:
                units[p] -= q

        @rule(n=st.integers(1, 300))
        def grant(self, n: int) -> None:
            with UnitOfWork(self.engine) as uow:
                points.grant(uow, self.m, CUSTOMER, n, self._id("g"), "promo", self.now)

        @rule(n=st.integers(1, 300))
        def transfer_out(self, n: int) -> None:
            ref = self._id("tr")
            try:
                with UnitOfWork(self.engine) as uow:
                    debit(
                        uow.conn,
                        self.m,
                        CUSTOMER,
                        Kind.TRANSFER_OUT,
                        n,
                        ref,
                        Cause("transfer", ref),
                        self.now,
                    )
            except InsufficientPoints:
                pass

        @rule(days=st.integers(1, 15))
        def time_passes(self, days: int) -> None:
            self.now += timedelta(days=days)
            with UnitOfWork(self.engine) as uow:
                points.expire_due(uow, self.now)

        @invariant()
        def balance_is_the_sum_of_entries_and_lots(self) -> None:
            a, e = accounts_table.c, entries_table.c
            with UnitOfWork(self.engine, readonly=True) as uow:
                acc = uow.conn.execute(select(a.balance, a.debt)).first()
                sums = uow.conn.execute(
                    select(
                        func.sum(e.points),
                        func.sum(e.debt),
                        func.sum(e.remaining),
                        func.count().filter(e.debt > 0),
                    )
                ).one()
            if acc is None:
                return
            assert acc.balance == int(sums[0] or 0) == int(sums[2] or 0)
            assert acc.debt == int(sums[1] or 0)
            assert acc.balance >= 0 and acc.debt >= 0
            assert acc.debt == 0 or sums[3] > 0  # a debt is always a recorded entry

        @invariant()
        def every_reversal_matches_its_cause(self) -> None:
            e = entries_table.c
            with UnitOfWork(self.engine, readonly=True) as uow:
                rows = {r.id: r for r in uow.conn.execute(select(entries_table))}
            taken: dict[str, int] = {}
            for r in rows.values():
                kind = Kind(r.kind)
                if kind in REVERSES:
                    cause = rows[r.reverses_id]
                    assert Kind(cause.kind) is REVERSES[kind]
                    assert cause.cause_id == r.cause_id or r.cause_type == "return"
                    taken[cause.id] = taken.get(cause.id, 0) + (
                        int(r.debt) - int(r.points)
                        if kind is Kind.EARN_REVERSED
                        else int(r.points) - int(r.debt)
                    )
                else:
                    assert r.reverses_id is None
            expired = {
                r.cause_id: -int(r.points) for r in rows.values() if Kind(r.kind) is Kind.EXPIRE
            }
            for cause_id, n in taken.items():
                cause = rows[cause_id]
                if Kind(cause.kind) is Kind.EARN:  # what expired unused is not taken again
                    assert n + expired.get(cause_id, 0) <= cause.detail["total"]
                else:  # a burn comes back by returned value, and whole once cancelled
                    assert n <= -int(cause.points)
                    assert n == -int(cause.points) or cause.cause_id not in self.cancelled
            assert e is not None

    return Ledger


def test_ledger_sequences(_sqlite_template: Path) -> None:
    run_state_machine_as_test(
        _machine(_sqlite_template),
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
