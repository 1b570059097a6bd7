"""Lockers through HTTP, on both databases: a courier deposits, the customer collects
with the code once; wrong codes lock a compartment and pause the keypad; two couriers
at one compartment; parcels too big; expiry back to the hub."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict
from hubflow.lockers import service
from tests import fleet
from tests.conftest import Api


def _on_board(api: Api, n: int = 1, **order: Any) -> tuple[fleet.Net, list[str], dict[str, str]]:
    """A van out with ``n`` parcels on board; returns the net, shipment ids, courier auth."""
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    ships = [
        fleet.order(api, net, lat=47.61 + i / 500, **order)["shipments"][0]["id"] for i in range(n)
    ]
    fleet.dispatch(api)
    h = net.couriers[cid]
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h).status_code == 200
    return net, ships, h


def _bank(api: Api, net: fleet.Net, sizes: list[str] | None = None) -> str:
    r = api.client.post(
        "/v1/lockers",
        headers=api.op,
        json={
            "name": "Capitol Hill Station",
            "hub_id": net.hub,
            "lat": 47.619,
            "lng": -122.32,
            "compartments": [
                {"label": f"A{i + 1}", "size": s} for i, s in enumerate(sizes or ["S", "M", "L"])
            ],
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_deposit_and_collect_once(api: Api) -> None:
    net, (ship,), h = _on_board(api)
    bank = _bank(api, net)
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    assert r.status_code == 201, r.text
    box, code = r.json()["compartment"], r.json()["code"]
    assert len(code) == 6 and code.isdigit()
    got = fleet.shipment(api, net, ship)
    assert got["status"] == "in_locker"
    assert got["events"][-1]["code"] == code  # the merchant passes it on (webhook too)
    wrong = "000000" if code != "000000" else "111111"
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": wrong})
    assert r.status_code == 422 and r.json()["error"]["code"] == "wrong_code"
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": code})
    assert r.status_code == 200 and r.json()["opened"], r.text
    again = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": code})
    assert again.status_code == 422 and again.json()["error"]["code"] == "unknown_code"
    assert fleet.shipment(api, net, ship)["status"] == "delivered"
    order = fleet.shipment(api, net, ship)["order_id"]
    assert api.client.get(f"/v1/orders/{order}", headers=net.mh).json()["status"] == "delivered"


def test_brute_force_locks_the_compartment_and_pauses_the_keypad(api: Api) -> None:
    net, (ship,), h = _on_board(api)
    bank = _bank(api, net)
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    box, code = r.json()["compartment"], r.json()["code"]
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code][:5]
    for g in guesses:
        r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": g})
        assert r.status_code == 422
    # Locked: even the right code no longer opens it.
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": code})
    assert r.status_code == 409 and r.json()["error"]["code"] == "compartment_locked"
    # Guessing across compartments runs into the bank's rate limit.
    statuses = [
        api.client.post(
            f"/v1/lockers/{bank}/pickups", json={"compartment": "A3", "code": f"{n:06d}"}
        ).status_code
        for n in range(20)
    ]
    assert 429 in statuses
    api.clock.advance(timedelta(minutes=11))
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": "A3", "code": "123456"})
    assert r.status_code == 422  # the window passed


def test_parallel_wrong_codes_are_all_counted_and_the_lock_is_on_the_timeline(api: Api) -> None:
    net, (ship,), h = _on_board(api)
    bank = _bank(api, net)
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    box, code = r.json()["compartment"], r.json()["code"]
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code][:8]
    barrier = threading.Barrier(len(guesses))
    answers: list[str] = []

    def guess(g: str) -> None:
        barrier.wait()
        r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": g})
        answers.append(r.json()["error"]["code"])

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Five guesses are counted as wrong; the rest find the compartment locked.
    assert sorted(answers) == ["compartment_locked"] * 3 + ["wrong_code"] * 5, answers
    order = fleet.shipment(api, net, ship)["order_id"]
    tl = api.client.get(f"/v1/orders/{order}/timeline", headers=net.mh).json()["lines"]
    assert [x["event"] for x in tl].count("shipment.locker_locked") == 1


def test_two_couriers_one_compartment(api: Api) -> None:
    net, ships, _ = _on_board(api, n=2)
    bank = _bank(api, net, ["M"])
    results: list[str] = []
    barrier = threading.Barrier(2)

    def go(ship: str) -> None:
        barrier.wait()
        try:
            with UnitOfWork(api.engine) as uow:
                service.deposit(uow, bank, ship, api.clock.now(), label="A1")
            results.append("won")
        except Conflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=go, args=(s,)) for s in ships]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[-1] == "won" and results.count("won") == 1, results


def test_too_big_for_every_compartment(api: Api) -> None:
    net, (ship,), h = _on_board(api)
    r = api.client.post(f"/v1/shipments/{ship}/packed", json={}, headers=api.op)
    bank = _bank(api, net, ["S"])
    from sqlalchemy import update

    from hubflow.orders.store import shipments_table

    with UnitOfWork(api.engine) as uow:  # a bulky carton
        uow.conn.execute(
            update(shipments_table)
            .where(shipments_table.c.id == ship)
            .values(dims_mm=[700, 500, 400])
        )
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_compartment"


def test_uncollected_parcels_go_back_after_the_hold(api: Api) -> None:
    net, (ship,), h = _on_board(api)
    bank = _bank(api, net)
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    box, code = r.json()["compartment"], r.json()["code"]
    api.clock.advance(timedelta(days=3, minutes=1))
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": code})
    assert r.status_code == 409 and r.json()["error"]["code"] == "expired_code"
    with UnitOfWork(api.engine) as uow:
        assert service.expire_due(uow, api.clock.now()) == 1
    got = fleet.shipment(api, net, ship)
    assert got["status"] == "returned_to_hub"
    assert (
        api.client.get(f"/v1/orders/{got['order_id']}", headers=net.mh).json()["status"]
        == "returned"
    )
    compartments = api.client.get(f"/v1/lockers/{bank}", headers=api.op).json()["compartments"]
    assert all(c["status"] == "free" for c in compartments)


def _quote(api: Api, net: fleet.Net, qty: int = 1, product: str | None = None) -> dict[str, Any]:
    body = api.order_body([(product or net.product, qty)])
    r = api.client.post(
        "/v1/quotes",
        headers=net.mh,
        json={"address": body["address"], "lines": body["lines"]},
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _locker_option(quote: dict[str, Any]) -> dict[str, Any] | None:
    return next((o for o in quote["options"] if o["code"] == "locker"), None)


def _why(quote: dict[str, Any]) -> str | None:
    return next((u["reason"] for u in quote["unavailable"] if u["code"] == "locker"), None)


def _order_on(api: Api, net: fleet.Net, quote: dict[str, Any], key: str) -> Any:
    body = api.order_body(
        [(x["product_id"], x["quantity"]) for x in quote["lines"]],
        quote_id=quote["id"],
        option="locker",
    )
    return api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": key})


def test_locker_delivery_is_offered_held_and_deposited_into_its_compartment(api: Api) -> None:
    net = fleet.network(api)
    assert _why(_quote(api, net)) == "no_locker_nearby"
    bank = _bank(api, net, ["M"])
    quote = _quote(api, net)
    option = _locker_option(quote)
    assert option is not None, quote["unavailable"]
    assert option["locker"]["bank_id"] == bank and option["fee"]["amount"] == 199
    assert option["locker"]["via"] in ("same_day", "next_day", "standard_2d")
    r = _order_on(api, net, quote, "lk1")
    assert r.status_code == 201, r.text
    order = r.json()
    (box,) = api.client.get(f"/v1/lockers/{bank}", headers=api.op).json()["compartments"]
    assert box["held_until"] is not None
    # The one compartment is held: the next customer is not offered this locker.
    second = _quote(api, net)
    assert _locker_option(second) is None and _why(second) == "no_compartment"
    # The van goes to the locker, not to the customer's door, and the parcel goes into
    # the compartment held for it.
    opens = datetime.fromisoformat(option["window"]["from"])
    api.clock.advance(opens - api.clock.now() - timedelta(minutes=30))
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    ship = order["shipments"][0]["id"]
    api.client.post(f"/v1/shipments/{ship}/packed", json={}, headers=api.op)
    fleet.dispatch(api)
    h = net.couriers[cid]
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    stop = route["stops"][0]
    assert (stop["location"]["lat"], stop["location"]["lng"]) == (47.619, -122.32)
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h).status_code == 200
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    assert r.status_code == 201 and r.json()["compartment"] == "A1", r.text
    (box,) = api.client.get(f"/v1/lockers/{bank}", headers=api.op).json()["compartments"]
    assert box["status"] == "occupied" and box["held_until"] is None


def test_a_cancelled_locker_order_gives_its_compartment_back(api: Api) -> None:
    net = fleet.network(api)
    _bank(api, net, ["M"])
    first, second = _quote(api, net), _quote(api, net)
    assert _order_on(api, net, first, "a").status_code == 201
    # Quoted before the first order took the compartment: the order finds it gone.
    r = _order_on(api, net, second, "b")
    err = r.json()["error"]
    assert r.status_code == 409 and err["code"] == "option_unavailable", r.text
    assert err["details"]["reason"] == "no_compartment"
    order = _orders(api, net)[0]
    cancel = api.client.post(f"/v1/orders/{order}/cancel", headers=net.mh)
    assert cancel.status_code == 200, cancel.text
    tl = api.client.get(f"/v1/orders/{order}/timeline", headers=net.mh).json()["lines"]
    steps = [x["event"] for x in tl]
    assert steps.index("locker.held") < steps.index("locker.released")
    assert _locker_option(_quote(api, net)) is not None


def _orders(api: Api, net: fleet.Net) -> list[str]:
    return [o["id"] for o in api.client.get("/v1/orders", headers=net.mh).json()["data"]]


def test_a_parcel_bigger_than_every_compartment_is_not_offered_a_locker(api: Api) -> None:
    net = fleet.network(api)
    _bank(api, net, ["M"])
    big = api.product(net.mh, sku="BIG", weight_g=22_000)
    api.receive(net.mh, net.hub, big, 5)
    quote = _quote(api, net, product=big)
    assert _locker_option(quote) is None and _why(quote) == "no_compartment"


def test_two_orders_for_the_last_compartment_one_wins(api: Api) -> None:
    net = fleet.network(api)
    _bank(api, net, ["M"])
    quotes = [_quote(api, net) for _ in range(4)]
    results: list[int] = []

    def place(i: int) -> None:
        results.append(_order_on(api, net, quotes[i], f"race-{i}").status_code)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409, 409, 409], results
