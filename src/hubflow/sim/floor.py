"""Each hub's floor in the twin, set up through the real hub services: a generated layout
sized to the hub's kind (and grown until its opening stock fills well under half of it),
a box catalogue, and the opening stock announced on a notice per merchant, scanned in at
the dock and stowed by the put-away list (random stow)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hubflow.core.db import UnitOfWork
from hubflow.fulfillment import inbound
from hubflow.fulfillment.layout import Layout, generate
from hubflow.fulfillment.layouts import put_layout
from hubflow.fulfillment.packing import put_boxes
from hubflow.network.model import HubKind
from hubflow.sim.catalog import ProductSpec
from hubflow.sim.scenario import HubPlan

__all__ = [
    "BOXES",
    "LAYOUTS",
    "Stowed",
    "layout_for",
    "receive_notice",
    "set_up_floors",
    "stow_notice",
]

# Racks by kind: a fulfillment center's pallet racking takes a 65-inch TV flat; stores and
# dark stores have shelving. One block each: Ratliff-Rosenthal then routes exactly and fast.
LAYOUTS: dict[HubKind, dict[str, int]] = {
    HubKind.FULFILLMENT_CENTER: {
        "blocks": 1, "aisles": 14, "bins_per_side": 20, "levels": 3,
        "bin_width_mm": 1_500, "rack_depth_mm": 900, "aisle_width_mm": 2_400,
    },
    HubKind.DARK_STORE: {
        "blocks": 1, "aisles": 8, "bins_per_side": 12, "levels": 4,
        "bin_width_mm": 1_000, "rack_depth_mm": 600, "aisle_width_mm": 1_500,
    },
    HubKind.STORE: {
        "blocks": 1, "aisles": 6, "bins_per_side": 10, "levels": 4,
        "bin_width_mm": 1_000, "rack_depth_mm": 600, "aisle_width_mm": 1_500,
    },
}  # fmt: skip
FILL = 0.4  # the opening stock takes at most this share of the floor's volume and weight
MAX_AISLES = 200

# Cartons (inner mm, kg limit, cost in cents): a mailer to a flat TV box.
BOXES: list[dict[str, Any]] = [
    {"code": "S", "dims_mm": [300, 200, 150], "max_weight_g": 5_000, "cost": 60},
    {"code": "M", "dims_mm": [450, 350, 250], "max_weight_g": 15_000, "cost": 110},
    {"code": "L", "dims_mm": [600, 400, 400], "max_weight_g": 25_000, "cost": 180},
    {"code": "XL", "dims_mm": [900, 600, 500], "max_weight_g": 35_000, "cost": 300},
    {"code": "TV", "dims_mm": [1_550, 950, 260], "max_weight_g": 40_000, "cost": 450},
]


@dataclass(frozen=True)
class Stowed:
    """What a notice put into bins, and what found no bin with room (left at the dock)."""

    units: dict[str, int]  # product id -> units stowed
    left: dict[str, int]  # product id -> units at the dock


def _capacity(layout: Layout) -> tuple[float, float]:
    """Usable litres (stow keeps 15 % slack) and kilograms of the whole floor."""
    litres = sum(b.width_mm * b.depth_mm * b.height_mm for b in layout.bins) / 1e6 * 0.85
    return litres, sum(b.max_weight_g for b in layout.bins) / 1000


def layout_for(plan: HubPlan, litres: float, kg: float, seed: int) -> Layout:
    """The hub kind's floor with the scenario's overrides, with aisles added until the
    stock fills at most :data:`FILL` of it."""
    spec = {**LAYOUTS[plan.kind], **plan.layout}
    aisles = spec.pop("aisles")
    while True:
        layout = generate(aisles=aisles, seed=seed, zones=("ambient",) * min(4, aisles), **spec)
        cap_l, cap_kg = _capacity(layout)
        if (litres <= FILL * cap_l and kg <= FILL * cap_kg) or aisles >= MAX_AISLES:
            return layout
        aisles = min(MAX_AISLES, max(aisles + 1, math.ceil(aisles * max(litres / FILL / cap_l, 1))))


def receive_notice(
    uow: UnitOfWork,
    merchant_id: str,
    hub_id: str,
    lines: list[tuple[str, int]],
    now: datetime,
    reference: str,
) -> str:
    """A notice for ``lines`` and every unit scanned in at the dock against it."""
    asn = inbound.create_asn(uow, merchant_id, hub_id, lines, now, reference=reference)
    inbound.receive_scans(uow, asn["id"], [(p, q, False) for p, q in sorted(lines)], now)
    return str(asn["id"])


def stow_notice(uow: UnitOfWork, asn_id: str, now: datetime) -> Stowed:
    """The notice's put-away list stowed and the notice closed (what found no bin with
    room stays recorded as received, not stowed)."""
    out = inbound.stow_all(uow, asn_id, now)
    inbound.close_asn(uow, None, asn_id, now)
    units: dict[str, int] = defaultdict(int)
    for x in out["stows"]:
        units[x["product_id"]] += x["quantity"]
    return Stowed(dict(units), dict(out["left_at_dock"]))


def set_up_floors(
    engine: Engine,
    hubs: dict[str, HubPlan],
    stock: list[tuple[str, str, str, int]],
    specs: dict[str, ProductSpec],
    now: datetime,
    seed: int,
) -> dict[str, Stowed]:
    """Layout, boxes and opening stock for every hub. ``hubs``: hub id -> plan; ``stock``:
    (hub id, merchant id, product id, units); ``specs``: product id -> its spec. Answers per
    hub what was stowed."""
    litres: dict[str, float] = defaultdict(float)
    kg: dict[str, float] = defaultdict(float)
    for hub_id, _, pid, qty in stock:
        p = specs[pid]
        litres[hub_id] += math.prod(p.dims_mm) / 1e6 * qty
        kg[hub_id] += p.weight_g / 1000 * qty
    with UnitOfWork(engine) as uow:
        for n, (hub_id, plan) in enumerate(hubs.items()):
            layout = layout_for(plan, litres[hub_id], kg[hub_id], seed + n)
            put_layout(uow, hub_id, layout.as_json(), now)
            put_boxes(uow, hub_id, BOXES)
    by_notice: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for hub_id, mid, pid, qty in stock:
        by_notice[hub_id, mid].append((pid, qty))
    out: dict[str, Stowed] = {}
    for (hub_id, mid), lines in sorted(by_notice.items()):
        with UnitOfWork(engine) as uow:
            asn_id = receive_notice(uow, mid, hub_id, lines, now, "opening stock")
            got = stow_notice(uow, asn_id, now)
        was = out.get(hub_id, Stowed({}, {}))
        out[hub_id] = Stowed({**was.units, **got.units}, {**was.left, **got.left})
    return out
