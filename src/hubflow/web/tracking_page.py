"""The customer's tracking page (white-label, by the token in the tracking link) and
its start-a-return form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError, NotFound
from hubflow.orders.service import get_order
from hubflow.orders.store import shipments_table
from hubflow.returns import service as returns
from hubflow.web.auth import LOGIN_CSRF_COOKIE, check_csrf, login_csrf, set_cookie
from hubflow.web.branding import brand_css, get_branding
from hubflow.web.render import page, secure_headers

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def _parcel(state: AppState, token: str) -> dict[str, Any]:
    s = shipments_table.c
    with UnitOfWork(state.engine, readonly=True) as uow:
        row = uow.conn.execute(
            select(s.id, s.order_id, s.merchant_id, s.status).where(s.tracking_token == token)
        ).first()
        if row is None:
            raise NotFound("no parcel has this tracking link", code="tracking_not_found")
        order = get_order(uow.conn, row.merchant_id, row.order_id)
        brand = get_branding(uow.conn, row.merchant_id)
    return {"shipment": dict(row._mapping), "order": order, "brand": brand}


def _view(request: Request, parcel: dict[str, Any], csrf: str, **extra: Any) -> Response:
    order = parcel["order"]
    resp = page(
        request,
        "track.html",
        None,
        csrf=csrf,
        brand=parcel["brand"],
        token=request.path_params["token"],
        destination={"lat": order["address"]["lat"], "lng": order["address"]["lng"]},
        returnable=order["status"] == "delivered",
        **extra,
    )
    set_cookie(request, resp, LOGIN_CSRF_COOKIE, csrf)
    return resp


@router.get("/track/{token}")
async def track_page(request: Request, state: State, token: Token) -> Response:
    parcel = await run_in_threadpool(_parcel, state, token)
    return _view(request, parcel, login_csrf(request))


@router.get("/brand/{merchant_id}.css")
async def brand_stylesheet(
    state: State, merchant_id: Annotated[str, Path(pattern=r"^mer_[0-9A-Z]{26}$")]
) -> Response:
    def read() -> dict[str, Any]:
        with UnitOfWork(state.engine, readonly=True) as uow:
            return get_branding(uow.conn, merchant_id)

    css = brand_css(await run_in_threadpool(read))
    return secure_headers(Response(css, media_type="text/css"))


def _start_return(state: AppState, parcel: dict[str, Any], reason: str) -> dict[str, Any]:
    order = parcel["order"]
    lines = [(x["product_id"], x["quantity"]) for x in order["lines"]]
    with UnitOfWork(state.engine) as uow:
        return returns.create_return(
            uow, order["merchant_id"], order["id"], lines, reason, "store", state.clock.now()
        )


@router.post("/track/{token}/return")
async def start_return(
    request: Request,
    state: State,
    token: Token,
    reason: Annotated[str, Form(min_length=1, max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The customer holding the tracking link asks to send the whole order back; the
    merchant's return policy (window, refund) decides as for an API call."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf)
    parcel = await run_in_threadpool(_parcel, state, token)
    try:
        ret = await run_in_threadpool(_start_return, state, parcel, reason.strip())
    except HubflowError as exc:
        return _view(request, parcel, csrf, return_error=exc.message)
    state.poke_relay()
    return _view(request, parcel, csrf, started_return=ret)
