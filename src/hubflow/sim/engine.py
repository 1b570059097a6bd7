"""The twin's engine: a simulated clock, a plain heap of events, one seeded random stream,
and the real services called in-process on a unit of work at simulated times.

Nothing here decides what the platform would decide: quotes, sourcing, reservations,
packing, dispatch plans (PyVRP), courier flows, lockers, store pick-ups and returns are
the services' own code. The engine only plays the outside world: when customers shop and
what they pick, how long staff take, how long driving takes, who is not at home, when a
locker code is typed in, what comes back.
"""

from __future__ import annotations

import heapq
import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import select

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.delivery import carriers
from hubflow.delivery import courier as couriers
from hubflow.delivery.dispatch import run_epoch
from hubflow.delivery.store import carrier_handoffs_table, offers_table
from hubflow.delivery.store import routes_table as routes
from hubflow.lockers import service as lockers
from hubflow.lockers import store_pickup
from hubflow.sim.base import P_EPOCH, P_FIRST
from hubflow.sim.driving import Driving
from hubflow.sim.generate import spread as _spread
from hubflow.sim.recorder import Recorder
from hubflow.sim.shopping import Shopping
from hubflow.sim.staff import HubStaff, clock_time
from hubflow.sim.world import build, customers, start_shifts

__all__ = ["Twin"]


class Twin(Shopping, Driving):
    """One run: build the world, queue the days, play the events in time order."""

    def run(self) -> Recorder:
        # The dispatcher logs each finding of its plan checker as an error; the twin counts
        # them into the results instead of printing hundreds of lines over its progress bar.
        log = logging.getLogger("hubflow.dispatch")
        level = log.level
        log.setLevel(logging.CRITICAL)
        try:
            return self._run()
        finally:
            log.setLevel(level)

    def _run(self) -> Recorder:
        sc = self.sc
        self.world = build(self.engine, sc, self.now)
        self.customers = customers(sc)
        self.staff = {
            self.world.hub_ids[h.key]: HubStaff(h.staff, self.tz, self.midnight) for h in sc.hubs
        }
        for day in range(sc.days):
            day_start = self.start + timedelta(days=day)
            self.at(day_start, self.day_begins, day_start, prio=P_FIRST)
            self._arrivals(day, day_start)
            for h in sc.hubs:
                if h.staff.receive_at is not None:
                    at = self.midnight + timedelta(days=day) + clock_time(h.staff.receive_at)
                    self.at(at, self.truck_arrives, self.world.hub_ids[h.key])
        self.at(self.start + timedelta(seconds=self.dcfg.epoch_s), self.epoch, prio=P_EPOCH)
        total = (self.horizon - self.start).total_seconds()
        while self.queue:
            when, _, _, fn, args = heapq.heappop(self.queue)
            if when > self.horizon:
                break
            self.clock.set(when)
            fn(*args)
            self.on_progress(min(1.0, max(0.0, (when - self.start).total_seconds() / total)))
        self.clock.set(self.horizon)
        self.on_progress(1.0)
        return self.rec

    def day_begins(self, day_start: datetime) -> None:
        ends = min(day_start + timedelta(hours=16), self.midnight + timedelta(days=self.sc.days))
        if day_start > self.start:
            with UnitOfWork(self.engine) as uow:
                for cid in self._courier_ids():
                    try:
                        with uow.conn.begin_nested():
                            couriers.end_shift(uow, self.world.op(), cid, self.now)
                    except HubflowError as exc:
                        self.rec.conflicts[f"end_shift:{exc.code}"] += 1
        for code in start_shifts(self.engine, self.world, self.now, ends):
            self.rec.conflicts[f"start_shift:{code}"] += 1

    def _courier_ids(self) -> list[str]:
        ids = [v.courier_id for v in self.world.vehicles.values() if v.courier_id]
        return ids + list(self.world.gig)

    def _arrivals(self, day: int, day_start: datetime) -> None:
        """The day's order times: the day's total by weekday, spread over the hours."""
        sc, d = self.sc, self.sc.demand
        weekday = (sc.date + timedelta(days=day)).weekday()
        n = round(d.orders_per_day * d.by_weekday[weekday] * 7 / sum(d.by_weekday))
        hours = list(range(sc.start_hour, sc.end_hour))
        counts = _spread(n, [d.by_hour[h] for h in hours])
        rng = random.Random(f"hubflow-arrivals-{self.seed}-{day}")
        day0 = day_start - timedelta(hours=sc.start_hour)
        times = sorted(
            day0 + timedelta(hours=h, seconds=rng.uniform(0, 3600))
            for h, c in zip(hours, counts, strict=True)
            for _ in range(c)
        )
        for i, t in enumerate(times):
            self.at(t, self.shop, f"{day}-{i}")

    # -- the planner's epochs ----------------------------------------------------------------

    def epoch(self) -> None:
        now = self.now
        with UnitOfWork(self.engine) as uow:
            expired = lockers.expire_due(uow, now)
            store_pickup.expire_no_shows(uow, now)
        self.rec.count("locker_expired", self.hour(), expired)
        run = run_epoch(self.engine, self.sc.region, now, self.dcfg)
        self.rec.dispatch_runs += 1
        self.rec.dispatch_ms += run.runtime_ms
        self.rec.planned_routes += run.routes
        self.rec.violations += len(run.violations)
        self._offers()
        self._carrier_pickups()
        self._routes_due(now + timedelta(seconds=self.dcfg.epoch_s))
        nxt = now + timedelta(seconds=self.dcfg.epoch_s)
        if nxt <= self.horizon:
            self.at(nxt, self.epoch, prio=P_EPOCH)

    def _offers(self) -> None:
        o = offers_table.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            rows = uow.conn.execute(
                select(o.id, o.courier_id, o.route_id, o.pay)
                .where(o.status == "open")
                .order_by(o.id)
            ).all()
        for x in rows:
            if x.id in self.offers_seen or x.courier_id not in self.world.gig:
                continue
            self.offers_seen.add(x.id)
            accept = self.rng.random() < self.sc.delivery.gig_accept
            self.at(
                self.now + timedelta(seconds=30),
                self.answer_offer,
                x.id,
                x.courier_id,
                x.route_id,
                int(x.pay or 0),
                accept,
            )

    def answer_offer(
        self, offer_id: str, courier_id: str, route_id: str, pay: int, accept: bool
    ) -> None:
        who = self.world.gig[courier_id]
        fn = couriers.accept_offer if accept else couriers.decline_offer
        if self._try("offer", lambda uow: fn(uow, who, offer_id, self.now)) is None:
            return
        self.rec.offers["accepted" if accept else "declined"] += 1
        if accept:
            self.rec.gig_pay += pay
            self.starting.add(route_id)
            self.at(self.now + timedelta(minutes=5), self.start_route, route_id)

    def _carrier_pickups(self) -> None:
        h = carrier_handoffs_table.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            rows = uow.conn.execute(
                select(h.shipment_id, h.price, h.cutoff_at)
                .where(h.status == "quoted")
                .order_by(h.shipment_id)
            ).all()
        for x in rows:
            if x.shipment_id in self.carrier_booked:
                continue
            self.carrier_booked.add(x.shipment_id)
            when = max(self.now + timedelta(minutes=10), x.cutoff_at - timedelta(minutes=5))
            self.at(when, self.carrier_collects, x.shipment_id, int(x.price))

    def carrier_collects(self, shipment_id: str, price: int) -> None:
        n = self.rec.carrier_parcels + 1
        done = self._try(
            "carrier", lambda uow: carriers.hand_over(uow, shipment_id, f"TW{n:08d}", self.now)
        )
        if done is not None:
            self.rec.carrier_parcels += 1
            self.rec.carrier_cost += price
            self.rec.count("to_carrier", self.hour())
        else:
            self.carrier_booked.discard(shipment_id)  # not packed yet: the next epoch retries

    def _routes_due(self, before: datetime) -> None:
        r = routes.c
        with UnitOfWork(self.engine, readonly=True) as uow:
            rows = uow.conn.execute(
                select(r.id, r.planned_start)
                .where(r.status.in_(["planned", "accepted"]), r.planned_start < before)
                .order_by(r.planned_start, r.id)
            ).all()
        for x in rows:
            if x.id not in self.starting and x.id not in self.drives:
                self.starting.add(x.id)
                self.at(max(self.now, x.planned_start), self.start_route, x.id)
