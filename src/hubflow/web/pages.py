"""Mounting the browser side on the app: static files, error pages, log in and out."""

from __future__ import annotations

from typing import Annotated

import xstatic.pkg.leaflet as leaflet_pkg
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError, Unauthorized
from hubflow.web.accounts import SESSION_COOKIE, User, end_session, log_in
from hubflow.web.auth import (
    LOGIN_CSRF_COOKIE,
    CurrentUser,
    LoginRequired,
    check_csrf,
    login_csrf,
    set_cookie,
)
from hubflow.web.model import WebRole, safe_next
from hubflow.web.render import HERE, page

__all__ = ["install"]

router = APIRouter(include_in_schema=False)

HOME = {
    WebRole.OPERATOR: "/ops",
    WebRole.MERCHANT: "/merchant",
    WebRole.HUB_STAFF: "/hub",
    WebRole.COURIER: "/courier",
}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/")
def home(user: CurrentUser) -> RedirectResponse:
    return _see_other(HOME[user.role] if user else "/login")


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    return RedirectResponse("/static/icon.svg", status_code=301)


@router.get("/login")
def login_form(request: Request, user: CurrentUser, next: str | None = None) -> Response:
    if user is not None:
        return _see_other(safe_next(next) or HOME[user.role])
    token = login_csrf(request)
    resp = page(request, "login.html", None, csrf=token, next=safe_next(next))
    set_cookie(request, resp, LOGIN_CSRF_COOKIE, token)
    return resp


def _log_in(state: AppState, email: str, password: str) -> tuple[str, User]:
    with UnitOfWork(state.engine) as uow:
        out = log_in(uow, email, password, state.clock.now())
    # Refused after the commit: the wrong password is counted.
    if out is None:
        raise Unauthorized("wrong e-mail or password", code="bad_credentials")
    return out


@router.post("/login")
async def login(
    request: Request,
    state: State,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf)
    try:
        token, user = await run_in_threadpool(_log_in, state, email, password)
    except Unauthorized as exc:
        error = (
            "Too many wrong passwords: try again in 15 minutes."
            if exc.code == "login_locked"
            else "Wrong e-mail or password."
        )
        return page(
            request, "login.html", None, csrf=csrf, next=safe_next(next), email=email,
            error=error, status_code=401,
        )  # fmt: skip
    resp = _see_other(safe_next(next) or HOME[user.role])
    set_cookie(request, resp, SESSION_COOKIE, token)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


def _log_out(state: AppState, token: str) -> None:
    with UnitOfWork(state.engine) as uow:
        end_session(uow, token)


@router.post("/logout")
async def logout(
    request: Request,
    state: State,
    user: CurrentUser,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if user is not None:
        check_csrf(user.csrf_token, csrf)
        await run_in_threadpool(_log_out, state, request.cookies.get(SESSION_COOKIE, ""))
    resp = _see_other("/login")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/v1/") and "text/html" in request.headers.get(
        "accept", ""
    )


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    from hubflow.web import courier_page, hub_page, merchant_page, ops_page, tracking_page

    app.mount("/static/vendor/leaflet", StaticFiles(directory=leaflet_pkg.BASE_DIR), "leaflet")
    app.mount("/static", StaticFiles(directory=HERE / "static"), "static")
    for r in (
        router,
        tracking_page.router,
        courier_page.router,
        ops_page.router,
        merchant_page.router,
        hub_page.router,
    ):
        app.include_router(r)

    @app.exception_handler(LoginRequired)
    async def to_login(_: Request, exc: LoginRequired) -> Response:
        return _see_other(f"/login?next={exc.next_path}")

    # Errors on pages are pages: a browser asking for HTML outside /v1 gets the error page
    # (a forbidden role, a stale form, an unknown tracking link); scripts get the JSON.
    titles = {401: "Please log in again", 403: "Not for this account", 404: "Not found"}

    @app.exception_handler(HubflowError)
    async def page_error(request: Request, exc: HubflowError) -> Response:
        if not _wants_html(request):
            return JSONResponse(exc.to_json(), status_code=exc.status_code)
        title = titles.get(exc.status_code, "Something is not right")
        return page(request, "error.html", None, title=title, message=exc.message,
                    status_code=exc.status_code)  # fmt: skip
