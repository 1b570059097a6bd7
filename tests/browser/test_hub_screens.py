"""Hub screens in a browser, driven the way a keyboard-wedge scanner drives them (the
code typed into the scan field, then Enter): receive against a notice, stow into the
suggested bin, pick in walking order, pack; staff of one hub cannot work at another."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from hubflow.web.model import WebRole
from tests.browser.a11y import check_page
from tests.browser.conftest import Site, shot
from tests.integration.test_hub_operations import _hub


def _scan(page: object, code: str) -> None:
    field = page.get_by_label("Scan", exact=True)  # type: ignore[attr-defined]
    field.fill(code)
    field.press("Enter")


def test_receive_stow_pick_pack_with_a_scanner(site: Site) -> None:
    api = site.api
    h = _hub(api)
    asn = api.client.post(
        "/v1/asns",
        headers=h["mh"],
        json={"hub_id": h["hub"], "lines": [{"product_id": h["tea"], "quantity": 3}],
              "reference": "PO-1"},
    )  # fmt: skip
    assert asn.status_code == 201, asn.text
    other_hub = api.hub(name="Tacoma store", location={"lat": 47.25, "lng": -122.44})
    staff = site.user(WebRole.HUB_STAFF, "kim@hub.test", hub_id=h["hub"])
    site.expect_console_error("status of 403")  # the other hub's screen, below

    page = site.login(staff, phone=True)
    expect(page).to_have_url(re.compile(rf"/hub/{h['hub']}$"))
    expect(page.locator("#prompt")).to_have_text("Scan a product from the delivery")
    check_page(page)
    page.get_by_label("Quantity").fill("3")
    _scan(page, "TEA")
    expect(page.locator("#receive-lines tbody tr").first).to_contain_text("3")
    shot(page, "hub-receive")

    page.get_by_role("tab", name="Stow").click()
    page.get_by_label("Quantity").fill("3")
    _scan(page, "TEA")
    prompt = page.locator("#prompt")
    expect(prompt).to_have_text(re.compile(r"^Put 3 in bin \S+, then scan the bin$"))
    bin_code = re.search(r"bin (\S+),", prompt.inner_text()).group(1)  # type: ignore[union-attr]
    shot(page, "hub-stow")
    _scan(page, bin_code)
    expect(page.locator("#announce")).to_have_text(f"Stowed 3 in {bin_code}")

    order = api.client.post(
        "/v1/orders",
        json=api.order_body([(h["tea"], 2)]),
        headers={**h["mh"], "Idempotency-Key": "hub-o-1"},
    )
    assert order.status_code == 201, order.text
    ship = order.json()["shipments"][0]["id"]
    cutoff = (api.clock.now() + timedelta(hours=12)).isoformat()
    wave = api.client.post(f"/v1/hubs/{h['hub']}/waves", json={"cutoff": cutoff}, headers=api.op)
    assert wave.status_code == 201, wave.text

    page.get_by_role("tab", name="Pick").click()
    expect(prompt).to_have_text(f"Go to bin {bin_code} and scan it", timeout=15_000)
    _scan(page, "WRONG-BIN")
    expect(prompt).to_have_text(f"wrong bin: go to {bin_code}")
    _scan(page, bin_code)
    expect(prompt).to_have_text("Scan the product (2 to pick)")
    shot(page, "hub-pick")
    _scan(page, "TEA")
    expect(prompt).to_have_text("This pick list is done")

    page.get_by_role("tab", name="Pack").click()
    _scan(page, ship)
    expect(page.locator(f"#packed li[data-shipment='{ship}']")).to_contain_text("carton")
    shot(page, "hub-pack")
    check_page(page)
    packed = api.client.get(f"/v1/shipments/{ship}", headers=h["mh"]).json()
    assert packed["status"] == "ready", packed

    page.goto(f"{site.url}/hub/{other_hub}")
    expect(page.locator("h1")).to_have_text("Not for this account")
    r = page.evaluate(
        "async (url) => (await fetch(url, {method: 'POST', headers: {'Content-Type': "
        "'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]')"
        ".content}, body: JSON.stringify({code: 'x'})})).status",
        f"/hub/{other_hub}/pack",
    )
    assert r == 403
