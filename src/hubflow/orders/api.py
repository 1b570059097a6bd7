"""Order and hold endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field, TypeAdapter, model_validator

from hubflow.api.deps import (
    AppState,
    Authorized,
    MerchantCaller,
    MerchantRechecked,
    OperatorCaller,
    State,
)
from hubflow.api.observability import ORDERS_PLACED, STOCK_CONFLICTS
from hubflow.api.pagination import Cursor, Limit, decode_cursor, page
from hubflow.api.schemas import Page, PathId, RefId, Strict, text
from hubflow.core import idempotency
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InsufficientStock
from hubflow.core.geo import LatLng
from hubflow.core.ids import ID_PATTERN
from hubflow.delivery.model import ProofPolicy
from hubflow.membership.api import CustomerId
from hubflow.orders import service
from hubflow.orders.model import OrderStatus
from hubflow.orders.timeline import order_timeline
from hubflow.promise.api import promise_config
from hubflow.promise.model import OptionCode

router = APIRouter(prefix="/v1", tags=["orders"])


class LineIn(Strict):
    product_id: RefId
    quantity: int = Field(ge=1, le=10_000)


class AddressIn(Strict):
    line1: text(200)  # type: ignore[valid-type]
    line2: text(200) | None = None  # type: ignore[valid-type]
    city: text(100)  # type: ignore[valid-type]
    postcode: text(20)  # type: ignore[valid-type]
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class CustomerIn(Strict):
    id: CustomerId | None = Field(
        default=None, description="the merchant's customer id: membership and points"
    )
    name: text(200)  # type: ignore[valid-type]
    email: text(254) | None = None  # type: ignore[valid-type]
    phone: text(32) | None = None  # type: ignore[valid-type]


class ProofIn(Strict):
    pin: bool = Field(default=False, description="the customer tells the courier a 4-digit PIN")
    photo: bool = False
    signature: bool = False
    min_age: int | None = Field(default=None, ge=16, le=25, description="check ID at the door")
    leave_at_door: bool = False


class OrderIn(Strict):
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    customer: CustomerIn
    address: AddressIn
    external_ref: text(100) | None = None  # type: ignore[valid-type]
    hold_id: Annotated[str, Field(pattern=ID_PATTERN, max_length=32)] | None = Field(
        default=None, description="consume a stock hold made by POST /v1/holds"
    )
    quote_id: Annotated[str, Field(pattern=ID_PATTERN, max_length=32)] | None = Field(
        default=None, description="keep the promise of this quote (POST /v1/quotes) ..."
    )
    option: OptionCode | None = Field(default=None, description="... for this option")
    pickup_hub_id: RefId | None = Field(
        default=None, description="pickup_in_store: one of the quote's pick-up locations"
    )
    proof_of_delivery: ProofIn | None = Field(
        default=None, description="what the courier collects at the door"
    )
    points_to_burn: int = Field(
        default=0, ge=0, le=100_000_000, description="loyalty points as a discount"
    )

    @model_validator(mode="after")
    def _promise_fields(self) -> OrderIn:
        if (self.quote_id is None) != (self.option is None):
            raise ValueError("quote_id and option go together")
        if self.quote_id is not None and self.hold_id is not None:
            raise ValueError("an order uses either a quote or a hold, not both")
        if self.pickup_hub_id is not None and self.option is not OptionCode.PICKUP_IN_STORE:
            raise ValueError("pickup_hub_id is only for the pickup_in_store option")
        if self.points_to_burn and self.customer.id is None:
            raise ValueError("points_to_burn needs customer.id")
        return self


class HoldIn(Strict):
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    address: AddressIn
    ttl_seconds: int = Field(default=900, ge=10, le=86_400)


class AllocationOut(BaseModel):
    hub_id: str
    product_id: str
    quantity: int
    status: str | None = None


class ShipmentOut(BaseModel):
    id: str
    hub_id: str
    status: str
    tracking_token: str | None = Field(
        default=None, description="opens GET /v1/tracking/{token}, public, for the customer"
    )


class LineOut(BaseModel):
    product_id: str
    quantity: int


class OrderOut(BaseModel):
    id: str
    merchant_id: str
    status: OrderStatus
    external_ref: str | None
    customer: dict[str, Any]
    address: dict[str, Any]
    lines: list[LineOut]
    allocations: list[AllocationOut]
    shipments: list[ShipmentOut]
    split: bool
    promise: dict[str, Any] | None = Field(
        default=None, description="the delivery promise this order keeps (orders on a quote)"
    )
    loyalty: dict[str, Any] | None = Field(
        default=None, description="points burned (with the discount) and earned"
    )
    created_at: str
    updated_at: str


class HoldOut(BaseModel):
    id: str
    status: str
    expires_at: str | None
    allocations: list[AllocationOut]


class CancelIn(Strict):
    reason: text(200) | None = None  # type: ignore[valid-type]


class TransitionIn(Strict):
    status: OrderStatus
    reason: text(200) | None = None  # type: ignore[valid-type]


def _request(body: OrderIn | HoldIn) -> service.OrderRequest:
    address = body.address.model_dump(exclude={"lat", "lng"}, exclude_none=True)
    return service.OrderRequest(
        lines=[(line.product_id, line.quantity) for line in body.lines],
        destination=LatLng(body.address.lat, body.address.lng),
        address=address,
        customer=body.customer.model_dump(exclude_none=True) if isinstance(body, OrderIn) else {},
        external_ref=body.external_ref if isinstance(body, OrderIn) else None,
        hold_id=body.hold_id if isinstance(body, OrderIn) else None,
        quote_id=body.quote_id if isinstance(body, OrderIn) else None,
        option=body.option if isinstance(body, OrderIn) else None,
        pickup_hub_id=body.pickup_hub_id if isinstance(body, OrderIn) else None,
        proof=_proof(body.proof_of_delivery) if isinstance(body, OrderIn) else None,
        points_to_burn=body.points_to_burn if isinstance(body, OrderIn) else 0,
    )


def _proof(body: ProofIn | None) -> dict[str, Any] | None:
    # The delivery context owns the rules (a PIN cannot go with leave-at-door, ...).
    return None if body is None else ProofPolicy(**body.model_dump()).as_json()


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="unique per order attempt; retries with the same key and body replay",
    ),
]


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    responses={
        409: {
            "description": "insufficient_stock, idempotency_key_reused, or (on a quote) "
            "quote_expired / option_unavailable with details.options available now"
        }
    },
)
def post_order(
    body: OrderIn,
    state: State,
    authorized: MerchantRechecked,
    idempotency_key: IdempotencyKey,
) -> Response:
    # POST /v1/orders usually takes the lean path (hubflow.api.order_intake), which
    # calls the two functions below as this does; this route serves the rest (first
    # use of a key, sessions, operators, bad input) and documents the endpoint.
    return order_response(place(state, authorized, body, idempotency_key))


def place(
    state: AppState, authorized: Authorized, body: OrderIn, idempotency_key: str
) -> service.Placed:
    """Place the order (a replay if the key was used with this body before)."""
    caller = authorized.principal
    assert caller.merchant_id is not None
    fingerprint = idempotency.body_fingerprint("POST", "/v1/orders", body.model_dump(mode="json"))
    try:
        placed = service.place_order(
            state.engine,
            caller.merchant_id,
            caller.scope,
            idempotency_key,
            fingerprint,
            _request(body),
            state.clock.now(),
            retries=state.settings.sourcing_retries,
            after_commit=state.poke_relay,
            promise_config=promise_config(state.settings),
            guard=authorized.guard,
        )
    except InsufficientStock:
        STOCK_CONFLICTS.inc()
        raise
    if not placed.replayed:
        ORDERS_PLACED.labels(str(placed.body["split"]).lower()).inc()
    return placed


_ORDER_OUT: TypeAdapter[OrderOut] = TypeAdapter(OrderOut)


def order_response(placed: service.Placed) -> Response:
    """The order as FastAPI would send it for ``response_model=OrderOut`` (validated,
    then dumped by pydantic), built here so both paths answer byte for byte alike."""
    content = _ORDER_OUT.dump_json(_ORDER_OUT.validate_python(placed.body))
    return Response(
        content,
        status_code=placed.status_code,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"} if placed.replayed else None,
    )


@router.get("/orders", response_model=Page[OrderOut])
def get_orders(
    state: State,
    caller: MerchantCaller,
    status: OrderStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    after = decode_cursor(cursor)
    with UnitOfWork(state.engine, readonly=True) as uow:
        rows = service.list_orders(
            uow.conn,
            caller.merchant_id,
            status=status,
            after=after[0] if after else None,
            limit=limit + 1,
        )
    return page(rows, limit, lambda r: (r["id"],))


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: PathId, state: State, caller: MerchantCaller) -> Any:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_order(uow.conn, caller.merchant_id, order_id)


@router.get("/orders/{order_id}/timeline")
def get_order_timeline(order_id: PathId, state: State, caller: MerchantCaller) -> dict[str, Any]:
    """Every step of the order, its parcels, lockers, pick-ups, returns and refunds."""
    with UnitOfWork(state.engine, readonly=True) as uow:
        return order_timeline(uow.conn, caller.merchant_id, order_id)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(
    order_id: PathId, state: State, caller: MerchantCaller, body: CancelIn | None = None
) -> Any:
    with UnitOfWork(state.engine) as uow:
        out = service.transition(
            uow,
            caller.merchant_id,
            order_id,
            OrderStatus.CANCELLED,
            state.clock.now(),
            reason=body.reason if body else None,
        )
    state.poke_relay()
    return out


@router.post("/orders/{order_id}/transitions", response_model=OrderOut)
def transition_order(order_id: PathId, body: TransitionIn, state: State, _: OperatorCaller) -> Any:
    """Operator: move an order through fulfilment (picking, packed, out for delivery...)."""
    with UnitOfWork(state.engine) as uow:
        out = service.transition(
            uow, None, order_id, body.status, state.clock.now(), reason=body.reason
        )
    state.poke_relay()
    return out


@router.post("/holds", status_code=201, response_model=HoldOut)
def post_hold(body: HoldIn, state: State, caller: MerchantCaller) -> Any:
    """Reserve stock for a checkout; it is released automatically after ttl_seconds."""
    assert caller.merchant_id is not None
    return service.create_hold(
        state.engine,
        caller.merchant_id,
        _request(body),
        timedelta(seconds=body.ttl_seconds),
        state.clock.now(),
        retries=state.settings.sourcing_retries,
    )


@router.get("/holds/{hold_id}", response_model=HoldOut)
def get_hold(hold_id: PathId, state: State, caller: MerchantCaller) -> Any:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_hold(uow.conn, caller.merchant_id, hold_id)


@router.delete("/holds/{hold_id}", status_code=204)
def delete_hold(hold_id: PathId, state: State, caller: MerchantCaller) -> None:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        service.release_hold(uow, caller.merchant_id, hold_id, state.clock.now())
