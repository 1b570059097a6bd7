"""The customer's tracking page (white-label, by the token in the tracking link) and
its start-a-return form."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.catalog.service import products_by_id
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError, InvalidInput, NotFound
from hubflow.orders.service import get_order
from hubflow.orders.store import shipments_table
from hubflow.returns import service as returns
from hubflow.web.auth import LOGIN_CSRF_COOKIE, check_csrf, login_csrf, set_cookie
from hubflow.web.branding import brand_css, get_branding
from hubflow.web.render import page, secure_headers

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(min_length=16, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def _returnable(conn: Connection, order: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """What the customer may still send back (the lines, with names and units left, and
    the last day), or why not; ``None`` before the order is delivered."""
    if order["status"] != "delivered":
        return None
    try:
        left = returns.returnable(conn, order["merchant_id"], order["id"], now)
    except HubflowError as exc:
        return {"closed": exc.message, "lines": []}
    names = products_by_id(conn, order["merchant_id"], list(left.units))
    lines = [
        {"product_id": pid, "name": names[pid].name if pid in names else pid, "units": n}
        for pid, n in left.units.items()
        if n > 0
    ]
    closed = None if lines else "Everything in this order is already on its way back."
    return {"closed": closed, "lines": lines, "closes_at": left.closes_at,
            "window_days": left.window_days}  # fmt: skip


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
        ret = _returnable(uow.conn, order, state.clock.now())
    return {"shipment": dict(row._mapping), "order": order, "brand": brand, "returnable": ret}


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
        returnable=parcel["returnable"],
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


def _start_return(
    state: AppState, parcel: dict[str, Any], lines: list[tuple[str, int]], reason: str
) -> dict[str, Any]:
    order = parcel["order"]
    with UnitOfWork(state.engine) as uow:
        return returns.create_return(
            uow, order["merchant_id"], order["id"], lines, reason, "store", state.clock.now()
        )


QTY_FIELD = "qty-"  # one number field per product: qty-<product id>


def _chosen(form: Any, parcel: dict[str, Any]) -> list[tuple[str, int]]:
    """The units the customer chose, per product of the order (other fields ignored)."""
    ordered = {x["product_id"] for x in parcel["order"]["lines"]}
    lines = []
    for pid in sorted(ordered):
        raw = str(form.get(QTY_FIELD + pid, "0")).strip() or "0"
        if not raw.isdigit() or len(raw) > 4:
            raise InvalidInput("a quantity is a whole number", code="invalid_quantity")
        if int(raw) > 0:
            lines.append((pid, int(raw)))
    if not lines:
        raise InvalidInput("choose at least one item to send back", code="nothing_chosen")
    return lines


@router.post("/track/{token}/return")
async def start_return(
    request: Request,
    state: State,
    token: Token,
    reason: Annotated[str, Form(min_length=1, max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The customer holding the tracking link sends back the items and units they chose
    (``qty-<product id>`` fields); the merchant's return policy (window, what is left to
    return, refund) decides as for an API call."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf)
    parcel = await run_in_threadpool(_parcel, state, token)
    try:
        lines = _chosen(await request.form(), parcel)
        ret = await run_in_threadpool(_start_return, state, parcel, lines, reason.strip())
    except HubflowError as exc:
        return _view(request, parcel, csrf, return_error=exc.message, status_code=exc.status_code)
    state.poke_relay()
    names = {x["product_id"]: x["name"] for x in parcel["returnable"]["lines"]}
    sent = [{"name": names.get(x["product_id"], x["product_id"]), "quantity": x["quantity"]}
            for x in ret["lines"]]  # fmt: skip
    parcel = await run_in_threadpool(_parcel, state, token)
    return _view(request, parcel, csrf, started_return=ret, returned_lines=sent)
