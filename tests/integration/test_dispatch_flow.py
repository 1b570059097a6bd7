"""The last mile through HTTP, on both databases: plan, load, arrive, deliver with a PIN,
track; and a failed attempt that is retried."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hubflow.catalog.model import Role
from hubflow.catalog.service import Principal
from hubflow.core.db import UnitOfWork
from hubflow.core.events import events_table
from hubflow.core.settings import Settings
from hubflow.delivery.courier import complete_route
from hubflow.delivery.dispatch import DispatchConfig, run_epoch
from tests import fleet
from tests.conftest import Api


def _network(api: Api) -> dict[str, Any]:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van)
    return {
        "hub": net.hub,
        "mh": net.mh,
        "pid": net.product,
        "courier": cid,
        "ch": net.couriers[cid],
    }


def _order(api: Api, n: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = api.order_body([(n["pid"], 1)], **extra)
    r = api.client.post(
        "/v1/orders", json=body, headers={**n["mh"], "Idempotency-Key": str(id(body))}
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_order_is_planned_delivered_with_pin_and_tracked(api: Api) -> None:
    n = _network(api)
    order = _order(api, n, proof_of_delivery={"pin": True})
    ship = order["shipments"][0]
    token = ship["tracking_token"]
    assert token and len(token) >= 20
    r = api.client.post(f"/v1/shipments/{ship['id']}/packed", json={}, headers=api.op)
    assert r.status_code == 200, r.text
    run = api.client.post("/v1/dispatch/default/runs", headers=api.op)
    assert run.status_code == 201, run.text
    assert run.json()["routes"] == 1, run.json()
    assert run.json()["violations"] == []
    ch, courier = n["ch"], n["courier"]
    routes = api.client.get(f"/v1/couriers/{courier}/routes", headers=ch).json()["data"]
    assert len(routes) == 1
    route = routes[0]
    stop = route["stops"][0]
    # Out of order: arriving before loading.
    r = api.client.post(f"/v1/routes/{route['id']}/stops/{stop['id']}/arrive", headers=ch)
    assert r.status_code == 409 and r.json()["error"]["code"] == "route_not_started"
    r = api.client.post(f"/v1/routes/{route['id']}/pickup", headers=ch)
    assert r.status_code == 409 and r.json()["error"]["code"] == "shift_not_started"
    assert api.client.post(f"/v1/couriers/{courier}/shift/start", headers=ch).status_code == 200
    r = api.client.post(f"/v1/routes/{route['id']}/pickup", headers={**ch, "Idempotency-Key": "p1"})
    assert r.status_code == 200, r.text
    again = api.client.post(
        f"/v1/routes/{route['id']}/pickup", headers={**ch, "Idempotency-Key": "p1"}
    )
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    pin = api.client.get(f"/v1/tracking/{token}").json()["pin"]
    assert pin is not None and len(pin) == 4
    loc = api.client.post(
        f"/v1/couriers/{courier}/location", json={"lat": 47.60, "lng": -122.33}, headers=ch
    )
    assert loc.status_code == 200 and loc.json()["etas"], loc.text
    r = api.client.post(f"/v1/routes/{route['id']}/stops/{stop['id']}/arrive", headers=ch)
    assert r.status_code == 200, r.text
    wrong = "0000" if pin != "0000" else "1111"
    base = f"/v1/routes/{route['id']}/stops/{stop['id']}"
    r = api.client.post(f"{base}/deliver", json={"pin": wrong}, headers=ch)
    assert r.status_code == 422 and r.json()["error"]["code"] == "wrong_pin"
    r = api.client.post(f"{base}/deliver", json={}, headers=ch)
    assert r.status_code == 422 and r.json()["error"]["code"] == "proof_missing"
    r = api.client.post(f"{base}/deliver", json={"pin": pin}, headers=ch)
    assert r.status_code == 200, r.text
    r = api.client.post(f"{base}/deliver", json={"pin": pin}, headers=ch)
    assert r.status_code == 409
    assert api.client.post(f"/v1/routes/{route['id']}/complete", headers=ch).status_code == 200
    view = api.client.get(f"/v1/tracking/{token}").json()
    assert view["status"] == "delivered" and view["pin"] is None
    assert view["merchant"]["name"] == "Bakery"
    kinds = [e["kind"] for e in view["events"]]
    assert kinds == ["ready", "assigned", "picked_up", "arriving", "delivered"]
    o = api.client.get(f"/v1/orders/{order['id']}", headers=n["mh"]).json()
    assert o["status"] == "delivered"
    with UnitOfWork(api.engine, readonly=True) as uow:
        types = set(uow.conn.execute(select(events_table.c.type)).scalars())
    assert {
        "shipment.assigned",
        "shipment.picked_up",
        "shipment.delivered",
        "order.delivered",
    } <= types


def test_a_burst_of_pins_gets_five_comparisons_then_the_stop_can_only_fail(api: Api) -> None:
    n = _network(api)
    order = _order(api, n, proof_of_delivery={"pin": True})
    ship = order["shipments"][0]
    api.client.post(f"/v1/shipments/{ship['id']}/packed", json={}, headers=api.op)
    ch, courier = n["ch"], n["courier"]
    assert api.client.post(f"/v1/couriers/{courier}/shift/start", headers=ch).status_code == 200
    assert api.client.post("/v1/dispatch/default/runs", headers=api.op).json()["routes"] == 1
    route = api.client.get(f"/v1/couriers/{courier}/routes", headers=ch).json()["data"][0]
    base = f"/v1/routes/{route['id']}/stops/{route['stops'][0]['id']}"
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=ch).status_code == 200
    assert api.client.post(f"{base}/arrive", headers=ch).status_code == 200
    pin = api.client.get(f"/v1/tracking/{ship['tracking_token']}").json()["pin"]
    guesses = [f"{g:04d}" for g in range(12) if f"{g:04d}" != pin][:10]
    barrier = threading.Barrier(len(guesses))
    codes: list[str] = []

    def guess(g: str) -> None:
        barrier.wait()
        r = api.client.post(f"{base}/deliver", json={"pin": g}, headers=ch)
        codes.append(r.json()["error"]["code"])

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == ["pin_locked"] * 5 + ["wrong_pin"] * 5, codes
    # Even the right PIN is no longer compared; the courier fails the stop instead.
    r = api.client.post(f"{base}/deliver", json={"pin": pin}, headers=ch)
    assert r.status_code == 409 and r.json()["error"]["code"] == "pin_locked"
    r = api.client.post(f"{base}/fail", json={"reason": "pin_not_given"}, headers=ch)
    assert r.status_code == 200, r.text


def test_failed_attempt_is_retried_then_returned(api: Api) -> None:
    n = _network(api)
    order = _order(api, n)
    ship = order["shipments"][0]
    api.client.post(f"/v1/shipments/{ship['id']}/packed", json={}, headers=api.op)
    ch, courier = n["ch"], n["courier"]
    assert api.client.post(f"/v1/couriers/{courier}/shift/start", headers=ch).status_code == 200
    for attempt in (1, 2):
        run = api.client.post("/v1/dispatch/default/runs", headers=api.op).json()
        assert run["routes"] == 1, run
        route = api.client.get(f"/v1/couriers/{courier}/routes", headers=ch).json()["data"][0]
        stop = route["stops"][0]
        assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=ch).status_code == 200
        base = f"/v1/routes/{route['id']}/stops/{stop['id']}"
        assert api.client.post(f"{base}/arrive", headers=ch).status_code == 200
        r = api.client.post(f"{base}/fail", json={"reason": "not_at_home"}, headers=ch)
        assert r.status_code == 200, r.text
        r = api.client.post(f"/v1/routes/{route['id']}/complete", headers=ch)
        assert r.status_code == 200, r.text
        expected = "retry" if attempt == 1 else "returned_to_hub"
        assert r.json()["failed_parcels"][0]["next"] == expected
    got = api.client.get(f"/v1/shipments/{ship['id']}", headers=n["mh"]).json()
    assert got["status"] == "returned_to_hub" and got["attempts"] == 2
    o = api.client.get(f"/v1/orders/{order['id']}", headers=n["mh"]).json()
    assert o["status"] == "returned"


def test_route_under_way_keeps_its_parcels_when_replanned(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    h = net.couriers[cid]
    first = [fleet.order(api, net, lat=47.60 + i / 100, lng=-122.33) for i in range(2)]
    assert fleet.dispatch(api)["routes"] == 1
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h).status_code == 200
    api.clock.advance(timedelta(minutes=20))
    api.client.post(f"/v1/couriers/{cid}/location", json={"lat": 47.55, "lng": -122.3}, headers=h)
    later = fleet.order(api, net, lat=47.58, lng=-122.31)
    # Taking it means driving back to reload: two moves at once for the search, which
    # finds them only after some 10^5 iterations (a few seconds). Counted in iterations,
    # not seconds, so a busy machine cannot cut the search short.
    cfg = DispatchConfig.from_settings(
        Settings(dispatch_time_limit_s=60.0, dispatch_max_iterations=160_000)
    )
    run = run_epoch(api.engine, "default", api.clock.now(), cfg).as_json()
    assert run["routes"] == 0 and run["violations"] == [], run  # the new parcel rides next
    after = api.client.get(f"/v1/routes/{route['id']}", headers=h).json()
    on_board = {o["shipments"][0]["id"] for o in first}
    stops = {s["shipment_id"]: s for s in after["stops"]}
    # The parcels on board stay on this van; the new one is loaded on a later trip.
    assert on_board < set(stops)
    new = stops[later["shipments"][0]["id"]]
    assert new["trip"] > 1 and new["status"] == "planned"
    for sid in on_board:
        base = f"/v1/routes/{route['id']}/stops/{stops[sid]['id']}"
        assert api.client.post(f"{base}/arrive", headers=h).status_code == 200
        assert api.client.post(f"{base}/deliver", json={}, headers=h).status_code == 200
    r = api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h)
    assert r.status_code == 200, r.text
    assert fleet.shipment(api, net, later["shipments"][0]["id"])["status"] == "out_for_delivery"


def test_photo_proof_is_kept_and_refused_parcels_go_to_a_store(api: Api) -> None:
    net = fleet.network(api)
    store = api.hub(
        name="Capitol Hill store",
        kind="store",
        location={"lat": 47.62, "lng": -122.32},
        capabilities=["pick_up_in_store"],
    )
    assert store
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    h = net.couriers[cid]
    photo = fleet.order(api, net, proof_of_delivery={"photo": True, "leave_at_door": True})
    away = fleet.order(api, net, lat=47.625, lng=-122.33)
    fleet.dispatch(api)
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h).status_code == 200
    by_ship = {s["shipment_id"]: s for s in route["stops"]}
    p_stop = by_ship[photo["shipments"][0]["id"]]
    base = f"/v1/routes/{route['id']}/stops/{p_stop['id']}"
    api.client.post(f"{base}/arrive", headers=h)
    bad = api.client.post(f"{base}/deliver", json={"photo_base64": "not base64!"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_proof"
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    r = api.client.post(f"{base}/deliver", json={"photo_base64": png}, headers=h)
    assert r.status_code == 200, r.text
    got = fleet.shipment(api, net, photo["shipments"][0]["id"])
    proof = got["proofs"][0]
    img = api.client.get(f"/v1/shipments/{got['id']}/proofs/{proof['id']}", headers=net.mh)
    assert img.status_code == 200 and img.content.startswith(b"\x89PNG")
    a_stop = by_ship[away["shipments"][0]["id"]]
    base = f"/v1/routes/{route['id']}/stops/{a_stop['id']}"
    api.client.post(f"{base}/arrive", headers=h)
    r = api.client.post(f"{base}/fail", json={"reason": "access_denied"}, headers=h)
    assert r.status_code == 200
    # Not retried forever: with one attempt allowed, it waits at the nearby store.
    with UnitOfWork(api.engine) as uow:
        done = complete_route(
            uow, Principal(Role.OPERATOR, "", None), route["id"], api.clock.now(), max_attempts=1
        )
    assert done["failed_parcels"] == [
        {"shipment_id": away["shipments"][0]["id"], "next": "redirected", "hub_id": store}
    ]
    view = api.client.get(f"/v1/tracking/{away['shipments'][0]['tracking_token']}").json()
    assert view["status"] == "redirected" and view["pickup_at"]["name"] == "Capitol Hill store"
