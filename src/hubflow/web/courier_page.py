"""The courier web app: one page (installable: a manifest and a service worker) that
calls the courier API with the session, as the courier's phone app would with a key."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import NotFound
from hubflow.delivery.fleet_service import courier_json
from hubflow.delivery.model import FailReason
from hubflow.delivery.store import couriers_table
from hubflow.web.accounts import User
from hubflow.web.auth import require
from hubflow.web.model import WebRole
from hubflow.web.render import HERE, page, secure_headers

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Courier = Annotated[User, Depends(require(WebRole.COURIER))]

MANIFEST = {
    "name": "Hubflow courier",
    "short_name": "Courier",
    "start_url": "/courier",
    "scope": "/courier",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#0b5cad",
    "icons": [
        {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"},
    ],
}

FAIL_WORDS = {
    FailReason.NOT_AT_HOME: "Nobody at home",
    FailReason.ACCESS_DENIED: "Could not get in",
    FailReason.ADDRESS_NOT_FOUND: "Address not found",
    FailReason.REFUSED: "Customer refused it",
    FailReason.DAMAGED: "Parcel damaged",
    FailReason.UNSAFE: "Not safe to deliver",
    FailReason.AGE_CHECK_FAILED: "Age check failed",
    FailReason.PIN_NOT_GIVEN: "Customer had no PIN",
}


def _courier(state: AppState, courier_id: str) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        row = uow.conn.execute(
            select(couriers_table).where(couriers_table.c.id == courier_id)
        ).first()
    if row is None:
        raise NotFound("this account's courier is gone", code="courier_not_found")
    return courier_json(dict(row._mapping))


@router.get("/courier")
async def courier_app(request: Request, state: State, user: Courier) -> Response:
    assert user.courier_id is not None
    me = await run_in_threadpool(_courier, state, user.courier_id)
    return page(request, "courier.html", user, me=me, reasons=FAIL_WORDS)


@router.get("/courier/me.json")
async def courier_me(state: State, user: Courier) -> Response:
    assert user.courier_id is not None
    return secure_headers(JSONResponse(await run_in_threadpool(_courier, state, user.courier_id)))


@router.get("/courier/manifest.webmanifest")
async def manifest() -> Response:
    return Response(json.dumps(MANIFEST), media_type="application/manifest+json")


@router.get("/courier/sw.js")
async def service_worker() -> Response:
    # Served under /courier so that it may control the app's pages (its scope).
    body = (HERE / "static" / "courier-sw.js").read_text()
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/courier"},
    )
