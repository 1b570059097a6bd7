"""The key journey in a real browser: an order placed through the API appears on the
operator's map, the courier delivers it in the courier app with the customer's PIN,
and the customer's tracking page says delivered (and lets them start a return)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from hubflow.web.model import WebRole
from tests import fleet
from tests.browser.a11y import check_page
from tests.browser.conftest import Site, shot


def _placed_and_planned(site: Site) -> dict[str, Any]:
    api = site.api
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, name="Sam Driver")
    body = api.order_body([(net.product, 1)], proof_of_delivery={"pin": True})
    with httpx.Client(base_url=site.url) as http:
        r = http.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": "o-1"})
        assert r.status_code == 201, r.text
        ship = r.json()["shipments"][0]
        assert http.post(f"/v1/shipments/{ship['id']}/packed", json={}, headers=api.op).is_success
        run = http.post("/v1/dispatch/default/runs", headers=api.op)
        assert run.status_code == 201 and run.json()["routes"] == 1, run.text
    return {"net": net, "courier": cid, "ship": ship}


def test_order_seen_on_map_delivered_in_courier_app_and_tracked(site: Site) -> None:
    flow = _placed_and_planned(site)
    ship = flow["ship"]
    operator = site.user(WebRole.OPERATOR, "ops@hubflow.test")
    courier = site.user(WebRole.COURIER, "sam@hubflow.test", courier_id=flow["courier"])

    # The operator sees the order on the live map and in the queue.
    ops = site.login(operator)
    expect(ops).to_have_url(re.compile(r"/ops$"))
    expect(ops.locator(f"path.o-{ship['id']}")).to_have_count(1)
    expect(ops.locator(f"#queue tr[data-shipment='{ship['id']}']")).to_contain_text("assigned")
    expect(ops.locator("#kpi-open_orders")).to_have_text("1")
    expect(ops.locator("path.m-route")).to_have_count(1)
    expect(ops.locator("path.m-vehicle.m-mode-van")).to_have_count(1)
    expect(ops.locator(f"path.h-{flow['net'].hub}")).to_have_count(1)
    expect(ops.locator("#legend")).to_contain_text("van")
    shot(ops, "ops-dashboard")
    check_page(ops)

    # The customer's tracking page, before: a PIN to give at the door once it is on its way.
    customer = site.page(phone=True)
    customer.goto(f"{site.url}/track/{ship['tracking_token']}")
    expect(customer.locator("#merchant-name")).to_have_text("Bakery")
    expect(customer.locator("#status")).to_have_text("Courier assigned")

    # The courier, on a phone: start the shift, load, arrive, deliver with the PIN.
    app = site.login(
        courier,
        phone=True,
        permissions=["geolocation"],
        geolocation={"latitude": 47.60, "longitude": -122.33},
    )
    expect(app).to_have_url(re.compile(r"/courier$"))
    # Installable: a manifest, and a service worker controlling the app.
    manifest = app.evaluate(
        "async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json()"
    )
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/courier"
    sw = app.evaluate("async () => (await navigator.serviceWorker.ready).active.scriptURL")
    assert sw.endswith("/courier/sw.js")
    shot(app, "courier-off-shift")
    check_page(app)
    app.get_by_role("button", name="Start shift").click()
    expect(app.locator("#shift-state")).to_have_text("You are on shift.")
    expect(app.get_by_role("button", name="Start shift")).to_be_hidden()
    app.get_by_role("button", name="Load parcels and leave").click()
    expect(app.get_by_role("button", name="I have arrived")).to_be_visible()
    customer.reload()
    expect(customer.locator("#status")).to_have_text("Out for delivery")
    expect(customer.locator("#courier-text")).to_contain_text("Sam is on the way")
    expect(customer.locator("#track-map path")).to_have_count(2)  # the courier and the door
    pin = customer.locator("#code").inner_text(timeout=10_000)
    assert re.fullmatch(r"\d{4}", pin), pin
    shot(customer, "tracking-out-for-delivery")
    app.get_by_role("button", name="I have arrived").click()
    expect(app.locator("#proof-needed")).to_contain_text("PIN")
    shot(app, "courier-at-the-door")
    app.get_by_label("PIN from the customer").fill(pin)
    app.get_by_label("Received by").fill("Ada")
    app.get_by_role("button", name="Delivered").click()
    expect(app.locator("#announce")).to_have_text("Delivered")
    expect(app.get_by_role("button", name="Back at the hub: finish the route")).to_be_visible()
    shot(app, "courier-delivered")

    # The customer sees it delivered, white-label, and can start a return.
    customer.reload()
    expect(customer.locator("#status")).to_have_text("Delivered")
    expect(customer.locator("#timeline li").first).to_contain_text("Delivered")
    shot(customer, "tracking-delivered")
    check_page(customer)
    customer.get_by_label("Why are you returning it?").fill("Wrong size")
    customer.get_by_role("button", name="Start a return").click()
    expect(customer.locator("#return-code")).to_contain_text("hubflow-return:")
    shot(customer, "tracking-return-started")

    # The operator's map no longer shows it as open.
    ops.reload()
    expect(ops.locator(f"path.o-{ship['id']}")).to_have_count(0)
    expect(ops.locator("#kpi-delivered_24h")).to_have_text("1")
