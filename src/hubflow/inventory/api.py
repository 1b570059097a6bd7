"""Stock endpoints: receipts, adjustments, positions and the movement ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hubflow.api.deps import MerchantCaller, State
from hubflow.api.pagination import Cursor, Limit, decode_cursor, page
from hubflow.api.schemas import Page, RefId, Strict, text
from hubflow.catalog.service import products_by_id
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput
from hubflow.core.ids import ID_PATTERN
from hubflow.inventory import service
from hubflow.inventory.model import AdjustmentReason, Position
from hubflow.network.store import get_hub

router = APIRouter(prefix="/v1/stock", tags=["inventory"])


class ReceiptIn(Strict):
    hub_id: RefId
    product_id: RefId
    quantity: int = Field(gt=0, le=1_000_000)
    note: text(500) | None = None  # type: ignore[valid-type]


class AdjustmentIn(Strict):
    hub_id: RefId
    product_id: RefId
    delta: int = Field(ge=-1_000_000, le=1_000_000, description="non-zero change to on-hand")
    reason: AdjustmentReason
    note: text(500) | None = None  # type: ignore[valid-type]


class PositionOut(BaseModel):
    hub_id: str
    product_id: str
    on_hand: int
    reserved: int
    available: int


class MovementOut(BaseModel):
    id: str
    hub_id: str
    product_id: str
    kind: str
    on_hand_delta: int
    reserved_delta: int
    reason: str | None
    note: str | None
    ref: str | None
    created_at: datetime


def _check_refs(uow: UnitOfWork, merchant_id: str, hub_id: str, product_id: str) -> None:
    if get_hub(uow.conn, hub_id) is None:
        raise InvalidInput(
            f"hub {hub_id} does not exist", code="unknown_hub", details={"hub_id": hub_id}
        )
    if not products_by_id(uow.conn, merchant_id, [product_id]):
        raise InvalidInput(
            "unknown product for this merchant",
            code="unknown_product",
            details={"product_ids": [product_id]},
        )


def _position_json(hub_id: str, product_id: str, p: Position) -> dict[str, Any]:
    return {
        "hub_id": hub_id,
        "product_id": product_id,
        "on_hand": p.on_hand,
        "reserved": p.reserved,
        "available": p.available,
    }


@router.post("/receipts", status_code=201, response_model=PositionOut)
def post_receipt(body: ReceiptIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        _check_refs(uow, caller.merchant_id, body.hub_id, body.product_id)
        pos = service.receive(
            uow,
            caller.merchant_id,
            body.hub_id,
            body.product_id,
            body.quantity,
            state.clock.now(),
            note=body.note,
        )
    state.poke_relay()
    return _position_json(body.hub_id, body.product_id, pos)


@router.post("/adjustments", status_code=201, response_model=PositionOut)
def post_adjustment(body: AdjustmentIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        _check_refs(uow, caller.merchant_id, body.hub_id, body.product_id)
        pos = service.adjust(
            uow,
            caller.merchant_id,
            body.hub_id,
            body.product_id,
            body.delta,
            body.reason,
            state.clock.now(),
            note=body.note,
        )
    return _position_json(body.hub_id, body.product_id, pos)


# An Annotated alias, not one shared Query() default: FastAPI binds a shared FieldInfo to
# the last parameter that used it, so two filters would read the same query value.
OptId = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=32)]


@router.get("", response_model=Page[PositionOut])
def get_positions(
    state: State,
    caller: MerchantCaller,
    product_id: OptId = None,
    hub_id: OptId = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    after = decode_cursor(cursor, parts=2)
    with UnitOfWork(state.engine, readonly=True) as uow:
        rows = service.list_positions(
            uow.conn,
            caller.merchant_id,
            product_id=product_id,
            hub_id=hub_id,
            after=(after[0], after[1]) if after else None,
            limit=limit + 1,
        )
    return page(rows, limit, lambda r: (r["hub_id"], r["product_id"]))


@router.get("/movements", response_model=Page[MovementOut])
def get_movements(
    state: State,
    caller: MerchantCaller,
    product_id: OptId = None,
    hub_id: OptId = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    after = decode_cursor(cursor)
    with UnitOfWork(state.engine, readonly=True) as uow:
        rows = service.list_movements(
            uow.conn,
            caller.merchant_id,
            product_id=product_id,
            hub_id=hub_id,
            after=after[0] if after else None,
            limit=limit + 1,
        )
    return page(rows, limit, lambda r: (r["id"],))
