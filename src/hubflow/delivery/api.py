"""Dispatch, shipment and public tracking endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from hubflow.api.deps import MerchantCaller, OperatorCaller, State
from hubflow.api.schemas import PathId, RefId, Strict, text
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.delivery import shipments as svc
from hubflow.delivery.carriers import hand_over
from hubflow.delivery.dispatch import DispatchConfig, run_epoch
from hubflow.delivery.replan import move_stop, reassign_route
from hubflow.delivery.store import dispatch_runs_table, routes_table
from hubflow.delivery.tracking import tracking_view

router = APIRouter(prefix="/v1", tags=["dispatch"])
public = APIRouter(prefix="/v1", tags=["tracking"])

Region = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class PackedIn(Strict):
    weight_g: int | None = Field(default=None, gt=0, le=1_000_000)
    dims_mm: list[int] | None = Field(default=None, min_length=3, max_length=3)

    def dims(self) -> tuple[int, int, int] | None:
        if self.dims_mm is None:
            return None
        if any(d <= 0 or d > 10_000 for d in self.dims_mm):
            raise ValueError
        return (self.dims_mm[0], self.dims_mm[1], self.dims_mm[2])


class HandoffIn(Strict):
    tracking_number: text(64)  # type: ignore[valid-type]


class MoveStopIn(Strict):
    to_route_id: RefId


class ReassignIn(Strict):
    courier_id: RefId


class TrackingOut(BaseModel):
    merchant: dict[str, Any]
    status: str
    eta: str | None
    events: list[dict[str, Any]]
    courier: dict[str, Any] | None
    stops_before: int | None
    pin: str | None = Field(description="tell the courier at the door")
    carrier: dict[str, Any] | None
    pickup_at: dict[str, Any] | None


@router.post("/dispatch/{region}/runs", status_code=201)
def post_run(region: str = Region, *, state: State, _: OperatorCaller) -> dict[str, Any]:
    """Plan one epoch of the region now (the dispatch loop does this every epoch)."""
    cfg = DispatchConfig.from_settings(state.settings)
    summary = run_epoch(state.engine, region, state.clock.now(), cfg)
    state.poke_relay()
    return summary.as_json()


@router.get("/dispatch/{region}/runs")
def get_runs(
    region: str = Region,
    *,
    state: State,
    _: OperatorCaller,
    limit: int = Query(default=20, ge=1, le=200),
) -> dict[str, Any]:
    d = dispatch_runs_table.c
    with UnitOfWork(state.engine, readonly=True) as uow:
        rows = uow.conn.execute(
            select(dispatch_runs_table)
            .where(d.region == region)
            .order_by(d.started_at.desc(), d.id.desc())
            .limit(limit)
        ).all()
    return {
        "data": [
            {"id": r.id, "policy": r.policy, "started_at": iso_z(r.started_at),
             "runtime_ms": r.runtime_ms, **r.summary}
            for r in rows
        ]
    }  # fmt: skip


@router.get("/dispatch/{region}/routes")
def get_routes(
    region: str = Region,
    *,
    state: State,
    _: OperatorCaller,
    status: str | None = Query(default=None, pattern=r"^[a-z_]{1,16}$"),
    limit: int = Query(default=100, ge=1, le=500),
) -> dict[str, Any]:
    r = routes_table.c
    q = select(routes_table).where(r.region == region).order_by(r.created_at.desc(), r.id.desc())
    if status is not None:
        q = q.where(r.status == status)
    with UnitOfWork(state.engine, readonly=True) as uow:
        rows = uow.conn.execute(q.limit(limit)).all()
    return {
        "data": [
            {"id": x.id, "hub_id": x.hub_id, "mode": x.mode, "status": x.status,
             "vehicle_id": x.vehicle_id, "courier_id": x.courier_id,
             "planned_start": iso_z(x.planned_start), "planned_end": iso_z(x.planned_end),
             "distance_m": x.distance_m, "cost": x.cost}
            for x in rows
        ]
    }  # fmt: skip


@router.post("/routes/{route_id}/stops/{stop_id}/move")
def post_move_stop(
    route_id: PathId, stop_id: PathId, body: MoveStopIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Move a planned stop to another planned route of the same hub (the dispatch
    board); refused when the other vehicle cannot carry or reach it."""
    with UnitOfWork(state.engine) as uow:
        out = move_stop(uow, route_id, stop_id, body.to_route_id, state.clock.now())
    state.poke_relay()
    return out


@router.post("/routes/{route_id}/reassign")
def post_reassign(
    route_id: PathId, body: ReassignIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Give an own-fleet route that has not left to another employee of its hub (with a
    shift covering it and no other route at that time)."""
    with UnitOfWork(state.engine) as uow:
        return reassign_route(uow, route_id, body.courier_id, state.clock.now())


@router.post("/shipments/{shipment_id}/packed")
def post_packed(
    shipment_id: PathId, body: PackedIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """The hub packed the parcel (weight and carton size, when known)."""
    from hubflow.core.errors import InvalidInput

    try:
        dims = body.dims()
    except ValueError as exc:
        raise InvalidInput(
            "dims_mm are three lengths of 1 to 10000 mm", code="invalid_dims"
        ) from exc
    with UnitOfWork(state.engine) as uow:
        out = svc.mark_packed(
            uow, shipment_id, state.clock.now(), weight_g=body.weight_g, dims_mm=dims
        )
    state.poke_relay()
    return out


@router.post("/shipments/{shipment_id}/handoff")
def post_handoff(
    shipment_id: PathId, body: HandoffIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """The carrier collected the parcel at the hub."""
    with UnitOfWork(state.engine) as uow:
        out = hand_over(uow, shipment_id, body.tracking_number, state.clock.now())
    state.poke_relay()
    return out


@router.get("/shipments/{shipment_id}")
def get_shipment(shipment_id: PathId, state: State, who: MerchantCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return svc.get_shipment(uow.conn, who.merchant_id, shipment_id)


@router.get(
    "/shipments/{shipment_id}/proofs/{proof_id}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
def get_proof(shipment_id: PathId, proof_id: PathId, state: State, who: MerchantCaller) -> Response:
    with UnitOfWork(state.engine, readonly=True) as uow:
        data, content_type = svc.get_proof(uow.conn, who.merchant_id, shipment_id, proof_id)
    return Response(data, media_type=content_type)


@public.get("/tracking/{token}", response_model=TrackingOut)
def get_tracking(
    state: State, token: str = Path(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
) -> dict[str, Any]:
    """The customer's view of a parcel, by the unguessable token in the tracking link."""
    with UnitOfWork(state.engine, readonly=True) as uow:
        return tracking_view(uow.conn, token)
