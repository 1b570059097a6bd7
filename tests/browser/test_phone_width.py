"""Every page at 375 px (a small phone): no sideways scrolling, every control on the
screen and big enough to tap, and the same accessibility checks as at desktop width
(axe-core's WCAG 2.1 A/AA rules, labels, contrast, keyboard focus with a ring)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from hubflow.web.model import WebRole
from tests.browser.a11y import check_phone
from tests.browser.conftest import Site, shot
from tests.integration.test_hub_operations import _hub, _receive_and_stow
from tests.integration.test_move_stop import _routes

FAILED: list[str] = []


def _visit(site: Site, page: Any, path: str, name: str, ready: str = "h1") -> None:
    """Open ``path`` and check it; a page's problems are collected, so that one run
    reports every page."""
    page.goto(f"{site.url}{path}")
    expect(page.locator(ready).first).to_be_visible()
    shot(page, f"phone-{name}")
    try:
        check_phone(page)
    except AssertionError as exc:
        FAILED.append(f"{path}:\n{exc}")


def test_every_page_works_at_phone_width(site: Site) -> None:
    FAILED.clear()
    api = site.api
    net, van, _car = _routes(api)
    h = _hub(api)
    _receive_and_stow(api, h, h["tea"], 5)
    order = api.client.post(
        "/v1/orders", json=api.order_body([(h["tea"], 1)]),
        headers={**h["mh"], "Idempotency-Key": "phone-1"},
    )  # fmt: skip
    assert order.status_code == 201, order.text
    cutoff = (api.clock.now() + timedelta(hours=12)).isoformat()
    wave = api.client.post(f"/v1/hubs/{h['hub']}/waves", json={"cutoff": cutoff}, headers=api.op)
    assert wave.status_code == 201, wave.text
    asn = api.client.post(
        "/v1/asns", headers=net.mh,
        json={"hub_id": net.hub, "lines": [{"product_id": net.product, "quantity": 4}],
              "reference": "PO-77"},
    )  # fmt: skip
    assert asn.status_code == 201, asn.text
    hook = api.client.post(
        "/v1/webhooks/endpoints", headers=net.mh,
        json={"url": "https://example.com/a-rather-long/path/for/hooks?x=1", "event_types": ["*"]},
    )  # fmt: skip
    assert hook.status_code == 201, hook.text

    # Anyone: the login form and the error page.
    anon = site.page(phone=True)
    _visit(site, anon, "/login", "login")
    site.expect_console_error("status of 404")
    _visit(site, anon, f"/track/{'x' * 24}", "error-not-found")
    tracked = order.json()["shipments"][0]["tracking_token"]
    _visit(site, anon, f"/track/{tracked}", "tracking", ready="#status")

    # The operator's pages.
    ops = site.login(site.user(WebRole.OPERATOR, "ops@hubflow.test"), phone=True)
    _visit(site, ops, "/ops", "ops-dashboard", ready="#kpi-open_orders")
    _visit(site, ops, "/ops/dispatch", "ops-dispatch", ready=f"section[data-route='{van['id']}']")
    _visit(site, ops, "/ops/hubs", "ops-hubs")
    _visit(
        site, ops, f"/ops/hubs/{h['hub']}", "ops-hub", ready=f"tr[data-wave='{wave.json()['id']}']"
    )
    _visit(site, ops, "/ops/replay", "ops-replay", ready="body[data-loaded]")
    _visit(site, ops, "/hub", "hub-picker")
    _visit(site, ops, f"/hub/{h['hub']}", "hub-screen", ready="#prompt")

    # The merchant's portal.
    shop = site.login(
        site.user(WebRole.MERCHANT, "shop@bakery.test", merchant_id=net.merchant), phone=True
    )
    for path in ("", "/stock", "/inbound", "/returns", "/keys", "/webhooks", "/branding"):
        _visit(site, shop, f"/merchant{path}", "merchant" + (path.replace("/", "-") or "-orders"))

    # A courier's app.
    courier = site.login(
        site.user(WebRole.COURIER, "sam@hubflow.test", courier_id=van["courier_id"]), phone=True
    )
    _visit(site, courier, "/courier", "courier", ready="#shift-state")
    assert FAILED == [], "\n\n".join(FAILED)
