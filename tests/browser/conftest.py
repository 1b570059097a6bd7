"""Browser tests: the real app under uvicorn on a SQLite file, driven by Playwright
through Debian's Chromium (/usr/bin/chromium; scripts/test.sh installs it with apt,
nothing is downloaded). Every page a test opens is checked for console errors, and
screenshots go to test-artifacts/screens/."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hubflow.api.app import create_app
from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key
from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.settings import Settings
from hubflow.web.accounts import create_user
from hubflow.web.model import WebRole
from tests.conftest import Api
from tests.serving import serve

CHROMIUM = os.environ.get("HUBFLOW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
PASSWORD = "correct horse battery"

playwright_sync = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():  # pragma: no cover - scripts/test.sh installs it
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            # Root in a container: Chromium's sandbox needs user namespaces it may not get.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield b
        b.close()


@dataclass
class Site:
    """The app served over HTTP, an in-process API client on the same database and
    clock for setting data up, and helpers to open pages as a given person."""

    url: str
    api: Api
    browser: Any
    errors: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    expected_errors: list[str] = field(default_factory=list)

    def expect_console_error(self, text: str) -> None:
        """An error this test provokes on purpose (a refused fetch logs one)."""
        self.expected_errors.append(text)

    def user(self, role: WebRole, email: str, **owner: str) -> str:
        with UnitOfWork(self.api.engine) as uow:
            create_user(
                uow, email=email, name=email.split("@")[0].title(), password=PASSWORD,
                role=role, now=self.api.clock.now(), **owner,
            )  # fmt: skip
        return email

    def page(self, *, phone: bool = False, **context: Any) -> Any:
        """A page in a fresh browser context (``context``: Playwright's options, such
        as ``geolocation`` and ``permissions``)."""
        viewport = {"width": 375, "height": 740} if phone else {"width": 1280, "height": 900}
        ctx = self.browser.new_context(
            viewport=viewport, is_mobile=phone, has_touch=phone, **context
        )
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)

        def on_console(msg: Any) -> None:
            if msg.type == "error":
                self.errors.append(f"{page.url}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        return page

    def login(self, email: str, *, phone: bool = False, next_path: str = "", **context: Any) -> Any:
        page = self.page(phone=phone, **context)
        page.goto(f"{self.url}/login" + (f"?next={next_path}" if next_path else ""))
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r".*/(ops|merchant|hub|courier)(/.*)?$"))
        return page


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def open_site(engine: Engine, browser: Any, **settings: Any) -> Iterator[Site]:
    """The app on ``engine`` served over HTTP (``settings``: the app's Settings), checked
    for console errors once the test is done."""
    clock = ManualClock(_t0())
    app = create_app(
        Settings(dispatch_time_limit_s=0.2, **settings), engine=engine, clock=clock,
        run_relay=False,
    )  # fmt: skip
    with UnitOfWork(engine) as uow:
        key, _ = create_key(uow, Role.OPERATOR, None, "browser tests", clock.now())
    api = Api(TestClient(app, raise_server_exceptions=False), engine, clock, key.secret)
    with serve(app) as url:
        s = Site(url, api, browser)
        yield s
        for ctx in s.contexts:
            ctx.close()
    unexpected = [e for e in s.errors if not any(x in e for x in s.expected_errors)]
    assert unexpected == [], "console errors:\n" + "\n".join(unexpected)


@pytest.fixture
def site(sqlite_engine: Engine, browser: Any) -> Iterator[Site]:
    with open_site(sqlite_engine, browser) as s:
        yield s


def _t0() -> Any:
    from tests.conftest import T0

    return T0
