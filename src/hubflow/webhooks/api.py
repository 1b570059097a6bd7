"""Webhook endpoint registration, the delivery log and replay."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, field_validator

from hubflow.api.deps import MerchantCaller, State
from hubflow.api.pagination import Cursor, Limit, decode_cursor, page
from hubflow.api.schemas import Page, PathId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.webhooks import service
from hubflow.webhooks.service import DeliveryStatus

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

EventPattern = Annotated[str, Field(pattern=r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$", max_length=64)]


class EndpointIn(Strict):
    url: text(2000)  # type: ignore[valid-type]
    event_types: list[EventPattern] = Field(
        default_factory=lambda: ["*"],
        max_length=50,
        description="event types to receive: exact ('order.delivered'), prefix ('order.*') or '*'",
    )
    description: text(200) | None = None  # type: ignore[valid-type]

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return v


class EndpointOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_at: str


class EndpointCreated(EndpointOut):
    secret: str = Field(description="signing secret for Hubflow-Signature; shown once")


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    delivered_at: str | None


@router.post("/endpoints", status_code=201, response_model=EndpointCreated)
def post_endpoint(body: EndpointIn, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        return service.create_endpoint(
            uow,
            caller.merchant_id,
            body.url,
            body.event_types,
            body.description,
            state.clock.now(),
        )


@router.get("/endpoints", response_model=list[EndpointOut])
def get_endpoints(state: State, caller: MerchantCaller) -> list[dict[str, Any]]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.list_endpoints(uow.conn, caller.merchant_id)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: PathId, state: State, caller: MerchantCaller) -> None:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        service.delete_endpoint(uow, caller.merchant_id, endpoint_id)


@router.post("/endpoints/{endpoint_id}/test", status_code=201, response_model=DeliveryOut)
def post_test(endpoint_id: PathId, state: State, caller: MerchantCaller) -> dict[str, Any]:
    """Send a ``webhook.test`` event to this endpoint now (it shows in the delivery log)."""
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        out = service.send_test(uow, caller.merchant_id, endpoint_id, state.clock.now())
    state.poke_relay()
    return out


@router.get("/deliveries", response_model=Page[DeliveryOut])
def get_deliveries(
    state: State,
    caller: MerchantCaller,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    assert caller.merchant_id is not None
    after = decode_cursor(cursor)
    with UnitOfWork(state.engine, readonly=True) as uow:
        rows = service.list_deliveries(
            uow.conn,
            caller.merchant_id,
            status=status,
            after=after[0] if after else None,
            limit=limit + 1,
        )
    return page(rows, limit, lambda r: (r["id"],))


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay(delivery_id: PathId, state: State, caller: MerchantCaller) -> dict[str, Any]:
    assert caller.merchant_id is not None
    with UnitOfWork(state.engine) as uow:
        out = service.replay_delivery(uow, caller.merchant_id, delivery_id, state.clock.now())
    state.poke_relay()
    return out
