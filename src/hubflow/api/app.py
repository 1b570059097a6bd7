"""The FastAPI application: routers, error mapping, observability, the relay thread."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from hubflow import __version__
from hubflow.api.deps import AppState
from hubflow.api.observability import RequestMiddleware, configure_logging
from hubflow.api.order_intake import OrderIntakePath, error_response
from hubflow.api.schemas import ErrorOut
from hubflow.core.clock import Clock, SystemClock
from hubflow.core.db import make_engine
from hubflow.core.errors import HubflowError
from hubflow.core.migrate import check_schema
from hubflow.core.settings import Settings

__all__ = ["create_app", "import_tables"]

log = logging.getLogger("hubflow.api")

GZIP_MIN_BYTES = 1024  # below about a kilobyte the headers cost more than gzip saves


def import_tables() -> None:
    """Import every context's tables so the shared metadata knows them all."""
    import hubflow.catalog.store
    import hubflow.core.events
    import hubflow.core.idempotency
    import hubflow.delivery.store
    import hubflow.fulfillment.store
    import hubflow.inventory.store
    import hubflow.lockers.mailroom_store
    import hubflow.lockers.store
    import hubflow.membership.store
    import hubflow.network.store
    import hubflow.orders.store
    import hubflow.points.store
    import hubflow.promise.store
    import hubflow.returns.store
    import hubflow.web.store
    import hubflow.webhooks.store  # noqa: F401


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubflowError)
    async def hubflow_error(_: Request, exc: HubflowError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return _error(400, "malformed_json", "the request body is not valid JSON", errors)
        if any(
            e["type"] == "missing"
            and [str(x).lower() for x in e["loc"]] == ["header", "idempotency-key"]
            for e in errors
        ):
            return _error(
                400,
                "idempotency_key_missing",
                "send an Idempotency-Key header to create an order",
                errors,
            )
        return _error(422, "invalid_request", "the request did not validate", errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI reports a JSON body that is not even UTF-8 as a bare 400.
            return _error(400, "malformed_json", "the request body is not valid JSON")
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        resp = _error(exc.status_code, code, str(exc.detail))
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(Exception)
    async def crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "something went wrong on our side")


def _start_relay(state: AppState) -> tuple[threading.Event, threading.Thread, Any]:
    from hubflow.webhooks.relay import HttpSender, Relay, RelayPolicy

    s = state.settings
    relay = Relay(
        state.engine,
        state.clock,
        HttpSender(s.webhook_timeout_s),
        RelayPolicy(
            max_attempts=s.webhook_max_attempts,
            backoff_base_s=s.webhook_backoff_base_s,
            backoff_max_s=s.webhook_backoff_max_s,
        ),
    )
    stop = threading.Event()
    state.wake_relay.append(relay._wake)

    def on_error(exc: Exception) -> None:
        log.warning("relay pass failed: %s", exc)

    thread = threading.Thread(
        target=relay.run_forever,
        args=(stop, s.relay_interval_s, on_error),
        name="hubflow-relay",
        daemon=True,
    )
    thread.start()
    return stop, thread, relay


def _start_dispatcher(state: AppState) -> tuple[threading.Event, threading.Thread]:
    from hubflow.delivery.dispatch import DispatchConfig
    from hubflow.delivery.loop import Dispatcher

    cfg = DispatchConfig.from_settings(state.settings)
    dispatcher = Dispatcher(state.engine, state.clock, cfg, on_run=lambda _: state.poke_relay())
    stop = threading.Event()
    thread = threading.Thread(
        target=dispatcher.run_forever,
        args=(stop, min(15.0, cfg.epoch_s / 4)),
        name="hubflow-dispatch",
        daemon=True,
    )
    thread.start()
    return stop, thread


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    run_relay: bool | None = None,
) -> FastAPI:
    settings = settings or Settings()
    import_tables()
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)
    state = AppState(settings=settings, engine=engine, clock=clock or SystemClock())
    relay_on = settings.relay_enabled if run_relay is None else run_relay

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        check_schema(engine)
        running = _start_relay(state) if relay_on else None
        dispatching = _start_dispatcher(state) if settings.dispatch_enabled else None
        try:
            yield
        finally:
            if dispatching:
                dispatching[0].set()
                dispatching[1].join(timeout=30)
            if running:
                stop, thread, relay = running
                stop.set()
                relay._wake.set()
                thread.join(timeout=10)
                relay.close()

    app = FastAPI(
        title="Hubflow",
        version=__version__,
        summary="Fulfillment and same-day delivery for retail networks and the merchants on them.",
        lifespan=lifespan,
        responses={
            400: {"model": ErrorOut},
            401: {"model": ErrorOut},
            403: {"model": ErrorOut},
            404: {"model": ErrorOut},
            409: {"model": ErrorOut},
            413: {"model": ErrorOut},
            422: {"model": ErrorOut},
        },
    )
    app.state.hubflow = state
    # Added first, so it runs inside RequestMiddleware (request id, metrics, body cap).
    app.add_middleware(OrderIntakePath, concurrency=settings.intake_concurrency)
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes)
    # JSON, scripts and styles go gzipped (the dashboard's 200 KB poll shrinks about
    # tenfold). Not HTML: pages carry the CSRF token next to text a visitor can put there
    # (an e-mail, a reason), which is what BREACH needs to guess a secret by sizes.
    # Level 6: nearly level 9's size for a fraction of its CPU time.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MIN_BYTES,
        compresslevel=6,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/html"),
    )
    _install_error_handlers(app)

    from hubflow.catalog.api import router as catalog_router
    from hubflow.delivery.api import public as tracking_router
    from hubflow.delivery.api import router as dispatch_router
    from hubflow.delivery.courier_api import router as courier_router
    from hubflow.delivery.fleet_api import router as fleet_router
    from hubflow.fulfillment.api import router as hub_ops_router
    from hubflow.inventory.api import router as inventory_router
    from hubflow.lockers.api import router as lockers_router
    from hubflow.lockers.mailroom_api import router as mailroom_router
    from hubflow.membership.api import router as membership_router
    from hubflow.network.api import router as network_router
    from hubflow.orders.api import router as orders_router
    from hubflow.points.api import router as points_router
    from hubflow.promise.api import router as promise_router
    from hubflow.returns.api import router as returns_router
    from hubflow.sim.api import router as twin_router
    from hubflow.webhooks.api import router as webhooks_router

    for router in (
        catalog_router,
        network_router,
        inventory_router,
        orders_router,
        promise_router,
        webhooks_router,
        fleet_router,
        dispatch_router,
        courier_router,
        tracking_router,
        hub_ops_router,
        lockers_router,
        mailroom_router,
        returns_router,
        twin_router,
        membership_router,
        points_router,
    ):
        app.include_router(router)

    from hubflow.web.pages import install as install_pages

    install_pages(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        # async: answered on the event loop, never queued behind a saturated thread pool.
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ready"}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory hubflow.api.app:app_from_env``."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    _collect_less()
    return app


# The young generation collected every 2,000 net new objects instead of 700: in the
# order intake benchmark each worker then spent about 100 ms of every 12 s in the
# collector instead of 200-250 ms, with pauses of up to 25 ms (a threshold of 7,000
# made pauses of 15-50 ms on the shared machine).
GC_THRESHOLDS = (2000, 10, 10)


def _collect_less() -> None:
    """For a serving process, once its modules are loaded and its app built.

    What start-up made (about 250,000 tracked objects: modules, the schema, the
    routes, pydantic's validators) lives as long as the process, yet every full
    collection walked all of it: 75-230 ms with the GIL held, every few thousand
    orders, during which all of the worker's requests stood still. Frozen, it is
    left out of every collection (``gc.freeze``); what requests leave behind is
    still collected as before.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
