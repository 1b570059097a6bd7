"""KPIs of a twin run, per hour and per day, from what the engine recorded and what the
database says at the end (the source of truth for where every order and parcel ended).

Emission factors (kg CO2e per vehicle-km, tank-to-wheel for fuel, grid mix for electric):
* van: 0.25, the UK government's 2023 GHG conversion factors (DESNZ/DEFRA), average
  diesel van class III (1.74-3.5 t): 0.25 kg CO2e/km;
* car: 0.17, same source, average petrol car: 0.164 kg CO2e/km (rounded);
* autonomous van: electric, about 0.25 kWh/km (light electric van) x 0.37 kg/kWh
  (US EPA eGRID 2022 national average) = 0.09;
* cargo bike: electric assist, about 0.01 kWh/km x 0.37 = 0.004;
* drone: Stolaroff et al., "Energy use and life cycle greenhouse gas emissions of drones
  for commercial package delivery", Nature Communications 9, 409 (2018): a small
  quadcopter uses about 0.08 kWh per km with a light parcel; x 0.37 = 0.03;
* sidewalk robot: about 0.02 kWh/km x 0.37 = 0.007.
Carrier and gig parcels are counted in their own lines (their vehicles are not ours).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from hubflow.core.db import UnitOfWork
from hubflow.delivery.store import routes_table, tracking_events_table
from hubflow.fulfillment.store import bin_stock_table, bins_table, pick_tasks_table
from hubflow.inventory.store import movements_table, reservations_table, stock_table
from hubflow.lockers.store import compartments_table
from hubflow.orders.store import orders_table, shipments_table
from hubflow.returns.store import refunds_table, return_lines_table, returns_table
from hubflow.sim.recorder import Recorder

__all__ = ["EMISSIONS_KG_PER_KM", "bin_ledger", "compute", "hub_work", "ledgers"]

EMISSIONS_KG_PER_KM = {
    "van": 0.25,
    "car": 0.17,
    "autonomous_van": 0.09,
    "cargo_bike": 0.004,
    "drone": 0.03,
    "robot": 0.007,
}
HOURLY = (
    "quotes",
    "orders",
    "refused",
    "no_option",
    "packed",
    "routes_started",
    "delivered",
    "failed",
    "not_at_home",
    "locker_deposits",
    "locker_pickups",
    "locker_expired",
    "store_pickups",
    "to_carrier",
    "returns",
    "returns_dropped",
    "returns_inspected",
    "received_units",
    "lines_picked",
)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))], 1)


def _final_states(
    engine: Engine,
) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]], dict[str, datetime]]:
    """Order statuses, each order's shipments (id, status), and delivery times."""
    o, s, t = orders_table.c, shipments_table.c, tracking_events_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        conn = uow.conn
        orders = {r.id: r.status for r in conn.execute(select(o.id, o.status))}
        ships: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in conn.execute(select(s.order_id, s.id, s.status).order_by(s.id)):
            ships[r.order_id].append((r.id, r.status))
        delivered = {
            r.shipment_id: r.at
            for r in conn.execute(
                select(t.shipment_id, func.max(t.at).label("at"))
                .where(t.kind.in_(["delivered", "ready_for_pickup"]))
                .group_by(t.shipment_id)
            )
        }
    return orders, ships, delivered


def ledgers(engine: Engine) -> dict[str, Any]:
    """Stock and money balance checks: every stock position equals the sum of its ledger
    movements, reservations match the reserved column, refunds equal returned value less
    fees."""
    st, mv, rs = stock_table.c, movements_table.c, reservations_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        conn = uow.conn
        on_hand = {
            (r.hub_id, r.product_id): (r.on_hand, r.reserved)
            for r in conn.execute(select(st.hub_id, st.product_id, st.on_hand, st.reserved))
        }
        moved = {
            (r.hub_id, r.product_id): (r.oh, r.rv)
            for r in conn.execute(
                select(
                    mv.hub_id,
                    mv.product_id,
                    func.sum(mv.on_hand_delta).label("oh"),
                    func.sum(mv.reserved_delta).label("rv"),
                ).group_by(mv.hub_id, mv.product_id)
            )
        }
        active = {
            (r.hub_id, r.product_id): r.q
            for r in conn.execute(
                select(rs.hub_id, rs.product_id, func.sum(rs.quantity).label("q"))
                .where(rs.status == "active")
                .group_by(rs.hub_id, rs.product_id)
            )
        }
        rf, rl, rt = refunds_table.c, return_lines_table.c, returns_table.c
        refunded = conn.execute(select(func.sum(rf.amount), func.sum(rf.fee))).one()
        value = conn.execute(
            select(func.sum(rl.unit_value * rl.quantity)).where(
                rl.return_id.in_(select(rf.return_id))
            )
        ).scalar()
        n_returns = conn.execute(select(func.count()).select_from(returns_table)).scalar()
        inspected = conn.execute(
            select(func.count()).where(rt.status == "inspected").select_from(returns_table)
        ).scalar()
        bins = bin_ledger(conn)
    stock_off = [
        k for k, (oh, rv) in on_hand.items() if moved.get(k, (0, 0))[0] != oh or oh < rv or oh < 0
    ]
    reserved_off = [k for k, (_, rv) in on_hand.items() if active.get(k, 0) != rv]
    amount, fees = int(refunded[0] or 0), int(refunded[1] or 0)
    return {
        "stock_positions": len(on_hand),
        "stock_positions_off_ledger": len(stock_off),
        "reserved_off": len(reserved_off),
        "units_on_hand": sum(oh for oh, _ in on_hand.values()),
        "units_reserved": sum(rv for _, rv in on_hand.values()),
        "returns": int(n_returns or 0),
        "returns_inspected": int(inspected or 0),
        "refunded": amount,
        "refund_fees": fees,
        "refunded_value": int(value or 0),
        "money_balances": amount + fees == int(value or 0),
        "stock_balances": not stock_off and not reserved_off,
        "bins": bins,
    }


def compute(engine: Engine, rec: Recorder, meta: dict[str, Any]) -> dict[str, Any]:
    """The results document: ``meta`` (scenario, seed, timings) plus the KPIs."""
    midnight: datetime = meta["midnight"]
    hours: int = meta["hours"]
    orders, ships, done_at = _final_states(engine)

    outcomes: Counter[str] = Counter()
    kept: dict[str, Counter[str]] = defaultdict(Counter)
    to_door: dict[str, list[float]] = defaultdict(list)
    delivered_by_hour: Counter[int] = Counter()
    for oid, fact in sorted(rec.orders.items()):
        statuses = [st for _, st in ships.get(oid, [])]
        times = [done_at[sid] for sid, _ in ships.get(oid, []) if sid in done_at]
        status = orders.get(oid, "missing")
        finished = len(times) == len(statuses) and statuses
        outcome = _outcome(status, statuses)
        outcomes[outcome] += 1
        if finished and outcome in ("delivered", "awaiting_pickup"):
            at = max(times)
            minutes = (at - fact.placed_at).total_seconds() / 60
            to_door[fact.option].append(minutes)
            delivered_by_hour[int((at - midnight).total_seconds() // 3600)] += 1
            ok = fact.promised_by is None or at <= fact.promised_by
            kept[fact.option]["kept" if ok else "late"] += 1
        elif fact.promised_by is not None and fact.promised_by <= meta["end"]:
            kept[fact.option]["missed"] += 1
        else:
            kept[fact.option]["open"] += 1

    per_mode: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    busy: dict[str, float] = defaultdict(float)
    for r in rec.routes.values():
        m = per_mode[r.mode]
        m["routes"] += 1
        m["parcels"] += r.delivered + r.lockers
        m["failed"] += r.failed
        m["km"] += r.km
        m["kg_co2e"] += r.km * EMISSIONS_KG_PER_KM.get(r.mode, 0.0)
        end = r.ended_at or meta["end"]
        busy[r.mode] += (end - r.started_at).total_seconds()
    fleet: Counter[str] = Counter(meta["fleet"])
    util: dict[str, float | None] = {}
    for mode, m in per_mode.items():
        m["km"], m["kg_co2e"] = round(m["km"], 1), round(m["kg_co2e"], 2)
        available_s = fleet.get(mode, 0) * meta["available_hours"].get(mode, 0.0) * 3600
        # Gig couriers drive modes the own fleet may not have: no utilisation for them.
        util[mode] = round(busy[mode] / available_s, 3) if available_s else None

    rt = routes_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        route_cost = uow.conn.execute(
            select(func.coalesce(func.sum(rt.cost), 0)).where(
                rt.status.in_(["started", "completed"])
            )
        ).scalar_one()
        lockers_busy = uow.conn.execute(
            select(func.count()).where(compartments_table.c.status != "free")
        ).scalar_one()
    delivered_parcels = sum(1 for s in done_at) + rec.carrier_parcels
    cost = int(route_cost) + rec.carrier_cost + rec.gig_pay
    by_hour = {k: [rec.by_hour[k].get(h, 0) for h in range(hours)] for k in HOURLY}
    by_hour["orders_completed"] = [delivered_by_hour.get(h, 0) for h in range(hours)]
    n_orders = len(rec.orders)
    book = ledgers(engine)
    day = {
        "quotes": sum(by_hour["quotes"]),
        "orders": n_orders,
        "refused": dict(rec.refused),
        "no_option": dict(rec.unavailable),
        "order_outcomes": dict(sorted(outcomes.items())),
        "promises": {
            opt: {**dict(c), "kept_share": _share(c["kept"], c["kept"] + c["late"] + c["missed"])}
            for opt, c in sorted(kept.items())
        },
        "order_to_door_minutes": {
            opt: {"p50": _pct(v, 0.5), "p90": _pct(v, 0.9), "n": len(v)}
            for opt, v in sorted(to_door.items())
        },
        "parcels_delivered": delivered_parcels,
        "cost_per_parcel": round(cost / delivered_parcels / 100, 2) if delivered_parcels else None,
        "cost_total": round(cost / 100, 2),
        "modes": {k: _mode(v, util.get(k)) for k, v in sorted(per_mode.items())},
        "km_total": round(sum(v["km"] for v in per_mode.values()), 1),
        "kg_co2e": round(sum(v["kg_co2e"] for v in per_mode.values()), 2),
        "kg_co2e_per_parcel": _share(
            sum(v["kg_co2e"] for v in per_mode.values()), delivered_parcels, 4
        ),
        "carrier_parcels": rec.carrier_parcels,
        "gig_offers": dict(rec.offers),
        "failed_deliveries": sum(rec.fail_reasons.values()),
        "fail_reasons": dict(rec.fail_reasons),
        "after_failure": dict(rec.after_failure),
        "lockers": {
            "deposits": sum(by_hour["locker_deposits"]),
            "pickups": sum(by_hour["locker_pickups"]),
            "expired": sum(by_hour["locker_expired"]),
            "occupied_at_end": int(lockers_busy),
        },
        "store_pickups": sum(by_hour["store_pickups"]),
        "returns": {
            "created": sum(by_hour["returns"]),
            "dropped_off": sum(by_hour["returns_dropped"]),
            "inspected": sum(by_hour["returns_inspected"]),
            "refunded": round(book["refunded"] / 100, 2),
        },
        "hub_work": hub_work(rec),
        "dispatch": {
            "epochs": rec.dispatch_runs,
            "routes_planned": rec.planned_routes,
            "routes_driven": len(rec.routes),
            "planner_seconds": round(rec.dispatch_ms / 1000, 1),
            "checker_violations": rec.violations,
        },
        "conflicts": dict(sorted(rec.conflicts.items())),
        "ledgers": book,
    }
    # ``day`` sums the whole run; ``by_day`` splits the hourly counts per simulated day.
    by_day = {k: [sum(v[d : d + 24]) for d in range(0, hours, 24)] for k, v in by_hour.items()}
    return {
        **{k: v for k, v in meta.items() if k not in ("midnight", "end")},
        "day": day,
        "by_hour": by_hour,
        "by_day": by_day,
        "routes": _routes(rec),
    }


def _picking(lines: float, carts: float, walk_mm: float, picking_s: float) -> dict[str, Any]:
    return {
        "lines_picked": int(lines),
        "carts": int(carts),
        "picks_per_hour": _share(lines, picking_s / 3600, 1),
        "walk_m_per_line": _share(walk_mm / 1000, lines, 1),
        "lines_per_cart": _share(lines, carts, 1),
    }


def hub_work(rec: Recorder) -> dict[str, Any]:
    """Receiving, waves, carts and packing: picks per hour are lines per hour of picking
    (walking and at the shelf, packing apart)."""
    waves = rec.wave_sizes
    return {
        "units_received": rec.received_units,
        "units_left_at_dock": rec.left_at_dock,
        "waves": len(waves),
        "wave_shipments": {
            "mean": _share(sum(waves), len(waves), 1),
            "p50": _pct([float(w) for w in waves], 0.5),
            "max": max(waves, default=None),
        },
        **_picking(rec.picked_lines, rec.carts, rec.walk_mm, rec.picking_s),
        "parcels_packed": rec.packed,
        "pick_to_pack_minutes_p50": _pct([w / 60 for w in rec.pick_to_pack_s], 0.5),
        "pick_to_pack_minutes_p90": _pct([w / 60 for w in rec.pick_to_pack_s], 0.9),
        "order_to_packed_minutes_p50": _pct([w / 60 for w in rec.pick_wait_s], 0.5),
        "order_to_packed_minutes_p90": _pct([w / 60 for w in rec.pick_wait_s], 0.9),
        "by_hub_kind": {
            kind: {
                **_picking(c["lines"], c["carts"], c["walk_mm"], c["picking_ms"] / 1000),
                "parcels_packed": c["packed"],
            }
            for kind, c in sorted(rec.by_kind.items())
        },
    }


def bin_ledger(conn: Connection) -> dict[str, Any]:
    """Bins against the hub's count, for hubs that keep stock in bins: every unit on hand
    is in a bin or picked into a tote for an order whose units have not left yet."""
    b, bs, st = bins_table.c, bin_stock_table.c, stock_table.c
    t, s, rs = pick_tasks_table.c, shipments_table.c, reservations_table.c
    binned = {r.hub_id for r in conn.execute(select(b.hub_id).distinct())}
    in_bins: Counter[tuple[str, str]] = Counter()
    for r in conn.execute(
        select(bs.hub_id, bs.product_id, func.sum(bs.quantity).label("q")).group_by(
            bs.hub_id, bs.product_id
        )
    ):
        in_bins[r.hub_id, r.product_id] += int(r.q)
    open_ = {
        (r.owner_id, r.hub_id, r.product_id)
        for r in conn.execute(
            select(rs.owner_id, rs.hub_id, rs.product_id).where(rs.status == "active")
        )
    }
    in_totes: Counter[tuple[str, str]] = Counter()
    for x in conn.execute(
        select(s.order_id, s.hub_id, t.product_id, t.picked)
        .join(shipments_table, s.id == t.shipment_id)
        .where(t.picked > 0)
    ):
        if (x.order_id, x.hub_id, x.product_id) in open_:
            in_totes[x.hub_id, x.product_id] += x.picked
    on_hand = {
        (r.hub_id, r.product_id): r.on_hand
        for r in conn.execute(select(st.hub_id, st.product_id, st.on_hand))
        if r.hub_id in binned
    }
    keys = set(on_hand) | set(in_bins)
    off = sorted(k for k in keys if on_hand.get(k, 0) != in_bins[k] + in_totes[k])
    return {
        "positions": len(keys),
        "units_in_bins": sum(in_bins.values()),
        "units_in_totes": sum(in_totes.values()),
        "off": len(off),
        "off_examples": [{"hub_id": h, "product_id": p} for h, p in off[:5]],
        "balances": not off,
    }


def _routes(rec: Recorder) -> list[dict[str, Any]]:
    return [
        {
            "id": r.route_id,
            "mode": r.mode,
            "hub": r.hub,
            "km": round(r.km, 2),
            "delivered": r.delivered,
            "failed": r.failed,
            "path": [[round(a, 5), round(b, 5)] for a, b in r.path],
        }
        for r in sorted(rec.routes.values(), key=lambda r: (r.started_at, r.route_id))
    ]


def _mode(m: dict[str, float], utilisation: float | None) -> dict[str, Any]:
    counts = {k: int(m[k]) for k in ("routes", "parcels", "failed")}
    return {**m, **counts, "utilisation": utilisation}


def _share(a: float, b: float, digits: int = 3) -> float | None:
    return round(a / b, digits) if b else None


def _outcome(order_status: str, shipment_statuses: list[str]) -> str:
    """Where an order ended: delivered, awaiting pick-up, failed (with why), cancelled, or
    still open."""
    if order_status == "cancelled":
        return "cancelled"
    if shipment_statuses and all(s == "delivered" for s in shipment_statuses):
        return "delivered"
    for s in ("returned_to_hub", "redirected"):
        if s in shipment_statuses:
            return f"failed:{s}"
    if "handed_to_carrier" in shipment_statuses:
        return "with_carrier"
    if "in_locker" in shipment_statuses:
        return "in_locker"
    if "awaiting_pickup" in shipment_statuses:
        return "awaiting_pickup"
    return "open"


def window_hours(start: datetime, end: datetime) -> int:
    return max(1, math.ceil((end - start) / timedelta(hours=1)))
