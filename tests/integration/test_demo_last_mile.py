"""The demo's last mile drives one route to a door: an employee's when one was planned,
otherwise a self-driving vehicle's with the operator key. Before dawn in Seattle only
the fulfillment center ships and its autonomous vans are the cheaper plan, so the demo
must not depend on the hour it runs at."""

from __future__ import annotations

from typing import Any

from hubflow.sim.lastmile import LastMile, deliver_one, run_dispatch
from tests import fleet
from tests.conftest import Api


class _DemoApi:
    """The demo's client calls, over the test client."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def client(self) -> Any:
        return self._api.client

    def post(self, path: str, key: str, body: Any, **headers: str) -> Any:
        return self._api.client.post(
            path, json=body, headers={"Authorization": f"Bearer {key}", **headers}
        )

    def created(self, path: str, key: str, body: Any) -> dict[str, Any]:
        r = self.post(path, key, body)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out


def test_with_only_a_self_driving_van_the_demo_drives_its_route(api: Api) -> None:
    net = fleet.network(api)
    fleet.vehicle(api, net, "autonomous_van")
    order = fleet.order(api, net)
    demo, out = _DemoApi(api), LastMile()
    run_dispatch(demo, api.operator_key, "default", out)
    assert [r["courier_id"] for r in out.routes] == [None]
    deliver_one(demo, api.operator_key, out)
    shipment = order["shipments"][0]["id"]
    assert out.delivered["shipment_id"] == shipment and out.delivered["courier"] is None
    assert fleet.shipment(api, net, shipment)["status"] == "delivered"


def test_an_employee_route_is_driven_with_the_couriers_key(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    order = fleet.order(api, net)
    demo = _DemoApi(api)
    out = LastMile(couriers={cid: net.couriers[cid]["Authorization"].removeprefix("Bearer ")})
    run_dispatch(demo, api.operator_key, "default", out)
    deliver_one(demo, api.operator_key, out)
    assert out.delivered["courier"] == cid
    assert fleet.shipment(api, net, order["shipments"][0]["id"])["status"] == "delivered"
