"""Bad input over HTTP: a clear 4xx with a machine-readable code, and nothing written.

Every refused request is followed by a look at the database: the row count of
every table and every stock position must be exactly as before.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from hubflow.core.db import metadata
from hubflow.core.ids import new_id
from hubflow.inventory.store import stock_table
from tests.conftest import Api

MiB = 1024 * 1024


def snapshot(engine: Engine) -> dict[str, Any]:
    """Row counts of every table, and every stock position."""
    with engine.connect() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }
        s = stock_table.c
        stock = conn.execute(
            select(s.hub_id, s.product_id, s.on_hand, s.reserved).order_by(s.hub_id, s.product_id)
        ).all()
    return {"counts": counts, "stock": [tuple(r) for r in stock]}


def assert_error(r: httpx.Response, status: int | set[int], code: str | None = None) -> Any:
    """The response is the error shape with ``status`` (and ``code``); returns the error."""
    statuses = {status} if isinstance(status, int) else status
    assert r.status_code in statuses, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, body
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["code"] == code, body
    return err


class World:
    """One merchant with one product stocked with 5 units at one hub, and a clean snapshot."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.hub = api.hub()
        self.merchant_id, self.m = api.merchant()
        self.product = api.product(self.m)
        api.receive(self.m, self.hub, self.product, 5)
        self.before = snapshot(api.engine)

    def order(self, body: Any, key: str | None = "k-1", **kw: Any) -> httpx.Response:
        headers = dict(self.m)
        if key is not None:
            headers["Idempotency-Key"] = key
        headers.update(kw.pop("headers", {}))
        r: httpx.Response
        if isinstance(body, bytes | str):
            headers.setdefault("Content-Type", "application/json")
            r = self.api.client.post("/v1/orders", content=body, headers=headers, **kw)
        else:
            r = self.api.client.post("/v1/orders", json=body, headers=headers, **kw)
        return r

    def unchanged(self, what: str = "") -> None:
        assert snapshot(self.api.engine) == self.before, f"a refused request wrote data: {what}"

    def body(self, qty: int = 1, **extra: Any) -> dict[str, Any]:
        return self.api.order_body([(self.product, qty)], **extra)


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


# -- idempotency -------------------------------------------------------------


def test_missing_idempotency_key_is_400(world: World) -> None:
    r = world.order(world.body(), key=None)
    assert_error(r, 400, "idempotency_key_missing")
    world.unchanged()


def test_invalid_idempotency_key_is_4xx(world: World) -> None:
    for key in ["", "has space", "x" * 256, "tab\tkey", "caf\u00e9"]:
        r = world.order(world.body(), headers={"Idempotency-Key": key.encode()})
        assert_error(r, {400, 422})
        world.unchanged(repr(key))


def test_same_key_same_body_replays(world: World) -> None:
    first = world.order(world.body(2), key="same")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    after_first = snapshot(world.api.engine)

    for _ in range(2):
        again = world.order(world.body(2), key="same")
        assert again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
    assert snapshot(world.api.engine) == after_first
    assert after_first["stock"][0][2:] == (5, 2)
    assert after_first["counts"]["orders"] == world.before["counts"]["orders"] + 1

    # The key is per merchant: another merchant may use the same key.
    _, other = world.api.merchant("Other")
    p = world.api.product(other, sku="O-1")
    world.api.receive(other, world.hub, p, 1)
    r = world.api.client.post(
        "/v1/orders",
        json=world.api.order_body([(p, 1)]),
        headers={**other, "Idempotency-Key": "same"},
    )
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert r.json()["id"] != first.json()["id"]


def test_same_key_other_body_is_409(world: World) -> None:
    first = world.order(world.body(1), key="k")
    assert first.status_code == 201, first.text
    after_first = snapshot(world.api.engine)
    for other in [world.body(2), world.body(1, external_ref="x"), world.body(1, lat=47.6)]:
        r = world.order(other, key="k")
        err = assert_error(r, 409, "idempotency_key_reused")
        assert err["details"] == {"idempotency_key": "k"}
    assert snapshot(world.api.engine) == after_first
    # The original body still replays.
    r = world.order(world.body(1), key="k")
    assert r.status_code == 201 and r.json()["id"] == first.json()["id"]


def test_failed_request_does_not_burn_its_key(world: World) -> None:
    r = world.order(world.body(6), key="retry-me")
    assert_error(r, 409, "insufficient_stock")
    world.unchanged()
    world.api.receive(world.m, world.hub, world.product, 1)
    r = world.order(world.body(6), key="retry-me")
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers


# -- quantities and products ---------------------------------------------------


def test_bad_quantity_is_422(world: World) -> None:
    for qty in [0, -1, -(10**9), 10_001, 10**30]:
        assert_error(world.order(world.body(qty)), 422, "invalid_request")
        world.unchanged(str(qty))


def test_more_than_available_is_409_with_short_lines(world: World) -> None:
    other = world.api.product(world.m, sku="SKU-2")
    world.api.receive(world.m, world.hub, other, 2)
    world.before = snapshot(world.api.engine)
    body = world.api.order_body([(world.product, 6), (other, 1)])
    err = assert_error(world.order(body), 409, "insufficient_stock")
    assert err["details"] == {
        "short_lines": [{"product_id": world.product, "requested": 6, "available": 5}]
    }
    world.unchanged()
    # Everything there is, is fine.
    r = world.order(world.api.order_body([(world.product, 5), (other, 2)]), key="all")
    assert r.status_code == 201, r.text
    r = world.order(world.body(1), key="one-more")
    err = assert_error(r, 409, "insufficient_stock")
    assert err["details"]["short_lines"][0]["available"] == 0


def test_unknown_and_duplicate_products_are_422(world: World) -> None:
    ghost = new_id("prd")
    err = assert_error(world.order(world.api.order_body([(ghost, 1)])), 422, "unknown_product")
    assert err["details"] == {"product_ids": [ghost]}
    body = world.api.order_body([(world.product, 1), (world.product, 1)])
    assert_error(world.order(body), 422, "duplicate_line")
    for bad_id in ["prd_1", "PRD_01JD0000000000000000000000", "'; DROP TABLE orders; --"]:
        assert_error(world.order(world.api.order_body([(bad_id, 1)])), 422, "invalid_request")
    world.unchanged()


def test_address_outside_every_service_area_is_422(world: World) -> None:
    assert_error(world.order(world.body(1, lat=40.7, lng=-74.0)), 422, "outside_service_area")
    world.unchanged()


# -- malformed bodies ----------------------------------------------------------


def test_malformed_json_is_400(world: World) -> None:
    for raw in [b"{", b'{"lines": [}', b"not json", b'{"lines": [{"product_id": "x", }]}', b"\xff"]:
        assert_error(world.order(raw), 400, "malformed_json")
        world.unchanged(repr(raw))


def test_malformed_json_elsewhere_is_400(world: World) -> None:
    c, m, op = world.api.client, world.m, world.api.op
    for path, headers in [
        ("/v1/products", m),
        ("/v1/hubs", op),
        ("/v1/stock/receipts", m),
        ("/v1/webhooks/endpoints", m),
        ("/v1/keys", m),
    ]:
        r = c.post(path, content=b'{"x": ', headers={**headers, "Content-Type": "application/json"})
        assert_error(r, 400, "malformed_json")
    world.unchanged()


def _wrong_types(b: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    line = b["lines"][0]
    yield "qty-string", {**b, "lines": [{**line, "quantity": "two"}]}
    yield "qty-float", {**b, "lines": [{**line, "quantity": 1.5}]}
    yield "qty-null", {**b, "lines": [{**line, "quantity": None}]}
    yield "lines-object", {**b, "lines": {"0": line}}
    yield "lines-empty", {**b, "lines": []}
    yield "lines-too-many", {**b, "lines": [line] * 101}
    yield "customer-string", {**b, "customer": "Ada"}
    yield "lat-string", {**b, "address": {**b["address"], "lat": "north"}}
    yield "country-lower", {**b, "address": {**b["address"], "country": "us"}}
    yield "name-number", {**b, "customer": {"name": 42}}
    yield "name-empty", {**b, "customer": {"name": ""}}
    yield "ref-too-long", {**b, "external_ref": "r" * 101}
    yield "missing-address", {k: v for k, v in b.items() if k != "address"}
    yield "array-body", [b]
    yield "number-body", 7
    yield "null-body", None
    yield "hold-id-bad", {**b, "hold_id": "hold_nope"}


def test_wrong_types_are_422(world: World) -> None:
    for name, body in _wrong_types(world.body()):
        r = world.order(json.dumps(body), key=f"k-{name}")
        assert_error(r, 422, "invalid_request")
        world.unchanged(name)


def test_unknown_fields_are_422(world: World) -> None:
    b = world.body()
    cases = {
        "top": {**b, "priority": "high"},
        "line": {**b, "lines": [{**b["lines"][0], "sku": "SKU-1"}]},
        "address": {**b, "address": {**b["address"], "floor": 3}},
        "customer": {**b, "customer": {**b["customer"], "vip": True}},
    }
    for name, body in cases.items():
        err = assert_error(world.order(body, key=f"k-{name}"), 422, "invalid_request")
        assert any(d["type"] == "extra_forbidden" for d in err["details"]), (name, err)
        world.unchanged(name)
    r = world.api.client.post(
        "/v1/products",
        json={
            "sku": "S",
            "name": "N",
            "dimensions_mm": {"length": 1, "width": 1, "height": 1},
            "weight_g": 1,
            "value": {"amount": 1, "currency": "USD"},
            "price": 5,
        },
        headers=world.m,
    )
    assert_error(r, 422, "invalid_request")
    world.unchanged("product")


def test_non_json_content_type_is_4xx(world: World) -> None:
    r = world.api.client.post(
        "/v1/orders",
        content=json.dumps(world.body()),
        headers={**world.m, "Idempotency-Key": "ct", "Content-Type": "text/plain"},
    )
    assert_error(r, {400, 415, 422})
    world.unchanged()


# -- size limits ---------------------------------------------------------------


def _big_body(world: World) -> bytes:
    body = world.body(1, external_ref="x" * (MiB + 10))
    return json.dumps(body).encode()


def test_body_over_1_mib_is_413(world: World) -> None:
    raw = _big_body(world)
    r = world.order(raw)
    err = assert_error(r, 413, "payload_too_large")
    assert err["details"] == {"limit": MiB}
    world.unchanged()


def test_chunked_body_over_1_mib_is_413(world: World) -> None:
    raw = _big_body(world)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 64 * 1024):
            yield raw[i : i + 64 * 1024]

    r = world.api.client.post(
        "/v1/orders",
        content=chunks(),
        headers={**world.m, "Idempotency-Key": "big", "Content-Type": "application/json"},
    )
    assert_error(r, 413, "payload_too_large")
    world.unchanged()


def test_chunked_body_under_the_limit_is_accepted(world: World) -> None:
    raw = json.dumps(world.body(2)).encode()

    def chunks() -> Iterator[bytes]:
        yield raw[:10]
        yield raw[10:]

    r = world.api.client.post(
        "/v1/orders",
        content=chunks(),
        headers={**world.m, "Idempotency-Key": "small", "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["lines"] == [{"product_id": world.product, "quantity": 2}]


# -- coordinates -------------------------------------------------------------


def test_coordinates_out_of_range_are_422(world: World) -> None:
    for lat, lng in [(90.0001, 0), (-91, 0), (0, 180.5), (0, -181), (1e308, 0), (0, -1e308)]:
        assert_error(world.order(world.body(1, lat=lat, lng=lng)), 422, "invalid_request")
        hub = {
            "name": "Bad",
            "kind": "store",
            "location": {"lat": lat, "lng": lng},
            "timezone": "UTC",
        }
        r = world.api.client.post("/v1/hubs", json=hub, headers=world.api.op)
        assert_error(r, 422, "invalid_request")
        world.unchanged(f"{lat},{lng}")


def test_non_finite_coordinates_are_4xx(world: World) -> None:
    for literal in ["NaN", "Infinity", "-Infinity"]:
        raw = json.dumps(world.body()).replace('"lat": 47.61', f'"lat": {literal}')
        assert literal in raw
        assert_error(world.order(raw), {400, 422})
        world.unchanged(literal)


# -- references, states and cursors ------------------------------------------


def test_unknown_hub_on_receipt_is_422(world: World) -> None:
    ghost = new_id("hub")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/v1/stock/receipts", {"quantity": 3}),
        ("/v1/stock/adjustments", {"delta": 3, "reason": "found"}),
    ]
    for path, extra in calls:
        body = {"hub_id": ghost, "product_id": world.product, **extra}
        err = assert_error(
            world.api.client.post(path, json=body, headers=world.m), 422, "unknown_hub"
        )
        assert err["details"] == {"hub_id": ghost}
    r = world.api.client.post(
        "/v1/stock/receipts",
        json={"hub_id": world.hub, "product_id": world.product, "quantity": 0},
        headers=world.m,
    )
    assert_error(r, 422, "invalid_request")
    world.unchanged()


def test_adjustment_below_reserved_is_409(world: World) -> None:
    assert world.order(world.body(3)).status_code == 201
    world.before = snapshot(world.api.engine)
    r = world.api.client.post(
        "/v1/stock/adjustments",
        json={"hub_id": world.hub, "product_id": world.product, "delta": -3, "reason": "damaged"},
        headers=world.m,
    )
    err = assert_error(r, 409, "adjustment_below_reserved")
    assert err["details"] == {"on_hand": 5, "reserved": 3, "delta": -3}
    world.unchanged()


def test_illegal_transitions_are_409(world: World) -> None:
    c, op = world.api.client, world.api.op
    order = world.order(world.body(2)).json()
    oid = order["id"]
    world.before = snapshot(world.api.engine)

    err = assert_error(
        c.post(f"/v1/orders/{oid}/transitions", json={"status": "delivered"}, headers=op),
        409,
        "illegal_transition",
    )
    assert err["details"] == {
        "from": "allocated",
        "to": "delivered",
        "allowed": ["cancelled", "picking"],
    }
    world.unchanged("allocated -> delivered")

    for status in ["picking", "packed", "out_for_delivery"]:
        r = c.post(f"/v1/orders/{oid}/transitions", json={"status": status}, headers=op)
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    # Shipped: the units left the hub.
    assert snapshot(world.api.engine)["stock"][0][2:] == (3, 0)
    world.before = snapshot(world.api.engine)
    assert_error(c.post(f"/v1/orders/{oid}/cancel", headers=world.m), 409, "illegal_transition")
    world.unchanged("cancel after shipping")

    other = world.order(world.body(1), key="k-2").json()["id"]
    assert c.post(f"/v1/orders/{other}/cancel", headers=world.m).status_code == 200
    world.before = snapshot(world.api.engine)
    assert_error(c.post(f"/v1/orders/{other}/cancel", headers=world.m), 409, "illegal_transition")
    r = c.post(f"/v1/orders/{other}/transitions", json={"status": "picking"}, headers=op)
    assert_error(r, 409, "illegal_transition")
    r = c.post(f"/v1/orders/{other}/transitions", json={"status": "bogus"}, headers=op)
    assert_error(r, 422, "invalid_request")
    world.unchanged("cancelled order")
    assert_error(
        c.post(f"/v1/orders/{new_id('ord')}/cancel", headers=world.m), 404, "order_not_found"
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = ["!!!", "%%%", _b64(b"\x00"), _b64(b"\xff\xfe\xfd"), _b64(b""), _b64(b"a\x1fb"), "="]


def test_bad_cursor_is_400(world: World) -> None:
    listings = [
        ("/v1/orders", world.m),
        ("/v1/products", world.m),
        ("/v1/stock/movements", world.m),
        ("/v1/webhooks/deliveries", world.m),
        ("/v1/hubs", world.api.op),
    ]
    for cursor in BAD_CURSORS:
        for path, headers in listings:
            r = world.api.client.get(path, params={"cursor": cursor}, headers=headers)
            assert_error(r, 400, "invalid_cursor")
    for cursor in [_b64(b"only-one"), _b64(b"a\x1fb\x1fc"), _b64(b"a\x1f")]:
        r = world.api.client.get("/v1/stock", params={"cursor": cursor}, headers=world.m)
        assert_error(r, 400, "invalid_cursor")
    r = world.api.client.get("/v1/stock", params={"cursor": "c" * 201}, headers=world.m)
    assert_error(r, 422, "invalid_request")


def test_bad_limit_is_422(world: World) -> None:
    for limit in ["0", "-1", "201", "ten", "1.5"]:
        r = world.api.client.get("/v1/orders", params={"limit": limit}, headers=world.m)
        assert_error(r, 422, "invalid_request")


# -- NUL characters (PostgreSQL cannot store them) -----------------------------


def test_nul_in_strings_is_422(world: World) -> None:
    c, m, op = world.api.client, world.m, world.api.op
    nul = "a\x00b"
    product = {
        "sku": "S-9",
        "name": "N",
        "dimensions_mm": {"length": 1, "width": 1, "height": 1},
        "weight_g": 1,
        "value": {"amount": 1, "currency": "USD"},
    }
    b = world.body()
    hub = {"name": "H", "kind": "store", "location": {"lat": 1, "lng": 1}, "timezone": "UTC"}
    requests: list[tuple[str, str, dict[str, str], Any]] = [
        (
            "order customer",
            "/v1/orders",
            {"Idempotency-Key": "n1"},
            {**b, "customer": {"name": nul}},
        ),
        ("order ref", "/v1/orders", {"Idempotency-Key": "n2"}, {**b, "external_ref": nul}),
        (
            "order city",
            "/v1/orders",
            {"Idempotency-Key": "n3"},
            {**b, "address": {**b["address"], "city": nul}},
        ),
        ("product sku", "/v1/products", {}, {**product, "sku": nul}),
        ("product name", "/v1/products", {}, {**product, "name": nul}),
        ("hub name", "/v1/hubs", op, {**hub, "name": nul}),
        ("hub timezone", "/v1/hubs", op, {**hub, "timezone": "UTC\x00"}),
        ("hub region", "/v1/hubs", op, {**hub, "region": nul}),
        ("merchant name", "/v1/merchants", op, {"name": nul}),
        ("merchant kind", "/v1/merchants", op, {"name": "x", "kind": nul}),
        ("key label", "/v1/keys", {}, {"label": nul}),
        (
            "receipt note",
            "/v1/stock/receipts",
            {},
            {"hub_id": world.hub, "product_id": world.product, "quantity": 1, "note": nul},
        ),
        ("webhook url", "/v1/webhooks/endpoints", {}, {"url": "http://example.com/\x00"}),
        (
            "webhook description",
            "/v1/webhooks/endpoints",
            {},
            {"url": "http://example.com/", "description": nul},
        ),
        ("cancel reason", f"/v1/orders/{new_id('ord')}/cancel", {}, {"reason": nul}),
    ]
    for name, path, extra, body in requests:
        headers = {**m, **extra} if "Authorization" not in extra else extra
        r = c.post(path, json=body, headers=headers)
        assert_error(r, 422, "invalid_request")
        world.unchanged(name)

    # Lone surrogates cannot be stored either.
    raw = json.dumps({**product, "name": "\ud800"})
    r = c.post("/v1/products", content=raw, headers={**m, "Content-Type": "application/json"})
    assert_error(r, {400, 422})
    world.unchanged("surrogate")

    # In query strings and paths, NUL is refused or harmless, never a 500.
    for path, params in [
        ("/v1/products", {"sku": nul}),
        ("/v1/orders", {"status": nul}),
        ("/v1/orders", {"cursor": nul}),
        ("/v1/stock", {"product_id": nul}),
        ("/v1/orders/ord_%00", {}),
        ("/v1/products/%00", {}),
    ]:
        r = c.get(path, params=params, headers=m)
        assert r.status_code < 500, (path, params, r.text)
        if r.status_code >= 400:
            assert_error(r, r.status_code)
    r = c.get("/v1/orders", headers={**op, "Hubflow-Merchant": nul})
    assert_error(r, 404, "merchant_not_found")


# -- pagination ----------------------------------------------------------------


def _walk(api: Api, path: str, headers: dict[str, str], **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        q = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = api.client.get(path, params=q, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["data"]) <= 2
        pages.append(
            [item.get("id") or f"{item['hub_id']}/{item['product_id']}" for item in body["data"]]
        )
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not terminate"


def test_pagination_walks_every_item_once(api: Api) -> None:
    hubs = [api.hub(name=f"Hub {i}") for i in range(2)]
    _, m = api.merchant()
    _, other = api.merchant("Other")
    products = [api.product(m, sku=f"SKU-{i}") for i in range(5)]
    api.product(other, sku="NOT-MINE")
    for p in products[:3]:
        for h in hubs:
            api.receive(m, h, p, 10)
    orders = []
    for i in range(5):
        r = api.client.post(
            "/v1/orders",
            json=api.order_body([(products[i % 3], 1)]),
            headers={**m, "Idempotency-Key": f"p-{i}"},
        )
        assert r.status_code == 201, r.text
        orders.append(r.json()["id"])
    r = api.client.post(f"/v1/orders/{orders[1]}/cancel", headers=m)
    assert r.status_code == 200

    for path, expected in [("/v1/orders", orders), ("/v1/products", products)]:
        pages = _walk(api, path, m)
        flat = [i for p in pages for i in p]
        assert flat == sorted(expected), path
        assert len(flat) == len(set(flat)) == 5
        assert [len(p) for p in pages] == [2, 2, 1]

    # Filters and other listings page the same way.
    allocated = [i for p in _walk(api, "/v1/orders", m, status="allocated") for i in p]
    assert allocated == sorted(o for o in orders if o != orders[1])
    positions = [i for p in _walk(api, "/v1/stock", m) for i in p]
    assert positions == sorted(f"{h}/{p}" for h in hubs for p in products[:3])
    movements = [i for p in _walk(api, "/v1/stock/movements", m) for i in p]
    # 6 receipts, 5 reservations, 1 release.
    assert len(movements) == len(set(movements)) == 12
    hub_ids = [i for p in _walk(api, "/v1/hubs", api.op) for i in p]
    assert hub_ids == sorted(hubs)

    # An exact multiple of the page size ends with next_cursor null, not an empty page.
    extra = api.product(m, sku="SKU-5")
    pages = _walk(api, "/v1/products", m)
    assert [len(p) for p in pages] == [2, 2, 2]
    assert pages[-1][-1] == extra
