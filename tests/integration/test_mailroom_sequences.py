"""An apartment mailroom under random sequences: deposits for residents' units, right and
wrong standing codes at the keypad, operator unlocks, rotations and revocations, time
passing and expiry. Hypothesis drives the API and a small model predicts every answer
(including the per-resident lock and the bank's rate limit); after each step the
compartments hold exactly the parcels in the locker, and every collected parcel has one
``delivered`` line on its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from sqlalchemy import func, select

from hubflow.core.db import UnitOfWork
from hubflow.core.events import events_table
from hubflow.delivery.store import tracking_events_table
from hubflow.lockers import service
from hubflow.lockers.model import MAX_FAILURES
from hubflow.lockers.store import compartments_table
from hubflow.orders.store import shipments_table
from tests.integration.test_mailroom import mailroom_bank, on_board
from tests.machines import ApiMachine, run

HOLD_DAYS = 2
UNITS = ["1A", "2B"]  # parcels are addressed to these; "3C" never has a resident
KEYPAD_UNITS = st.sampled_from([*UNITS, "3C"])


@dataclass
class Resident:
    id: str
    code: str
    failures: int = 0

    @property
    def locked(self) -> bool:
        return self.failures >= MAX_FAILURES


@dataclass
class Parcel:
    ship: str
    unit: str
    state: str = "out_for_delivery"  # in_locker, delivered, returned_to_hub
    resident: str | None = None  # whose standing code opens it
    code: str | None = None  # or its own single-use code (no resident at deposit)
    until: datetime | None = None


@dataclass
class Keypad:
    """The bank's rate limit: wrong codes in a 10-minute window."""

    start: datetime | None = None
    count: int = 0
    locks: int = 0  # residents locked so far (one event each)


class Mailroom(ApiMachine):
    def __init__(self) -> None:
        super().__init__()
        units = [UNITS[i % 2] for i in range(4)]
        net, ships, self.h = on_board(self.api, [f"Apt {u}" for u in units])
        self.parcels = [Parcel(s, u) for s, u in zip(ships, units, strict=True)]
        self.bank = mailroom_bank(self.api, net, hold_days=HOLD_DAYS)  # 4 M compartments
        self.residents: dict[str, Resident] = {}
        self.revoked: set[str] = set()
        self.keypad = Keypad()
        for unit in UNITS:
            self._add(unit)

    def _add(self, unit: str) -> None:
        r = self.client.post(
            f"/v1/lockers/{self.bank}/residents",
            headers=self.api.op,
            json={"unit": unit, "name": "R"},
        )
        assert r.status_code == 201, r.text
        self.residents[unit] = Resident(r.json()["id"], r.json()["code"])

    @initialize()
    def first_deposits(self) -> None:
        # A parcel for each unit from the start, so that most steps exercise codes.
        self.deposit(0)
        self.deposit(1)

    @rule(i=st.integers(0, 3))
    def deposit(self, i: int) -> None:
        p = self.parcels[i]
        r = self.ok(
            self.client.post(
                f"/v1/lockers/{self.bank}/deposits", headers=self.h, json={"shipment_id": p.ship}
            )
        )
        if p.state != "out_for_delivery":
            assert r.status_code == 409 and r.json()["error"]["code"] == "parcel_not_on_board"
            return
        assert r.status_code == 201, r.text
        resident = self.residents.get(p.unit)
        p.state, p.until = "in_locker", self.clock.now() + timedelta(days=HOLD_DAYS)
        if resident is None:  # moved out: the parcel gets its own code
            assert r.json()["code"] is not None
            p.code = r.json()["code"]
        else:
            assert r.json()["code"] is None and r.json()["resident"]["id"] == resident.id
            p.resident = resident.id

    def _paused(self) -> bool:
        k, now = self.keypad, self.clock.now()
        return k.start is not None and k.start > now - timedelta(minutes=10) and k.count >= 20

    def _count_wrong(self) -> None:
        k, now = self.keypad, self.clock.now()
        if k.start is None or k.start <= now - timedelta(minutes=10):
            k.start, k.count = now, 1
        else:
            k.count += 1

    @rule(unit=KEYPAD_UNITS, right=st.booleans(), tries=st.integers(1, 3))
    def keypad_code(self, unit: str, right: bool, tries: int) -> None:
        for _ in range(tries):
            self._try(unit, right)

    def _try(self, unit: str, right: bool) -> None:
        resident = self.residents.get(unit)
        code = resident.code if resident is not None else "12345678"
        if not right:
            code = "00000000" if code != "00000000" else "11111111"
        r = self.ok(
            self.client.post(f"/v1/lockers/{self.bank}/pickups", json={"unit": unit, "code": code})
        )
        error = r.json().get("error", {}).get("code") if r.status_code != 200 else None
        event(f"keypad: {error or 'opened'}")
        now = self.clock.now()
        if self._paused():
            assert r.status_code == 429, r.text
        elif resident is not None and resident.locked:
            assert (r.status_code, error) == (409, "resident_locked")
        elif resident is None or not right:
            assert (r.status_code, error) == (422, "wrong_code")
            self._count_wrong()
            if resident is not None:
                resident.failures += 1
                if resident.locked:
                    self.keypad.locks += 1
        else:
            resident.failures = 0
            mine = [p for p in self.parcels if p.state == "in_locker" and p.resident == resident.id]
            ready = [p for p in mine if p.until is not None and p.until > now]
            if ready:
                assert r.status_code == 200, r.text
                assert sorted(r.json()["shipment_ids"]) == sorted(p.ship for p in ready)
                for p in ready:
                    p.state = "delivered"
            elif mine:
                assert (r.status_code, error) == (409, "expired_code")
            else:
                assert (r.status_code, error) == (404, "nothing_waiting")

    @rule(unit=st.sampled_from(UNITS))
    def unlock(self, unit: str) -> None:
        resident = self.residents.get(unit)
        if resident is None:
            return
        url = f"/v1/lockers/{self.bank}/residents/{resident.id}/unlock"
        assert self.client.post(url, headers=self.api.op).status_code == 200
        resident.failures = 0

    @rule(unit=st.sampled_from(UNITS))
    def rotate(self, unit: str) -> None:
        resident = self.residents.get(unit)
        if resident is None:
            return
        url = f"/v1/lockers/{self.bank}/residents/{resident.id}/code"
        r = self.client.post(url, headers=self.api.op)
        assert r.status_code == 200, r.text
        resident.code, resident.failures = r.json()["code"], 0

    @rule(unit=st.sampled_from(UNITS))
    def move_out_or_in(self, unit: str) -> None:
        """Revoke the unit's resident, or register a new one if it has none."""
        resident = self.residents.pop(unit, None)
        if resident is None:
            self._add(unit)
            return
        url = f"/v1/lockers/{self.bank}/residents/{resident.id}"
        assert self.client.delete(url, headers=self.api.op).status_code == 200
        self.revoked.add(resident.id)

    @rule(hours=st.integers(1, 30))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            n = service.expire_due(uow, now)
        due = [p for p in self.parcels if p.state == "in_locker" and p.until and p.until <= now]
        assert n == len(due)
        for p in due:
            p.state = "returned_to_hub"

    @invariant()
    def compartments_and_parcels_agree(self) -> None:
        s, t = shipments_table.c, tracking_events_table.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            status = {r.id: r.status for r in uow.conn.execute(select(s.id, s.status))}
            held = {
                r.shipment_id
                for r in uow.conn.execute(select(compartments_table.c.shipment_id))
                if r.shipment_id is not None
            }
            delivered = {
                r.shipment_id: r.n
                for r in uow.conn.execute(
                    select(t.shipment_id, func.count().label("n"))
                    .where(t.kind == "delivered")
                    .group_by(t.shipment_id)
                )
            }
            locks = uow.conn.execute(
                select(func.count()).where(events_table.c.type == "locker.resident_locked")
            ).scalar_one()
        for p in self.parcels:
            assert status[p.ship] == p.state, p
            assert (p.ship in held) == (p.state == "in_locker"), p
            assert delivered.get(p.ship, 0) == (p.state == "delivered"), p
        assert locks == self.keypad.locks


def test_mailroom_sequences(_sqlite_template: Path) -> None:
    run(Mailroom, _sqlite_template, examples=6, steps=25)
