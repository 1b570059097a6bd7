"""Fleet builders for delivery tests, through the real HTTP API."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tests.conftest import Api

_keys = itertools.count()


@dataclass
class Net:
    hub: str
    merchant: str
    mh: dict[str, str]
    product: str
    couriers: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> auth headers
    vehicles: list[str] = field(default_factory=list)


def network(api: Api, *, weight_g: int = 800, stock: int = 50, **hub: Any) -> Net:
    hub_id = api.hub(**hub)
    mid, mh = api.merchant("Bakery")
    pid = api.product(mh, weight_g=weight_g)
    api.receive(mh, hub_id, pid, stock)
    return Net(hub_id, mid, mh, pid)


def vehicle(api: Api, net: Net, mode: str, name: str | None = None, **overrides: Any) -> str:
    vt = api.client.post(
        "/v1/vehicle-types",
        json={"name": name or f"{mode}-{len(net.vehicles)}", "mode": mode, "overrides": overrides},
        headers=api.op,
    )
    assert vt.status_code == 201, vt.text
    v = api.client.post(
        "/v1/vehicles",
        json={"name": f"{mode} {len(net.vehicles)}", "type_id": vt.json()["id"], "hub_id": net.hub},
        headers=api.op,
    )
    assert v.status_code == 201, v.text
    net.vehicles.append(v.json()["id"])
    return str(v.json()["id"])


def courier(
    api: Api,
    net: Net,
    kind: str,
    *,
    vehicle_id: str | None = None,
    mode: str = "car",
    hours: float = 8,
    start: bool = False,
    name: str = "Sam Driver",
) -> str:
    body: dict[str, Any] = {"name": name, "kind": kind, "hub_id": net.hub, "mode": mode}
    if vehicle_id:
        body["vehicle_id"] = vehicle_id
    c = api.client.post("/v1/couriers", json=body, headers=api.op)
    assert c.status_code == 201, c.text
    cid = str(c.json()["courier"]["id"])
    net.couriers[cid] = {"Authorization": f"Bearer {c.json()['api_key']}"}
    now = api.clock.now()
    s = api.client.post(
        f"/v1/couriers/{cid}/shifts",
        json={"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=hours)).isoformat()},
        headers=api.op,
    )
    assert s.status_code == 201, s.text
    if start:
        r = api.client.post(f"/v1/couriers/{cid}/shift/start", headers=net.couriers[cid])
        assert r.status_code == 200, r.text
    return cid


def carrier(api: Api, name: str = "Parcelco", cutoff: str = "18:00") -> str:
    r = api.client.post(
        "/v1/carriers",
        json={
            "name": name,
            "rate_card": {"base": 600, "per_kg": 90, "per_km": 12},
            "handoff_cutoff": cutoff,
        },
        headers=api.op,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def order(api: Api, net: Net, qty: int = 1, packed: bool = True, **extra: Any) -> dict[str, Any]:
    body = api.order_body([(net.product, qty)], **extra)
    key = f"fleet-order-{next(_keys)}"  # unique per process: never a replay by accident
    r = api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    o: dict[str, Any] = r.json()
    if packed:
        for s in o["shipments"]:
            p = api.client.post(f"/v1/shipments/{s['id']}/packed", json={}, headers=api.op)
            assert p.status_code == 200, p.text
    return o


def dispatch(api: Api) -> dict[str, Any]:
    r = api.client.post("/v1/dispatch/default/runs", headers=api.op)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    assert out["violations"] == [], out["violations"]  # the independent checker agrees
    return out


def deliver_all(api: Api, net: Net, courier_id: str) -> None:
    """The courier's first route: loaded, then every stop arrived at and delivered."""
    h = net.couriers[courier_id]
    route = api.client.get(f"/v1/couriers/{courier_id}/routes", headers=h).json()["data"][0]
    r = api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h)
    assert r.status_code == 200, r.text
    for stop in route["stops"]:
        url = f"/v1/routes/{route['id']}/stops/{stop['id']}"
        assert api.client.post(f"{url}/arrive", headers=h).status_code == 200
        r = api.client.post(f"{url}/deliver", json={}, headers=h)
        assert r.status_code == 200, r.text


def shipment(api: Api, net: Net, shipment_id: str) -> dict[str, Any]:
    r = api.client.get(f"/v1/shipments/{shipment_id}", headers=net.mh)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def deliver(api: Api, net: Net, order: dict[str, Any]) -> None:
    """Pack the order, plan it onto the started courier's route, and deliver it there."""
    for s in order["shipments"]:
        api.client.post(f"/v1/shipments/{s['id']}/packed", json={}, headers=api.op)
    dispatch(api)
    cid, h = next(iter(net.couriers.items()))
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    stop = route["stops"][0]
    api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h)
    api.client.post(f"/v1/routes/{route['id']}/stops/{stop['id']}/arrive", headers=h)
    r = api.client.post(f"/v1/routes/{route['id']}/stops/{stop['id']}/deliver", json={}, headers=h)
    assert r.status_code == 200, r.text
