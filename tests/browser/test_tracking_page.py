"""The customer's tracking page when the parcel waits in a locker: where, until when,
and the code to open it; an unknown link; and a return of the items and units the
customer chooses, within the merchant's window."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from hubflow.returns.store import return_lines_table
from tests import fleet
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


def _returned(site: Site) -> list[tuple[str, int]]:
    rl = return_lines_table.c
    with site.api.engine.connect() as conn:
        rows = conn.execute(select(rl.product_id, rl.quantity)).all()
    return [(r.product_id, r.quantity) for r in rows]


def test_the_customer_chooses_what_to_send_back(site: Site) -> None:
    api = site.api
    net = fleet.network(api)
    jam = api.product(net.mh, sku="JAM-1", name="Strawberry jam")
    api.receive(net.mh, net.hub, jam, 5)
    van = fleet.vehicle(api, net, "van")
    fleet.courier(api, net, "employee", vehicle_id=van, start=True)
    body = api.order_body([(net.product, 2), (jam, 1)])
    r = api.client.post("/v1/orders", json=body, headers={**net.mh, "Idempotency-Key": "ret-1"})
    assert r.status_code == 201, r.text
    order = r.json()
    fleet.deliver(api, net, order)
    token = order["shipments"][0]["tracking_token"]

    page = site.page(phone=True)
    page.goto(f"{site.url}/track/{token}")
    expect(page.locator("#status")).to_have_text("Delivered")
    expect(page.locator("#return-window")).to_contain_text("(30 days after delivery)")
    loaf = page.get_by_label("Sourdough loaf (up to 2)")
    jar = page.get_by_label("Strawberry jam (up to 1)")
    expect(loaf).to_have_value("2")
    shot(page, "tracking-return-choose")
    check_page(page)
    # One loaf of two, no jam.
    loaf.fill("1")
    jar.fill("0")
    page.get_by_label("Why are you returning it?").fill("Bought one too many")
    page.get_by_role("button", name="Start a return").click()
    expect(page.locator("#return-code")).to_contain_text("hubflow-return:")
    expect(page.locator("#return-lines li")).to_have_text(["1 \u00d7 Sourdough loaf"])
    shot(page, "tracking-return-chosen")
    assert _returned(site) == [(net.product, 1)]

    # Back on the link: only what is left can still go back, and not more of it.
    page.goto(f"{site.url}/track/{token}")
    expect(page.get_by_label("Sourdough loaf (up to 1)")).to_have_value("1")
    site.expect_console_error("status of 409")
    site.expect_console_error("status of 422")
    more = "(el) => { el.max = '9'; el.value = '2'; }"  # past the form's own limit
    page.get_by_label("Sourdough loaf (up to 1)").evaluate(more)
    page.get_by_label("Why are you returning it?").fill("Both")
    page.get_by_role("button", name="Start a return").click()
    expect(page.get_by_role("alert")).to_contain_text("already returned")
    page.get_by_label("Sourdough loaf (up to 1)").fill("0")
    page.get_by_label("Strawberry jam (up to 1)").fill("0")
    page.get_by_label("Why are you returning it?").fill("Nothing")
    page.get_by_role("button", name="Start a return").click()
    expect(page.get_by_role("alert")).to_contain_text("choose at least one item")
    check_page(page)
    assert _returned(site) == [(net.product, 1)]  # nothing more was authorised

    # Past the merchant's window the page says so instead of offering the form.
    api.clock.advance(timedelta(days=31))
    page.goto(f"{site.url}/track/{token}")
    expect(page.locator("#return-closed")).to_contain_text("return window has closed")
    expect(page.get_by_role("button", name="Start a return")).to_have_count(0)
