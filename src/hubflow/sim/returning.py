"""Returns in the twin: some received orders come back, are dropped off at the nearest
store, refunded by the merchant's policy and inspected."""

from __future__ import annotations

from datetime import timedelta

from hubflow.core.db import UnitOfWork
from hubflow.orders import service as orders
from hubflow.returns import service as returns
from hubflow.sim.base import TwinBase
from hubflow.sim.world import nearest

__all__ = ["Returning"]


class Returning(TwinBase):
    """What comes back after delivery."""

    def _maybe_return(self, shipment_id: str) -> None:
        """Once all of an order's parcels are with the customer, it may come back."""
        oid = self.rec.shipment_order.get(shipment_id)
        fact = self.rec.orders.get(oid or "")
        if fact is None or fact.delivered_at is not None:
            return
        fact.received.add(shipment_id)
        if len(fact.received) < len(fact.shipments):
            return
        fact.delivered_at = self.now
        if self.rng.random() < self.sc.returns.rate.get(fact.kind, 0.0):
            lo, hi = self.sc.returns.drop_off_hours
            self.at(self.now + timedelta(hours=self.rng.uniform(lo, hi)), self.send_back, oid)

    def send_back(self, order_id: str) -> None:
        fact = self.rec.orders[order_id]
        mid = self.world.merchant_ids[fact.merchant]
        with UnitOfWork(self.engine, readonly=True) as uow:
            order = orders.get_order(uow.conn, mid, order_id)
        lines = [(x["product_id"], x["quantity"]) for x in order["lines"]]
        ret = self._try(
            "return",
            lambda uow: returns.create_return(
                uow, mid, order_id, lines, "changed my mind", "store", self.now
            ),
        )
        if ret is None:
            return
        self.rec.count("returns", self.hour())
        token = str(ret["qr"]).removeprefix("hubflow-return:")
        lat, lng = order["address"]["lat"], order["address"]["lng"]
        stores = {
            hid: (h.lat, h.lng) for hid, h in self.world.hubs.items() if h.kind.value == "store"
        } or {hid: (h.lat, h.lng) for hid, h in self.world.hubs.items()}
        hub_id = nearest(stores, lat, lng, 1e9)[0]
        self.at(self.now + timedelta(minutes=30), self.drop_off, ret["id"], token, hub_id)

    def drop_off(self, return_id: str, token: str, hub_id: str) -> None:
        if (
            self._try("drop_off", lambda uow: returns.drop_off(uow, token, hub_id, self.now))
            is None
        ):
            return
        self.rec.count("returns_dropped", self.hour())
        self.at(self.now + timedelta(hours=self.sc.returns.inspect_hours), self.inspect, return_id)

    def inspect(self, return_id: str) -> None:
        with UnitOfWork(self.engine, readonly=True) as uow:
            ret = returns.get_return(uow.conn, None, return_id)
        disp = {x["product_id"]: returns.Disposition.RESTOCK for x in ret["lines"]}
        if (
            self._try("inspect", lambda uow: returns.inspect(uow, return_id, disp, self.now))
            is not None
        ):
            self.rec.count("returns_inspected", self.hour())
