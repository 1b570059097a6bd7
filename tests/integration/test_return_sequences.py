"""Returns under random sequences: authorisations within and after the window, lines
not delivered (or already returned), drop-offs and inspections retried in any order,
under a random refund policy. Hypothesis drives the API and a small model predicts every
answer; after each step the refund ledger holds exactly one refund per refunded return
(and one ``refund.issued`` event), and restocked units are in available stock with the
stock ledger balanced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.core.events import events_table
from hubflow.inventory.model import Position
from hubflow.returns.service import Disposition
from hubflow.returns.store import refunds_table, returns_table
from tests.builders import all_positions, ledger_sums
from tests.integration.test_store_pickup import pickup_store, place_pickup
from tests.machines import ApiMachine, run

WINDOW_DAYS = 14
VALUES = {"p1": 650, "p2": 20_000, "p3": 900}
BOUGHT = {"p1": 3, "p2": 2}  # p3 was never ordered
PRODUCTS = st.sampled_from(["p1", "p1", "p2", "p2", "p3"])


@dataclass
class Return:
    id: str
    token: str
    lines: dict[str, int]  # product key -> quantity
    state: str = "authorised"

    @property
    def value(self) -> int:
        return sum(VALUES[p] * q for p, q in self.lines.items())


class Returns(ApiMachine):
    def __init__(self) -> None:
        super().__init__()
        api = self.api
        _, self.mh = api.merchant("Corner Grocer")
        # Collected in store: delivered without a dispatch run, so examples stay cheap.
        self.store = pickup_store(api)
        self.ids = {}
        for key, value in VALUES.items():
            money = {"amount": value, "currency": "USD"}
            self.ids[key] = api.product(self.mh, key.upper(), value=money)
            api.receive(self.mh, self.store, self.ids[key], 10)
        lines = [(self.ids[k], q) for k, q in BOUGHT.items()]
        self.order, ship = place_pickup(api, self.mh, self.store, lines, "bought")
        code = api.client.post(f"/v1/shipments/{ship}/ready-for-pickup", headers=api.op).json()
        r = api.client.post(
            f"/v1/hubs/{self.store}/pickups",
            headers=api.op,
            json={"shipment_id": ship, "code": code["code"]},
        )
        assert r.status_code == 200, r.text
        self.delivered_at = self.clock.now()
        self.pending, _ = place_pickup(api, self.mh, self.store, lines[:1], "pending")
        self.base = all_positions(self.engine)
        self.restocked = dict.fromkeys(VALUES, 0)
        self.returns: list[Return] = []
        self.refunds: dict[str, tuple[int, int, str]] = {}  # return -> amount, fee, trigger
        self.instant_below, self.fee = 5_000, 0

    @initialize(instant_below=st.sampled_from([0, 5_000, 10**6]), fee=st.sampled_from([0, 500]))
    def policy(self, instant_below: int, fee: int) -> None:
        r = self.client.put(
            "/v1/merchants/me/return-policy",
            headers=self.mh,
            json={"window_days": WINDOW_DAYS, "instant_refund_below": instant_below, "fee": fee},
        )
        assert r.status_code == 200, r.text
        self.instant_below, self.fee = instant_below, fee

    def _refund(self, ret: Return, trigger: str) -> None:
        fee = min(self.fee, ret.value)
        self.refunds.setdefault(ret.id, (ret.value - fee, fee, trigger))

    def _returnable(self, key: str) -> int:
        taken = sum(r.lines.get(key, 0) for r in self.returns)
        return BOUGHT.get(key, 0) - taken

    def _post_return(self, order: str, lines: list[tuple[str, int]]) -> Any:
        return self.ok(
            self.client.post(
                "/v1/returns",
                headers=self.mh,
                json={
                    "order_id": order,
                    "lines": [{"product_id": self.ids[k], "quantity": q} for k, q in lines],
                    "reason": "changed my mind",
                },
            )
        )

    @rule(lines=st.lists(st.tuples(PRODUCTS, st.integers(1, 2)), min_size=1, max_size=2))
    def authorise(self, lines: list[tuple[str, int]]) -> None:
        r = self._post_return(self.order, lines)
        wanted: dict[str, int] = {}
        for k, q in lines:
            wanted[k] = wanted.get(k, 0) + q
        error = r.json().get("error", {}).get("code")
        event(f"authorise: {error or 'authorised'}")
        if self.clock.now() > self.delivered_at + timedelta(days=WINDOW_DAYS):
            assert (r.status_code, error) == (409, "return_window_closed")
        elif any(q > self._returnable(k) for k, q in wanted.items()):
            assert (r.status_code, error) == (409, "line_not_delivered")
        else:
            assert r.status_code == 201, r.text
            token = r.json()["qr"].removeprefix("hubflow-return:")
            self.returns.append(Return(r.json()["id"], token, wanted))

    @rule()
    def authorise_undelivered(self) -> None:
        r = self._post_return(self.pending, [("p1", 1)])
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_delivered"

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 7))
    def drop_off(self, i: int) -> None:
        ret = self.returns[i % len(self.returns)]
        r = self.ok(
            self.client.post(
                "/v1/returns/drop-offs",
                headers=self.api.op,
                json={"token": ret.token, "hub_id": self.store},
            )
        )
        event(f"drop-off: {r.status_code}")
        if ret.state != "authorised":
            assert r.status_code == 409 and r.json()["error"]["code"] == "return_already_dropped"
            return
        assert r.status_code == 200, r.text
        ret.state = "dropped_off"
        if ret.value < self.instant_below:
            self._refund(ret, "drop_off")
        self._check_answer(ret, r.json())

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 7), dispositions=st.lists(st.sampled_from(Disposition), min_size=3))
    def inspect(self, i: int, dispositions: list[Disposition]) -> None:
        ret = self.returns[i % len(self.returns)]
        chosen = dict(zip(sorted(ret.lines), dispositions, strict=False))
        r = self.ok(
            self.client.post(
                f"/v1/returns/{ret.id}/inspection",
                headers=self.api.op,
                json={
                    "lines": [
                        {"product_id": self.ids[k], "disposition": d} for k, d in chosen.items()
                    ]
                },
            )
        )
        event(f"inspect: {r.status_code}")
        if ret.state != "dropped_off":
            assert r.status_code == 409 and r.json()["error"]["code"] == "return_out_of_order"
            return
        assert r.status_code == 200, r.text
        ret.state = "inspected"
        for k, d in chosen.items():
            if d is Disposition.RESTOCK:
                self.restocked[k] += ret.lines[k]
                self._check_available(k)
        self._refund(ret, "inspection")
        self._check_answer(ret, r.json())

    def _check_available(self, key: str) -> None:
        """What the merchant sees: restocked units are available to sell again."""
        r = self.client.get(
            "/v1/stock",
            headers=self.mh,
            params={"hub_id": self.store, "product_id": self.ids[key]},
        )
        base = self.base[(self.store, self.ids[key])]
        assert r.json()["data"][0]["available"] == base.available + self.restocked[key]

    def _check_answer(self, ret: Return, out: dict[str, Any]) -> None:
        assert out["status"] == ret.state
        want = self.refunds.get(ret.id)
        got = out["refund"]
        assert (got is None) == (want is None)
        if got is not None:
            assert (got["amount"], got["fee"], got["trigger"]) == want

    @rule(days=st.integers(1, 6))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @invariant()
    def one_refund_per_refunded_return(self) -> None:
        with UnitOfWork(self.engine, readonly=True) as uow:
            rows = uow.conn.execute(select(refunds_table)).all()
            issued = [
                e.payload["return_id"]
                for e in uow.conn.execute(
                    select(events_table.c.payload).where(events_table.c.type == "refund.issued")
                )
            ]
            states = {
                r.id: r.status
                for r in uow.conn.execute(select(returns_table.c.id, returns_table.c.status))
            }
        assert {r.return_id: (r.amount, r.fee, r.trigger) for r in rows} == self.refunds
        assert sorted(issued) == sorted(self.refunds)  # one webhook each
        assert states == {r.id: r.state for r in self.returns}

    @invariant()
    def restocked_units_are_available_and_the_ledger_balances(self) -> None:
        positions = all_positions(self.engine)
        for k, product in self.ids.items():
            base = self.base[(self.store, product)]
            want = Position(base.on_hand + self.restocked[k], base.reserved)
            assert positions[(self.store, product)] == want
        assert ledger_sums(self.engine) == positions


def test_return_sequences(_sqlite_template: Path) -> None:
    run(Returns, _sqlite_template, examples=5, steps=20)
