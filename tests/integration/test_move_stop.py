"""The dispatch board's move-a-stop through HTTP, on both databases: a stop moves to
another planned route of its hub when that vehicle can take it, never to a full or
departed one, and a route left without stops is cancelled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hubflow.core.clock import iso_z
from hubflow.core.events import events_table
from hubflow.core.geo import LatLng
from hubflow.core.settings import Settings
from hubflow.delivery.dispatch import DispatchConfig, run_epoch
from hubflow.delivery.eta import route_spec
from hubflow.delivery.store import route_stops_table, routes_table
from hubflow.delivery.travel import GreatCircleTravel, TravelProfile
from hubflow.network.store import hubs_table
from tests import fleet
from tests.conftest import Api


def _two_routes(api: Api) -> tuple[fleet.Net, dict[str, dict[str, Any]], dict[str, str]]:
    """Three urgent parcels, a van that carries two and a gig courier: the van's planned
    route of two, and the courier's accepted route of one."""
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van", capacity_parcels=2, max_trips=1)
    driver = fleet.courier(api, net, "employee", vehicle_id=van, name="Driver A")
    gig = fleet.courier(api, net, "gig", mode="car", name="Gig B", start=True)
    for i in range(3):
        body = api.order_body([(net.product, 1)], lat=47.50 + i * 0.005, lng=-122.25)
        r = api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": f"o{i}"})
        assert r.status_code == 201, r.text
        ship = r.json()["shipments"][0]["id"]
        assert api.client.post(f"/v1/shipments/{ship}/packed", json={}, headers=api.op).is_success
    # Due within 20 minutes: what the van cannot take goes to the gig courier now.
    settings = Settings(dispatch_time_limit_s=0.5, dispatch_window_s=1200, dispatch_handling_s=0)
    cfg = DispatchConfig.from_settings(settings)
    run = run_epoch(api.engine, "default", api.clock.now(), cfg).as_json()
    assert run["routes"] == 1 and run["offered"] == 1 and run["violations"] == [], run
    offers = api.client.get(f"/v1/couriers/{gig}/offers", headers=net.couriers[gig]).json()
    accept = api.client.post(
        f"/v1/offers/{offers['data'][0]['id']}/accept", headers=net.couriers[gig]
    )
    assert accept.status_code == 200, accept.text
    routes = {}
    for cid in (driver, gig):
        (route,) = api.client.get(f"/v1/couriers/{cid}/routes", headers=net.couriers[cid]).json()[
            "data"
        ]
        routes[route["id"]] = route
    return net, routes, {driver: "van", gig: "car"}


def _move(api: Api, route: str, stop: str, to: str) -> Any:
    return api.client.post(
        f"/v1/routes/{route}/stops/{stop}/move", json={"to_route_id": to}, headers=api.op
    )


def _routes(api: Api) -> tuple[fleet.Net, dict[str, Any], dict[str, Any]]:
    net, routes, kinds = _two_routes(api)
    van = next(r for r in routes.values() if kinds[r["courier_id"]] == "van")
    car = next(r for r in routes.values() if kinds[r["courier_id"]] == "car")
    assert (len(van["stops"]), len(car["stops"])) == (2, 1)
    return net, van, car


def _stops(api: Api, net: fleet.Net, route: dict[str, Any]) -> list[dict[str, Any]]:
    r = api.client.get(f"/v1/routes/{route['id']}", headers=net.couriers[route["courier_id"]])
    return list(r.json()["stops"])


def test_move_a_stop_to_a_route_with_room_and_not_to_a_full_one(api: Api) -> None:
    net, van, car = _routes(api)
    # The van carries two and has two: refused, and nothing changed.
    r = _move(api, car["id"], car["stops"][0]["id"], van["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "move_infeasible", r.text
    assert r.json()["error"]["details"][0].startswith("capacity:")
    assert len(_stops(api, net, car)) == 1
    # One of the van's stops to the car: it joins the end of the car's route.
    moving = van["stops"][0]
    r = _move(api, van["id"], moving["id"], car["id"])
    assert r.status_code == 200, r.text
    assert r.json()["route_id"] == car["id"]
    assert [s["shipment_id"] for s in _stops(api, net, car)][-1] == moving["shipment_id"]
    assert len(_stops(api, net, van)) == 1
    ship = fleet.shipment(api, net, moving["shipment_id"])
    assert ship["status"] == "assigned"
    with api.engine.connect() as conn:
        kinds = conn.execute(select(events_table.c.type)).scalars().all()
    assert kinds.count("shipment.rerouted") == 1
    # Now the van has room for the car's first parcel.
    r = _move(api, car["id"], car["stops"][0]["id"], van["id"])
    assert r.status_code == 200, r.text


def test_the_last_stop_moved_away_cancels_its_route(api: Api) -> None:
    net, van, car = _routes(api)
    for stop in van["stops"]:
        assert _move(api, van["id"], stop["id"], car["id"]).status_code == 200
    routes = api.client.get("/v1/dispatch/default/routes", headers=api.op).json()["data"]
    status = {x["id"]: x["status"] for x in routes}
    assert status[van["id"]] == "cancelled" and status[car["id"]] == "accepted"
    assert len(_stops(api, net, car)) == 3


def test_departed_routes_and_bad_requests_are_refused(api: Api) -> None:
    net, van, car = _routes(api)
    ch = net.couriers[car["courier_id"]]
    assert api.client.post(f"/v1/routes/{car['id']}/pickup", headers=ch).status_code == 200
    r = _move(api, van["id"], van["stops"][0]["id"], car["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "route_not_movable"
    r = _move(api, car["id"], car["stops"][0]["id"], van["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "route_not_movable"
    stop = van["stops"][0]["id"]
    assert _move(api, van["id"], stop, van["id"]).json()["error"]["code"] == "same_route"
    other = "stp_01JAAAAAAAAAAAAAAAAAAAAAAA"
    r = _move(api, van["id"], other, car["id"])
    assert r.status_code == 409  # the target has left: checked before the stop
    r = api.client.post(
        f"/v1/routes/{van['id']}/stops/{stop}/move", json={"to_route_id": car["id"]},
        headers=net.mh,
    )  # fmt: skip
    assert r.status_code == 403
    r = _move(api, van["id"], stop, "rte_01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert r.status_code == 404 and r.json()["error"]["code"] == "route_not_found"


def _reassign(api: Api, route: str, courier: str) -> Any:
    return api.client.post(
        f"/v1/routes/{route}/reassign", json={"courier_id": courier}, headers=api.op
    )


def test_reassign_an_own_fleet_route_to_another_employee(api: Api) -> None:
    net, van, car = _routes(api)
    other_van = fleet.vehicle(api, net, "van", name="spare van")
    spare = fleet.courier(api, net, "employee", vehicle_id=other_van, name="Driver C")
    short = fleet.courier(api, net, "employee", vehicle_id=other_van, name="Driver D", hours=0.1)
    r = _reassign(api, van["id"], spare)
    assert r.status_code == 200, r.text
    assert r.json() == {"route_id": van["id"], "courier_id": spare, "previous": van["courier_id"]}
    mine = api.client.get(f"/v1/couriers/{spare}/routes", headers=net.couriers[spare]).json()
    assert [x["id"] for x in mine["data"]] == [van["id"]]
    before = van["courier_id"]
    theirs = api.client.get(f"/v1/couriers/{before}/routes", headers=net.couriers[before])
    assert theirs.json()["data"] == []
    refusals = [
        (_reassign(api, van["id"], spare), 422, "same_courier"),
        (_reassign(api, van["id"], short), 409, "no_shift"),
        (_reassign(api, van["id"], car["courier_id"]), 409, "not_eligible"),
        (_reassign(api, car["id"], before), 409, "gig_route"),
        (_reassign(api, van["id"], "cou_01JAAAAAAAAAAAAAAAAAAAAAAA"), 404, "courier_not_found"),
    ]
    for r, status, code in refusals:
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    # Back to the first driver, who loads and leaves: then it no longer changes hands.
    assert _reassign(api, van["id"], before).status_code == 200
    ch = net.couriers[before]
    assert api.client.post(f"/v1/couriers/{before}/shift/start", headers=ch).is_success
    assert api.client.post(f"/v1/routes/{van['id']}/pickup", headers=ch).status_code == 200
    r = _reassign(api, van["id"], spare)
    assert r.status_code == 409 and r.json()["error"]["code"] == "route_not_movable"


def test_a_driver_busy_at_that_time_is_refused(api: Api) -> None:
    from sqlalchemy import insert

    from hubflow.core.db import UnitOfWork
    from hubflow.core.ids import new_id
    from hubflow.delivery.store import routes_table

    net, van, _ = _routes(api)
    other_van = fleet.vehicle(api, net, "van", name="spare van")
    spare = fleet.courier(api, net, "employee", vehicle_id=other_van, name="Driver C")
    now = api.clock.now()
    with UnitOfWork(api.engine) as uow:  # the driver's own route, overlapping the van's
        uow.conn.execute(
            insert(routes_table).values(
                id=new_id("rte"), region="default", hub_id=net.hub, mode="van",
                vehicle_id=other_van, courier_id=spare, status="planned",
                planned_start=now, planned_end=now + timedelta(hours=1), distance_m=1000,
                cost=100, version=1, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    r = _reassign(api, van["id"], spare)
    assert r.status_code == 409 and r.json()["error"]["code"] == "courier_busy", r.text


def _row(api: Api, table: Any, id_: str) -> Any:
    with api.engine.connect() as conn:
        return conn.execute(select(table).where(table.c.id == id_)).one()


def _round_trip(api: Api, route_id: str, hub: LatLng, profile: TravelProfile) -> int:
    """Metres from the hub through the route's stops, in order, and back."""
    st = route_stops_table.c
    with api.engine.connect() as conn:
        stops = conn.execute(
            select(st.lat, st.lng).where(st.route_id == route_id).order_by(st.seq)
        ).all()
    points = [hub, *(LatLng(s.lat, s.lng) for s in stops), hub]
    dist, _ = GreatCircleTravel().matrices(points, profile)
    return sum(int(dist[i, i + 1]) for i in range(len(points) - 1))


def test_moving_a_stop_away_shortens_its_route_and_lengthens_the_other(api: Api) -> None:
    net, van, car = _routes(api)
    rows = {r["id"]: dict(_row(api, routes_table, r["id"])._mapping) for r in (van, car)}
    with api.engine.connect() as conn:
        hub_row = conn.execute(select(hubs_table).where(hubs_table.c.id == net.hub)).one()
        profiles = {rid: route_spec(conn, row) for rid, row in rows.items()}
    hub = LatLng(hub_row.lat, hub_row.lng)

    def profile(route_id: str) -> TravelProfile:
        s = profiles[route_id]
        return TravelProfile(s.mode.value, s.speed_kmh, s.circuity, s.straight_line)

    # The planner's distances are the travel model's: hub, stops, hub.
    before = _row(api, routes_table, van["id"])
    assert before.distance_m == _round_trip(api, van["id"], hub, profile(van["id"]))
    first, second = sorted(van["stops"], key=lambda s: s["seq"])
    kept_before = _row(api, route_stops_table, second["id"])
    car_before = _row(api, routes_table, car["id"])
    assert _move(api, van["id"], first["id"], car["id"]).status_code == 200

    # The van now drives hub -> second stop -> hub: shorter, sooner, ending earlier.
    after = _row(api, routes_table, van["id"])
    assert after.distance_m == _round_trip(api, van["id"], hub, profile(van["id"]))
    assert after.distance_m < before.distance_m
    kept = _row(api, route_stops_table, second["id"])
    _, dur = GreatCircleTravel().matrices([hub, LatLng(kept.lat, kept.lng)], profile(van["id"]))
    assert kept.eta < kept_before.eta and kept.planned_arrival == kept.eta
    # Straight from the hub now (the planner's schedule had no waiting on this short route).
    assert abs((kept.eta - after.planned_start).total_seconds() - int(dur[0, 1])) <= 60
    assert after.planned_end < before.planned_end
    assert after.planned_end - kept.eta == before.planned_end - kept_before.eta
    ship = fleet.shipment(api, net, second["shipment_id"])
    assert ship["eta"] == iso_z(kept.eta)
    # The car drives hub -> its stop -> the moved stop -> hub, and its distance says so.
    car_after = _row(api, routes_table, car["id"])
    assert car_after.distance_m == _round_trip(api, car["id"], hub, profile(car["id"]))
    assert car_after.distance_m >= car_before.distance_m  # the doors lie on one line here
    assert car_after.planned_end > car_before.planned_end
