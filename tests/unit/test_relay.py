"""The relay's retry, park and replay logic, with a hand-written fake sender and a
manual clock on SQLite."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, NotFound
from hubflow.core.events import Event, record
from hubflow.webhooks import SIGNATURE_HEADER, verify
from hubflow.webhooks.relay import Relay, RelayPolicy, backoff_delay
from hubflow.webhooks.service import DeliveryStatus, create_endpoint, replay_delivery
from hubflow.webhooks.store import deliveries_table
from tests.builders import make_merchant

SEED = 1234


@dataclass
class Call:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakeSender:
    """Answers with the given status codes in turn, then ``then`` for ever.

    An exception instance in ``script`` is raised instead (a transport failure).
    """

    script: list[int | Exception] = field(default_factory=list)
    then: int = 200
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        with self._lock:
            self.calls.append(Call(url, body, dict(headers)))
            outcome = self.script.pop(0) if self.script else self.then
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@dataclass
class Setup:
    engine: Engine
    clock: ManualClock
    merchant_id: str
    endpoint: dict[str, Any]
    event_id: str


@pytest.fixture
def setup(sqlite_engine: Engine, clock: ManualClock) -> Setup:
    now = clock.now()
    merchant_id = make_merchant(sqlite_engine, now)
    with UnitOfWork(sqlite_engine) as uow:
        endpoint = create_endpoint(
            uow, merchant_id, "https://merchant.example/hooks", ["order.*"], None, now
        )
        (event_id,) = record(
            uow.conn,
            [Event("order.accepted", "ord_x", merchant_id, {"order": {"id": "ord_x"}})],
            now,
        )
    return Setup(sqlite_engine, clock, merchant_id, endpoint, event_id)


@pytest.fixture
def make_relay(setup: Setup) -> Iterator[Any]:
    relays: list[Relay] = []

    def make(sender: FakeSender, policy: RelayPolicy) -> Relay:
        relay = Relay(setup.engine, setup.clock, sender, policy, rng=random.Random(SEED), workers=2)
        relays.append(relay)
        return relay

    yield make
    for r in relays:
        r.close()


def delivery(engine: Engine) -> dict[str, Any]:
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.conn.execute(select(deliveries_table)).all()
    assert len(rows) == 1, rows
    return dict(rows[0]._mapping)


def test_fails_then_succeeds_with_back_off(setup: Setup, make_relay: Any) -> None:
    failures = 3
    policy = RelayPolicy(max_attempts=8, backoff_base_s=10.0, backoff_max_s=3600.0, jitter=0.1)
    sender = FakeSender(script=[500] * (failures - 1) + [ConnectionError("refused")])
    relay: Relay = make_relay(sender, policy)
    expected_rng = random.Random(SEED)  # replays the relay's jitter draws

    assert relay.run_once() >= 2  # fan-out + first attempt
    for attempt in range(1, failures + 1):
        d = delivery(setup.engine)
        assert d["status"] == DeliveryStatus.PENDING.value
        assert d["attempts"] == attempt
        due: datetime = setup.clock.now() + backoff_delay(attempt, policy, expected_rng)
        assert d["next_attempt_at"] == due
        assert d["lease_until"] is None
        # Nothing is sent before the back-off has passed.
        setup.clock.set(due - timedelta(milliseconds=1))
        assert relay.deliver_due() == 0
        assert len(sender.calls) == attempt
        setup.clock.set(due)
        assert relay.deliver_due() == 1

    d = delivery(setup.engine)
    assert d["status"] == DeliveryStatus.DELIVERED.value
    assert d["attempts"] == failures + 1
    assert d["delivered_at"] == setup.clock.now()
    assert d["next_attempt_at"] is None
    assert d["last_status_code"] == 200
    assert len(sender.calls) == failures + 1
    assert relay.run_once() == 0  # nothing more to do
    assert len(sender.calls) == failures + 1


def test_every_attempt_is_signed_and_carries_the_same_event_id(
    setup: Setup, make_relay: Any
) -> None:
    sender = FakeSender(script=[503])
    relay: Relay = make_relay(sender, RelayPolicy(backoff_base_s=1.0, jitter=0.0))
    relay.run_once()
    setup.clock.advance(timedelta(seconds=1))
    relay.run_once()
    assert len(sender.calls) == 2
    for call, at in zip(sender.calls, (0, 1), strict=True):
        assert call.url == "https://merchant.example/hooks"
        assert call.headers["Hubflow-Event-Id"] == setup.event_id
        assert call.headers["Hubflow-Event-Type"] == "order.accepted"
        ts = int(setup.clock.now().timestamp()) - 1 + at
        verify(setup.endpoint["secret"], call.headers[SIGNATURE_HEADER], call.body, ts)
        payload = orjson.loads(call.body)
        assert payload["id"] == setup.event_id
        assert payload["merchant_id"] == setup.merchant_id
        assert payload["data"] == {"order": {"id": "ord_x"}}
    assert sender.calls[0].body == sender.calls[1].body
    assert (
        sender.calls[0].headers["Hubflow-Delivery-Id"]
        == sender.calls[1].headers["Hubflow-Delivery-Id"]
    )


def test_only_matching_events_are_delivered(setup: Setup, make_relay: Any) -> None:
    # merchant.created (recorded by create_merchant) does not match "order.*".
    sender = FakeSender()
    relay: Relay = make_relay(sender, RelayPolicy())
    relay.run_once()
    assert [c.headers["Hubflow-Event-Type"] for c in sender.calls] == ["order.accepted"]


def test_always_failing_delivery_is_parked_then_replayed(setup: Setup, make_relay: Any) -> None:
    policy = RelayPolicy(max_attempts=3, backoff_base_s=5.0, jitter=0.1)
    sender = FakeSender(then=503)
    relay: Relay = make_relay(sender, policy)

    relay.run_once()
    for _ in range(10):  # far more rounds than attempts allowed
        setup.clock.advance(timedelta(hours=2))
        relay.run_once()
    d = delivery(setup.engine)
    assert d["status"] == DeliveryStatus.PARKED.value
    assert d["attempts"] == 3
    assert d["next_attempt_at"] is None
    assert d["last_status_code"] == 503
    assert d["last_error"] == "HTTP 503"
    assert len(sender.calls) == 3

    # A parked delivery stays parked until someone replays it.
    with UnitOfWork(setup.engine) as uow:
        out = replay_delivery(uow, setup.merchant_id, d["id"], setup.clock.now())
    assert out["status"] == DeliveryStatus.PENDING.value
    assert out["attempts"] == 0
    d = delivery(setup.engine)
    assert (d["status"], d["attempts"], d["next_attempt_at"]) == (
        DeliveryStatus.PENDING.value,
        0,
        setup.clock.now(),
    )

    # Replaying a pending delivery is a conflict; another merchant cannot see it.
    with pytest.raises(Conflict) as conflict, UnitOfWork(setup.engine) as uow:
        replay_delivery(uow, setup.merchant_id, d["id"], setup.clock.now())
    assert conflict.value.code == "delivery_pending"
    other = make_merchant(setup.engine, setup.clock.now(), "Other")
    with pytest.raises(NotFound), UnitOfWork(setup.engine) as uow:
        replay_delivery(uow, other, d["id"], setup.clock.now())

    sender.then = 204
    assert relay.deliver_due() == 1
    d = delivery(setup.engine)
    assert d["status"] == DeliveryStatus.DELIVERED.value
    assert d["attempts"] == 1
    assert d["last_status_code"] == 204
    assert len(sender.calls) == 4


def test_transport_error_is_recorded_and_retried(setup: Setup, make_relay: Any) -> None:
    sender = FakeSender(script=[TimeoutError("read timed out")])
    relay: Relay = make_relay(sender, RelayPolicy(max_attempts=2, jitter=0.0, backoff_base_s=3))
    relay.run_once()
    d = delivery(setup.engine)
    assert d["status"] == DeliveryStatus.PENDING.value
    assert d["last_status_code"] is None
    assert d["last_error"] == "TimeoutError: read timed out"
    assert d["next_attempt_at"] == setup.clock.now() + timedelta(seconds=3)
    setup.clock.advance(timedelta(seconds=3))
    relay.run_once()
    assert delivery(setup.engine)["status"] == DeliveryStatus.DELIVERED.value


def test_redirects_and_client_errors_count_as_failures(setup: Setup, make_relay: Any) -> None:
    sender = FakeSender(script=[301, 404])
    relay: Relay = make_relay(sender, RelayPolicy(max_attempts=2, jitter=0.0, backoff_base_s=1))
    relay.run_once()
    setup.clock.advance(timedelta(seconds=1))
    relay.run_once()
    d = delivery(setup.engine)
    assert d["status"] == DeliveryStatus.PARKED.value
    assert d["last_status_code"] == 404
