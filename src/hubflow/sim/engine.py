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
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.core.geo import LatLng, haversine_km
from hubflow.delivery import carriers
from hubflow.delivery import courier as couriers
from hubflow.delivery.dispatch import DispatchConfig, run_epoch
from hubflow.delivery.fleet import Mode, spec_for
from hubflow.delivery.model import FailReason, ProofPolicy
from hubflow.delivery.shipments import mark_packed
from hubflow.delivery.store import carrier_handoffs_table, offers_table, route_stops_table
from hubflow.delivery.store import routes_table as routes
from hubflow.delivery.tracking import shipment_row
from hubflow.inventory import service as inventory
from hubflow.lockers import service as lockers
from hubflow.lockers import store_pickup
from hubflow.orders import service as orders
from hubflow.orders.store import shipments_table
from hubflow.promise import service as promise
from hubflow.promise.model import OptionCode, PromiseConfig
from hubflow.returns import service as returns
from hubflow.sim.generate import spread as _spread
from hubflow.sim.recorder import OrderFact, Recorder, RouteFact
from hubflow.sim.scenario import Scenario
from hubflow.sim.staff import HubStaff, clock_time
from hubflow.sim.world import Customer, Product, World, build, customers, nearest, start_shifts

__all__ = ["Twin"]

PNG = (  # a 1x1 image: the proof a photo or signature policy asks for
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
RETRY_S = 300  # a route whose parcels are not packed yet tries again after five minutes
MAX_RETRIES = 12
Handler = Callable[..., None]

# Event priorities at one instant: routes leave and stops happen before the planner runs.
P_FIRST, P_WORLD, P_EPOCH = -1, 0, 5


@dataclass
class _Drive:
    rid: str
    hub: tuple[float, float]
    pos: tuple[float, float]
    speed_kmh: float
    circuity: float
    service_s: float
    retries: int = 0


@dataclass
class Twin:
    engine: Engine
    sc: Scenario
    seed: int
    on_progress: Callable[[float], None] = lambda _f: None
    rec: Recorder = field(default_factory=Recorder)

    def __post_init__(self) -> None:
        sc = self.sc
        self.rng = random.Random(f"hubflow-twin-{self.seed}")
        self.tz = ZoneInfo(sc.timezone)
        self.midnight = datetime.combine(sc.date, time(0), self.tz).astimezone(UTC)
        self.start = self.midnight + timedelta(hours=sc.start_hour)
        self.horizon = self.midnight + timedelta(days=sc.days)
        self.clock = ManualClock(self.start - timedelta(hours=1))
        self.queue: list[tuple[datetime, int, int, Handler, tuple[Any, ...]]] = []
        self.seq = itertools.count()
        self.dcfg = DispatchConfig(
            epoch_s=sc.delivery.epoch_minutes * 60,
            time_limit_s=sc.delivery.planner_time_limit_s,
            policy=sc.delivery.policy,
            seed=self.seed,
            max_iterations=sc.delivery.planner_iterations,
        )
        self.pcfg = PromiseConfig()
        self.world = World()
        self.customers: list[Customer] = []
        self.reach: dict[int, list[str]] = {}  # customer -> hub keys that deliver there
        self.staff: dict[str, HubStaff] = {}
        self.drives: dict[str, _Drive] = {}
        self.starting: set[str] = set()
        self.carrier_booked: set[str] = set()
        self.offers_seen: set[str] = set()

    # -- the loop ------------------------------------------------------------------------------

    def at(self, when: datetime, fn: Handler, *args: Any, prio: int = P_WORLD) -> None:
        heapq.heappush(self.queue, (when, prio, next(self.seq), fn, args))

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def hour(self, when: datetime | None = None) -> int:
        """Hours since local midnight of day one (the KPIs' hourly buckets)."""
        return int(((when or self.now) - self.midnight).total_seconds() // 3600)

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

    # -- customers -----------------------------------------------------------------------------

    def _reachable(self, c: Customer) -> list[str]:
        if c.index not in self.reach:
            here = LatLng(c.lat, c.lng)
            self.reach[c.index] = [
                h.key
                for h in self.sc.hubs
                if not h.pickup_only and haversine_km(LatLng(h.lat, h.lng), here) <= h.radius_km
            ]
        return self.reach[c.index]

    def _basket(self, c: Customer) -> tuple[str, list[tuple[Product, int]]] | None:
        rng, w = self.rng, self.world
        merchants = list(self.sc.merchants)
        m = rng.choices(merchants, weights=[x.share for x in merchants])[0]
        near: set[str] = set().union(*(w.stocked.get(k, set()) for k in self._reachable(c)))
        products = [p for p in w.products[m.key] if p.id in near]
        if not products:
            return None
        n = rng.choices((1, 2, 3, 4), weights=self.sc.demand.lines)[0]
        chosen: list[Product] = []
        weights = [p.spec.popularity for p in products]
        for _ in range(4 * n):
            if len(chosen) == min(n, len(products)):
                break
            p = rng.choices(products, weights=weights)[0]
            if p not in chosen:
                chosen.append(p)
        most = [p.spec.max_per_order for p in chosen]
        qty = [
            rng.choices(range(1, k + 1), weights=[1 / q**2 for q in range(1, k + 1)])[0]
            for k in most
        ]
        return m.key, list(zip(chosen, qty, strict=True))

    def shop(self, ref: str) -> None:
        """One customer: a quote, maybe an order on one of its options."""
        c = self.rng.choice(self.customers)
        hour = self.hour()
        basket = self._basket(c)
        if basket is None:
            self.rec.unavailable["nothing_in_reach"] += 1
            self.rec.count("no_option", hour)
            return
        mkey, lines = basket
        mid = self.world.merchant_ids[mkey]
        pairs = [(p.id, q) for p, q in lines]
        address = {
            "line1": f"{100 + c.index} Main St",
            "city": c.area,
            "postcode": c.postcode,
            "country": self.sc.country,
        }
        dest = LatLng(c.lat, c.lng)
        self.rec.count("quotes", hour)
        quote = promise.create_quote(
            self.engine,
            mid,
            promise.QuoteRequest(pairs, dest, address, f"cus-{c.index}", c.member),
            self.now,
            self.pcfg,
        )
        options = {o["code"]: o for o in quote["options"]}
        if not options:
            reasons = {u.get("reason", "none") for u in quote.get("unavailable", [])}
            self.rec.unavailable[sorted(reasons)[0] if reasons else "none"] += 1
            self.rec.count("no_option", hour)
            return
        if self.rng.random() >= self.sc.demand.conversion:
            self.rec.count("quote_only", hour)
            return
        mix = self.sc.demand.option_mix
        codes = sorted(options)
        weights = [mix.get(k, 0.0) for k in codes]
        code = self.rng.choices(codes, weights=weights)[0] if sum(weights) > 0 else codes[0]
        chosen = options[code]
        pickup = chosen.get("pickup_locations") or []
        req = orders.OrderRequest(
            lines=pairs,
            destination=dest,
            address=address,
            customer={"name": f"Customer {c.index}", "id": f"cus-{c.index}"},
            external_ref=f"twin-{ref}",
            quote_id=quote["id"],
            option=OptionCode(code),
            pickup_hub_id=pickup[0]["hub_id"] if pickup else None,
        )
        try:
            placed = orders.place_order(
                self.engine,
                mid,
                mid,
                f"twin-{ref}",
                f"twin-{ref}",
                req,
                self.now,
                promise_config=self.pcfg,
            )
        except HubflowError as exc:
            self.rec.refused[exc.code] += 1
            self.rec.count("refused", hour)
            return
        body = placed.body
        self.rec.count("orders", hour)
        promise_json = body.get("promise") or {}
        window_to = (promise_json.get("window") or {}).get("to")
        fact = OrderFact(
            order_id=body["id"],
            merchant=mkey,
            kind=self.world.merchants[mid].kind,
            option=code,
            member=c.member,
            placed_at=self.now,
            promised_by=datetime.fromisoformat(window_to) if window_to else None,
            shipments=[s["id"] for s in body["shipments"]],
            value=sum(p.spec.value_cents * q for p, q in lines),
            fee=int((promise_json.get("fee") or {}).get("amount", 0)),
        )
        self.rec.orders[fact.order_id] = fact
        per_hub: dict[str, int] = {}
        for a in body["allocations"]:
            per_hub[a["hub_id"]] = per_hub.get(a["hub_id"], 0) + 1
        for s in body["shipments"]:
            self.rec.shipment_order[s["id"]] = fact.order_id
            lines_here = per_hub.get(s["hub_id"], 1)
            done = self.staff[s["hub_id"]].assign(self.now, lines_here)
            if done is None:
                self.rec.conflicts["no_staff"] += 1
                continue
            self.rec.picked_lines += lines_here
            self.rec.pick_wait_s.append((done - self.now).total_seconds())
            self.at(done, self.packed, s["id"], code == OptionCode.PICKUP_IN_STORE.value)

    # -- hub staff -----------------------------------------------------------------------------

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

    # -- driving -------------------------------------------------------------------------------

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
        self.drives[rid] = _Drive(
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

    def _travel(self, d: _Drive, to: tuple[float, float]) -> timedelta:
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

    def _to_locker(self, d: _Drive, shipment_id: str) -> bool:
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

    # -- returns -------------------------------------------------------------------------------

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

    # -- helpers -------------------------------------------------------------------------------

    def _try(self, what: str, fn: Callable[[UnitOfWork], Any]) -> Any:
        """One unit of work; a refusal (a race, a changed state) is counted as
        ``what:error_code`` and answers ``None``."""
        try:
            with UnitOfWork(self.engine) as uow:
                out = fn(uow)
        except HubflowError as exc:
            self.rec.conflicts[f"{what}:{exc.code}"] += 1
            return None
        return out if out is not None else True


def shipment_row_hub(engine: Engine, shipment_id: str) -> str:
    with UnitOfWork(engine, readonly=True) as uow:
        return str(shipment_row(uow.conn, shipment_id)["hub_id"])
