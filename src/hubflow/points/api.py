"""Points endpoints: the merchant's programme, customers' accounts and grants, partners
and their reconciliation; and the partner's own signed transfer endpoint (no API key:
the HMAC signature with the partner's secret is the credential)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from pydantic import AwareDatetime, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, MerchantCaller, OperatorCaller, State
from hubflow.api.schemas import PathId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput
from hubflow.membership.api import CustomerId, CustomerPath
from hubflow.points import partners, service
from hubflow.points.model import Bonus, CategoryRule, Program, TransferRecord
from hubflow.webhooks.signing import SIGNATURE_HEADER

__all__ = ["router"]

router = APIRouter(prefix="/v1/points", tags=["points"])

Points = Annotated[int, Field(ge=1, le=100_000_000)]
Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


class CategoryIn(Strict):
    sku_prefix: text(64)  # type: ignore[valid-type]
    multiplier_pct: int = Field(ge=0, le=10_000)


class BonusIn(Strict):
    order_over: int = Field(ge=0, le=100_000_000, description="paid value, minor units")
    points: Points


class ProgramIn(Strict):
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    points_per_unit: int = Field(default=1, ge=0, le=1000)
    unit: int = Field(default=100, ge=1, le=1_000_000, description="minor units paid per step")
    categories: list[CategoryIn] = Field(default_factory=list, max_length=50)
    bonuses: list[BonusIn] = Field(default_factory=list, max_length=10)
    point_value: int = Field(default=1, ge=1, le=10_000, description="minor units per point")
    max_burn_pct: int = Field(default=100, ge=0, le=100)
    expiry_days: int | None = Field(default=365, ge=1, le=3650)


@router.put("/program")
def put_program(body: ProgramIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    program = Program(
        body.currency,
        body.points_per_unit,
        body.unit,
        tuple(CategoryRule(c.sku_prefix, c.multiplier_pct) for c in body.categories),
        tuple(Bonus(b.order_over, b.points) for b in body.bonuses),
        body.point_value,
        body.max_burn_pct,
        body.expiry_days,
    )
    with UnitOfWork(state.engine) as uow:
        service.set_program(uow.conn, caller.merchant_id, program, state.clock.now())
    return program.to_json()


@router.get("/program")
def get_program(state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.program_for(uow.conn, caller.merchant_id).to_json()


@router.get("/accounts/{customer_id}")
def get_account(customer_id: CustomerPath, state: State, caller: MerchantCaller) -> dict[str, Any]:
    """Balance, debt (points taken back after they were spent) and the latest entries."""
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.account(uow.conn, caller.merchant_id, customer_id)


class GrantIn(Strict):
    points: Points
    ref: Ref = Field(description="the merchant's id for this grant: sent twice, granted once")
    reason: text(200)  # type: ignore[valid-type]


@router.post("/accounts/{customer_id}/grants", status_code=201)
def post_grant(
    customer_id: CustomerPath,
    body: GrantIn,
    state: State,
    caller: MerchantCaller,
    response: Response,
) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        entry, new = service.grant(
            uow,
            caller.merchant_id,
            customer_id,
            body.points,
            body.ref,
            body.reason,
            state.clock.now(),
        )
    if not new:
        response.status_code = 200
    state.poke_relay()
    return entry


@router.post("/expirations")
def post_expirations(state: State, _: OperatorCaller) -> dict[str, int]:
    """Operator: expire due points now (it also runs with the dispatch loop)."""
    with UnitOfWork(state.engine) as uow:
        n = service.expire_due(uow, state.clock.now())
    state.poke_relay()
    return {"expired_lots": n}


class PartnerIn(Strict):
    name: text(100)  # type: ignore[valid-type]
    rate_ours: int = Field(ge=1, le=1_000_000, description="this many of our points ...")
    rate_theirs: int = Field(ge=1, le=1_000_000, description="... for this many of theirs")
    daily_cap_in: int = Field(ge=0, le=100_000_000, description="our points/customer/day")
    daily_cap_out: int = Field(ge=0, le=100_000_000)


@router.post("/partners", status_code=201)
def post_partner(body: PartnerIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    """A points partner; the answer holds its signing secret (shown once)."""
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        return partners.create_partner(
            uow,
            caller.merchant_id,
            body.name,
            body.rate_ours,
            body.rate_theirs,
            body.daily_cap_in,
            body.daily_cap_out,
            state.clock.now(),
        )


@router.get("/partners")
def get_partners(state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": partners.list_partners(uow.conn, caller.merchant_id)}


class TransferIn(Strict):
    transfer_id: Ref = Field(description="the partner's id: a replay moves nothing")
    direction: str = Field(pattern=r"^(in|out)$")
    customer_id: CustomerId
    partner_points: Points


@router.post(
    "/partners/{partner_id}/transfers",
    status_code=201,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": TransferIn.model_json_schema()}}}
    },
)
async def post_transfer(
    partner_id: PathId,
    request: Request,
    state: State,
    response: Response,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=500)] = None,
) -> dict[str, Any]:
    """The partner's call, signed ``Hubflow-Signature: t=<unix>,v1=<hmac-sha256 hex of
    "t.body">`` with its secret: points in (theirs to ours) or out (ours to theirs)."""
    raw = await request.body()
    out, new = await run_in_threadpool(_transfer, state, partner_id, raw, signature)
    if not new:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    state.poke_relay()
    return out


def _transfer(
    state: AppState, partner_id: str, raw: bytes, signature: str | None
) -> tuple[dict[str, Any], bool]:
    now = state.clock.now()
    with UnitOfWork(state.engine, readonly=True) as uow:
        partners.verify_request(uow.conn, partner_id, signature, raw, now)
    try:
        body = TransferIn.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise InvalidInput("the transfer did not validate", details=str(exc)[:500]) from None
    with UnitOfWork(state.engine) as uow:
        return partners.transfer(
            uow,
            partner_id,
            body.transfer_id,
            body.direction,
            body.customer_id,
            body.partner_points,
            now,
        )


class StatementLineIn(Strict):
    transfer_id: Ref
    direction: str = Field(pattern=r"^(in|out)$")
    customer_id: CustomerId
    partner_points: Points


class StatementIn(Strict):
    since: AwareDatetime
    until: AwareDatetime
    transfers: list[StatementLineIn] = Field(max_length=100_000)


@router.post("/partners/{partner_id}/reconciliations")
def post_reconciliation(
    partner_id: PathId, body: StatementIn, state: State, caller: MerchantCaller
) -> dict[str, Any]:
    """The partner's statement for a period against our ledger: the unmatched transfers."""
    assert caller.merchant_id is not None
    if body.until <= body.since:
        raise InvalidInput("until must be after since", code="bad_period")
    statement = [
        TransferRecord(t.transfer_id, t.direction, t.customer_id, t.partner_points)
        for t in body.transfers
    ]
    with UnitOfWork(state.engine, readonly=True) as uow:
        return partners.reconciliation(
            uow.conn,
            caller.merchant_id,
            partner_id,
            body.since.astimezone(UTC),
            body.until.astimezone(UTC),
            statement,
        )
