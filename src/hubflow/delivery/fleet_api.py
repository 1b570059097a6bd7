"""Fleet endpoints (operator): vehicle types, vehicles, couriers, shifts, carriers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from hubflow.api.deps import OperatorCaller, State
from hubflow.api.schemas import PathId, RefId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.delivery import fleet_service as svc
from hubflow.delivery.fleet import DEFAULTS, CourierKind, Mode

router = APIRouter(prefix="/v1", tags=["fleet"])


class VehicleTypeIn(Strict):
    name: text(100)  # type: ignore[valid-type]
    mode: Mode
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="settings that differ from the mode's defaults (GET /v1/vehicle-modes)",
    )


class VehicleIn(Strict):
    name: text(100)  # type: ignore[valid-type]
    type_id: RefId
    hub_id: RefId


class CourierIn(Strict):
    name: text(100)  # type: ignore[valid-type]
    kind: CourierKind
    hub_id: RefId
    mode: Mode = Field(default=Mode.CAR, description="what a gig courier drives")
    vehicle_id: RefId | None = Field(default=None, description="an employee's usual vehicle")


class ShiftIn(Strict):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    vehicle_id: RefId | None = None


class RateCardIn(Strict):
    base: int = Field(ge=0, le=1_000_000)
    per_kg: int = Field(ge=0, le=1_000_000)
    per_km: int = Field(ge=0, le=1_000_000)
    max_weight_g: int = Field(default=30_000, gt=0, le=1_000_000)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class CarrierIn(Strict):
    name: text(100)  # type: ignore[valid-type]
    rate_card: RateCardIn
    handoff_cutoff: str = Field(
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="hub-local HH:MM of the daily pickup"
    )


class CourierCreated(BaseModel):
    courier: dict[str, Any]
    api_key: str = Field(description="shown once: the courier app signs in with it")


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.astimezone(UTC)


@router.get("/vehicle-modes")
def get_modes(_: OperatorCaller) -> dict[str, Any]:
    """Each mode's defaults, from public figures."""
    return {m.value: spec.as_json() for m, spec in DEFAULTS.items()}


@router.post("/vehicle-types", status_code=201)
def post_vehicle_type(body: VehicleTypeIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        return svc.create_vehicle_type(uow, body.name, body.mode, body.overrides, state.clock.now())


@router.get("/vehicle-types")
def get_vehicle_types(state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_vehicle_types(uow.conn)}


@router.post("/vehicles", status_code=201)
def post_vehicle(body: VehicleIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        return svc.create_vehicle(uow, body.name, body.type_id, body.hub_id, state.clock.now())


@router.get("/vehicles")
def get_vehicles(
    state: State, _: OperatorCaller, hub_id: RefId | None = Query(default=None)
) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_vehicles(uow.conn, hub_id)}


@router.post("/couriers", status_code=201, response_model=CourierCreated)
def post_courier(body: CourierIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        courier, key = svc.create_courier(
            uow,
            body.name,
            body.kind,
            body.hub_id,
            body.mode,
            state.clock.now(),
            vehicle_id=body.vehicle_id,
        )
    return {"courier": courier, "api_key": key}


@router.get("/couriers")
def get_couriers(
    state: State, _: OperatorCaller, hub_id: RefId | None = Query(default=None)
) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_couriers(uow.conn, hub_id)}


@router.post("/couriers/{courier_id}/shifts", status_code=201)
def post_shift(
    courier_id: PathId, body: ShiftIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        return svc.create_shift(
            uow,
            courier_id,
            _utc(body.starts_at),
            _utc(body.ends_at),
            state.clock.now(),
            vehicle_id=body.vehicle_id,
        )


@router.get("/couriers/{courier_id}/shifts")
def get_shifts(courier_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_shifts(uow.conn, courier_id)}


@router.post("/carriers", status_code=201)
def post_carrier(body: CarrierIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        return svc.create_carrier(
            uow, body.name, body.rate_card.model_dump(), body.handoff_cutoff, state.clock.now()
        )


@router.get("/carriers")
def get_carriers(state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_carriers(uow.conn)}
