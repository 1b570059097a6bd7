"""Who is looking at a page: the session cookie, role checks and CSRF for forms."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from hubflow.api.deps import AppState, State
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Forbidden
from hubflow.web.accounts import SESSION_COOKIE, SESSION_TTL, User, session_user
from hubflow.web.model import WebRole, new_token

__all__ = [
    "LOGIN_CSRF_COOKIE",
    "CurrentUser",
    "LoginRequired",
    "check_csrf",
    "current_user",
    "login_csrf",
    "require",
    "set_cookie",
]

LOGIN_CSRF_COOKIE = "hf_login_csrf"


class LoginRequired(Exception):
    """Raised by a page for an anonymous visitor; answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _lookup(state: AppState, token: str) -> User | None:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return session_user(uow.conn, token, state.clock.now())


async def current_user(request: Request, state: State) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_threadpool(_lookup, state, token)


CurrentUser = Annotated[User | None, Depends(current_user)]


def require(*roles: WebRole) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency for a page that only these roles may see."""

    async def dep(request: Request, user: CurrentUser) -> User:
        if user is None:
            raise LoginRequired(request.url.path)
        if user.role not in roles:
            raise Forbidden(
                f"this page is for {', '.join(r.value for r in roles)} accounts",
                code="role_forbidden",
            )
        return user

    return dep


def check_csrf(expected: str, sent: str | None) -> None:
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Forbidden("the form is stale or forged; reload the page", code="csrf_failed")


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """HttpOnly, SameSite=Lax, and Secure whenever the page came over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def login_csrf(request: Request) -> str:
    return request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
