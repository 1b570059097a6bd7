"""The twin's world written through the real services: hubs, merchants and their
catalogs, opening stock, locker banks, vehicle types, vehicles, couriers, gig couriers
and a carrier. ``build`` returns the ids the engine drives them by."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hubflow.catalog.model import Role
from hubflow.catalog.service import Principal, create_key, create_merchant, create_product
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.core.geo import LatLng, haversine_km
from hubflow.delivery import courier as couriers
from hubflow.delivery import fleet_service as fleet
from hubflow.delivery.fleet import CourierKind, Mode, VehicleTypeSpec, spec_for
from hubflow.lockers.model import SizeClass
from hubflow.lockers.service import create_bank
from hubflow.network.model import Capability, HubKind
from hubflow.network.service import create_hub
from hubflow.promise.model import PromiseConfig
from hubflow.promise.service import set_hub_promise
from hubflow.sim.catalog import ProductSpec, catalog_for
from hubflow.sim.floor import set_up_floors
from hubflow.sim.metro import ALWAYS, DARK_STORE_HOURS, STORE_HOURS
from hubflow.sim.scenario import HubPlan, MerchantPlan, Scenario

__all__ = ["Customer", "Product", "Vehicle", "World", "build", "customers", "stock_plan"]

HOURS = {"always": ALWAYS, "store": STORE_HOURS, "dark_store": DARK_STORE_HOURS}
DRIVEN = {Mode.VAN, Mode.CAR, Mode.CARGO_BIKE}  # an employee at the wheel


@dataclass(frozen=True)
class Product:
    id: str
    merchant: str
    spec: ProductSpec


@dataclass(frozen=True)
class Vehicle:
    id: str
    hub: str  # hub key
    mode: Mode
    spec: VehicleTypeSpec
    courier_id: str | None


@dataclass(frozen=True)
class Customer:
    index: int
    area: str
    postcode: str
    lat: float
    lng: float
    member: bool


@dataclass
class World:
    hub_ids: dict[str, str] = field(default_factory=dict)  # key -> id
    hubs: dict[str, HubPlan] = field(default_factory=dict)  # id -> plan
    merchant_ids: dict[str, str] = field(default_factory=dict)  # key -> id
    merchants: dict[str, MerchantPlan] = field(default_factory=dict)  # id -> plan
    products: dict[str, list[Product]] = field(default_factory=dict)  # merchant key -> list
    stocked: dict[str, set[str]] = field(default_factory=dict)  # hub key -> product ids
    banks: dict[str, tuple[float, float]] = field(default_factory=dict)  # bank id -> point
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    gig: dict[str, Principal] = field(default_factory=dict)  # courier id -> its principal
    gig_modes: dict[str, Mode] = field(default_factory=dict)
    operator: Principal | None = None
    units_stocked: int = 0
    opening: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    # hub id -> (merchant id, product id, units) as stocked before the first day

    def op(self) -> Principal:
        assert self.operator is not None
        return self.operator


def customers(sc: Scenario) -> list[Customer]:
    """The metro's shoppers: spread around the areas in proportion to population."""
    rng = random.Random(f"hubflow-customers-{sc.seed}")
    areas = list(sc.areas)
    weights = [a.population for a in areas]
    out = []
    for i in range(sc.demand.customers):
        a = rng.choices(areas, weights=weights)[0]
        lat = a.lat + rng.gauss(0, a.spread_km) / 111.32
        lng = a.lng + rng.gauss(0, a.spread_km) / (111.32 * math.cos(math.radians(a.lat)))
        member = rng.random() < sc.demand.member_share
        out.append(Customer(i, a.name, a.postcode, round(lat, 6), round(lng, 6), member))
    return out


def _expected(sc: Scenario, m: MerchantPlan, total_pop: float, p: ProductSpec) -> float:
    """Units of ``p`` a day's demand asks for across the metro."""
    share = m.share / sum(x.share for x in sc.merchants)
    lines = sum(n * w for n, w in zip((1, 2, 3, 4), sc.demand.lines, strict=True)) / sum(
        sc.demand.lines
    )
    qty = (1 + p.max_per_order) / 2 * 0.8
    return sc.demand.orders_per_day * share * lines * qty * p.popularity / total_pop


def stock_plan(
    sc: Scenario, catalogs: dict[str, list[ProductSpec]]
) -> list[tuple[str, str, str, int]]:
    """(merchant key, sku, hub key, units): the fulfillment centers hold most of the
    catalog in depth, dark stores and stores the best sellers and a slice of the tail."""
    rng = random.Random(f"hubflow-twin-stock-{sc.seed}")
    out = []
    n_stores = max(1, sum(h.kind is HubKind.STORE for h in sc.hubs))
    for m in sc.merchants:
        products = catalogs[m.kind]
        total = sum(p.popularity for p in products)
        ranked = sorted(products, key=lambda p: -p.popularity)
        best = {p.sku for p in ranked[: max(1, len(ranked) // 4)]}
        for hub in sc.hubs:
            for p in products:
                daily = _expected(sc, m, total, p) * sc.stock_days
                if hub.kind is HubKind.FULFILLMENT_CENTER:
                    if p.sku not in best and rng.random() >= m.fc_coverage:
                        continue
                    qty = daily * 1.2 + rng.randint(10, 40)
                elif hub.kind is HubKind.DARK_STORE:
                    if p.value_cents > 20000 or rng.random() >= (0.9 if p.sku in best else 0.2):
                        continue
                    qty = daily * 0.3 + rng.randint(5, 15)
                else:
                    if m.stores is not None and hub.key not in m.stores:
                        continue
                    if p.dims_mm[0] > 900 or rng.random() >= (
                        0.85 if p.sku in best else m.store_coverage
                    ):
                        continue
                    qty = daily * 2.0 / n_stores + rng.randint(3, 12)
                out.append((m.key, p.sku, hub.key, math.ceil(qty)))
    return out


def _hub(uow: UnitOfWork, sc: Scenario, h: HubPlan, now: datetime) -> str:
    caps: tuple[Capability, ...] = ()
    if h.kind is HubKind.STORE:
        caps = (
            (Capability.PICK_UP_IN_STORE,)
            if h.pickup_only
            else (Capability.SHIP_FROM_STORE, Capability.PICK_UP_IN_STORE)
        )
    hub = create_hub(
        uow,
        now,
        name=h.name,
        kind=h.kind.value,
        lat=h.lat,
        lng=h.lng,
        timezone=sc.timezone,
        region=sc.region,
        opening_hours=HOURS.get(h.hours, ALWAYS),
        capabilities=sorted(c.value for c in caps),
        service_radius_km=h.radius_km,
    )
    if h.promise:
        set_hub_promise(uow, hub.id, h.promise, now, PromiseConfig())
    return hub.id


def build(engine: Engine, sc: Scenario, now: datetime) -> World:
    """Write the scenario's network into an empty (migrated) database."""
    w = World()
    with UnitOfWork(engine) as uow:
        _, key_id = create_key(uow, Role.OPERATOR, None, "twin operator", now)
        w.operator = Principal(Role.OPERATOR, key_id, None)
        for h in sc.hubs:
            hid = _hub(uow, sc, h, now)
            w.hub_ids[h.key], w.hubs[hid] = hid, h
    catalogs = catalog_for(sc.catalog_seed, tuple(sorted({m.kind for m in sc.merchants})))
    by_sku: dict[tuple[str, str], str] = {}
    specs: dict[str, ProductSpec] = {}
    with UnitOfWork(engine) as uow:
        for m in sc.merchants:
            merchant, _ = create_merchant(uow, m.name, m.kind, now)
            w.merchant_ids[m.key], w.merchants[merchant["id"]] = merchant["id"], m
            w.products[m.key] = []
            for p in catalogs[m.kind]:
                length, width, height = p.dims_mm
                prod = create_product(
                    uow,
                    merchant["id"],
                    now,
                    sku=p.sku,
                    name=p.name,
                    length_mm=length,
                    width_mm=width,
                    height_mm=height,
                    weight_g=p.weight_g,
                    value_amount=p.value_cents,
                    currency=sc.currency,
                    temperature=p.temperature.value,
                    hazmat=p.hazmat,
                )
                w.products[m.key].append(Product(prod.id, m.key, p))
                by_sku[(m.key, p.sku)] = prod.id
                specs[prod.id] = p
    # The opening stock goes in through the hubs' docks into bins (sim/floor.py); what no
    # bin takes stays at the dock and is not sold.
    stock = [
        (w.hub_ids[hkey], w.merchant_ids[mkey], by_sku[(mkey, sku)], qty)
        for mkey, sku, hkey, qty in stock_plan(sc, catalogs)
    ]
    stowed = set_up_floors(engine, w.hubs, stock, specs, now, sc.seed)
    keys = {hid: h.key for hid, h in w.hubs.items()}
    for hid, mid, pid, _ in stock:
        qty = stowed[hid].units.get(pid, 0)
        if qty:
            w.stocked.setdefault(keys[hid], set()).add(pid)
            w.units_stocked += qty
            w.opening.setdefault(hid, []).append((mid, pid, qty))
    _lockers(engine, sc, w, now)
    _fleet(engine, sc, w, now)
    return w


def _lockers(engine: Engine, sc: Scenario, w: World, now: datetime) -> None:
    with UnitOfWork(engine) as uow:
        for lk in sc.lockers:
            comps = [
                (f"{size}{i + 1:02d}", SizeClass(size))
                for size, n in sorted(lk.compartments.items())
                for i in range(n)
            ]
            bank = create_bank(
                uow, lk.name, "public", w.hub_ids[lk.hub], lk.lat, lk.lng, comps, now
            )
            w.banks[bank["id"]] = (lk.lat, lk.lng)


def _fleet(engine: Engine, sc: Scenario, w: World, now: datetime) -> None:
    with UnitOfWork(engine) as uow:
        modes = sorted({m for h in sc.hubs for m in sc.fleet_of(h)} | set(sc.gig))
        types = {
            m: fleet.create_vehicle_type(uow, f"twin {m}", Mode(m), {}, now)["id"] for m in modes
        }
        n = 0
        for h in sc.hubs:
            hid = w.hub_ids[h.key]
            for mode, count in sorted(sc.fleet_of(h).items()):
                for i in range(count):
                    v = fleet.create_vehicle(uow, f"{h.name} {mode} {i + 1}", types[mode], hid, now)
                    cid = None
                    if Mode(mode) in DRIVEN:
                        n += 1
                        c, _ = fleet.create_courier(
                            uow,
                            f"Driver {n}",
                            CourierKind.EMPLOYEE,
                            hid,
                            Mode(mode),
                            now,
                            vehicle_id=v["id"],
                        )
                        cid = c["id"]
                    w.vehicles[v["id"]] = Vehicle(
                        v["id"], h.key, Mode(mode), spec_for(Mode(mode)), cid
                    )
        shipping = [h for h in sc.hubs if sc.fleet_of(h)]
        rng = random.Random(f"hubflow-gig-{sc.seed}")
        for mode, count in sorted(sc.gig.items()):
            for i in range(count):
                hub = rng.choice(shipping) if shipping else sc.hubs[0]
                c, _ = fleet.create_courier(
                    uow,
                    f"Gig {mode} {i + 1}",
                    CourierKind.GIG,
                    w.hub_ids[hub.key],
                    Mode(mode),
                    now,
                )
                w.gig[c["id"]] = Principal(Role.COURIER, f"twin-{c['id']}", None, c["id"])
                w.gig_modes[c["id"]] = Mode(mode)
        if sc.carrier:
            card: dict[str, Any] = {
                k: sc.carrier[k] for k in ("base", "per_kg", "per_km") if k in sc.carrier
            }
            fleet.create_carrier(
                uow,
                str(sc.carrier.get("name", "Carrier")),
                card,
                str(sc.carrier.get("cutoff", "18:00")),
                now,
            )


def start_shifts(engine: Engine, w: World, starts: datetime, ends: datetime) -> list[str]:
    """Every courier's shift (a gig courier's availability) for the day, started. Answers
    the error codes of those that could not start (still on a route from the day before)."""
    refused = []
    ids = [v.courier_id for v in w.vehicles.values() if v.courier_id] + sorted(w.gig)
    with UnitOfWork(engine) as uow:
        for cid in ids:
            try:
                with uow.conn.begin_nested():
                    fleet.create_shift(uow, cid, starts, ends, starts)
                    couriers.start_shift(uow, w.op(), cid, starts)
            except HubflowError as exc:
                refused.append(exc.code)
    return refused


def nearest(
    points: dict[str, tuple[float, float]], lat: float, lng: float, within_km: float
) -> list[str]:
    """Keys of ``points`` within ``within_km`` of (lat, lng), nearest first."""
    here = LatLng(lat, lng)
    found = [(haversine_km(here, LatLng(*p)), k) for k, p in points.items()]
    return [k for d, k in sorted(found) if d <= within_km]
