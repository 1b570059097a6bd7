"""The twin's report: one self-contained HTML page (inline CSS and SVG, no scripts, no
network) with the headline KPIs, hourly charts, per-mode bars, the promise table and a
map of hubs, lockers and driven routes drawn from the scenario's own coordinates."""

from __future__ import annotations

import math
from html import escape
from typing import Any

__all__ = ["MODE_COLOURS", "headline", "render"]

MODE_COLOURS = {
    "van": "#1f77b4",
    "car": "#ff7f0e",
    "cargo_bike": "#2ca02c",
    "autonomous_van": "#9467bd",
    "drone": "#d62728",
    "robot": "#8c564b",
}
HUB_COLOURS = {"fulfillment_center": "#111", "dark_store": "#555", "store": "#999"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:1100px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;
padding:8px 12px;min-width:130px}.card b{display:block;font-size:20px}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;
padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
svg text{font-size:11px;fill:#444}.legend span{display:inline-block;margin-right:12px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def headline(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The few figures a newcomer reads first, as (label, value)."""
    d = r["day"]
    kept = [p["kept_share"] for p in d["promises"].values() if p.get("kept_share") is not None]
    outcomes = d["order_outcomes"]
    same = d["order_to_door_minutes"].get("same_day", {}).get("p50")
    return [
        ("orders", f"{d['orders']:,}"),
        ("delivered", f"{outcomes.get('delivered', 0):,}"),
        ("promises kept", f"{min(kept):.0%}-{max(kept):.0%}" if kept else "-"),
        ("same-day p50", f"{same:.0f} min" if same is not None else "-"),
        ("cost / parcel", f"${d['cost_per_parcel']:.2f}" if d["cost_per_parcel"] else "-"),
        ("km driven", f"{d['km_total']:,.0f}"),
        ("kg CO2e", f"{d['kg_co2e']:,.1f}"),
        ("failed attempts", f"{d['failed_deliveries']:,}"),
        ("locker deposits", f"{d['lockers']['deposits']:,}"),
        ("returns", f"{d['returns']['created']:,}"),
    ]


def _lines(series: dict[str, list[int]], width: int = 1000, height: int = 220) -> str:
    """A line chart of hourly counts, one polyline per series."""
    colours = ["#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd"]
    n = max((len(v) for v in series.values()), default=0)
    top = max((max(v) for v in series.values() if v), default=0) or 1
    left, bottom = 40, 20
    w, h = width - left - 10, height - bottom - 10
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img">']
    for i in range(0, n, 2):
        x = left + w * i / max(1, n - 1)
        parts.append(f'<text x="{x:.0f}" y="{height - 4}" text-anchor="middle">{i % 24}h</text>')
    for frac in (0, 0.5, 1):
        y = 10 + h * (1 - frac)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.0f}" y2="{y:.0f}" '
            f'stroke="#eee"/><text x="4" y="{y + 4:.0f}">{top * frac:.0f}</text>'
        )
    for (name, values), colour in zip(series.items(), colours, strict=False):
        pts = " ".join(
            f"{left + w * i / max(1, n - 1):.1f},{10 + h * (1 - v / top):.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}">'
            f"<title>{escape(name)}</title></polyline>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{escape(k)}</span>'
        for k, c in zip(series, colours, strict=False)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _bars(values: dict[str, float], unit: str, width: int = 500) -> str:
    top = max(values.values(), default=0) or 1
    row = 22
    parts = [f'<svg viewBox="0 0 {width} {row * len(values) + 6}" width="{width}" role="img">']
    for i, (k, v) in enumerate(values.items()):
        y = i * row + 3
        bw = (width - 230) * v / top
        parts.append(
            f'<text x="0" y="{y + 14}">{escape(k.replace("_", " "))}</text>'
            f'<rect x="110" y="{y}" width="{bw:.1f}" height="16" '
            f'fill="{MODE_COLOURS.get(k, "#888")}"/>'
            f'<text x="{114 + bw:.1f}" y="{y + 14}">{v:,.1f} {escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _map(r: dict[str, Any], width: int = 1000, height: int = 700) -> str:
    """Hubs, lockers and driven routes on an equirectangular projection of the metro."""
    pts = [(h["lat"], h["lng"]) for h in r["hubs"]] + [(x["lat"], x["lng"]) for x in r["lockers"]]
    pts += [tuple(p) for route in r["routes"] for p in route["path"]]
    if not pts:
        return ""
    lat0, lat1 = min(p[0] for p in pts), max(p[0] for p in pts)
    lng0, lng1 = min(p[1] for p in pts), max(p[1] for p in pts)
    k = math.cos(math.radians((lat0 + lat1) / 2))
    span = max((lng1 - lng0) * k, lat1 - lat0, 1e-6)
    scale = (min(width, height) - 40) / span

    def xy(lat: float, lng: float) -> tuple[float, float]:
        return 20 + (lng - lng0) * k * scale, height - 20 - (lat - lat0) * scale

    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        'style="background:#f7f9fb;border:1px solid #ddd">'
    ]
    for route in r["routes"]:
        line = " ".join("{:.1f},{:.1f}".format(*xy(*p)) for p in route["path"])
        colour = MODE_COLOURS.get(route["mode"], "#888")
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-opacity="0.45" '
            f'stroke-width="1.2" points="{line}"/>'
        )
    for x in r["lockers"]:
        cx, cy = xy(x["lat"], x["lng"])
        parts.append(
            f'<rect x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" '
            f'fill="#e6b800" transform="rotate(45 {cx:.1f} {cy:.1f})">'
            f"<title>{escape(x['name'])}</title></rect>"
        )
    for hub in r["hubs"]:
        cx, cy = xy(hub["lat"], hub["lng"])
        size = 12 if hub["kind"] == "fulfillment_center" else 8
        parts.append(
            f'<rect x="{cx - size / 2:.1f}" y="{cy - size / 2:.1f}" width="{size}" '
            f'height="{size}" fill="{HUB_COLOURS.get(hub["kind"], "#999")}">'
            f"<title>{escape(hub['name'])}</title></rect>"
            f'<text x="{cx + 8:.1f}" y="{cy + 4:.1f}">{escape(hub["name"])}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i class="sw" style="background:{c}"></i>{m.replace("_", " ")}</span>'
        for m, c in MODE_COLOURS.items()
    )
    legend += (
        '<span><i class="sw" style="background:#111"></i>hub</span>'
        '<span><i class="sw" style="background:#e6b800"></i>locker bank</span>'
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _hub_work(hw: dict[str, Any]) -> str:
    """Waves, carts and packing, for all hubs and per kind of hub."""
    waves = hw["wave_shipments"]
    overall = _table(
        ["inside the hubs", "value"],
        [
            ["waves released", hw["waves"]],
            ["shipments per wave (mean / p50 / max)", f"{_fmt(waves['mean'])} / "
             f"{_fmt(waves['p50'])} / {_fmt(waves['max'])}"],
            ["carts picked", hw["carts"]],
            ["lines picked", hw["lines_picked"]],
            ["picks per hour of picking", hw["picks_per_hour"]],
            ["walking metres per line", hw["walk_m_per_line"]],
            ["parcels packed", hw["parcels_packed"]],
            ["cart back to packed, p50 / p90 min", f"{_fmt(hw['pick_to_pack_minutes_p50'])} / "
             f"{_fmt(hw['pick_to_pack_minutes_p90'])}"],
            ["order to packed, p50 / p90 min", f"{_fmt(hw['order_to_packed_minutes_p50'])} / "
             f"{_fmt(hw['order_to_packed_minutes_p90'])}"],
            ["units received (stowed)", hw["units_received"]],
            ["units left at the dock", hw["units_left_at_dock"]],
        ],
    )  # fmt: skip
    kinds = _table(
        ["hub kind", "carts", "lines", "picks / h", "m / line", "lines / cart", "parcels"],
        [
            [
                k.replace("_", " "),
                v["carts"],
                v["lines_picked"],
                v["picks_per_hour"],
                v["walk_m_per_line"],
                v["lines_per_cart"],
                v["parcels_packed"],
            ]
            for k, v in hw["by_hub_kind"].items()
        ],
    )
    return overall + "<h3>Per kind of hub</h3>" + kinds


DAILY = (
    ("orders", "orders"),
    ("delivered", "delivered"),
    ("orders_completed", "orders completed"),
    ("failed", "failed attempts"),
    ("packed", "parcels packed"),
    ("lines_picked", "lines picked"),
    ("received_units", "units received"),
    ("locker_deposits", "locker deposits"),
    ("returns", "returns"),
)


def _days(r: dict[str, Any]) -> str:
    """Per simulated day, when the run has more than one."""
    by_day = r.get("by_day", {})
    n = max((len(v) for v in by_day.values()), default=0)
    if n < 2:
        return ""
    rows = [[label, *by_day.get(k, [0] * n)] for k, label in DAILY if k in by_day]
    return "<h2>Per day</h2>" + _table(["", *(f"day {i + 1}" for i in range(n))], rows)


def render(r: dict[str, Any]) -> str:
    d, hourly = r["day"], r["by_hour"]
    cards = "".join(
        f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in headline(r)
    )
    promises = _table(
        ["option", "kept", "late", "missed", "open", "kept share", "p50 min", "p90 min"],
        [
            [
                opt,
                c.get("kept", 0),
                c.get("late", 0),
                c.get("missed", 0),
                c.get("open", 0),
                c.get("kept_share"),
                d["order_to_door_minutes"].get(opt, {}).get("p50"),
                d["order_to_door_minutes"].get(opt, {}).get("p90"),
            ]
            for opt, c in d["promises"].items()
        ],
    )
    modes = d["modes"]
    mode_table = _table(
        ["mode", "routes", "parcels", "failed", "km", "kg CO2e", "utilisation"],
        [
            [m, v["routes"], v["parcels"], v["failed"], v["km"], v["kg_co2e"], v["utilisation"]]
            for m, v in modes.items()
        ],
    )
    outcomes = _table(["order outcome", "orders"], [[k, v] for k, v in d["order_outcomes"].items()])
    book = {k: v for k, v in d["ledgers"].items() if k != "bins"}
    bins = d["ledgers"].get("bins", {})
    book.update({f"bins: {k}": v for k, v in bins.items() if k != "off_examples"})
    ledgers = _table(["ledger check", "value"], [[k, str(v)] for k, v in book.items()])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Hubflow twin — {escape(r["scenario"])}</title><style>{CSS}</style></head><body>
<h1>Hubflow digital twin — {escape(r["scenario"])}</h1>
<p>{escape(r["date"])} ({escape(r["timezone"])}), {r["days"]} day(s), seed {r["seed"]};
simulated in {r["wall_seconds"]} s ({r["simulated_orders_per_s"]} orders/s).</p>
<div class="cards">{cards}</div>
<h2>Per hour (local time)</h2>
{
        _lines(
            {
                "orders": hourly["orders"],
                "delivered": hourly["delivered"],
                "failed": hourly["failed"],
                "packed": hourly["packed"],
                "locker deposits": hourly["locker_deposits"],
            }
        )
    }
{_days(r)}
<h2>Delivery promises</h2>{promises}
<h2>Modes</h2>{mode_table}
<h3>Parcels per mode</h3>{_bars({m: v["parcels"] for m, v in modes.items()}, "parcels")}
<h3>Kilometres per mode</h3>{_bars({m: v["km"] for m, v in modes.items()}, "km")}
<h3>Emissions per mode</h3>{_bars({m: v["kg_co2e"] for m, v in modes.items()}, "kg CO2e")}
<h2>Map: hubs, locker banks and routes driven</h2>{_map(r)}
<h2>Inside the hubs</h2>{_hub_work(d["hub_work"])}
<h2>Where orders ended</h2>{outcomes}
<h2>Ledgers</h2>{ledgers}
</body></html>
"""
