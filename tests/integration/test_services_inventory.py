"""Inventory service on SQLite and PostgreSQL: receipts, adjustments, reservations,
release, shipping and expiry, with their error cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import events_table
from hubflow.inventory import service as inventory
from hubflow.inventory.model import AdjustmentReason, Position, StockRequest
from hubflow.inventory.store import movements_table, reservations_table, stock_table
from tests.builders import (
    all_positions,
    count,
    ledger_sums,
    make_hub,
    make_merchant,
    make_product,
    position,
    receive,
)

R = AdjustmentReason


@dataclass
class World:
    engine: Engine
    clock: ManualClock
    merchant: str
    hub: str
    hub2: str
    p1: str
    p2: str

    def receive(self, hub: str, product: str, qty: int) -> Position:
        return receive(self.engine, self.clock.now(), self.merchant, hub, product, qty)

    def adjust(self, hub: str, product: str, delta: int, merchant: str | None = None) -> Position:
        with UnitOfWork(self.engine) as uow:
            return inventory.adjust(
                uow, merchant or self.merchant, hub, product, delta, R.CYCLE_COUNT, self.clock.now()
            )

    def reserve(self, owner: str, reqs: list[StockRequest], ttl: timedelta | None = None) -> None:
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            inventory.reserve(
                uow, self.merchant, owner, reqs, now, expires_at=now + ttl if ttl else None
            )

    def pos(self, hub: str, product: str) -> Position:
        return position(self.engine, hub, product)

    def check_ledger(self) -> None:
        stock = all_positions(self.engine)
        assert ledger_sums(self.engine) == stock
        assert all(0 <= p.reserved <= p.on_hand for p in stock.values())


@pytest.fixture
def w(engine: Engine, clock: ManualClock) -> World:
    now = clock.now()
    merchant = make_merchant(engine, now)
    return World(
        engine,
        clock,
        merchant,
        make_hub(engine, now, name="A"),
        make_hub(engine, now, name="B"),
        make_product(engine, now, merchant, "P1"),
        make_product(engine, now, merchant, "P2"),
    )


# -- receive ------------------------------------------------------------------------------


def test_receive_creates_then_adds(w: World) -> None:
    assert w.receive(w.hub, w.p1, 5) == Position(5, 0)
    assert w.receive(w.hub, w.p1, 7) == Position(12, 0)
    assert w.pos(w.hub, w.p1) == Position(12, 0)
    assert w.pos(w.hub2, w.p1) == Position()
    m = movements_table.c
    assert count(w.engine, movements_table, m.kind == "receipt") == 2
    e = events_table.c
    with UnitOfWork(w.engine, readonly=True) as uow:
        payloads = list(
            uow.conn.execute(
                select(e.payload).where(e.type == "stock.received").order_by(e.id)
            ).scalars()
        )
    assert [(p["delta"], p["on_hand"], p["reserved"]) for p in payloads] == [(5, 5, 0), (7, 12, 0)]
    w.check_ledger()


@pytest.mark.parametrize("qty", [0, -3])
def test_receive_needs_a_positive_quantity(w: World, qty: int) -> None:
    with pytest.raises(InvalidInput) as info:
        w.receive(w.hub, w.p1, qty)
    assert info.value.code == "invalid_quantity"
    assert count(w.engine, stock_table) == 0
    assert count(w.engine, movements_table) == 0


def test_receive_overflow_is_refused_and_writes_nothing(w: World) -> None:
    w.receive(w.hub, w.p1, inventory.MAX_UNITS - 1)
    with pytest.raises(Conflict) as info:
        w.receive(w.hub, w.p1, 2)
    assert info.value.code == "stock_overflow"
    assert w.pos(w.hub, w.p1) == Position(inventory.MAX_UNITS - 1, 0)
    assert count(w.engine, movements_table) == 1
    w.receive(w.hub, w.p1, 1)  # exactly the maximum is fine
    assert w.pos(w.hub, w.p1).on_hand == inventory.MAX_UNITS


# -- adjust -------------------------------------------------------------------------------


def test_adjust_up_and_down(w: World) -> None:
    w.receive(w.hub, w.p1, 10)
    assert w.adjust(w.hub, w.p1, -3) == Position(7, 0)
    assert w.adjust(w.hub, w.p1, 2) == Position(9, 0)
    assert w.adjust(w.hub, w.p1, -9) == Position(0, 0)
    m = movements_table.c
    with UnitOfWork(w.engine, readonly=True) as uow:
        rows = uow.conn.execute(
            select(m.kind, m.on_hand_delta, m.reason).where(m.kind == "adjustment").order_by(m.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("adjustment", -3, "cycle_count"),
        ("adjustment", 2, "cycle_count"),
        ("adjustment", -9, "cycle_count"),
    ]
    w.check_ledger()


def test_adjust_below_reserved_is_a_conflict(w: World) -> None:
    w.receive(w.hub, w.p1, 10)
    w.reserve("ord_a", [StockRequest(w.hub, w.p1, 6)])
    assert w.adjust(w.hub, w.p1, -4) == Position(6, 6)  # down to exactly reserved: fine
    with pytest.raises(Conflict) as info:
        w.adjust(w.hub, w.p1, -1)
    assert info.value.code == "adjustment_below_reserved"
    assert info.value.details == {"on_hand": 6, "reserved": 6, "delta": -1}
    assert w.pos(w.hub, w.p1) == Position(6, 6)
    w.check_ledger()


def test_adjust_never_goes_negative(w: World) -> None:
    w.receive(w.hub, w.p1, 3)
    with pytest.raises(Conflict) as info:
        w.adjust(w.hub, w.p1, -4)
    assert info.value.code == "adjustment_below_reserved"
    assert w.pos(w.hub, w.p1) == Position(3, 0)


@pytest.mark.parametrize("delta", [-1, 1])
def test_adjust_without_stock_is_not_found(w: World, delta: int) -> None:
    with pytest.raises(NotFound) as info:
        w.adjust(w.hub, w.p1, delta)
    assert info.value.code == "stock_not_found"
    assert count(w.engine, stock_table) == 0
    assert count(w.engine, movements_table) == 0


def test_adjust_zero_is_invalid(w: World) -> None:
    w.receive(w.hub, w.p1, 3)
    with pytest.raises(InvalidInput) as info:
        w.adjust(w.hub, w.p1, 0)
    assert info.value.code == "invalid_quantity"


def test_adjust_overflow_is_its_own_conflict(w: World) -> None:
    w.receive(w.hub, w.p1, inventory.MAX_UNITS)
    with pytest.raises(Conflict) as info:
        w.adjust(w.hub, w.p1, 1)
    assert info.value.code == "stock_overflow"


def test_adjust_another_merchants_stock_reveals_nothing(w: World) -> None:
    w.receive(w.hub, w.p1, 10)
    w.reserve("ord_a", [StockRequest(w.hub, w.p1, 4)])
    other = make_merchant(w.engine, w.clock.now(), "Other")
    for delta in (-100, -1, 1):
        with pytest.raises(NotFound) as info:
            w.adjust(w.hub, w.p1, delta, merchant=other)
        assert info.value.details is None  # not the other tenant's on_hand / reserved
    assert w.pos(w.hub, w.p1) == Position(10, 4)


# -- reserve / release / ship ---------------------------------------------------------------


def test_reserve_takes_every_request_or_nothing(w: World) -> None:
    w.receive(w.hub, w.p1, 5)
    w.receive(w.hub2, w.p2, 2)
    with pytest.raises(inventory.ReservationRace) as info:
        w.reserve("ord_a", [StockRequest(w.hub, w.p1, 5), StockRequest(w.hub2, w.p2, 3)])
    assert info.value.failed == [StockRequest(w.hub2, w.p2, 3)]
    assert w.pos(w.hub, w.p1) == Position(5, 0)  # the first update was rolled back
    assert count(w.engine, reservations_table) == 0
    assert count(w.engine, movements_table, movements_table.c.kind == "reserve") == 0

    w.reserve("ord_a", [StockRequest(w.hub2, w.p2, 2), StockRequest(w.hub, w.p1, 5)])
    assert w.pos(w.hub, w.p1) == Position(5, 5)
    assert w.pos(w.hub2, w.p2) == Position(2, 2)
    r = reservations_table.c
    with UnitOfWork(w.engine, readonly=True) as uow:
        rows = uow.conn.execute(
            select(r.owner_id, r.hub_id, r.product_id, r.quantity, r.status, r.expires_at)
        ).all()
    assert sorted(tuple(x) for x in rows) == sorted(
        [
            ("ord_a", w.hub, w.p1, 5, "active", None),
            ("ord_a", w.hub2, w.p2, 2, "active", None),
        ]
    )
    w.check_ledger()


def test_reserve_without_a_position_is_a_race(w: World) -> None:
    with pytest.raises(inventory.ReservationRace):
        w.reserve("ord_a", [StockRequest(w.hub, w.p1, 1)])
    assert count(w.engine, stock_table) == 0


def test_reserve_only_the_merchants_own_stock(w: World) -> None:
    w.receive(w.hub, w.p1, 5)
    other = make_merchant(w.engine, w.clock.now(), "Other")
    with pytest.raises(inventory.ReservationRace), UnitOfWork(w.engine) as uow:
        inventory.reserve(uow, other, "ord_x", [StockRequest(w.hub, w.p1, 1)], w.clock.now())
    assert w.pos(w.hub, w.p1) == Position(5, 0)


def test_available_by_hub_is_merchant_scoped_and_skips_empty(w: World) -> None:
    w.receive(w.hub, w.p1, 5)
    w.receive(w.hub2, w.p1, 2)
    w.receive(w.hub2, w.p2, 3)
    w.reserve("ord_a", [StockRequest(w.hub2, w.p1, 2), StockRequest(w.hub, w.p1, 1)])
    with UnitOfWork(w.engine, readonly=True) as uow:
        got = inventory.available_by_hub(uow.conn, w.merchant, [w.p1, w.p2, w.p1])
        other = inventory.available_by_hub(uow.conn, "mer_nobody", [w.p1, w.p2])
    assert got == {w.hub: {w.p1: 4}, w.hub2: {w.p2: 3}}
    assert other == {}


def test_release_returns_units_exactly_once(w: World) -> None:
    w.receive(w.hub, w.p1, 5)
    w.receive(w.hub2, w.p2, 5)
    w.reserve("ord_a", [StockRequest(w.hub, w.p1, 2), StockRequest(w.hub2, w.p2, 3)])
    w.reserve("ord_b", [StockRequest(w.hub, w.p1, 1)])
    with UnitOfWork(w.engine) as uow:
        released = inventory.release_owner(uow, "ord_a", w.clock.now())
    assert sorted((r.hub_id, r.product_id, r.quantity, r.owner_id) for r in released) == sorted(
        [(w.hub, w.p1, 2, "ord_a"), (w.hub2, w.p2, 3, "ord_a")]
    )
    assert w.pos(w.hub, w.p1) == Position(5, 1)
    assert w.pos(w.hub2, w.p2) == Position(5, 0)
    with UnitOfWork(w.engine) as uow:
        assert inventory.release_owner(uow, "ord_a", w.clock.now()) == []
        assert inventory.ship_owner(uow, "ord_a", w.clock.now()) == []
    assert w.pos(w.hub, w.p1) == Position(5, 1)
    r = reservations_table.c
    assert count(w.engine, reservations_table, r.status == "released") == 2
    w.check_ledger()


def test_ship_consumes_on_hand_and_reserved(w: World) -> None:
    w.receive(w.hub, w.p1, 5)
    w.receive(w.hub2, w.p1, 5)
    w.reserve("ord_a", [StockRequest(w.hub, w.p1, 2), StockRequest(w.hub2, w.p1, 3)])
    with UnitOfWork(w.engine) as uow:
        shipped = inventory.ship_owner(uow, "ord_a", w.clock.now(), hub_id=w.hub)
    assert [(s.hub_id, s.quantity) for s in shipped] == [(w.hub, 2)]
    assert w.pos(w.hub, w.p1) == Position(3, 0)
    assert w.pos(w.hub2, w.p1) == Position(5, 3)  # the other hub's share is untouched
    with UnitOfWork(w.engine) as uow:
        shipped = inventory.ship_owner(uow, "ord_a", w.clock.now())
    assert [(s.hub_id, s.quantity) for s in shipped] == [(w.hub2, 3)]
    assert w.pos(w.hub2, w.p1) == Position(2, 0)
    # Shipped goods cannot be released back.
    with UnitOfWork(w.engine) as uow:
        assert inventory.release_owner(uow, "ord_a", w.clock.now()) == []
    assert w.pos(w.hub2, w.p1) == Position(2, 0)
    w.check_ledger()


def test_expire_due_releases_only_expired_holds(w: World) -> None:
    w.receive(w.hub, w.p1, 10)
    w.reserve("hold_short", [StockRequest(w.hub, w.p1, 2)], ttl=timedelta(minutes=5))
    w.reserve("hold_long", [StockRequest(w.hub, w.p1, 3)], ttl=timedelta(minutes=30))
    w.reserve("ord_firm", [StockRequest(w.hub, w.p1, 4)])
    assert w.pos(w.hub, w.p1) == Position(10, 9)

    w.clock.advance(timedelta(minutes=4, seconds=59))
    with UnitOfWork(w.engine) as uow:
        assert inventory.expire_due(uow, w.clock.now()) == []

    w.clock.advance(timedelta(seconds=1))  # exactly at expiry
    with UnitOfWork(w.engine) as uow:
        expired = inventory.expire_due(uow, w.clock.now())
    assert [(e.owner_id, e.quantity) for e in expired] == [("hold_short", 2)]
    assert w.pos(w.hub, w.p1) == Position(10, 7)

    w.clock.advance(timedelta(days=30))
    with UnitOfWork(w.engine) as uow:
        expired = inventory.expire_due(uow, w.clock.now())
        assert inventory.expire_due(uow, w.clock.now()) == []  # once only
    assert [(e.owner_id, e.quantity) for e in expired] == [("hold_long", 3)]
    assert w.pos(w.hub, w.p1) == Position(10, 4)  # the order's reservation never expires
    r = reservations_table.c
    assert count(w.engine, reservations_table, r.status == "expired") == 2
    w.check_ledger()


def test_transfer_owner_hands_a_live_hold_to_an_order(w: World) -> None:
    w.receive(w.hub, w.p1, 10)
    w.reserve("hold_a", [StockRequest(w.hub, w.p1, 2)], ttl=timedelta(minutes=5))
    now = w.clock.now()
    with UnitOfWork(w.engine) as uow:
        assert inventory.transfer_owner(uow, "mer_nobody", "hold_a", "ord_x", now) == []
        taken = inventory.transfer_owner(uow, w.merchant, "hold_a", "ord_a", now)
    assert taken == [StockRequest(w.hub, w.p1, 2)]
    w.clock.advance(timedelta(hours=1))
    with UnitOfWork(w.engine) as uow:
        assert inventory.expire_due(uow, w.clock.now()) == []  # expiry was cleared
    assert w.pos(w.hub, w.p1) == Position(10, 2)


def test_list_positions_and_movements_are_merchant_scoped(w: World) -> None:
    w.receive(w.hub, w.p1, 3)
    w.receive(w.hub2, w.p2, 4)
    other = make_merchant(w.engine, w.clock.now(), "Other")
    op = make_product(w.engine, w.clock.now(), other, "O1")
    receive(w.engine, w.clock.now(), other, w.hub, op, 9)
    with UnitOfWork(w.engine, readonly=True) as uow:
        mine = inventory.list_positions(uow.conn, w.merchant)
        theirs = inventory.list_positions(uow.conn, other)
        moves = inventory.list_movements(uow.conn, w.merchant)
        everyone = inventory.list_positions(uow.conn, None)
    assert {(p["product_id"], p["available"]) for p in mine} == {(w.p1, 3), (w.p2, 4)}
    assert [(p["product_id"], p["on_hand"]) for p in theirs] == [(op, 9)]
    assert {m["product_id"] for m in moves} == {w.p1, w.p2}
    assert len(everyone) == 3
