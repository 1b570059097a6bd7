"""Who is a member now, and of which plan: the one read other contexts make (the promise
engine for fees and options, returns for the window, points for the earn multiplier)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, or_, select

from hubflow.membership.model import NETWORK, Benefits, SubStatus
from hubflow.membership.store import members_table, plans_table, subscriptions_table
from hubflow.promise.model import MemberTerms

__all__ = ["Membership", "member_terms", "membership_of"]


@dataclass(frozen=True)
class Membership:
    subscription_id: str
    plan_id: str
    scope: str
    role: str
    benefits: Benefits


_m, _s, _p = members_table.c, subscriptions_table.c, plans_table.c
_LIVE = (
    select(_s.id, _s.plan_id, _m.scope, _m.role, _p.benefits)
    .select_from(members_table)
    .join(subscriptions_table, _s.id == _m.subscription_id)
    .join(plans_table, _p.id == _s.plan_id)
    .where(
        _m.customer_id == bindparam("b_customer"),
        _m.scope.in_([bindparam("b_scope"), NETWORK]),
        _s.status.in_([SubStatus.TRIALING.value, SubStatus.ACTIVE.value]),
        # A period that ended but renews is still covered until the renewal job runs.
        or_(_s.period_end > bindparam("b_now"), _s.auto_renew.is_(True)),
    )
)


def membership_of(
    conn: Connection, merchant_id: str, customer_id: str | None, now: datetime
) -> Membership | None:
    """The customer's live membership at this merchant: the merchant's own plan first,
    else the network's."""
    if not customer_id:
        return None
    rows = conn.execute(
        _LIVE, {"b_customer": customer_id, "b_scope": merchant_id, "b_now": now}
    ).all()
    if not rows:
        return None
    row = min(rows, key=lambda r: r.scope == NETWORK)
    return Membership(row.id, row.plan_id, row.scope, row.role, Benefits.from_json(row.benefits))


def member_terms(
    conn: Connection, merchant_id: str, customer_id: str | None, now: datetime
) -> MemberTerms | None:
    m = membership_of(conn, merchant_id, customer_id, now)
    return None if m is None else m.benefits.terms(m.plan_id, m.subscription_id)
