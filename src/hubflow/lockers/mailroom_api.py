"""Mailroom endpoints (operator): a bank's mailroom mode and hold, and its residents
(register, list, rotate the code, unlock, revoke). Codes appear once, in the answer that
issues them. Residents collect at the keypad (``POST /v1/lockers/{id}/pickups`` with
``unit`` and ``code``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from hubflow.api.deps import OperatorCaller, State
from hubflow.api.schemas import PathId, Strict, text
from hubflow.core.db import UnitOfWork
from hubflow.lockers import mailroom_admin

router = APIRouter(prefix="/v1/lockers/{bank_id}", tags=["lockers"])


class MailroomIn(Strict):
    enabled: bool = True
    hold_days: int = Field(default=7, ge=1, le=60)


class ResidentIn(Strict):
    unit: text(16) = Field(description="the apartment, like 4B or Apt 12")  # type: ignore[valid-type]
    name: text(100)  # type: ignore[valid-type]


@router.put("/mailroom")
def put_mailroom(
    bank_id: PathId, body: MailroomIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Turn mailroom mode on (or off) for an apartment building's bank, with its hold."""
    with UnitOfWork(state.engine) as uow:
        out = mailroom_admin.set_mailroom(
            uow, bank_id, body.enabled, timedelta(days=body.hold_days), state.clock.now()
        )
    return out.to_json()


@router.get("/mailroom")
def get_mailroom(bank_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return mailroom_admin.get_mailroom(uow.conn, bank_id).to_json()


@router.post("/residents", status_code=201)
def post_resident(
    bank_id: PathId, body: ResidentIn, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """Register the resident of a unit; the standing code is in this answer only."""
    with UnitOfWork(state.engine) as uow:
        out = mailroom_admin.add_resident(uow, bank_id, body.unit, body.name, state.clock.now())
    state.poke_relay()
    return out


@router.get("/residents")
def get_residents(bank_id: PathId, state: State, _: OperatorCaller) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"data": mailroom_admin.list_residents(uow.conn, bank_id)}


@router.post("/residents/{resident_id}/code")
def post_rotate(
    bank_id: PathId, resident_id: PathId, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """A new standing code (in this answer only); the old one stops working."""
    with UnitOfWork(state.engine) as uow:
        out = mailroom_admin.rotate_code(uow, bank_id, resident_id, state.clock.now())
    state.poke_relay()
    return out


@router.post("/residents/{resident_id}/unlock")
def post_unlock(
    bank_id: PathId, resident_id: PathId, state: State, _: OperatorCaller
) -> dict[str, Any]:
    with UnitOfWork(state.engine) as uow:
        out = mailroom_admin.unlock_resident(uow, bank_id, resident_id, state.clock.now())
    state.poke_relay()
    return out


@router.delete("/residents/{resident_id}")
def delete_resident(
    bank_id: PathId, resident_id: PathId, state: State, _: OperatorCaller
) -> dict[str, Any]:
    """The resident moved out: their code stops working and the unit is free again."""
    with UnitOfWork(state.engine) as uow:
        out = mailroom_admin.revoke_resident(uow, bank_id, resident_id, state.clock.now())
    state.poke_relay()
    return out
