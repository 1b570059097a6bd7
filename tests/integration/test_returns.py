"""Returns through HTTP, on both databases: only delivered lines within the window, a
drop-off by QR token, a refund by policy written once, and a restock that makes the units
available again (the ledger agrees)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.events import events_table
from hubflow.fulfillment.store import bins_table
from tests import fleet
from tests.conftest import Api


def _delivered(api: Api, value: int = 650, qty: int = 2) -> dict[str, Any]:
    net = fleet.network(api)
    r = api.client.post(
        "/v1/products",
        headers=net.mh,
        json={
            "sku": "VASE",
            "name": "Vase",
            "dimensions_mm": {"length": 200, "width": 200, "height": 300},
            "weight_g": 900,
            "value": {"amount": value, "currency": "USD"},
        },
    )
    product = r.json()["id"]
    api.receive(net.mh, net.hub, product, 10)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    body = api.order_body([(product, qty)])
    order = api.client.post(
        "/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": "r1"}
    ).json()
    ship = order["shipments"][0]["id"]
    api.client.post(f"/v1/shipments/{ship}/packed", json={}, headers=api.op)
    fleet.dispatch(api)
    fleet.deliver_all(api, net, cid)
    h = net.couriers[cid]
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    r = api.client.post(f"/v1/routes/{route['id']}/complete", headers=h)
    assert r.status_code == 200, r.text
    return {"net": net, "product": product, "order": order["id"], "courier": cid}


def _return(api: Api, d: dict[str, Any], qty: int = 1) -> Any:
    return api.client.post(
        "/v1/returns",
        headers=d["net"].mh,
        json={
            "order_id": d["order"],
            "lines": [{"product_id": d["product"], "quantity": qty}],
            "reason": "arrived chipped",
        },
    )


def _stock(api: Api, d: dict[str, Any]) -> dict[str, int]:
    r = api.client.get(
        "/v1/stock",
        headers=d["net"].mh,
        params={"hub_id": d["net"].hub, "product_id": d["product"]},
    )
    row = r.json()["data"][0]
    return {"on_hand": row["on_hand"], "available": row["available"]}


def test_low_value_return_refunds_at_drop_off_once(api: Api) -> None:
    d = _delivered(api)
    r = _return(api, d)
    assert r.status_code == 201, r.text
    ret = r.json()
    assert ret["qr"].startswith("hubflow-return:") and ret["status"] == "authorised"
    token = ret["qr"].split(":", 1)[1]
    body = {"token": token, "hub_id": d["net"].hub}
    r = api.client.post("/v1/returns/drop-offs", headers=api.op, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["refund"]["amount"] == 650 and r.json()["refund"]["trigger"] == "drop_off"
    again = api.client.post("/v1/returns/drop-offs", headers=api.op, json=body)
    assert again.status_code == 409
    # Inspection restocks; the refund is not issued twice.
    r = api.client.post(
        f"/v1/returns/{ret['id']}/inspection",
        headers=api.op,
        json={"lines": [{"product_id": d["product"], "disposition": "restock"}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["refund"]["trigger"] == "drop_off"
    with UnitOfWork(api.engine, readonly=True) as uow:
        refunds = uow.conn.execute(
            select(func.count()).where(events_table.c.type == "refund.issued")
        ).scalar()
    assert refunds == 1
    # 10 received, 2 shipped, 1 back on the shelf.
    assert _stock(api, d) == {"on_hand": 9, "available": 9}


def test_high_value_return_refunds_after_inspection_with_the_fee(api: Api) -> None:
    d = _delivered(api, value=20_000)
    r = api.client.put(
        "/v1/merchants/me/return-policy",
        headers=d["net"].mh,
        json={"window_days": 14, "instant_refund_below": 5_000, "fee": 500},
    )
    assert r.status_code == 200, r.text
    ret = _return(api, d).json()
    token = ret["qr"].split(":", 1)[1]
    r = api.client.post(
        "/v1/returns/drop-offs", headers=api.op, json={"token": token, "hub_id": d["net"].hub}
    )
    assert r.json()["refund"] is None
    r = api.client.post(
        f"/v1/returns/{ret['id']}/inspection",
        headers=api.op,
        json={"lines": [{"product_id": d["product"], "disposition": "dispose"}]},
    )
    assert r.json()["refund"] == {
        **r.json()["refund"],
        "amount": 19_500,
        "fee": 500,
        "trigger": "inspection",
    }
    assert _stock(api, d) == {"on_hand": 8, "available": 8}  # disposed of, not restocked


def test_returns_refused_with_the_reason(api: Api) -> None:
    d = _delivered(api)
    r = _return(api, d, qty=3)  # two were delivered
    assert r.status_code == 409 and r.json()["error"]["code"] == "line_not_delivered"
    assert _return(api, d, qty=2).status_code == 201
    r = _return(api, d, qty=1)  # both already on a return
    assert r.status_code == 409 and r.json()["error"]["code"] == "line_not_delivered"
    api.clock.advance(timedelta(days=31))
    r = api.client.post(
        "/v1/returns",
        headers=d["net"].mh,
        json={
            "order_id": d["order"],
            "lines": [{"product_id": d["product"], "quantity": 1}],
            "reason": "late",
        },
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "return_window_closed"
    _, stranger = api.merchant("Stranger")
    r = api.client.post(
        "/v1/returns",
        headers=stranger,
        json={
            "order_id": d["order"],
            "lines": [{"product_id": d["product"], "quantity": 1}],
            "reason": "not mine",
        },
    )
    assert r.status_code == 404


def _courier_return(api: Api, d: dict[str, Any]) -> dict[str, Any]:
    r = api.client.post(
        "/v1/returns",
        headers=d["net"].mh,
        json={
            "order_id": d["order"],
            "lines": [{"product_id": d["product"], "quantity": 2}],
            "reason": "wrong colour",
            "method": "courier",
        },
    )
    assert r.status_code == 201, r.text
    ret: dict[str, Any] = r.json()
    assert ret["pickup"]["status"] == "ready"
    return ret


def _next_stop(api: Api, d: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    api.clock.advance(timedelta(minutes=5))
    fleet.dispatch(api)
    cid = d["courier"]
    h = d["net"].couriers[cid]
    routes = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"]
    route = next(x for x in routes if x["status"] in ("planned", "accepted"))
    stop = route["stops"][0]
    r = api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h)
    assert r.status_code == 200, r.text
    r = api.client.post(f"/v1/routes/{route['id']}/stops/{stop['id']}/arrive", headers=h)
    assert r.status_code == 200, r.text
    return route["id"], stop["id"], h


def test_courier_collects_a_return_and_brings_it_to_the_hub(api: Api) -> None:
    d = _delivered(api)
    ret = _courier_return(api, d)
    route, stop, h = _next_stop(api, d)
    r = api.client.post(f"/v1/routes/{route}/stops/{stop}/deliver", json={}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "collected", r.text
    got = api.client.get(f"/v1/returns/{ret['id']}", headers=d["net"].mh).json()
    assert got["status"] == "collected" and got["refund"] is None
    r = api.client.post(f"/v1/routes/{route}/complete", headers=h)
    assert r.status_code == 200, r.text
    got = api.client.get(f"/v1/returns/{ret['id']}", headers=d["net"].mh).json()
    assert got["status"] == "dropped_off" and got["hub_id"] == d["net"].hub
    assert got["pickup"]["status"] == "delivered"
    assert got["refund"]["amount"] == 1300 and got["refund"]["trigger"] == "drop_off"
    # The order stays delivered: a return's trip is not the order's delivery.
    order = api.client.get(f"/v1/orders/{d['order']}", headers=d["net"].mh).json()
    assert order["status"] == "delivered"
    assert got["pickup"]["shipment_id"] not in {x["id"] for x in order["shipments"]}
    # Every step is a line on the order's timeline, secrets left out.
    tl = api.client.get(f"/v1/orders/{d['order']}/timeline", headers=d["net"].mh).json()
    events = [x["event"] for x in tl["lines"]]
    for step in (
        "order.accepted",
        "shipment.picked_up",
        "shipment.delivered",
        "return.authorised",
        "return.pickup_requested",
        "shipment.out_for_collection",
        "shipment.collected",
        "return.collected",
        "shipment.received_at_hub",
        "return.dropped_off",
        "refund.issued",
    ):
        assert step in events, (step, events)
    assert events.index("return.collected") < events.index("refund.issued")
    assert all("code" not in x["details"] and "pin" not in x["details"] for x in tl["lines"])
    _, stranger = api.merchant("Stranger")
    r = api.client.get(f"/v1/orders/{d['order']}/timeline", headers=stranger)
    assert r.status_code == 404


def test_a_return_nobody_hands_over_is_called_off_and_can_still_be_dropped_off(
    api: Api,
) -> None:
    d = _delivered(api)
    ret = _courier_return(api, d)
    for attempt in range(2):
        route, stop, h = _next_stop(api, d)
        r = api.client.post(
            f"/v1/routes/{route}/stops/{stop}/fail", json={"reason": "not_at_home"}, headers=h
        )
        assert r.status_code == 200, r.text
        r = api.client.post(f"/v1/routes/{route}/complete", headers=h)
        assert r.status_code == 200, r.text
        want = "retry" if attempt == 0 else "pickup_cancelled"
        assert r.json()["failed_parcels"][0]["next"] == want
    got = api.client.get(f"/v1/returns/{ret['id']}", headers=d["net"].mh).json()
    assert got["status"] == "authorised" and got["method"] == "store"
    assert got["pickup"]["status"] == "cancelled"
    token = ret["qr"].split(":", 1)[1]
    r = api.client.post(
        "/v1/returns/drop-offs", headers=api.op, json={"token": token, "hub_id": d["net"].hub}
    )
    assert r.status_code == 200 and r.json()["refund"]["amount"] == 1300


def test_a_return_dropped_off_before_the_courier_came_calls_the_courier_off(api: Api) -> None:
    d = _delivered(api)
    ret = _courier_return(api, d)
    token = ret["qr"].split(":", 1)[1]
    r = api.client.post(
        "/v1/returns/drop-offs", headers=api.op, json={"token": token, "hub_id": d["net"].hub}
    )
    assert r.status_code == 200, r.text
    assert r.json()["pickup"]["status"] == "cancelled"
    run = fleet.dispatch(api)
    assert run["parcels"] == 0 and run["routes"] == 0


def test_a_return_dropped_off_while_the_courier_is_on_the_way_is_not_tried_again(
    api: Api,
) -> None:
    d = _delivered(api)
    ret = _courier_return(api, d)
    route, stop, h = _next_stop(api, d)
    token = ret["qr"].split(":", 1)[1]
    r = api.client.post(
        "/v1/returns/drop-offs", headers=api.op, json={"token": token, "hub_id": d["net"].hub}
    )
    assert r.status_code == 200, r.text
    r = api.client.post(f"/v1/routes/{route}/stops/{stop}/deliver", json={}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "return_already_dropped"
    r = api.client.post(
        f"/v1/routes/{route}/stops/{stop}/fail", json={"reason": "not_at_home"}, headers=h
    )
    assert r.status_code == 200, r.text
    r = api.client.post(f"/v1/routes/{route}/complete", headers=h)
    assert r.json()["failed_parcels"][0]["next"] == "pickup_cancelled"


def _dropped_off_and_restocked(api: Api, d: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """A return of one unit, dropped off at the hub and inspected as restock: the return
    and the inspection's answer."""
    ret: dict[str, Any] = _return(api, d).json()
    token = ret["qr"].split(":", 1)[1]
    r = api.client.post(
        "/v1/returns/drop-offs", headers=api.op, json={"token": token, "hub_id": d["net"].hub}
    )
    assert r.status_code == 200, r.text
    r = api.client.post(
        f"/v1/returns/{ret['id']}/inspection",
        headers=api.op,
        json={"lines": [{"product_id": d["product"], "disposition": "restock"}]},
    )
    assert r.status_code == 200, r.text
    return ret, r


def test_a_restocked_return_goes_back_into_a_bin(api: Api) -> None:
    d = _delivered(api)
    hub = d["net"].hub
    layout = {"generate": {"aisles": 2, "bins_per_side": 3, "levels": 2}}
    r = api.client.put(f"/v1/hubs/{hub}/layout", headers=api.op, json=layout)
    assert r.status_code == 200, r.text
    _dropped_off_and_restocked(api, d)
    bins = api.client.get(
        f"/v1/hubs/{hub}/bins", params={"product_id": d["product"]}, headers=api.op
    ).json()["data"]
    # Available to promise and where a wave can find it: in a bin.
    assert sum(c["quantity"] for b in bins for c in b["contents"]) == 1
    assert _stock(api, d)["available"] == 9


def test_a_return_no_bin_can_hold_goes_back_to_the_merchant(api: Api) -> None:
    d = _delivered(api)
    hub = d["net"].hub
    layout = {"generate": {"aisles": 1, "bins_per_side": 2, "levels": 1}}
    r = api.client.put(f"/v1/hubs/{hub}/layout", headers=api.op, json=layout)
    assert r.status_code == 200, r.text
    with UnitOfWork(api.engine) as uow:  # small shelves only: the vase fits none
        uow.conn.execute(
            update(bins_table)
            .where(bins_table.c.hub_id == hub)
            .values(length_mm=150, width_mm=150, height_mm=150)
        )
    before = _stock(api, d)
    ret, r = _dropped_off_and_restocked(api, d)
    assert [x["disposition"] for x in r.json()["lines"]] == ["return_to_merchant"]
    # Not counted as stock a wave could never pick; the merchant is told where it went.
    assert _stock(api, d) == before
    with UnitOfWork(api.engine, readonly=True) as uow:
        sent = uow.conn.execute(
            select(events_table.c.payload).where(
                events_table.c.type == "return.sent_to_merchant",
                events_table.c.subject_id == ret["id"],
            )
        ).scalar_one()
    assert sent == {"return_id": ret["id"], "product_id": d["product"], "quantity": 1,
                    "reason": "no_bin_fits"}  # fmt: skip
