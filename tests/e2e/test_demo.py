"""``hubflow demo`` end to end: the real server, real HTTP, real webhooks, a small run."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path

import pytest

from hubflow.sim.catalog import MERCHANTS, ProductSpec, generate_catalog
from hubflow.sim.demo import OrderPlan, StockPlan, plan_orders, plan_stock, run_demo
from hubflow.sim.metro import METRO
from hubflow.web.model import verify_password


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_demo_places_orders_through_the_api(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    rc = run_demo(
        n_orders=40, port=_free_port(), db_path=str(db), seed=1, serve=False,
        password="demo-secret-1",
    )  # fmt: skip
    # How long the demo takes is measured by hand (README), not asserted here.
    assert rc == 0

    catalog = generate_catalog(1)
    stock = plan_stock(METRO, catalog, 40, 1)
    orders = plan_orders(METRO, catalog, stock, 40, 1)
    with sqlite3.connect(db) as conn:
        q = conn.execute
        assert q("SELECT COUNT(*) FROM hubs").fetchone()[0] == len(METRO.hubs)
        assert q("SELECT COUNT(*) FROM merchants").fetchone()[0] == len(MERCHANTS)
        assert q("SELECT COUNT(*) FROM products").fetchone()[0] == sum(map(len, catalog.values()))
        assert q("SELECT COUNT(*) FROM stock").fetchone()[0] == len(stock)
        placed = {r[0] for r in q("SELECT external_ref FROM orders")}
        # Every order either went through or was refused; the bulk ones must be refused.
        assert 0 < len(placed) < len(orders)
        bulk = {f"demo-{o.index + 1:05d}" for o in orders if o.oversized}
        assert bulk and not bulk & placed
        # Each placed order has its lines, a shipment per sourcing hub and live reservations.
        unshipped = "SELECT COUNT(*) FROM orders o WHERE NOT EXISTS " + (
            "(SELECT 1 FROM shipments s WHERE s.order_id = o.id)"
        )
        assert q(unshipped).fetchone()[0] == 0
        assert q("SELECT COUNT(DISTINCT order_id) FROM order_lines").fetchone()[0] == len(placed)
        # Nothing oversold, and the reserved column matches the active reservations.
        assert q("SELECT COUNT(*) FROM stock WHERE reserved > on_hand").fetchone()[0] == 0
        reserved = q("SELECT COALESCE(SUM(reserved), 0) FROM stock").fetchone()[0]
        active = q(
            "SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE status = 'active'"
        ).fetchone()[0]
        assert reserved == active > 0
        # Webhooks went out and were all delivered (the demo checks their signatures).
        assert q("SELECT COUNT(*) FROM webhook_endpoints").fetchone()[0] == len(MERCHANTS)
        delivered = q(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'"
        ).fetchone()[0]
        assert delivered >= 2 * len(placed)
        # The last mile: every parcel packed and planned in one epoch, one delivered.
        assert q("SELECT COUNT(*) FROM dispatch_runs").fetchone()[0] == 1
        assert q("SELECT COUNT(*) FROM shipments WHERE packed_at IS NULL").fetchone()[0] == 0
        on_a_route = q("SELECT COUNT(*) FROM route_stops WHERE status != 'skipped'").fetchone()[0]
        assert on_a_route > 0
        assert q("SELECT COUNT(*) FROM shipments WHERE status = 'delivered'").fetchone()[0] == 1
        assert q("SELECT COUNT(*) FROM tracking_events WHERE kind = 'delivered'").fetchone()[0] == 1
        # A newcomer can log in to the pages: an operator, and the first merchant's staff.
        logins = q("SELECT email, role, merchant_id, password_hash FROM users ORDER BY role DESC")
        (op, op_role, _, op_hash), (shop, shop_role, mid, shop_hash) = logins.fetchall()
        assert (op, op_role, shop, shop_role) == (
            "ops@example.com", "operator", "shop@example.com", "merchant")  # fmt: skip
        shop_of = q("SELECT name FROM merchants WHERE id = ?", (mid,)).fetchone()[0]
        assert shop_of == MERCHANTS[0].name
        assert all(verify_password("demo-secret-1", h) for h in (op_hash, shop_hash))


def test_demo_plan_is_deterministic_for_a_seed() -> None:
    def plan(seed: int) -> tuple[dict[str, list[ProductSpec]], list[StockPlan], list[OrderPlan]]:
        catalog = generate_catalog(seed)
        stock = plan_stock(METRO, catalog, 120, seed)
        return catalog, stock, plan_orders(METRO, catalog, stock, 120, seed)

    assert plan(3) == plan(3)
    assert plan(3) != plan(4)
    catalog, _, orders = plan(3)
    products = [p for ps in catalog.values() for p in ps]
    assert 200 <= len(products) <= 400
    assert any(p.hazmat for p in products)
    assert {p.temperature.value for p in products} == {"ambient", "chilled", "frozen"}
    assert len({(p.sku) for p in products}) == len(products)
    assert all(1 <= len(o.lines) <= 4 for o in orders)


@pytest.mark.slow
def test_demo_runs_a_twin_day_first(tmp_path: Path) -> None:
    """``hubflow demo`` (twin on): a short simulated day is written where the server
    serves it from, then the HTTP demo runs as before."""
    twin = tmp_path / "twin"
    rc = run_demo(
        n_orders=20,
        port=_free_port(),
        db_path=str(tmp_path / "demo.db"),
        seed=2,
        serve=False,
        twin_dir=str(twin),
        twin_sets=("demand.orders_per_day=60", "delivery.planner_iterations=20"),
    )
    assert rc == 0
    results = json.loads((twin / "results.json").read_text(encoding="utf-8"))
    assert results["day"]["orders"] > 20
    assert results["day"]["ledgers"]["stock_balances"]
    assert (twin / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
