"""The operator's pages: the live dashboard, the dispatch board, hubs with their waves,
and the replay of a day. Pages render a shell; their scripts poll the JSON here and
act through the JSON API (session auth)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput, NotFound
from hubflow.delivery.dispatch import DispatchConfig
from hubflow.network.store import get_hub
from hubflow.web.accounts import User
from hubflow.web.auth import require
from hubflow.web.model import WebRole
from hubflow.web.ops_data import (
    hub_waves,
    list_hubs,
    live_network,
    replay_events,
    replay_routes,
)
from hubflow.web.render import page, secure_headers
from hubflow.web.twin_day import read_only, require_twin_day, twin_day

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Operator = Annotated[User, Depends(require(WebRole.OPERATOR))]
HubId = Annotated[str, Path(pattern=r"^hub_[0-9A-Z]{26}$")]


def _json(data: Any) -> JSONResponse:
    return secure_headers(JSONResponse(data))


def _live(state: AppState) -> dict[str, Any]:
    cfg = DispatchConfig.from_settings(state.settings)
    with UnitOfWork(state.engine, readonly=True) as uow:
        return live_network(uow.conn, state.clock.now(), cfg)


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110 13.1.2): ``W/`` aside, any listed tag."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag.removeprefix("W/") in tags or "*" in tags


@router.get("/ops")
async def dashboard(request: Request, user: Operator) -> Response:
    return page(request, "ops.html", user)


@router.get("/ops/live.json")
async def live(request: Request, state: State, _: Operator) -> Response:
    """Polled by every open dashboard: unchanged data answers 304 (the browser revalidates
    with the ETag it got), so an idle network costs a hash, not 200 KB a poll."""
    data = await run_in_threadpool(_live, state)
    body = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    # Weak: the same data goes out gzipped or not, so the bytes differ (as nginx does).
    etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if _matches(request.headers.get("if-none-match", ""), etag):
        resp = secure_headers(Response(status_code=304))
    else:
        resp = secure_headers(Response(body, media_type="application/json"))
    resp.headers.update({"ETag": etag, "Cache-Control": "private, no-cache"})
    return resp


@router.get("/ops/dispatch")
async def dispatch_board(request: Request, user: Operator) -> Response:
    return page(request, "ops_dispatch.html", user)


def _hubs(state: AppState) -> list[dict[str, Any]]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return list_hubs(uow.conn)


@router.get("/ops/hubs")
async def hubs(request: Request, state: State, user: Operator) -> Response:
    return page(request, "ops_hubs.html", user, hubs=await run_in_threadpool(_hubs, state))


def _hub(state: AppState, hub_id: str) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        hub = get_hub(uow.conn, hub_id)
        if hub is None:
            raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
        return {"hub": hub, "waves": hub_waves(uow.conn, hub_id)}


@router.get("/ops/hubs/{hub_id}")
async def hub_view(request: Request, state: State, user: Operator, hub_id: HubId) -> Response:
    data = await run_in_threadpool(_hub, state, hub_id)
    return page(request, "ops_hub.html", user, **data)


@router.get("/ops/hubs/{hub_id}/waves.json")
async def hub_waves_json(state: State, _: Operator, hub_id: HubId) -> JSONResponse:
    data = await run_in_threadpool(_hub, state, hub_id)
    return _json({"waves": data["waves"]})


Source = Annotated[Literal["network", "twin"], Query()]


@router.get("/ops/replay")
async def replay(
    request: Request, state: State, user: Operator, source: Source = "network"
) -> Response:
    day = state.clock.now().date().isoformat()
    twin = await run_in_threadpool(twin_day, state.settings)
    return page(request, "ops_replay.html", user, day=day, twin=twin,
                source=source if twin is not None else "network")  # fmt: skip


REPLAY_EVENTS = 20_000  # about a 5,000-order day; a bigger one plays a sample of its parcels


def _replay_of(conn: Connection, start: datetime, end: datetime) -> dict[str, Any]:
    replay = replay_events(conn, start, end, limit=REPLAY_EVENTS)
    return {
        "from": iso_z(start),
        "to": iso_z(end),
        "hubs": list_hubs(conn),
        "events": replay.events,
        "sample": replay.stride,
        "truncated": replay.truncated,
        "routes": replay_routes(conn, start, end),
    }


def _replay(state: AppState, start: datetime, end: datetime) -> dict[str, Any]:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return {"source": "network", "timezone": "UTC", **_replay_of(uow.conn, start, end)}


def _replay_twin(state: AppState) -> dict[str, Any]:
    twin = require_twin_day(state.settings)
    engine = read_only(twin.db)
    try:
        with engine.connect() as conn:
            data = _replay_of(conn, twin.start, twin.end)
    finally:
        engine.dispose()
    return {"source": "twin", "label": twin.label, "timezone": twin.timezone, **data}


@router.get("/ops/replay.json")
async def replay_json(
    state: State,
    _: Operator,
    source: Source = "network",
    start: Annotated[datetime | None, Query(alias="from")] = None,
    hours: Annotated[int, Query(ge=1, le=48)] = 24,
) -> JSONResponse:
    """A day to replay: its parcels' events and the routes driven, from the served
    database (``from`` and ``hours``) or from the twin's run (its simulated day)."""
    if source == "twin":
        return _json(await run_in_threadpool(_replay_twin, state))
    if start is None:
        raise InvalidInput("give 'from', the start of the span to replay", code="missing_from")
    if start.tzinfo is None:
        raise InvalidInput("give 'from' with a time zone", code="naive_datetime")
    end = start + timedelta(hours=hours)
    return _json(await run_in_threadpool(_replay, state, start, end))
