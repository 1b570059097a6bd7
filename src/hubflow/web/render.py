"""Rendering pages: the templates, what every page gets, and the security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from hubflow.web.accounts import User

__all__ = ["CSP", "page", "secure_headers", "templates"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

# Scripts and styles from this site only (nothing inline, nothing from the internet);
# images may be data: URLs (merchant logos, proof photos taken in the courier app).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)


R = TypeVar("R", bound=Response)


def secure_headers(response: R) -> R:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def page(
    request: Request,
    name: str,
    user: User | None,
    *,
    csrf: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    ctx = {"user": user, "csrf": csrf if csrf is not None else (user.csrf_token if user else "")}
    ctx.update(context)
    resp: HTMLResponse = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    return secure_headers(resp)
