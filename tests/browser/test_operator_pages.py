"""The operator's other pages in a browser: the dispatch board moving a stop between
routes, a hub with its wave's pick progress, and the replay of the day with a slider."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from hubflow.web.model import WebRole
from tests import fleet
from tests.browser.a11y import check_page
from tests.browser.conftest import Site, shot
from tests.integration.test_hub_operations import _hub, _receive_and_stow
from tests.integration.test_move_stop import _routes


def test_dispatch_board_moves_a_stop_and_reassigns_a_route(site: Site) -> None:
    net, van, car = _routes(site.api)
    spare_van = fleet.vehicle(site.api, net, "van", name="spare van")
    fleet.courier(site.api, net, "employee", vehicle_id=spare_van, name="Driver C")
    page = site.login(site.user(WebRole.OPERATOR, "desk@hubflow.test"), next_path="/ops/dispatch")
    expect(page).to_have_url(re.compile(r"/ops/dispatch$"))
    van_card = page.locator(f"section[data-route='{van['id']}']")
    car_card = page.locator(f"section[data-route='{car['id']}']")
    expect(van_card.locator("li[data-stop]")).to_have_count(2)
    expect(car_card.locator("li[data-stop]")).to_have_count(1)
    shot(page, "ops-dispatch-board")
    check_page(page)
    stop = van["stops"][0]["id"]
    page.get_by_label("Move to").first.select_option(car["id"])
    van_card.locator(f"li[data-stop='{stop}']").get_by_role("button", name="Move stop").click()
    expect(page.locator("#announce")).to_contain_text("Stop moved")
    expect(car_card.locator("li[data-stop]")).to_have_count(2)
    expect(van_card.locator("li[data-stop]")).to_have_count(1)
    shot(page, "ops-dispatch-moved")
    check_page(page)
    van_card.get_by_label("Give the route to").select_option(label="Driver C")
    van_card.get_by_role("button", name="Reassign").click()
    expect(page.locator("#announce")).to_have_text("Route reassigned")
    expect(van_card.get_by_role("heading")).to_contain_text("Driver C")

    # The dashboard on a phone: usable at 375 px, the map and queues included.
    phone = site.login("desk@hubflow.test", phone=True)
    expect(phone.locator("#kpi-routes_active")).to_have_text("2")
    expect(phone.locator("path.m-order")).to_have_count(3)
    expect(phone.locator(f"path.h-{net.hub}")).to_have_count(1)
    shot(phone, "ops-dashboard-phone")
    check_page(phone)


def test_hub_view_shows_wave_progress_and_replay_slides_through_the_day(site: Site) -> None:
    api = site.api
    h = _hub(api)
    _receive_and_stow(api, h, h["tea"], 5)
    order = api.client.post(
        "/v1/orders", json=api.order_body([(h["tea"], 2)]),
        headers={**h["mh"], "Idempotency-Key": "w-1"},
    )  # fmt: skip
    assert order.status_code == 201, order.text
    cutoff = (api.clock.now() + timedelta(hours=12)).isoformat()
    wave = api.client.post(f"/v1/hubs/{h['hub']}/waves", json={"cutoff": cutoff}, headers=api.op)
    assert wave.status_code == 201, wave.text
    page = site.login(site.user(WebRole.OPERATOR, "ops@hubflow.test"))
    page.get_by_role("link", name="Hubs").click()
    shot(page, "ops-hubs")
    check_page(page)
    page.get_by_role("link", name="Seattle FC").click()
    row = page.locator(f"tr[data-wave='{wave.json()['id']}']")
    expect(row).to_contain_text("0 / 2 units")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    shot(page, "ops-hub-waves")
    check_page(page)

    page.get_by_role("link", name="Hub screens").click()
    expect(page.get_by_role("heading", name="Which hub?")).to_be_visible()
    shot(page, "hub-picker")
    check_page(page)

    page.get_by_role("link", name="Replay").click()
    expect(page.locator("body")).to_have_attribute("data-loaded", "network")
    page.get_by_label("Time of day").fill("600")  # 10:00 UTC: before the order
    expect(page.locator("#replay-counts li")).to_have_count(0)
    page.get_by_label("Time of day").fill("960")  # 16:00 UTC: ordered at 15:00
    expect(page.locator("#clock")).to_have_text("16:00 UTC")
    expect(page.locator("#replay-counts li[data-state='ordered']")).to_contain_text("ordered: 1")
    expect(page.locator("#replay-map path.m-parcel")).to_have_count(1)
    shot(page, "ops-replay")
    check_page(page)
