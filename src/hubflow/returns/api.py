"""Return endpoints: merchants authorise returns and set their policy; stores and lockers
take returns in by QR token; hubs inspect them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from hubflow.api.deps import MerchantCaller, OperatorCaller, State
from hubflow.api.schemas import PathId, RefId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.returns import service
from hubflow.returns.service import Disposition, ReturnPolicy

router = APIRouter(prefix="/v1", tags=["returns"])


class ReturnLineIn(Strict):
    product_id: RefId
    quantity: int = Field(ge=1, le=10_000)


class ReturnIn(Strict):
    order_id: RefId
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    reason: text(200)  # type: ignore[valid-type]
    method: str = Field(default="store", pattern=r"^(store|locker|courier)$")


class DropOffIn(Strict):
    token: str = Field(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    hub_id: RefId


class InspectionLineIn(Strict):
    product_id: RefId
    disposition: Disposition


class InspectionIn(Strict):
    lines: list[InspectionLineIn] = Field(min_length=1, max_length=100)


class PolicyIn(Strict):
    window_days: int = Field(ge=0, le=365)
    instant_refund_below: int = Field(ge=0, le=10_000_000)
    fee: int = Field(default=0, ge=0, le=1_000_000)


@router.post("/returns", status_code=201)
def post_return(body: ReturnIn, state: State, who: MerchantCaller) -> dict[str, Any]:
    """Authorise a return of delivered lines; the answer holds the customer's QR code."""
    assert who.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        out = service.create_return(
            uow,
            who.merchant_id,
            body.order_id,
            [(x.product_id, x.quantity) for x in body.lines],
            body.reason,
            body.method,
            state.clock.now(),
        )
    state.poke_relay()
    return out


@router.get("/returns/{return_id}")
def get_return(return_id: PathId, state: State, who: MerchantCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_return(uow.conn, who.merchant_id, return_id)


@router.post("/returns/drop-offs")
def post_drop_off(body: DropOffIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    """A store or locker scanned the customer's QR code."""
    with UnitOfWork(state.engine) as uow:
        out = service.drop_off(uow, body.token, body.hub_id, state.clock.now())
    state.poke_relay()
    return out


@router.post("/returns/{return_id}/inspection")
def post_inspection(
    return_id: PathId, body: InspectionIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        out = service.inspect(
            uow, return_id, {x.product_id: x.disposition for x in body.lines}, state.clock.now()
        )
    state.poke_relay()
    return out


@router.put("/merchants/me/return-policy")
def put_policy(body: PolicyIn, state: State, who: MerchantCaller) -> dict[str, Any]:
    assert who.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        service.set_policy(
            uow.conn,
            who.merchant_id,
            ReturnPolicy(body.window_days, body.instant_refund_below, body.fee),
            state.clock.now(),
        )
        p = service.policy_for(uow.conn, who.merchant_id)
    return {
        "window_days": p.window_days,
        "instant_refund_below": p.instant_refund_below,
        "fee": p.fee,
    }
