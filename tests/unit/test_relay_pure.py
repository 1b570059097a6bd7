"""The relay's pure pieces: back-off delays and event-type matching."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from hubflow.webhooks import relay as relay_module
from hubflow.webhooks.relay import RelayPolicy, backoff_delay, matches


def test_backoff_doubles_without_jitter() -> None:
    policy = RelayPolicy(backoff_base_s=2.0, backoff_max_s=3600.0, jitter=0.0)
    rng = random.Random(1)
    delays = [backoff_delay(n, policy, rng) for n in range(1, 8)]
    assert delays == [timedelta(seconds=2.0 * 2**k) for k in range(7)]


def test_backoff_is_capped() -> None:
    policy = RelayPolicy(backoff_base_s=2.0, backoff_max_s=60.0, jitter=0.0)
    rng = random.Random(1)
    assert backoff_delay(5, policy, rng) == timedelta(seconds=32)
    assert backoff_delay(6, policy, rng) == timedelta(seconds=60)
    assert backoff_delay(30, policy, rng) == timedelta(seconds=60)


def test_backoff_cap_holds_for_any_attempt_count() -> None:
    # A policy may allow many attempts; the delay must stay capped, never overflow.
    policy = RelayPolicy(backoff_base_s=2.0, backoff_max_s=3600.0, jitter=0.1)
    rng = random.Random(3)
    for n in (100, 1025, 5000):
        d = backoff_delay(n, policy, rng).total_seconds()
        assert 3600 * 0.9 <= d <= 3600 * 1.1


def test_backoff_jitter_is_bounded_and_seeded() -> None:
    policy = RelayPolicy(backoff_base_s=10.0, backoff_max_s=3600.0, jitter=0.2)
    a = [backoff_delay(n, policy, random.Random(42)) for n in range(1, 6)]
    b = [backoff_delay(n, policy, random.Random(42)) for n in range(1, 6)]
    assert a == b  # the same seed gives the same delays
    rng = random.Random(7)
    seen = set()
    for n in range(1, 9):
        for _ in range(20):
            base = min(3600.0, 10.0 * 2 ** (n - 1))
            s = backoff_delay(n, policy, rng).total_seconds()
            assert base * 0.8 - 1e-6 <= s <= base * 1.2 + 1e-6
            seen.add(s)
    assert len(seen) > 100  # jitter really spreads retries


def test_backoff_never_negative() -> None:
    policy = RelayPolicy(backoff_base_s=0.001, backoff_max_s=1.0, jitter=5.0)
    rng = random.Random(0)
    assert all(backoff_delay(1, policy, rng) >= timedelta(0) for _ in range(200))


@pytest.mark.parametrize(
    ("patterns", "event", "expected"),
    [
        (["*"], "order.accepted", True),
        (["order.accepted"], "order.accepted", True),
        (["order.accepted"], "order.allocated", False),
        (["order.*"], "order.accepted", True),
        (["order.*"], "order.out_for_delivery", True),
        (["order.*"], "orders.accepted", False),
        (["order.*"], "order", False),
        (["order.*"], "hold.created", False),
        (["stock.*", "hold.created"], "hold.created", True),
        (["stock.*", "hold.created"], "hold.expired", False),
        ([], "order.accepted", False),
        (["order"], "order.accepted", False),
        (["shipment.*"], "shipment.leg.delivered", True),
    ],
)
def test_matches(patterns: list[str], event: str, expected: bool) -> None:
    assert matches(patterns, event) is expected


class _CountingRelay:
    """Stands in for a Relay: counts the work each pass asks for."""

    def __init__(self) -> None:
        self.policy = RelayPolicy(batch=2)
        self.calls: list[str] = []
        self.events = (0, 0)
        self.due = 0

    def expire_holds(self) -> int:
        self.calls.append("expire")
        return 0

    def _fan_out(self) -> tuple[int, int]:
        self.calls.append("fan_out")
        return self.events

    def deliver_due(self) -> int:
        self.calls.append("deliver")
        return self.due


def test_passes_look_for_expired_holds_and_retries_once_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(relay_module.time, "monotonic", lambda: clock[0])
    relay = _CountingRelay()
    passes = relay_module._Passes(relay, 0.5)  # type: ignore[arg-type]
    passes.run()  # the first pass does everything
    assert relay.calls == ["expire", "fan_out", "deliver"]
    relay.calls.clear()
    passes.run()  # woken again at once, nothing new: events only
    assert relay.calls == ["fan_out"]
    relay.calls.clear()
    relay.events = (3, 2)  # new events made deliveries: sent in the same pass
    relay.due = 2  # a full batch: the next pass sends again
    assert passes.run() == 5
    assert relay.calls == ["fan_out", "deliver"]
    relay.calls.clear()
    relay.events, relay.due = (0, 0), 1
    passes.run()
    assert relay.calls == ["fan_out", "deliver"]
    relay.calls.clear()
    passes.run()
    assert relay.calls == ["fan_out"]
    relay.calls.clear()
    clock[0] += 0.5  # an interval later: everything again
    passes.run()
    assert relay.calls == ["expire", "fan_out", "deliver"]
