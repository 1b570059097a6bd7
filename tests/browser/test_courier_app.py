"""The courier app on a phone beyond the happy path: a parcel that needs a photo and a
signature (drawn on the pad with the finger), and a failed attempt with its reason."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from hubflow.delivery.store import proofs_table
from hubflow.web.model import WebRole
from tests import fleet
from tests.browser.conftest import Site, shot

# A 1x1 PNG: what a phone camera would hand the file input, only smaller.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_deliver_with_photo_and_signature_then_fail_one(site: Site, tmp_path: object) -> None:
    api = site.api
    net = fleet.network(api)
    van = fleet.vehicle(api, net, "van")
    cid = fleet.courier(api, net, "employee", vehicle_id=van, name="Ana Rider")
    with httpx.Client(base_url=site.url) as http:
        for i, lat in enumerate((47.60, 47.62)):
            body = api.order_body([(net.product, 1)], lat=lat,
                                  proof_of_delivery={"photo": True, "signature": True})  # fmt: skip
            r = http.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": f"c{i}"})
            assert r.status_code == 201, r.text
            ship = r.json()["shipments"][0]["id"]
            assert http.post(f"/v1/shipments/{ship}/packed", json={}, headers=api.op).is_success
        assert http.post("/v1/dispatch/default/runs", headers=api.op).json()["routes"] == 1
    app = site.login(site.user(WebRole.COURIER, "ana@hubflow.test", courier_id=cid), phone=True)
    app.get_by_role("button", name="Start shift").click()
    app.get_by_role("button", name="Load parcels and leave").click()
    app.get_by_role("button", name="I have arrived").click()
    expect(app.locator("#proof-needed")).to_contain_text("a photo, a signature")
    # Without the proofs the API refuses and the courier is told why.
    site.expect_console_error("status of 422")
    app.get_by_role("button", name="Delivered").click()
    expect(app.locator("#announce")).to_contain_text("proof of delivery is missing")
    photo = app.get_by_label("Photo of the parcel at the door")
    photo.set_input_files({"name": "door.png", "mimeType": "image/png", "buffer": PNG})
    pad = app.locator("canvas#signature").bounding_box()
    assert pad is not None
    app.mouse.move(pad["x"] + 20, pad["y"] + 30)
    app.mouse.down()
    for step in range(1, 10):
        app.mouse.move(pad["x"] + 20 + step * 25, pad["y"] + 30 + (step % 3) * 20)
    app.mouse.up()
    shot(app, "courier-signature")
    app.get_by_role("button", name="Delivered").click()
    expect(app.locator("#announce")).to_have_text("Delivered")
    with api.engine.connect() as conn:
        kinds = sorted(conn.execute(select(proofs_table.c.kind)).scalars())
    assert kinds == ["photo", "signature"]

    # The second stop: nobody home.
    expect(app.locator("#next-text")).to_contain_text("Stop 2")
    app.get_by_role("button", name="I have arrived").click()
    app.get_by_label("Could not deliver because").select_option("not_at_home")
    app.get_by_label("Note").fill("rang twice")
    app.get_by_role("button", name="Could not deliver").click()
    expect(app.locator("#announce")).to_have_text("Marked as not delivered")
    expect(app.locator("#stops")).to_contain_text(re.compile("failed"))
    app.get_by_role("button", name="Back at the hub: finish the route").click()
    expect(app.locator("#announce")).to_have_text("Route finished")
    expect(app.locator("#route-summary")).to_have_text("No route yet.")
    app.get_by_role("button", name="End shift").click()
    expect(app.locator("#shift-state")).to_have_text("You are off shift.")
    shot(app, "courier-route-finished")


def test_a_gig_courier_accepts_an_offer(site: Site) -> None:
    from hubflow.core.settings import Settings
    from hubflow.delivery.dispatch import DispatchConfig, run_epoch

    api = site.api
    net = fleet.network(api)
    gig = fleet.courier(api, net, "gig", mode="car", name="Gil Gig", start=True)
    body = api.order_body([(net.product, 1)], lat=47.5, lng=-122.25)
    r = api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": "g1"})
    assert r.status_code == 201, r.text
    ship = r.json()["shipments"][0]["id"]
    assert api.client.post(f"/v1/shipments/{ship}/packed", json={}, headers=api.op).is_success
    settings = Settings(dispatch_time_limit_s=0.5, dispatch_window_s=1200, dispatch_handling_s=0)
    run = run_epoch(api.engine, "default", api.clock.now(), DispatchConfig.from_settings(settings))
    assert run.as_json()["offered"] == 1, run.as_json()
    app = site.login(site.user(WebRole.COURIER, "gil@hubflow.test", courier_id=gig), phone=True)
    expect(app.locator("#offers li")).to_have_count(1)
    expect(app.locator("#offers")).to_contain_text("1 stop(s)")
    shot(app, "courier-offer")
    app.get_by_role("button", name="Accept").click()
    expect(app.locator("#announce")).to_have_text("Offer accepted")
    expect(app.locator("#offers-box")).to_be_hidden()
    expect(app.locator("#route-summary")).to_contain_text("car from Seattle FC: 0 of 1 stops")
    expect(app.get_by_role("button", name="Load parcels and leave")).to_be_visible()
