"""Locker endpoints: banks (operator), deposits (courier or operator), and the keypad
(public: the code is the credential, and wrong codes are counted and rate-limited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field, model_validator

from hubflow.api.deps import CourierCaller, OperatorCaller, State
from hubflow.api.schemas import PathId, RefId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.lockers import mailroom, service, store_pickup
from hubflow.lockers.mailroom_model import RESIDENT_CODE_DIGITS
from hubflow.lockers.model import CODE_DIGITS, SizeClass

router = APIRouter(prefix="/v1", tags=["lockers"])


class CompartmentIn(Strict):
    label: text(16)  # type: ignore[valid-type]
    size: SizeClass


class BankIn(Strict):
    name: text(100)  # type: ignore[valid-type]
    kind: str = Field(default="station", pattern=r"^(store|station|apartment)$")
    hub_id: RefId
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    compartments: list[CompartmentIn] = Field(min_length=1, max_length=500)


class DepositIn(Strict):
    shipment_id: RefId
    compartment: text(16) | None = None  # type: ignore[valid-type]
    resident: text(16) | None = Field(  # type: ignore[valid-type]
        default=None, description="mailroom: the unit the parcel is for (else its address's)"
    )


class PickupIn(Strict):
    """A parcel's compartment and its 6-digit code, or (mailroom) a unit and the
    resident's 8-digit standing code."""

    compartment: text(16) | None = None  # type: ignore[valid-type]
    unit: text(16) | None = None  # type: ignore[valid-type]
    code: str = Field(pattern=r"^\d{6,12}$")

    @model_validator(mode="after")
    def _one_way(self) -> PickupIn:
        if (self.compartment is None) == (self.unit is None):
            raise ValueError("give either a compartment or a unit")
        digits = CODE_DIGITS if self.unit is None else RESIDENT_CODE_DIGITS
        if len(self.code) != digits:
            raise ValueError(f"this code has {digits} digits")
        return self


@router.post("/lockers", status_code=201)
def post_bank(body: BankIn, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        return service.create_bank(
            uow,
            body.name,
            body.kind,
            body.hub_id,
            body.lat,
            body.lng,
            [(c.label, c.size) for c in body.compartments],
            state.clock.now(),
        )


@router.get("/lockers/{bank_id}")
def get_bank(bank_id: PathId, state: State, _: CourierCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return service.get_bank(uow.conn, bank_id)


@router.post("/lockers/{bank_id}/deposits", status_code=201)
def post_deposit(
    bank_id: PathId, body: DepositIn, state: State, _: CourierCaller
) -> dict[str, Any]:
    """The courier's deposit scan: a compartment opens and a pickup code is issued."""
    with UnitOfWork(state.engine) as uow:
        out = mailroom.deposit(
            uow,
            bank_id,
            body.shipment_id,
            state.clock.now(),
            label=body.compartment,
            resident=body.resident,
        )
    state.poke_relay()
    return out


@router.post("/lockers/{bank_id}/pickups")
def post_pickup(bank_id: PathId, body: PickupIn, state: State) -> dict[str, Any]:
    """The keypad: the right code opens the compartment once; wrong codes count, and a
    compartment locks after five. In a mailroom, a unit and its resident's standing code
    open every compartment waiting for the unit; the resident locks after five."""
    with UnitOfWork(state.engine) as uow:
        if body.unit is not None:
            out = mailroom.collect(uow, bank_id, body.unit, body.code, state.clock.now())
        else:
            assert body.compartment is not None
            out = service.pickup(uow, bank_id, body.compartment, body.code, state.clock.now())
    if not out["opened"]:
        state.poke_relay()  # a lock is news for the merchant
        code, message = out["error"]
        if code in ("expired_code", "compartment_locked"):
            raise Conflict(message, code=code)
        if code == "nothing_waiting":
            raise NotFound(message, code=code)
        raise InvalidInput(message, code=code)
    state.poke_relay()
    return out


class HandOverIn(Strict):
    shipment_id: RefId
    code: str = Field(pattern=r"^\d{6}$")


@router.post("/shipments/{shipment_id}/ready-for-pickup")
def post_ready(shipment_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    """A pick-up-in-store order is at the counter: the customer's code is issued."""
    with UnitOfWork(state.engine) as uow:
        out = store_pickup.ready_for_pickup(uow, shipment_id, state.clock.now())
    state.poke_relay()
    return out


@router.post("/hubs/{hub_id}/pickups")
def post_hand_over(
    hub_id: PathId, body: HandOverIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Store staff hand the order over against the customer's code."""
    with UnitOfWork(state.engine) as uow:
        out = store_pickup.hand_over(uow, hub_id, body.shipment_id, body.code, state.clock.now())
    if not out["handed_over"]:
        raise InvalidInput(
            f"wrong code; {out['tries_left']} tries left",
            code="wrong_code",
            details={"tries_left": out["tries_left"]},
        )
    state.poke_relay()
    return out
