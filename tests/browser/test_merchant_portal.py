"""The merchant portal in a browser: one merchant never sees another's orders (not in
the pages, not through the JSON API with the session); keys are created and revoked;
a webhook endpoint gets a test send that shows in the log and can be replayed;
branding shows on the customer's tracking page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from hubflow.web.model import WebRole
from hubflow.webhooks.relay import Relay, RelayPolicy
from tests import fleet
from tests.browser.a11y import check_page
from tests.browser.conftest import Site, shot


class _Refusing:
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        return 503

    def close(self) -> None:
        pass


def test_a_merchant_sees_only_its_own_orders(site: Site) -> None:
    api = site.api
    mine = fleet.network(api)
    mine_order = fleet.order(api, mine, packed=False)
    other_id, other_h = api.merchant("Rival Goods")
    pid = api.product(other_h, sku="RIVAL-1")
    api.receive(other_h, mine.hub, pid, 5)
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(pid, 1)]),
        headers={**other_h, "Idempotency-Key": "rival-1"},
    )
    assert r.status_code == 201, r.text
    theirs = r.json()
    email = site.user(WebRole.MERCHANT, "shop@bakery.test", merchant_id=mine.merchant)

    for refused in ("status of 404", "status of 403"):  # the probes below, on purpose
        site.expect_console_error(refused)
    page = site.login(email)
    expect(page).to_have_url(re.compile(r"/merchant$"))
    expect(page.locator(f"tr[data-order='{mine_order['id']}']")).to_have_count(1)
    expect(page.locator(f"tr[data-order='{theirs['id']}']")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Rival")
    shot(page, "merchant-orders")
    check_page(page)
    # The session reaches the JSON API as this merchant, and only as this merchant.
    status = page.evaluate("async (id) => (await fetch(`/v1/orders/${id}`)).status", theirs["id"])
    assert status == 404
    listed = page.evaluate("async () => (await (await fetch('/v1/orders')).json()).data")
    assert [o["id"] for o in listed] == [mine_order["id"]]
    # Acting for another merchant with the operator's header does not work for merchants.
    status = page.evaluate(
        "async (id) => (await fetch('/v1/orders', {headers: {'Hubflow-Merchant': id}})).status",
        other_id,
    )
    assert status == 200  # the header is ignored for a merchant: still only its own data
    # A write without the CSRF header is refused even with the session cookie.
    status = page.evaluate(
        "async () => (await fetch('/v1/keys', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: '{}'})).status"
    )
    assert status == 403
    # Pages of other roles are closed to a merchant.
    page.goto(f"{site.url}/ops")
    expect(page.locator("h1")).to_have_text("Not for this account")
    shot(page, "error-not-for-this-account")
    check_page(page)

    for path, name in [
        ("/merchant/stock", "merchant-stock"),
        ("/merchant/inbound", "merchant-inbound"),
        ("/merchant/returns", "merchant-returns"),
    ]:
        page.goto(f"{site.url}{path}")
        expect(page.locator("h1")).to_be_visible()
        shot(page, name)
        check_page(page)
    expect(page.locator("body")).not_to_contain_text("RIVAL-1")


def test_keys_webhooks_and_branding(site: Site) -> None:
    api = site.api
    net = fleet.network(api)
    order = fleet.order(api, net, packed=False)
    email = site.user(WebRole.MERCHANT, "dev@bakery.test", merchant_id=net.merchant)
    page = site.login(email)

    page.goto(f"{site.url}/merchant/keys")
    page.get_by_label("Label").fill("checkout")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key .secret")
    expect(secret).to_have_text(re.compile(r"^hfk_"))
    key = secret.inner_text()
    assert api.client.get("/v1/orders", headers={"Authorization": f"Bearer {key}"}).is_success
    shot(page, "merchant-key-created")
    page.get_by_role("link", name="Done").click()
    page.get_by_role("button", name="Revoke key checkout").click()
    expect(page.locator("#keys")).to_contain_text("revoked")
    assert (
        api.client.get("/v1/orders", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )
    check_page(page)

    page.goto(f"{site.url}/merchant/webhooks")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#new-endpoint .secret")).to_have_text(re.compile(r"^whsec_"))
    page.get_by_role("link", name="Done").click()
    page.get_by_role("button", name="Send a test to http://127.0.0.1:9/hooks").click()
    expect(page.locator("#deliveries tbody tr[data-delivery]")).to_have_count(1)
    expect(page.locator("#deliveries")).to_contain_text("pending")
    # The relay tries once, the receiver refuses, the delivery is parked; replay it.
    relay = Relay(api.engine, api.clock, _Refusing(), RelayPolicy(max_attempts=1))
    try:
        relay.run_once()
    finally:
        relay.close()
    page.reload()
    expect(page.locator("#deliveries")).to_contain_text("parked")
    shot(page, "merchant-webhooks")
    check_page(page)
    page.get_by_role("button", name=re.compile(r"^Replay ")).first.click()
    expect(page.locator("#deliveries")).to_contain_text("pending")

    page.goto(f"{site.url}/merchant/inbound")
    page.get_by_label("Units").fill("12")
    page.get_by_label("Your reference").fill("PO-9")
    page.get_by_role("button", name="Send notice").click()
    expect(page.get_by_role("heading", name="PO-9 · expected")).to_be_visible()
    shot(page, "merchant-inbound-sent")
    check_page(page)

    page.goto(f"{site.url}/merchant/branding")
    page.get_by_label("Name shown to customers").fill("Le Fournil")
    site.expect_console_error("status of 422")  # the refused colour's page
    page.get_by_label("Header colour (white text on it)").fill("#eeeeee")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("contrast")
    page.get_by_label("Header colour (white text on it)").fill("#6b1d1d")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_have_text("Saved.")
    shot(page, "merchant-branding")
    check_page(page)

    customer = site.page(phone=True)
    customer.goto(f"{site.url}/track/{order['shipments'][0]['tracking_token']}")
    expect(customer.locator("#merchant-name")).to_have_text("Le Fournil")
    header = customer.locator("header.top")
    expect(header).to_have_css("background-color", "rgb(107, 29, 29)")
    expect(customer.locator("body")).not_to_contain_text("Hubflow")
    shot(customer, "tracking-white-label")
    check_page(customer)
