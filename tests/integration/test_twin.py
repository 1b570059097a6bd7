"""The twin on a tiny scenario through the real services, on SQLite and PostgreSQL:
conservation of orders, stock and money; determinism; the served results."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from hubflow.api.app import create_app
from hubflow.core.db import UnitOfWork
from hubflow.core.settings import Settings
from hubflow.fulfillment.store import asns_table, cartons_table, pick_tasks_table, waves_table
from hubflow.promise.model import PromiseConfig
from hubflow.promise.service import get_hub_promise
from hubflow.sim.run import fresh_database, run_on, simulate
from hubflow.sim.scenario import Scenario
from hubflow.sim.world import build
from hubflow.web.ops_data import replay_events
from hubflow.web.twin_day import read_only
from tests.twin_scenarios import tiny

OUTCOMES = {
    "delivered",
    "cancelled",
    "open",
    "in_locker",
    "awaiting_pickup",
    "with_carrier",
    "failed:returned_to_hub",
    "failed:redirected",
}


def _kpis(results: dict[str, Any]) -> dict[str, Any]:
    """Everything but wall-clock figures."""
    day = {k: v for k, v in results["day"].items() if k != "dispatch"}
    day["routes_driven"] = results["day"]["dispatch"]["routes_driven"]
    routes = [{k: v for k, v in x.items() if k != "id"} for x in results["routes"]]
    return {"day": day, "by_hour": results["by_hour"], "routes": routes}


def test_a_tiny_day_conserves_orders_stock_and_money(engine: Engine) -> None:
    sc = Scenario.from_dict(tiny(orders=30))
    r = run_on(engine, sc, seed=5)
    day = r["day"]
    assert day["orders"] > 15
    outcomes = day["order_outcomes"]
    # Every order ended somewhere named; failed ones say why.
    assert set(outcomes) <= OUTCOMES, outcomes
    assert sum(outcomes.values()) == day["orders"]
    assert outcomes.get("delivered", 0) > 0
    # Stock: every position is the sum of its ledger; reservations match; money balances.
    book = day["ledgers"]
    assert book["stock_balances"], book
    assert book["money_balances"], book
    assert book["stock_positions_off_ledger"] == 0
    # The outside world did happen: routes, failures at the door, lockers, returns.
    assert day["dispatch"]["routes_driven"] > 0
    assert day["failed_deliveries"] + day["lockers"]["deposits"] > 0
    assert sum(m["parcels"] for m in day["modes"].values()) > 0
    assert day["km_total"] > 0 and day["kg_co2e"] > 0
    assert day["hub_work"]["units_received"] > 0  # the dark store's 11:00 truck
    # Picking went through the hubs' real waves, carts, scans and cartons.
    hw = day["hub_work"]
    assert hw["waves"] > 0 and hw["carts"] > 0 and hw["lines_picked"] >= hw["carts"]
    assert hw["parcels_packed"] > 0 and hw["picks_per_hour"] > 0 and hw["walk_m_per_line"] > 0
    assert hw["pick_to_pack_minutes_p50"] is not None
    t = pick_tasks_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        waves = uow.conn.execute(select(func.count()).select_from(waves_table)).scalar_one()
        picked = uow.conn.execute(select(func.count()).where(t.status == "picked")).scalar_one()
        cartons = uow.conn.execute(select(func.count()).select_from(cartons_table)).scalar_one()
        asns = uow.conn.execute(select(func.count()).select_from(asns_table)).scalar_one()
    assert waves == hw["waves"] and picked > 0 and cartons >= hw["parcels_packed"]
    assert asns >= len(sc.hubs) + 1  # opening stock per hub and merchant, and the truck
    # Every unit a hub holds is in a bin or in a tote of an order not yet gone.
    assert book["bins"]["balances"], book["bins"]
    assert book["bins"]["units_in_bins"] > 0
    assert len(r["by_hour"]["orders"]) == 24
    assert sum(r["by_hour"]["orders"]) == day["orders"] == sum(r["by_day"]["orders"])


def test_same_seed_same_kpis(sqlite_engine: Engine, tmp_path: Path) -> None:
    sc = Scenario.from_dict(tiny(orders=24))
    first = simulate(sc, tmp_path / "a", seed=9).results
    second = simulate(sc, tmp_path / "b", seed=9).results
    assert _kpis(first) == _kpis(second)
    other = simulate(sc, tmp_path / "c", seed=10).results
    assert _kpis(other) != _kpis(first)
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "http" not in html.replace("http://www.w3.org", "")


@pytest.mark.parametrize("present", [True, False])
def test_the_platform_serves_the_last_run(tmp_path: Path, present: bool) -> None:
    if present:
        simulate(Scenario.from_dict(tiny(orders=6)), tmp_path, seed=1)
    settings = Settings(database_url=fresh_database(tmp_path / "app.db"), twin_dir=str(tmp_path))
    with TestClient(create_app(settings, run_relay=False)) as client:
        results, report = client.get("/twin/results"), client.get("/twin/report")
    if present:
        assert results.status_code == 200 and results.json()["scenario"] == "tiny"
        assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    else:
        assert results.status_code == report.status_code == 404
        assert results.json()["error"]["code"] == "twin_not_run"


def test_a_hubs_promise_settings_reach_the_promise_engine(engine: Engine) -> None:
    data = tiny(orders=5)
    data["hubs"][0]["promise"] = {"capacity": {"express_2h": 77}}
    sc = Scenario.from_dict(data)
    w = build(engine, sc, datetime(2026, 11, 24, 12, tzinfo=UTC))
    with UnitOfWork(engine, readonly=True) as uow:
        got = get_hub_promise(uow.conn, w.hub_ids[sc.hubs[0].key], PromiseConfig())
        other = get_hub_promise(uow.conn, w.hub_ids[sc.hubs[1].key], PromiseConfig())
    assert got["capacity"]["express_2h"] == 77
    assert got["capacity"]["same_day"] == other["capacity"]["same_day"] == 200  # defaults
    assert other["capacity"]["express_2h"] == 20


def test_a_day_too_big_to_replay_plays_whole_with_every_kth_parcel(tmp_path: Path) -> None:
    simulate(Scenario.from_dict(tiny(orders=24)), tmp_path, seed=3)
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    engine = read_only(tmp_path / "twin.db")
    try:
        with engine.connect() as conn:
            whole = replay_events(conn, start, end)
            limit = math.ceil(len(whole.events) / 3)
            sample = replay_events(conn, start, end, limit=limit)
    finally:
        engine.dispose()
    assert (whole.stride, whole.truncated) == (1, False)
    assert sample.stride == 3
    parcels = sorted({e["shipment_id"] for e in whole.events})
    assert sorted({e["shipment_id"] for e in sample.events}) == parcels[::3]
    # Each parcel shown keeps its whole life, in order, so the sample plays to the day's end.
    kept = set(parcels[::3])
    expected = [e for e in whole.events if e["shipment_id"] in kept]
    assert sample.events == expected[:limit] and not sample.truncated
    assert sample.events[-1]["at"] > whole.events[len(whole.events) * 3 // 4]["at"]
