"""Hub work in the twin: the daily truck received against a notice and put away by the
hub's staff, pick-up-in-store orders handed over at the counter. Picking and packing are
``sim/picking.py``'s."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import Engine

from hubflow.core.db import UnitOfWork
from hubflow.delivery.tracking import shipment_row
from hubflow.inventory import service as inventory
from hubflow.lockers import store_pickup
from hubflow.sim.floor import receive_notice, stow_notice
from hubflow.sim.returning import Returning

__all__ = ["HubWork", "shipment_row_hub"]


class HubWork(Returning):
    """The hubs' side of the day: receiving and putting away, the store counter."""

    def truck_arrives(self, hub_id: str) -> None:
        """The day's truck brings back what sold since opening (reserved or gone), one
        notice per merchant, scanned in at the dock; staff spend the time to put it away,
        and the units become available when stowed."""
        by_merchant: dict[str, list[tuple[str, int]]] = defaultdict(list)
        with UnitOfWork(self.engine, readonly=True) as uow:
            for mid, pid, qty in self.world.opening.get(hub_id, []):
                short = qty - inventory.position(uow.conn, hub_id, pid).available
                if short > 0:
                    by_merchant[mid].append((pid, short))
        units = sum(q for lines in by_merchant.values() for _, q in lines)
        if not units:
            return
        staff = self.staff[hub_id]
        done = staff.occupy(self.now, staff.receiving(units))
        if done is None:
            return
        with UnitOfWork(self.engine) as uow:
            notices = [
                receive_notice(uow, mid, hub_id, lines, self.now, "daily truck")
                for mid, lines in sorted(by_merchant.items())
            ]
        self.at(done, self.put_away, notices)

    def put_away(self, notices: list[str]) -> None:
        with UnitOfWork(self.engine) as uow:
            stowed = [stow_notice(uow, asn_id, self.now) for asn_id in notices]
        units = sum(sum(s.units.values()) for s in stowed)
        self.rec.received_units += units
        self.rec.left_at_dock += sum(sum(s.left.values()) for s in stowed)
        self.rec.count("received_units", self.hour(), units)

    def _to_counter(self, shipment_id: str) -> None:
        """A packed pick-up order at the counter: the customer comes for it later."""
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
