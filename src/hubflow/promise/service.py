"""Promise use cases: quote, plan an order on a quote, book and release capacity, settings.

A quote reads (in one read-only transaction) the cart's products, the merchant's
promise settings, the hubs serving the address (from the in-process hub index),
the stock of the cart's products at those hubs and the capacity slots the
offers would use; it then decides every option in memory and stores the quote
in a second, short write transaction.

An order on a quote runs the same evaluation again, at the moment of the order,
restricted to hubs whose delivery falls inside the quoted window, and reserves
stock and slot capacity in the order's transaction (stock first, then slots,
each in sorted order, all or nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    String,
    and_,
    any_,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hubflow.catalog.model import Product, bundle_dims, line_quantities
from hubflow.catalog.service import products_by_id
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.geo import LatLng
from hubflow.core.ids import new_id
from hubflow.core.settings import Settings
from hubflow.core.upsert import insert_on_conflict
from hubflow.inventory.model import StockRequest
from hubflow.inventory.service import ReservationRace
from hubflow.inventory.store import stock_table
from hubflow.lockers.holds import banks_near
from hubflow.membership.lookup import member_terms
from hubflow.network.store import bump_revision, get_hub
from hubflow.promise.index import HubEntry, HubIndex, hub_index
from hubflow.promise.model import (
    CartFacts,
    HubCalendar,
    HubPromise,
    MemberTerms,
    MerchantPromise,
    Offer,
    OptionCode,
    PromiseConfig,
    Reason,
    carriers_for,
    cart_reason,
    furthest,
    in_range,
    iso,
    local_date,
    local_iso,
    offer_for,
    slot_for,
)
from hubflow.promise.sourcing import Candidate, Plan, Shortfall, StrategyParams, get_strategy
from hubflow.promise.store import (
    capacity_slots_table,
    hub_promise_table,
    merchant_promise_table,
    quotes_table,
    slot_bookings_table,
)

__all__ = [
    "CapacityRace",
    "PromiseConflict",
    "QuoteRequest",
    "QuotedPlan",
    "SlotKey",
    "book_slots",
    "config_from",
    "create_quote",
    "evaluate",
    "get_hub_promise",
    "get_merchant_promise",
    "get_quote",
    "list_capacity",
    "plan_quoted_order",
    "release_slots",
    "requote_details",
    "safety_floors",
    "set_capacity",
    "set_hub_promise",
    "set_merchant_promise",
]


def config_from(settings: Settings) -> PromiseConfig:
    get_strategy(settings.promise_strategy)  # fail at start on a typo, not on the first quote
    d = PromiseConfig()
    return PromiseConfig(
        strategy=settings.promise_strategy,
        split_penalty=settings.promise_split_penalty,
        exact_split_max=settings.promise_exact_split_max,
        exact_search_hubs=settings.promise_exact_search_hubs,
        quote_ttl_s=settings.promise_quote_ttl_s,
        pickup_locations_max=settings.promise_pickup_locations_max,
        locker_radius_km=settings.promise_locker_radius_km,
        currency=settings.promise_currency,
        default_capacity={
            **d.default_capacity,
            **{OptionCode(k): v for k, v in settings.promise_default_capacity.items()},
        },
        default_fees={
            **d.default_fees,
            **{OptionCode(k): v for k, v in settings.promise_fees.items()},
        },
        default_member_free_threshold={
            **d.default_member_free_threshold,
            **{OptionCode(k): v for k, v in settings.promise_member_free_threshold.items()},
        },
    )


class CapacityRace(ReservationRace):
    """A slot filled up between planning and booking: re-plan (like a stock race)."""

    def __init__(self) -> None:
        super().__init__([])


class PromiseConflict(Conflict):
    """``quote_expired`` or ``option_unavailable``; the caller adds what is available now."""

    def __init__(self, message: str, *, code: str, request: QuoteRequest, reason: str) -> None:
        super().__init__(message, code=code, details={"reason": reason})
        self.request = request


@dataclass(frozen=True)
class QuoteRequest:
    lines: list[tuple[str, int]]
    destination: LatLng
    address: dict[str, Any] = field(default_factory=dict)
    customer_id: str | None = None
    member: bool = False

    def quantities(self) -> dict[str, int]:
        return line_quantities(self.lines)


# -- reading what a decision needs ------------------------------------------------------------


@dataclass
class _Facts:
    index: HubIndex
    merchant: MerchantPromise
    member: bool
    wanted: dict[str, int]
    products: dict[str, Product]
    cart: CartFacts
    serving: list[tuple[HubEntry, float]]
    atp: dict[str, dict[str, int]]  # hub -> product -> units it may promise
    calendars: dict[str, HubCalendar] = field(default_factory=dict)
    terms: MemberTerms | None = None  # the customer's plan, when they have one


_MERCHANT_SETTINGS = select(merchant_promise_table.c.settings).where(
    merchant_promise_table.c.merchant_id == bindparam("b_merchant")
)


def _merchant_settings(
    conn: Connection, merchant_id: str, config: PromiseConfig
) -> MerchantPromise:
    data = conn.execute(_MERCHANT_SETTINGS, {"b_merchant": merchant_id}).scalar()
    return MerchantPromise.from_json(data, config)


_ATP_COLUMNS = (
    stock_table.c.hub_id,
    stock_table.c.product_id,
    (stock_table.c.on_hand - stock_table.c.reserved).label("free"),
)
_ATP = select(*_ATP_COLUMNS).where(
    stock_table.c.merchant_id == bindparam("b_merchant"),
    stock_table.c.product_id.in_(bindparam("b_products", expanding=True)),
    stock_table.c.hub_id.in_(bindparam("b_hubs", expanding=True)),
)
# PostgreSQL: "= ANY(array)" keeps the SQL text the same whatever the list lengths, so
# the driver prepares it once; an expanded IN list is new SQL (and a new plan) each time.
_ATP_PG = select(*_ATP_COLUMNS).where(
    stock_table.c.merchant_id == bindparam("b_merchant"),
    stock_table.c.product_id == any_(bindparam("b_products", type_=ARRAY(String))),
    stock_table.c.hub_id == any_(bindparam("b_hubs", type_=ARRAY(String))),
)


def _atp(
    conn: Connection,
    merchant_id: str,
    products: Sequence[str],
    hubs: Sequence[str],
    floors: Mapping[str, int],
) -> dict[str, dict[str, int]]:
    if not hubs:
        return {}
    out: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        _ATP_PG if conn.dialect.name == "postgresql" else _ATP,
        {"b_merchant": merchant_id, "b_products": sorted(products), "b_hubs": sorted(hubs)},
    )
    for hub_id, product_id, free in rows:
        units = free - floors.get(hub_id, 0)
        if units > 0:
            out.setdefault(hub_id, {})[product_id] = units
    return out


def _gather(
    conn: Connection,
    merchant_id: str,
    wanted: dict[str, int],
    dest: LatLng,
    member: bool,
    config: PromiseConfig,
    products: dict[str, Product] | None = None,
) -> _Facts:
    if products is None:
        products = products_by_id(conn, merchant_id, list(wanted))
    unknown = sorted(set(wanted) - set(products))
    if unknown:
        raise InvalidInput(
            "unknown product(s) for this merchant",
            code="unknown_product",
            details={"product_ids": unknown},
        )
    merchant = _merchant_settings(conn, merchant_id, config)
    index = hub_index(conn)
    serving = index.serving(dest)
    atp = _atp(conn, merchant_id, list(wanted), [e.id for e, _ in serving], index.floors)
    cart = CartFacts.of(products, wanted, merchant.currency)
    return _Facts(index, merchant, member, wanted, products, cart, serving, atp)


def _moved(conn: Connection, merchant_id: str, facts: _Facts, dest: LatLng) -> _Facts:
    """The same cart, customer and merchant sent to ``dest`` (a locker bank): only the
    serving hubs and their stock are read again, in the same transaction."""
    serving = facts.index.serving(dest)
    hubs = [e.id for e, _ in serving]
    atp = _atp(conn, merchant_id, list(facts.wanted), hubs, facts.index.floors)
    return replace(facts, serving=serving, atp=atp)


# -- deciding the options ---------------------------------------------------------------------


@dataclass(frozen=True)
class _HubOffer:
    entry: HubEntry
    km: float
    offer: Offer


@dataclass(frozen=True)
class _Option:
    code: OptionCode
    offers: list[_HubOffer]  # the hubs of the plan, or the pick-up locations
    plan: Plan | None
    fee: int
    fee_waived: bool
    benefits: tuple[dict[str, Any], ...] = ()
    via: OptionCode | None = None  # locker: the delivery option its van runs on
    locker: Mapping[str, Any] | None = None  # locker: the bank

    @property
    def window(self) -> tuple[float, float]:
        return (
            min(h.offer.window_from for h in self.offers),
            max(h.offer.window_to for h in self.offers),
        )

    @property
    def cutoff(self) -> float:
        return min(h.offer.cutoff for h in self.offers)


def _offers(
    facts: _Facts,
    option: OptionCode,
    now: float,
    within: tuple[float, float] | None,
    only_hub: str | None,
) -> tuple[list[_HubOffer], Reason | None]:
    refusal = facts.merchant.refusal(option, facts.member, facts.terms)
    if refusal is not None:
        return [], refusal
    hubs = [(e, km) for e, km in facts.serving if e.can(option)]
    if only_hub is not None:
        hubs = [(e, km) for e, km in hubs if e.id == only_hub]
    if not hubs:
        if option is OptionCode.PICKUP_IN_STORE and facts.serving:
            return [], Reason.NO_PICKUP_LOCATION
        return [], Reason.OUTSIDE_SERVICE_AREA
    delivery = option is not OptionCode.PICKUP_IN_STORE
    if delivery:
        why = cart_reason(facts.cart, option)
        if why is not None:
            return [], why
    reasons: list[Reason] = []
    out: list[_HubOffer] = []
    carriers = carriers_for(facts.cart, option) if delivery else []
    for e, km in hubs:
        if e.id not in facts.atp:  # nothing of this cart here: no need to look at the clock
            continue
        modes = in_range(carriers, km)
        cal = facts.calendars.get(e.id)
        if cal is None:
            cal = facts.calendars[e.id] = facts.index.calendar(e, local_date(now, e.tz))
        o = offer_for(option, cal, e.promise, km, modes, now, within[1] if within else None)
        if isinstance(o, Reason):
            reasons.append(o)
        elif within is not None and not o.within(*within):
            reasons.append(Reason.CUTOFF_PASSED)
        else:
            out.append(_HubOffer(e, km, o))
    return out, (None if out else furthest(reasons, Reason.NO_STOCK))


_SLOT_COLUMNS = (
    capacity_slots_table.c.hub_id,
    capacity_slots_table.c.option,
    capacity_slots_table.c.slot_start,
    capacity_slots_table.c.capacity,
    capacity_slots_table.c.used,
)
# Only the options asked about: the other options' slots at these hubs and times are
# rows read and converted for nothing.
_SLOTS = select(*_SLOT_COLUMNS).where(
    capacity_slots_table.c.hub_id.in_(bindparam("b_hubs", expanding=True)),
    capacity_slots_table.c.option.in_(bindparam("b_options", expanding=True)),
    capacity_slots_table.c.slot_start.in_(bindparam("b_starts", expanding=True)),
)
_SLOTS_PG = select(*_SLOT_COLUMNS).where(
    capacity_slots_table.c.hub_id == any_(bindparam("b_hubs", type_=ARRAY(String))),
    capacity_slots_table.c.option == any_(bindparam("b_options", type_=ARRAY(String))),
    capacity_slots_table.c.slot_start
    == any_(bindparam("b_starts", type_=ARRAY(DateTime(timezone=True)))),
)


def _capacity_left(
    conn: Connection, offers: Sequence[_HubOffer], config: PromiseConfig
) -> dict[tuple[str, str, float], int]:
    """Slots left per (hub, option, slot start) for every offer, in one query."""
    left = {
        (h.entry.id, h.offer.option.value, h.offer.slot_start): h.entry.promise.capacity_for(
            h.offer.option, config.default_capacity
        )
        for h in offers
    }
    if not left:
        return left
    hubs = sorted({k[0] for k in left})
    options = sorted({k[1] for k in left})
    starts = sorted({datetime.fromtimestamp(k[2], UTC) for k in left})
    stmt = _SLOTS_PG if conn.dialect.name == "postgresql" else _SLOTS
    for hub_id, option, start, capacity, used in conn.execute(
        stmt, {"b_hubs": hubs, "b_options": options, "b_starts": starts}
    ):
        key = (hub_id, option, start.timestamp())
        if key in left:
            left[key] = capacity - used
    return left


def _params(config: PromiseConfig) -> StrategyParams:
    return StrategyParams(config.split_penalty, config.exact_split_max, config.exact_search_hubs)


def _decide(
    facts: _Facts,
    option: OptionCode,
    offers: list[_HubOffer],
    left: Mapping[tuple[str, str, float], int],
    config: PromiseConfig,
) -> _Option | Reason:
    with_capacity = [h for h in offers if left[(h.entry.id, option.value, h.offer.slot_start)] >= 1]
    if not with_capacity:
        return Reason.NO_CAPACITY
    fee, waived = facts.merchant.fee(option, facts.cart.value, facts.member, facts.terms)
    benefits = tuple(facts.merchant.benefits(option, facts.cart.value, facts.member, facts.terms))
    if option is OptionCode.PICKUP_IN_STORE:
        places = [
            h
            for h in with_capacity
            if all(facts.atp[h.entry.id].get(p, 0) >= q for p, q in facts.wanted.items())
        ]
        if not places:
            return Reason.NO_STOCK
        return _Option(option, places[: config.pickup_locations_max], None, fee, waived, benefits)
    by_id = {h.entry.id: h for h in with_capacity}
    candidates = [
        Candidate(h.entry.id, h.km, h.offer.cost, facts.atp[h.entry.id]) for h in with_capacity
    ]
    plan = get_strategy(config.strategy).plan(facts.wanted, candidates, _params(config))
    if isinstance(plan, Shortfall):
        return Reason.NO_STOCK
    return _Option(option, [by_id[h] for h in plan.hubs], plan, fee, waived, benefits)


@dataclass(frozen=True)
class Evaluation:
    options: list[_Option]
    unavailable: list[tuple[OptionCode, Reason]]
    currency: str
    terms: MemberTerms | None = None
    floors: Mapping[str, int] = field(default_factory=dict)  # safety stock per hub, as read


def evaluate(
    conn: Connection,
    merchant_id: str,
    req: QuoteRequest,
    now: datetime,
    config: PromiseConfig,
    *,
    only: OptionCode | None = None,
    within: tuple[float, float] | None = None,
    only_hub: str | None = None,
    locker: tuple[str, OptionCode] | None = None,
    products: dict[str, Product] | None = None,
) -> Evaluation:
    """Every option (or ``only`` one) for this cart and address at ``now``. ``locker``
    pins the locker option to one (bank, option it rides on), as quoted. ``products``:
    the cart's products, if the caller read them in this transaction already."""
    wanted = req.quantities()
    terms = member_terms(conn, merchant_id, req.customer_id, now)
    member = req.member or terms is not None
    facts = _gather(conn, merchant_id, wanted, req.destination, member, config, products)
    facts.terms = terms
    return _evaluate(conn, merchant_id, req, facts, now, config, only, within, only_hub, locker)


def _evaluate(
    conn: Connection,
    merchant_id: str,
    req: QuoteRequest,
    facts: _Facts,
    now: datetime,
    config: PromiseConfig,
    only: OptionCode | None,
    within: tuple[float, float] | None,
    only_hub: str | None,
    locker: tuple[str, OptionCode] | None,
) -> Evaluation:
    ts = now.timestamp()
    codes = [only] if only is not None else list(OptionCode)
    unavailable: list[tuple[OptionCode, Reason]] = []
    offered: dict[OptionCode, list[_HubOffer]] = {}
    for code in codes:
        if code is OptionCode.LOCKER:
            continue  # decided below, from the delivery options to nearby lockers
        offers, why = _offers(facts, code, ts, within, only_hub)
        if why is not None:
            unavailable.append((code, why))
        else:
            offered[code] = offers
    left = _capacity_left(conn, [h for v in offered.values() for h in v], config)
    options: list[_Option] = []
    for code, offers in offered.items():
        decided = _decide(facts, code, offers, left, config)
        if isinstance(decided, Reason):
            unavailable.append((code, decided))
        else:
            options.append(decided)
    if OptionCode.LOCKER in codes:
        to_locker = _locker(conn, merchant_id, req, facts, now, config, within, locker)
        if isinstance(to_locker, Reason):
            unavailable.append((OptionCode.LOCKER, to_locker))
        else:
            options.append(to_locker)
    order = {c: i for i, c in enumerate(OptionCode)}
    options.sort(key=lambda o: order[o.code])
    unavailable.sort(key=lambda u: order[u[0]])
    return Evaluation(
        options, unavailable, facts.merchant.currency, facts.terms, facts.index.floors
    )


LOCKER_VIA = (OptionCode.SAME_DAY, OptionCode.NEXT_DAY, OptionCode.STANDARD_2D)
LOCKER_BANKS_TRIED = 3


def _locker(
    conn: Connection,
    merchant_id: str,
    req: QuoteRequest,
    facts: _Facts,
    now: datetime,
    config: PromiseConfig,
    within: tuple[float, float] | None,
    pinned: tuple[str, OptionCode] | None,
) -> _Option | Reason:
    """The earliest delivery option to the nearest locker bank with a compartment free for
    the parcel, priced as a locker delivery."""
    refusal = facts.merchant.refusal(OptionCode.LOCKER, facts.member, facts.terms)
    if refusal is not None:
        return refusal
    dims = bundle_dims(facts.products, facts.wanted)
    banks, near = banks_near(
        conn, req.destination, config.locker_radius_km, dims, facts.cart.weight_g, now
    )
    vias: tuple[OptionCode, ...] = LOCKER_VIA
    if pinned is not None:
        banks = [b for b in banks if b.id == pinned[0]]
        vias = (pinned[1],)
    if not banks:
        return Reason.NO_COMPARTMENT if near else Reason.NO_LOCKER_NEARBY
    reasons: list[Reason] = []
    for bank in banks[:LOCKER_BANKS_TRIED]:
        to_bank = replace(req, destination=bank.point)
        # The cart, customer and merchant were read above: only the hubs differ.
        at_bank = _moved(conn, merchant_id, facts, bank.point)
        for via in vias:
            ev = _evaluate(
                conn, merchant_id, to_bank, at_bank, now, config, via, within, None, None
            )
            if not ev.options:
                reasons.extend(r for _, r in ev.unavailable)
                continue
            cart, member, terms = facts.cart.value, facts.member, facts.terms
            fee, waived = facts.merchant.fee(OptionCode.LOCKER, cart, member, terms)
            benefits = tuple(facts.merchant.benefits(OptionCode.LOCKER, cart, member, terms))
            where = {
                "bank_id": bank.id,
                "name": bank.name,
                "location": {"lat": bank.point.lat, "lng": bank.point.lng},
                "distance_km": round(bank.km, 3),
            }
            return replace(
                ev.options[0], code=OptionCode.LOCKER, fee=fee, fee_waived=waived,
                benefits=benefits, via=via, locker=where,
            )  # fmt: skip
    return furthest(reasons, Reason.NO_STOCK)


# -- JSON -------------------------------------------------------------------------------------


def _window_json(start: float, end: float, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "from": iso(start),
        "to": iso(end),
        "from_local": local_iso(start, tz),
        "to_local": local_iso(end, tz),
        "timezone": tz.key,
    }


def _option_json(o: _Option, currency: str) -> dict[str, Any]:
    first = o.offers[0]
    tz = first.entry.tz
    out: dict[str, Any] = {
        "code": o.code.value,
        "window": _window_json(*o.window, tz)
        if o.plan is not None
        else _window_json(first.offer.window_from, first.offer.window_to, tz),
        "cutoff": iso(o.cutoff if o.plan is not None else first.offer.cutoff),
        "cutoff_local": local_iso(o.cutoff if o.plan is not None else first.offer.cutoff, tz),
        "fee": {"amount": o.fee, "currency": currency},
        "fee_waived": o.fee_waived,
        "benefits": list(o.benefits),
        "split": o.plan is not None and len(o.offers) > 1,
        "shipments": [
            {"hub_id": h.entry.id, "mode": h.offer.mode} for h in o.offers if o.plan is not None
        ],
        "pickup_locations": None,
    }
    if o.locker is not None and o.via is not None:
        out["locker"] = {**o.locker, "via": o.via.value}
    if o.plan is None:
        out["pickup_locations"] = [
            {
                "hub_id": h.entry.id,
                "name": h.entry.hub.name,
                "distance_km": round(h.km, 3),
                "ready_by": iso(h.offer.window_from),
                "ready_by_local": local_iso(h.offer.window_from, h.entry.tz),
                "pickup_until": iso(h.offer.window_to),
                "pickup_until_local": local_iso(h.offer.window_to, h.entry.tz),
                "cutoff": iso(h.offer.cutoff),
                "timezone": h.entry.tz.key,
            }
            for h in o.offers
        ]
    return out


_MESSAGES = {
    Reason.NOT_OFFERED: "the merchant does not offer this option",
    Reason.MEMBERS_ONLY: "this option is for members only",
    Reason.OUTSIDE_SERVICE_AREA: "no hub serves this address",
    Reason.NO_PICKUP_LOCATION: "no pick-up location serves this address",
    Reason.CART_TOO_HEAVY: "the cart is too heavy for every delivery mode of this option",
    Reason.CART_TOO_LARGE: "an item is too large for every delivery mode of this option",
    Reason.TEMPERATURE_NOT_SUPPORTED: "no delivery mode of this option keeps these items cold",
    Reason.TOO_FAR: "the address is too far from every hub for this option",
    Reason.HUB_CLOSED: "the hubs that could serve this are closed too long to keep the promise",
    Reason.CUTOFF_PASSED: "the order-by time for this option has passed",
    Reason.NO_CAPACITY: "every delivery slot for this option is full",
    Reason.NO_STOCK: "not enough stock within reach for this option",
    Reason.NO_LOCKER_NEARBY: "no locker is near this address",
    Reason.NO_COMPARTMENT: "no locker near this address has a compartment free for this parcel",
}


def _unavailable_json(items: Sequence[tuple[OptionCode, Reason]]) -> list[dict[str, Any]]:
    return [{"code": c.value, "reason": r.value, "message": _MESSAGES[r]} for c, r in items]


def _iso_dt(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _quote_json(row: Mapping[str, Any]) -> dict[str, Any]:
    address = dict(row["address"])
    address["lat"], address["lng"] = row["lat"], row["lng"]
    return {
        "id": row["id"],
        "merchant_id": row["merchant_id"],
        "created_at": _iso_dt(row["created_at"]),
        "expires_at": _iso_dt(row["expires_at"]),
        "address": address,
        "lines": row["lines"],
        "customer": row["customer"],
        "options": row["options"],
        "unavailable": row["unavailable"],
    }


# -- quotes -----------------------------------------------------------------------------------


_INSERT_QUOTE = insert(quotes_table)


def create_quote(
    engine: Engine, merchant_id: str, req: QuoteRequest, now: datetime, config: PromiseConfig
) -> dict[str, Any]:
    with UnitOfWork(engine, readonly=True) as uow:
        ev = evaluate(uow.conn, merchant_id, req, now, config)
    row = {
        "id": new_id("quo"),
        "merchant_id": merchant_id,
        "lines": [{"product_id": p, "quantity": q} for p, q in req.lines],
        "address": req.address,
        "lat": req.destination.lat,
        "lng": req.destination.lng,
        "customer": _customer_json(req, ev.terms),
        "options": [_option_json(o, ev.currency) for o in ev.options],
        "unavailable": _unavailable_json(ev.unavailable),
        "created_at": now,
        "expires_at": now + timedelta(seconds=config.quote_ttl_s),
    }
    with UnitOfWork(engine) as uow:
        uow.conn.execute(_INSERT_QUOTE, row)
    return _quote_json(row)


def _customer_json(req: QuoteRequest, terms: MemberTerms | None) -> dict[str, Any]:
    membership = None
    if terms is not None:
        membership = {"plan_id": terms.plan_id, "subscription_id": terms.subscription_id}
    return {
        "id": req.customer_id,
        "member": req.member or terms is not None,
        "membership": membership,
    }


_QUOTE = select(quotes_table).where(
    quotes_table.c.id == bindparam("b_id"), quotes_table.c.merchant_id == bindparam("b_merchant")
)


def _quote_row(conn: Connection, merchant_id: str, quote_id: str) -> dict[str, Any]:
    row = conn.execute(_QUOTE, {"b_id": quote_id, "b_merchant": merchant_id}).first()
    if row is None:
        raise NotFound(f"quote {quote_id} not found", code="quote_not_found")
    return dict(row._mapping)


def get_quote(conn: Connection, merchant_id: str, quote_id: str) -> dict[str, Any]:
    return _quote_json(_quote_row(conn, merchant_id, quote_id))


def requote_details(
    engine: Engine, merchant_id: str, req: QuoteRequest, now: datetime, config: PromiseConfig
) -> dict[str, Any]:
    """A fresh quote for the same cart and address: what is available now."""
    fresh = create_quote(engine, merchant_id, req, now, config)
    return {
        "options": fresh["options"],
        "unavailable": fresh["unavailable"],
        "quote_id": fresh["id"],
        "expires_at": fresh["expires_at"],
    }


# -- orders on a quote ------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class SlotKey:
    hub_id: str
    option: str
    slot_start: datetime
    slot_end: datetime
    default_capacity: int


@dataclass(frozen=True)
class QuotedPlan:
    requests: list[StockRequest]
    floors: dict[str, int]
    slots: list[SlotKey]
    promise: dict[str, Any]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def plan_quoted_order(
    conn: Connection,
    merchant_id: str,
    quote_id: str,
    option: OptionCode,
    pickup_hub_id: str | None,
    wanted: Mapping[str, int],
    destination: LatLng,
    now: datetime,
    config: PromiseConfig,
    products: dict[str, Product] | None = None,
) -> QuotedPlan:
    """Source an order so that it keeps the quoted promise, or raise why it cannot.
    ``products``: the cart's products, if the caller read them in this transaction."""
    row = _quote_row(conn, merchant_id, quote_id)
    quoted_lines = {x["product_id"]: x["quantity"] for x in row["lines"]}
    if quoted_lines != dict(wanted):
        raise InvalidInput(
            "the order lines differ from the quote's lines",
            code="quote_mismatch",
            details={"quoted": quoted_lines, "ordered": dict(wanted)},
        )
    if abs(row["lat"] - destination.lat) > 1e-6 or abs(row["lng"] - destination.lng) > 1e-6:
        raise InvalidInput(
            "the delivery address differs from the quote's address",
            code="quote_mismatch",
            details={"quoted": {"lat": row["lat"], "lng": row["lng"]}},
        )
    customer = row["customer"]
    req = QuoteRequest(
        lines=[(x["product_id"], x["quantity"]) for x in row["lines"]],
        destination=LatLng(row["lat"], row["lng"]),
        address=row["address"],
        customer_id=customer.get("id"),
        # A subscription is looked up again; the merchant's own flag is kept as quoted.
        member=bool(customer.get("member")) and customer.get("membership") is None,
    )
    if now >= row["expires_at"]:
        raise PromiseConflict(
            "the quote has expired; quote again", code="quote_expired", request=req,
            reason="quote_expired",
        )  # fmt: skip
    chosen = next((o for o in row["options"] if o["code"] == option.value), None)
    if chosen is None:
        why = next((u["reason"] for u in row["unavailable"] if u["code"] == option.value), "")
        raise PromiseConflict(
            f"the quote does not offer {option.value}", code="option_unavailable", request=req,
            reason=why or "not_quoted",
        )  # fmt: skip
    if option is OptionCode.PICKUP_IN_STORE:
        places = chosen["pickup_locations"] or []
        place = next(
            (p for p in places if pickup_hub_id is None or p["hub_id"] == pickup_hub_id), None
        )
        if place is None:
            raise InvalidInput(
                "this pick-up location is not in the quote",
                code="unknown_pickup_location",
                details={"pickup_hub_id": pickup_hub_id, "quoted": [p["hub_id"] for p in places]},
            )
        window = (_ts(place["ready_by"]), _ts(place["pickup_until"]))
        cutoff, only_hub = _ts(place["cutoff"]), place["hub_id"]
    else:
        if pickup_hub_id is not None:
            raise InvalidInput("pickup_hub_id is only for pickup_in_store", code="invalid_request")
        window = (_ts(chosen["window"]["from"]), _ts(chosen["window"]["to"]))
        cutoff, only_hub = _ts(chosen["cutoff"]), None
    if now.timestamp() >= cutoff:
        raise PromiseConflict(
            "the order-by time of this option has passed", code="option_unavailable",
            request=req, reason=Reason.CUTOFF_PASSED.value,
        )  # fmt: skip
    at_locker = chosen.get("locker")
    pinned = (at_locker["bank_id"], OptionCode(at_locker["via"])) if at_locker else None
    ev = evaluate(
        conn, merchant_id, req, now, config, only=option, within=window, only_hub=only_hub,
        locker=pinned, products=products,
    )  # fmt: skip
    if not ev.options:
        why = ev.unavailable[0][1].value if ev.unavailable else "unavailable"
        raise PromiseConflict(
            f"{option.value} can no longer be kept for this cart", code="option_unavailable",
            request=req, reason=why,
        )  # fmt: skip
    decided = ev.options[0]
    if decided.plan is not None:
        requests = decided.plan.requests
        hubs = decided.offers
    else:
        hubs = decided.offers[:1]
        requests = [StockRequest(only_hub or hubs[0].entry.id, p, q) for p, q in wanted.items()]
    # A locker parcel rides on a delivery option's van and takes that option's capacity.
    rides = decided.via or option
    slots = sorted(
        SlotKey(
            h.entry.id,
            rides.value,
            datetime.fromtimestamp(h.offer.slot_start, UTC),
            datetime.fromtimestamp(h.offer.slot_end, UTC),
            h.entry.promise.capacity_for(rides, config.default_capacity),
        )
        for h in hubs
    )
    promise = {
        "quote_id": quote_id,
        "option": option.value,
        "window": chosen["window"],
        "cutoff": chosen["cutoff"],
        "fee": chosen["fee"],
        "fee_waived": chosen["fee_waived"],
        "benefits": chosen.get("benefits", []),
        "member": bool(customer.get("member")),
        "membership": customer.get("membership"),
        "pickup_hub_id": only_hub,
        "locker": at_locker,
        "shipments": [
            {
                "hub_id": h.entry.id,
                "mode": h.offer.mode,
                "slot_start": iso(h.offer.slot_start),
                "slot_end": iso(h.offer.slot_end),
                "ready_at": iso(h.offer.ready_at),
            }
            for h in hubs
        ],
    }
    if option is OptionCode.PICKUP_IN_STORE:
        tz = hubs[0].entry.tz
        promise["window"] = _window_json(window[0], window[1], tz)
        promise["cutoff"] = iso(cutoff)
    floors = {h: ev.floors.get(h, 0) for h in {r.hub_id for r in requests}}
    return QuotedPlan(requests, floors, slots, promise)


# -- capacity: book, release, set ---------------------------------------------------------------

_CONSUME = (
    update(capacity_slots_table)
    .where(
        capacity_slots_table.c.hub_id == bindparam("b_hub"),
        capacity_slots_table.c.option == bindparam("b_option"),
        capacity_slots_table.c.slot_start == bindparam("b_start"),
        capacity_slots_table.c.used + 1 <= capacity_slots_table.c.capacity,
    )
    .values(
        used=capacity_slots_table.c.used + 1,
        updated_at=bindparam("b_now", type_=capacity_slots_table.c.updated_at.type),
    )
)


_SLOT_KEY = ["hub_id", "option", "slot_start"]
# The slot row, made at its default capacity if this is its first booking.
_ENSURE_SLOT = sqlite_insert(capacity_slots_table).on_conflict_do_nothing(index_elements=_SLOT_KEY)
_ENSURE_SLOT_PG = pg_insert(capacity_slots_table).on_conflict_do_nothing(index_elements=_SLOT_KEY)
_INSERT_BOOKINGS = insert(slot_bookings_table)


def book_slots(
    conn: Connection, merchant_id: str, order_id: str, slots: Sequence[SlotKey], now: datetime
) -> None:
    """Take one unit of each slot for ``order_id`` or raise CapacityRace (caller rolls back).

    The booking rows go in first and the conditional slot UPDATEs last, in sorted
    order, so the hot slot rows stay locked only until the commit right after.
    """
    if not slots:
        return
    ordered = sorted(slots)
    conn.execute(
        _INSERT_BOOKINGS,
        [
            {
                "id": new_id("slb"),
                "order_id": order_id,
                "merchant_id": merchant_id,
                "hub_id": s.hub_id,
                "option": s.option,
                "slot_start": s.slot_start,
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for s in ordered
        ],
    )
    ensure = _ENSURE_SLOT_PG if conn.dialect.name == "postgresql" else _ENSURE_SLOT
    for s in ordered:
        conn.execute(
            ensure,
            {
                "hub_id": s.hub_id,
                "option": s.option,
                "slot_start": s.slot_start,
                "slot_end": s.slot_end,
                "capacity": s.default_capacity,
                "used": 0,
                "updated_at": now,
            },
        )
        res = conn.execute(
            _CONSUME,
            {"b_hub": s.hub_id, "b_option": s.option, "b_start": s.slot_start, "b_now": now},
        )
        if res.rowcount != 1:
            raise CapacityRace()


def release_slots(conn: Connection, order_id: str, now: datetime) -> int:
    """Give back an order's slots, exactly once (the status flip is conditional)."""
    b = slot_bookings_table.c
    rows = conn.execute(
        update(slot_bookings_table)
        .where(b.order_id == order_id, b.status == "active")
        .values(status="released", updated_at=now)
        .returning(b.hub_id, b.option, b.slot_start)
    ).all()
    cs = capacity_slots_table.c
    for r in sorted(rows, key=lambda x: (x.hub_id, x.option, x.slot_start)):
        res = conn.execute(
            update(capacity_slots_table)
            .where(
                cs.hub_id == r.hub_id,
                cs.option == r.option,
                cs.slot_start == r.slot_start,
                cs.used >= 1,
            )
            .values(used=cs.used - 1, updated_at=now)
        )
        if res.rowcount != 1:  # would mean the bookings and the slot disagree
            raise RuntimeError(f"capacity slot lost track of a booking of order {order_id}")
    return len(rows)


def _require_hub_settings(conn: Connection, hub_id: str) -> tuple[Any, HubPromise]:
    hub = get_hub(conn, hub_id)
    if hub is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    t = hub_promise_table
    data = conn.execute(select(t.c.settings).where(t.c.hub_id == hub_id)).scalar()
    return hub, HubPromise.from_json(data)


def set_capacity(
    uow: UnitOfWork,
    hub_id: str,
    items: Sequence[tuple[OptionCode, datetime, int]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Set the capacity of the slots containing each instant; never below what is used."""
    conn = uow.conn
    hub, settings = _require_hub_settings(conn, hub_id)
    tz = ZoneInfo(hub.timezone)
    cs = capacity_slots_table
    out = []
    keyed = []
    for option, at, capacity in items:
        start, end = slot_for(option, tz, settings, at.timestamp())
        keyed.append((option.value, start, end, capacity))
    for option_value, start, end, capacity in sorted(keyed):
        s_dt, e_dt = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        row = conn.execute(
            insert_on_conflict(conn, cs)
            .values(
                hub_id=hub_id,
                option=option_value,
                slot_start=s_dt,
                slot_end=e_dt,
                capacity=capacity,
                used=0,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["hub_id", "option", "slot_start"],
                set_={"capacity": capacity, "updated_at": now},
                where=cs.c.used <= capacity,
            )
            .returning(cs.c.used)
        ).first()
        if row is None:
            used = conn.execute(
                select(cs.c.used).where(
                    cs.c.hub_id == hub_id, cs.c.option == option_value, cs.c.slot_start == s_dt
                )
            ).scalar()
            raise Conflict(
                "capacity cannot go below the bookings already in the slot",
                code="capacity_below_used",
                details={
                    "option": option_value,
                    "slot_start": iso(start),
                    "used": used,
                    "capacity": capacity,
                },
            )
        out.append(
            {
                "hub_id": hub_id,
                "option": option_value,
                "slot_start": iso(start),
                "slot_end": iso(end),
                "capacity": capacity,
                "used": row.used,
            }
        )
    record(
        conn,
        [Event("hub.capacity_updated", hub_id, None, {"hub_id": hub_id, "slots": out})],
        now,
    )
    return out


def list_capacity(
    conn: Connection,
    hub_id: str,
    option: OptionCode | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    if get_hub(conn, hub_id) is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    cs = capacity_slots_table.c
    conds = [cs.hub_id == hub_id]
    if option is not None:
        conds.append(cs.option == option.value)
    if start is not None:
        conds.append(cs.slot_end > start)
    if end is not None:
        conds.append(cs.slot_start < end)
    rows = conn.execute(
        select(capacity_slots_table)
        .where(and_(*conds))
        .order_by(cs.slot_start, cs.option)
        .limit(limit)
    )
    return [
        {
            "hub_id": r.hub_id,
            "option": r.option,
            "slot_start": _iso_dt(r.slot_start),
            "slot_end": _iso_dt(r.slot_end),
            "capacity": r.capacity,
            "used": r.used,
        }
        for r in rows
    ]


# -- settings ---------------------------------------------------------------------------------


def get_hub_promise(conn: Connection, hub_id: str, config: PromiseConfig) -> dict[str, Any]:
    _, settings = _require_hub_settings(conn, hub_id)
    return _hub_promise_json(hub_id, settings, config)


def _hub_promise_json(hub_id: str, p: HubPromise, config: PromiseConfig) -> dict[str, Any]:
    out = p.to_json()
    out["hub_id"] = hub_id
    out["capacity"] = {o.value: p.capacity_for(o, config.default_capacity) for o in OptionCode}
    return out


def set_hub_promise(
    uow: UnitOfWork, hub_id: str, data: Mapping[str, Any], now: datetime, config: PromiseConfig
) -> dict[str, Any]:
    conn = uow.conn
    if get_hub(conn, hub_id) is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    try:
        settings = HubPromise.from_json(data)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_promise_settings") from exc
    stored = settings.to_json()
    t = hub_promise_table
    conn.execute(
        insert_on_conflict(conn, t)
        .values(hub_id=hub_id, settings=stored, updated_at=now)
        .on_conflict_do_update(
            index_elements=["hub_id"], set_={"settings": stored, "updated_at": now}
        )
    )
    record(conn, [Event("hub.promise_updated", hub_id, None, {"hub_id": hub_id})], now)
    bump_revision(conn, now)
    return _hub_promise_json(hub_id, settings, config)


def get_merchant_promise(
    conn: Connection, merchant_id: str, config: PromiseConfig
) -> dict[str, Any]:
    return _merchant_settings(conn, merchant_id, config).to_json()


def set_merchant_promise(
    uow: UnitOfWork,
    merchant_id: str,
    data: Mapping[str, Any],
    now: datetime,
    config: PromiseConfig,
) -> dict[str, Any]:
    try:
        settings = MerchantPromise.from_json(data, config)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_promise_settings") from exc
    stored = settings.to_json()
    t = merchant_promise_table
    conn = uow.conn
    conn.execute(
        insert_on_conflict(conn, t)
        .values(merchant_id=merchant_id, settings=stored, updated_at=now)
        .on_conflict_do_update(
            index_elements=["merchant_id"], set_={"settings": stored, "updated_at": now}
        )
    )
    record(
        conn,
        [Event("merchant.promise_updated", merchant_id, merchant_id, {"merchant_id": merchant_id})],
        now,
    )
    return stored


def safety_floors(conn: Connection) -> dict[str, int]:
    """Units each hub keeps back from online orders (for walk-in customers), where set."""
    return {h: n for h, n in hub_index(conn).floors.items() if n > 0}
