"""Scenario generator: the default Seattle day as data, larger metros grown from it, and a
small TOML writer (the standard library reads TOML but does not write it).

Geography comes from ``sim/metro.py`` (real neighbourhood coordinates); population per
area is the 2020 census count of the city or neighbourhood, rounded (thousands), so
customers spread the way people live. Merchants come from ``sim/catalog.py``.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from hubflow.network.model import Capability, HubKind
from hubflow.promise.model import DEFAULT_CAPACITY
from hubflow.sim.catalog import MERCHANTS
from hubflow.sim.lastmile import FLEET
from hubflow.sim.metro import METRO, Metro
from hubflow.sim.scenario import Staff

__all__ = ["dumps", "generate", "seattle", "spread"]

# Thousands of residents per area of sim/metro.py (2020 census, rounded; neighbourhoods of
# Seattle from the city's community reporting areas).
POPULATION = {
    "Downtown": 30,
    "Capitol Hill": 35,
    "Queen Anne": 37,
    "Ballard": 40,
    "Fremont": 15,
    "U-District": 40,
    "Beacon Hill": 30,
    "West Seattle": 90,
    "Northgate": 40,
    "Bellevue": 151,
    "Kirkland": 92,
    "Redmond": 73,
    "Renton": 106,
    "Kent": 136,
    "Lynnwood": 38,
    "Burien": 52,
}

# Online orders by local hour (share of the day): a morning ramp, a lunch peak and an
# evening peak after work, little at night.
BY_HOUR = [
    0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 4.5, 5.5, 6.2, 6.8,
    7.2, 6.8, 6.3, 6.0, 6.2, 6.8, 7.5, 7.8, 6.5, 4.8, 2.8, 1.2,
]  # fmt: skip
# Monday first: weekends a little busier for groceries and bakeries.
BY_WEEKDAY = [1.0, 0.95, 0.95, 1.0, 1.05, 1.15, 1.1]

STAFF: dict[HubKind, dict[str, Any]] = {
    HubKind.FULFILLMENT_CENTER: {
        "pickers": 16, "pick_lines_per_hour": 150, "pack_seconds": 60, "shift": ["00:00", "24:00"],
        "receive_at": "05:00", "receive_units_per_hour": 900,
    },
    HubKind.DARK_STORE: {
        "pickers": 5, "pick_lines_per_hour": 120, "pack_seconds": 45, "shift": ["06:00", "24:00"],
        "receive_at": "14:00", "receive_units_per_hour": 600,
    },
    HubKind.STORE: {
        "pickers": 2, "pick_lines_per_hour": 60, "pack_seconds": 90, "shift": ["07:00", "22:00"],
        "receive_at": "13:00", "receive_units_per_hour": 400,
    },
}  # fmt: skip

MERCHANT_SHARE = {"bakery": 0.2, "grocer": 0.4, "electronics": 0.25, "auto_parts": 0.15}
RETURN_RATE = {"bakery": 0.005, "grocer": 0.01, "electronics": 0.08, "auto_parts": 0.06}

# Locker banks at transit stations and busy corners (lat, lng), served by the nearest hub.
LOCKERS = [
    ("westlake", "Westlake Station lockers", 47.6115, -122.3370),
    ("capitol-hill-stn", "Capitol Hill Station lockers", 47.6191, -122.3203),
    ("u-district-stn", "U District Station lockers", 47.6600, -122.3140),
    ("ballard-market", "Ballard Market lockers", 47.6685, -122.3865),
    ("northgate-stn", "Northgate Station lockers", 47.7030, -122.3280),
    ("bellevue-tc", "Bellevue Transit Center lockers", 47.6156, -122.1951),
    ("kirkland-tc", "Kirkland Transit Center lockers", 47.6760, -122.2060),
    ("west-seattle-jn", "Alaska Junction lockers", 47.5610, -122.3870),
    ("sodo-stn", "SoDo Station lockers", 47.5810, -122.3270),
    ("renton-tc", "Renton Transit Center lockers", 47.4810, -122.2090),
]


def _hours(kind: HubKind) -> str:
    return {HubKind.FULFILLMENT_CENTER: "always", HubKind.DARK_STORE: "dark_store"}.get(
        kind, "store"
    )


def _hub(
    key: str, name: str, kind: HubKind, lat: float, lng: float, radius: float, pickup_only: bool
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "kind": kind.value,
        "lat": lat,
        "lng": lng,
        "radius_km": radius,
        "hours": _hours(kind),
        "pickup_only": pickup_only,
        "fleet": {} if pickup_only else dict(FLEET.get(kind, [])),
        "staff": dict(STAFF[kind]),
    }


def _nearest_hub(hubs: list[dict[str, Any]], lat: float, lng: float) -> str:
    def d(h: dict[str, Any]) -> float:
        dlat, dlng = float(h["lat"]) - lat, float(h["lng"]) - lng
        return dlat**2 + (dlng * math.cos(math.radians(lat))) ** 2

    return str(min(hubs, key=d)["key"])


def seattle(metro: Metro = METRO) -> dict[str, Any]:
    """The default scenario: a weekday of the Seattle metro, about 1,200 orders."""
    hubs = [
        _hub(
            h.key,
            h.name,
            h.kind,
            h.lat,
            h.lng,
            h.service_radius_km,
            h.kind is HubKind.STORE and Capability.SHIP_FROM_STORE not in h.capabilities,
        )
        for h in metro.hubs
    ]
    merchants = [
        {
            "key": m.key,
            "name": m.name,
            "kind": m.kind,
            "share": MERCHANT_SHARE[m.kind],
            "fc_coverage": m.fc_coverage,
            "store_coverage": m.store_coverage,
            **({"stores": list(m.stores)} if m.stores is not None else {}),
        }
        for m in MERCHANTS
    ]
    merchants.append(
        {
            "key": "auto_parts",
            "name": "Evergreen Auto Parts",
            "kind": "auto_parts",
            "share": MERCHANT_SHARE["auto_parts"],
            "fc_coverage": 0.9,
            "store_coverage": 0.25,
            "stores": ["northgate", "renton", "lynnwood", "redmond"],
        }
    )
    return {
        "name": f"{metro.name}, one weekday",
        "seed": 7,
        "catalog_seed": 7,
        "date": "2026-11-24",
        "days": 1,
        "start_hour": 6,
        "end_hour": 22,
        "timezone": metro.timezone,
        "region": metro.region,
        "country": metro.country,
        "currency": "USD",
        "stock_days": 1.5,
        "demand": {
            "orders_per_day": 1200,
            "customers": 6000,
            "member_share": 0.35,
            "conversion": 0.9,
            "by_hour": BY_HOUR,
            "by_weekday": BY_WEEKDAY,
            "lines": [35, 30, 20, 15],
            "option_mix": {
                "express_2h": 0.2,
                "same_day": 0.45,
                "next_day": 0.2,
                "standard_2d": 0.05,
                "pickup_in_store": 0.1,
            },
        },
        "delivery": {
            "epoch_minutes": 15,
            "planner_iterations": 300,
            "planner_time_limit_s": 5.0,
            "horizon_hours": 12.0,
            "policy": "greedy",
            "not_at_home": 0.08,
            "locker_radius_km": 1.5,
            "gig_accept": 0.85,
            "traffic_spread": 0.15,
            "locker_collect_hours": [0.5, 20.0],
            "locker_no_show": 0.05,
            "store_collect_hours": [0.5, 8.0],
        },
        "returns": {"rate": RETURN_RATE, "drop_off_hours": [1.0, 10.0], "inspect_hours": 2.0},
        "gig": {"car": 5, "cargo_bike": 3},
        "carrier": {
            "name": "Cascade Parcel",
            "base": 650,
            "per_kg": 95,
            "per_km": 14,
            "cutoff": "18:00",
        },
        "fleet_scale": {},
        "hubs": hubs,
        "merchants": merchants,
        "lockers": [
            {
                "key": key,
                "name": name,
                "hub": _nearest_hub([h for h in hubs if h["fleet"]], lat, lng),
                "lat": lat,
                "lng": lng,
                "compartments": {"S": 12, "M": 8, "L": 4},
            }
            for key, name, lat, lng in LOCKERS
        ],
        "areas": [
            {
                "name": a.name,
                "lat": a.lat,
                "lng": a.lng,
                "spread_km": a.spread_km,
                "population": POPULATION.get(a.name, 20),
                "postcode": a.postcode,
            }
            for a in metro.areas
        ],
    }


def spread(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, largest remainders first (exact)."""
    s = sum(weights) or 1.0
    raw = [total * w / s for w in weights]
    out = [math.floor(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))[: total - sum(out)]:
        out[i] += 1
    return out


def generate(hubs: int, vehicles: int, orders: int, seed: int = 7) -> dict[str, Any]:
    """A bigger Seattle: more stores at seeded points near the residential areas until
    there are ``hubs`` hubs, ``vehicles`` vehicles spread over them in the default mix's
    proportions, and ``orders`` orders a day."""
    data = seattle()
    rng = random.Random(f"hubflow-generate-{seed}")
    areas = data["areas"]
    n = len(data["hubs"])
    while len(data["hubs"]) < hubs:
        a = rng.choices(areas, weights=[x["population"] for x in areas])[0]
        lat = a["lat"] + rng.gauss(0, a["spread_km"]) / 111.32
        lng = a["lng"] + rng.gauss(0, a["spread_km"]) / (111.32 * math.cos(math.radians(lat)))
        n += 1
        data["hubs"].append(
            _hub(
                f"store-{n}",
                f"{a['name']} Store {n}",
                HubKind.STORE,
                round(lat, 5),
                round(lng, 5),
                7.0,
                False,
            )
        )
    data["hubs"] = data["hubs"][:hubs]
    shipping = [h for h in data["hubs"] if h["fleet"]] or data["hubs"]
    for lk in data["lockers"]:
        lk["hub"] = _nearest_hub(shipping, lk["lat"], lk["lng"])
    # Vehicles go where the parcels will be: the default mix's proportions weighed by each
    # hub's load (spread in the mix alone, the fulfillment center had 35 of 300 vehicles
    # for 5,400 of the day's 7,500 express and same-day parcels).
    loads = _loads(data, orders)
    slots = [(i, m) for i, h in enumerate(data["hubs"]) for m in sorted(h["fleet"])]
    counts = spread(vehicles, [data["hubs"][i]["fleet"][m] * loads[i] for i, m in slots])
    for (i, m), c in zip(slots, counts, strict=True):
        data["hubs"][i]["fleet"][m] = c
    _size(data, orders)
    data["demand"]["orders_per_day"] = orders
    data["demand"]["customers"] = max(1000, orders * 4)
    data["gig"] = {k: max(v, round(v * orders / 1200)) for k, v in data["gig"].items()}
    data["name"] = f"Seattle metro grown to {hubs} hubs, {vehicles} vehicles, {orders} orders"
    return data


def _loads(data: dict[str, Any], orders: int) -> list[float]:
    """Each hub's load against the default day's (at least 1): the fulfillment center
    and the dark store serve the whole metro, so theirs grows with the demand; added
    stores share theirs with the stores there were."""
    grow = max(1.0, orders / data["demand"]["orders_per_day"])
    base_stores = sum(1 for h in seattle()["hubs"] if h["kind"] == "store" and h["fleet"])
    stores = sum(1 for h in data["hubs"] if h["kind"] == "store" and h["fleet"]) or 1
    return [
        grow if h["kind"] != "store" else max(1.0, grow * base_stores / max(stores, base_stores))
        for h in data["hubs"]
    ]


def _size(data: dict[str, Any], orders: int) -> None:
    """Hubs and locker banks sized for ``orders`` a day where that is more than the default
    day's: without it a grown network quotes from the default day's slots, and at 20,000
    orders the fulfillment center's and the dark store's next-day, same-day and express
    slots ran out by midday (the twin measured 5,279 of 18,472 shoppers offered nothing,
    1,183 of them for full slots, and far more options missing for it).

    Slots grow with each hub's load (``_loads``), pickers and the size of a wave with its
    square root (the defaults have room to spare)."""
    for h, load in zip(data["hubs"], _loads(data, orders), strict=True):
        if load <= 1:
            continue
        h["promise"] = {
            "capacity": {o.value: math.ceil(n * load) for o, n in DEFAULT_CAPACITY.items() if n}
        }
        # A wave is released every few minutes: a wave no bigger than the default day's
        # held the grown fulfillment center to 288 parcels an hour whatever its pickers
        # (orders came in at 650-800 an hour, and express ones waited hours to be packed).
        staffed = math.sqrt(load)
        h["staff"]["pickers"] = math.ceil(h["staff"]["pickers"] * staffed)
        h["staff"]["wave_max"] = math.ceil(h["staff"].get("wave_max", Staff.wave_max) * staffed)
    times = min(4, math.ceil(orders / data["demand"]["orders_per_day"]))
    for lk in data["lockers"]:
        lk["compartments"] = {k: n * times for k, n in lk["compartments"].items()}


# -- TOML out ---------------------------------------------------------------------------------


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def dumps(data: dict[str, Any]) -> str:
    """``data`` as TOML: scalars first, then tables, then arrays of tables (their nested
    tables inline), which is every shape a scenario has."""
    lines: list[str] = []
    plain = {k: v for k, v in data.items() if not isinstance(v, dict | list) or _scalars(v)}
    for k, v in plain.items():
        lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict) and k not in plain:
            lines += ["", f"[{_key(k)}]"]
            lines += [f"{_key(a)} = {_value(b)}" for a, b in v.items()]
    for k, v in data.items():
        if isinstance(v, list) and k not in plain:
            for item in v:
                lines += ["", f"[[{_key(k)}]]"]
                lines += [f"{_key(a)} = {_value(b)}" for a, b in item.items()]
    return "\n".join(lines) + "\n"


def _scalars(v: dict[str, Any] | list[Any]) -> bool:
    """True for a list of plain values (written inline); tables are written as sections."""
    return isinstance(v, list) and not any(isinstance(x, dict) for x in v)
