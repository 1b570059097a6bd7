"""Hypothesis properties of the promise rules (pure).

1. Every offer's cutoff is in the future, and an order placed at any moment before
   the cutoff can still keep the offered window (so no cutoff ever promises what a
   later order cannot get) -- over random opening hours (including intervals past
   midnight), three time zones, times around both 2026 DST changes, leads, cutoffs,
   windows, distances and carts.
2. Sourcing plans are sound: exactly the lines, never more than a hub may promise,
   one hub whenever one suffices, and a split never uses more hubs than needed
   (checked against brute force on small cases).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hubflow.catalog.model import Temperature
from hubflow.network.model import DAYS
from hubflow.promise.model import (
    CartFacts,
    HubCalendar,
    HubPromise,
    Offer,
    OptionCode,
    format_hhmm,
    local_date,
    modes_for,
    offer_for,
    week_minutes,
)
from hubflow.promise.sourcing import Candidate, LowestCost, Shortfall, StrategyParams

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [ZoneInfo("America/Los_Angeles"), ZoneInfo("America/Denver"), ZoneInfo("Asia/Kolkata")]
# Around both 2026 DST changes in the US, and an ordinary week.
ANCHORS = [
    datetime(2026, 3, 6, tzinfo=UTC),
    datetime(2026, 10, 30, tzinfo=UTC),
    datetime(2026, 6, 1, tzinfo=UTC),
]

hhmm = st.integers(0, 95).map(lambda q: format_hhmm(q * 15))


@st.composite
def week(draw: st.DrawFn) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for d in DAYS:
        kind = draw(st.sampled_from(["always", "closed", "day", "night", "random"]))
        if kind == "always":
            out[d] = [["00:00", "24:00"]]
        elif kind == "day":
            out[d] = [["07:00", "22:00"]]
        elif kind == "night":
            out[d] = [["06:00", "02:00"]]
        elif kind == "random":
            a, b = draw(hhmm), draw(hhmm)
            assume(a != b)
            out[d] = [[a, b]]
    return out


@st.composite
def hub_promise(draw: st.DrawFn) -> HubPromise:
    w1 = draw(st.integers(0, 90)) * 15
    w2 = draw(st.integers(w1 // 15 + 1, 96)) * 15
    d1 = draw(st.integers(0, 90)) * 15
    d2 = draw(st.integers(d1 // 15 + 1, 96)) * 15
    return HubPromise(
        pick_pack_minutes=draw(st.integers(0, 180)),
        same_day_cutoff=draw(st.integers(0, 95)) * 15,
        same_day_window=(w1, w2),
        next_day_cutoff=draw(st.integers(0, 95)) * 15,
        delivery_window=(d1, d2),
    )


carts = st.builds(
    CartFacts,
    weight_g=st.integers(100, 100_000),
    longest_side_mm=st.integers(10, 2_000),
    temperatures=st.frozensets(st.sampled_from(list(Temperature)), min_size=1),
    value=st.just(1_000),
    currency=st.just("USD"),
)


def _offer(
    option: OptionCode,
    hours: dict[str, list[list[str]]],
    tz: ZoneInfo,
    p: HubPromise,
    km: float,
    cart: CartFacts,
    now: float,
    by: float | None = None,
) -> Offer | object:
    cal = HubCalendar.build(week_minutes(hours), tz, local_date(now, tz))
    return offer_for(option, cal, p, km, modes_for(cart, option, km), now, by)


@settings(FAST, max_examples=400)
@given(
    option=st.sampled_from(list(OptionCode)),
    hours=week(),
    tz=st.sampled_from(ZONES),
    p=hub_promise(),
    km=st.floats(0.0, 70.0),
    cart=carts,
    anchor=st.sampled_from(ANCHORS),
    minutes=st.integers(0, 7 * 24 * 60 - 1),
    seconds=st.integers(0, 59),
    later=st.floats(0.0, 1.0, exclude_max=True),
)
def test_an_order_before_the_cutoff_keeps_the_offered_window(
    option: OptionCode,
    hours: dict[str, list[list[str]]],
    tz: ZoneInfo,
    p: HubPromise,
    km: float,
    cart: CartFacts,
    anchor: datetime,
    minutes: int,
    seconds: int,
    later: float,
) -> None:
    now = (anchor + timedelta(minutes=minutes, seconds=seconds)).timestamp()
    o = _offer(option, hours, tz, p, km, cart, now)
    if not isinstance(o, Offer):
        return
    assert o.cutoff > now  # no offer whose cutoff has passed
    assert o.window_from < o.window_to or option is OptionCode.PICKUP_IN_STORE
    assert o.within(o.window_from, o.window_to, tolerance=0.0)
    assert o.slot_start < o.slot_end
    if option is OptionCode.EXPRESS_2H:
        assert o.arrive_to < now + 2 * 3600
    # An order at any moment before the cutoff still gets a delivery inside the window.
    t = now + later * (o.cutoff - now)
    assume(t < o.cutoff)  # (float rounding may land on the cutoff itself)
    again = _offer(option, hours, tz, p, km, cart, t, by=o.window_to)
    assert isinstance(again, Offer), (again, t)
    assert again.within(o.window_from, o.window_to, tolerance=0.0)


# -- sourcing -------------------------------------------------------------------------------

PRODUCTS = ["p0", "p1", "p2", "p3"]


@st.composite
def sourcing_cases(draw: st.DrawFn) -> tuple[dict[str, int], list[Candidate]]:
    n = draw(st.integers(0, 7))
    cands = []
    for i in range(n):
        stock = {p: q for p in PRODUCTS if (q := draw(st.integers(0, 5))) > 0}
        cost = draw(st.integers(100, 2_000))
        cands.append(Candidate(f"hub{i}", draw(st.floats(0, 60)), float(cost), stock))
    wanted = draw(st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=4, unique=True))
    lines = {p: draw(st.integers(1, 6)) for p in wanted}
    return lines, cands


def _covers(group: tuple[Candidate, ...], lines: dict[str, int]) -> bool:
    return all(sum(c.available.get(p, 0) for c in group) >= q for p, q in lines.items())


def _min_cover(lines: dict[str, int], cands: list[Candidate]) -> int | None:
    for k in range(1, len(cands) + 1):
        if any(_covers(g, lines) for g in itertools.combinations(cands, k)):
            return k
    return None


@settings(FAST, max_examples=400)
@given(sourcing_cases(), st.integers(1, 4))
def test_splits_never_use_more_hubs_than_needed(
    case: tuple[dict[str, int], list[Candidate]], exact_max: int
) -> None:
    lines, cands = case
    params = StrategyParams(split_penalty=500, exact_split_max=exact_max, exact_search_hubs=16)
    result = LowestCost().plan(lines, cands, params)
    best = _min_cover(lines, cands)
    if best is None:
        assert isinstance(result, Shortfall)
        return
    assert not isinstance(result, Shortfall)
    got: dict[str, int] = defaultdict(int)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for r in result.requests:
        assert r.quantity > 0
        got[r.product_id] += r.quantity
        taken[(r.hub_id, r.product_id)] += r.quantity
    assert dict(got) == lines
    stock = {c.hub_id: c.available for c in cands}
    for (hub, product), q in taken.items():
        assert q <= stock[hub].get(product, 0)
    assert set(result.hubs) == {r.hub_id for r in result.requests}
    if best <= max(exact_max, 1):
        assert len(result.hubs) == best  # exact: the fewest hubs
    else:
        assert len(result.hubs) >= best  # greedy beyond the exact search, never fewer
    if best == 1:
        singles = [c for c in cands if _covers((c,), lines)]
        assert result.cost == min(c.cost for c in singles)
    elif best <= exact_max:
        cheapest = min(
            sum(c.cost for c in g) for g in itertools.combinations(cands, best) if _covers(g, lines)
        )
        assert result.cost == cheapest + 500 * (best - 1)
