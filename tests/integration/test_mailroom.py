"""Apartment mailrooms through HTTP, on both databases: residents with standing codes,
deposits for a unit without per-parcel codes, one code opening all of a resident's
compartments, brute force stopped by the per-resident lock and the bank's rate limit,
rotation, revocation and the mailroom's own hold."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict
from hubflow.core.events import events_table
from hubflow.lockers import mailroom, service
from hubflow.lockers.mailroom_store import residents_table
from tests import fleet
from tests.conftest import Api


def on_board(api: Api, units: list[str | None]) -> tuple[fleet.Net, list[str], dict[str, str]]:
    """A van out with a parcel on board for each of these address ``line2`` (a unit, or
    none); returns the net, shipment ids and the courier's auth."""
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    ships = []
    for i, line2 in enumerate(units):
        address = api.order_body([], lat=47.61 + i / 500)["address"]
        if line2 is not None:
            address["line2"] = line2
        ships.append(fleet.order(api, net, address=address)["shipments"][0]["id"])
    fleet.dispatch(api)
    h = net.couriers[cid]
    route = api.client.get(f"/v1/couriers/{cid}/routes", headers=h).json()["data"][0]
    assert api.client.post(f"/v1/routes/{route['id']}/pickup", headers=h).status_code == 200
    return net, ships, h


def mailroom_bank(api: Api, net: fleet.Net, hold_days: int = 7, kind: str = "apartment") -> str:
    r = api.client.post(
        "/v1/lockers",
        headers=api.op,
        json={
            "name": "Pine Apartments",
            "kind": kind,
            "hub_id": net.hub,
            "lat": 47.61,
            "lng": -122.33,
            "compartments": [{"label": f"M{i}", "size": "M"} for i in range(1, 5)],
        },
    )
    assert r.status_code == 201, r.text
    bank = str(r.json()["id"])
    if kind == "apartment":
        r = api.client.put(
            f"/v1/lockers/{bank}/mailroom", headers=api.op, json={"hold_days": hold_days}
        )
        assert r.status_code == 200 and r.json() == {"enabled": True, "hold_days": hold_days}
    return bank


def _resident(api: Api, bank: str, unit: str = "4B", name: str = "Grace Hopper") -> Any:
    r = api.client.post(
        f"/v1/lockers/{bank}/residents", headers=api.op, json={"unit": unit, "name": name}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _deposit(api: Api, bank: str, h: dict[str, str], ship: str, **extra: Any) -> Any:
    return api.client.post(
        f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship, **extra}
    )


def _keypad(api: Api, bank: str, unit: str, code: str) -> Any:
    return api.client.post(f"/v1/lockers/{bank}/pickups", json={"unit": unit, "code": code})


def _other(code: str, n: int = 0) -> str:
    guess = f"{n:08d}"
    return guess if guess != code else f"{n + 1:08d}"


def test_one_standing_code_opens_all_of_a_residents_parcels(api: Api) -> None:
    net, ships, h = on_board(api, ["Apt 4B"] * 2)
    bank = mailroom_bank(api, net)
    res = _resident(api, bank, unit="apt 4b")
    code = res["code"]
    assert res["unit"] == "4B" and len(code) == 8 and code.isdigit()
    listed = api.client.get(f"/v1/lockers/{bank}/residents", headers=api.op).json()["data"]
    assert [x["unit"] for x in listed] == ["4B"] and "code" not in listed[0]  # shown once
    with UnitOfWork(api.engine, readonly=True) as uow:
        stored = uow.conn.execute(select(residents_table.c.code_hash)).scalar()
    assert stored is not None and code not in stored
    boxes = []
    for ship in ships:
        r = _deposit(api, bank, h, ship)  # the unit comes from the address
        assert r.status_code == 201, r.text
        assert r.json()["code"] is None and r.json()["resident"]["unit"] == "4B"
        boxes.append(r.json()["compartment"])
        event = fleet.shipment(api, net, ship)["events"][-1]
        assert event["kind"] == "in_locker" and event["mailroom_unit"] == "4B"
        assert "code" not in event
    # Mailroom mode off stops new resident deposits, not collecting what waits.
    r = api.client.put(f"/v1/lockers/{bank}/mailroom", headers=api.op, json={"enabled": False})
    assert r.status_code == 200 and not r.json()["enabled"]
    r = _keypad(api, bank, "4B", code)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["compartments"]) == sorted(boxes)
    assert sorted(r.json()["shipment_ids"]) == sorted(ships)
    for ship in ships:
        got = fleet.shipment(api, net, ship)
        assert got["status"] == "delivered"
        assert [e["kind"] for e in got["events"]].count("delivered") == 1
        order = api.client.get(f"/v1/orders/{got['order_id']}", headers=net.mh).json()
        assert order["status"] == "delivered"
    r = _keypad(api, bank, "4B", code)
    assert r.status_code == 404 and r.json()["error"]["code"] == "nothing_waiting"
    compartments = api.client.get(f"/v1/lockers/{bank}", headers=api.op).json()["compartments"]
    assert all(c["status"] == "free" for c in compartments)


def test_the_courier_names_the_unit_or_the_parcel_gets_its_own_code(api: Api) -> None:
    net, (a, b, c), h = on_board(api, [None] * 3)  # addresses without a unit
    bank = mailroom_bank(api, net)
    code = _resident(api, bank, unit="12")["code"]
    r = _deposit(api, bank, h, a, resident="7")
    assert r.status_code == 409 and r.json()["error"]["code"] == "unknown_resident"
    r = _deposit(api, bank, h, a, resident="Unit 12")
    assert r.status_code == 201 and r.json()["resident"]["unit"] == "12"
    # No unit in the address, none named: a single-use code, as in any locker.
    r = _deposit(api, bank, h, b)
    assert r.status_code == 201 and r.json()["code"] is not None and "resident" not in r.json()
    assert _keypad(api, bank, "12", code).json()["shipment_ids"] == [a]
    station = mailroom_bank(api, net, kind="station")
    r = _deposit(api, station, h, c, resident="12")
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_a_mailroom"
    r = api.client.put(f"/v1/lockers/{station}/mailroom", headers=api.op, json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_an_apartment"
    r = _keypad(api, station, "12", code)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_a_mailroom"


def test_brute_force_locks_the_resident_and_pauses_the_keypad(api: Api) -> None:
    net, (ship,), h = on_board(api, ["Apt 4B"])
    bank = mailroom_bank(api, net)
    res = _resident(api, bank)
    code = res["code"]
    box = _deposit(api, bank, h, ship).json()["compartment"]
    # Guessing a per-parcel code for the resident's compartment finds none to guess.
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": "123456"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_code"
    for n in range(5):
        r = _keypad(api, bank, "4B", _other(code, n))
        assert r.status_code == 422 and r.json()["error"]["code"] == "wrong_code"
    # Locked: even the right code no longer opens anything.
    r = _keypad(api, bank, "4B", code)
    assert r.status_code == 409 and r.json()["error"]["code"] == "resident_locked"
    with UnitOfWork(api.engine, readonly=True) as uow:
        types = list(uow.conn.execute(select(events_table.c.type)).scalars())
    assert types.count("locker.resident_locked") == 1
    assert fleet.shipment(api, net, ship)["status"] == "in_locker"
    # Guessing across units runs into the bank's rate limit (20 wrong in 10 minutes,
    # the 6 above included), whatever the unit.
    statuses = [_keypad(api, bank, f"{n}A", f"{n:08d}").status_code for n in range(20)]
    assert statuses[:14] == [422] * 14 and statuses[14:] == [429] * 6
    r = api.client.post(f"/v1/lockers/{bank}/pickups", json={"compartment": box, "code": "123456"})
    assert r.status_code == 429  # one limit for the whole keypad
    api.clock.advance(timedelta(minutes=11))
    # The operator unlocks; the right code then opens the compartment.
    r = api.client.post(f"/v1/lockers/{bank}/residents/{res['id']}/unlock", headers=api.op)
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["failures"] == 0
    r = _keypad(api, bank, "4B", code)
    assert r.status_code == 200 and r.json()["shipment_ids"] == [ship], r.text


def test_the_right_code_resets_the_count(api: Api) -> None:
    net, _, _ = on_board(api, [None])
    bank = mailroom_bank(api, net)
    code = _resident(api, bank)["code"]
    for n in range(4):
        assert _keypad(api, bank, "4B", _other(code, n)).status_code == 422
    r = _keypad(api, bank, "4B", code)  # nothing waits, but the code was right
    assert r.status_code == 404 and r.json()["error"]["code"] == "nothing_waiting"
    for n in range(4):
        assert _keypad(api, bank, "4B", _other(code, n)).status_code == 422
    r = _keypad(api, bank, "4B", code)
    assert r.status_code == 404  # four, not eight, wrong codes: not locked


def test_rotation_and_revocation(api: Api) -> None:
    net, ships, h = on_board(api, ["Apt 4B"] * 2)
    bank = mailroom_bank(api, net)
    res = _resident(api, bank)
    _deposit(api, bank, h, ships[0])
    r = api.client.post(f"/v1/lockers/{bank}/residents/{res['id']}/code", headers=api.op)
    assert r.status_code == 200, r.text
    new = r.json()["code"]
    if new != res["code"]:
        assert _keypad(api, bank, "4B", res["code"]).status_code == 422
    assert _keypad(api, bank, "4B", new).json()["shipment_ids"] == [ships[0]]
    r = api.client.post(
        f"/v1/lockers/{bank}/residents", headers=api.op, json={"unit": "4b", "name": "Other"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "unit_taken"
    _deposit(api, bank, h, ships[1])
    r = api.client.delete(f"/v1/lockers/{bank}/residents/{res['id']}", headers=api.op)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert _keypad(api, bank, "4B", new).status_code == 422
    r = api.client.post(f"/v1/lockers/{bank}/residents/{res['id']}/code", headers=api.op)
    assert r.status_code == 409 and r.json()["error"]["code"] == "resident_revoked"
    # The next tenant of 4B gets a code of their own, and not the old tenant's parcel.
    nxt = _resident(api, bank, name="Next Tenant")
    r = _keypad(api, bank, "4B", nxt["code"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "nothing_waiting"
    units = api.client.get(f"/v1/lockers/{bank}/residents", headers=api.op).json()["data"]
    assert sorted(x["status"] for x in units) == ["active", "revoked"]


def test_the_mailroom_hold_is_a_bank_setting(api: Api) -> None:
    net, ships, h = on_board(api, ["Apt 4B"] * 2)
    bank = mailroom_bank(api, net, hold_days=10)
    code = _resident(api, bank)["code"]
    r = _deposit(api, bank, h, ships[0])
    assert r.json()["collect_by"] == "2026-03-12T15:00:00Z"  # ten days after T0
    api.clock.advance(timedelta(days=8))  # past a public locker's 3 days
    with UnitOfWork(api.engine) as uow:
        assert service.expire_due(uow, api.clock.now()) == 0
    _deposit(api, bank, h, ships[1])
    api.clock.advance(timedelta(days=2, minutes=1))
    # The first parcel's hold has ended, the second's has not: only that one opens.
    r = _keypad(api, bank, "4B", code)
    assert r.status_code == 200 and r.json()["shipment_ids"] == [ships[1]], r.text
    with UnitOfWork(api.engine) as uow:
        assert service.expire_due(uow, api.clock.now()) == 1
    assert fleet.shipment(api, net, ships[0])["status"] == "returned_to_hub"


def test_keypad_input_is_checked(api: Api) -> None:
    net, _, _ = on_board(api, [None])
    bank = mailroom_bank(api, net)
    url = f"/v1/lockers/{bank}/pickups"
    for body in (
        {"unit": "4B", "compartment": "M1", "code": "12345678"},
        {"code": "12345678"},
        {"unit": "4B", "code": "123456"},  # a parcel code where a standing code goes
        {"compartment": "M1", "code": "12345678"},
    ):
        r = api.client.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
    r = api.client.post(
        f"/v1/lockers/{bank}/residents", headers=api.op, json={"unit": "4/B", "name": "X"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_unit"
    r = api.client.post(f"/v1/lockers/{bank}/residents", json={"unit": "4B", "name": "X"})
    assert r.status_code == 401


def test_parallel_guesses_are_all_counted(api: Api) -> None:
    net, _, _ = on_board(api, [None])
    bank = mailroom_bank(api, net)
    res = _resident(api, bank)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def guess(n: int) -> None:
        barrier.wait()
        try:
            with UnitOfWork(api.engine) as uow:
                out = mailroom.collect(uow, bank, "4B", _other(res["code"], n), api.clock.now())
            results.append(out["error"][0])
        except Conflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # No guess escapes the count: the fifth wrong one locks, whatever the interleaving.
    assert results.count("wrong_code") >= 5 and len(results) == 8, results
    with UnitOfWork(api.engine, readonly=True) as uow:
        row = uow.conn.execute(select(residents_table)).one()
        locks = uow.conn.execute(
            select(events_table.c.id).where(events_table.c.type == "locker.resident_locked")
        ).all()
    assert (row.status, row.failures, len(locks)) == ("locked", 5, 1)
