"""Webhooks delivered over real HTTP to a local receiver: signed, retried, de-duplicable.

The relay is driven by hand (``run_once`` and a ManualClock) except in the last
test, where the relay thread inside the app does the work on the system clock.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hubflow.api.app import create_app
from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key
from hubflow.core.clock import ManualClock, SystemClock
from hubflow.core.db import UnitOfWork
from hubflow.core.settings import Settings
from hubflow.webhooks import SignatureError, verify
from hubflow.webhooks.relay import HttpSender, Relay, RelayPolicy
from tests.conftest import T0, Api
from tests.e2e.conftest import Received, Receiver, always, fail_first

ORDER_EVENTS = Counter({"order.accepted": 1, "order.allocated": 1})


def _shop(api: Api, receiver: Receiver, event_types: list[str]) -> dict[str, Any]:
    """A merchant with a webhook endpoint at the receiver, stock, and one order."""
    hub = api.hub()
    merchant_id, m = api.merchant()
    r = api.client.post(
        "/v1/webhooks/endpoints",
        json={"url": receiver.url, "event_types": event_types, "description": "test receiver"},
        headers=m,
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()
    assert endpoint["secret"].startswith("whsec_")
    product = api.product(m)
    api.receive(m, hub, product, 5)
    r = api.client.post(
        "/v1/orders",
        json=api.order_body([(product, 2)], external_ref="PO-1"),
        headers={**m, "Idempotency-Key": "hook-1"},
    )
    assert r.status_code == 201, r.text
    return {"m": m, "merchant_id": merchant_id, "endpoint": endpoint, "order": r.json()}


def _relay(engine: Engine, clock: ManualClock, max_attempts: int = 8) -> Relay:
    policy = RelayPolicy(max_attempts=max_attempts, backoff_base_s=0.01, backoff_max_s=0.5)
    return Relay(engine, clock, HttpSender(5.0), policy, rng=random.Random(3), workers=4)


def _close(relay: Relay) -> None:
    relay.close()
    if isinstance(relay.sender, HttpSender):
        relay.sender.close()


def _drive(relay: Relay, clock: ManualClock, done: Callable[[], bool], rounds: int = 40) -> int:
    """run_once until ``done``; the clock moves a second per round so back-offs fall due."""
    for i in range(rounds):
        relay.run_once()
        if done():
            return i + 1
        clock.advance(timedelta(seconds=1))
    raise AssertionError("the relay did not get there in time")


def _deliveries(api: Api, m: dict[str, str], **params: str) -> list[dict[str, Any]]:
    r = api.client.get("/v1/webhooks/deliveries", params=params, headers=m)
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def _dedupe(received: list[Received]) -> dict[str, dict[str, Any]]:
    """What a receiver keeps: one body per Hubflow-Event-Id among the 2xx answers."""
    kept: dict[str, dict[str, Any]] = {}
    for req in received:
        if 200 <= req.status < 300:
            kept.setdefault(req.headers["hubflow-event-id"], json.loads(req.body))
    return kept


def _check_signed(secret: str, req: Received) -> None:
    """Verify as the receiver would have, at the time the request arrived."""
    now_ts = int(req.at)
    verify(secret, req.headers["hubflow-signature"], req.body, now_ts)
    with pytest.raises(SignatureError):
        verify(secret, req.headers["hubflow-signature"], req.body + b" ", now_ts)
    with pytest.raises(SignatureError):
        verify("whsec_wrong", req.headers["hubflow-signature"], req.body, now_ts)


def test_retries_until_delivered_signed_and_deduplicable(api: Api, receiver: Receiver) -> None:
    receiver.respond = fail_first(2)
    receiver.clock = lambda: api.clock.now().timestamp()
    shop = _shop(api, receiver, ["order.*"])
    secret, order = shop["endpoint"]["secret"], shop["order"]
    relay = _relay(api.engine, api.clock)
    try:
        _drive(relay, api.clock, lambda: len(_dedupe(receiver.snapshot())) == 2)
        # More passes send nothing more: a delivered event is not sent again.
        for _ in range(3):
            api.clock.advance(timedelta(minutes=5))
            relay.run_once()
    finally:
        _close(relay)

    received = receiver.snapshot()
    assert len(received) == 6, [(r.headers["hubflow-event-type"], r.status) for r in received]
    by_event: dict[str, list[Received]] = defaultdict(list)
    for req in received:
        assert req.path == "/hooks/hubflow"
        assert req.headers["content-type"] == "application/json"
        _check_signed(secret, req)
        by_event[req.headers["hubflow-event-id"]].append(req)

    for event_id, attempts in by_event.items():
        # The same event, byte for byte, under the same id on every attempt.
        assert [a.status for a in attempts] == [500, 500, 200]
        assert len({a.body for a in attempts}) == 1
        assert len({a.headers["hubflow-delivery-id"] for a in attempts}) == 1
        payload = json.loads(attempts[0].body)
        assert payload["id"] == event_id
        assert payload["type"] == attempts[0].headers["hubflow-event-type"]
        assert payload["merchant_id"] == shop["merchant_id"]
        assert payload["data"]["order"]["id"] == order["id"]
        assert payload["data"]["order"]["external_ref"] == "PO-1"
        # Attempts are spread out by the back-off, not fired back to back in one pass.
        assert len({a.headers["hubflow-signature"].split(",")[0] for a in attempts}) == 3

    kept = _dedupe(received)
    assert Counter(p["type"] for p in kept.values()) == ORDER_EVENTS
    assert {p["data"]["order"]["status"] for p in kept.values()} == {"accepted", "allocated"}

    log = _deliveries(api, shop["m"])
    assert len(log) == 2
    for d in log:
        assert d["status"] == "delivered"
        assert d["attempts"] == 3
        assert d["last_status_code"] == 200
        assert d["delivered_at"] is not None and d["next_attempt_at"] is None
        assert d["endpoint_id"] == shop["endpoint"]["id"]
        assert d["event_id"] in by_event


def test_failing_receiver_parks_then_replay_delivers(api: Api, receiver: Receiver) -> None:
    receiver.respond = always(503)
    receiver.clock = lambda: api.clock.now().timestamp()
    shop = _shop(api, receiver, ["order.allocated"])
    m = shop["m"]
    relay = _relay(api.engine, api.clock, max_attempts=4)
    try:
        _drive(relay, api.clock, lambda: bool(_deliveries(api, m, status="parked")))
        log = _deliveries(api, m)
        assert len(log) == 1  # only order.allocated matches the endpoint
        parked = log[0]
        assert parked["status"] == "parked"
        assert parked["attempts"] == 4
        assert parked["last_status_code"] == 503
        assert parked["last_error"] == "HTTP 503"
        assert parked["next_attempt_at"] is None
        assert receiver.attempts_for(parked["event_id"]) == 4
        # Parked means parked: the relay leaves it alone.
        for _ in range(3):
            api.clock.advance(timedelta(hours=1))
            relay.run_once()
        assert receiver.attempts_for(parked["event_id"]) == 4

        receiver.respond = always(200)
        r = api.client.post(f"/v1/webhooks/deliveries/{parked['id']}/replay", headers=m)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending" and r.json()["attempts"] == 0
        r = api.client.post(f"/v1/webhooks/deliveries/{parked['id']}/replay", headers=m)
        assert r.status_code == 409 and r.json()["error"]["code"] == "delivery_pending"

        _drive(relay, api.clock, lambda: bool(receiver.successes()))
    finally:
        _close(relay)

    [after] = _deliveries(api, m)
    assert after["id"] == parked["id"]
    assert after["status"] == "delivered" and after["attempts"] == 1
    assert after["last_status_code"] == 200
    received = receiver.snapshot()
    assert [r.status for r in received] == [503] * 4 + [200]
    assert len({r.headers["hubflow-event-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1
    for req in received:
        _check_signed(shop["endpoint"]["secret"], req)
    assert json.loads(received[-1].body)["type"] == "order.allocated"


def test_unreachable_receiver_is_retried_then_parked(api: Api, receiver: Receiver) -> None:
    """A transport failure (nothing listening) counts as a failed attempt, not a crash."""
    hub = api.hub()
    _, m = api.merchant()
    r = api.client.post(
        "/v1/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/nothing-here", "event_types": ["stock.*"]},
        headers=m,
    )
    assert r.status_code == 201, r.text
    api.receive(m, hub, api.product(m), 1)
    relay = _relay(api.engine, api.clock, max_attempts=2)
    try:
        _drive(relay, api.clock, lambda: bool(_deliveries(api, m, status="parked")))
    finally:
        _close(relay)
    [d] = _deliveries(api, m)
    assert d["attempts"] == 2 and d["last_status_code"] is None
    assert d["last_error"] and "Error" in d["last_error"]


def test_relay_thread_in_the_app_delivers(sqlite_engine: Engine, receiver: Receiver) -> None:
    receiver.respond = fail_first(1)
    settings = Settings(relay_interval_s=0.05, webhook_backoff_base_s=0.01)
    app = create_app(settings, engine=sqlite_engine, clock=SystemClock(), run_relay=True)
    setup_clock = ManualClock(T0)
    with UnitOfWork(sqlite_engine) as uow:
        key, _ = create_key(uow, Role.OPERATOR, None, "tests", setup_clock.now())
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, sqlite_engine, setup_clock, key.secret)
        started = time.monotonic()
        shop = _shop(api, receiver, ["order.*"])
        deadline = time.monotonic() + 10
        while len(_dedupe(receiver.snapshot())) < 2:
            assert time.monotonic() < deadline, receiver.snapshot()
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        # The relay records the outcome just after the receiver answers.
        log = _deliveries(api, shop["m"])
        while {d["status"] for d in log} != {"delivered"}:
            assert time.monotonic() < deadline, log
            time.sleep(0.02)
            log = _deliveries(api, shop["m"])
    assert elapsed < 10
    assert {d["status"] for d in log} == {"delivered"}
    assert sorted(d["attempts"] for d in log) == [2, 2]
    kept = _dedupe(receiver.snapshot())
    assert Counter(p["type"] for p in kept.values()) == ORDER_EVENTS
    for req in receiver.snapshot():
        _check_signed(shop["endpoint"]["secret"], req)
