"""Hub work in the twin: the daily truck put away, shipments picked and packed by the
hub's staff, pick-up-in-store orders handed over at the counter."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from hubflow.core.db import UnitOfWork
from hubflow.delivery.shipments import mark_packed
from hubflow.delivery.tracking import shipment_row
from hubflow.inventory import service as inventory
from hubflow.lockers import store_pickup
from hubflow.sim.returning import Returning

__all__ = ["HubWork", "shipment_row_hub"]


class HubWork(Returning):
    """The hubs' side of the day: receiving, picking and packing, the store counter."""

    def truck_arrives(self, hub_id: str) -> None:
        """The day's truck: what sold since opening (reserved or gone) comes back in; staff
        spend the time to unload and put it away, and the stock is received when done."""
        with UnitOfWork(self.engine, readonly=True) as uow:
            short = [
                (mid, pid, qty - inventory.position(uow.conn, hub_id, pid).available)
                for mid, pid, qty in self.world.opening.get(hub_id, [])
            ]
        short = [x for x in short if x[2] > 0]
        units = sum(q for _, _, q in short)
        if not units:
            return
        staff = self.staff[hub_id]
        done = staff.occupy(self.now, staff.receiving(units))
        if done is not None:
            self.at(done, self.put_away, hub_id, short)

    def put_away(self, hub_id: str, lines: list[tuple[str, str, int]]) -> None:
        with UnitOfWork(self.engine) as uow:
            for mid, pid, qty in lines:
                inventory.receive(uow, mid, hub_id, pid, qty, self.now, note="twin replenishment")
        units = sum(q for _, _, q in lines)
        self.rec.received_units += units
        self.rec.count("received_units", self.hour(), units)

    def packed(self, shipment_id: str, for_pickup: bool) -> None:
        if not self._try("pack", lambda uow: mark_packed(uow, shipment_id, self.now)):
            return
        self.rec.packed += 1
        self.rec.count("packed", self.hour())
        if for_pickup:
            out = self._try(
                "ready_for_pickup",
                lambda uow: store_pickup.ready_for_pickup(uow, shipment_id, self.now),
            )
            if out is None:
                return
            lo, hi = self.sc.delivery.store_collect_hours
            when = self.now + timedelta(hours=self.rng.uniform(lo, hi))
            hub_id = shipment_row_hub(self.engine, shipment_id)
            self.at(when, self.collect_at_store, hub_id, shipment_id, out["code"])

    def collect_at_store(self, hub_id: str, shipment_id: str, code: str) -> None:
        out = self._try(
            "store_hand_over",
            lambda uow: store_pickup.hand_over(uow, hub_id, shipment_id, code, self.now),
        )
        if out and out.get("handed_over"):
            self.rec.count("store_pickups", self.hour())
            self.rec.count("delivered", self.hour())
            self._maybe_return(shipment_id)


def shipment_row_hub(engine: Engine, shipment_id: str) -> str:
    with UnitOfWork(engine, readonly=True) as uow:
        return str(shipment_row(uow.conn, shipment_id)["hub_id"])
