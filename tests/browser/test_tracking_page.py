"""The customer's tracking page when the parcel waits in a locker: where, until when,
and the code to open it; and an unknown link."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.a11y import check_page
from tests.browser.conftest import Site, shot
from tests.integration.test_lockers import _bank, _on_board


def test_locker_code_is_shown_while_the_parcel_waits(site: Site) -> None:
    api = site.api
    net, (ship,), h = _on_board(api)
    bank = _bank(api, net)
    r = api.client.post(f"/v1/lockers/{bank}/deposits", headers=h, json={"shipment_id": ship})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    token = api.client.get(f"/v1/shipments/{ship}", headers=net.mh).json()["tracking_token"]
    page = site.page(phone=True)
    page.goto(f"{site.url}/track/{token}")
    expect(page.locator("#status")).to_have_text("In a locker for you")
    expect(page.locator("#code")).to_have_text(code)
    expect(page.locator("#code-label")).to_contain_text("Capitol Hill Station, compartment")
    shot(page, "tracking-locker")
    check_page(page)

    site.expect_console_error("status of 404")
    missing = page.goto(f"{site.url}/track/{'x' * 24}")
    assert missing is not None and missing.status == 404
