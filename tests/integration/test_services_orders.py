"""Order placement, idempotency, splits, shortfalls and holds through the order
service, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import (
    Conflict,
    IdempotencyConflict,
    IllegalTransition,
    InsufficientStock,
    InvalidInput,
    NotFound,
)
from hubflow.core.events import events_table
from hubflow.core.geo import LatLng
from hubflow.core.idempotency import body_fingerprint, idempotency_table
from hubflow.inventory import service as inventory
from hubflow.inventory.model import Position
from hubflow.inventory.store import movements_table, reservations_table
from hubflow.orders import service as orders
from hubflow.orders.model import OrderStatus
from hubflow.orders.service import OrderRequest, Placed
from hubflow.orders.store import order_lines_table, orders_table, shipments_table
from tests.builders import (
    NEVER_OPEN,
    all_positions,
    count,
    ledger_sums,
    make_hub,
    make_merchant,
    make_product,
    order_request,
    position,
    receive,
)


@dataclass
class World:
    engine: Engine
    clock: ManualClock
    merchant: str
    near: str  # ~19 km from the destination
    far: str  # ~40 km
    p1: str
    p2: str

    def receive(self, hub: str, product: str, qty: int) -> None:
        receive(self.engine, self.clock.now(), self.merchant, hub, product, qty)

    def place(self, req: OrderRequest, key: str = "key-1", merchant: str | None = None) -> Placed:
        fp = body_fingerprint("POST", "/v1/orders", _body(req))
        m = merchant or self.merchant
        return orders.place_order(self.engine, m, m, key, fp, req, self.clock.now())

    def hold(self, req: OrderRequest, ttl: timedelta = timedelta(minutes=15)) -> dict[str, Any]:
        return orders.create_hold(self.engine, self.merchant, req, ttl, self.clock.now())

    def snapshot(self) -> dict[str, Any]:
        """Everything an order attempt could write."""
        return {
            "orders": count(self.engine, orders_table),
            "lines": count(self.engine, order_lines_table),
            "shipments": count(self.engine, shipments_table),
            "reservations": count(self.engine, reservations_table),
            "movements": count(self.engine, movements_table),
            "events": count(self.engine, events_table),
            "keys": count(self.engine, idempotency_table),
            "stock": all_positions(self.engine),
        }


def _body(req: OrderRequest) -> dict[str, Any]:
    return {
        "lines": [{"product_id": p, "quantity": q} for p, q in req.lines],
        "address": req.address,
        "hold_id": req.hold_id,
    }


@pytest.fixture
def w(engine: Engine, clock: ManualClock) -> World:
    now = clock.now()
    merchant = make_merchant(engine, now)
    return World(
        engine,
        clock,
        merchant,
        make_hub(engine, now, name="Near", lat=47.45, lng=-122.25),
        make_hub(engine, now, name="Far", lat=47.25, lng=-122.44, radius_km=100),
        make_product(engine, now, merchant, "P1"),
        make_product(engine, now, merchant, "P2"),
    )


def _order_events(engine: Engine, order_id: str) -> list[str]:
    e = events_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        return list(
            uow.conn.execute(
                select(e.type).where(e.subject_id == order_id).order_by(e.id)
            ).scalars()
        )


# -- placing ----------------------------------------------------------------------------------


def test_place_order_reserves_and_records(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    w.receive(w.near, w.p2, 5)
    placed = w.place(order_request([(w.p1, 2), (w.p2, 1)], external_ref="web-42"))
    assert placed.status_code == 201
    assert not placed.replayed
    body = placed.body
    assert body["status"] == "allocated"
    assert body["merchant_id"] == w.merchant
    assert body["external_ref"] == "web-42"
    assert body["split"] is False
    assert body["lines"] == [
        {"product_id": w.p1, "quantity": 2},
        {"product_id": w.p2, "quantity": 1},
    ]
    assert {(a["hub_id"], a["product_id"], a["quantity"]) for a in body["allocations"]} == {
        (w.near, w.p1, 2),
        (w.near, w.p2, 1),
    }
    assert [s["hub_id"] for s in body["shipments"]] == [w.near]
    assert position(w.engine, w.near, w.p1) == Position(5, 2)
    assert position(w.engine, w.near, w.p2) == Position(5, 1)
    assert _order_events(w.engine, body["id"]) == ["order.accepted", "order.allocated"]
    # What was returned is what is stored.
    with UnitOfWork(w.engine, readonly=True) as uow:
        stored = orders.get_order(uow.conn, w.merchant, body["id"])
        assert stored["lines"] == body["lines"]
        assert stored["allocations"] == body["allocations"]
        assert stored["shipments"] == body["shipments"]
        assert stored["status"] == body["status"]
        assert stored["created_at"] == body["created_at"]


def test_same_key_and_body_replays_the_same_response(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    req = order_request([(w.p1, 2)])
    first = w.place(req, key="abc")
    second = w.place(req, key="abc")
    assert second.replayed
    assert second.status_code == first.status_code == 201
    assert second.body == first.body
    assert count(w.engine, orders_table) == 1
    assert position(w.engine, w.near, w.p1) == Position(5, 2)  # reserved once
    assert _order_events(w.engine, first.body["id"]) == ["order.accepted", "order.allocated"]


def test_same_key_other_body_is_a_conflict(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    w.place(order_request([(w.p1, 2)]), key="abc")
    before = w.snapshot()
    with pytest.raises(IdempotencyConflict) as info:
        w.place(order_request([(w.p1, 3)]), key="abc")
    assert info.value.code == "idempotency_key_reused"
    assert info.value.status_code == 409
    assert w.snapshot() == before


def test_idempotency_keys_are_per_merchant(w: World) -> None:
    other = make_merchant(w.engine, w.clock.now(), "Other")
    op = make_product(w.engine, w.clock.now(), other, "P1")
    receive(w.engine, w.clock.now(), other, w.near, op, 5)
    w.receive(w.near, w.p1, 5)
    mine = w.place(order_request([(w.p1, 1)]), key="same")
    theirs = w.place(order_request([(op, 1)]), key="same", merchant=other)
    assert not theirs.replayed
    assert theirs.body["id"] != mine.body["id"]
    assert theirs.body["merchant_id"] == other


def test_order_split_across_hubs(w: World) -> None:
    w.receive(w.near, w.p1, 3)
    w.receive(w.far, w.p2, 3)
    body = w.place(order_request([(w.p1, 3), (w.p2, 2)])).body
    assert body["split"] is True
    assert {s["hub_id"] for s in body["shipments"]} == {w.near, w.far}
    assert {(a["hub_id"], a["product_id"], a["quantity"]) for a in body["allocations"]} == {
        (w.near, w.p1, 3),
        (w.far, w.p2, 2),
    }
    assert position(w.engine, w.near, w.p1) == Position(3, 3)
    assert position(w.engine, w.far, w.p2) == Position(3, 2)


def test_one_line_split_when_no_hub_has_enough(w: World) -> None:
    w.receive(w.near, w.p1, 2)
    w.receive(w.far, w.p1, 2)
    body = w.place(order_request([(w.p1, 3)])).body
    assert {(a["hub_id"], a["quantity"]) for a in body["allocations"]} == {(w.near, 2), (w.far, 1)}


def test_single_hub_preferred_even_if_farther(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    w.receive(w.far, w.p1, 5)
    w.receive(w.far, w.p2, 5)
    body = w.place(order_request([(w.p1, 1), (w.p2, 1)])).body
    assert body["split"] is False
    assert [s["hub_id"] for s in body["shipments"]] == [w.far]


def test_open_hub_preferred_over_nearer_closed_hub(
    engine: Engine, clock: ManualClock, w: World
) -> None:
    closed = make_hub(engine, clock.now(), name="Closed", lat=47.60, lng=-122.33, hours=NEVER_OPEN)
    w.receive(closed, w.p1, 5)
    w.receive(w.far, w.p1, 5)
    body = w.place(order_request([(w.p1, 1)])).body
    assert [s["hub_id"] for s in body["shipments"]] == [w.far]
    # With no open hub holding it, the closed hub is the fallback.
    body = w.place(order_request([(w.p1, 5)]), key="second").body
    assert [s["hub_id"] for s in body["shipments"]] == [closed]


def test_insufficient_stock_writes_nothing(w: World) -> None:
    w.receive(w.near, w.p1, 2)
    w.receive(w.far, w.p1, 1)
    w.receive(w.near, w.p2, 9)
    before = w.snapshot()
    with pytest.raises(InsufficientStock) as info:
        w.place(order_request([(w.p1, 4), (w.p2, 9)]), key="k")
    err = info.value
    assert err.code == "insufficient_stock"
    assert err.status_code == 409
    assert err.details == {"short_lines": [{"product_id": w.p1, "requested": 4, "available": 3}]}
    assert w.snapshot() == before  # no order, no reservation, no event, no key, same stock

    # The key was not burnt: once stock arrives, the same request goes through.
    w.receive(w.far, w.p1, 1)
    placed = w.place(order_request([(w.p1, 4), (w.p2, 9)]), key="k")
    assert placed.status_code == 201 and not placed.replayed


def test_products_with_no_stock_at_all_are_short(w: World) -> None:
    with pytest.raises(InsufficientStock) as info:
        w.place(order_request([(w.p2, 1), (w.p1, 2)]))
    expected = {
        w.p1: {"product_id": w.p1, "requested": 2, "available": 0},
        w.p2: {"product_id": w.p2, "requested": 1, "available": 0},
    }
    assert info.value.details["short_lines"] == [expected[p] for p in sorted(expected)]


def test_stock_outside_the_service_radius_does_not_count(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    w.receive(w.far, w.p1, 1)
    # ~97 km from Near (radius 80 km), ~72 km from Far (radius 100 km).
    req = order_request([(w.p1, 3)], dest=LatLng(46.6, -122.5))
    with pytest.raises(InsufficientStock) as info:
        w.place(req)
    assert info.value.details["short_lines"] == [
        {"product_id": w.p1, "requested": 3, "available": 1}
    ]
    body = w.place(order_request([(w.p1, 1)], dest=LatLng(46.6, -122.5)), key="k2").body
    assert [s["hub_id"] for s in body["shipments"]] == [w.far]


def test_address_no_hub_serves(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    before = w.snapshot()
    with pytest.raises(InvalidInput) as info:
        w.place(order_request([(w.p1, 1)], dest=LatLng(40.71, -74.0)))  # New York
    assert info.value.code == "outside_service_area"
    assert w.snapshot() == before


def test_unknown_or_foreign_product_is_invalid(w: World) -> None:
    other = make_merchant(w.engine, w.clock.now(), "Other")
    foreign = make_product(w.engine, w.clock.now(), other, "X")
    receive(w.engine, w.clock.now(), other, w.near, foreign, 5)
    before = w.snapshot()
    with pytest.raises(InvalidInput) as info:
        w.place(order_request([(foreign, 1)]))
    assert info.value.code == "unknown_product"
    assert info.value.details == {"product_ids": [foreign]}
    assert w.snapshot() == before


def test_duplicate_lines_are_invalid(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    with pytest.raises(InvalidInput) as info:
        w.place(order_request([(w.p1, 1), (w.p1, 2)]))
    assert info.value.code == "duplicate_line"
    assert count(w.engine, orders_table) == 0


# -- holds ------------------------------------------------------------------------------------


def test_hold_then_order_consumes_the_hold(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    hold = w.hold(order_request([(w.p1, 2)]))
    assert hold["status"] == "active"
    assert hold["expires_at"] is not None
    assert hold["allocations"] == [{"hub_id": w.near, "product_id": w.p1, "quantity": 2}]
    assert position(w.engine, w.near, w.p1) == Position(5, 2)

    placed = w.place(order_request([(w.p1, 2)], hold_id=hold["id"]))
    order_id = placed.body["id"]
    assert placed.body["allocations"] == [
        {"hub_id": w.near, "product_id": w.p1, "quantity": 2, "status": "active"}
    ]
    assert position(w.engine, w.near, w.p1) == Position(5, 2)  # not reserved twice
    r = reservations_table.c
    with UnitOfWork(w.engine, readonly=True) as uow:
        rows = uow.conn.execute(select(r.owner_id, r.expires_at)).all()
    assert [tuple(x) for x in rows] == [(order_id, None)]

    # The order's units no longer expire with the hold.
    w.clock.advance(timedelta(hours=2))
    with UnitOfWork(w.engine) as uow:
        assert inventory.expire_due(uow, w.clock.now()) == []
    assert position(w.engine, w.near, w.p1) == Position(5, 2)

    # A hold is used once.
    with pytest.raises(Conflict) as info:
        w.place(order_request([(w.p1, 2)], hold_id=hold["id"]), key="again")
    assert info.value.code == "hold_unavailable"


def test_expired_hold_cannot_be_ordered(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    hold = w.hold(order_request([(w.p1, 3)]), ttl=timedelta(minutes=10))
    w.clock.advance(timedelta(minutes=10))
    with UnitOfWork(w.engine) as uow:
        expired = inventory.expire_due(uow, w.clock.now())
    assert [(e.owner_id, e.quantity) for e in expired] == [(hold["id"], 3)]
    assert position(w.engine, w.near, w.p1) == Position(5, 0)
    with UnitOfWork(w.engine, readonly=True) as uow:
        assert orders.get_hold(uow.conn, w.merchant, hold["id"])["status"] == "expired"

    before = w.snapshot()
    with pytest.raises(Conflict) as info:
        w.place(order_request([(w.p1, 3)], hold_id=hold["id"]))
    assert info.value.code == "hold_unavailable"
    assert w.snapshot() == before


def test_hold_past_expiry_is_unavailable_even_before_the_sweep(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    hold = w.hold(order_request([(w.p1, 1)]), ttl=timedelta(minutes=10))
    w.clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(Conflict) as info:
        w.place(order_request([(w.p1, 1)], hold_id=hold["id"]))
    assert info.value.code == "hold_unavailable"
    assert count(w.engine, orders_table) == 0


def test_order_lines_must_match_the_hold(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    hold = w.hold(order_request([(w.p1, 2)]))
    before = w.snapshot()
    with pytest.raises(Conflict) as info:
        w.place(order_request([(w.p1, 3)], hold_id=hold["id"]))
    assert info.value.code == "hold_mismatch"
    assert w.snapshot() == before
    # The hold survives the refused attempt and can still be used.
    assert w.place(order_request([(w.p1, 2)], hold_id=hold["id"]), key="k2").status_code == 201


def test_hold_with_insufficient_stock_writes_nothing(w: World) -> None:
    w.receive(w.near, w.p1, 1)
    before = w.snapshot()
    with pytest.raises(InsufficientStock):
        w.hold(order_request([(w.p1, 2)]))
    assert w.snapshot() == before


def test_release_hold(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    hold = w.hold(order_request([(w.p1, 4)]))
    with UnitOfWork(w.engine) as uow:
        orders.release_hold(uow, w.merchant, hold["id"], w.clock.now())
    assert position(w.engine, w.near, w.p1) == Position(5, 0)
    with pytest.raises(Conflict) as info, UnitOfWork(w.engine) as uow:
        orders.release_hold(uow, w.merchant, hold["id"], w.clock.now())
    assert info.value.code == "hold_unavailable"


# -- transitions ------------------------------------------------------------------------------


def test_cancel_releases_and_dispatch_ships(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    w.receive(w.far, w.p2, 5)
    a = w.place(order_request([(w.p1, 2), (w.p2, 1)]), key="a").body["id"]
    b = w.place(order_request([(w.p1, 1)]), key="b").body["id"]
    now = w.clock.now()
    with UnitOfWork(w.engine) as uow:
        out = orders.transition(uow, w.merchant, a, OrderStatus.CANCELLED, now, reason="changed")
    assert out["status"] == "cancelled"
    assert {x["status"] for x in out["allocations"]} == {"released"}
    assert position(w.engine, w.near, w.p1) == Position(5, 1)
    assert position(w.engine, w.far, w.p2) == Position(5, 0)

    for target in (OrderStatus.PICKING, OrderStatus.PACKED, OrderStatus.OUT_FOR_DELIVERY):
        with UnitOfWork(w.engine) as uow:
            out = orders.transition(uow, w.merchant, b, target, now)
    assert {x["status"] for x in out["allocations"]} == {"shipped"}
    assert position(w.engine, w.near, w.p1) == Position(4, 0)
    with pytest.raises(IllegalTransition), UnitOfWork(w.engine) as uow:
        orders.transition(uow, w.merchant, b, OrderStatus.CANCELLED, now)
    assert position(w.engine, w.near, w.p1) == Position(4, 0)
    assert ledger_sums(w.engine) == all_positions(w.engine)
    assert _order_events(w.engine, a) == ["order.accepted", "order.allocated", "order.cancelled"]


def test_transition_is_merchant_scoped(w: World) -> None:
    w.receive(w.near, w.p1, 5)
    a = w.place(order_request([(w.p1, 2)])).body["id"]
    other = make_merchant(w.engine, w.clock.now(), "Other")
    with pytest.raises(NotFound), UnitOfWork(w.engine) as uow:
        orders.transition(uow, other, a, OrderStatus.CANCELLED, w.clock.now())
    assert position(w.engine, w.near, w.p1) == Position(5, 2)
