"""The merchant portal: orders, stock per hub, inbound notices, returns, API keys,
webhooks (with a test send, the delivery log and replay) and branding. Lists render
on the server, always for the logged-in merchant only; actions call the JSON API with
the session (so the API's own checks apply), branding posts a form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.catalog.service import list_keys, list_products
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.fulfillment.inbound import get_asn
from hubflow.fulfillment.store import asns_table
from hubflow.inventory.service import list_positions
from hubflow.orders.service import list_orders
from hubflow.returns.service import get_return
from hubflow.returns.store import returns_table
from hubflow.web.accounts import User
from hubflow.web.auth import check_csrf, require
from hubflow.web.branding import get_branding, set_branding
from hubflow.web.model import WebRole
from hubflow.web.ops_data import list_hubs
from hubflow.web.render import page
from hubflow.webhooks.service import list_deliveries, list_endpoints

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Merchant = Annotated[User, Depends(require(WebRole.MERCHANT))]


def _orders(conn: Connection, merchant_id: str) -> dict[str, Any]:
    return {"orders": list_orders(conn, merchant_id, limit=200)}


def _stock(conn: Connection, merchant_id: str) -> dict[str, Any]:
    products = {p.id: p.sku for p in list_products(conn, merchant_id, after=None, limit=1000)}
    hubs = {h["id"]: h["name"] for h in list_hubs(conn)}
    return {
        "positions": [
            {**x, "sku": products.get(x["product_id"], ""), "hub": hubs.get(x["hub_id"], "")}
            for x in list_positions(conn, merchant_id, limit=1000)
        ]
    }


def _inbound(conn: Connection, merchant_id: str) -> dict[str, Any]:
    a = asns_table.c
    ids = conn.execute(
        select(a.id).where(a.merchant_id == merchant_id).order_by(a.created_at.desc())
    ).scalars()
    products = list_products(conn, merchant_id, after=None, limit=1000)
    return {
        "asns": [get_asn(conn, merchant_id, i) for i in ids],
        "hubs": [h for h in list_hubs(conn) if h["active"]],
        "products": [{"id": p.id, "sku": p.sku, "name": p.name} for p in products],
        "skus": {p.id: p.sku for p in products},
    }


def _returns(conn: Connection, merchant_id: str) -> dict[str, Any]:
    r = returns_table.c
    ids = conn.execute(
        select(r.id).where(r.merchant_id == merchant_id).order_by(r.created_at.desc())
    ).scalars()
    return {"returns": [get_return(conn, merchant_id, i) for i in ids]}


def _webhooks(conn: Connection, merchant_id: str) -> dict[str, Any]:
    return {
        "endpoints": list_endpoints(conn, merchant_id),
        "deliveries": list_deliveries(conn, merchant_id, limit=100, newest_first=True),
    }


# Each section: its path, its template (merchant_<name>.html) and what it reads, always
# for the logged-in merchant only.
SECTIONS: dict[str, tuple[str, Callable[[Connection, str], dict[str, Any]]]] = {
    "/merchant": ("orders", _orders),
    "/merchant/stock": ("stock", _stock),
    "/merchant/inbound": ("inbound", _inbound),
    "/merchant/returns": ("returns", _returns),
    "/merchant/keys": ("keys", lambda conn, m: {"keys": list_keys(conn, m)}),
    "/merchant/webhooks": ("webhooks", _webhooks),
    "/merchant/branding": ("branding", lambda conn, m: {"brand": get_branding(conn, m)}),
}


def _section(name: str, read: Callable[[Connection, str], dict[str, Any]]) -> Any:
    def load(state: AppState, merchant_id: str) -> dict[str, Any]:
        with UnitOfWork(state.engine, readonly=True) as uow:
            return read(uow.conn, merchant_id)

    async def view(request: Request, state: State, user: Merchant) -> Response:
        assert user.merchant_id is not None
        data = await run_in_threadpool(load, state, user.merchant_id)
        return page(request, f"merchant_{name}.html", user, **data)

    return view


for _path, (_name, _read) in SECTIONS.items():
    router.add_api_route(_path, _section(_name, _read), methods=["GET"])


def _save_brand(state: AppState, merchant_id: str, fields: dict[str, str]) -> None:
    with UnitOfWork(state.engine) as uow:
        set_branding(uow.conn, merchant_id, now=state.clock.now(), **fields)


@router.post("/merchant/branding")
async def save_branding(
    request: Request,
    state: State,
    user: Merchant,
    display_name: Annotated[str, Form(max_length=100)],
    primary_colour: Annotated[str, Form(max_length=7)],
    accent_colour: Annotated[str, Form(max_length=7)],
    logo_url: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(user.csrf_token, csrf)
    assert user.merchant_id is not None
    fields = {"display_name": display_name, "logo_url": logo_url,
              "primary_colour": primary_colour, "accent_colour": accent_colour}  # fmt: skip
    try:
        await run_in_threadpool(_save_brand, state, user.merchant_id, fields)
    except HubflowError as exc:
        brand = {"merchant_id": user.merchant_id, **fields}
        return page(request, "merchant_branding.html", user, brand=brand, error=exc.message,
                    status_code=exc.status_code)  # fmt: skip
    return RedirectResponse("/merchant/branding?saved=1", status_code=303)
