"""The order state machine: every legal and every illegal transition."""

from __future__ import annotations

from itertools import product

import pytest

from hubflow.core.errors import Conflict, IllegalTransition
from hubflow.orders.model import TERMINAL, TRANSITIONS, OrderStatus, check_transition

S = OrderStatus

# Written out by hand, not derived from TRANSITIONS, so a change to the table fails here.
LEGAL: set[tuple[OrderStatus, OrderStatus]] = {
    (S.ACCEPTED, S.ALLOCATED),
    (S.ACCEPTED, S.CANCELLED),
    (S.ALLOCATED, S.PICKING),
    (S.ALLOCATED, S.CANCELLED),
    (S.PICKING, S.PACKED),
    (S.PICKING, S.CANCELLED),
    (S.PACKED, S.OUT_FOR_DELIVERY),
    (S.PACKED, S.CANCELLED),
    (S.OUT_FOR_DELIVERY, S.DELIVERED),
    (S.OUT_FOR_DELIVERY, S.FAILED),
    (S.FAILED, S.OUT_FOR_DELIVERY),
    (S.FAILED, S.RETURNED),
    (S.DELIVERED, S.RETURNED),
}
ALL_PAIRS = list(product(OrderStatus, OrderStatus))
ILLEGAL = [p for p in ALL_PAIRS if p not in LEGAL]


def _id(pair: tuple[OrderStatus, OrderStatus]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_table_matches_the_specification() -> None:
    table = {(a, b) for a, nxt in TRANSITIONS.items() for b in nxt}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize("pair", sorted(LEGAL), ids=_id)
def test_legal_transition_is_accepted(pair: tuple[OrderStatus, OrderStatus]) -> None:
    check_transition(*pair)  # does not raise


@pytest.mark.parametrize("pair", ILLEGAL, ids=_id)
def test_illegal_transition_is_refused(pair: tuple[OrderStatus, OrderStatus]) -> None:
    current, target = pair
    with pytest.raises(IllegalTransition) as info:
        check_transition(current, target)
    err = info.value
    assert isinstance(err, Conflict)
    assert err.status_code == 409
    assert err.code == "illegal_transition"
    assert err.details["from"] == current.value
    assert err.details["to"] == target.value
    assert err.details["allowed"] == sorted(b.value for a, b in LEGAL if a is current)


def test_no_self_transitions() -> None:
    for s in OrderStatus:
        with pytest.raises(IllegalTransition):
            check_transition(s, s)


def test_terminal_states_are_cancelled_and_returned() -> None:
    assert frozenset({S.CANCELLED, S.RETURNED}) == TERMINAL
    for s in TERMINAL:
        for target in OrderStatus:
            with pytest.raises(IllegalTransition):
                check_transition(s, target)


def test_no_cancellation_once_goods_left_the_hub() -> None:
    for s in (S.OUT_FOR_DELIVERY, S.DELIVERED, S.FAILED):
        with pytest.raises(IllegalTransition):
            check_transition(s, S.CANCELLED)


def test_every_state_is_reachable_from_accepted_and_can_end() -> None:
    seen = {S.ACCEPTED}
    frontier = [S.ACCEPTED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(OrderStatus)
    # From every state a terminal state is reachable (no dead-end loops).
    for start in OrderStatus:
        reach, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in reach:
                    reach.add(nxt)
                    todo.append(nxt)
        assert reach & TERMINAL, start
