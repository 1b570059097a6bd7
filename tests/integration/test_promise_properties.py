"""Hypothesis property on a real database (SQLite): every option quoted is feasible
against the stock and capacity at quote time, and an order placed on it in the same
instant succeeds; no option (nor pick-up location) is quoted whose cutoff has passed.

Each example builds a fresh database with a random small network (hubs of every kind
in two time zones, random hours, pick-pack leads, safety stock, slot capacities of 0
to 2 and stock), a random time around the 2026 DST changes and a random cart, quotes
it, then for each option places an order at the quote's instant (it must succeed and
take exactly the lines), checks the capacity it used and cancels it (which must give
back stock and capacity) before trying the next option.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.geo import LatLng
from hubflow.core.idempotency import body_fingerprint
from hubflow.network.model import DAYS
from hubflow.orders import service as orders
from hubflow.orders.model import OrderStatus
from hubflow.promise import service as promise
from hubflow.promise.model import OptionCode, PromiseConfig
from hubflow.promise.store import capacity_slots_table
from tests.builders import all_positions, make_hub, make_merchant, make_product, receive

DEST = LatLng(47.61, -122.33)
HOURS = {
    "always": {d: [["00:00", "24:00"]] for d in DAYS},
    "store": {d: [["07:00", "22:00"]] for d in DAYS},
    "night": {d: [["06:00", "02:00"]] for d in DAYS},
    "weekdays": {d: [["09:00", "17:00"]] for d in DAYS[:5]},
}
ANCHORS = [datetime(2026, 3, 7, 8, tzinfo=UTC), datetime(2026, 10, 31, 7, tzinfo=UTC)]
CONFIG = PromiseConfig()

hub_specs = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["fulfillment_center", "store", "dark_store"]),
        "dx_km": st.floats(-8, 8),
        "dy_km": st.floats(-8, 8),
        "radius": st.sampled_from([6.0, 15.0, 40.0]),
        "hours": st.sampled_from(sorted(HOURS)),
        "tz": st.sampled_from(["America/Los_Angeles", "America/Denver"]),
        "lead": st.sampled_from([0, 20, 45, 90]),
        "safety": st.integers(0, 1),
        "capacity": st.dictionaries(st.sampled_from(list(OptionCode)), st.integers(0, 2)),
        "stock": st.lists(st.sampled_from([0, 1, 3, 6]), min_size=3, max_size=3),
    }
)


@pytest.fixture
def fresh_db(_sqlite_template: Path, tmp_path: Path) -> Any:
    counter = [0]
    engines: list[Engine] = []

    def make() -> Engine:
        counter[0] += 1
        path = tmp_path / f"p{counter[0]}.db"
        shutil.copy(_sqlite_template, path)
        eng = make_engine(f"sqlite:///{path}")
        engines.append(eng)
        return eng

    yield make
    for e in engines:
        e.dispose()


def _build(engine: Engine, specs: list[dict[str, Any]], now: datetime) -> tuple[str, list[str]]:
    m = make_merchant(engine, now)
    products = [make_product(engine, now, m, sku=f"SKU-{i}") for i in range(3)]
    for i, s in enumerate(specs):
        caps = ["ship_from_store", "pick_up_in_store"] if s["kind"] == "store" else []
        hub = make_hub(
            engine,
            now,
            name=f"hub {i}",
            kind=s["kind"],
            lat=DEST.lat + s["dy_km"] / 111.2,
            lng=DEST.lng + s["dx_km"] / 75.0,
            radius_km=s["radius"],
            hours=HOURS[s["hours"]],
            timezone=s["tz"],
            capabilities=caps,
        )
        with UnitOfWork(engine) as uow:
            promise.set_hub_promise(
                uow,
                hub,
                {
                    "pick_pack_minutes": s["lead"],
                    "safety_stock": s["safety"],
                    "capacity": {o.value: n for o, n in s["capacity"].items()},
                },
                now,
                CONFIG,
            )
        for p, qty in zip(products, s["stock"], strict=True):
            if qty:
                receive(engine, now, m, hub, p, qty)
    return m, products


def _used(engine: Engine) -> dict[tuple[str, str, Any], int]:
    cs = capacity_slots_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.conn.execute(select(cs.hub_id, cs.option, cs.slot_start, cs.used)).all()
    return {(r.hub_id, r.option, r.slot_start): r.used for r in rows}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    specs=st.lists(hub_specs, min_size=1, max_size=4),
    anchor=st.sampled_from(ANCHORS),
    minutes=st.integers(0, 3 * 24 * 60),
    cart=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=3),
    member=st.booleans(),
)
def test_quoted_options_are_feasible_and_orderable_at_once(
    fresh_db: Any,
    specs: list[dict[str, Any]],
    anchor: datetime,
    minutes: int,
    cart: list[tuple[int, int]],
    member: bool,
) -> None:
    engine: Engine = fresh_db()
    now = anchor + timedelta(minutes=minutes)
    m, products = _build(engine, specs, now)
    lines = list({products[i]: q for i, q in cart}.items())
    req = promise.QuoteRequest(lines=lines, destination=DEST, member=member)
    quote = promise.create_quote(engine, m, req, now, CONFIG)
    stock_before = all_positions(engine)
    event(f"options quoted: {len(quote['options'])}")
    for u in quote["unavailable"]:
        event(f"unavailable: {u['reason']}")

    for o in quote["options"]:
        assert datetime.fromisoformat(o["cutoff"]) > now, o
        for place in o["pickup_locations"] or []:
            assert datetime.fromisoformat(place["cutoff"]) > now, place
        used_before = _used(engine)
        order_req = orders.OrderRequest(
            lines=lines,
            destination=DEST,
            address={"line1": "x"},
            quote_id=quote["id"],
            option=OptionCode(o["code"]),
        )
        key = f"{quote['id']}-{o['code']}"
        placed = orders.place_order(
            engine, m, m, key, body_fingerprint("POST", "/v1/orders", key), order_req, now
        )
        assert placed.status_code == 201
        body = placed.body
        got: dict[str, int] = defaultdict(int)
        for a in body["allocations"]:
            got[a["product_id"]] += a["quantity"]
        assert dict(got) == dict(lines)
        assert body["promise"]["window"] == o["window"]
        hubs = {a["hub_id"] for a in body["allocations"]}
        if o["code"] == "pickup_in_store":
            assert hubs == {o["pickup_locations"][0]["hub_id"]}
        used_after = _used(engine)
        grown = {k for k, v in used_after.items() if v > used_before.get(k, 0)}
        assert {k[0] for k in grown} == hubs  # one slot unit per hub of the order
        assert all(k[1] == o["code"] for k in grown)
        with UnitOfWork(engine) as uow:
            orders.transition(uow, m, body["id"], OrderStatus.CANCELLED, now)
        assert _used(engine) == {**used_before, **{k: 0 for k in grown if k not in used_before}}
        assert all_positions(engine) == stock_before
