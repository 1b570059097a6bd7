"""The twin's hub floors and the report's per-day table."""

from __future__ import annotations

import dataclasses

from hubflow.network.model import HubKind
from hubflow.sim.catalog import catalog_for
from hubflow.sim.floor import BOXES, layout_for
from hubflow.sim.report import _days
from hubflow.sim.scenario import HubPlan


def _plan(kind: HubKind, **layout: int) -> HubPlan:
    plan = HubPlan.from_dict({"key": "h", "kind": kind.value})
    return dataclasses.replace(plan, layout=layout)


def test_a_floor_is_sized_to_its_kind_and_grows_for_its_stock() -> None:
    small = layout_for(_plan(HubKind.STORE), litres=1_000, kg=500, seed=1)
    fc = layout_for(_plan(HubKind.FULFILLMENT_CENTER), litres=1_000, kg=500, seed=1)
    assert len(small.aisles) == 6 and len(fc.aisles) == 14 and len(fc.bins) > len(small.bins)
    grown = layout_for(_plan(HubKind.STORE), litres=200_000, kg=500, seed=1)
    litres = sum(b.width_mm * b.depth_mm * b.height_mm for b in grown.bins) / 1e6 * 0.85
    assert len(grown.aisles) > 6 and 0.4 * litres >= 200_000
    custom = layout_for(_plan(HubKind.STORE, aisles=3, levels=2), litres=10, kg=1, seed=1)
    assert len(custom.aisles) == 3 and {b.level for b in custom.bins} == {0, 1}


def _fits(item: tuple[int, ...], room: tuple[int, ...]) -> bool:
    return all(a <= b for a, b in zip(sorted(item), sorted(room), strict=True))


def test_every_product_fits_a_fulfillment_center_bin_and_a_box() -> None:
    fc = layout_for(_plan(HubKind.FULFILLMENT_CENTER), litres=10, kg=1, seed=1)
    rooms = {(x.width_mm, x.depth_mm, x.height_mm) for x in fc.bins}
    kinds = ("bakery", "grocer", "electronics", "auto_parts")
    for p in (p for ps in catalog_for(7, kinds).values() for p in ps):
        assert any(_fits(p.dims_mm, r) for r in rooms), p.name
        assert any(_fits(p.dims_mm, tuple(b["dims_mm"])) for b in BOXES), p.name


def test_the_report_shows_days_only_for_several() -> None:
    assert _days({"by_day": {"orders": [5]}}) == ""
    html = _days({"by_day": {"orders": [5, 7], "packed": [4, 8]}})
    assert "day 2" in html and "<td>7</td>" in html and "parcels packed" in html
