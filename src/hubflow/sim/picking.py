"""Picking and packing in the twin through the hub's real outbound services.

A shipment placed at a hub waits for a wave. Every few minutes (``staff.wave_minutes``),
while work waits and pickers are free, the hub releases a wave (``outbound.create_wave``:
bins allocated, orders batched onto carts by real walking distance, each cart's picks in
the shortest route's order) of the shipments due soonest, at most a cart of eight per
free picker and ``staff.wave_max`` in all. A free picker takes each cart: the route
walked at the staff's pace plus the time at the shelf per line, then packs the cart's
parcels one after the other. When the cart is back, its pick tasks are confirmed by scan
(``outbound.pick``); each parcel is then cartonized (``packing.pack_cartons``, which marks
it packed) and, for a pick-up order, put at the counter."""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.delivery.shipments import set_packed
from hubflow.fulfillment import outbound
from hubflow.fulfillment.layout import Layout
from hubflow.fulfillment.layouts import get_layout
from hubflow.fulfillment.packing import pack_cartons
from hubflow.fulfillment.planning import CART, planner_for
from hubflow.sim.hubwork import HubWork
from hubflow.sim.staff import PickQueue

__all__ = ["PACK_WORK", "Picking"]

# The cartonizer's search budget in steps, instead of its wall-clock limit: the same parcel
# gets the same cartons on any machine, so runs repeat exactly.
PACK_WORK = 500
# A wave takes what is due packed within this much of now.
LOOKAHEAD = timedelta(hours=2)


class Picking(HubWork):
    """Waves, carts, scans and cartons."""

    def to_pick(self, shipment_id: str, hub_id: str, due: datetime | None) -> None:
        """A new shipment at ``hub_id``, due packed by ``due`` (now when the order had no
        quote)."""
        q = self.queues.setdefault(hub_id, PickQueue())
        bisect.insort(q.waiting, (due or self.now, shipment_id))
        self._wake(hub_id, self.now)

    def _wake(self, hub_id: str, at: datetime) -> None:
        """Release a wave at the hub's next wave time from ``at`` (the times sit on a grid
        of ``wave_minutes`` from midnight, so runs repeat)."""
        q = self.queues[hub_id]
        step = self.staff[hub_id].staff.wave_minutes * 60
        since = (at - self.midnight).total_seconds()
        when = self.midnight + timedelta(seconds=math.ceil(since / step) * step)
        if q.tick is not None and q.tick <= when:
            return
        q.tick = when
        self.at(when, self.release_wave, hub_id, when)

    def release_wave(self, hub_id: str, tick: datetime) -> None:
        q = self.queues[hub_id]
        if q.tick != tick:  # an earlier wave time replaced this one
            return
        q.tick = None
        if not q.waiting:
            return
        staff = self.staff[hub_id]
        free = staff.free_at(self.now)
        if not free:
            nxt = staff.next_free(self.now)
            if nxt is None:
                self.rec.conflicts["no_staff"] += len(q.waiting)
                q.waiting.clear()
                return
            self._wake(hub_id, max(nxt, self.now + timedelta(seconds=1)))
            return
        due = [x for x in q.waiting if x[0] <= self.now + LOOKAHEAD]
        if not due:
            self._wake(hub_id, q.waiting[0][0] - LOOKAHEAD)
            return
        take = due[: min(staff.staff.wave_max, free * CART.totes)]
        cutoff = take[-1][0]
        planner = q.planner or self._planner(hub_id)
        wave = self._try(
            "wave", lambda uow: outbound.create_wave(uow, hub_id, cutoff, self.now, planner)
        )
        taken = {sid for _, sid in take}
        q.waiting = [x for x in q.waiting if x[1] not in taken and x[0] > cutoff]
        if wave is not None and wave is not True:
            self._carts(hub_id, wave, taken)
        if q.waiting:
            self._wake(hub_id, self.now + timedelta(seconds=1))

    def _planner(self, hub_id: str) -> outbound.Planner:
        with UnitOfWork(self.engine, readonly=True) as uow:
            doc = get_layout(uow.conn, hub_id)["layout"]
        q = self.queues[hub_id]
        q.planner = planner_for(Layout.from_json(doc))
        return q.planner

    def _carts(self, hub_id: str, wave: dict[str, Any], taken: set[str]) -> None:
        """Each cart of the wave to the next free picker; its scans and parcels timed."""
        staff = self.staff[hub_id]
        kind = self.world.hubs[hub_id].kind.value
        in_carts = {sid for b in wave["batches"] for sid in b["shipments"]}
        # Shipments the wave could not allocate from the bins (or with nothing left to pick
        # here) are counted, not picked: the bin ledger says why.
        for what, n in (
            ("wave:short", len(wave["short"])),
            ("wave:nothing_to_pick", len(taken - in_carts - set(wave["short"]))),
        ):
            if n:
                self.rec.conflicts[what] += n
        if not in_carts:
            return
        self.rec.wave_sizes.append(len(in_carts))
        for batch in wave["batches"]:
            picks = batch["picks"]
            walking = staff.picking(int(batch["distance_mm"]), len(picks))
            span = staff.start(self.now, walking + staff.packing(len(batch["shipments"])))
            if span is None:
                self.rec.conflicts["no_staff"] += len(batch["shipments"])
                continue
            back = span[0] + walking
            self.rec.carts += 1
            self.rec.walk_mm += int(batch["distance_mm"])
            self.rec.picking_s += walking.total_seconds()
            self.rec.picked_lines += len(picks)
            mine = self.rec.by_kind[kind]
            mine["lines"] += len(picks)
            mine["carts"] += 1
            mine["walk_mm"] += int(batch["distance_mm"])
            mine["picking_ms"] += int(walking.total_seconds() * 1000)
            self.at(back, self.cart_back, picks)
            for k, sid in enumerate(batch["shipments"]):
                done = back + staff.packing(k + 1)
                self.at(done, self.pack, sid, back, kind)

    def cart_back(self, picks: list[dict[str, Any]]) -> None:
        """The cart's picks scanned (one unit of work; one at a time if one is refused)."""

        try:
            with UnitOfWork(self.engine) as uow:
                for x in picks:
                    self._scan(uow, x)
        except HubflowError:
            for x in picks:
                self._try("pick", partial(self._scan, x=x))
        self.rec.count("lines_picked", self.hour(), len(picks))

    def _scan(self, uow: UnitOfWork, x: dict[str, Any]) -> None:
        outbound.pick(uow, x["task_id"], x["bin_code"], x["product_id"], x["quantity"], self.now)

    def pack(self, shipment_id: str, back: datetime, kind: str) -> None:
        """The parcel cartonized and packed; a pick-up order goes to the counter."""
        try:
            with UnitOfWork(self.engine) as uow:
                pack_cartons(uow, shipment_id, self.now, work_limit=PACK_WORK)
        except HubflowError as exc:
            self.rec.conflicts[f"pack:{exc.code}"] += 1
            if exc.code != "items_do_not_fit":
                return
            # Nothing in the catalogue takes it: it leaves in its own packaging.
            if self._try("pack", lambda uow: set_packed(uow, shipment_id, self.now)) is None:
                return
        self.rec.packed += 1
        self.rec.by_kind[kind]["packed"] += 1
        self.rec.count("packed", self.hour())
        self.rec.pick_to_pack_s.append((self.now - back).total_seconds())
        fact = self.rec.orders.get(self.rec.shipment_order.get(shipment_id, ""))
        if fact is not None:
            self.rec.pick_wait_s.append((self.now - fact.placed_at).total_seconds())
            if fact.option == "pickup_in_store":
                self._to_counter(shipment_id)
