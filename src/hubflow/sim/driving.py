"""Driving in the twin: routes leave at their planned start through the courier flows,
vehicles move stop to stop at their mode's speed, customers are home or not (then a
locker, or a failed attempt), and routes close at the hub."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.core.geo import LatLng, haversine_km
from hubflow.delivery import courier as couriers
from hubflow.delivery.fleet import Mode, spec_for
from hubflow.delivery.model import FailReason, ProofPolicy
from hubflow.delivery.store import route_stops_table
from hubflow.delivery.tracking import shipment_row
from hubflow.lockers import service as lockers
from hubflow.orders.store import shipments_table
from hubflow.sim.base import Drive, Handler
from hubflow.sim.recorder import RouteFact
from hubflow.sim.returning import Returning
from hubflow.sim.world import nearest

__all__ = ["Driving"]

PNG = (  # a 1x1 image: the proof a photo or signature policy asks for
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
RETRY_S = 300  # a route whose parcels are not packed yet tries again after five minutes
MAX_RETRIES = 12


class Driving(Returning):
    """Routes on the road, stop by stop, through the courier flows."""

    def start_route(self, rid: str) -> None:
        try:
            with UnitOfWork(self.engine) as uow:
                route = couriers.pickup(uow, self.world.op(), rid, self.now)
        except HubflowError as exc:
            self._blocked(rid, exc, self.start_route)
            return
        self.starting.discard(rid)
        mode = Mode(route["mode"])
        spec = spec_for(mode)
        hub = route["hub"]["location"]
        point = (hub["lat"], hub["lng"])
        self.drives[rid] = Drive(
            rid, point, point, spec.speed_kmh, spec.circuity, spec.service_minutes * 60
        )
        self.rec.routes[rid] = RouteFact(
            rid,
            mode.value,
            self.world.hubs[route["hub"]["id"]].key,
            route["vehicle_id"],
            route["courier_id"],
            self.now,
            path=[point],
        )
        self.rec.count("routes_started", self.hour())
        self.next_stop(rid)

    def _blocked(self, rid: str, exc: HubflowError, retry: Handler) -> None:
        """A route that could not load: wait for packing, or let the planner have it."""
        self.rec.conflicts[f"load:{exc.code}"] += 1
        drive = self.drives.get(rid)
        tries = drive.retries if drive else 0
        if exc.code == "not_packed" and tries < MAX_RETRIES:
            if drive:
                drive.retries += 1
            self.at(self.now + timedelta(seconds=RETRY_S), retry, rid)
        else:
            self.starting.discard(rid)
            if drive is not None:
                self.at(self.now, self.finish_route, rid)

    def _travel(self, d: Drive, to: tuple[float, float]) -> timedelta:
        km = haversine_km(LatLng(*d.pos), LatLng(*to)) * d.circuity
        spread = self.sc.delivery.traffic_spread
        hours = km / d.speed_kmh * (1 + self.rng.uniform(-spread, spread))
        fact = self.rec.routes[d.rid]
        fact.km += km
        fact.path.append(to)
        d.pos = to
        return timedelta(hours=hours)

    def next_stop(self, rid: str) -> None:
        d = self.drives[rid]
        st, s = route_stops_table.c, shipments_table.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            row = uow.conn.execute(
                select(st.id, st.shipment_id, st.lat, st.lng)
                .join(shipments_table, s.id == st.shipment_id)
                .where(st.route_id == rid, st.status == "planned", s.status == "out_for_delivery")
                .order_by(st.seq)
                .limit(1)
            ).first()
        if row is None:
            self.at(self.now + self._travel(d, d.hub), self.at_hub, rid)
            return
        dt = self._travel(d, (row.lat, row.lng))
        self.at(self.now + dt, self.arrive, rid, row.id, row.shipment_id)

    def arrive(self, rid: str, stop_id: str, shipment_id: str) -> None:
        d, fact, op = self.drives[rid], self.rec.routes[rid], self.world.op()
        hour = self.hour()
        if (
            self._try("arrive", lambda uow: couriers.arrive(uow, op, rid, stop_id, self.now))
            is None
        ):
            self.at(self.now, self.next_stop, rid)
            return
        after = timedelta(seconds=d.service_s)
        if self.rng.random() < self.sc.delivery.not_at_home:
            self.rec.count("not_at_home", hour)
            if self._to_locker(d, shipment_id):
                fact.lockers += 1
            else:
                reason = FailReason.NOT_AT_HOME
                done = self._try(
                    "fail", lambda uow: couriers.fail(uow, op, rid, stop_id, reason, None, self.now)
                )
                if done is not None:
                    fact.failed += 1
                    self.rec.fail_reasons[reason.value] += 1
                    self.rec.count("failed", hour)
        else:
            done = self._try("deliver", lambda uow: self._deliver(uow, rid, stop_id, shipment_id))
            if done is not None:
                fact.delivered += 1
                self.rec.count("delivered", hour)
                self._maybe_return(shipment_id)
        self.at(self.now + after, self.next_stop, rid)

    def _deliver(self, uow: UnitOfWork, rid: str, stop_id: str, shipment_id: str) -> Any:
        ship = shipment_row(uow.conn, shipment_id)
        policy = ProofPolicy.from_json(ship["proof"])
        proof: dict[str, Any] = {"received_by": "Resident"}
        if policy.pin:
            proof["pin"] = ship["pin"]
        if policy.photo:
            proof["photo_base64"] = PNG
        if policy.signature:
            proof["signature_base64"] = PNG
        if policy.min_age is not None:
            proof["age_verified"] = True
        return couriers.deliver(uow, self.world.op(), rid, stop_id, proof, self.now)

    def _to_locker(self, d: Drive, shipment_id: str) -> bool:
        """Not at home: the nearest locker bank with a compartment that fits, if any."""
        banks = nearest(self.world.banks, d.pos[0], d.pos[1], self.sc.delivery.locker_radius_km)
        for bank_id in banks:
            try:
                with UnitOfWork(self.engine) as uow:
                    out = lockers.deposit(uow, bank_id, shipment_id, self.now)
            except HubflowError as exc:
                self.rec.conflicts[f"deposit:{exc.code}"] += 1
                continue
            self.rec.count("locker_deposits", self.hour())
            self._travel(d, self.world.banks[bank_id])
            if self.rng.random() >= self.sc.delivery.locker_no_show:
                lo, hi = self.sc.delivery.locker_collect_hours
                when = self.now + timedelta(hours=self.rng.uniform(lo, hi))
                self.at(
                    when,
                    self.collect_from_locker,
                    bank_id,
                    out["compartment"],
                    out["code"],
                    shipment_id,
                )
            return True
        return False

    def collect_from_locker(self, bank_id: str, label: str, code: str, shipment_id: str) -> None:
        out = self._try(
            "locker_pickup", lambda uow: lockers.pickup(uow, bank_id, label, code, self.now)
        )
        if out and out.get("opened"):
            self.rec.count("locker_pickups", self.hour())
            self.rec.count("delivered", self.hour())
            self._maybe_return(shipment_id)

    def at_hub(self, rid: str) -> None:
        """Back at the hub: load the next trip if there is one, else close the route."""
        st, s = route_stops_table.c, shipments_table.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            more = uow.conn.execute(
                select(st.id)
                .join(shipments_table, s.id == st.shipment_id)
                .where(st.route_id == rid, st.status == "planned", s.status == "assigned")
                .limit(1)
            ).first()
        if more is None:
            self.finish_route(rid)
            return
        try:
            with UnitOfWork(self.engine) as uow:
                couriers.pickup(uow, self.world.op(), rid, self.now)
        except HubflowError as exc:
            self._blocked(rid, exc, self.at_hub)
            return
        self.next_stop(rid)

    def finish_route(self, rid: str) -> None:
        op, n = self.world.op(), self.dcfg.max_attempts
        out = self._try(
            "complete_route", lambda uow: couriers.complete_route(uow, op, rid, self.now, n)
        )
        self.rec.routes[rid].ended_at = self.now
        self.drives.pop(rid, None)
        for f in (out or {}).get("failed_parcels", []):
            self.rec.after_failure[f["next"]] += 1
