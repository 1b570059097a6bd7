"""Membership use cases: plans, subscriptions that start (with a free trial once per
customer), renew on the clock, lapse, and cancel with a pro-rata refund, and households
(a primary and a limited number of members at the same address).

Every change is a conditional UPDATE on the state read (a renewal on the period end it
renews, so two runs renew once), writes its charge or refund to ``membership_charges``
and its event to the outbox. Hubflow records what is owed; the merchant's payment
provider collects it (the ``subscription.*`` webhooks say what to charge or refund)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.membership.model import (
    NETWORK,
    Benefits,
    Billing,
    Plan,
    SubStatus,
    address_key,
    period_end,
    prorata_refund,
)
from hubflow.membership.store import (
    charges_table,
    members_table,
    plans_table,
    subscriptions_table,
    trials_table,
)

__all__ = [
    "add_member",
    "cancel",
    "create_plan",
    "get_subscription",
    "list_plans",
    "payment_failed",
    "remove_member",
    "renew_due",
    "subscribe",
]

_p, _s, _m, _c = plans_table.c, subscriptions_table.c, members_table.c, charges_table.c


def _merchant(scope: str) -> str | None:
    """The merchant whose webhooks hear about it (network plans: outbox only)."""
    return None if scope == NETWORK else scope


# -- plans ------------------------------------------------------------------------------------


def create_plan(uow: UnitOfWork, plan: Plan, now: datetime) -> dict[str, Any]:
    conn = uow.conn
    inserted = conn.execute(
        insert_on_conflict(conn, plans_table)
        .values(
            id=plan.id,
            scope=plan.scope,
            code=plan.code,
            name=plan.name,
            currency=plan.currency,
            monthly_price=plan.monthly_price,
            annual_price=plan.annual_price,
            trial_days=plan.trial_days,
            household_max=plan.household_max,
            benefits=plan.benefits.to_json(),
            active=True,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["scope", "code"])
        .returning(_p.id)
    ).first()
    if inserted is None:
        raise Conflict(f"a plan with code {plan.code!r} exists", code="plan_code_taken")
    record(conn, [Event("plan.created", plan.id, _merchant(plan.scope), _plan_json(plan))], now)
    return _plan_json(plan)


def _plan_from_row(row: Any) -> Plan:
    return Plan(
        row.id,
        row.scope,
        row.code,
        row.name,
        row.currency,
        row.monthly_price,
        row.annual_price,
        row.trial_days,
        row.household_max,
        Benefits.from_json(row.benefits),
    )


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "scope": plan.scope,
        "code": plan.code,
        "name": plan.name,
        "currency": plan.currency,
        "monthly_price": plan.monthly_price,
        "annual_price": plan.annual_price,
        "trial_days": plan.trial_days,
        "household_max": plan.household_max,
        "benefits": plan.benefits.to_json(),
    }


def list_plans(conn: Connection, scope: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(plans_table).where(_p.scope == scope).order_by(_p.id))
    return [_plan_json(_plan_from_row(r)) for r in rows]


def _plan(conn: Connection, scope: str, plan_id: str) -> Plan:
    row = conn.execute(select(plans_table).where(_p.id == plan_id, _p.scope == scope)).first()
    if row is None or not row.active:
        raise NotFound(f"plan {plan_id} not found", code="plan_not_found")
    return _plan_from_row(row)


# -- subscriptions ----------------------------------------------------------------------------


def subscribe(
    uow: UnitOfWork,
    scope: str,
    plan_id: str,
    customer_id: str,
    billing: Billing,
    address: dict[str, Any],
    now: datetime,
    *,
    trial: bool = True,
) -> dict[str, Any]:
    """Start a subscription: a free trial if the plan has one and the customer never had
    one in this scope, else the first paid period (charged now)."""
    conn = uow.conn
    plan = _plan(conn, scope, plan_id)
    price = plan.price(billing)
    if price is None:
        raise InvalidInput(f"plan {plan.code} has no {billing.value} price", code="no_such_billing")
    sub_id = new_id("sub")
    trialing = trial and plan.trial_days > 0 and _first_trial(conn, scope, customer_id, sub_id, now)
    anchor = now + timedelta(days=plan.trial_days) if trialing else now
    cycle = 0 if trialing else 1
    end = anchor if trialing else period_end(anchor, billing, 1)
    status = SubStatus.TRIALING if trialing else SubStatus.ACTIVE
    conn.execute(
        insert(subscriptions_table).values(
            id=sub_id,
            plan_id=plan.id,
            scope=scope,
            customer_id=customer_id,
            billing=billing.value,
            status=status.value,
            price=price,
            currency=plan.currency,
            address=address,
            address_key=address_key(address),
            anchor=anchor,
            cycle=cycle,
            period_start=now,
            period_end=end,
            auto_renew=True,
            household_size=0,
            household_max=plan.household_max,
            created_at=now,
            version=1,
        )
    )
    _join(conn, scope, customer_id, sub_id, "primary", now)
    if not trialing:
        _charge(conn, sub_id, scope, "charge", price, plan.currency, now, end, now)
    out = get_subscription(conn, scope, sub_id)
    record(conn, [Event("subscription.started", sub_id, _merchant(scope), out)], now)
    return out


def _join(
    conn: Connection, scope: str, customer_id: str, sub_id: str, role: str, now: datetime
) -> None:
    joined = conn.execute(
        insert_on_conflict(conn, members_table)
        .values(
            scope=scope, customer_id=customer_id, subscription_id=sub_id, role=role, added_at=now
        )
        .on_conflict_do_nothing(index_elements=["scope", "customer_id"])
        .returning(_m.customer_id)
    ).first()
    if joined is None:
        raise Conflict(
            "this customer is already in a live membership here",
            code="already_member",
            details={"customer_id": customer_id},
        )


def _first_trial(
    conn: Connection, scope: str, customer_id: str, sub_id: str, now: datetime
) -> bool:
    """Claim the customer's one trial in this scope (an insert, so two starts at once
    cannot both get one)."""
    claimed = conn.execute(
        insert_on_conflict(conn, trials_table)
        .values(scope=scope, customer_id=customer_id, subscription_id=sub_id, started_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "customer_id"])
        .returning(trials_table.c.customer_id)
    ).first()
    return claimed is not None


def _charge(
    conn: Connection,
    sub_id: str,
    scope: str,
    kind: str,
    amount: int,
    currency: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> bool:
    """Write a charge or refund once per period (the unique key refuses a second)."""
    inserted = conn.execute(
        insert_on_conflict(conn, charges_table)
        .values(
            id=new_id("chg"),
            subscription_id=sub_id,
            scope=scope,
            kind=kind,
            amount=amount,
            currency=currency,
            period_start=start,
            period_end=end,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "kind", "period_start"])
        .returning(_c.id)
    ).first()
    return inserted is not None


def _sub_row(conn: Connection, scope: str | None, sub_id: str) -> Any:
    q = select(subscriptions_table).where(_s.id == sub_id)
    if scope is not None:
        q = q.where(_s.scope == scope)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"subscription {sub_id} not found", code="subscription_not_found")
    return row


def get_subscription(conn: Connection, scope: str | None, sub_id: str) -> dict[str, Any]:
    row = _sub_row(conn, scope, sub_id)
    members = conn.execute(
        select(_m.customer_id, _m.role).where(_m.subscription_id == sub_id).order_by(_m.added_at)
    ).all()
    charges = conn.execute(
        select(charges_table).where(_c.subscription_id == sub_id).order_by(_c.created_at, _c.id)
    ).all()
    return {
        "id": row.id,
        "plan_id": row.plan_id,
        "scope": row.scope,
        "customer_id": row.customer_id,
        "billing": row.billing,
        "status": row.status,
        "price": {"amount": row.price, "currency": row.currency},
        "period": {"start": iso_z(row.period_start), "end": iso_z(row.period_end)},
        "cycle": row.cycle,
        "auto_renew": row.auto_renew,
        "household": {
            "address": row.address,
            "max_members": row.household_max,
            "members": [{"customer_id": m.customer_id, "role": m.role} for m in members],
        },
        "charges": [
            {
                "kind": c.kind,
                "amount": c.amount,
                "currency": c.currency,
                "period_start": iso_z(c.period_start),
                "period_end": iso_z(c.period_end),
                "at": iso_z(c.created_at),
            }
            for c in charges
        ],
        "ended_at": iso_z(row.ended_at),
        "end_reason": row.end_reason,
        "created_at": iso_z(row.created_at),
    }


def _end(conn: Connection, row: Any, status: SubStatus, reason: str, now: datetime) -> bool:
    """Move a live subscription to an end state; frees its household."""
    res = conn.execute(
        update(subscriptions_table)
        .where(_s.id == row.id, _s.version == row.version)
        .values(
            status=status.value,
            ended_at=now,
            end_reason=reason,
            auto_renew=False,
            version=_s.version + 1,
        )
    )
    if res.rowcount != 1:
        return False
    conn.execute(delete(members_table).where(_m.subscription_id == row.id))
    return True


def cancel(
    uow: UnitOfWork, scope: str, sub_id: str, now: datetime, *, at_period_end: bool = False
) -> dict[str, Any]:
    """Cancel now with a pro-rata refund of the unused paid period (nothing in a trial),
    or at the period end (no refund; it lapses then)."""
    conn = uow.conn
    row = _sub_row(conn, scope, sub_id)
    if not SubStatus(row.status).live:
        raise Conflict(f"the subscription is {row.status}", code="subscription_ended")
    if at_period_end:
        res = conn.execute(
            update(subscriptions_table)
            .where(_s.id == sub_id, _s.version == row.version)
            .values(auto_renew=False, version=_s.version + 1)
        )
        if res.rowcount != 1:
            raise Conflict("the subscription changed meanwhile", code="concurrent_update")
        out = get_subscription(conn, scope, sub_id)
        record(conn, [Event("subscription.renewal_off", sub_id, _merchant(scope), out)], now)
        return out
    if not _end(conn, row, SubStatus.CANCELLED, "cancelled", now):
        raise Conflict("the subscription changed meanwhile", code="concurrent_update")
    refund = 0
    if row.status == SubStatus.ACTIVE.value:
        refund = prorata_refund(row.price, row.period_start, row.period_end, now)
    if refund > 0:
        _charge(
            conn,
            sub_id,
            scope,
            "refund",
            refund,
            row.currency,
            row.period_start,
            row.period_end,
            now,
        )
    out = get_subscription(conn, scope, sub_id)
    out["refund"] = {"amount": refund, "currency": row.currency}
    record(conn, [Event("subscription.cancelled", sub_id, _merchant(scope), out)], now)
    return out


def payment_failed(uow: UnitOfWork, scope: str, sub_id: str, now: datetime) -> dict[str, Any]:
    """The merchant could not collect the period's charge: benefits end now."""
    conn = uow.conn
    row = _sub_row(conn, scope, sub_id)
    if not SubStatus(row.status).live:
        raise Conflict(f"the subscription is {row.status}", code="subscription_ended")
    if not _end(conn, row, SubStatus.LAPSED, "payment_failed", now):
        raise Conflict("the subscription changed meanwhile", code="concurrent_update")
    out = get_subscription(conn, scope, sub_id)
    record(conn, [Event("subscription.lapsed", sub_id, _merchant(scope), out)], now)
    return out


# -- renewals ---------------------------------------------------------------------------------


def renew_due(uow: UnitOfWork, now: datetime, *, limit: int = 500) -> dict[str, int]:
    """Renew (or lapse) every live subscription whose period has ended by ``now``. Each
    renewal is an UPDATE conditional on the period end it read, so concurrent or repeated
    runs renew a period once; a subscription far behind catches up period by period."""
    conn = uow.conn
    done = {"renewed": 0, "lapsed": 0}
    live = [SubStatus.TRIALING.value, SubStatus.ACTIVE.value]
    for _ in range(limit):
        row = conn.execute(
            select(subscriptions_table)
            .where(_s.status.in_(live), _s.period_end <= now)
            .order_by(_s.period_end, _s.id)
            .limit(1)
        ).first()
        if row is None:
            break
        if not row.auto_renew:
            if _end(conn, row, SubStatus.LAPSED, "not_renewed", now):
                done["lapsed"] += 1
                out = get_subscription(conn, None, row.id)
                record(conn, [Event("subscription.lapsed", row.id, _merchant(row.scope), out)], now)
            continue
        if _renew(conn, row, now):
            done["renewed"] += 1
    return done


def _renew(conn: Connection, row: Any, now: datetime) -> bool:
    billing, cycle = Billing(row.billing), row.cycle + 1
    start, end = row.period_end, period_end(row.anchor, billing, cycle)
    res = conn.execute(
        update(subscriptions_table)
        .where(_s.id == row.id, _s.period_end == row.period_end, _s.status == row.status)
        .values(
            status=SubStatus.ACTIVE.value,
            cycle=cycle,
            period_start=start,
            period_end=end,
            version=_s.version + 1,
        )
    )
    if res.rowcount != 1 or not _charge(
        conn, row.id, row.scope, "charge", row.price, row.currency, start, end, now
    ):
        return False
    kind = "subscription.trial_converted" if row.cycle == 0 else "subscription.renewed"
    out = get_subscription(conn, None, row.id)
    record(conn, [Event(kind, row.id, _merchant(row.scope), out)], now)
    return True


# -- households -------------------------------------------------------------------------------


def add_member(
    uow: UnitOfWork,
    scope: str,
    sub_id: str,
    customer_id: str,
    address: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Share the membership with someone at the primary's address, up to the plan's limit."""
    conn = uow.conn
    row = _sub_row(conn, scope, sub_id)
    if not SubStatus(row.status).live:
        raise Conflict(f"the subscription is {row.status}", code="subscription_ended")
    if address_key(address) != row.address_key:
        raise InvalidInput(
            "household members live at the primary member's address",
            code="foreign_household_address",
        )
    res = conn.execute(
        update(subscriptions_table)
        .where(
            _s.id == sub_id,
            _s.status.in_([SubStatus.TRIALING.value, SubStatus.ACTIVE.value]),
            _s.household_size < _s.household_max,
        )
        .values(household_size=_s.household_size + 1, version=_s.version + 1)
    )
    if res.rowcount != 1:
        raise Conflict(
            "the household is full",
            code="household_full",
            details={"max_members": row.household_max},
        )
    _join(conn, scope, customer_id, sub_id, "member", now)
    out = get_subscription(conn, scope, sub_id)
    payload = {"subscription_id": sub_id, "customer_id": customer_id}
    record(conn, [Event("household.member_added", sub_id, _merchant(scope), payload)], now)
    return out


def remove_member(
    uow: UnitOfWork, scope: str, sub_id: str, customer_id: str, now: datetime
) -> dict[str, Any]:
    conn = uow.conn
    _sub_row(conn, scope, sub_id)
    res = conn.execute(
        delete(members_table).where(
            _m.subscription_id == sub_id, _m.customer_id == customer_id, _m.role == "member"
        )
    )
    if res.rowcount != 1:
        raise NotFound("no such household member", code="member_not_found")
    conn.execute(
        update(subscriptions_table)
        .where(_s.id == sub_id)
        .values(household_size=_s.household_size - 1, version=_s.version + 1)
    )
    payload = {"subscription_id": sub_id, "customer_id": customer_id}
    record(conn, [Event("household.member_removed", sub_id, _merchant(scope), payload)], now)
    return get_subscription(conn, scope, sub_id)
