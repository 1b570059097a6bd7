"""Points through HTTP on SQLite and PostgreSQL: earn on orders by the merchant's rules,
burn at checkout as a discount (never above the balance), reversal on cancel and on
returned lines (as a recorded debt once spent), expiry on the clock, and partner
transfers: signed, once per transfer id, capped per day, reconciled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import func, select

from hubflow.core.db import UnitOfWork
from hubflow.orders.store import orders_table
from hubflow.points.store import accounts_table, entries_table
from hubflow.webhooks.signing import sign
from tests import fleet
from tests.conftest import Api

CUSTOMER = {"id": "cus_1", "name": "Ada Lovelace"}


def _order(api: Api, net: fleet.Net, qty: int, key: str, **extra: Any) -> Any:
    body = api.order_body([(net.product, qty)], customer=CUSTOMER, **extra)
    return api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": key})


def _account(api: Api, net: fleet.Net, customer: str = "cus_1") -> dict[str, Any]:
    r = api.client.get(f"/v1/points/accounts/{customer}", headers=net.mh)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _grant(api: Api, net: fleet.Net, points: int, ref: str) -> Any:
    return api.client.post(
        "/v1/points/accounts/cus_1/grants",
        json={"points": points, "ref": ref, "reason": "welcome"},
        headers=net.mh,
    )


def _enrol(api: Api, net: fleet.Net, **rules: Any) -> None:
    r = api.client.put("/v1/points/program", json=rules, headers=net.mh)
    assert r.status_code == 200, r.text


def _ledger_agrees(api: Api) -> None:
    """Every account equals the sum of its entries and of its lots; nothing negative."""
    a, e = accounts_table.c, entries_table.c
    with UnitOfWork(api.engine, readonly=True) as uow:
        for acc in uow.conn.execute(select(accounts_table)):
            sums = uow.conn.execute(
                select(func.sum(e.points), func.sum(e.debt), func.sum(e.remaining)).where(
                    e.merchant_id == acc.merchant_id, e.customer_id == acc.customer_id
                )
            ).one()
            assert (acc.balance, acc.debt) == (int(sums[0] or 0), int(sums[1] or 0))
            assert acc.balance == int(sums[2] or 0) and acc.balance >= 0 and acc.debt >= 0
        assert a is not None


def test_no_points_until_the_merchant_runs_a_programme(api: Api) -> None:
    net = fleet.network(api)
    r = _order(api, net, 2, "o1")
    assert r.status_code == 201 and r.json()["loyalty"] is None
    r = _order(api, net, 1, "o2", points_to_burn=1)
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_points_programme"
    assert _account(api, net)["entries"] == []


def test_orders_earn_by_the_rules_and_burn_as_a_discount(api: Api) -> None:
    net = fleet.network(api)  # product SKU-1 at 650
    r = api.client.put(
        "/v1/points/program",
        json={
            "categories": [{"sku_prefix": "SKU-", "multiplier_pct": 200}],
            "bonuses": [{"order_over": 1000, "points": 50}],
        },
        headers=net.mh,
    )
    assert r.status_code == 200, r.text
    r = _order(api, net, 2, "o1")  # 1300 paid: 13 x 2 (category) + 50 (bonus)
    assert r.status_code == 201, r.text
    assert r.json()["loyalty"]["points_earned"] == 76
    assert _account(api, net)["balance"] == 76

    r = _order(api, net, 2, "o2", points_to_burn=76)  # 1224 paid: 2 x 12 (category) + 50
    assert r.status_code == 201, r.text
    loyalty = r.json()["loyalty"]
    assert loyalty["discount"] == {"amount": 76, "currency": "USD"}
    assert loyalty["points_earned"] == 74
    replay = _order(api, net, 2, "o2", points_to_burn=76)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == r.json()
    got = api.client.get(f"/v1/orders/{r.json()['id']}", headers=net.mh).json()
    assert got["loyalty"] == loyalty
    account = _account(api, net)
    assert account["balance"] == 74
    assert [x["kind"] for x in account["entries"]] == ["earn", "burn", "earn"]
    _ledger_agrees(api)


def test_a_burn_above_the_balance_places_nothing(api: Api) -> None:
    net = fleet.network(api)
    _enrol(api, net)  # 1 point per 1.00 paid
    assert _grant(api, net, 100, "g1").status_code == 201
    r = _order(api, net, 1, "o1", points_to_burn=101)
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_points"
    r = _order(api, net, 1, "o2", points_to_burn=651)  # more than the cart is worth
    assert r.status_code == 422 and r.json()["error"]["code"] == "burn_above_limit"
    with UnitOfWork(api.engine, readonly=True) as uow:
        assert uow.conn.execute(select(func.count()).select_from(orders_table)).scalar() == 0
    assert _account(api, net)["balance"] == 100
    stock = api.client.get("/v1/stock", headers=net.mh, params={"hub_id": net.hub}).json()
    assert stock["data"][0]["available"] == 50
    body = api.order_body([(net.product, 1)], points_to_burn=1)  # whose points?
    r = api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": "x"})
    assert r.status_code == 422


def test_cancel_takes_back_the_earn_and_gives_back_the_burn_once(api: Api) -> None:
    net = fleet.network(api)
    _enrol(api, net)  # 1 point per 1.00 paid
    _grant(api, net, 200, "g1")
    order = _order(api, net, 2, "o1", points_to_burn=150).json()
    assert _account(api, net)["balance"] == 200 - 150 + 10  # 1150 paid: 2 x 5
    r = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=net.mh)
    assert r.status_code == 200, r.text
    account = _account(api, net)
    assert account["balance"] == 200 and account["debt"] == 0
    kinds = {x["kind"]: x for x in account["entries"]}
    assert kinds["earn_reversed"]["reverses"] == kinds["earn"]["id"]
    assert kinds["burn_reversed"]["reverses"] == kinds["burn"]["id"]
    assert kinds["burn_reversed"]["points"] == 150
    again = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=net.mh)
    assert again.status_code == 409
    assert _account(api, net)["balance"] == 200
    _ledger_agrees(api)


def _return_and_drop_off(api: Api, net: fleet.Net, order_id: str, qty: int) -> dict[str, Any]:
    r = api.client.post(
        "/v1/returns",
        headers=net.mh,
        json={
            "order_id": order_id,
            "reason": "stale",
            "lines": [{"product_id": net.product, "quantity": qty}],
        },
    )
    assert r.status_code == 201, r.text
    token = r.json()["qr"].split(":", 1)[1]
    r = api.client.post(
        "/v1/returns/drop-offs", json={"token": token, "hub_id": net.hub}, headers=api.op
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_a_return_after_the_points_were_spent_records_a_debt(api: Api) -> None:
    net = fleet.network(api)
    _enrol(api, net)  # 1 point per 1.00 paid
    van = fleet.vehicle(api, net, "van")
    fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    home = {"line1": "400 Pine St", "city": "Seattle", "postcode": "98101", "country": "US"}
    plan = api.client.post(
        "/v1/membership/plans",
        json={
            "code": "plus",
            "name": "Plus",
            "monthly_price": 999,
            "benefits": {"extra_return_days": 30, "points_multiplier_pct": 200},
        },
        headers=net.mh,
    ).json()
    r = api.client.post(
        "/v1/membership/subscriptions",
        json={"plan_id": plan["id"], "customer_id": "cus_1", "address": home},
        headers=net.mh,
    )
    assert r.status_code == 201, r.text
    order = _order(api, net, 2, "o1").json()
    assert order["loyalty"] == {
        "customer_id": "cus_1",
        "points_burned": 0,
        "discount": {"amount": 0, "currency": "USD"},
        "points_earned": 26,  # 13 x the member's 200 %
        "multiplier_pct": 200,
    }
    fleet.deliver(api, net, order)
    spend = _order(api, net, 1, "o2", points_to_burn=26)  # earns 12 on 624 paid
    assert spend.status_code == 201, spend.text
    assert _account(api, net)["balance"] == 12

    api.clock.advance(timedelta(days=40))  # past the 30-day window, within the member's 60
    assert _return_and_drop_off(api, net, order["id"], 2)["refund"] is not None
    account = _account(api, net)
    assert (account["balance"], account["debt"]) == (0, 14)  # 26 taken back: 12 + 14 owed
    reversal = account["entries"][0]
    assert (reversal["kind"], reversal["points"], reversal["debt"]) == ("earn_reversed", -12, 14)
    assert reversal["cause"]["type"] == "return"
    assert _grant(api, net, 20, "g1").status_code == 201  # a credit repays the debt first
    account = _account(api, net)
    assert (account["balance"], account["debt"]) == (6, 0)
    _ledger_agrees(api)


def test_points_expire_on_the_clock(api: Api) -> None:
    net = fleet.network(api)
    api.client.put("/v1/points/program", json={"expiry_days": 30}, headers=net.mh)
    _grant(api, net, 100, "g1")
    assert _grant(api, net, 100, "g1").status_code == 200  # the same ref grants once
    api.clock.advance(timedelta(days=10))
    _grant(api, net, 40, "g2")
    _order(api, net, 1, "o1", points_to_burn=30)  # from the oldest lot first
    api.clock.advance(timedelta(days=20))
    r = api.client.post("/v1/points/expirations", headers=api.op)
    assert r.json() == {"expired_lots": 1}
    account = _account(api, net)
    assert account["balance"] == 40 + 6  # g2, and what o1 earned on 620
    assert account["entries"][0]["kind"] == "expire" and account["entries"][0]["points"] == -70
    r = api.client.post("/v1/points/expirations", headers=api.op)
    assert r.json() == {"expired_lots": 0}
    _ledger_agrees(api)


# -- partners ---------------------------------------------------------------------------------


def _partner(api: Api, net: fleet.Net) -> dict[str, Any]:
    r = api.client.post(
        "/v1/points/partners",
        json={
            "name": "Telco",
            "rate_ours": 1,
            "rate_theirs": 2,
            "daily_cap_in": 500,
            "daily_cap_out": 5000,
        },
        headers=net.mh,
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _send(api: Api, partner: dict[str, Any], body: dict[str, Any], secret: str = "") -> Any:
    raw = orjson.dumps(body)
    header = sign(secret or partner["secret"], int(api.clock.now().timestamp()), raw)
    return api.client.post(
        f"/v1/points/partners/{partner['id']}/transfers",
        content=raw,
        headers={"Hubflow-Signature": header, "Content-Type": "application/json"},
    )


def test_partner_transfers_are_signed_once_and_capped(api: Api) -> None:
    net = fleet.network(api)
    p = _partner(api, net)
    t1 = {"transfer_id": "T-1", "direction": "in", "customer_id": "cus_1", "partner_points": 401}
    assert _send(api, p, t1, secret="wrong").status_code == 401
    r = _send(api, p, t1)
    assert r.status_code == 201, r.text
    assert r.json()["points"] == 200  # 401 of theirs at 1:2, rounded down
    replay = _send(api, p, t1)
    assert replay.status_code == 200 and replay.json() == r.json()
    r = _send(api, p, {**t1, "partner_points": 402})
    assert r.status_code == 409 and r.json()["error"]["code"] == "transfer_id_reused"
    big = {**t1, "transfer_id": "T-2", "partner_points": 700}  # 350 more: past 500 today
    r = _send(api, p, big)
    assert r.status_code == 409 and r.json()["error"]["code"] == "daily_cap_exceeded"
    api.clock.advance(timedelta(days=1))
    assert _send(api, p, big).status_code == 201
    out = {"transfer_id": "T-3", "direction": "out", "customer_id": "cus_1", "partner_points": 2000}
    r = _send(api, p, out)  # 1000 of ours: more than the 550 held
    assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_points"
    r = _send(api, p, {**out, "partner_points": 300})
    assert r.status_code == 201 and r.json()["points"] == 150
    assert _account(api, net)["balance"] == 200 + 350 - 150
    _ledger_agrees(api)

    statement = [
        {"transfer_id": "T-1", "direction": "in", "customer_id": "cus_1", "partner_points": 401},
        {"transfer_id": "T-2", "direction": "in", "customer_id": "cus_1", "partner_points": 699},
        {"transfer_id": "T-9", "direction": "in", "customer_id": "cus_2", "partner_points": 10},
    ]
    r = api.client.post(
        f"/v1/points/partners/{p['id']}/reconciliations",
        json={
            "since": "2026-03-01T00:00:00Z",
            "until": "2026-03-10T00:00:00Z",
            "transfers": statement,
        },
        headers=net.mh,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["matched"] == 1 and report["unmatched"] == 3
    assert [t["transfer_id"] for t in report["only_in_partner_statement"]] == ["T-9"]
    assert [t["transfer_id"] for t in report["only_in_our_ledger"]] == ["T-3"]
    assert report["mismatched"][0]["ours"]["partner_points"] == 700
    _, other = api.merchant("Rival")
    r = api.client.post(
        f"/v1/points/partners/{p['id']}/reconciliations",
        json={"since": "2026-03-01T00:00:00Z", "until": "2026-03-10T00:00:00Z", "transfers": []},
        headers=other,
    )
    assert r.status_code == 404


def test_returned_lines_give_back_the_points_that_paid_for_them(api: Api) -> None:
    net = fleet.network(api)
    _enrol(api, net)  # 1 point per 1.00 paid
    van = fleet.vehicle(api, net, "van")
    fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    _grant(api, net, 300, "g1")
    order = _order(api, net, 2, "o1", points_to_burn=300).json()  # 1300, 300 off: earns 10
    fleet.deliver(api, net, order)
    refunds = []
    for n in range(2):  # one unit, then the other
        ret = _return_and_drop_off(api, net, order["id"], 1)
        refunds.append(ret["refund"]["amount"])
        r = api.client.post(  # inspection asks for the refund again: nothing moves twice
            f"/v1/returns/{ret['id']}/inspection",
            json={"lines": [{"product_id": net.product, "disposition": "restock"}]},
            headers=api.op,
        )
        assert r.status_code == 200 and r.json()["refund"]["amount"] == refunds[-1], r.text
        account = _account(api, net)
        assert account["balance"] == [150 + 10 - 5, 300][n]
    assert refunds == [650 - 150, 650 - 150]  # the points' share comes back as points
    _ledger_agrees(api)
