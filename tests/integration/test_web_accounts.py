"""Accounts, sessions, CSRF and role checks over HTTP, on both databases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from hubflow.cli import main
from hubflow.core.db import UnitOfWork
from hubflow.web.accounts import create_user
from hubflow.web.model import WebRole
from hubflow.web.store import users_table, web_sessions_table
from tests import fleet
from tests.conftest import Api

PASSWORD = "correct horse battery"


def _user(api: Api, role: WebRole, email: str, **owner: str) -> str:
    with UnitOfWork(api.engine) as uow:
        create_user(uow, email=email, name="Pat", password=PASSWORD, role=role,
                    now=api.clock.now(), **owner)  # fmt: skip
    return email


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def _login(api: Api, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; the session's CSRF token (from a page) is returned."""
    form = api.client.get("/login")
    r = api.client.post(
        "/login",
        data={"email": email, "password": password, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = api.client.get(r.headers["location"])
    assert home.status_code == 200, home.text
    return _csrf(home.text)


def test_login_sets_a_secure_session_and_logout_ends_it(api: Api) -> None:
    email = _user(api, WebRole.OPERATOR, "ops@example.com")
    form = api.client.get("/login")
    assert "default-src 'self'" in form.headers["content-security-policy"]
    bad = api.client.post(
        "/login", data={"email": email, "password": "wrong password!", "csrf": _csrf(form.text)}
    )
    assert bad.status_code == 401 and "Wrong e-mail or password" in bad.text
    r = api.client.post(
        "/login",
        data={"email": email.upper(), "password": PASSWORD, "csrf": _csrf(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/ops"
    cookie = r.headers["set-cookie"]
    assert "hf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; https pages get Secure
    csrf = _csrf(api.client.get("/ops").text)
    with api.engine.connect() as conn:
        assert len(conn.execute(select(web_sessions_table)).all()) == 1
    out = api.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    with api.engine.connect() as conn:
        assert conn.execute(select(web_sessions_table)).all() == []
    assert api.client.get("/ops", follow_redirects=False).headers["location"] == "/login?next=/ops"


def test_forms_without_the_csrf_token_are_refused(api: Api) -> None:
    email = _user(api, WebRole.MERCHANT, "m@example.com", merchant_id=api.merchant()[0])
    api.client.get("/login")
    r = api.client.post("/login", data={"email": email, "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    csrf = _login(api, email)
    r = api.client.post("/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    # The JSON API with the session: reads need no token, writes need it in a header.
    assert api.client.get("/v1/keys").status_code == 200
    r = api.client.post("/v1/keys", json={"label": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = api.client.post("/v1/keys", json={"label": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["api_key"].startswith("hfk_")
    r = api.client.post(
        "/merchant/branding",
        data={"display_name": "X", "primary_colour": "#000000", "accent_colour": "#000000"},
    )
    assert r.status_code == 403


def test_every_page_checks_the_role(api: Api) -> None:
    net = fleet.network(api)
    cid = fleet.courier(api, net, "gig")
    accounts = {
        WebRole.OPERATOR: _user(api, WebRole.OPERATOR, "o@example.com"),
        WebRole.MERCHANT: _user(api, WebRole.MERCHANT, "m@example.com", merchant_id=net.merchant),
        WebRole.HUB_STAFF: _user(api, WebRole.HUB_STAFF, "h@example.com", hub_id=net.hub),
        WebRole.COURIER: _user(api, WebRole.COURIER, "c@example.com", courier_id=cid),
    }
    pages = {
        "/ops": {WebRole.OPERATOR},
        "/ops/dispatch": {WebRole.OPERATOR},
        "/ops/hubs": {WebRole.OPERATOR},
        f"/ops/hubs/{net.hub}": {WebRole.OPERATOR},
        "/ops/replay": {WebRole.OPERATOR},
        "/ops/live.json": {WebRole.OPERATOR},
        "/merchant": {WebRole.MERCHANT},
        "/merchant/keys": {WebRole.MERCHANT},
        "/merchant/webhooks": {WebRole.MERCHANT},
        "/merchant/stock": {WebRole.MERCHANT},
        "/merchant/inbound": {WebRole.MERCHANT},
        "/merchant/returns": {WebRole.MERCHANT},
        "/merchant/branding": {WebRole.MERCHANT},
        f"/hub/{net.hub}": {WebRole.OPERATOR, WebRole.HUB_STAFF},
        f"/hub/{net.hub}/work.json": {WebRole.OPERATOR, WebRole.HUB_STAFF},
        "/courier": {WebRole.COURIER},
    }
    for path in pages:
        r = api.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    for role, email in accounts.items():
        _login(api, email)
        for path, allowed in pages.items():
            r = api.client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
            expected = 200 if role in allowed else 403
            assert r.status_code == expected, (role, path, r.status_code)
        api.client.cookies.clear()


def test_session_principals_on_the_api(api: Api) -> None:
    mine, _ = api.merchant("Mine")
    _, theirs_h = api.merchant("Theirs")
    hub = api.hub()
    staff = _user(api, WebRole.HUB_STAFF, "h@example.com", hub_id=hub)
    merchant = _user(api, WebRole.MERCHANT, "m@example.com", merchant_id=mine)
    _login(api, staff)
    r = api.client.get("/v1/orders")
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    api.client.cookies.clear()
    _login(api, merchant)
    assert api.client.get("/v1/merchants/me").json()["id"] == mine
    # An API key in the request wins over the cookie.
    assert api.client.get("/v1/merchants/me", headers=theirs_h).json()["name"] == "Theirs"
    # Expired sessions are refused, on pages and on the API.
    api.clock.advance(timedelta(hours=13))
    r = api.client.get("/v1/merchants/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_expired"
    assert api.client.get("/merchant", follow_redirects=False).status_code == 303


def test_login_redirects_only_within_the_site(api: Api) -> None:
    email = _user(api, WebRole.OPERATOR, "o@example.com")
    form = api.client.get("/login?next=//evil.example")
    r = api.client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf": _csrf(form.text),
              "next": "//evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/ops"


def test_accounts_are_checked_when_created(api: Api) -> None:
    from hubflow.core.errors import HubflowError

    cases = [
        ({"role": WebRole.MERCHANT}, "invalid_account"),
        ({"role": WebRole.OPERATOR, "hub_id": "hub_01JAAAAAAAAAAAAAAAAAAAAAAA"}, "invalid_account"),
        ({"role": WebRole.MERCHANT, "merchant_id": "mer_01JAAAAAAAAAAAAAAAAAAAAAAA"},
         "owner_not_found"),
        ({"role": WebRole.OPERATOR, "email": "not-an-email"}, "invalid_email"),
    ]  # fmt: skip
    for kw, code in cases:
        args = {"email": "x@example.com", "name": "X", "password": PASSWORD,
                "now": api.clock.now(), **kw}  # fmt: skip
        with pytest.raises(HubflowError) as e, UnitOfWork(api.engine) as uow:
            create_user(uow, **args)  # type: ignore[arg-type]
        assert e.value.code == code
    _user(api, WebRole.OPERATOR, "dup@example.com")
    with pytest.raises(HubflowError) as e, UnitOfWork(api.engine) as uow:
        create_user(uow, email="DUP@example.com", name="", password=PASSWORD,
                    role=WebRole.OPERATOR, now=api.clock.now())  # fmt: skip
    assert e.value.code == "email_taken"


def test_cli_creates_a_user(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBFLOW_DATABASE_URL", str(sqlite_engine.url))
    out = CliRunner().invoke(
        main,
        ["users", "create", "--email", "ops@example.com", "--role", "operator",
         "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "ops@example.com, operator" in out.output
    with sqlite_engine.connect() as conn:
        row = conn.execute(select(users_table)).one()
    assert row.role == "operator" and row.password_hash.startswith("scrypt$")
    again = CliRunner().invoke(
        main,
        ["users", "create", "--email", "ops@example.com", "--role", "operator",
         "--password-stdin"],
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert again.exit_code != 0 and "already has an account" in again.output


def test_wrong_passwords_lock_the_account_for_a_while(api: Api) -> None:
    email = _user(api, WebRole.OPERATOR, "o@example.com")
    form = _csrf(api.client.get("/login").text)

    def attempt(password: str) -> int:
        r = api.client.post(
            "/login", data={"email": email, "password": password, "csrf": form},
            follow_redirects=False,
        )  # fmt: skip
        return r.status_code

    assert [attempt("wrong password!") for _ in range(5)] == [401] * 5
    r = api.client.post("/login", data={"email": email, "password": PASSWORD, "csrf": form})
    assert r.status_code == 401 and "Too many wrong passwords" in r.text
    api.clock.advance(timedelta(minutes=16))
    assert attempt(PASSWORD) == 303
    with api.engine.connect() as conn:
        row = conn.execute(select(users_table)).one()
    assert row.failed_logins == 0 and row.locked_until is None


def test_branding_is_validated_and_kept_per_merchant(api: Api) -> None:
    from hubflow.core.errors import InvalidInput
    from hubflow.web.branding import get_branding, set_branding

    mine, _ = api.merchant("Mine")
    other, _ = api.merchant("Other")
    with UnitOfWork(api.engine) as uow:
        assert get_branding(uow.conn, mine)["display_name"] == "Mine"
        for logo in ("//evil.example/x.png", "https://evil.example/x.png", "javascript:x"):
            with pytest.raises(InvalidInput):
                set_branding(uow.conn, mine, display_name="M", logo_url=logo,
                             primary_colour="#0b5cad", accent_colour="#0b5cad",
                             now=api.clock.now())  # fmt: skip
    for name in ("Le Fournil", "Le Fournil II"):  # the second write updates the first
        with UnitOfWork(api.engine) as uow:
            set_branding(uow.conn, mine, display_name=name, logo_url="/static/icon.svg",
                         primary_colour="#6B1D1D", accent_colour="#0b5cad",
                         now=api.clock.now())  # fmt: skip
    with UnitOfWork(api.engine) as uow:
        got = get_branding(uow.conn, mine)
        assert (got["display_name"], got["primary_colour"]) == ("Le Fournil II", "#6b1d1d")
        assert get_branding(uow.conn, other)["display_name"] == "Other"
    css = api.client.get(f"/brand/{mine}.css")
    assert css.status_code == 200 and "--brand: #6b1d1d" in css.text
