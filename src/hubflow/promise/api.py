"""Promise endpoints: quotes, hub promise settings and capacity, merchant promise settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from hubflow.api.deps import AnyCaller, MerchantCaller, OperatorCaller, State
from hubflow.api.schemas import PathId, RefId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput
from hubflow.core.geo import LatLng
from hubflow.core.settings import Settings
from hubflow.promise import service
from hubflow.promise.model import OptionCode, PromiseConfig

router = APIRouter(prefix="/v1", tags=["promise"])

_configs: dict[int, tuple[Settings, PromiseConfig]] = {}


def promise_config(settings: Settings) -> PromiseConfig:
    """The promise configuration of these settings (built once per settings object)."""
    cached = _configs.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, service.config_from(settings))
        _configs[id(settings)] = cached
    return cached[1]


def _utc(v: datetime | None) -> datetime | None:
    try:
        return v.astimezone(UTC) if v is not None else None
    except OverflowError as exc:  # e.g. 9999-12-31T23:59-14:00 has no UTC datetime
        raise ValueError("must be a time that exists in UTC") from exc


# -- quotes -------------------------------------------------------------------------------------


class QuoteLineIn(Strict):
    product_id: RefId
    quantity: int = Field(ge=1, le=10_000)


class QuoteAddressIn(Strict):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    line1: text(200) | None = None  # type: ignore[valid-type]
    line2: text(200) | None = None  # type: ignore[valid-type]
    city: text(100) | None = None  # type: ignore[valid-type]
    postcode: text(20) | None = None  # type: ignore[valid-type]
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class QuoteCustomerIn(Strict):
    id: text(100) | None = None  # type: ignore[valid-type]
    member: bool = Field(
        default=False,
        description="the merchant vouches for membership of its own programme; a customer "
        "id with a live subscription (/v1/membership) is a member without it",
    )


class QuoteIn(Strict):
    address: QuoteAddressIn
    lines: list[QuoteLineIn] = Field(max_length=100, description="an empty cart is a 422")
    customer: QuoteCustomerIn = Field(default_factory=QuoteCustomerIn)


class WindowOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="UTC")
    to: str = Field(description="UTC")
    from_local: str = Field(description="in the customer's (the serving hub's) time zone")
    to_local: str
    timezone: str


class FeeOut(BaseModel):
    amount: int
    currency: str


class ShipmentPlanOut(BaseModel):
    hub_id: str
    mode: str | None


class PickupLocationOut(BaseModel):
    hub_id: str
    name: str
    distance_km: float
    ready_by: str
    ready_by_local: str
    pickup_until: str
    pickup_until_local: str
    cutoff: str
    timezone: str


class LockerOut(BaseModel):
    bank_id: str
    name: str
    location: dict[str, float]
    distance_km: float = Field(description="from the address")
    via: OptionCode = Field(description="the delivery option the parcel rides on")


class OptionOut(BaseModel):
    code: OptionCode
    window: WindowOut
    cutoff: str = Field(description="order strictly before this (UTC) to get this option")
    cutoff_local: str
    fee: FeeOut
    fee_waived: bool = Field(description="a member benefit made delivery free")
    benefits: list[dict[str, Any]] = Field(
        default_factory=list,
        description="member benefits applied: free_delivery (with its threshold) or "
        "members_only_option, with the plan that gave them (null: the merchant's own flag)",
    )
    split: bool
    shipments: list[ShipmentPlanOut] = Field(description="the hubs planned now (may change)")
    pickup_locations: list[PickupLocationOut] | None
    locker: LockerOut | None = Field(default=None, description="locker: the bank it goes to")


class UnavailableOut(BaseModel):
    code: OptionCode
    reason: str
    message: str


class QuoteOut(BaseModel):
    id: str
    merchant_id: str
    created_at: str
    expires_at: str
    address: dict[str, Any]
    lines: list[QuoteLineIn]
    customer: dict[str, Any]
    options: list[OptionOut]
    unavailable: list[UnavailableOut]


@router.post("/quotes", status_code=201, response_model=QuoteOut, tags=["promise"])
def post_quote(body: QuoteIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    """Delivery options for a cart and an address: window, order-by cutoff and fee each."""
    assert caller.merchant_id is not None
    req = service.QuoteRequest(
        lines=[(line.product_id, line.quantity) for line in body.lines],
        destination=LatLng(body.address.lat, body.address.lng),
        address=body.address.model_dump(exclude={"lat", "lng"}, exclude_none=True),
        customer_id=body.customer.id,
        member=body.customer.member,
    )
    return service.create_quote(
        state.engine, caller.merchant_id, req, state.clock.now(), promise_config(state.settings)
    )


@router.get("/quotes/{quote_id}", response_model=QuoteOut, tags=["promise"])
def get_quote(quote_id: PathId, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_quote(uow.conn, caller.merchant_id, quote_id)


# -- hub settings and capacity ------------------------------------------------------------------

HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
HHMM24 = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
Window = Annotated[list[HHMM24], Field(min_length=2, max_length=2)]
Units = Annotated[int, Field(ge=0, le=1_000_000)]


class HubPromiseIn(Strict):
    pick_pack_minutes: int = Field(default=30, ge=0, le=1440)
    same_day_cutoff: HHMM = Field(default="14:00", description="local; order before it")
    same_day_window: Window = Field(default_factory=lambda: ["17:00", "21:00"])
    next_day_cutoff: HHMM = Field(default="20:00", description="also the standard_2d cutoff")
    delivery_window: Window = Field(
        default_factory=lambda: ["09:00", "21:00"], description="next_day and standard_2d"
    )
    safety_stock: Units = Field(default=0, description="units per product kept for walk-ins")
    options: list[OptionCode] | None = Field(
        default=None, max_length=5, description="options this hub serves; null: all it can"
    )
    capacity: dict[OptionCode, Units] = Field(
        default_factory=dict, description="default capacity of each new slot, by option"
    )


class HubPromiseOut(BaseModel):
    hub_id: str
    pick_pack_minutes: int
    same_day_cutoff: str
    same_day_window: list[str]
    next_day_cutoff: str
    delivery_window: list[str]
    safety_stock: int
    options: list[OptionCode] | None
    capacity: dict[str, int]


@router.put("/hubs/{hub_id}/promise", response_model=HubPromiseOut, tags=["promise"])
def put_hub_promise(
    hub_id: PathId, body: HubPromiseIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Operator: the hub's pick-pack lead, cutoffs, windows, safety stock and capacities."""
    with UnitOfWork(state.engine) as uow:
        return service.set_hub_promise(
            uow,
            hub_id,
            body.model_dump(mode="json"),
            state.clock.now(),
            promise_config(state.settings),
        )


@router.get("/hubs/{hub_id}/promise", response_model=HubPromiseOut, tags=["promise"])
def get_hub_promise(hub_id: PathId, state: State, _: AnyCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_hub_promise(uow.conn, hub_id, promise_config(state.settings))


class SlotIn(Strict):
    option: OptionCode
    at: AwareDatetime = Field(description="any instant inside the slot (or on its local day)")
    capacity: Units

    @field_validator("at")
    @classmethod
    def _at_utc(cls, v: datetime) -> datetime | None:
        return _utc(v)


class CapacityIn(Strict):
    slots: list[SlotIn] = Field(min_length=1, max_length=500)


class SlotOut(BaseModel):
    hub_id: str
    option: OptionCode
    slot_start: str
    slot_end: str
    capacity: int
    used: int


class CapacityOut(BaseModel):
    slots: list[SlotOut]


@router.put("/hubs/{hub_id}/capacity", response_model=CapacityOut, tags=["promise"])
def put_capacity(
    hub_id: PathId, body: CapacityIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Operator: set the capacity of the slots containing the given instants."""
    with UnitOfWork(state.engine) as uow:
        slots = service.set_capacity(
            uow, hub_id, [(s.option, s.at, s.capacity) for s in body.slots], state.clock.now()
        )
    return {"slots": slots}


def _query_time(v: datetime | None) -> datetime | None:
    try:
        return _utc(v)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_request") from exc


@router.get("/hubs/{hub_id}/capacity", response_model=CapacityOut, tags=["promise"])
def get_capacity(
    hub_id: PathId,
    state: State,
    _: OperatorCaller,
    option: OptionCode | None = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Operator: the slots used so far (a slot exists once booked or set)."""
    with UnitOfWork(state.engine, readonly=True) as uow:
        slots = service.list_capacity(
            uow.conn, hub_id, option, _query_time(start), _query_time(end), limit
        )
    return {"slots": slots}


# -- merchant settings --------------------------------------------------------------------------

Amount = Annotated[int, Field(ge=0, le=10_000_000)]


class MerchantPromiseIn(Strict):
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    offered: list[OptionCode] | None = Field(
        default=None, max_length=5, description="options offered; null: all"
    )
    fees: dict[OptionCode, Amount] = Field(
        default_factory=dict, description="fee per option (minor units); missing: the default"
    )
    member_free_threshold: dict[OptionCode, Amount | None] | None = Field(
        default=None,
        description="cart value from which members pay no fee, per option; null: the defaults",
    )
    members_only: list[OptionCode] = Field(default_factory=list, max_length=5)


class MerchantPromiseOut(BaseModel):
    currency: str
    offered: list[OptionCode]
    fees: dict[str, int]
    member_free_threshold: dict[str, int | None]
    members_only: list[OptionCode]


@router.put("/merchants/me/promise-settings", response_model=MerchantPromiseOut, tags=["promise"])
def put_merchant_promise(
    body: MerchantPromiseIn, state: State, caller: MerchantCaller
) -> dict[str, Any]:
    """Which options the merchant offers, its fee table and member benefits."""
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        return service.set_merchant_promise(
            uow,
            caller.merchant_id,
            body.model_dump(mode="json"),
            state.clock.now(),
            promise_config(state.settings),
        )


@router.get("/merchants/me/promise-settings", response_model=MerchantPromiseOut, tags=["promise"])
def get_merchant_promise(state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_merchant_promise(
            uow.conn, caller.merchant_id, promise_config(state.settings)
        )
