"""Courier and vehicle endpoints: what the courier app (or a self-driving vehicle's
integration, with the operator key) calls. Every POST takes an ``Idempotency-Key``:
a retried call with the same key replays the first answer; events out of order get 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from hubflow.api.deps import AppState, CourierCaller, OperatorCaller, State
from hubflow.api.retries import OptionalIdempotencyKey, run_once
from hubflow.api.schemas import PathId, Strict, text
from hubflow.catalog.service import Principal
from hubflow.core.db import UnitOfWork
from hubflow.core.geo import LatLng
from hubflow.delivery import courier as svc
from hubflow.delivery.model import FailReason

router = APIRouter(prefix="/v1", tags=["couriers"])


class LocationIn(Strict):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class DeliverIn(Strict):
    pin: str | None = Field(default=None, pattern=r"^\d{4}$")
    photo_base64: str | None = Field(default=None, max_length=700_000)
    photo_content_type: str | None = Field(default=None, pattern=r"^image/(png|jpeg|webp)$")
    signature_base64: str | None = Field(default=None, max_length=700_000)
    signature_content_type: str | None = Field(default=None, pattern=r"^image/(png|svg\+xml)$")
    age_verified: bool = Field(default=False, description="the courier checked an ID")
    received_by: text(100) | None = None  # type: ignore[valid-type]


class FailIn(Strict):
    reason: FailReason
    note: text(500) | None = None  # type: ignore[valid-type]


class StopOut(BaseModel):
    stop_id: str
    status: str


def _once(
    state: AppState,
    who: Principal,
    key: str | None,
    path: str,
    body: Any,
    act: Callable[[UnitOfWork], dict[str, Any]],
    response: Response,
) -> dict[str, Any]:
    # Keys live per courier (ids carry their kind: no clash with merchants' keys).
    return run_once(state, who.courier_id or "operator", key, path, body, act, response)


@router.post("/couriers/{courier_id}/shift/start")
def start_shift(
    courier_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    return _once(state, who, key, f"/couriers/{courier_id}/shift/start", None,
                 lambda uow: svc.start_shift(uow, who, courier_id, now), response)  # fmt: skip


@router.post("/couriers/{courier_id}/shift/end")
def end_shift(
    courier_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    return _once(state, who, key, f"/couriers/{courier_id}/shift/end", None,
                 lambda uow: svc.end_shift(uow, who, courier_id, now), response)  # fmt: skip


@router.post("/couriers/{courier_id}/location")
def post_location(
    courier_id: PathId, body: LocationIn, state: State, who: CourierCaller
) -> dict[str, Any]:
    """Where the courier is; ETAs of the route under way are recomputed from here."""
    with UnitOfWork(state.engine) as uow:
        out = svc.report_location(
            uow, who, courier_id, LatLng(body.lat, body.lng), state.clock.now()
        )
    state.poke_relay()
    return out


@router.get("/couriers/{courier_id}/routes")
def get_my_routes(courier_id: PathId, state: State, who: CourierCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_routes(uow.conn, who, courier_id)}


@router.get("/couriers/{courier_id}/offers")
def get_my_offers(courier_id: PathId, state: State, who: CourierCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": svc.list_offers(uow.conn, who, courier_id, state.clock.now())}


@router.post("/offers/{offer_id}/accept")
def accept(
    offer_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    return _once(state, who, key, f"/offers/{offer_id}/accept", None,
                 lambda uow: svc.accept_offer(uow, who, offer_id, now), response)  # fmt: skip


@router.post("/offers/{offer_id}/decline")
def decline(
    offer_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    return _once(state, who, key, f"/offers/{offer_id}/decline", None,
                 lambda uow: svc.decline_offer(uow, who, offer_id, now), response)  # fmt: skip


@router.get("/routes/{route_id}")
def get_route(route_id: PathId, state: State, who: CourierCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return svc.get_route(uow.conn, who, route_id)


@router.post("/routes/{route_id}/pickup")
def pickup(
    route_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Load the next trip's parcels at the hub and leave."""
    now = state.clock.now()
    return _once(state, who, key, f"/routes/{route_id}/pickup", None,
                 lambda uow: svc.pickup(uow, who, route_id, now), response)  # fmt: skip


@router.post("/routes/{route_id}/complete")
def complete(
    route_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    """Back at the hub; failed parcels are retried, redirected or kept for return."""
    now = state.clock.now()
    attempts = state.settings.dispatch_max_attempts
    return _once(state, who, key, f"/routes/{route_id}/complete", None,
                 lambda uow: svc.complete_route(uow, who, route_id, now, attempts),
                 response)  # fmt: skip


@router.post("/routes/{route_id}/stops/{stop_id}/arrive")
def arrive(
    route_id: PathId,
    stop_id: PathId,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    return _once(state, who, key, f"/routes/{route_id}/stops/{stop_id}/arrive", None,
                 lambda uow: svc.arrive(uow, who, route_id, stop_id, now), response)  # fmt: skip


@router.post("/routes/{route_id}/stops/{stop_id}/deliver")
def deliver(
    route_id: PathId,
    stop_id: PathId,
    body: DeliverIn,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    proof = body.model_dump()
    if body.pin is not None:
        with UnitOfWork(state.engine) as uow:
            svc.spend_pin_try(uow, who, route_id, stop_id)
    return _once(state, who, key, f"/routes/{route_id}/stops/{stop_id}/deliver", proof,
                 lambda uow: svc.deliver(uow, who, route_id, stop_id, proof, now),
                 response)  # fmt: skip


@router.post("/routes/{route_id}/stops/{stop_id}/fail")
def fail(
    route_id: PathId,
    stop_id: PathId,
    body: FailIn,
    state: State,
    who: CourierCaller,
    response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:
    now = state.clock.now()
    return _once(state, who, key, f"/routes/{route_id}/stops/{stop_id}/fail",
                 body.model_dump(mode="json"),
                 lambda uow: svc.fail(uow, who, route_id, stop_id, body.reason, body.note, now),
                 response)  # fmt: skip


@router.post("/vehicles/{vehicle_id}/location")
def vehicle_location(
    vehicle_id: PathId, body: LocationIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """A self-driving vehicle's position (drone, robot, autonomous van)."""
    with UnitOfWork(state.engine) as uow:
        out = svc.report_vehicle_location(
            uow, vehicle_id, LatLng(body.lat, body.lng), state.clock.now()
        )
    state.poke_relay()
    return out
