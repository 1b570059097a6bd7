"""Hub endpoints: the operator manages hubs; any caller may list them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hubflow.api.deps import AnyCaller, OperatorCaller, State
from hubflow.api.pagination import Cursor, Limit, decode_cursor, page
from hubflow.api.schemas import Page, PathId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.network.model import DAYS, Capability, HubKind
from hubflow.network.service import create_hub, hub_to_json, require_hub, set_hub_active
from hubflow.network.store import list_hubs

router = APIRouter(prefix="/v1/hubs", tags=["network"])

HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class HubIn(Strict):
    name: text(200)  # type: ignore[valid-type]
    kind: HubKind
    location: Location
    timezone: text(64)  # type: ignore[valid-type]
    region: text(64) = "default"  # type: ignore[valid-type]
    opening_hours: dict[str, list[Annotated[list[HHMM], Field(min_length=2, max_length=2)]]] = (
        Field(
            default_factory=lambda: {d: [["00:00", "24:00"]] for d in DAYS},
            description="local opening intervals per weekday (mon..sun); may close after midnight",
        )
    )
    capabilities: list[Capability] = Field(default_factory=list, max_length=10)
    service_radius_km: float = Field(default=25.0, gt=0, le=1000, allow_inf_nan=False)


class HubOut(BaseModel):
    id: str
    name: str
    kind: HubKind
    location: Location
    timezone: str
    region: str
    opening_hours: dict[str, list[list[str]]]
    capabilities: list[Capability]
    service_radius_km: float
    active: bool
    open_now: bool | None = None


@router.post("", status_code=201, response_model=HubOut)
def post_hub(body: HubIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    now = state.clock.now()
    with UnitOfWork(state.engine) as uow:
        hub = create_hub(
            uow,
            now,
            name=body.name,
            kind=body.kind.value,
            lat=body.location.lat,
            lng=body.location.lng,
            timezone=body.timezone,
            region=body.region,
            opening_hours=body.opening_hours,
            capabilities=sorted({c.value for c in body.capabilities}),
            service_radius_km=body.service_radius_km,
        )
    return hub_to_json(hub, now)


@router.get("", response_model=Page[HubOut])
def get_hubs(state: State, _: AnyCaller, limit: Limit = 100, cursor: Cursor = None) -> Any:
    after = decode_cursor(cursor)
    now = state.clock.now()
    with UnitOfWork(state.engine, readonly=True) as uow:
        hubs = list_hubs(uow.conn, after=after[0] if after else None, limit=limit + 1)
    return page([hub_to_json(h, now) for h in hubs], limit, lambda h: (h["id"],))


@router.get("/{hub_id}", response_model=HubOut)
def get_hub(hub_id: PathId, state: State, _: AnyCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return hub_to_json(require_hub(uow, hub_id), state.clock.now())


@router.post("/{hub_id}/deactivate", response_model=HubOut)
def deactivate(hub_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    now = state.clock.now()
    with UnitOfWork(state.engine) as uow:
        return hub_to_json(set_hub_active(uow, hub_id, False, now), now)


@router.post("/{hub_id}/activate", response_model=HubOut)
def activate(hub_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    now = state.clock.now()
    with UnitOfWork(state.engine) as uow:
        return hub_to_json(set_hub_active(uow, hub_id, True, now), now)
