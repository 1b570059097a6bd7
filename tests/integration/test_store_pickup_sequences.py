"""Pick-up in store under random sequences: orders called to the counter, right and
wrong codes, time passing and the no-show sweep, in any order. Hypothesis drives the API
and a small model predicts every answer; after each step the orders, the store's stock
and the stock ledger agree with the model: an order is handed over at most once, locks
after five wrong codes, and a no-show puts its units back on the shelf."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.inventory.model import Position
from hubflow.lockers import store_pickup
from hubflow.lockers.model import MAX_FAILURES
from hubflow.lockers.store import store_pickups_table
from hubflow.orders.store import orders_table, shipments_table
from tests.builders import all_positions, ledger_sums
from tests.integration.test_store_pickup import pickup_store, place_pickup
from tests.machines import ApiMachine, run

STOCK = 4
QUANTITIES = (1, 2)
ORDERS = st.integers(0, len(QUANTITIES) - 1)

# The model's state of an order -> its shipment's and its order's status.
SHIPMENT = {
    "packed": "ready",
    "waiting": "awaiting_pickup",
    "collected": "delivered",
    "no_show": "cancelled",
}
ORDER = {"collected": "delivered", "no_show": "cancelled"}


@dataclass
class Pickup:
    order: str
    ship: str
    qty: int
    state: str = "packed"
    code: str | None = None
    hold_until: datetime | None = None
    failures: int = 0


class Pickups(ApiMachine):
    def __init__(self) -> None:
        super().__init__()
        api = self.api
        _, self.mh = api.merchant("Corner Grocer")
        self.store = pickup_store(api)
        self.product = api.product(self.mh, "LOAF")
        api.receive(self.mh, self.store, self.product, STOCK)
        self.pickups = [
            Pickup(*place_pickup(api, self.mh, self.store, [(self.product, q)], f"pick-{i}"), q)
            for i, q in enumerate(QUANTITIES)
        ]

    @initialize()
    def first_order_ready(self) -> None:
        # One order at the counter from the start, so that most steps exercise codes.
        self.ready(0)

    @rule(i=ORDERS)
    def ready(self, i: int) -> None:
        p = self.pickups[i]
        r = self.ok(
            self.client.post(f"/v1/shipments/{p.ship}/ready-for-pickup", headers=self.api.op)
        )
        if p.state != "packed":
            assert r.status_code == 409, r.text  # called to the counter once
            return
        assert r.status_code == 200, r.text
        p.state, p.code = "waiting", r.json()["code"]
        p.hold_until = self.clock.now() + store_pickup.HOLD

    @rule(i=ORDERS)
    def hand_over(self, i: int) -> None:
        self._hand_over(self.pickups[i], right=True)

    @precondition(lambda self: any(p.state == "waiting" for p in self.pickups))
    @rule(i=ORDERS, tries=st.integers(1, 3))
    def guess(self, i: int, tries: int) -> None:
        for _ in range(tries):
            self._hand_over(self.pickups[i], right=False)

    def _hand_over(self, p: Pickup, *, right: bool) -> None:
        code = p.code or "123456"
        if not right:
            code = "000000" if code != "000000" else "111111"
        r = self.ok(
            self.client.post(
                f"/v1/hubs/{self.store}/pickups",
                headers=self.api.op,
                json={"shipment_id": p.ship, "code": code},
            )
        )
        status, error = r.status_code, r.json().get("error", {}).get("code")
        event(f"hand over: {error or 'handed over'}")
        if p.state == "packed":
            assert (status, error) == (404, "pickup_not_found")
        elif p.state != "waiting":
            assert (status, error) == (409, "pickup_closed")
        elif p.failures >= MAX_FAILURES:
            assert (status, error) == (409, "pickup_locked")
        elif p.hold_until is not None and p.hold_until <= self.clock.now():
            assert (status, error) == (409, "expired_code")
        elif not right:
            assert (status, error) == (422, "wrong_code")
            p.failures += 1
        else:
            assert status == 200 and r.json()["handed_over"], r.text
            p.state = "collected"

    @rule(hours=st.integers(12, 96))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    @rule()
    def no_show_sweep(self) -> None:
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            n = store_pickup.expire_no_shows(uow, now)
        due = [
            p
            for p in self.pickups
            if p.state == "waiting" and p.hold_until is not None and p.hold_until <= now
        ]
        assert n == len(due)
        for p in due:
            event("no-show")
            p.state = "no_show"

    @invariant()
    def orders_agree_with_the_model(self) -> None:
        s, o = shipments_table.c, orders_table.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            ships = {r.id: r.status for r in uow.conn.execute(select(s.id, s.status))}
            orders = {r.id: r.status for r in uow.conn.execute(select(o.id, o.status))}
            rows = {r.shipment_id: r for r in uow.conn.execute(select(store_pickups_table))}
        for p in self.pickups:
            assert ships[p.ship] == SHIPMENT[p.state], p
            if p.state in ORDER:
                assert orders[p.order] == ORDER[p.state], p
            row = rows.get(p.ship)
            assert (row is None) == (p.state == "packed")
            if row is not None:
                assert row.status == p.state
                assert row.failures == p.failures <= MAX_FAILURES
                assert (row.code_hash is None) == (p.state != "waiting")

    @invariant()
    def stock_matches_the_model_and_the_ledger(self) -> None:
        handed = sum(p.qty for p in self.pickups if p.state == "collected")
        held = sum(p.qty for p in self.pickups if p.state in ("packed", "waiting"))
        positions = all_positions(self.engine)
        assert positions[(self.store, self.product)] == Position(STOCK - handed, held)
        assert ledger_sums(self.engine) == positions


def test_store_pickup_sequences(_sqlite_template: Path) -> None:
    run(Pickups, _sqlite_template, examples=8, steps=25)
