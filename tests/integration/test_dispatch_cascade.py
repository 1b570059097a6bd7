"""Own fleet first, then gig offers (accept, decline, expire), then a carrier; re-planning;
cancelled orders; who may see and do what."""

from __future__ import annotations

from datetime import timedelta

from hubflow.delivery.dispatch import DispatchConfig, run_epoch
from hubflow.delivery.loop import Dispatcher, take_lease
from tests import fleet
from tests.conftest import Api


def test_gig_courier_accepts_an_offer(api: Api) -> None:
    net = fleet.network(api)
    gig = fleet.courier(api, net, "gig", mode="car", start=True)
    o = fleet.order(api, net)
    run = fleet.dispatch(api)
    assert run["routes"] == 0 and run["offered"] == 1, run
    ship = o["shipments"][0]["id"]
    assert fleet.shipment(api, net, ship)["status"] == "offered"
    offers = api.client.get(f"/v1/couriers/{gig}/offers", headers=net.couriers[gig]).json()["data"]
    assert len(offers) == 1 and offers[0]["pay"] > 0
    r = api.client.post(f"/v1/offers/{offers[0]['id']}/accept", headers=net.couriers[gig])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    again = api.client.post(f"/v1/offers/{offers[0]['id']}/accept", headers=net.couriers[gig])
    assert again.status_code == 409 and again.json()["error"]["code"] == "offer_answered"
    assert fleet.shipment(api, net, ship)["status"] == "assigned"
    # Another run leaves an accepted route alone.
    fleet.dispatch(api)
    assert fleet.shipment(api, net, ship)["route_id"] == r.json()["id"]


def test_declined_and_expired_offers_move_on_then_go_to_a_carrier(api: Api) -> None:
    net = fleet.network(api)
    first = fleet.courier(api, net, "gig", start=True, name="Ann Gig")
    second = fleet.courier(api, net, "gig", start=True, name="Bob Gig")
    fleet.carrier(api)
    o = fleet.order(api, net)
    ship = o["shipments"][0]["id"]
    assert fleet.dispatch(api)["offered"] == 1
    mine = {
        c: api.client.get(f"/v1/couriers/{c}/offers", headers=h).json()["data"]
        for c, h in net.couriers.items()
    }
    asked = next(c for c, offers in mine.items() if offers)
    other = second if asked == first else first
    r = api.client.post(f"/v1/offers/{mine[asked][0]['id']}/decline", headers=net.couriers[asked])
    assert r.status_code == 200 and r.json()["next"]["courier_id"] == other
    # The next courier lets the offer expire: nobody is left, so a carrier takes it.
    api.clock.advance(timedelta(seconds=121))
    cfg = DispatchConfig(time_limit_s=0.5)
    Dispatcher(api.engine, api.clock, cfg).run_once()
    got = fleet.shipment(api, net, ship)
    assert got["status"] == "carrier_pending" and got["carrier"]["status"] == "quoted"
    assert got["carrier"]["price"] >= 600
    r = api.client.post(
        f"/v1/shipments/{ship}/handoff", json={"tracking_number": "PC123"}, headers=api.op
    )
    assert r.status_code == 200, r.text
    view = api.client.get(f"/v1/tracking/{o['shipments'][0]['tracking_token']}").json()
    assert view["status"] == "handed_to_carrier"
    assert view["carrier"] == {"tracking_number": "PC123"}
    order = api.client.get(f"/v1/orders/{o['id']}", headers=net.mh).json()
    assert order["status"] == "out_for_delivery"


def test_a_parcel_no_one_can_take_is_reported_not_dropped(api: Api) -> None:
    net = fleet.network(api, weight_g=5_000)
    fleet.vehicle(api, net, "drone")  # 2.3 kg at most
    o = fleet.order(api, net)
    ship = o["shipments"][0]["id"]
    run = fleet.dispatch(api)
    assert run["unplaced"] == {ship: "too_heavy"}, run
    got = fleet.shipment(api, net, ship)
    assert got["status"] == "ready" and got["note"] == "too_heavy"
    # A carrier appears: the next run hands it over.
    fleet.carrier(api)
    run = fleet.dispatch(api)
    assert run["to_carrier"] == 1 and fleet.shipment(api, net, ship)["status"] == "carrier_pending"


def test_a_later_run_replans_routes_that_have_not_left(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    fleet.courier(api, net, "employee", vehicle_id=van)
    first = fleet.order(api, net)
    assert fleet.dispatch(api)["routes"] == 1
    second = fleet.order(api, net, lat=47.62, lng=-122.35)
    run = fleet.dispatch(api)
    assert run["routes"] == 1 and run["parcels"] == 2, run
    a, b = (fleet.shipment(api, net, o["shipments"][0]["id"]) for o in (first, second))
    assert a["route_id"] == b["route_id"] is not None
    # Assigned once, not once per re-plan.
    assert [e["kind"] for e in a["events"]].count("assigned") == 1
    routes = api.client.get("/v1/dispatch/default/routes", headers=api.op).json()["data"]
    assert sorted(r["status"] for r in routes) == ["cancelled", "planned"]


def test_cancelled_order_is_skipped_at_loading(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    keep, drop = fleet.order(api, net), fleet.order(api, net, lat=47.62, lng=-122.34)
    assert fleet.dispatch(api)["routes"] == 1
    r = api.client.post(f"/v1/orders/{drop['id']}/cancel", json={}, headers=net.mh)
    assert r.status_code == 200, r.text
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=net.couriers[cid]).json()["data"][
        0
    ]
    r = api.client.post(f"/v1/routes/{route['id']}/pickup", headers=net.couriers[cid])
    assert r.status_code == 200, r.text
    stops = {s["shipment_id"]: s for s in r.json()["stops"]}
    assert set(stops) == {keep["shipments"][0]["id"]}
    assert fleet.shipment(api, net, drop["shipments"][0]["id"])["status"] == "cancelled"


def test_who_may_see_and_do_what(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    mine = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    theirs = fleet.courier(api, net, "gig", start=True, name="Other Courier")
    o = fleet.order(api, net)
    fleet.dispatch(api)
    route = api.client.get(f"/v1/couriers/{mine}/routes", headers=net.couriers[mine]).json()[
        "data"
    ][0]
    other = net.couriers[theirs]
    assert api.client.get(f"/v1/routes/{route['id']}", headers=other).status_code == 404
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=other).status_code == 404
    assert api.client.post(f"/v1/couriers/{mine}/shift/end", headers=other).status_code == 404
    # A merchant key is not a courier's; a courier key is not a merchant's.
    r = api.client.post(f"/v1/couriers/{mine}/shift/end", headers=net.mh)
    assert r.status_code == 403
    ship = o["shipments"][0]["id"]
    r = api.client.get(f"/v1/shipments/{ship}", headers={**other, "Hubflow-Merchant": net.merchant})
    assert r.status_code == 403
    _, stranger = api.merchant("Stranger")
    assert api.client.get(f"/v1/shipments/{ship}", headers=stranger).status_code == 404
    assert api.client.get("/v1/tracking/" + "x" * 24).status_code == 404
    r = api.client.post(
        "/v1/vehicle-types",
        json={"name": "Bad", "mode": "drone", "overrides": {"max_parcel_dims_mm": [1, 2]}},
        headers=api.op,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_vehicle_type"
    r = api.client.post(
        "/v1/orders",
        json=api.order_body(
            [(net.product, 1)], proof_of_delivery={"pin": True, "leave_at_door": True}
        ),
        headers={**net.mh, "Idempotency-Key": "pin-door"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "pin_with_leave_at_door"


def test_one_planner_per_region_at_a_time(api: Api) -> None:
    now = api.clock.now()
    assert take_lease(api.engine, "default", "a", now, 600, 60)
    assert not take_lease(api.engine, "default", "b", now, 600, 60)
    fleet.network(api)
    first = Dispatcher(api.engine, api.clock, DispatchConfig(time_limit_s=0.2))
    api.clock.advance(timedelta(seconds=61))
    assert len(first.run_once()) == 1
    # Within the same epoch nobody plans the region again.
    assert Dispatcher(api.engine, api.clock, DispatchConfig(time_limit_s=0.2)).run_once() == []


def test_sampling_policy_sends_urgent_parcels_and_may_hold_others(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    fleet.courier(api, net, "employee", vehicle_id=van)
    for i in range(6):  # yesterday-like history: the same streets
        fleet.order(api, net, lat=47.60 + i / 200, lng=-122.33)
    cfg = DispatchConfig(policy="sampling", time_limit_s=0.6, epoch_s=900)
    run = run_epoch(api.engine, "default", api.clock.now(), cfg)
    assert run.violations == []
    assert run.dispatched + run.postponed == run.parcels == 6
    # Two hours later, everything still waiting is urgent: it must all go.
    api.clock.advance(timedelta(hours=7, minutes=40))
    run = run_epoch(api.engine, "default", api.clock.now(), cfg)
    assert run.postponed == 0, run


def test_history_sampler_is_reproducible() -> None:
    import numpy as np

    from hubflow.core.geo import LatLng
    from hubflow.delivery.lookahead import HistorySampler
    from hubflow.delivery.snapshot import Recent

    pool = [Recent(LatLng(47.6, -122.3), 600, 3600), Recent(LatLng(47.7, -122.3), 0, 7200)]
    sampler = HistorySampler(pool, first_location=5, per_epoch=3.0, epoch_s=900, service_s=120)
    a = sampler.sample(0, 2, np.random.default_rng(4))
    b = sampler.sample(0, 2, np.random.default_rng(4))
    assert a == b and a
    assert {r.location for r in a} <= {5, 6}
    assert all(r.release_s in (900, 1800) and r.tw_early >= r.release_s for r in a)


def test_a_parcel_due_beyond_the_horizon_waits_out_of_the_plan(api: Api) -> None:
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    fleet.courier(api, net, "employee", vehicle_id=van)
    fleet.order(api, net)
    # No promise on the order: its window opens handling_s after the order.
    cfg = DispatchConfig(time_limit_s=0.5, handling_s=3 * 3600, horizon_s=2 * 3600)
    run = run_epoch(api.engine, "default", api.clock.now(), cfg)
    assert run.parcels == 0 and run.routes == 0, run
    api.clock.advance(timedelta(hours=1, minutes=5))
    run = run_epoch(api.engine, "default", api.clock.now(), cfg)
    assert run.parcels == 1 and run.routes == 1, run
