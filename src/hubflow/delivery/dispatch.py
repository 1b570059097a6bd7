"""One planning epoch for one region: read, decide what leaves, plan, cascade, write.

1. Read the region (a short read-only transaction): parcels ready or soon ready, the
   routes planned but not started (re-planned now), the routes under way (their stops
   already started stay; the rest may be re-sequenced), the free vehicles and couriers.
2. The dispatch policy picks what leaves this epoch; urgent parcels always go.
3. The planner (one PyVRP model for the region's hubs) routes the own fleet.
4. Cascade: urgent parcels the own fleet cannot take, and parcels it can never take
   (too heavy for every own vehicle, ...), are planned on the gig couriers free now and
   offered to them; what is left goes to the cheapest carrier with a quote and a handoff.
5. Write it all in one transaction. Every shipment moves by a conditional UPDATE on the
   status and version read in step 1, so a parcel that changed meanwhile (cancelled,
   picked up) is skipped, never double-booked.

The solver runs outside any transaction: order intake never waits for it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, bindparam, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.geo import EARTH_RADIUS_KM, LatLng, half_angles, haversine_km
from hubflow.core.ids import new_id
from hubflow.core.settings import Settings
from hubflow.delivery.carriers import cheapest, cutoff_for, record_handoff
from hubflow.delivery.feasibility import check
from hubflow.delivery.fleet import VehicleTypeSpec
from hubflow.delivery.lookahead import select_by_sampling
from hubflow.delivery.model import RouteStatus, ShipmentStatus, StopStatus
from hubflow.delivery.offers import expire_offers
from hubflow.delivery.planner import Plan, PlannedRoute, Unassigned, plan
from hubflow.delivery.problem import FOREVER, Depot, Job, PlanningProblem, Vehicle, from_geo
from hubflow.delivery.snapshot import Free, Parcel, Snapshot, UnderWay, read_snapshot
from hubflow.delivery.store import (
    dispatch_runs_table,
    offers_table,
    route_stops_table,
    routes_table,
)
from hubflow.delivery.tracking import move_setting, track
from hubflow.delivery.travel import GreatCircleTravel, TravelProfile, TravelProvider
from hubflow.orders.store import shipments_table

__all__ = ["DispatchConfig", "RunSummary", "run_epoch"]

log = logging.getLogger("hubflow.dispatch")

BASE_SERVICE_S = 120  # walking to the door and handing over


@dataclass(frozen=True)
class DispatchConfig:
    epoch_s: int = 600
    time_limit_s: float = 2.0
    policy: str = "greedy"
    handling_s: int = 1800
    window_s: int = 8 * 3600
    offer_ttl_s: int = 120
    max_attempts: int = 2
    seed: int = 0
    # Also stop each solve after this many PyVRP iterations (None: the time limit alone).
    # The twin sets it so that a seed gives the same plans on any machine.
    max_iterations: int | None = None
    # Hubs planned at once, each in a process of its own beyond the first (same plans).
    planner_workers: int = 1
    # A parcel whose delivery window opens later than this waits out of the plan (routes
    # are re-planned every epoch). Not shorter by default: at 4 hours the twin's evening
    # parcels all came into view at 13:00, when the day's trips were set, and fewer
    # same-day promises were kept (50 % against 56 % at 12 hours).
    horizon_s: int = 12 * 3600

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"unknown dispatch policy {self.policy!r}; known: {sorted(POLICIES)}")
        if self.epoch_s <= 0 or self.time_limit_s <= 0:
            raise ValueError("epoch_s and time_limit_s must be positive")
        if self.max_iterations is not None and self.max_iterations <= 0:
            raise ValueError("max_iterations must be positive")
        if self.planner_workers < 1:
            raise ValueError("planner_workers must be at least 1")
        if self.horizon_s <= 0:
            raise ValueError("horizon_s must be positive")

    @classmethod
    def from_settings(cls, s: Settings) -> DispatchConfig:
        return cls(
            epoch_s=s.dispatch_epoch_s,
            time_limit_s=s.dispatch_time_limit_s,
            policy=s.dispatch_policy,
            handling_s=s.dispatch_handling_s,
            window_s=s.dispatch_window_s,
            offer_ttl_s=s.dispatch_offer_ttl_s,
            max_attempts=s.dispatch_max_attempts,
            seed=s.dispatch_seed,
            max_iterations=s.dispatch_max_iterations,
            planner_workers=s.dispatch_planner_workers,
            horizon_s=s.dispatch_horizon_s,
        )


@dataclass
class RunSummary:
    run_id: str
    region: str
    policy: str
    parcels: int = 0
    dispatched: int = 0
    postponed: int = 0
    routes: int = 0
    offered: int = 0
    to_carrier: int = 0
    unplaced: dict[str, str] = field(default_factory=dict)  # shipment -> reason
    skipped_changed: int = 0
    violations: list[str] = field(default_factory=list)  # the checker's findings (none)
    cost: int = 0
    runtime_ms: int = 0

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- building the planning problem ----------------------------------------------------------


class _Model:
    """A snapshot turned into a PlanningProblem: location indices and second offsets."""

    def __init__(
        self,
        snap: Snapshot,
        frees: Sequence[Free],
        under_way: Sequence[UnderWay],
        parcels: Sequence[Parcel],
        travel: TravelProvider,
    ) -> None:
        self.snap, self.now = snap, snap.now
        self.hub_ids = sorted(snap.hubs)
        points: list[LatLng] = [snap.hubs[h].point for h in self.hub_ids]
        self.hub_index = {h: i for i, h in enumerate(self.hub_ids)}
        self.parcels = {p.id: p for p in parcels}
        self.on_vehicle: dict[str, str] = {}
        for u in under_way:
            for stop in u.remaining:
                if stop["shipment_id"] in snap.on_board:
                    self.parcels[stop["shipment_id"]] = snap.on_board[stop["shipment_id"]]
                    self.on_vehicle[stop["shipment_id"]] = u.free.key
        loc: dict[str, int] = {}
        for pid, p in self.parcels.items():
            loc[pid] = len(points)
            points.append(p.point)
        starts: dict[str, int] = {}
        for u in under_way:
            starts[u.free.key] = len(points)
            points.append(u.position)
        self.frees = {f.key: f for f in frees} | {u.free.key: u.free for u in under_way}
        profiles = {
            f.profile: TravelProfile(
                f.profile, f.spec.speed_kmh, f.spec.circuity, f.spec.straight_line
            )
            for f in self.frees.values()
        }
        vehicles = [self._vehicle(f, None, None) for f in frees]
        vehicles += [self._vehicle(u.free, starts[u.free.key], u) for u in under_way]
        jobs = [self._job(pid, loc[pid]) for pid in sorted(self.parcels)]
        depots = [Depot(h, i) for i, h in enumerate(self.hub_ids)]
        self.problem: PlanningProblem = from_geo(
            points, travel, profiles, depots=depots, jobs=jobs, vehicles=vehicles
        )

    def secs(self, at: datetime) -> int:
        return max(0, math.ceil((at - self.now).total_seconds()))

    def at(self, secs: int) -> datetime:
        return self.now + timedelta(seconds=secs)

    def _vehicle(self, f: Free, start: int | None, u: UnderWay | None) -> Vehicle:
        s: VehicleTypeSpec = f.spec
        trips_used = u.trips - 1 if u is not None else 0
        return Vehicle(
            id=f.key,
            profile=f.profile,
            depot=self.hub_index[f.hub_id],
            capacity_weight_g=s.capacity_weight_g,
            capacity_volume_cm3=s.capacity_volume_cm3,
            capacity_parcels=s.capacity_parcels,
            shift_early=self.secs(f.start),
            shift_late=max(self.secs(f.start), self.secs(f.end)),
            max_duration_s=None if s.max_route_minutes is None else s.max_route_minutes * 60,
            max_distance_m=None if s.max_route_km is None else round(s.max_route_km * 1000),
            radius_m=None if s.radius_km is None else round(s.radius_km * 1000),
            max_parcel_weight_g=s.max_parcel_weight_g,
            max_parcel_dims_mm=s.max_parcel_dims_mm,
            cost_per_km=s.cost_per_km,
            cost_per_hour=s.cost_per_hour,
            fixed_cost=s.fixed_cost,
            cost_per_stop=s.cost_per_stop,
            max_trips=max(1, s.max_trips - trips_used),
            start_location=start,
            available_from=self.secs(u.busy_until) if u is not None else 0,
        )

    def _job(self, pid: str, location: int) -> Job:
        p = self.parcels[pid]
        on = self.on_vehicle.get(pid)
        early, late = self.secs(p.window[0]), self.secs(p.window[1])
        if late <= 0:
            late = FOREVER  # already late: deliver as soon as possible, not never
        release = 0 if on else self.secs(p.ready_at)
        if not p.packed and on is None:
            release = max(release, 300)  # not packed yet: it cannot leave this minute
        return Job(
            id=pid,
            location=location,
            depot=self.hub_index[p.hub_id],
            weight_g=p.weight_g,
            volume_cm3=p.volume_cm3,
            dims_mm=p.dims_mm,
            service_s=BASE_SERVICE_S + p.service_extra_s,
            tw_early=min(early, late),
            tw_late=late,
            release_s=release,
            on_vehicle=on,
            # A later trip's parcel of a route under way is kept for it but still at the hub.
            loaded=on is None or p.status == ShipmentStatus.OUT_FOR_DELIVERY.value,
            pickup=p.pickup,
        )


# -- policy -----------------------------------------------------------------------------------


def _must_go(snap: Snapshot, p: Parcel, cfg: DispatchConfig) -> bool:
    """Could this parcel still make its window if it waited for the next epoch?"""
    hub = snap.hubs[p.hub_id]
    km = haversine_km(hub.point, p.point) * 1.35
    fastest = 40.0  # km/h, a car through town; an optimistic bound keeps this conservative
    drive = timedelta(hours=km / fastest) + timedelta(seconds=BASE_SERVICE_S)
    leave_next = max(snap.now + timedelta(seconds=cfg.epoch_s), p.ready_at)
    return leave_next + drive > p.window[1]


def _greedy(
    snap: Snapshot, parcels: list[Parcel], cfg: DispatchConfig, travel: TravelProvider
) -> set[str]:
    return {p.id for p in parcels}


def _lazy(
    snap: Snapshot, parcels: list[Parcel], cfg: DispatchConfig, travel: TravelProvider
) -> set[str]:
    return {p.id for p in parcels if _must_go(snap, p, cfg)}


def _window_aware(
    snap: Snapshot, parcels: list[Parcel], cfg: DispatchConfig, travel: TravelProvider
) -> set[str]:
    """Send what must go, what is ready and due within two epochs, and what is ready
    within a kilometre of a parcel of its hub that goes now (it rides along almost for
    free); later parcels wait for the next epoch's orders to fill their route."""
    soon = snap.now + timedelta(seconds=2 * cfg.epoch_s)
    chosen = {
        p.id
        for p in parcels
        if _must_go(snap, p, cfg) or (p.ready_at <= soon and p.window[0] <= soon)
    }
    by_hub: dict[str, tuple[list[Parcel], list[Parcel]]] = {}
    for p in parcels:
        if p.id in chosen:
            by_hub.setdefault(p.hub_id, ([], []))[0].append(p)
        elif p.ready_at <= soon:
            by_hub.setdefault(p.hub_id, ([], []))[1].append(p)
    for anchors, rest in by_hub.values():
        if anchors and rest:
            near = _within_km([a.point for a in anchors], [p.point for p in rest], 1.0)
            chosen |= {p.id for p, ok in zip(rest, near, strict=True) if ok}
    return chosen


def _within_km(anchors: Sequence[LatLng], points: Sequence[LatLng], km: float) -> list[bool]:
    """Per point: is any anchor within ``km`` (great circle)? One array pass, not a loop
    of point pairs: a busy hub has a thousand parcels waiting."""
    d = 2 * EARTH_RADIUS_KM * half_angles(points, anchors)
    return [bool(x) for x in np.any(d < km, axis=1)]


def _sampling(
    snap: Snapshot, parcels: list[Parcel], cfg: DispatchConfig, travel: TravelProvider
) -> set[str]:
    """Sampled futures from each hub's recent parcels (see ``lookahead``)."""
    return select_by_sampling(
        snap,
        parcels,
        travel,
        epoch_s=cfg.epoch_s,
        time_limit_s=cfg.time_limit_s,
        seed=cfg.seed,
        service_s=BASE_SERVICE_S,
        must=lambda p: _must_go(snap, p, cfg),
    )


POLICIES = {
    "greedy": _greedy,
    "lazy": _lazy,
    "window_aware": _window_aware,
    "sampling": _sampling,
}


# -- cascade: gig offers and carriers ----------------------------------------------------


# -- writing ----------------------------------------------------------------------------------


# A parcel taken into (or out of) a plan, as read: built once, it runs for every stop of
# every route written.
_TAKE = move_setting(("eta", "note", "route_id"))
# A started route's stops re-sequenced: built once, run for all of a route's stops at once.
_STOP_SEQ = (
    update(route_stops_table)
    .where(route_stops_table.c.id == bindparam("b_id"))
    .values(seq=bindparam("b_seq"))
)
_STOP_NEXT = (
    update(route_stops_table)
    .where(route_stops_table.c.id == bindparam("b_id"))
    .values(seq=bindparam("b_seq"), eta=bindparam("b_eta"), trip=bindparam("b_trip"))
)
_PARCEL_ETA = (
    update(shipments_table)
    .where(shipments_table.c.id == bindparam("b_id"))
    .values(eta=bindparam("b_eta"))
)


class _Writer:
    def __init__(
        self, uow: UnitOfWork, snap: Snapshot, model: _Model, run: RunSummary, cfg: DispatchConfig
    ) -> None:
        self.conn, self.snap, self.model, self.run, self.cfg = uow.conn, snap, model, run, cfg
        self.now = snap.now
        self.versions = {p.id: (p.status, p.version, p.route_id) for p in snap.parcels}

    def cancel_replannable(self) -> set[str]:
        r, st = routes_table.c, route_stops_table.c
        cancelled = set()
        for rid in self.snap.replannable:
            res = self.conn.execute(
                update(routes_table)
                .where(r.id == rid, r.status == RouteStatus.PLANNED.value)
                .values(
                    status=RouteStatus.CANCELLED.value, version=r.version + 1, updated_at=self.now
                )
            )
            if res.rowcount == 1:
                cancelled.add(rid)
                self.conn.execute(
                    update(route_stops_table)
                    .where(st.route_id == rid, st.status == StopStatus.PLANNED.value)
                    .values(status=StopStatus.SKIPPED.value)
                )
        return cancelled

    def take(
        self,
        pid: str,
        target: ShipmentStatus,
        cancelled: set[str],
        *,
        route_id: str | None,
        eta: datetime | None,
        note: str | None,
    ) -> bool:
        """Move a parcel as read, unless it changed meanwhile (then skip it)."""
        status, version, was_on = self.versions[pid]
        if was_on is not None and was_on not in cancelled:
            return False
        res = self.conn.execute(
            _TAKE,
            {
                "b_id": pid,
                "b_from": status,
                "b_version": version,
                "b_to": target.value,
                "b_now": self.now,
                "v_route_id": route_id,
                "v_eta": eta,
                "v_note": note,
            },
        )
        if res.rowcount != 1:
            self.run.skipped_changed += 1
            return False
        self.versions[pid] = (target.value, version + 1, route_id)
        return True

    def ship_dict(self, pid: str) -> dict[str, Any]:
        p = self.model.parcels[pid]
        return {
            "id": p.id,
            "order_id": p.order_id,
            "hub_id": p.hub_id,
            "merchant_id": p.merchant_id,
            "tracking_token": p.tracking_token,
        }

    def new_route(self, r: PlannedRoute, status: RouteStatus, cancelled: set[str]) -> str | None:
        free = self.model.frees[r.vehicle_id]
        route_id = new_id("rte")
        target = (
            ShipmentStatus.OFFERED if status is RouteStatus.OFFERED else ShipmentStatus.ASSIGNED
        )
        taken = []
        for stop in r.stops:
            eta = self.model.at(stop.arrival_s)
            if self.take(stop.job_id, target, cancelled, route_id=route_id, eta=eta, note=None):
                taken.append(stop)
        if not taken:
            return None
        self.conn.execute(
            insert(routes_table).values(
                id=route_id,
                run_id=self.run.run_id,
                region=self.snap.region,
                hub_id=free.hub_id,
                mode=free.spec.mode.value,
                vehicle_id=free.vehicle_id,
                courier_id=free.courier_id,
                status=status.value,
                planned_start=self.model.at(r.start_s),
                planned_end=self.model.at(r.end_s),
                distance_m=r.distance_m,
                cost=r.cost,
                version=1,
                created_at=self.now,
                updated_at=self.now,
            )
        )
        self._insert_stops(route_id, taken, 0)
        for stop in taken:
            was = self.snap_status(stop.job_id)
            if status is RouteStatus.PLANNED and was not in (ShipmentStatus.ASSIGNED.value,):
                track(
                    self.conn,
                    self.ship_dict(stop.job_id),
                    "assigned",
                    self.now,
                    {"eta": iso_z(self.model.at(stop.arrival_s)), "mode": free.spec.mode.value},
                )
        return route_id

    def snap_status(self, pid: str) -> str:
        p = self.model.parcels.get(pid)
        return p.status if p is not None else ""

    def _insert_stops(
        self, route_id: str, stops: Sequence[Any], first_seq: int, trip0: int = 0
    ) -> None:
        rows = []
        for i, stop in enumerate(stops):
            p = self.model.parcels[stop.job_id]
            rows.append(
                {
                    "id": new_id("stp"),
                    "route_id": route_id,
                    "seq": first_seq + i + 1,
                    "trip": trip0 + stop.trip + 1,
                    "shipment_id": stop.job_id,
                    "status": StopStatus.PLANNED.value,
                    "lat": p.point.lat,
                    "lng": p.point.lng,
                    "planned_arrival": self.model.at(stop.arrival_s),
                    "eta": self.model.at(stop.arrival_s),
                }
            )
        if rows:
            self.conn.execute(insert(route_stops_table), rows)

    def resequence(self, u: UnderWay, r: PlannedRoute, cancelled: set[str]) -> None:
        """A started route: its remaining stops in the new order, new parcels appended as
        later trips (the vehicle reloads at its hub)."""
        remaining = {x["shipment_id"]: x for x in u.remaining}
        seq = u.last_seq
        # Move the remaining stops out of the way first: (route, seq) is unique.
        if u.remaining:
            self.conn.execute(
                _STOP_SEQ, [{"b_id": x["id"], "b_seq": -x["seq"]} for x in u.remaining]
            )
        new_stops = []
        moves: list[dict[str, Any]] = []
        etas: list[dict[str, Any]] = []
        for stop in r.stops:
            if stop.job_id in remaining:
                seq += 1
                eta = self.model.at(stop.arrival_s)
                # The plan may deliver it on a later trip (after a reload at the hub).
                moves.append(
                    {"b_id": remaining.pop(stop.job_id)["id"], "b_seq": seq, "b_eta": eta,
                     "b_trip": u.trips + stop.trip}
                )  # fmt: skip
                etas.append({"b_id": stop.job_id, "b_eta": eta})
            elif self.take(
                stop.job_id,
                ShipmentStatus.ASSIGNED,
                cancelled,
                route_id=u.route_id,
                eta=self.model.at(stop.arrival_s),
                note=None,
            ):
                new_stops.append(stop)
                track(
                    self.conn,
                    self.ship_dict(stop.job_id),
                    "assigned",
                    self.now,
                    {"eta": iso_z(self.model.at(stop.arrival_s)), "mode": u.free.spec.mode.value},
                )
        if moves:
            self.conn.execute(_STOP_NEXT, moves)
            self.conn.execute(_PARCEL_ETA, etas)
        kept = []
        for x in remaining.values():  # not in the plan (its shift ends): keep the old order
            seq += 1
            kept.append({"b_id": x["id"], "b_seq": seq})
        if kept:
            self.conn.execute(_STOP_SEQ, kept)
        self._insert_stops(u.route_id, new_stops, seq, trip0=u.trips - 1)  # trip u.trips + k

    def offer(self, route_id: str, free: Free, pay: int) -> None:
        self.conn.execute(
            insert(offers_table).values(
                id=new_id("ofr"),
                route_id=route_id,
                courier_id=free.courier_id,
                status="open",
                pay=pay,
                created_at=self.now,
                expires_at=self.now + timedelta(seconds=self.cfg.offer_ttl_s),
            )
        )

    def to_carrier(self, p: Parcel, cancelled: set[str]) -> bool:
        if p.pickup:  # carriers take parcels at the hub's dock; they do not collect returns
            return False
        km = haversine_km(self.snap.hubs[p.hub_id].point, p.point)
        quote = cheapest(self.snap.carriers, p.weight_g, km)
        if quote is None:
            return False
        cutoff = cutoff_for(quote[0].handoff_cutoff, self.snap.hubs[p.hub_id].timezone, self.now)
        if not self.take(
            p.id, ShipmentStatus.CARRIER_PENDING, cancelled, route_id=None, note=None, eta=None
        ):
            return False
        record_handoff(self.conn, p.id, quote, cutoff, self.now)
        track(
            self.conn,
            self.ship_dict(p.id),
            "carrier_assigned",
            self.now,
            {"carrier": quote[0].name, "handoff_by": iso_z(cutoff)},
        )
        return True

    def release(self, pid: str, cancelled: set[str], note: str | None) -> None:
        """A parcel of a cancelled route that the new plan did not place: back to waiting."""
        p = self.model.parcels.get(pid)
        status, _, route_id = self.versions[pid]
        if route_id in cancelled and status == ShipmentStatus.ASSIGNED.value and p is not None:
            back = ShipmentStatus.READY if p.packed else ShipmentStatus.PENDING
            self.take(pid, back, cancelled, route_id=None, eta=None, note=note)
        elif status in (ShipmentStatus.READY.value, ShipmentStatus.PENDING.value) and note:
            s = shipments_table.c
            self.conn.execute(update(shipments_table).where(s.id == pid).values(note=note))


# -- the epoch ---------------------------------------------------------------------------------


def _solve(
    model: _Model, cfg: DispatchConfig, time_limit_s: float, max_iterations: int | None
) -> Plan:
    if not model.problem.vehicles:  # nothing to route with: say so for every parcel
        return Plan([], [Unassigned(j.id, "no_vehicle_at_hub") for j in model.problem.jobs],
                    0, True, 0.0)  # fmt: skip
    return plan(
        model.problem,
        time_limit_s=time_limit_s,
        seed=cfg.seed,
        max_iterations=max_iterations,
        workers=cfg.planner_workers,
    )


def _gig_plan(
    snap: Snapshot, parcels: list[Parcel], cfg: DispatchConfig, travel: TravelProvider
) -> tuple[_Model, Plan] | None:
    if not parcels or not snap.gig:
        return None
    model = _Model(snap, snap.gig, [], parcels, travel)
    its = None if cfg.max_iterations is None else max(1, cfg.max_iterations // 2)
    return model, _solve(model, cfg, cfg.time_limit_s / 2, its)


def run_epoch(
    engine: Engine,
    region: str,
    now: datetime,
    cfg: DispatchConfig | None = None,
    *,
    travel: TravelProvider | None = None,
) -> RunSummary:
    """Plan one epoch of ``region`` and write it; returns what happened."""
    cfg = cfg or DispatchConfig()
    travel = travel or GreatCircleTravel()
    t0 = time.perf_counter()
    # Offers nobody answered in time move on first, so their couriers count as free.
    expire_offers(engine, now, timedelta(seconds=cfg.offer_ttl_s))
    with UnitOfWork(engine, readonly=True) as uow:
        snap = read_snapshot(uow.conn, region, now, cfg, history=cfg.policy == "sampling")
    run = RunSummary(new_id("dsp"), region, cfg.policy, parcels=len(snap.parcels))
    chosen = POLICIES[cfg.policy](snap, snap.parcels, cfg, travel)
    go = [p for p in snap.parcels if p.id in chosen]
    run.dispatched, run.postponed = len(go), len(snap.parcels) - len(go)
    model = _Model(snap, snap.free, snap.under_way, go, travel)
    own = _solve(model, cfg, cfg.time_limit_s, cfg.max_iterations)
    left = {u.job_id: u.reason for u in own.unassigned if u.job_id not in model.on_vehicle}
    # Own fleet first. What it cannot take in time goes down the cascade; what it could
    # take later waits for the next epoch.
    cascade = [
        p for p in go if p.id in left and (left[p.id] != "fleet_full" or _must_go(snap, p, cfg))
    ]
    gig = _gig_plan(snap, cascade, cfg, travel)
    gig_left = {u.job_id for u in gig[1].unassigned} if gig else {p.id for p in cascade}
    # Every plan goes through the independent checker before it is written.
    run.violations = check(model.problem, own) + (check(gig[0].problem, gig[1]) if gig else [])
    for v in run.violations:
        log.error("dispatch %s: plan violates %s", region, v)
    with UnitOfWork(engine) as uow:
        uow.conn.execute(  # first: the routes refer to it
            insert(dispatch_runs_table).values(
                id=run.run_id,
                region=region,
                policy=cfg.policy,
                started_at=now,
                runtime_ms=0,
                summary={},
            )
        )
        w = _Writer(uow, snap, model, run, cfg)
        cancelled = w.cancel_replannable()
        under_way = {u.free.key: u for u in snap.under_way}
        for r in own.routes:
            if r.vehicle_id in under_way:
                w.resequence(under_way[r.vehicle_id], r, cancelled)
            elif w.new_route(r, RouteStatus.PLANNED, cancelled):
                run.routes += 1
                run.cost += r.cost
        if gig is not None:
            gmodel, gplan = gig
            gw = _Writer(uow, snap, gmodel, run, cfg)
            gw.versions = w.versions
            for r in gplan.routes:
                rid = gw.new_route(r, RouteStatus.OFFERED, cancelled)
                if rid is not None:
                    gw.offer(rid, gmodel.frees[r.vehicle_id], r.cost)
                    run.offered += 1
        for p in cascade:
            if p.id in gig_left:
                if w.to_carrier(p, cancelled):
                    run.to_carrier += 1
                else:
                    run.unplaced[p.id] = left[p.id]
        for p in snap.parcels:
            if (
                w.versions[p.id][0] in (ShipmentStatus.ASSIGNED.value,)
                and w.versions[p.id][2] in cancelled
            ):
                w.release(p.id, cancelled, left.get(p.id))
            elif p.id in left:
                w.release(p.id, cancelled, left[p.id])
        run.runtime_ms = round((time.perf_counter() - t0) * 1000)
        d = dispatch_runs_table.c
        uow.conn.execute(
            update(dispatch_runs_table)
            .where(d.id == run.run_id)
            .values(runtime_ms=run.runtime_ms, summary=run.as_json())
        )
    return run


def regions(engine: Engine) -> list[str]:
    from hubflow.network.store import hubs_table

    with UnitOfWork(engine, readonly=True) as uow:
        h = hubs_table.c
        return sorted(uow.conn.execute(select(h.region).where(h.active).distinct()).scalars())
