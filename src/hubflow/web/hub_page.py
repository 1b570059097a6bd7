"""Hub screens for hub staff (and operators): receive, stow, pick in walking order, and
pack, each with a scan field a keyboard-wedge scanner types into (the code, then Enter).
Staff act only at their own hub: every call checks that the notice, pick task or parcel
belongs to the hub in the address, then runs the same service as the hub API, with the
same retry-safe Idempotency-Key handling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import Field
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.api.retries import OptionalIdempotencyKey, run_once
from hubflow.api.schemas import RefId, Strict, text
from hubflow.catalog.store import products_table
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Forbidden, NotFound
from hubflow.core.ids import is_valid_id
from hubflow.fulfillment import inbound, outbound
from hubflow.fulfillment.store import asns_table, pick_tasks_table, waves_table
from hubflow.network.store import get_hub
from hubflow.orders.store import shipments_table
from hubflow.web.accounts import User
from hubflow.web.auth import check_csrf, require
from hubflow.web.model import WebRole
from hubflow.web.ops_data import list_hubs
from hubflow.web.render import page, secure_headers

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require(WebRole.HUB_STAFF, WebRole.OPERATOR))]
HubId = Annotated[str, Path(pattern=r"^hub_[0-9A-Z]{26}$")]
Code = text(64)


class ReceiveIn(Strict):
    asn_id: RefId
    code: Code  # type: ignore[valid-type]
    quantity: int = Field(default=1, ge=1, le=100_000)
    damaged: bool = False


class StowIn(Strict):
    asn_id: RefId
    code: Code  # type: ignore[valid-type]
    quantity: int = Field(default=1, ge=1, le=100_000)
    bin_code: text(40) | None = None  # type: ignore[valid-type]


class PickIn(Strict):
    task_id: RefId
    bin_code: text(40)  # type: ignore[valid-type]
    code: Code  # type: ignore[valid-type]
    quantity: int = Field(default=1, ge=1, le=100_000)


class ShortIn(Strict):
    task_id: RefId
    found: int = Field(ge=0, le=100_000)


class PackIn(Strict):
    code: Code  # type: ignore[valid-type]


def _at_hub(user: User, hub_id: str) -> None:
    if user.role is WebRole.HUB_STAFF and user.hub_id != hub_id:
        raise Forbidden("you work at another hub", code="other_hub")


async def staff_at(user: Staff, hub_id: HubId, x_csrf_token: Annotated[str, Header()] = "") -> User:
    """Staff of this hub (or an operator), sending the session's CSRF token."""
    _at_hub(user, hub_id)
    check_csrf(user.csrf_token, x_csrf_token)
    return user


Acting = Annotated[User, Depends(staff_at)]


def _json(data: Any) -> JSONResponse:
    return secure_headers(JSONResponse(data))


def _owned(hub_id: str, what: str, found: Any) -> None:
    if found != hub_id:  # someone else's hub looks the same as a missing one
        raise NotFound(f"no such {what} at this hub", code=f"{what}_not_found")


def _asn_merchant(conn: Connection, hub_id: str, asn_id: str) -> str:
    a = asns_table.c
    row = conn.execute(select(a.hub_id, a.merchant_id).where(a.id == asn_id)).first()
    _owned(hub_id, "notice", row.hub_id if row else None)
    assert row is not None
    return str(row.merchant_id)


def _product(conn: Connection, merchant_id: str, code: str) -> str:
    """A scanned product: its id, or the merchant's SKU printed on it."""
    if is_valid_id(code, "prd"):
        return code
    p = products_table.c
    found = conn.execute(
        select(p.id).where(p.merchant_id == merchant_id, p.sku == code)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no product {code} on this notice", code="product_not_found")
    return str(found)


def _task_hub(conn: Connection, task_id: str) -> tuple[str | None, Any]:
    t, w = pick_tasks_table.c, waves_table.c
    row = conn.execute(
        select(w.hub_id, t.product_id, t.shipment_id)
        .join(waves_table, w.id == t.wave_id)
        .where(t.id == task_id)
    ).first()
    return (row.hub_id if row else None), row


def _act(
    state: AppState, hub_id: str, key: str | None, path: str, body: Strict,
    response: Response, act: Callable[[UnitOfWork], dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    return run_once(state, hub_id, key, path, body.model_dump(), act, response)


# -- pages --------------------------------------------------------------------------------------


@router.get("/hub")
async def hub_picker(request: Request, state: State, user: Staff) -> Response:
    if user.role is WebRole.HUB_STAFF:
        return RedirectResponse(f"/hub/{user.hub_id}", status_code=303)

    def read() -> list[dict[str, Any]]:
        with UnitOfWork(state.engine, readonly=True) as uow:
            return list_hubs(uow.conn)

    return page(request, "hub_pick.html", user, hubs=await run_in_threadpool(read))


def _screen(state: AppState, hub_id: str) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        hub = get_hub(uow.conn, hub_id)
        if hub is None:
            raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
        return {"hub": hub}


@router.get("/hub/{hub_id}")
async def hub_screen(request: Request, state: State, user: Staff, hub_id: HubId) -> Response:
    _at_hub(user, hub_id)
    data = await run_in_threadpool(_screen, state, hub_id)
    return page(request, "hub.html", user, **data)


def _work(state: AppState, hub_id: str) -> dict[str, Any]:
    a, w = asns_table.c, waves_table.c
    with UnitOfWork(state.engine, readonly=True) as uow:
        conn = uow.conn
        asns = conn.execute(
            select(a.id, a.merchant_id)
            .where(a.hub_id == hub_id, a.status != "closed")
            .order_by(a.created_at)
        ).all()
        waves = conn.execute(
            select(w.id).where(w.hub_id == hub_id, w.status != "done").order_by(w.created_at)
        ).scalars()
        out = {
            "asns": [inbound.get_asn(conn, x.merchant_id, x.id) for x in asns],
            "waves": [outbound.get_wave(conn, i) for i in waves],
        }
        ids = {ln["product_id"] for a_ in out["asns"] for ln in a_["lines"]} | {
            p["product_id"] for w_ in out["waves"] for b_ in w_["batches"] for p in b_["picks"]
        }
        prod = products_table.c
        # What is printed on the goods: the SKU, not our id.
        skus = conn.execute(select(prod.id, prod.sku).where(prod.id.in_(sorted(ids)))).all()
        return {**out, "skus": {x.id: x.sku for x in skus}}


@router.get("/hub/{hub_id}/work.json")
async def work(state: State, user: Staff, hub_id: HubId) -> JSONResponse:
    _at_hub(user, hub_id)
    return _json(await run_in_threadpool(_work, state, hub_id))


# -- scans --------------------------------------------------------------------------------------


@router.post("/hub/{hub_id}/receive")
def receive(
    hub_id: HubId, body: ReceiveIn, state: State, _: Acting, response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:  # fmt: skip
    now = state.clock.now()

    def act(uow: UnitOfWork) -> dict[str, Any]:
        merchant = _asn_merchant(uow.conn, hub_id, body.asn_id)
        product = _product(uow.conn, merchant, body.code)
        return inbound.receive_scan(uow, body.asn_id, product, body.quantity, body.damaged, now)

    return _act(state, hub_id, key, f"/hub/{hub_id}/receive", body, response, act)


@router.post("/hub/{hub_id}/stow")
def stow(
    hub_id: HubId, body: StowIn, state: State, _: Acting, response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:  # fmt: skip
    """Without a bin: where to put it (a suggestion); with the bin scanned: stow."""
    now = state.clock.now()

    def act(uow: UnitOfWork) -> dict[str, Any]:
        merchant = _asn_merchant(uow.conn, hub_id, body.asn_id)
        product = _product(uow.conn, merchant, body.code)
        if body.bin_code is None:
            suggestion = inbound.suggest_bin(
                uow.conn, body.asn_id, product, body.quantity, "spread"
            )
            return {"suggestion": suggestion, "product_id": product}
        return inbound.stow(uow, body.asn_id, product, body.quantity, body.bin_code, now)

    if body.bin_code is None:  # a read: nothing to replay
        with UnitOfWork(state.engine, readonly=True) as uow:
            return act(uow)
    return _act(state, hub_id, key, f"/hub/{hub_id}/stow", body, response, act)


@router.post("/hub/{hub_id}/pick")
def pick(
    hub_id: HubId, body: PickIn, state: State, _: Acting, response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:  # fmt: skip
    now = state.clock.now()

    def act(uow: UnitOfWork) -> dict[str, Any]:
        found, task = _task_hub(uow.conn, body.task_id)
        _owned(hub_id, "task", found)
        ship = uow.conn.execute(
            select(shipments_table.c.merchant_id).where(shipments_table.c.id == task.shipment_id)
        ).scalar_one()
        product = _product(uow.conn, ship, body.code)
        return outbound.pick(uow, body.task_id, body.bin_code, product, body.quantity, now)

    return _act(state, hub_id, key, f"/hub/{hub_id}/pick", body, response, act)


@router.post("/hub/{hub_id}/short")
def short(
    hub_id: HubId, body: ShortIn, state: State, _: Acting, response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:  # fmt: skip
    now = state.clock.now()

    def act(uow: UnitOfWork) -> dict[str, Any]:
        _owned(hub_id, "task", _task_hub(uow.conn, body.task_id)[0])
        return outbound.report_short(uow, body.task_id, body.found, now)

    return _act(state, hub_id, key, f"/hub/{hub_id}/short", body, response, act)


@router.post("/hub/{hub_id}/pack")
def pack(
    hub_id: HubId, body: PackIn, state: State, _: Acting, response: Response,
    key: OptionalIdempotencyKey = None,
) -> dict[str, Any]:  # fmt: skip
    """The parcel's id (the label or the pick list shows it) scanned at the pack bench."""
    from hubflow.fulfillment.packing import pack_shipment

    now = state.clock.now()

    def act(uow: UnitOfWork) -> dict[str, Any]:
        s = shipments_table.c
        found = uow.conn.execute(select(s.hub_id).where(s.id == body.code)).scalar()
        _owned(hub_id, "parcel", found)
        return pack_shipment(uow, body.code, now)

    return _act(state, hub_id, key, f"/hub/{hub_id}/pack", body, response, act)
