"""Merchant, API key and product endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from hubflow.api.deps import AnyCaller, MerchantCaller, OperatorCaller, State
from hubflow.api.pagination import Cursor, Limit, decode_cursor, page
from hubflow.api.schemas import Page, PathId, Strict, text
from hubflow.catalog import service
from hubflow.catalog.model import Product, Role, Temperature
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["catalog"])


class MerchantIn(Strict):
    name: text(200)  # type: ignore[valid-type]
    kind: text(40) = "retailer"  # type: ignore[valid-type]


class MerchantOut(BaseModel):
    id: str
    name: str
    kind: str
    created_at: datetime


class MerchantCreated(MerchantOut):
    api_key: str = Field(description="shown once; store it now")


class KeyIn(Strict):
    label: text(200) = "api"  # type: ignore[valid-type]
    expires_at: AwareDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        # 9999-12-31T23:59-14:00 is a valid timestamp that has no UTC datetime.
        try:
            return v.astimezone(UTC) if v is not None else None
        except OverflowError as exc:
            raise ValueError("must be a time that exists in UTC") from exc


class KeyOut(BaseModel):
    id: str
    role: Role
    merchant_id: str | None
    prefix: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    api_key: str = Field(description="shown once; store it now")


@router.post("/merchants", status_code=201, response_model=MerchantCreated, tags=["tenancy"])
def post_merchant(body: MerchantIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        merchant, key = service.create_merchant(uow, body.name, body.kind, state.clock.now())
    return {**merchant, "api_key": key.secret}


@router.get("/merchants/me", response_model=MerchantOut, tags=["tenancy"])
def get_me(state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        merchant = service.get_merchant(uow.conn, caller.merchant_id)
    assert merchant is not None
    return merchant


@router.post("/keys", status_code=201, response_model=KeyCreated, tags=["tenancy"])
def post_key(body: KeyIn, state: State, caller: AnyCaller) -> dict[str, Any]:
    now = state.clock.now()
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidInput("expires_at is in the past", code="invalid_expiry")
    with UnitOfWork(state.engine) as uow:
        key, key_id = service.create_key(
            uow, caller.role, caller.merchant_id, body.label, now, body.expires_at
        )
        listed = [k for k in service.list_keys(uow.conn, caller.merchant_id) if k["id"] == key_id]
    return {**listed[0], "api_key": key.secret}


@router.get("/keys", response_model=list[KeyOut], tags=["tenancy"])
def get_keys(state: State, caller: AnyCaller) -> list[dict[str, Any]]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        keys = service.list_keys(uow.conn, caller.merchant_id)
    if caller.role is Role.OPERATOR:
        keys = [k for k in keys if k["role"] == Role.OPERATOR.value]
    return keys


@router.delete("/keys/{key_id}", status_code=204, tags=["tenancy"])
def delete_key(key_id: PathId, state: State, caller: AnyCaller) -> None:
    with UnitOfWork(state.engine) as uow:
        service.revoke_key(uow, key_id, state.clock.now(), merchant_id=caller.merchant_id)


class Dims(BaseModel):
    length: int = Field(gt=0, le=10_000)
    width: int = Field(gt=0, le=10_000)
    height: int = Field(gt=0, le=10_000)


class Value(BaseModel):
    amount: int = Field(ge=0, le=10**12, description="integer minor units (cents)")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class ProductIn(Strict):
    sku: text(64)  # type: ignore[valid-type]
    name: text(200)  # type: ignore[valid-type]
    dimensions_mm: Dims
    weight_g: int = Field(gt=0, le=1_000_000)
    value: Value
    temperature: Temperature = Temperature.AMBIENT
    hazmat: bool = False


class ProductOut(BaseModel):
    id: str
    sku: str
    name: str
    dimensions_mm: Dims
    weight_g: int
    value: Value
    temperature: Temperature
    hazmat: bool


def product_json(p: Product) -> dict[str, Any]:
    length, width, height = p.dims_mm
    return {
        "id": p.id,
        "sku": p.sku,
        "name": p.name,
        "dimensions_mm": {"length": length, "width": width, "height": height},
        "weight_g": p.weight_g,
        "value": p.value.to_json(),
        "temperature": p.temperature.value,
        "hazmat": p.hazmat,
    }


@router.post("/products", status_code=201, response_model=ProductOut, tags=["catalog"])
def post_product(body: ProductIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        product = service.create_product(
            uow,
            caller.merchant_id,
            state.clock.now(),
            sku=body.sku,
            name=body.name,
            length_mm=body.dimensions_mm.length,
            width_mm=body.dimensions_mm.width,
            height_mm=body.dimensions_mm.height,
            weight_g=body.weight_g,
            value_amount=body.value.amount,
            currency=body.value.currency,
            temperature=body.temperature.value,
            hazmat=body.hazmat,
        )
    return product_json(product)


@router.get("/products", response_model=Page[ProductOut], tags=["catalog"])
def get_products(
    state: State,
    caller: MerchantCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
    sku: str | None = None,
) -> Any:
    assert caller.merchant_id is not None
    after = decode_cursor(cursor)
    with UnitOfWork(state.engine, readonly=True) as uow:
        items = service.list_products(
            uow.conn,
            caller.merchant_id,
            after=after[0] if after else None,
            limit=limit + 1,
            sku=sku[:64].replace("\x00", "") if sku else None,
        )
    return page([product_json(p) for p in items], limit, lambda p: (p["id"],))


@router.get("/products/{product_id}", response_model=ProductOut, tags=["catalog"])
def get_product(product_id: PathId, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return product_json(service.require_product(uow.conn, caller.merchant_id, product_id))
