"""Twin scenarios: a TOML file read with the standard library, ``--set`` overrides on
dotted keys, and the typed view the engine reads.

A scenario is plain data (``dict``) until ``Scenario.from_dict`` checks it, so the
generator, the overrides and the file all meet in one shape. Lists of tables with a
``key`` (hubs, merchants) are addressed by that key in overrides:
``--set hubs.sodo-dark.fleet.drone=4``; ``--set demand.orders_per_day=800``.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hubflow.delivery.fleet import Mode
from hubflow.network.model import HubKind
from hubflow.promise.model import HubPromise

__all__ = [
    "Area",
    "Delivery",
    "Demand",
    "HubPlan",
    "LockerPlan",
    "MerchantPlan",
    "Returns",
    "Scenario",
    "ScenarioError",
    "Staff",
    "apply_overrides",
    "load",
    "parse_value",
]

OPTIONS = ("express_2h", "same_day", "next_day", "standard_2d", "pickup_in_store")
FLEET_MODES = tuple(m.value for m in Mode)


class ScenarioError(ValueError):
    """A scenario file or override that does not make sense, with where and why."""


def parse_value(text: str) -> Any:
    """A ``--set`` value as TOML (numbers, booleans, arrays, quoted strings); anything
    that is not valid TOML is taken as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _step(node: Any, part: str, path: str) -> tuple[Any, Any]:
    """The child container and the key or index naming ``part`` inside ``node``."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, dict) and item.get("key") == part:
                return node, i
        if part.isdigit() and int(part) < len(node):
            return node, int(part)
        raise ScenarioError(f"--set {path}: no entry {part!r} in that list")
    if isinstance(node, dict):
        return node, part
    raise ScenarioError(f"--set {path}: {part!r} is inside a plain value")


def apply_overrides(data: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` applied in order."""
    out = copy.deepcopy(data)
    for item in sets:
        path, sep, raw = item.partition("=")
        if not sep or not path.strip():
            raise ScenarioError(f"--set {item!r}: expected key.path=value")
        parts = path.strip().split(".")
        node: Any = out
        for part in parts[:-1]:
            parent, k = _step(node, part, path)
            if isinstance(parent, dict) and k not in parent:
                parent[k] = {}
            node = parent[k]
        parent, k = _step(node, parts[-1], path)
        parent[k] = parse_value(raw.strip())
    return out


def load(path: str | Path, sets: list[str] | None = None) -> Scenario:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    return Scenario.from_dict(apply_overrides(data, sets or []))


# -- the typed view ----------------------------------------------------------------------------


def _num(d: dict[str, Any], k: str, default: float, lo: float = 0.0, hi: float = 1e12) -> float:
    v = d.get(k, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ScenarioError(f"{k} must be a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def _int(d: dict[str, Any], k: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    v = d.get(k, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ScenarioError(f"{k} must be an integer in [{lo}, {hi}], got {v!r}")
    return v


def _weights(v: Any, n: int, what: str) -> tuple[float, ...]:
    if not isinstance(v, list) or len(v) != n or any(not isinstance(x, int | float) for x in v):
        raise ScenarioError(f"{what} must be a list of {n} numbers")
    if min(v) < 0 or sum(v) <= 0:
        raise ScenarioError(f"{what} must be non-negative with a positive sum")
    return tuple(float(x) for x in v)


def _shares(v: Any, known: tuple[str, ...], what: str) -> dict[str, float]:
    if not isinstance(v, dict) or not v:
        raise ScenarioError(f"{what} must be a table of shares")
    unknown = sorted(set(v) - set(known))
    if unknown:
        raise ScenarioError(f"{what}: unknown {unknown}; known: {list(known)}")
    return {k: _num(v, k, 0.0) for k in v}


@dataclass(frozen=True)
class Demand:
    orders_per_day: int
    by_hour: tuple[float, ...]  # 24 weights, local hours
    by_weekday: tuple[float, ...]  # 7 weights, Monday first
    member_share: float
    customers: int
    conversion: float  # share of quotes that become an order
    option_mix: dict[str, float]  # preferred option when it is offered
    lines: tuple[float, ...]  # weights of 1, 2, 3, 4 lines

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Demand:
        return cls(
            orders_per_day=_int(d, "orders_per_day", 1000, 0, 10_000_000),
            by_hour=_weights(d.get("by_hour", [1] * 24), 24, "demand.by_hour"),
            by_weekday=_weights(d.get("by_weekday", [1] * 7), 7, "demand.by_weekday"),
            member_share=_num(d, "member_share", 0.3, 0, 1),
            customers=_int(d, "customers", 5000, 1),
            conversion=_num(d, "conversion", 0.9, 0, 1),
            option_mix=_shares(d.get("option_mix", {"same_day": 1}), OPTIONS, "option_mix"),
            lines=_weights(d.get("lines", [35, 30, 20, 15]), 4, "demand.lines"),
        )


@dataclass(frozen=True)
class Delivery:
    epoch_minutes: int
    planner_iterations: int  # PyVRP iterations per pass: deterministic, unlike a time limit
    planner_time_limit_s: float  # a ceiling on wall time all the same
    planner_workers: int  # hubs planned at once, in processes (0: one per core); same plans
    horizon_hours: float  # parcels whose window opens later wait out of the plan
    policy: str
    not_at_home: float
    locker_radius_km: float
    gig_accept: float
    traffic_spread: float  # driving times vary by up to this share either way
    locker_collect_hours: tuple[float, float]
    locker_no_show: float
    store_collect_hours: tuple[float, float]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Delivery:
        def pair(k: str, default: list[float]) -> tuple[float, float]:
            v = d.get(k, default)
            if not isinstance(v, list) or len(v) != 2 or not 0 <= v[0] <= v[1]:
                raise ScenarioError(f"delivery.{k} must be [low, high] hours")
            return float(v[0]), float(v[1])

        return cls(
            epoch_minutes=_int(d, "epoch_minutes", 15, 1, 720),
            planner_iterations=_int(d, "planner_iterations", 300, 1, 10_000_000),
            planner_time_limit_s=_num(d, "planner_time_limit_s", 5.0, 0.01, 600),
            planner_workers=_int(d, "planner_workers", 0, 0, 64),
            horizon_hours=_num(d, "horizon_hours", 12.0, 0.25, 48),
            policy=str(d.get("policy", "greedy")),
            not_at_home=_num(d, "not_at_home", 0.08, 0, 1),
            locker_radius_km=_num(d, "locker_radius_km", 1.5, 0, 100),
            gig_accept=_num(d, "gig_accept", 0.85, 0, 1),
            traffic_spread=_num(d, "traffic_spread", 0.15, 0, 0.9),
            locker_collect_hours=pair("locker_collect_hours", [0.5, 20.0]),
            locker_no_show=_num(d, "locker_no_show", 0.05, 0, 1),
            store_collect_hours=pair("store_collect_hours", [0.5, 8.0]),
        )


@dataclass(frozen=True)
class Returns:
    rate: dict[str, float]  # merchant kind -> share of delivered orders sent back
    drop_off_hours: tuple[float, float]
    inspect_hours: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Returns:
        rate = d.get("rate", {})
        if not isinstance(rate, dict):
            raise ScenarioError("returns.rate must be a table of merchant kind -> share")
        v = d.get("drop_off_hours", [1.0, 10.0])
        return cls(
            rate={str(k): _num(rate, k, 0, 0, 1) for k in rate},
            drop_off_hours=(float(v[0]), float(v[1])),
            inspect_hours=_num(d, "inspect_hours", 2.0, 0, 240),
        )


@dataclass(frozen=True)
class Staff:
    pickers: int
    pick_lines_per_hour: float  # at the shelf (find, pick, scan): walking comes on top
    pack_seconds: float  # per parcel
    shift: tuple[str, str]  # local "HH:MM"
    receive_at: str | None = None  # local "HH:MM" a truck brings back what sold
    receive_units_per_hour: float = 600.0  # one picker's pace unloading and putting away
    walk_m_per_s: float = 1.0  # pushing a cart along the aisles
    wave_minutes: float = 5.0  # how often a wave is released while work waits
    wave_max: int = 24  # shipments in one wave at most (three carts of eight totes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Staff:
        shift = d.get("shift", ["06:00", "22:00"])
        return cls(
            pickers=_int(d, "pickers", 2, 0, 10_000),
            pick_lines_per_hour=_num(d, "pick_lines_per_hour", 80, 1, 100_000),
            pack_seconds=_num(d, "pack_seconds", 90, 0, 36_000),
            shift=(str(shift[0]), str(shift[1])),
            receive_at=None if d.get("receive_at") is None else str(d["receive_at"]),
            receive_units_per_hour=_num(d, "receive_units_per_hour", 600, 1, 1_000_000),
            walk_m_per_s=_num(d, "walk_m_per_s", 1.0, 0.1, 10),
            wave_minutes=_num(d, "wave_minutes", 5, 0.5, 24 * 60),
            wave_max=_int(d, "wave_max", 24, 1, 10_000),
        )


LAYOUT_KEYS = (
    "blocks",
    "aisles",
    "bins_per_side",
    "levels",
    "bin_width_mm",
    "rack_depth_mm",
    "aisle_width_mm",
)


def _layout(v: Any, hub: str) -> dict[str, int]:
    if not isinstance(v, dict):
        raise ScenarioError(f"hub {hub}: layout must be a table")
    bad = sorted(set(v) - set(LAYOUT_KEYS))
    if bad:
        raise ScenarioError(f"hub {hub}: unknown layout keys {bad}; known {list(LAYOUT_KEYS)}")
    return {k: _int(v, k, 1, 1, 100_000) for k in sorted(v)}


@dataclass(frozen=True)
class HubPlan:
    key: str
    name: str
    kind: HubKind
    lat: float
    lng: float
    radius_km: float
    hours: str  # "always", "store" or "dark_store": the opening hours' pattern
    pickup_only: bool
    fleet: dict[str, int]
    staff: Staff
    # The floor: overrides of the layout the twin generates for the hub's kind (blocks,
    # aisles, bins_per_side, levels, bin_width_mm, rack_depth_mm, aisle_width_mm).
    layout: dict[str, int] = field(default_factory=dict)
    # The hub's promise settings as the operator API takes them (capacity per option and
    # slot, cutoffs, windows); empty: the platform's defaults.
    promise: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HubPlan:
        try:
            kind = HubKind(d["kind"])
            fleet = {str(m): int(n) for m, n in d.get("fleet", {}).items()}
        except (KeyError, ValueError) as exc:
            raise ScenarioError(f"hub {d.get('key')!r}: {exc}") from exc
        bad = sorted(set(fleet) - set(FLEET_MODES))
        if bad:
            raise ScenarioError(f"hub {d['key']}: unknown modes {bad}; known {FLEET_MODES}")
        promise = d.get("promise", {})
        try:
            HubPromise.from_json(promise)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ScenarioError(f"hub {d['key']}: promise: {exc}") from exc
        return cls(
            key=str(d["key"]),
            name=str(d.get("name", d["key"])),
            kind=kind,
            lat=_num(d, "lat", 0, -90, 90),
            lng=_num(d, "lng", 0, -180, 180),
            radius_km=_num(d, "radius_km", 10, 0.1, 1000),
            hours=str(d.get("hours", "always")),
            pickup_only=bool(d.get("pickup_only", False)),
            fleet=fleet,
            staff=Staff.from_dict(d.get("staff", {})),
            layout=_layout(d.get("layout", {}), str(d["key"])),
            promise=dict(promise),
        )


@dataclass(frozen=True)
class LockerPlan:
    key: str
    name: str
    hub: str
    lat: float
    lng: float
    compartments: dict[str, int]  # size class -> how many

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LockerPlan:
        return cls(
            key=str(d["key"]),
            name=str(d.get("name", d["key"])),
            hub=str(d["hub"]),
            lat=_num(d, "lat", 0, -90, 90),
            lng=_num(d, "lng", 0, -180, 180),
            compartments={str(k): int(v) for k, v in d.get("compartments", {}).items()},
        )


@dataclass(frozen=True)
class MerchantPlan:
    key: str
    name: str
    kind: str
    share: float
    fc_coverage: float
    store_coverage: float
    stores: tuple[str, ...] | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MerchantPlan:
        stores = d.get("stores")
        return cls(
            key=str(d["key"]),
            name=str(d.get("name", d["key"])),
            kind=str(d.get("kind", d["key"])),
            share=_num(d, "share", 1.0, 0),
            fc_coverage=_num(d, "fc_coverage", 0.7, 0, 1),
            store_coverage=_num(d, "store_coverage", 0.3, 0, 1),
            stores=None if stores is None else tuple(str(s) for s in stores),
        )


@dataclass(frozen=True)
class Area:
    name: str
    lat: float
    lng: float
    spread_km: float
    population: float  # thousands of residents: customers are spread in proportion
    postcode: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Area:
        return cls(
            name=str(d["name"]),
            lat=_num(d, "lat", 0, -90, 90),
            lng=_num(d, "lng", 0, -180, 180),
            spread_km=_num(d, "spread_km", 1.5, 0.01, 100),
            population=_num(d, "population", 10, 0),
            postcode=str(d.get("postcode", "00000")),
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    date: date  # the first simulated local day
    days: int
    start_hour: int  # local hour the simulated day starts (hubs, fleet, demand before it: none)
    end_hour: int  # local hour demand stops; the twin then drains until the last route ends
    timezone: str
    region: str
    country: str
    currency: str
    catalog_seed: int
    stock_days: float  # opening stock: this many days of expected demand, at least
    hubs: tuple[HubPlan, ...]
    lockers: tuple[LockerPlan, ...]
    merchants: tuple[MerchantPlan, ...]
    areas: tuple[Area, ...]
    demand: Demand
    delivery: Delivery
    returns: Returns
    gig: dict[str, int]  # mode -> gig couriers online
    carrier: dict[str, Any]
    fleet_scale: dict[str, float] = field(default_factory=dict)  # mode -> multiplier
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scenario:
        """The checked scenario; anything malformed raises ``ScenarioError``."""
        try:
            return cls._from_dict(d)
        except ScenarioError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ScenarioError(f"malformed scenario: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Scenario:
        try:
            day = date.fromisoformat(str(d.get("date", "2026-11-24")))
        except ValueError as exc:
            raise ScenarioError(f"date: {exc}") from exc
        hubs = tuple(HubPlan.from_dict(h) for h in d.get("hubs", []))
        if not hubs:
            raise ScenarioError("a scenario needs at least one hub")
        keys = [h.key for h in hubs]
        if len(set(keys)) != len(keys):
            raise ScenarioError("hub keys must be unique")
        lockers = tuple(LockerPlan.from_dict(x) for x in d.get("lockers", []))
        for lk in lockers:
            if lk.hub not in keys:
                raise ScenarioError(f"locker {lk.key}: unknown hub {lk.hub!r}")
        merchants = tuple(MerchantPlan.from_dict(m) for m in d.get("merchants", []))
        if not merchants:
            raise ScenarioError("a scenario needs at least one merchant")
        areas = tuple(Area.from_dict(a) for a in d.get("areas", []))
        if not areas:
            raise ScenarioError("a scenario needs at least one residential area")
        scale = d.get("fleet_scale", {})
        start, end = _int(d, "start_hour", 6, 0, 23), _int(d, "end_hour", 22, 1, 24)
        if end <= start:
            raise ScenarioError("end_hour must come after start_hour")
        return cls(
            name=str(d.get("name", "scenario")),
            seed=_int(d, "seed", 7),
            date=day,
            days=_int(d, "days", 1, 1, 31),
            start_hour=start,
            end_hour=end,
            timezone=str(d.get("timezone", "UTC")),
            region=str(d.get("region", "default")),
            country=str(d.get("country", "US")),
            currency=str(d.get("currency", "USD")),
            catalog_seed=_int(d, "catalog_seed", 7),
            stock_days=_num(d, "stock_days", 1.5, 0.1, 365),
            hubs=hubs,
            lockers=lockers,
            merchants=merchants,
            areas=areas,
            demand=Demand.from_dict(d.get("demand", {})),
            delivery=Delivery.from_dict(d.get("delivery", {})),
            returns=Returns.from_dict(d.get("returns", {})),
            gig={str(k): int(v) for k, v in d.get("gig", {}).items()},
            carrier=dict(d.get("carrier", {})),
            fleet_scale={str(k): _num(scale, k, 1.0, 0, 100) for k in scale},
            raw=copy.deepcopy(d),
        )

    def fleet_of(self, hub: HubPlan) -> dict[str, int]:
        """The hub's vehicles by mode after ``fleet_scale``."""
        out = {m: round(n * self.fleet_scale.get(m, 1.0)) for m, n in hub.fleet.items()}
        return {m: n for m, n in out.items() if n > 0}
