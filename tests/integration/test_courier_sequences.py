"""Couriers press buttons in any order: Hypothesis drives random sequences of courier
events through the HTTP API and checks after every step that nothing answered 500 and
that routes, stops, shipments and stock still agree."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from hubflow.api.app import create_app
from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key
from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.settings import Settings
from hubflow.delivery.store import route_stops_table, routes_table
from hubflow.inventory.store import stock_table
from hubflow.orders.store import shipments_table
from tests import fleet
from tests.conftest import T0, Api


def _machine(template: Path) -> type[RuleBasedStateMachine]:
    class Couriers(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.dir = tempfile.mkdtemp()
            path = Path(self.dir) / "hubflow.db"
            shutil.copy(template, path)
            self.engine = make_engine(f"sqlite:///{path}")
            clock = ManualClock(T0)
            self.client = TestClient(
                create_app(
                    Settings(dispatch_time_limit_s=0.2),
                    engine=self.engine,
                    clock=clock,
                    run_relay=False,
                ),
                raise_server_exceptions=False,
            )
            with UnitOfWork(self.engine) as uow:
                key, _ = create_key(uow, Role.OPERATOR, None, "tests", clock.now())
            self.api = Api(self.client, self.engine, clock, key.secret)
            self.net = fleet.network(self.api)
            van = fleet.vehicle(self.api, self.net, "van")
            self.courier = fleet.courier(self.api, self.net, "employee", vehicle_id=van)
            self.h = self.net.couriers[self.courier]
            self.orders: list[dict[str, Any]] = []

        def teardown(self) -> None:
            self.client.close()
            self.engine.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)

        def _ok(self, r: Any) -> None:
            assert r.status_code < 500, r.text
            if r.status_code >= 400:
                assert r.json()["error"]["code"]

        def _route(self) -> dict[str, Any] | None:
            r = self.client.get(f"/v1/couriers/{self.courier}/routes", headers=self.h)
            self._ok(r)
            data = r.json()["data"]
            return data[0] if data else None

        @rule(pin=st.booleans(), lat=st.floats(47.55, 47.7), lng=st.floats(-122.4, -122.25))
        def order(self, pin: bool, lat: float, lng: float) -> None:
            proof = {"pin": True} if pin else None
            extra = {"proof_of_delivery": proof} if proof else {}
            self.orders.append(fleet.order(self.api, self.net, lat=lat, lng=lng, **extra))

        @rule()
        def dispatch(self) -> None:
            self._ok(self.client.post("/v1/dispatch/default/runs", headers=self.api.op))

        @rule(start=st.booleans())
        def shift(self, start: bool) -> None:
            what = "start" if start else "end"
            self._ok(self.client.post(f"/v1/couriers/{self.courier}/shift/{what}", headers=self.h))

        @rule()
        def pickup(self) -> None:
            route = self._route()
            if route:
                self._ok(self.client.post(f"/v1/routes/{route['id']}/pickup", headers=self.h))

        @rule(i=st.integers(0, 5), action=st.sampled_from(["arrive", "deliver", "fail", "bad_pin"]))
        def stop(self, i: int, action: str) -> None:
            route = self._route()
            if not route or not route["stops"]:
                return
            stop = route["stops"][i % len(route["stops"])]
            base = f"/v1/routes/{route['id']}/stops/{stop['id']}"
            if action == "arrive":
                r = self.client.post(f"{base}/arrive", headers=self.h)
            elif action == "fail":
                r = self.client.post(f"{base}/fail", json={"reason": "not_at_home"}, headers=self.h)
            else:
                token = next(
                    s["tracking_token"]
                    for o in self.orders
                    for s in o["shipments"]
                    if s["id"] == stop["shipment_id"]
                )
                pin = self.client.get(f"/v1/tracking/{token}").json()["pin"]
                if action == "bad_pin":
                    pin = "0000" if pin != "0000" else "1111"
                r = self.client.post(
                    f"{base}/deliver", json={"pin": pin} if pin else {}, headers=self.h
                )
            self._ok(r)

        @rule()
        def complete(self) -> None:
            route = self._route()
            if route:
                self._ok(self.client.post(f"/v1/routes/{route['id']}/complete", headers=self.h))

        @invariant()
        def consistent(self) -> None:
            with UnitOfWork(self.engine, readonly=True) as uow:
                conn = uow.conn
                st_, r_, s_ = route_stops_table.c, routes_table.c, shipments_table.c
                rows = conn.execute(
                    select(
                        st_.status,
                        st_.route_id,
                        r_.status.label("route"),
                        s_.status.label("ship"),
                        s_.route_id.label("ship_route"),
                    )
                    .join(routes_table, r_.id == st_.route_id)
                    .join(shipments_table, s_.id == st_.shipment_id)
                ).all()
                arrived: dict[str, int] = {}
                for x in rows:
                    if x.status in ("arrived", "delivered", "failed"):
                        assert x.route in ("started", "completed"), x
                    if x.status == "delivered":
                        assert x.ship == "delivered", x
                    if x.status == "arrived":
                        arrived[x.route_id] = arrived.get(x.route_id, 0) + 1
                    if x.ship == "out_for_delivery" and x.ship_route == x.route_id:
                        assert x.route == "started", x
                assert all(n <= 1 for n in arrived.values())
                for s in conn.execute(select(stock_table.c.on_hand, stock_table.c.reserved)):
                    assert 0 <= s.reserved <= s.on_hand

    return Couriers


def test_courier_event_sequences(_sqlite_template: Path) -> None:
    run_state_machine_as_test(
        _machine(_sqlite_template),
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
