"""Partner points: partners (a telecom's membership points, say) with a conversion rate
and daily caps per customer; transfers in and out, asked by the partner in requests
signed with its secret (HMAC-SHA256, as our webhooks), once per the partner's transfer
id; and the reconciliation of the partner's statement with our transfers."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.points.ledger import Cause, credit, debit
from hubflow.points.model import Kind, TransferRecord, reconcile
from hubflow.points.service import expires_for, program_for
from hubflow.points.store import partner_usage_table, partners_table, transfers_table
from hubflow.webhooks.signing import SignatureError, verify

__all__ = ["create_partner", "list_partners", "reconciliation", "transfer", "verify_request"]

_pt, _t, _u = partners_table.c, transfers_table.c, partner_usage_table.c


def create_partner(
    uow: UnitOfWork,
    merchant_id: str,
    name: str,
    rate_ours: int,
    rate_theirs: int,
    cap_in: int,
    cap_out: int,
    now: datetime,
) -> dict[str, Any]:
    partner_id, secret = new_id("ptn"), "pps_" + secrets.token_urlsafe(32)
    uow.conn.execute(
        insert(partners_table).values(
            id=partner_id,
            merchant_id=merchant_id,
            name=name,
            secret=secret,
            rate_ours=rate_ours,
            rate_theirs=rate_theirs,
            daily_cap_in=cap_in,
            daily_cap_out=cap_out,
            active=True,
            created_at=now,
        )
    )
    out = _partner_json(_partner(uow.conn, partner_id))
    out["secret"] = secret  # shown once: the partner signs its requests with it
    return out


def _partner(conn: Connection, partner_id: str, merchant_id: str | None = None) -> Any:
    q = select(partners_table).where(_pt.id == partner_id)
    if merchant_id is not None:
        q = q.where(_pt.merchant_id == merchant_id)
    row = conn.execute(q).first()
    if row is None or not row.active:
        raise NotFound(f"partner {partner_id} not found", code="partner_not_found")
    return row


def _partner_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "rate": {"ours": row.rate_ours, "theirs": row.rate_theirs},
        "daily_cap": {"in": row.daily_cap_in, "out": row.daily_cap_out},
        "created_at": iso_z(row.created_at),
    }


def list_partners(conn: Connection, merchant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(partners_table).where(_pt.merchant_id == merchant_id).order_by(_pt.id)
    )
    return [_partner_json(r) for r in rows]


def verify_request(
    conn: Connection, partner_id: str, header: str | None, body: bytes, now: datetime
) -> None:
    """401 unless the partner signed this body with its secret, recently."""
    row = conn.execute(select(partners_table).where(_pt.id == partner_id)).first()
    if row is None or not row.active or header is None:
        raise Unauthorized("a signed request from a known partner", code="bad_signature")
    try:
        verify(row.secret, header, body, int(now.timestamp()))
    except SignatureError as exc:
        raise Unauthorized(str(exc), code="bad_signature") from exc


def _use_cap(
    conn: Connection, row: Any, customer_id: str, direction: str, points: int, now: datetime
) -> None:
    cap = row.daily_cap_in if direction == "in" else row.daily_cap_out
    day = now.date().isoformat()
    key = {"partner_id": row.id, "customer_id": customer_id, "day": day, "direction": direction}
    conn.execute(
        insert_on_conflict(conn, partner_usage_table)
        .values(**key, points=0)
        .on_conflict_do_nothing(index_elements=["partner_id", "customer_id", "day", "direction"])
    )
    res = conn.execute(
        update(partner_usage_table)
        .where(
            _u.partner_id == row.id,
            _u.customer_id == customer_id,
            _u.day == day,
            _u.direction == direction,
            _u.points + points <= cap,
        )
        .values(points=_u.points + points)
    )
    if res.rowcount != 1:
        raise Conflict(
            "this transfer would pass the partner's daily cap for this customer",
            code="daily_cap_exceeded",
            details={"cap": cap, "direction": direction},
        )


def transfer(
    uow: UnitOfWork,
    partner_id: str,
    transfer_id: str,
    direction: str,
    customer_id: str,
    partner_points: int,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Move points between the partner and a customer (``in``: theirs become ours at the
    rate, rounded down; ``out``: ours are debited for theirs). A replayed transfer id
    answers the first result and moves nothing; the same id with other figures is 409."""
    conn = uow.conn
    row = _partner(conn, partner_id)
    old = conn.execute(
        select(transfers_table).where(
            _t.partner_id == partner_id, _t.partner_transfer_id == transfer_id
        )
    ).first()
    if old is not None:
        same = (old.direction, old.customer_id, old.partner_points) == (
            direction,
            customer_id,
            partner_points,
        )
        if not same:
            raise Conflict(
                "this transfer id was used for another transfer", code="transfer_id_reused"
            )
        return _transfer_json(old), False
    if direction == "in":
        points = partner_points * row.rate_ours // row.rate_theirs
    else:
        # What they get for our points, rounded in our favour: we debit enough for it.
        points = -(-partner_points * row.rate_ours // row.rate_theirs)
    if points <= 0:
        raise InvalidInput("the transfer is worth no points at the rate", code="transfer_too_small")
    _use_cap(conn, row, customer_id, direction, points, now)
    ref, cause = f"transfer:{partner_id}:{transfer_id}", Cause("transfer", transfer_id)
    if direction == "in":
        program = program_for(conn, row.merchant_id)
        entry, _ = credit(
            conn,
            row.merchant_id,
            customer_id,
            Kind.TRANSFER_IN,
            points,
            ref,
            cause,
            now,
            expires_at=expires_for(program, now),
            detail={"partner_id": partner_id},
        )
    else:
        entry, _ = debit(
            conn,
            row.merchant_id,
            customer_id,
            Kind.TRANSFER_OUT,
            points,
            ref,
            cause,
            now,
            detail={"partner_id": partner_id},
        )
    values = {
        "id": new_id("ptr"),
        "partner_id": partner_id,
        "merchant_id": row.merchant_id,
        "partner_transfer_id": transfer_id,
        "direction": direction,
        "customer_id": customer_id,
        "partner_points": partner_points,
        "points": points,
        "entry_id": entry["id"],
        "created_at": now,
    }
    # The account lock serialises one customer's transfers; two customers' transfers with
    # one id meet on the unique key (the loser's transaction rolls back with a 409).
    conn.execute(insert(transfers_table).values(**values))
    return _transfer_json(values), True


def _transfer_json(t: Any) -> dict[str, Any]:
    m = t if isinstance(t, dict) else dict(t._mapping)
    return {
        "id": m["id"],
        "partner_id": m["partner_id"],
        "transfer_id": m["partner_transfer_id"],
        "direction": m["direction"],
        "customer_id": m["customer_id"],
        "partner_points": int(m["partner_points"]),
        "points": int(m["points"]),
        "entry_id": m["entry_id"],
        "created_at": iso_z(m["created_at"]),
    }


def reconciliation(
    conn: Connection,
    merchant_id: str,
    partner_id: str,
    since: datetime,
    until: datetime,
    statement: list[TransferRecord],
) -> dict[str, Any]:
    """Their statement for [since, until) against our transfers in it: what matches, what
    only one side has, and what differs."""
    _partner(conn, partner_id, merchant_id)
    ours = [
        TransferRecord(r.partner_transfer_id, r.direction, r.customer_id, int(r.partner_points))
        for r in conn.execute(
            select(transfers_table).where(
                _t.partner_id == partner_id, _t.created_at >= since, _t.created_at < until
            )
        )
    ]
    report = reconcile(ours, statement).to_json()
    return {"partner_id": partner_id, "since": iso_z(since), "until": iso_z(until), **report}
