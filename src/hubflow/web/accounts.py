"""Accounts and sessions: create a user, log in and out, find who a cookie belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hubflow.catalog.model import Role
from hubflow.catalog.service import Principal
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from hubflow.core.ids import new_id
from hubflow.web.model import WebRole, hash_password, hash_token, new_token, verify_password
from hubflow.web.store import users_table, web_sessions_table

__all__ = [
    "SESSION_COOKIE",
    "SESSION_TTL",
    "User",
    "create_user",
    "end_session",
    "log_in",
    "session_user",
]

SESSION_COOKIE = "hf_session"
SESSION_TTL = timedelta(hours=12)
LOCK_AFTER, LOCK_FOR = 5, timedelta(minutes=15)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
# A hash to compare against when the e-mail is unknown, so a miss costs as much as a hit.
_DUMMY_HASH = "scrypt$16384$8$1$00000000000000000000000000000000$" + "0" * 64


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: WebRole
    merchant_id: str | None
    hub_id: str | None
    courier_id: str | None
    csrf_token: str = ""

    def principal(self) -> Principal | None:
        """Who this person is to the JSON API; hub staff have no API role (their
        screens call the web endpoints, which check their hub)."""
        if self.role is WebRole.OPERATOR:
            return Principal(Role.OPERATOR, self.id, None)
        if self.role is WebRole.MERCHANT:
            return Principal(Role.MERCHANT, self.id, self.merchant_id)
        if self.role is WebRole.COURIER:
            return Principal(Role.COURIER, self.id, None, self.courier_id)
        return None


def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    name: str,
    password: str,
    role: WebRole,
    now: datetime,
    merchant_id: str | None = None,
    hub_id: str | None = None,
    courier_id: str | None = None,
) -> User:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidInput("not an e-mail address", code="invalid_email")
    needs = {
        WebRole.MERCHANT: ("merchant", merchant_id),
        WebRole.HUB_STAFF: ("hub", hub_id),
        WebRole.COURIER: ("courier", courier_id),
    }
    given = {"merchant": merchant_id, "hub": hub_id, "courier": courier_id}
    wanted = needs.get(role)
    for what, value in given.items():
        if value is not None and (wanted is None or wanted[0] != what):
            raise InvalidInput(f"a {role.value} account has no {what}", code="invalid_account")
    if wanted is not None and wanted[1] is None:
        raise InvalidInput(f"a {role.value} account needs a {wanted[0]}", code="invalid_account")
    user_id = new_id("usr")
    try:
        with uow.conn.begin_nested():
            uow.conn.execute(
                insert(users_table).values(
                    id=user_id,
                    email=email,
                    name=name.strip() or email,
                    password_hash=hash_password(password),
                    role=role.value,
                    merchant_id=merchant_id,
                    hub_id=hub_id,
                    courier_id=courier_id,
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        # Either the e-mail is taken or the merchant, hub or courier does not exist.
        taken = uow.conn.execute(
            select(users_table.c.id).where(users_table.c.email == email)
        ).first()
        if taken is not None:
            raise Conflict(f"{email} already has an account", code="email_taken") from exc
        owner = wanted[0] if wanted else "owner"
        raise NotFound(f"no such {owner}", code="owner_not_found") from exc
    return User(user_id, email, name, role, merchant_id, hub_id, courier_id)


def _user(row: Any, csrf: str = "") -> User:
    return User(
        row.id, row.email, row.name, WebRole(row.role), row.merchant_id, row.hub_id,
        row.courier_id, csrf,
    )  # fmt: skip


def log_in(uow: UnitOfWork, email: str, password: str, now: datetime) -> tuple[str, User] | None:
    """A new session for these credentials: (cookie token, user with its CSRF token), or
    ``None`` for a wrong password, counted (the caller commits, then refuses). After
    LOCK_AFTER wrong passwords in a row the account refuses every password for LOCK_FOR."""
    u = users_table.c
    row = uow.conn.execute(
        select(users_table).where(u.email == email.strip().lower(), u.disabled_at.is_(None))
    ).first()
    ok = verify_password(password, row.password_hash if row else _DUMMY_HASH)
    if row is not None and row.locked_until is not None and row.locked_until > now:
        raise Unauthorized(
            "too many wrong passwords; try again later",
            code="login_locked",
            details={"until": row.locked_until.isoformat()},
        )
    if row is None:
        return None
    if not ok:
        failed = u.failed_logins + 1
        uow.conn.execute(
            update(users_table)
            .where(u.id == row.id)
            .values(
                failed_logins=failed,
                locked_until=case((failed >= LOCK_AFTER, now + LOCK_FOR), else_=None),
            )
        )
        return None
    if row.failed_logins:
        uow.conn.execute(
            update(users_table).where(u.id == row.id).values(failed_logins=0, locked_until=None)
        )
    token, csrf = new_token(), new_token()
    uow.conn.execute(
        insert(web_sessions_table).values(
            token_hash=hash_token(token),
            user_id=row.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    return token, _user(row, csrf)


def session_user(conn: Connection, token: str, now: datetime) -> User | None:
    if not token or len(token) > 100:
        return None
    s, u = web_sessions_table.c, users_table.c
    row = conn.execute(
        select(users_table, s.csrf_token, s.expires_at)
        .join(web_sessions_table, s.user_id == u.id)
        .where(s.token_hash == hash_token(token), u.disabled_at.is_(None))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return _user(row, row.csrf_token)


def end_session(uow: UnitOfWork, token: str) -> None:
    uow.conn.execute(
        delete(web_sessions_table).where(web_sessions_table.c.token_hash == hash_token(token))
    )
