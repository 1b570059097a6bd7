"""Memberships through HTTP on SQLite and PostgreSQL: plans, a free trial once, renewals
on the injected clock (once per period however often the job runs), lapse, cancellation
with a pro-rata refund, households at one address, and the benefits quotes apply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.core.events import events_table
from hubflow.membership import service
from hubflow.network.model import DAYS
from hubflow.webhooks.relay import Relay, RelayPolicy
from hubflow.webhooks.signing import verify
from tests.conftest import T0, Api

HOME = {"line1": "400 Pine St", "city": "Seattle", "postcode": "98101", "country": "US"}
PLAN = {
    "code": "plus",
    "name": "Plus",
    "monthly_price": 1299,
    "annual_price": 11900,
    "trial_days": 30,
    "household_max": 1,
    "benefits": {
        "free_delivery_over": {"same_day": 2500, "next_day": 0},
        "member_options": ["express_2h"],
        "extra_return_days": 30,
        "points_multiplier_pct": 200,
    },
}


@dataclass
class Shop:
    api: Api
    mid: str
    mh: dict[str, str]
    plan: str

    def subscribe(self, customer: str = "cus_1", **extra: Any) -> Any:
        body = {"plan_id": self.plan, "customer_id": customer, "address": HOME, **extra}
        return self.api.client.post("/v1/membership/subscriptions", json=body, headers=self.mh)

    def renew(self) -> dict[str, int]:
        r = self.api.client.post("/v1/membership/renewals", headers=self.api.op)
        assert r.status_code == 200, r.text
        out: dict[str, int] = r.json()
        return out

    def get(self, sub_id: str) -> dict[str, Any]:
        r = self.api.client.get(f"/v1/membership/subscriptions/{sub_id}", headers=self.mh)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


@pytest.fixture
def shop(api: Api) -> Shop:
    mid, mh = api.merchant("Corner Grocer")
    r = api.client.post("/v1/membership/plans", json=PLAN, headers=mh)
    assert r.status_code == 201, r.text
    return Shop(api, mid, mh, r.json()["id"])


def _events(api: Api, prefix: str) -> list[str]:
    with UnitOfWork(api.engine, readonly=True) as uow:
        e = events_table.c
        rows = uow.conn.execute(select(e.type).where(e.type.startswith(prefix)).order_by(e.id))
        return [r.type for r in rows]


def test_trial_converts_at_its_end_once(shop: Shop) -> None:
    r = shop.subscribe()
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["status"] == "trialing" and sub["charges"] == []
    assert sub["period"]["end"] == "2026-04-01T15:00:00Z"  # 30 days after T0
    shop.api.clock.set(T0 + timedelta(days=30) - timedelta(seconds=1))
    assert shop.renew() == {"renewed": 0, "lapsed": 0}
    assert shop.get(sub["id"])["status"] == "trialing"
    shop.api.clock.set(T0 + timedelta(days=30))
    assert shop.renew() == {"renewed": 1, "lapsed": 0}
    assert shop.renew() == {"renewed": 0, "lapsed": 0}  # a second run renews nothing
    got = shop.get(sub["id"])
    assert got["status"] == "active" and got["cycle"] == 1
    assert got["period"] == {"start": "2026-04-01T15:00:00Z", "end": "2026-05-01T15:00:00Z"}
    assert [(c["kind"], c["amount"]) for c in got["charges"]] == [("charge", 1299)]
    assert _events(shop.api, "subscription.") == [
        "subscription.started",
        "subscription.trial_converted",
    ]


def test_one_trial_per_customer_and_one_live_membership(shop: Shop) -> None:
    first = shop.subscribe().json()
    again = shop.subscribe()
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_member"
    shop.api.client.post(f"/v1/membership/subscriptions/{first['id']}/cancel", headers=shop.mh)
    second = shop.subscribe().json()  # no second trial: paid from the start
    assert second["status"] == "active"
    assert [(c["kind"], c["amount"]) for c in second["charges"]] == [("charge", 1299)]


def test_renewals_catch_up_and_never_double_charge(shop: Shop) -> None:
    sub = shop.subscribe(trial=False, billing="monthly").json()
    shop.api.clock.set(T0 + timedelta(days=95))  # three renewals are due
    assert shop.renew() == {"renewed": 3, "lapsed": 0}
    with UnitOfWork(shop.api.engine) as uow:  # the job running again changes nothing
        assert service.renew_due(uow, shop.api.clock.now()) == {"renewed": 0, "lapsed": 0}
    got = shop.get(sub["id"])
    assert got["cycle"] == 4
    assert [c["period_start"][:10] for c in got["charges"]] == [
        "2026-03-02",
        "2026-04-02",
        "2026-05-02",
        "2026-06-02",
    ]


def test_cancel_refunds_the_unused_days_pro_rata(shop: Shop) -> None:
    sub = shop.subscribe(trial=False, billing="annual").json()
    assert sub["price"] == {"amount": 11900, "currency": "USD"}
    # 2026-03-02 .. 2027-03-02 is 365 days; cancelling 73 days in leaves 292.
    shop.api.clock.set(T0 + timedelta(days=73))
    r = shop.api.client.post(f"/v1/membership/subscriptions/{sub['id']}/cancel", headers=shop.mh)
    assert r.status_code == 200, r.text
    assert r.json()["refund"] == {"amount": 11900 * 292 // 365, "currency": "USD"}
    assert r.json()["status"] == "cancelled"
    again = shop.api.client.post(
        f"/v1/membership/subscriptions/{sub['id']}/cancel", headers=shop.mh
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "subscription_ended"


def test_cancel_at_period_end_lapses_without_refund(shop: Shop) -> None:
    sub = shop.subscribe(trial=False).json()
    r = shop.api.client.post(
        f"/v1/membership/subscriptions/{sub['id']}/cancel",
        json={"at_period_end": True},
        headers=shop.mh,
    )
    assert r.status_code == 200 and r.json()["auto_renew"] is False
    member = shop.api.client.get("/v1/membership/customers/cus_1", headers=shop.mh).json()
    assert member["member"] is True  # benefits until the period ends
    shop.api.clock.set(T0 + timedelta(days=31))
    assert shop.renew() == {"renewed": 0, "lapsed": 1}
    got = shop.get(sub["id"])
    assert got["status"] == "lapsed" and got["end_reason"] == "not_renewed"
    assert [c["kind"] for c in got["charges"]] == ["charge"]
    member = shop.api.client.get("/v1/membership/customers/cus_1", headers=shop.mh).json()
    assert member["member"] is False


def test_household_at_one_address_up_to_the_limit(shop: Shop) -> None:
    sub = shop.subscribe().json()
    url = f"/v1/membership/subscriptions/{sub['id']}/members"
    elsewhere = {**HOME, "line1": "1 Other Rd"}
    r = shop.api.client.post(
        url, json={"customer_id": "cus_2", "address": elsewhere}, headers=shop.mh
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "foreign_household_address"
    same = {**HOME, "line1": "400  PINE st."}  # the same address, spelt differently
    r = shop.api.client.post(url, json={"customer_id": "cus_2", "address": same}, headers=shop.mh)
    assert r.status_code == 201, r.text
    assert [m["role"] for m in r.json()["household"]["members"]] == ["primary", "member"]
    r = shop.api.client.post(url, json={"customer_id": "cus_3", "address": HOME}, headers=shop.mh)
    assert r.status_code == 409 and r.json()["error"]["code"] == "household_full"
    member = shop.api.client.get("/v1/membership/customers/cus_2", headers=shop.mh).json()
    assert member["membership"]["role"] == "member"
    r = shop.api.client.delete(f"{url}/cus_2", headers=shop.mh)
    assert r.status_code == 200, r.text
    r = shop.api.client.post(url, json={"customer_id": "cus_3", "address": HOME}, headers=shop.mh)
    assert r.status_code == 201, r.text
    assert _events(shop.api, "household.") == [
        "household.member_added",
        "household.member_removed",
        "household.member_added",
    ]


def test_another_merchant_cannot_touch_the_plan_or_subscription(shop: Shop) -> None:
    sub = shop.subscribe().json()
    _, other = shop.api.merchant("Rival")
    r = shop.api.client.get(f"/v1/membership/subscriptions/{sub['id']}", headers=other)
    assert r.status_code == 404
    body = {"plan_id": shop.plan, "customer_id": "cus_9", "address": HOME}
    r = shop.api.client.post("/v1/membership/subscriptions", json=body, headers=other)
    assert r.status_code == 404 and r.json()["error"]["code"] == "plan_not_found"


def test_payment_failure_lapses_at_once(shop: Shop) -> None:
    sub = shop.subscribe(trial=False).json()
    r = shop.api.client.post(
        f"/v1/membership/subscriptions/{sub['id']}/payment-failed", headers=shop.mh
    )
    assert r.status_code == 200 and r.json()["end_reason"] == "payment_failed"
    assert "subscription.lapsed" in _events(shop.api, "subscription.")


# -- benefits in quotes -------------------------------------------------------------------------


def _quote(shop: Shop, product: str, qty: int, customer: str | None) -> dict[str, Any]:
    r = shop.api.client.post(
        "/v1/quotes",
        json={
            "address": {"lat": 47.61, "lng": -122.33},
            "lines": [{"product_id": product, "quantity": qty}],
            "customer": {"id": customer},
        },
        headers=shop.mh,
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_quotes_apply_the_plan_and_say_which_benefit(shop: Shop) -> None:
    api = shop.api
    store = api.hub(
        name="Pike Store",
        kind="store",
        location={"lat": 47.615, "lng": -122.335},
        service_radius_km=8,
        capabilities=["ship_from_store", "pick_up_in_store"],
        opening_hours={d: [["07:00", "22:00"]] for d in DAYS},
    )
    product = api.product(shop.mh, "LOAF")  # 650 each
    api.receive(shop.mh, store, product, 20)
    r = api.client.put(
        "/v1/merchants/me/promise-settings",
        json={"members_only": ["express_2h"], "member_free_threshold": {"same_day": 0}},
        headers=shop.mh,
    )
    assert r.status_code == 200, r.text
    guest = _quote(shop, product, 2, "cus_1")
    assert {u["code"]: u["reason"] for u in guest["unavailable"]}["express_2h"] == "members_only"
    assert guest["customer"]["membership"] is None

    shop.subscribe()
    small = _quote(shop, product, 2, "cus_1")  # 1300 < the plan's 2500 for same_day
    opts = {o["code"]: o for o in small["options"]}
    assert small["customer"]["member"] is True
    assert small["customer"]["membership"]["plan_id"] == shop.plan
    assert opts["express_2h"]["benefits"] == [{"kind": "members_only_option", "plan_id": shop.plan}]
    assert opts["same_day"]["fee"]["amount"] == 699 and opts["same_day"]["benefits"] == []
    assert opts["next_day"]["fee"]["amount"] == 0
    assert opts["next_day"]["benefits"] == [
        {"kind": "free_delivery", "threshold": 0, "plan_id": shop.plan}
    ]
    big = _quote(shop, product, 4, "cus_1")  # 2600 >= 2500
    same_day = {o["code"]: o for o in big["options"]}["same_day"]
    assert same_day["fee"]["amount"] == 0 and same_day["benefits"][0]["threshold"] == 2500

    # The order keeps the quoted benefit.
    body = api.order_body([(product, 4)], quote_id=big["id"], option="same_day")
    r = api.client.post("/v1/orders", json=body, headers={**shop.mh, "Idempotency-Key": "m1"})
    assert r.status_code == 201, r.text
    kept = r.json()["promise"]
    assert kept["fee"]["amount"] == 0 and kept["membership"]["plan_id"] == shop.plan
    assert kept["benefits"][0]["kind"] == "free_delivery"


def test_network_plans_apply_at_every_merchant(api: Api) -> None:
    """The operator's key without Hubflow-Merchant sells the network's own plan."""
    body = {**PLAN, "code": "network-plus", "trial_days": 0}
    r = api.client.post("/v1/membership/plans", json=body, headers=api.op)
    assert r.status_code == 201 and r.json()["scope"] == "network", r.text
    sub = api.client.post(
        "/v1/membership/subscriptions",
        json={"plan_id": r.json()["id"], "customer_id": "net-7", "address": HOME},
        headers=api.op,
    )
    assert sub.status_code == 201, sub.text
    _, shop_a = api.merchant("A")
    _, shop_b = api.merchant("B")
    for h in (shop_a, shop_b):
        got = api.client.get("/v1/membership/customers/net-7", headers=h).json()
        assert got["member"] is True and got["membership"]["scope"] == "network"
    # A merchant cannot sell or read the network's subscriptions.
    r = api.client.get(f"/v1/membership/subscriptions/{sub.json()['id']}", headers=shop_a)
    assert r.status_code == 404


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, dict[str, str]]] = []

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.sent.append((body, headers))
        return 200


def test_changes_reach_the_merchant_as_signed_webhooks(shop: Shop) -> None:
    api = shop.api
    r = api.client.post(
        "/v1/webhooks/endpoints",
        json={"url": "https://shop.example/hooks", "event_types": ["subscription.*", "points.*"]},
        headers=shop.mh,
    )
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    sub = shop.subscribe().json()
    api.client.post(
        "/v1/points/accounts/cus_1/grants",
        json={"points": 10, "ref": "hello", "reason": "welcome"},
        headers=shop.mh,
    )
    api.client.post(f"/v1/membership/subscriptions/{sub['id']}/cancel", headers=shop.mh)
    recorder = _Recorder()
    relay = Relay(api.engine, api.clock, recorder, RelayPolicy())
    try:
        relay.run_once()
    finally:
        relay.close()
    types = []
    for body, headers in recorder.sent:
        verify(secret, headers["Hubflow-Signature"], body, int(api.clock.now().timestamp()))
        types.append(json.loads(body)["type"])
    assert sorted(types) == ["points.grant", "subscription.cancelled", "subscription.started"]
