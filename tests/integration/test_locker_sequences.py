"""Compartments under random deposits, right and wrong codes and expiry: Hypothesis
drives the locker API and checks after every step that a compartment holds a parcel
exactly when that parcel is in the locker, and locks only after five wrong codes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.lockers import service
from hubflow.lockers.model import MAX_FAILURES
from hubflow.lockers.store import compartments_table
from hubflow.orders.store import shipments_table
from tests import fleet
from tests.machines import ApiMachine, run


class Lockers(ApiMachine):
    def __init__(self) -> None:
        super().__init__()
        api = self.api
        net = fleet.network(api)
        van = fleet.vehicle(api, net, "van")
        cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
        self.ships = [
            fleet.order(api, net, lat=47.6 + i / 300)["shipments"][0]["id"] for i in range(4)
        ]
        fleet.dispatch(api)
        self.h = net.couriers[cid]
        route = api.client.get(f"/v1/couriers/{cid}/routes", headers=self.h).json()["data"][0]
        assert (
            api.client.post(f"/v1/routes/{route['id']}/pickup", headers=self.h).status_code == 200
        )
        r = api.client.post(
            "/v1/lockers",
            headers=api.op,
            json={
                "name": "Station",
                "hub_id": net.hub,
                "lat": 47.6,
                "lng": -122.3,
                "compartments": [{"label": "A1", "size": "M"}, {"label": "A2", "size": "L"}],
            },
        )
        self.bank = r.json()["id"]
        self.codes: dict[str, str] = {}  # compartment label -> code

    @rule(i=st.integers(0, 3))
    def deposit(self, i: int) -> None:
        r = self.ok(
            self.client.post(
                f"/v1/lockers/{self.bank}/deposits",
                headers=self.h,
                json={"shipment_id": self.ships[i]},
            )
        )
        if r.status_code == 201:
            self.codes[r.json()["compartment"]] = r.json()["code"]

    @rule(label=st.sampled_from(["A1", "A2"]), right=st.booleans())
    def pickup(self, label: str, right: bool) -> None:
        code = self.codes.get(label, "123456")
        if not right:
            code = "000000" if code != "000000" else "111111"
        r = self.ok(
            self.client.post(
                f"/v1/lockers/{self.bank}/pickups", json={"compartment": label, "code": code}
            )
        )
        if r.status_code == 200:
            self.codes.pop(label, None)

    @rule(hours=st.integers(1, 80))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        with UnitOfWork(self.engine) as uow:
            service.expire_due(uow, self.clock.now())

    @invariant()
    def compartments_agree_with_parcels(self) -> None:
        with UnitOfWork(self.engine, readonly=True) as uow:
            s = shipments_table.c
            rows = uow.conn.execute(select(compartments_table)).all()
            in_locker = set(uow.conn.execute(select(s.id).where(s.status == "in_locker")).scalars())
            held = {r.shipment_id for r in rows if r.shipment_id is not None}
            assert held == in_locker
            for r in rows:
                assert (r.status in ("occupied", "locked")) == (r.shipment_id is not None)
                assert r.failures <= MAX_FAILURES
                assert (r.status == "locked") == (r.failures >= MAX_FAILURES)


def test_compartment_sequences(_sqlite_template: Path) -> None:
    run(Lockers, _sqlite_template, examples=8, steps=25)
