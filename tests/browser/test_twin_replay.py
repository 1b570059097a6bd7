"""The twin's simulated day replayed on the operator's map: a tiny scenario runs through
the real services into its own folder (``twin.db``, ``results.json``), the platform is
served with ``HUBFLOW_TWIN_DIR`` naming it, and the replay page plays that day — parcels
and the vehicles driving their routes — from the run's database, read-only."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from hubflow.sim.run import simulate
from hubflow.sim.scenario import Scenario
from hubflow.web import ops_page
from hubflow.web.model import WebRole
from tests.browser.a11y import check_page
from tests.browser.conftest import Site, open_site, shot
from tests.twin_scenarios import tiny


@pytest.fixture(scope="module")
def twin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin")
    simulate(Scenario.from_dict(tiny(orders=30)), out, seed=5)
    return out


@pytest.fixture
def twin_site(sqlite_engine: Engine, browser: Any, twin_dir: Path) -> Iterator[Site]:
    with open_site(sqlite_engine, browser, twin_dir=str(twin_dir)) as s:
        yield s


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _record(db: Path) -> dict[str, Any]:
    """What the run's own database says: a route that was driven, and the parcels
    delivered by the end of the day."""
    with sqlite3.connect(db) as conn:
        rid, started, first = conn.execute(
            "SELECT r.id, r.started_at, MIN(s.arrived_at) FROM routes r "
            "JOIN route_stops s ON s.route_id = r.id WHERE r.status = 'completed' "
            "AND s.arrived_at IS NOT NULL GROUP BY r.id ORDER BY r.started_at LIMIT 1"
        ).fetchone()
        delivered = conn.execute(
            "SELECT COUNT(*) FROM (SELECT kind, ROW_NUMBER() OVER (PARTITION BY shipment_id "
            "ORDER BY at DESC, id DESC) AS n FROM tracking_events) WHERE n = 1 "
            "AND kind = 'delivered'"
        ).fetchone()[0]
    return {"route": rid, "started": _parse(started), "first_stop": _parse(first),
            "delivered": delivered}  # fmt: skip


def _minute(midnight: datetime, at: datetime) -> int:
    return int((at - midnight).total_seconds() // 60)


def test_the_twins_day_replays_with_its_vehicles(twin_site: Site, twin_dir: Path) -> None:
    site = twin_site
    db = twin_dir / "twin.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    rec = _record(db)
    assert rec["delivered"] > 0
    tz = ZoneInfo("America/Los_Angeles")
    midnight = datetime.combine(datetime(2026, 11, 24).date(), time(0), tz).astimezone(UTC)

    page = site.login(site.user(WebRole.OPERATOR, "ops@hubflow.test"), next_path="/ops/replay")
    # The served network has no day of its own here; the twin's is offered as a source.
    expect(page.locator("body")).to_have_attribute("data-loaded", "network")
    expect(page.locator("#replay-vehicles li")).to_have_count(0)
    page.get_by_label("Source").select_option("twin")
    expect(page.get_by_label("Day (UTC)")).to_be_hidden()
    page.get_by_role("button", name="Load").click()
    expect(page.locator("body")).to_have_attribute("data-loaded", "twin")
    expect(page.locator("#replay-label")).to_contain_text("tiny, 2026-11-24 (seed 5)")
    slider = page.get_by_label("Time of day")
    assert slider.get_attribute("max") == str(24 * 60 - 1)  # the simulated day, local time

    # On its way to the first door: the route's vehicle is out, and it moves.
    mid = rec["started"] + (rec["first_stop"] - rec["started"]) / 2
    slider.fill(str(_minute(midnight, rec["started"]) + 1))
    expect(page.locator("#clock")).to_contain_text("America/Los_Angeles")
    vehicle = page.locator(f"#replay-map path.m-vehicle.v-{rec['route']}")
    expect(vehicle).to_have_count(1)
    expect(page.locator(f"#replay-map path.m-route.r-{rec['route']}")).to_have_count(1)
    expect(page.locator("#replay-vehicles li").first).to_contain_text(": ")
    near_hub = vehicle.get_attribute("d")
    slider.fill(str(_minute(midnight, mid) + 1))
    expect(vehicle).not_to_have_attribute("d", near_hub or "")
    shot(page, "ops-replay-twin")
    check_page(page)

    # Before the day starts nothing is out; by its end the delivered parcels show as such.
    slider.fill("0")
    expect(page.locator("#replay-map path.m-vehicle")).to_have_count(0)
    expect(page.locator("#replay-counts li")).to_have_count(0)
    slider.fill(str(24 * 60 - 1))
    expect(page.locator("#replay-counts li[data-state='delivered']")).to_have_text(
        f"delivered: {rec['delivered']}"
    )
    # Play moves the clock on; pause stops it.
    slider.fill(str(_minute(midnight, rec["started"])))
    page.get_by_role("button", name="Play").click()
    expect(page.locator("#clock")).not_to_have_text(page.locator("#clock").inner_text())
    page.get_by_role("button", name="Pause").click()

    # On a phone, straight from the link the demo prints.
    phone = site.login("ops@hubflow.test", phone=True, next_path="/ops/replay?source=twin")
    expect(phone.locator("body")).to_have_attribute("data-loaded", "twin")
    shot(phone, "ops-replay-twin-phone")
    check_page(phone)

    # The run's record is read, never written; the served data stays apart.
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    served = phone.evaluate(
        "async (from) => (await (await fetch(`/ops/replay.json?from=${from}`)).json())",
        midnight.isoformat().replace("+00:00", "Z"),
    )
    assert served["source"] == "network" and served["events"] == served["routes"] == []


def test_a_day_beyond_the_replays_limit_plays_a_sample_to_its_end(
    twin_site: Site, twin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops_page, "REPLAY_EVENTS", 40)
    user = twin_site.user(WebRole.OPERATOR, "ops@hubflow.test")
    page = twin_site.login(user, next_path="/ops/replay?source=twin")
    expect(page.locator("body")).to_have_attribute("data-loaded", "twin")
    expect(page.locator("#replay-sample")).to_contain_text("one parcel in")
    page.get_by_label("Time of day").fill(str(24 * 60 - 1))
    expect(page.locator("#replay-counts li").first).to_be_visible()
    expect(page.locator("#replay-map path.m-parcel").first).to_be_attached()
    check_page(page)


def test_without_a_twin_run_the_replay_says_how_to_get_one(site: Site) -> None:
    page = site.login(site.user(WebRole.OPERATOR, "ops@hubflow.test"), next_path="/ops/replay")
    expect(page.locator("#no-twin")).to_contain_text("HUBFLOW_TWIN_DIR")
    expect(page.get_by_label("Source").locator("option")).to_have_count(1)
    site.expect_console_error("status of 404")
    status = page.evaluate("async () => (await fetch('/ops/replay.json?source=twin')).status")
    assert status == 404
