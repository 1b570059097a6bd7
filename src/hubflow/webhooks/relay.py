"""The outbox relay: fan events out to endpoints and deliver them, signed.

Runs inside ``hubflow serve`` (a background thread) or alone as ``hubflow relay``;
several relays may run at once. Deliveries are claimed with a lease, so each
attempt is made by one relay; delivery is at least once, and receivers
de-duplicate by the ``Hubflow-Event-Id`` header.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy import Engine, select, update

from hubflow.core.clock import Clock
from hubflow.core.db import UnitOfWork, is_postgres
from hubflow.core.events import Event, events_table, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.inventory import service as inventory
from hubflow.webhooks.service import DeliveryStatus
from hubflow.webhooks.signing import SIGNATURE_HEADER, sign
from hubflow.webhooks.store import deliveries_table, endpoints_table

__all__ = ["HttpSender", "Relay", "RelayPolicy", "Sender", "backoff_delay", "matches"]

log = logging.getLogger("hubflow.relay")


class Sender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the status code; raise on a transport failure."""
        ...


class HttpSender:
    """Sends with httpx; pass ``transport`` to plug in another (tests, proxies)."""

    def __init__(self, timeout_s: float, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        return self._client.post(url, content=body, headers=headers).status_code

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class RelayPolicy:
    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_max_s: float = 3600.0
    jitter: float = 0.1
    lease_s: float = 30.0
    batch: int = 100
    # After a pass that found only a partial batch, wait this long before the next
    # one, so that under load passes carry batches instead of running back to back.
    linger_s: float = 0.05


def backoff_delay(attempts: int, policy: RelayPolicy, rng: random.Random) -> timedelta:
    """Exponential back-off after ``attempts`` failed tries, capped, with jitter."""
    # Cap the exponent too: 2.0 * 2**1100 overflows a float long before min() can cap it.
    base = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** min(attempts - 1, 512))
    spread = base * policy.jitter
    return timedelta(seconds=max(0.0, base + rng.uniform(-spread, spread)))


def matches(patterns: list[str], event_type: str) -> bool:
    for p in patterns:
        if p == "*" or p == event_type:
            return True
        if p.endswith(".*") and event_type.startswith(p[:-1]):
            return True
    return False


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes


class Relay:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        sender: Sender,
        policy: RelayPolicy | None = None,
        *,
        rng: random.Random | None = None,
        workers: int = 8,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.sender = sender
        self.policy = policy or RelayPolicy()
        self.rng = rng or random.Random()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relay-send")
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- fan-out -----------------------------------------------------------
    def fan_out(self) -> int:
        """Turn undispatched events into pending deliveries, one per matching endpoint."""
        return self._fan_out()[0]

    def _fan_out(self) -> tuple[int, int]:
        """``fan_out``; also says how many deliveries it made."""
        now = self.clock.now()
        ev = events_table.c
        with UnitOfWork(self.engine) as uow:
            q = (
                select(ev.id, ev.type, ev.merchant_id)
                .where(ev.dispatched_at.is_(None))
                .order_by(ev.id)
                .limit(self.policy.batch * 5)
            )
            if is_postgres(self.engine):
                q = q.with_for_update(skip_locked=True)
            events = uow.conn.execute(q).all()
            if not events:
                return 0, 0
            merchants = sorted({e.merchant_id for e in events if e.merchant_id})
            ep = endpoints_table.c
            endpoints = uow.conn.execute(
                select(ep.id, ep.merchant_id, ep.event_types).where(
                    ep.merchant_id.in_(merchants), ep.active.is_(True)
                )
            ).all()
            rows = [
                {
                    "id": new_id("whd"),
                    "event_id": e.id,
                    "endpoint_id": p.id,
                    "merchant_id": e.merchant_id,
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for e in events
                for p in endpoints
                if p.merchant_id == e.merchant_id and matches(p.event_types, e.type)
            ]
            if rows:
                uow.conn.execute(
                    insert_on_conflict(uow.conn, deliveries_table).on_conflict_do_nothing(
                        index_elements=["event_id", "endpoint_id"]
                    ),
                    rows,
                )
            uow.conn.execute(
                update(events_table)
                .where(ev.id.in_([e.id for e in events]))
                .values(dispatched_at=now)
            )
        return len(events), len(rows)

    # -- delivery ----------------------------------------------------------
    def _claim(self) -> list[_Job]:
        now = self.clock.now()
        d, ep, ev = deliveries_table.c, endpoints_table.c, events_table.c
        with UnitOfWork(self.engine) as uow:
            q = (
                select(d.id)
                .where(
                    d.status == DeliveryStatus.PENDING.value,
                    d.next_attempt_at <= now,
                    d.lease_until.is_(None) | (d.lease_until < now),
                )
                .order_by(d.next_attempt_at, d.id)
                .limit(self.policy.batch)
            )
            if is_postgres(self.engine):
                q = q.with_for_update(skip_locked=True)
            ids = [r.id for r in uow.conn.execute(q)]
            if not ids:
                return []
            uow.conn.execute(
                update(deliveries_table)
                .where(d.id.in_(ids))
                .values(lease_until=now + timedelta(seconds=self.policy.lease_s))
            )
            rows = uow.conn.execute(
                select(
                    d.id,
                    ep.url,
                    ep.secret,
                    ev.id.label("event_id"),
                    ev.type,
                    ev.merchant_id,
                    ev.payload,
                    ev.created_at,
                )
                .join(endpoints_table, ep.id == d.endpoint_id)
                .join(events_table, ev.id == d.event_id)
                .where(d.id.in_(ids))
            ).all()
        return [
            _Job(
                delivery_id=r.id,
                url=r.url,
                secret=r.secret,
                event_id=r.event_id,
                event_type=r.type,
                body=orjson.dumps(
                    {
                        "id": r.event_id,
                        "type": r.type,
                        "created_at": r.created_at.isoformat().replace("+00:00", "Z"),
                        "merchant_id": r.merchant_id,
                        "data": r.payload,
                    }
                ),
            )
            for r in rows
        ]

    def _send(self, job: _Job) -> tuple[int | None, str | None]:
        ts = int(self.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Hubflow-Webhooks/1",
            "Hubflow-Event-Id": job.event_id,
            "Hubflow-Event-Type": job.event_type,
            "Hubflow-Delivery-Id": job.delivery_id,
            SIGNATURE_HEADER: sign(job.secret, ts, job.body),
        }
        try:
            return self.sender.post(job.url, job.body, headers), None
        except Exception as exc:  # a receiver's failure must never stop the relay
            return None, f"{type(exc).__name__}: {exc}"[:500]

    def deliver_due(self) -> int:
        jobs = self._claim()
        if not jobs:
            return 0
        results = list(self._pool.map(self._send, jobs))
        now = self.clock.now()
        d = deliveries_table.c
        with UnitOfWork(self.engine) as uow:
            for job, (code, error) in zip(jobs, results, strict=True):
                if code is not None and 200 <= code < 300:
                    values: dict[str, Any] = {
                        "status": DeliveryStatus.DELIVERED.value,
                        "delivered_at": now,
                        "next_attempt_at": None,
                    }
                else:
                    attempts = (
                        uow.conn.execute(
                            select(d.attempts).where(d.id == job.delivery_id)
                        ).scalar_one()
                        + 1
                    )
                    parked = attempts >= self.policy.max_attempts
                    values = {
                        "status": (
                            DeliveryStatus.PARKED if parked else DeliveryStatus.PENDING
                        ).value,
                        "next_attempt_at": None
                        if parked
                        else now + backoff_delay(attempts, self.policy, self.rng),
                        "last_error": error or f"HTTP {code}",
                    }
                    if parked:
                        log.warning("webhook parked", extra={"delivery_id": job.delivery_id})
                uow.conn.execute(
                    update(deliveries_table)
                    .where(d.id == job.delivery_id)
                    .values(
                        attempts=d.attempts + 1,
                        last_status_code=code,
                        lease_until=None,
                        updated_at=now,
                        **values,
                    )
                )
        return len(jobs)

    # -- housekeeping --------------------------------------------------------
    def expire_holds(self) -> int:
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            released = inventory.expire_due(uow, now)
            holds = sorted({(r.owner_id, r.merchant_id) for r in released})
            record(
                uow.conn,
                [Event("hold.expired", h, m, {"hold_id": h}) for h, m in holds],
                now,
            )
        return len(released)

    def run_once(self) -> int:
        return self.expire_holds() + self.fan_out() + self.deliver_due()

    def run_forever(
        self, stop: threading.Event, interval_s: float, on_error: Callable[[Exception], None]
    ) -> None:
        passes = _Passes(self, interval_s)
        while not stop.is_set():
            try:
                busy = passes.run()
            except Exception as exc:  # keep relaying after a transient database error
                on_error(exc)
                busy = 0
            if not busy:
                self._wake.wait(interval_s)
                self._wake.clear()
            elif busy < self.policy.batch:
                stop.wait(min(interval_s, self.policy.linger_s))


class _Passes:
    """``run_once``'s work for ``run_forever``, which is woken after every commit that
    records events: new events are fanned out at once and their deliveries sent in
    the same pass, but expired holds and due retries (back-offs of seconds, lapsed
    leases) are looked for at most once per interval, as when nothing wakes the
    relay. Under load that leaves one transaction per pass instead of three."""

    def __init__(self, relay: Relay, interval_s: float) -> None:
        self.relay = relay
        self.interval_s = interval_s
        self._next_full = 0.0  # time.monotonic() of the next full pass
        self._more_due = False  # the last delivery pass claimed a full batch

    def run(self) -> int:
        now = time.monotonic()
        full = now >= self._next_full
        busy = 0
        if full:
            self._next_full = now + self.interval_s
            busy += self.relay.expire_holds()
        events, deliveries = self.relay._fan_out()
        busy += events
        if full or deliveries or self._more_due:
            sent = self.relay.deliver_due()
            self._more_due = sent >= self.relay.policy.batch
            busy += sent
        return busy
