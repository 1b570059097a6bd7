"""Tenancy and authentication over HTTP: who may call what, and whose data they see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hubflow.catalog.service import list_keys, revoke_key
from hubflow.catalog.store import merchants_table
from hubflow.core.db import UnitOfWork
from hubflow.core.ids import new_id
from hubflow.inventory.store import stock_table
from hubflow.orders.store import orders_table
from hubflow.webhooks.relay import Relay, RelayPolicy
from tests.conftest import Api


class _NeverSend:
    """A webhook sender for tests that only need deliveries to exist."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        raise AssertionError("no delivery should be attempted")


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body["error"])


def _order(api: Api, headers: dict[str, str], product: str, qty: int, key: str) -> httpx.Response:
    r: httpx.Response = api.client.post(
        "/v1/orders",
        json=api.order_body([(product, qty)]),
        headers={**headers, "Idempotency-Key": key},
    )
    return r


@pytest.fixture
def two(api: Api) -> dict[str, Any]:
    """Two merchants, each with a product stocked at one shared hub and one order."""
    hub = api.hub()
    a_id, a = api.merchant("Alpha")
    b_id, b = api.merchant("Bravo")
    pa = api.product(a, sku="A-1")
    pb = api.product(b, sku="B-1")
    api.receive(a, hub, pa, 10)
    api.receive(b, hub, pb, 10)
    ra = _order(api, a, pa, 1, "a-1")
    rb = _order(api, b, pb, 2, "b-1")
    assert ra.status_code == rb.status_code == 201, (ra.text, rb.text)
    return {
        "hub": hub,
        "a_id": a_id,
        "a": a,
        "b_id": b_id,
        "b": b,
        "pa": pa,
        "pb": pb,
        "oa": ra.json()["id"],
        "ob": rb.json()["id"],
    }


# -- authentication ----------------------------------------------------------


def test_missing_key_is_401(api: Api) -> None:
    for headers in [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}]:
        for path in ["/v1/orders", "/v1/hubs", "/v1/keys"]:
            r = api.client.get(path, headers=headers)
            assert_error(r, 401, "missing_api_key")


def test_unknown_key_is_401(api: Api) -> None:
    _, m = api.merchant()
    real = m["Authorization"].removeprefix("Bearer ")
    for secret in [
        "hfk_" + "x" * 43,
        "hfo_nope",
        "k" * 500,
        "clé-non-ascii",
        real[:-1],
        real + "x",
    ]:
        r = api.client.get("/v1/products", headers={"Authorization": f"Bearer {secret}".encode()})
        assert_error(r, 401, "invalid_api_key")
    assert api.client.get("/v1/products", headers=m).status_code == 200


def test_revoked_key_is_401(api: Api) -> None:
    _, m = api.merchant()
    r = api.client.post("/v1/keys", json={"label": "ci"}, headers=m)
    assert r.status_code == 201, r.text
    created = r.json()
    new = {"Authorization": f"Bearer {created['api_key']}"}
    assert api.client.get("/v1/merchants/me", headers=new).status_code == 200

    assert api.client.delete(f"/v1/keys/{created['id']}", headers=m).status_code == 204
    assert_error(api.client.get("/v1/merchants/me", headers=new), 401, "revoked_api_key")
    # The merchant's other key still works, and lists the revoked key as revoked.
    keys = {k["id"]: k for k in api.client.get("/v1/keys", headers=m).json()}
    assert keys[created["id"]]["revoked_at"] is not None
    # Revoking twice is a 404, not a silent success.
    r = api.client.delete(f"/v1/keys/{created['id']}", headers=m)
    assert_error(r, 404, "key_not_found")


def test_revocation_refuses_orders_at_once_after_the_key_was_seen(api: Api) -> None:
    """POST /v1/orders remembers keys it has seen valid and checks them again in the
    order's own transaction: a revocation committed anywhere (here, as another process
    would, straight in the database) refuses the very next order, even a replay."""
    merchant_id, m = api.merchant()
    hub = api.hub()
    product = api.product(m)
    api.receive(m, hub, product, 10)
    body = api.order_body([(product, 1)])
    for n in range(2):  # the second order is served from the remembered key
        r = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": f"k{n}"})
        assert r.status_code == 201, r.text
    with UnitOfWork(api.engine) as uow:
        key_id = list_keys(uow.conn, merchant_id)[0]["id"]
        revoke_key(uow, key_id, api.clock.now())
    for idem in ("k0", "k2"):
        r = api.client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": idem})
        assert_error(r, 401, "revoked_api_key")
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders_table)).scalar_one() == 2


def test_a_key_can_revoke_itself(api: Api) -> None:
    _, m = api.merchant()
    key_id = api.client.get("/v1/keys", headers=m).json()[0]["id"]
    assert api.client.delete(f"/v1/keys/{key_id}", headers=m).status_code == 204
    assert_error(api.client.get("/v1/keys", headers=m), 401, "revoked_api_key")


def test_expired_key_is_401(api: Api) -> None:
    _, m = api.merchant()
    expires = api.clock.now() + timedelta(hours=1)
    r = api.client.post(
        "/v1/keys", json={"label": "temp", "expires_at": expires.isoformat()}, headers=m
    )
    assert r.status_code == 201, r.text
    temp = {"Authorization": f"Bearer {r.json()['api_key']}"}
    assert api.client.get("/v1/merchants/me", headers=temp).status_code == 200

    api.clock.advance(timedelta(minutes=59))
    assert api.client.get("/v1/merchants/me", headers=temp).status_code == 200
    api.clock.advance(timedelta(minutes=1))
    assert_error(api.client.get("/v1/merchants/me", headers=temp), 401, "expired_api_key")
    assert api.client.get("/v1/merchants/me", headers=m).status_code == 200


def test_key_cannot_be_created_already_expired(api: Api) -> None:
    _, m = api.merchant()
    past = (api.clock.now() - timedelta(seconds=1)).isoformat()
    r = api.client.post("/v1/keys", json={"expires_at": past}, headers=m)
    assert_error(r, 422, "invalid_expiry")
    r = api.client.post("/v1/keys", json={"expires_at": "2030-01-01T00:00:00"}, headers=m)
    assert_error(r, 422, "invalid_request")  # naive datetimes are refused
    # A valid timestamp whose UTC time is past year 9999 is refused, not a 500.
    r = api.client.post("/v1/keys", json={"expires_at": "9999-12-31T23:59:59-14:00"}, headers=m)
    assert_error(r, 422, "invalid_request")
    assert len(api.client.get("/v1/keys", headers=m).json()) == 1
    r = api.client.post("/v1/keys", json={"expires_at": "9999-12-31T23:59:59Z"}, headers=m)
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"].startswith("9999-12-31T23:59:59")


# -- roles -------------------------------------------------------------------


def test_merchant_key_on_operator_endpoint_is_403(api: Api, two: dict[str, Any]) -> None:
    calls: list[tuple[str, Any]] = [
        ("/v1/merchants", {"name": "Evil"}),
        ("/v1/hubs", {}),
        ("/v1/hubs/{hub}/deactivate", None),
        ("/v1/orders/{oa}/transitions", {"status": "picking"}),
    ]
    for path, body in calls:
        r = api.client.post(path.format(**two), json=body, headers=two["a"])
        assert_error(r, 403, "operator_only")
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(merchants_table)).scalar_one() == 2
    hub = api.client.get(f"/v1/hubs/{two['hub']}", headers=two["a"]).json()
    assert hub["active"] is True
    assert api.client.get(f"/v1/orders/{two['oa']}", headers=two["a"]).json()["status"] == (
        "allocated"
    )


def test_operator_needs_hubflow_merchant_for_merchant_endpoints(
    api: Api, two: dict[str, Any]
) -> None:
    assert_error(api.client.get("/v1/orders", headers=api.op), 403, "merchant_required")
    for bad in ["mer_nope", new_id("mer"), new_id("prd")]:
        r = api.client.get("/v1/orders", headers={**api.op, "Hubflow-Merchant": bad})
        assert_error(r, 404, "merchant_not_found")


def test_operator_acts_for_a_merchant(api: Api, two: dict[str, Any]) -> None:
    as_a = {**api.op, "Hubflow-Merchant": two["a_id"]}
    orders = api.client.get("/v1/orders", headers=as_a).json()["data"]
    assert [o["id"] for o in orders] == [two["oa"]]
    assert api.client.get("/v1/merchants/me", headers=as_a).json()["id"] == two["a_id"]

    # The operator creates a product and stock for A: A sees them, B does not.
    p = api.product(as_a, sku="OP-1")
    api.receive(as_a, two["hub"], p, 3)
    assert api.client.get(f"/v1/products/{p}", headers=two["a"]).status_code == 200
    assert_error(api.client.get(f"/v1/products/{p}", headers=two["b"]), 404, "product_not_found")
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(p, 3)]),
        headers={**as_a, "Idempotency-Key": "op-1"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["merchant_id"] == two["a_id"]
    # The operator may also move A's order through fulfilment.
    r = api.client.post(
        f"/v1/orders/{r.json()['id']}/transitions", json={"status": "picking"}, headers=api.op
    )
    assert r.status_code == 200 and r.json()["status"] == "picking"


def test_merchant_cannot_act_for_another_merchant(api: Api, two: dict[str, Any]) -> None:
    """Hubflow-Merchant is for operator keys: a merchant key still sees only its own data."""
    sneaky = {**two["a"], "Hubflow-Merchant": two["b_id"]}
    orders = api.client.get("/v1/orders", headers=sneaky).json()["data"]
    assert [o["id"] for o in orders] == [two["oa"]]
    assert_error(api.client.get(f"/v1/orders/{two['ob']}", headers=sneaky), 404, "order_not_found")
    p = api.product(sneaky, sku="SNEAKY")
    assert api.client.get(f"/v1/products/{p}", headers=two["a"]).status_code == 200
    assert api.client.get(f"/v1/products/{p}", headers=two["b"]).status_code == 404


# -- isolation between merchants --------------------------------------------


def test_cannot_read_or_cancel_another_merchants_order(api: Api, two: dict[str, Any]) -> None:
    assert_error(
        api.client.get(f"/v1/orders/{two['ob']}", headers=two["a"]), 404, "order_not_found"
    )
    r = api.client.post(f"/v1/orders/{two['ob']}/cancel", headers=two["a"])
    assert_error(r, 404, "order_not_found")
    # B's order and stock are untouched.
    r = api.client.get(f"/v1/orders/{two['ob']}", headers=two["b"])
    assert r.status_code == 200 and r.json()["status"] == "allocated"
    stock = api.client.get("/v1/stock", headers=two["b"]).json()["data"]
    assert [(s["on_hand"], s["reserved"]) for s in stock] == [(10, 2)]


def test_cannot_read_another_merchants_product(api: Api, two: dict[str, Any]) -> None:
    r = api.client.get(f"/v1/products/{two['pb']}", headers=two["a"])
    assert_error(r, 404, "product_not_found")
    r = api.client.get("/v1/products", params={"sku": "B-1"}, headers=two["a"])
    assert r.status_code == 200 and r.json()["data"] == []


def test_cannot_read_or_release_another_merchants_hold(api: Api, two: dict[str, Any]) -> None:
    body = api.order_body([(two["pb"], 4)])
    r = api.client.post(
        "/v1/holds", json={"lines": body["lines"], "address": body["address"]}, headers=two["b"]
    )
    assert r.status_code == 201, r.text
    hold = r.json()["id"]
    assert_error(api.client.get(f"/v1/holds/{hold}", headers=two["a"]), 404, "hold_not_found")
    assert_error(api.client.delete(f"/v1/holds/{hold}", headers=two["a"]), 404, "hold_not_found")
    # Nor can A consume B's hold in an order of A's.
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(two["pa"], 1)], hold_id=hold),
        headers={**two["a"], "Idempotency-Key": "steal-hold"},
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "hold_unavailable"
    r = api.client.get(f"/v1/holds/{hold}", headers=two["b"])
    assert r.status_code == 200 and r.json()["status"] == "active"
    stock = api.client.get("/v1/stock", headers=two["b"]).json()["data"]
    assert [(s["on_hand"], s["reserved"]) for s in stock] == [(10, 6)]


def test_cannot_replay_another_merchants_webhook_delivery(api: Api, two: dict[str, Any]) -> None:
    r = api.client.post(
        "/v1/webhooks/endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=two["b"]
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()["id"]
    relay = Relay(api.engine, api.clock, _NeverSend(), RelayPolicy())
    try:
        assert relay.fan_out() > 0
    finally:
        relay.close()
    deliveries = api.client.get("/v1/webhooks/deliveries", headers=two["b"]).json()["data"]
    assert deliveries and all(d["endpoint_id"] == endpoint for d in deliveries)
    d = deliveries[0]["id"]

    assert api.client.get("/v1/webhooks/deliveries", headers=two["a"]).json()["data"] == []
    assert api.client.get("/v1/webhooks/endpoints", headers=two["a"]).json() == []
    r = api.client.post(f"/v1/webhooks/deliveries/{d}/replay", headers=two["a"])
    assert_error(r, 404, "delivery_not_found")
    r = api.client.delete(f"/v1/webhooks/endpoints/{endpoint}", headers=two["a"])
    assert_error(r, 404, "endpoint_not_found")
    assert api.client.get("/v1/webhooks/endpoints", headers=two["b"]).json()[0]["active"] is True


def test_cannot_revoke_another_merchants_key(api: Api, two: dict[str, Any]) -> None:
    b_key = api.client.get("/v1/keys", headers=two["b"]).json()[0]
    assert_error(
        api.client.delete(f"/v1/keys/{b_key['id']}", headers=two["a"]), 404, "key_not_found"
    )
    assert api.client.get("/v1/merchants/me", headers=two["b"]).status_code == 200


def test_cannot_order_another_merchants_product(api: Api, two: dict[str, Any]) -> None:
    r = _order(api, two["a"], two["pb"], 1, "steal")
    err = assert_error(r, 422, "unknown_product")
    assert err["details"] == {"product_ids": [two["pb"]]}
    # A mix of A's product and B's is refused as a whole.
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(two["pa"], 1), (two["pb"], 1)]),
        headers={**two["a"], "Idempotency-Key": "mixed"},
    )
    assert_error(r, 422, "unknown_product")
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(orders_table)).scalar_one() == 2
        reserved = dict(
            conn.execute(select(stock_table.c.product_id, stock_table.c.reserved)).all()
        )
    assert reserved == {two["pa"]: 1, two["pb"]: 2}


def test_cannot_stock_another_merchants_product(api: Api, two: dict[str, Any]) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/v1/stock/receipts", {"quantity": 5}),
        ("/v1/stock/adjustments", {"delta": -5, "reason": "damaged"}),
        ("/v1/stock/adjustments", {"delta": 5, "reason": "found"}),
    ]
    for path, extra in calls:
        body = {"hub_id": two["hub"], "product_id": two["pb"], **extra}
        r = api.client.post(path, json=body, headers=two["a"])
        assert_error(r, 422, "unknown_product")
    stock = api.client.get("/v1/stock", headers=two["b"]).json()["data"]
    assert [(s["on_hand"], s["reserved"]) for s in stock] == [(10, 2)]
    assert (
        api.client.get("/v1/stock", headers=two["a"]).json()["data"][0]["product_id"] == two["pa"]
    )


def test_listings_show_only_own_data(api: Api, two: dict[str, Any]) -> None:
    for who, mine, theirs in [("a", "a", "b"), ("b", "b", "a")]:
        h = two[who]
        orders = api.client.get("/v1/orders", headers=h).json()["data"]
        assert [o["id"] for o in orders] == [two[f"o{mine}"]]
        assert {o["merchant_id"] for o in orders} == {two[f"{mine}_id"]}
        products = api.client.get("/v1/products", headers=h).json()["data"]
        assert [p["id"] for p in products] == [two[f"p{mine}"]]
        stock = api.client.get("/v1/stock", headers=h).json()["data"]
        assert [s["product_id"] for s in stock] == [two[f"p{mine}"]]
        moves = api.client.get("/v1/stock/movements", headers=h).json()["data"]
        assert moves and {m["product_id"] for m in moves} == {two[f"p{mine}"]}
        keys = api.client.get("/v1/keys", headers=h).json()
        assert {k["merchant_id"] for k in keys} == {two[f"{mine}_id"]}
        # Filtering by the other merchant's ids yields nothing, not their data.
        for path, params in [
            ("/v1/stock", {"product_id": two[f"p{theirs}"]}),
            ("/v1/stock/movements", {"product_id": two[f"p{theirs}"]}),
        ]:
            assert api.client.get(path, params=params, headers=h).json()["data"] == []
    # The operator's key list holds operator keys only, not merchants' keys.
    op_keys = api.client.get("/v1/keys", headers=api.op).json()
    assert op_keys and {k["role"] for k in op_keys} == {"operator"}
