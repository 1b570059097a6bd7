"""Membership endpoints: plans, subscriptions, households, the renewal run, and a
customer's membership. A merchant's key works on the merchant's plans; the operator's
key, without a Hubflow-Merchant header, on the network's plans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from hubflow.api.deps import AnyCaller, OnBehalfOf, OperatorCaller, State, _merchant
from hubflow.api.schemas import PathId, Strict, text
from hubflow.catalog.model import Role
from hubflow.core.db import UnitOfWork
from hubflow.core.ids import new_id
from hubflow.membership import service
from hubflow.membership.lookup import membership_of
from hubflow.membership.model import NETWORK, Benefits, Billing, Plan
from hubflow.promise.model import OptionCode

__all__ = ["CUSTOMER_ID", "CustomerId", "CustomerPath", "router"]

router = APIRouter(prefix="/v1/membership", tags=["membership"])

CUSTOMER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,99}$"
CustomerId = Annotated[str, Field(pattern=CUSTOMER_ID, max_length=100)]
CustomerPath = Annotated[str, Path(pattern=CUSTOMER_ID, max_length=100)]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]


async def _scope(state: State, caller: AnyCaller, on_behalf_of: OnBehalfOf = None) -> str:
    """The caller's merchant (as every merchant endpoint), or the network for the
    operator's key without a Hubflow-Merchant header."""
    if caller.role is Role.OPERATOR and on_behalf_of is None:
        return NETWORK
    principal = await _merchant(state, caller, on_behalf_of)
    assert principal.merchant_id is not None
    return principal.merchant_id


Scope = Annotated[str, Depends(_scope)]


class BenefitsIn(Strict):
    free_delivery_over: dict[OptionCode, Cents] = Field(
        default_factory=dict, description="cart value from which delivery is free, by option"
    )
    member_options: list[OptionCode] | None = Field(
        default=None, max_length=5, description="members-only options it opens; null: all"
    )
    extra_return_days: int = Field(default=0, ge=0, le=365)
    points_multiplier_pct: int = Field(default=100, ge=100, le=1000)


class PlanIn(Strict):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: text(100)  # type: ignore[valid-type]
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    monthly_price: Cents
    annual_price: Cents | None = None
    trial_days: int = Field(default=0, ge=0, le=365)
    household_max: int = Field(default=0, ge=0, le=10, description="members besides the primary")
    benefits: BenefitsIn = Field(default_factory=BenefitsIn)


class HouseholdAddressIn(Strict):
    line1: text(200)  # type: ignore[valid-type]
    line2: text(200) | None = None  # type: ignore[valid-type]
    city: text(100)  # type: ignore[valid-type]
    postcode: text(20)  # type: ignore[valid-type]
    country: str = Field(pattern=r"^[A-Z]{2}$")


class SubscriptionIn(Strict):
    plan_id: Annotated[str, Field(pattern=r"^mpl_[0-9A-HJKMNP-TV-Z]{26}$")]
    customer_id: CustomerId
    billing: Billing = Billing.MONTHLY
    address: HouseholdAddressIn
    trial: bool = Field(default=True, description="start with the plan's free trial, once")


class CancelIn(Strict):
    at_period_end: bool = Field(default=False, description="no refund; it lapses at the end")


class MemberIn(Strict):
    customer_id: CustomerId
    address: HouseholdAddressIn


@router.post("/plans", status_code=201)
def post_plan(body: PlanIn, state: State, scope: Scope) -> dict[str, Any]:
    b = body.benefits
    plan = Plan(
        new_id("mpl"),
        scope,
        body.code,
        body.name,
        body.currency,
        body.monthly_price,
        body.annual_price,
        body.trial_days,
        body.household_max,
        Benefits(
            dict(b.free_delivery_over),
            None if b.member_options is None else frozenset(b.member_options),
            b.extra_return_days,
            b.points_multiplier_pct,
        ),
    )
    with UnitOfWork(state.engine) as uow:
        out = service.create_plan(uow, plan, state.clock.now())
    state.poke_relay()
    return out


@router.get("/plans")
def get_plans(state: State, scope: Scope) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": service.list_plans(uow.conn, scope)}


@router.post("/subscriptions", status_code=201)
def post_subscription(body: SubscriptionIn, state: State, scope: Scope) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        out = service.subscribe(
            uow,
            scope,
            body.plan_id,
            body.customer_id,
            body.billing,
            body.address.model_dump(exclude_none=True),
            state.clock.now(),
            trial=body.trial,
        )
    state.poke_relay()
    return out


@router.get("/subscriptions/{sub_id}")
def get_subscription(sub_id: PathId, state: State, scope: Scope) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_subscription(uow.conn, scope, sub_id)


@router.post("/subscriptions/{sub_id}/cancel")
def post_cancel(
    sub_id: PathId, state: State, scope: Scope, body: CancelIn | None = None
) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        out = service.cancel(
            uow, scope, sub_id, state.clock.now(), at_period_end=bool(body and body.at_period_end)
        )
    state.poke_relay()
    return out


@router.post("/subscriptions/{sub_id}/payment-failed")
def post_payment_failed(sub_id: PathId, state: State, scope: Scope) -> dict[str, Any]:
    """The merchant could not collect a charge: the subscription lapses now."""
    with UnitOfWork(state.engine) as uow:
        out = service.payment_failed(uow, scope, sub_id, state.clock.now())
    state.poke_relay()
    return out


@router.post("/subscriptions/{sub_id}/members", status_code=201)
def post_member(sub_id: PathId, body: MemberIn, state: State, scope: Scope) -> dict[str, Any]:
    """Share the membership with someone at the same address (422
    foreign_household_address otherwise), up to the plan's household size."""
    with UnitOfWork(state.engine) as uow:
        out = service.add_member(
            uow,
            scope,
            sub_id,
            body.customer_id,
            body.address.model_dump(exclude_none=True),
            state.clock.now(),
        )
    state.poke_relay()
    return out


@router.delete("/subscriptions/{sub_id}/members/{customer_id}")
def delete_member(
    sub_id: PathId, customer_id: CustomerPath, state: State, scope: Scope
) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        out = service.remove_member(uow, scope, sub_id, customer_id, state.clock.now())
    state.poke_relay()
    return out


@router.get("/customers/{customer_id}")
def get_customer(customer_id: CustomerPath, state: State, scope: Scope) -> dict[str, Any]:
    """The customer's live membership here (the merchant's plan, else the network's)."""
    with UnitOfWork(state.engine, readonly=True) as uow:
        m = membership_of(uow.conn, scope, customer_id, state.clock.now())
    if m is None:
        return {"customer_id": customer_id, "member": False, "membership": None}
    return {
        "customer_id": customer_id,
        "member": True,
        "membership": {
            "subscription_id": m.subscription_id,
            "plan_id": m.plan_id,
            "scope": m.scope,
            "role": m.role,
            "benefits": m.benefits.to_json(),
        },
    }


@router.post("/renewals")
def post_renewals(state: State, _: OperatorCaller) -> dict[str, int]:
    """Operator: run the renewal job now (it also runs with the dispatch loop)."""
    with UnitOfWork(state.engine) as uow:
        out = service.renew_due(uow, state.clock.now())
    state.poke_relay()
    return out
