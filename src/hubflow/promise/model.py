"""The delivery promise (pure domain): options, delivery modes, hub timing, time, fees.

Time is done as UTC interval arithmetic on POSIX timestamps (float seconds): a
hub's local opening hours are expanded, with ``zoneinfo``, into concrete UTC
intervals for the days around "now"; everything else (when an order can be
ready, the latest moment to order for a window, cutoffs) is a comparison or a
sum of timestamps. That keeps midnight, intervals that close after midnight,
the two DST change days and hubs in different time zones out of the logic: they
are all handled once, in :func:`local_at`.

Rules, for an order placed at ``t`` at a hub with pick-pack lead ``L``:

* ``ready(t)``: the first moment the order can be picked and packed, i.e. ``L``
  after ``max(t, s)`` for the first opening interval ``[s, e)`` still open at
  ``t`` where that fits before ``e`` (picking never spans a closing).
* ``express_2h``: delivered within two hours of ``t``: ``ready(t) + travel < t +
  2 h``; the capacity slot is the local clock hour of dispatch.
* ``same_day``: before the hub's same-day cutoff (local, e.g. 14:00), delivered
  in today's same-day window (e.g. 17:00-21:00); ``next_day``: before the
  next-day cutoff (e.g. 20:00), delivered in tomorrow's day window (e.g.
  09:00-21:00); ``standard_2d``: delivered in the day window two days later, or
  three days later (with tomorrow's cutoff) once today's cutoff has passed. The
  slot is the delivery window itself.
* ``pickup_in_store``: ready at ``ready(t)`` and collectable until that opening
  interval ends; the slot is the local day.

Every offer carries a cutoff: the last moment (exclusive) an order can still be
placed and the same promise kept, by construction later than "now" (an offer
whose cutoff is not in the future is not made).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from typing import Any

from hubflow.catalog.model import Product, Temperature
from hubflow.network.model import DAYS

__all__ = [
    "DELIVERY_OPTIONS",
    "EXPRESS_WINDOW_S",
    "MODES",
    "CartFacts",
    "HubCalendar",
    "HubPromise",
    "MemberTerms",
    "MerchantPromise",
    "ModeProfile",
    "Offer",
    "OptionCode",
    "PromiseConfig",
    "Reason",
    "carriers_for",
    "cart_reason",
    "format_hhmm",
    "furthest",
    "hour_slot",
    "in_range",
    "iso",
    "latest_order",
    "local_at",
    "local_date",
    "local_iso",
    "minutes_of",
    "modes_for",
    "offer_for",
    "open_intervals",
    "ready_at",
    "slot_for",
]

HOUR_S = 3600.0
DAY_S = 86400.0
EXPRESS_WINDOW_S = 2 * HOUR_S
PICKUP_HORIZON_S = 2 * DAY_S
# Days of opening hours expanded around "now": yesterday (intervals running past
# midnight into today) up to the latest delivery day any option can promise.
DAYS_BEFORE = 1
DAYS_AFTER = 6


class OptionCode(StrEnum):
    EXPRESS_2H = "express_2h"
    SAME_DAY = "same_day"
    NEXT_DAY = "next_day"
    STANDARD_2D = "standard_2d"
    PICKUP_IN_STORE = "pickup_in_store"
    # To a locker bank near the address, on the van of a delivery option (``via``), with a
    # compartment held for the order.
    LOCKER = "locker"


DELIVERY_OPTIONS = (
    OptionCode.EXPRESS_2H,
    OptionCode.SAME_DAY,
    OptionCode.NEXT_DAY,
    OptionCode.STANDARD_2D,
)


class Reason(StrEnum):
    """Why an option is not offered (the ``unavailable`` list of a quote)."""

    NOT_OFFERED = "not_offered"
    MEMBERS_ONLY = "members_only"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    NO_PICKUP_LOCATION = "no_pickup_location"
    CART_TOO_HEAVY = "cart_too_heavy"
    CART_TOO_LARGE = "cart_too_large"
    TEMPERATURE_NOT_SUPPORTED = "temperature_not_supported"
    TOO_FAR = "too_far"
    HUB_CLOSED = "hub_closed"
    CUTOFF_PASSED = "cutoff_passed"
    NO_CAPACITY = "no_capacity"
    NO_STOCK = "no_stock"
    NO_LOCKER_NEARBY = "no_locker_nearby"
    NO_COMPARTMENT = "no_compartment"


# When hubs fail an option for different reasons, the quote reports the one that
# got furthest: a hub that had the time but no capacity says more than one too far.
_STAGE = {
    Reason.TOO_FAR: 1,
    Reason.HUB_CLOSED: 2,
    Reason.CUTOFF_PASSED: 3,
    Reason.NO_CAPACITY: 4,
    Reason.NO_STOCK: 5,
}


def furthest(reasons: Iterable[Reason], default: Reason) -> Reason:
    best = None
    for r in reasons:
        if best is None or _STAGE.get(r, 0) > _STAGE.get(best, 0):
            best = r
    return best if best is not None else default


# -- delivery modes -----------------------------------------------------------------------

_ALL_TEMPS = frozenset(Temperature)


@dataclass(frozen=True, slots=True)
class ModeProfile:
    """A way to carry an order from a hub to a door (before the real fleet exists)."""

    name: str
    max_km: float
    max_weight_g: int
    max_side_mm: int
    temperatures: frozenset[Temperature]
    options: frozenset[OptionCode]
    speed_kmh: float
    circuity: float  # road km per great-circle km
    cost_per_km: float  # minor units per road km
    cost_per_stop: float  # minor units per delivery
    handover_min: float = 5.0

    def travel_s(self, km: float) -> float:
        return (km * self.circuity / self.speed_kmh * 60.0 + self.handover_min) * 60.0

    def cost(self, km: float) -> float:
        return self.cost_per_stop + self.cost_per_km * km * self.circuity

    def carries(self, cart: CartFacts) -> bool:
        return (
            cart.weight_g <= self.max_weight_g
            and cart.longest_side_mm <= self.max_side_mm
            and cart.temperatures <= self.temperatures
        )


_O = OptionCode
MODES: tuple[ModeProfile, ...] = (
    ModeProfile(
        "bike",
        max_km=6.0,
        max_weight_g=15_000,
        max_side_mm=600,
        temperatures=frozenset({Temperature.AMBIENT, Temperature.CHILLED}),
        options=frozenset({_O.EXPRESS_2H, _O.SAME_DAY}),
        speed_kmh=15.0,
        circuity=1.25,
        cost_per_km=40.0,
        cost_per_stop=250.0,
    ),
    ModeProfile(
        "car",
        max_km=35.0,
        max_weight_g=80_000,
        max_side_mm=1_200,
        temperatures=frozenset({Temperature.AMBIENT, Temperature.CHILLED}),  # cool bags
        options=frozenset({_O.EXPRESS_2H, _O.SAME_DAY, _O.NEXT_DAY, _O.STANDARD_2D}),
        speed_kmh=35.0,
        circuity=1.35,
        cost_per_km=45.0,
        cost_per_stop=400.0,
    ),
    ModeProfile(
        "van",
        max_km=60.0,
        max_weight_g=700_000,
        max_side_mm=2_500,
        temperatures=_ALL_TEMPS,  # refrigerated
        options=frozenset({_O.SAME_DAY, _O.NEXT_DAY, _O.STANDARD_2D}),
        speed_kmh=40.0,
        circuity=1.35,
        cost_per_km=30.0,
        cost_per_stop=300.0,
    ),
    ModeProfile(
        "carrier",
        max_km=math.inf,
        max_weight_g=30_000,
        max_side_mm=1_500,
        temperatures=frozenset({Temperature.AMBIENT}),
        options=frozenset({_O.NEXT_DAY, _O.STANDARD_2D}),
        speed_kmh=50.0,
        circuity=1.3,
        cost_per_km=2.0,
        cost_per_stop=650.0,
        handover_min=0.0,
    ),
)


@dataclass(frozen=True, slots=True)
class CartFacts:
    """What delivery modes care about in a cart (carried as a whole, even when split)."""

    weight_g: int
    longest_side_mm: int
    temperatures: frozenset[Temperature]
    value: int  # minor units, lines priced in ``currency``
    currency: str

    @classmethod
    def of(
        cls, products: Mapping[str, Product], lines: Mapping[str, int], currency: str
    ) -> CartFacts:
        weight = side = value = 0
        temps: set[Temperature] = set()
        for product_id, qty in lines.items():
            p = products[product_id]
            weight += p.weight_g * qty
            side = max(side, *p.dims_mm)
            temps.add(p.temperature)
            if p.value.currency == currency:
                value += p.value.amount * qty
        return cls(weight, side, frozenset(temps), value, currency)


def modes_for(
    cart: CartFacts, option: OptionCode, km: float, modes: Sequence[ModeProfile] = MODES
) -> list[ModeProfile]:
    """Modes that can carry ``cart`` ``km`` for ``option``, cheapest first."""
    return in_range(carriers_for(cart, option, modes), km)


def carriers_for(
    cart: CartFacts, option: OptionCode, modes: Sequence[ModeProfile] = MODES
) -> list[ModeProfile]:
    """Modes that serve ``option`` and can carry ``cart`` (at some distance)."""
    return [m for m in modes if option in m.options and m.carries(cart)]


def in_range(modes: Sequence[ModeProfile], km: float) -> list[ModeProfile]:
    """Those of ``modes`` that reach ``km``, cheapest first."""
    ok = [m for m in modes if km <= m.max_km]
    if len(ok) > 1:
        ok.sort(key=lambda m: (m.cost(km), m.name))
    return ok


def cart_reason(
    cart: CartFacts, option: OptionCode, modes: Sequence[ModeProfile] = MODES
) -> Reason | None:
    """Why no mode can carry this cart for ``option`` at any distance, or None."""
    ms = [m for m in modes if option in m.options]
    ms = [m for m in ms if cart.weight_g <= m.max_weight_g]
    if not ms:
        return Reason.CART_TOO_HEAVY
    ms = [m for m in ms if cart.longest_side_mm <= m.max_side_mm]
    if not ms:
        return Reason.CART_TOO_LARGE
    if not any(cart.temperatures <= m.temperatures for m in ms):
        return Reason.TEMPERATURE_NOT_SUPPORTED
    return None


# -- time -----------------------------------------------------------------------------------


def minutes_of(hhmm: str) -> int:
    """``"HH:MM"`` as minutes after local midnight; ``"24:00"`` is 1440."""
    hh, sep, mm = hhmm.partition(":")
    if not sep or len(hh) != 2 or len(mm) != 2 or not (hh + mm).isdigit():
        raise ValueError(f"bad time {hhmm!r}; use HH:MM")
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and m):
        raise ValueError(f"bad time {hhmm!r}; use HH:MM")
    return h * 60 + m


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=65_536)
def local_at(day: date, minute: int, tz: tzinfo) -> float:
    """The UTC timestamp of local wall time ``minute`` on ``day`` (1440 = next midnight).

    A wall time that does not exist (skipped by a spring-forward) maps to the
    same distance after the gap; one that exists twice (fall-back) to the first.
    """
    extra, m = divmod(minute, 1440)
    d = day + timedelta(days=extra) if extra else day
    return datetime(d.year, d.month, d.day, m // 60, m % 60, tzinfo=tz).timestamp()


def local_date(ts: float, tz: tzinfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def local_iso(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).isoformat()


Week = Mapping[str, Sequence[tuple[int, int]]]
Interval = tuple[float, float]


def open_intervals(week: Week, tz: tzinfo, first: date, days: int) -> tuple[Interval, ...]:
    """Concrete UTC opening intervals for ``days`` local dates from ``first``, merged.

    ``week`` maps ``mon``..``sun`` to local ``(open, close)`` minutes; a close at
    or before the open means the next day (open past midnight).
    """
    raw: list[Interval] = []
    for i in range(days):
        d = first + timedelta(days=i)
        for a, b in week.get(DAYS[d.weekday()], ()):
            s = local_at(d, a, tz)
            e = local_at(d, b, tz) if b > a else local_at(d + timedelta(days=1), b, tz)
            if e > s:
                raw.append((s, e))
    raw.sort()
    merged: list[Interval] = []
    for s, e in raw:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return tuple(merged)


def ready_at(intervals: Sequence[Interval], t: float, lead_s: float) -> tuple[float, float] | None:
    """(ready time, end of its opening interval) for an order placed at ``t``."""
    for s, e in intervals:
        if e <= t:
            continue
        start = s if s > t else t
        if start + lead_s <= e:
            return start + lead_s, e
    return None


def latest_order(intervals: Sequence[Interval], lead_s: float, ready_by: float) -> float | None:
    """The latest order time ``t`` with ``ready(t) <= ready_by`` (None if there is none)."""
    best = None
    for s, e in intervals:
        if s + lead_s > ready_by:
            break
        if s + lead_s <= e:
            best = min(e - lead_s, ready_by - lead_s)
    return best


def hour_slot(tz: tzinfo, ts: float) -> tuple[float, float]:
    """The local clock hour containing ``ts`` (a fall-back hour that repeats is two slots)."""
    loc = datetime.fromtimestamp(ts, tz)
    start = loc.replace(minute=0, second=0, microsecond=0).timestamp()
    if start > ts:  # a half-hour zone's hour boundary falls inside a DST change
        start -= HOUR_S
    return start, start + HOUR_S


# -- hub timing settings --------------------------------------------------------------------


def _window(value: Sequence[str]) -> tuple[int, int]:
    a, b = (minutes_of(v) for v in value)
    if not a < b:
        raise ValueError(f"window {list(value)!r} must start before it ends")
    return a, b


@dataclass(frozen=True)
class HubPromise:
    """A hub's promise settings (operator-set; the defaults suit a store)."""

    pick_pack_minutes: int = 30
    same_day_cutoff: int = 14 * 60
    same_day_window: tuple[int, int] = (17 * 60, 21 * 60)
    next_day_cutoff: int = 20 * 60
    delivery_window: tuple[int, int] = (9 * 60, 21 * 60)
    safety_stock: int = 0
    options: frozenset[OptionCode] | None = None  # None: every option the hub can do
    capacity: Mapping[OptionCode, int] = field(default_factory=dict)  # per slot

    @property
    def lead_s(self) -> float:
        return self.pick_pack_minutes * 60.0

    def offers(self, option: OptionCode) -> bool:
        return self.options is None or option in self.options

    def capacity_for(self, option: OptionCode, defaults: Mapping[OptionCode, int]) -> int:
        return self.capacity.get(option, defaults.get(option, 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "pick_pack_minutes": self.pick_pack_minutes,
            "same_day_cutoff": format_hhmm(self.same_day_cutoff),
            "same_day_window": [format_hhmm(x) for x in self.same_day_window],
            "next_day_cutoff": format_hhmm(self.next_day_cutoff),
            "delivery_window": [format_hhmm(x) for x in self.delivery_window],
            "safety_stock": self.safety_stock,
            "options": None if self.options is None else sorted(o.value for o in self.options),
            "capacity": {o.value: n for o, n in sorted(self.capacity.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> HubPromise:
        """Parse stored or submitted settings; raises ValueError on bad values."""
        if not data:
            return cls()
        d = cls()
        options = data.get("options")
        lead = int(data.get("pick_pack_minutes", d.pick_pack_minutes))
        safety = int(data.get("safety_stock", d.safety_stock))
        if not 0 <= lead <= 24 * 60:
            raise ValueError("pick_pack_minutes must be between 0 and 1440")
        if safety < 0:
            raise ValueError("safety_stock must not be negative")
        capacity = {OptionCode(k): int(v) for k, v in (data.get("capacity") or {}).items()}
        if any(v < 0 for v in capacity.values()):
            raise ValueError("capacities must not be negative")
        cutoffs = [data.get("same_day_cutoff"), data.get("next_day_cutoff")]
        if any(c is not None and minutes_of(c) >= 1440 for c in cutoffs):
            raise ValueError("a cutoff must be a time of day before 24:00")
        return cls(
            pick_pack_minutes=lead,
            same_day_cutoff=minutes_of(data.get("same_day_cutoff") or "14:00"),
            same_day_window=_window(data.get("same_day_window") or ("17:00", "21:00")),
            next_day_cutoff=minutes_of(data.get("next_day_cutoff") or "20:00"),
            delivery_window=_window(data.get("delivery_window") or ("09:00", "21:00")),
            safety_stock=safety,
            options=None if options is None else frozenset(OptionCode(o) for o in options),
            capacity=capacity,
        )


def week_minutes(week: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, list[tuple[int, int]]]:
    """Opening hours as stored on a hub (``"HH:MM"`` pairs) in minutes."""
    return {d: [(minutes_of(a), minutes_of(b)) for a, b in v] for d, v in week.items()}


@dataclass(frozen=True, slots=True)
class HubCalendar:
    """A hub's opening intervals around one local date, in UTC timestamps."""

    tz: tzinfo
    today: date
    intervals: tuple[Interval, ...]

    @classmethod
    def build(cls, week: Week, tz: tzinfo, today: date) -> HubCalendar:
        first = today - timedelta(days=DAYS_BEFORE)
        return cls(tz, today, open_intervals(week, tz, first, DAYS_BEFORE + DAYS_AFTER + 1))

    def is_open(self, ts: float) -> bool:
        return any(s <= ts < e for s, e in self.intervals)


# -- offers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offer:
    """What one hub can promise for one option, for an order placed now."""

    option: OptionCode
    window_from: float  # the window shown to the customer
    window_to: float
    arrive_from: float  # when this hub's delivery (or collection readiness) actually falls
    arrive_to: float
    cutoff: float  # order strictly before this to keep the promise
    slot_start: float
    slot_end: float
    mode: str | None
    cost: float
    ready_at: float

    def within(self, start: float, end: float, tolerance: float = 1e-3) -> bool:
        """Whether this hub's delivery falls inside a promised window."""
        return self.arrive_from >= start - tolerance and self.arrive_to <= end + tolerance


def _minute(ts: float) -> float:
    """Cutoffs are shown to the minute, rounded down (an earlier cutoff is still true)."""
    return math.floor(ts / 60.0) * 60.0


def _express(
    cal: HubCalendar,
    p: HubPromise,
    km: float,
    modes: Sequence[ModeProfile],
    now: float,
    by: float | None,
) -> Offer | Reason:
    lead = p.lead_s
    r = ready_at(cal.intervals, now, lead)
    if r is None:
        return Reason.HUB_CLOSED
    ready, end = r
    if end - lead <= now:
        return Reason.CUTOFF_PASSED
    deadline = now + EXPRESS_WINDOW_S if by is None else min(by, now + EXPRESS_WINDOW_S)
    for m in modes:
        travel = m.travel_s(km)
        arrive = ready + travel
        if arrive < deadline:
            cutoff = _minute(min(end - lead, deadline - lead - travel))
            slot = hour_slot(cal.tz, ready)
            return Offer(
                OptionCode.EXPRESS_2H, now, deadline, arrive, arrive, cutoff, *slot,
                m.name, m.cost(km), ready,
            )  # fmt: skip
    return Reason.HUB_CLOSED if ready - now > lead + 1.0 else Reason.TOO_FAR


_WINDOWED: dict[OptionCode, tuple[tuple[int, int], ...]] = {
    # (cutoff day, delivery day) relative to the hub's local today, tried in order
    # while the cutoff has passed.
    OptionCode.SAME_DAY: ((0, 0),),
    OptionCode.NEXT_DAY: ((0, 1),),
    OptionCode.STANDARD_2D: ((0, 2), (1, 3)),
}


def _day_window(option: OptionCode, p: HubPromise) -> tuple[int, tuple[int, int]]:
    if option is OptionCode.SAME_DAY:
        return p.same_day_cutoff, p.same_day_window
    return p.next_day_cutoff, p.delivery_window


def _windowed(
    option: OptionCode,
    cal: HubCalendar,
    p: HubPromise,
    km: float,
    modes: Sequence[ModeProfile],
    now: float,
) -> Offer | Reason:
    cutoff_min, (w_from, w_to) = _day_window(option, p)
    lead = p.lead_s
    tz, today = cal.tz, cal.today
    for k_order, k_deliver in _WINDOWED[option]:
        cutoff_cfg = local_at(today + timedelta(days=k_order), cutoff_min, tz)
        if cutoff_cfg <= now:
            continue
        day = today + timedelta(days=k_deliver)
        ws, we = local_at(day, w_from, tz), local_at(day, w_to, tz)
        for m in modes:
            travel = m.travel_s(km)
            x = latest_order(cal.intervals, lead, we - travel)
            if x is None or x <= now:
                continue
            r = ready_at(cal.intervals, now, lead)
            assert r is not None  # x > now means some interval is usable after now
            return Offer(
                option,
                ws,
                we,
                ws,
                we,
                _minute(min(cutoff_cfg, x)),
                ws,
                we,
                m.name,
                m.cost(km),
                r[0],
            )
        return Reason.HUB_CLOSED
    return Reason.CUTOFF_PASSED


def _pickup(cal: HubCalendar, p: HubPromise, now: float) -> Offer | Reason:
    lead = p.lead_s
    t = now
    while True:
        r = ready_at(cal.intervals, t, lead)
        if r is None:
            return Reason.HUB_CLOSED
        ready, end = r
        if end - lead > now:
            break
        t = end
    if ready - now > PICKUP_HORIZON_S:
        return Reason.HUB_CLOSED
    day = local_date(ready, cal.tz)
    slot = local_at(day, 0, cal.tz), local_at(day, 1440, cal.tz)
    return Offer(
        OptionCode.PICKUP_IN_STORE,
        ready,
        end,
        ready,
        ready,
        _minute(end - lead),
        *slot,
        None,
        0.0,
        ready,
    )


def offer_for(
    option: OptionCode,
    cal: HubCalendar,
    p: HubPromise,
    km: float,
    modes: Sequence[ModeProfile],
    now: float,
    by: float | None = None,
) -> Offer | Reason:
    """What this hub can promise for ``option`` now, or why not.

    ``modes`` are the modes that can carry the cart this far for the option
    (:func:`modes_for`), cheapest first; unused for pick-up. ``by`` is an earlier
    express deadline to meet (the one an order on a quote was promised).
    """
    if option is OptionCode.PICKUP_IN_STORE:
        o = _pickup(cal, p, now)
    elif not modes:
        return Reason.TOO_FAR
    elif option is OptionCode.EXPRESS_2H:
        o = _express(cal, p, km, modes, now, by)
    else:
        o = _windowed(option, cal, p, km, modes, now)
    if isinstance(o, Reason):
        return o
    if o.cutoff <= now:  # the cutoff, rounded down to the minute, has just passed
        return Reason.CUTOFF_PASSED
    return o


def slot_for(option: OptionCode, tz: tzinfo, p: HubPromise, at: float) -> tuple[float, float]:
    """The capacity slot of ``option`` at a hub that contains (or is on the day of) ``at``."""
    if option is OptionCode.EXPRESS_2H:
        return hour_slot(tz, at)
    day = local_date(at, tz)
    if option is OptionCode.PICKUP_IN_STORE:
        return local_at(day, 0, tz), local_at(day, 1440, tz)
    _, (w_from, w_to) = _day_window(option, p)
    return local_at(day, w_from, tz), local_at(day, w_to, tz)


# -- merchants: which options, at what fee ---------------------------------------------------


@dataclass(frozen=True)
class MemberTerms:
    """A customer's membership as the promise engine sees it: their plan's free-delivery
    thresholds (which replace the merchant's for the options they name) and the
    members-only options the plan opens (``None``: all of them)."""

    plan_id: str
    subscription_id: str
    free_delivery_over: Mapping[OptionCode, int]
    options: frozenset[OptionCode] | None = None


@dataclass(frozen=True)
class MerchantPromise:
    """A merchant's promise settings: options offered, fee table, member benefits."""

    currency: str
    offered: frozenset[OptionCode]
    fees: Mapping[OptionCode, int]
    member_free_threshold: Mapping[OptionCode, int]  # cart value from which members pay 0
    members_only: frozenset[OptionCode] = frozenset()

    def refusal(
        self, option: OptionCode, member: bool, terms: MemberTerms | None = None
    ) -> Reason | None:
        if option not in self.offered:
            return Reason.NOT_OFFERED
        if option in self.members_only and not _opens(option, member, terms):
            return Reason.MEMBERS_ONLY
        return None

    def member_threshold(self, option: OptionCode, terms: MemberTerms | None) -> int | None:
        if terms is not None and option in terms.free_delivery_over:
            return terms.free_delivery_over[option]
        return self.member_free_threshold.get(option)

    def fee(
        self, option: OptionCode, cart_value: int, member: bool, terms: MemberTerms | None = None
    ) -> tuple[int, bool]:
        """(fee in minor units, whether a member benefit waived it)."""
        base = self.fees.get(option, 0)
        threshold = self.member_threshold(option, terms)
        if member and base > 0 and threshold is not None and cart_value >= threshold:
            return 0, True
        return base, False

    def benefits(
        self, option: OptionCode, cart_value: int, member: bool, terms: MemberTerms | None
    ) -> list[dict[str, Any]]:
        """Which member benefits this option's quote got, to say so in the quote."""
        plan = None if terms is None else terms.plan_id
        out: list[dict[str, Any]] = []
        if option in self.members_only and _opens(option, member, terms):
            out.append({"kind": "members_only_option", "plan_id": plan})
        if self.fee(option, cart_value, member, terms)[1]:
            threshold = self.member_threshold(option, terms)
            out.append({"kind": "free_delivery", "threshold": threshold, "plan_id": plan})
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "offered": [o.value for o in OptionCode if o in self.offered],
            "fees": {o.value: self.fees.get(o, 0) for o in OptionCode},
            "member_free_threshold": {
                o.value: self.member_free_threshold.get(o) for o in OptionCode
            },
            "members_only": [o.value for o in OptionCode if o in self.members_only],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, config: PromiseConfig) -> MerchantPromise:
        d = config.merchant_defaults()
        if not data:
            return d
        thresholds = data.get("member_free_threshold")
        return cls(
            currency=data.get("currency") or d.currency,
            offered=(
                d.offered
                if data.get("offered") is None
                else frozenset(OptionCode(o) for o in data["offered"])
            ),
            fees={**d.fees, **{OptionCode(k): int(v) for k, v in (data.get("fees") or {}).items()}},
            member_free_threshold=(
                d.member_free_threshold
                if thresholds is None
                else {OptionCode(k): int(v) for k, v in thresholds.items() if v is not None}
            ),
            members_only=frozenset(OptionCode(o) for o in data.get("members_only") or ()),
        )


def _opens(option: OptionCode, member: bool, terms: MemberTerms | None) -> bool:
    if not member:
        return False
    return terms is None or terms.options is None or option in terms.options


# -- configuration --------------------------------------------------------------------------

DEFAULT_CAPACITY: dict[OptionCode, int] = {
    OptionCode.EXPRESS_2H: 20,  # per hub and hour
    OptionCode.SAME_DAY: 200,  # per hub and same-day window
    OptionCode.NEXT_DAY: 500,  # per hub and delivery day
    OptionCode.STANDARD_2D: 1000,  # per hub and delivery day
    OptionCode.PICKUP_IN_STORE: 200,  # per store and day
    OptionCode.LOCKER: 0,  # unused: a locker parcel takes a slot of the option it rides on
}
DEFAULT_FEES: dict[OptionCode, int] = {
    OptionCode.EXPRESS_2H: 999,
    OptionCode.SAME_DAY: 699,
    OptionCode.NEXT_DAY: 499,
    OptionCode.STANDARD_2D: 299,
    OptionCode.PICKUP_IN_STORE: 0,
    OptionCode.LOCKER: 199,  # one stop for many parcels: cheaper than a door
}
DEFAULT_MEMBER_FREE_THRESHOLD: dict[OptionCode, int] = {
    OptionCode.EXPRESS_2H: 5000,
    OptionCode.SAME_DAY: 3500,
    OptionCode.NEXT_DAY: 2500,
    OptionCode.STANDARD_2D: 0,
    OptionCode.LOCKER: 0,
}


@dataclass(frozen=True)
class PromiseConfig:
    """Process-wide promise parameters (from ``HUBFLOW_PROMISE_*`` settings)."""

    strategy: str = "lowest_cost"
    split_penalty: float = 500.0
    exact_split_max: int = 3
    exact_search_hubs: int = 16
    quote_ttl_s: int = 600
    pickup_locations_max: int = 5
    locker_radius_km: float = 3.0  # lockers offered within this of the address
    currency: str = "USD"
    default_capacity: Mapping[OptionCode, int] = field(
        default_factory=lambda: dict(DEFAULT_CAPACITY)
    )
    default_fees: Mapping[OptionCode, int] = field(default_factory=lambda: dict(DEFAULT_FEES))
    default_member_free_threshold: Mapping[OptionCode, int] = field(
        default_factory=lambda: dict(DEFAULT_MEMBER_FREE_THRESHOLD)
    )

    def merchant_defaults(self) -> MerchantPromise:
        return MerchantPromise(
            currency=self.currency,
            offered=frozenset(OptionCode),
            fees=dict(self.default_fees),
            member_free_threshold=dict(self.default_member_free_threshold),
        )
