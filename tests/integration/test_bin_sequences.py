"""Stow and pick in any order: Hypothesis drives random notices, stows, waves, picks and
short picks through the HTTP API and checks after every step that nothing answered 500
and that no bin ever holds a negative quantity or more than its volume and weight."""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
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
from hubflow.fulfillment.store import bin_stock_table, bins_table
from hubflow.inventory.store import stock_table
from tests.conftest import T0, Api


def _machine(template: Path) -> type[RuleBasedStateMachine]:
    class Bins(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.dir = tempfile.mkdtemp()
            path = Path(self.dir) / "hubflow.db"
            shutil.copy(template, path)
            self.engine = make_engine(f"sqlite:///{path}")
            clock = ManualClock(T0)
            self.client = TestClient(
                create_app(Settings(), engine=self.engine, clock=clock, run_relay=False),
                raise_server_exceptions=False,
            )
            with UnitOfWork(self.engine) as uow:
                key, _ = create_key(uow, Role.OPERATOR, None, "tests", clock.now())
            self.api = api = Api(self.client, self.engine, clock, key.secret)
            self.hub = api.hub()
            _, self.mh = api.merchant("Grocer")
            self.products = [
                api.product(
                    self.mh,
                    sku=f"P{i}",
                    weight_g=w,
                    dimensions_mm={"length": d, "width": d, "height": d},
                )
                for i, (w, d) in enumerate([(400, 150), (2500, 260)])
            ]
            r = api.client.put(
                f"/v1/hubs/{self.hub}/layout",
                headers=api.op,
                json={"generate": {"aisles": 2, "bins_per_side": 2, "levels": 1}},
            )
            assert r.status_code == 200, r.text
            self.bins = [f"{b['id']}" for b in r.json()["layout"]["bins"]]
            self.asns: list[str] = []
            self.tasks: list[dict[str, Any]] = []

        def teardown(self) -> None:
            self.client.close()
            self.engine.dispose()
            shutil.rmtree(self.dir, ignore_errors=True)

        def _ok(self, r: Any) -> Any:
            assert r.status_code < 500, r.text
            if r.status_code >= 400:
                assert r.json()["error"]["code"]
            return r

        @rule(p=st.integers(0, 1), qty=st.integers(1, 40))
        def notice(self, p: int, qty: int) -> None:
            r = self._ok(
                self.client.post(
                    "/v1/asns",
                    headers=self.mh,
                    json={
                        "hub_id": self.hub,
                        "lines": [{"product_id": self.products[p], "quantity": qty}],
                    },
                )
            )
            asn = r.json()["id"]
            self._ok(
                self.client.post(
                    f"/v1/asns/{asn}/receipts",
                    headers=self.api.op,
                    json={"product_id": self.products[p], "quantity": qty},
                )
            )
            self.asns.append(asn)

        @rule(
            i=st.integers(0, 20), p=st.integers(0, 1), b=st.integers(0, 20), qty=st.integers(1, 40)
        )
        def stow(self, i: int, p: int, b: int, qty: int) -> None:
            if not self.asns:
                return
            asn = self.asns[i % len(self.asns)]
            body = {
                "product_id": self.products[p],
                "quantity": qty,
                "bin_code": self.bins[b % len(self.bins)],
            }
            self._ok(self.client.post(f"/v1/asns/{asn}/stows", headers=self.api.op, json=body))

        @rule(p=st.integers(0, 1), qty=st.integers(1, 5))
        def order_and_wave(self, p: int, qty: int) -> None:
            body = self.api.order_body([(self.products[p], qty)])
            key = f"o{len(self.tasks)}-{p}-{qty}-{id(body)}"
            self._ok(
                self.client.post(
                    "/v1/orders", json=body, headers={**self.mh, "Idempotency-Key": key}
                )
            )
            cutoff = (self.api.clock.now() + timedelta(hours=9)).isoformat()
            r = self._ok(
                self.client.post(
                    f"/v1/hubs/{self.hub}/waves", headers=self.api.op, json={"cutoff": cutoff}
                )
            )
            if r.status_code == 201:
                self.tasks += [p for b in r.json()["batches"] for p in b["picks"]]

        @rule(i=st.integers(0, 50), qty=st.integers(1, 6), wrong=st.booleans())
        def pick(self, i: int, qty: int, wrong: bool) -> None:
            if not self.tasks:
                return
            t = self.tasks[i % len(self.tasks)]
            code = self.bins[0] if wrong else t["bin_code"]
            self._ok(
                self.client.post(
                    f"/v1/picks/{t['task_id']}/scan",
                    headers=self.api.op,
                    json={"bin_code": code, "product_id": t["product_id"], "quantity": qty},
                )
            )

        @rule(i=st.integers(0, 50), found=st.integers(0, 3))
        def short(self, i: int, found: int) -> None:
            if not self.tasks:
                return
            t = self.tasks[i % len(self.tasks)]
            r = self._ok(
                self.client.post(
                    f"/v1/picks/{t['task_id']}/short", headers=self.api.op, json={"found": found}
                )
            )
            if r.status_code == 200 and r.json()["next_task"]:
                nxt = r.json()["next_task"]
                self.tasks.append({**t, "task_id": nxt["task_id"]})

        @invariant()
        def bins_hold_what_they_can(self) -> None:
            with UnitOfWork(self.engine, readonly=True) as uow:
                conn = uow.conn
                s = bin_stock_table.c
                for x in conn.execute(select(bins_table)):
                    assert 0 <= x.used_weight_g <= x.max_weight_g
                    assert 0 <= x.used_volume_cm3 * 1000 <= x.length_mm * x.width_mm * x.height_mm
                for q in conn.execute(select(s.quantity)).scalars():
                    assert q >= 0
                for x in conn.execute(select(stock_table.c.on_hand, stock_table.c.reserved)):
                    assert 0 <= x.reserved <= x.on_hand

    return Bins


def test_bin_quantities_under_random_scans(_sqlite_template: Path) -> None:
    run_state_machine_as_test(
        _machine(_sqlite_template),
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
