"""Points rules (pure): earn rules, the burn limit, which lots a debit takes, debt
arithmetic, and reconciling a partner's statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubflow.points.model import (
    Bonus,
    CategoryRule,
    Line,
    Lot,
    Program,
    Shortfall,
    TransferRecord,
    consume,
    reconcile,
    settle_credit,
    split_debit,
)

T = datetime(2026, 3, 2, tzinfo=UTC)


def test_earn_by_value_category_bonus_and_membership() -> None:
    p = Program(categories=(CategoryRule("ELEC-", 300),), bonuses=(Bonus(5000, 100),))
    lines = [Line("p1", "ELEC-TV", 4000, 1), Line("p2", "FOOD-1", 650, 2)]
    e = p.earn(lines, discount=0)
    assert dict(e.per_unit) == {"p1": 120, "p2": 6} and e.bonus == 100
    assert e.total == 120 + 12 + 100
    member = p.earn(lines, discount=0, member_pct=200)
    assert dict(member.per_unit) == {"p1": 240, "p2": 13}
    # A discount paid with points earns nothing: spread over the lines by value.
    paid = p.earn(lines, discount=2650)
    assert dict(paid.per_unit) == {"p1": 60, "p2": 3} and paid.bonus == 0


def test_burn_limit() -> None:
    assert Program().max_burn(1300) == 1300
    assert Program(max_burn_pct=50, point_value=2).max_burn(1300) == 325


def test_program_round_trip() -> None:
    p = Program("EUR", 2, 50, (CategoryRule("A", 150),), (Bonus(10, 5),), 3, 40, None)
    assert Program.from_json(p.to_json()) == p
    assert Program.from_json(None) == Program()


def test_debits_take_the_cause_first_then_the_soonest_to_expire() -> None:
    lots = [
        Lot("a", 10, T + timedelta(days=5)),
        Lot("b", 10, T + timedelta(days=1)),
        Lot("c", 10, None),
        Lot("d", 0, T),
    ]
    assert consume(lots, 15) == [("b", 10), ("a", 5)]
    assert consume(lots, 25, first="c") == [("c", 10), ("b", 10), ("a", 5)]
    assert consume(lots, 0) == []
    with pytest.raises(Shortfall):
        consume(lots, 31)


@given(st.lists(st.integers(0, 50), max_size=8), st.integers(0, 400))
def test_consume_takes_exactly_what_is_asked(sizes: list[int], n: int) -> None:
    lots = [Lot(f"l{i}", s, T + timedelta(days=i % 3)) for i, s in enumerate(sizes)]
    if n > sum(sizes):
        with pytest.raises(Shortfall):
            consume(lots, n)
        return
    taken = consume(lots, n)
    assert sum(k for _, k in taken) == n
    by_id = {x.id: x.remaining for x in lots}
    assert all(0 < k <= by_id[lot] for lot, k in taken)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_debt_arithmetic(points: int, other: int) -> None:
    to_balance, repaid = settle_credit(points, other)
    assert to_balance + repaid == points and repaid <= other and to_balance >= 0
    taken, debt = split_debit(points, other)
    assert taken + debt == points and taken <= other and debt >= 0


def test_reconcile_reports_every_unmatched_transfer() -> None:
    ours = [
        TransferRecord("1", "in", "c", 10),
        TransferRecord("2", "in", "c", 20),
        TransferRecord("3", "out", "c", 5),
    ]
    theirs = [
        TransferRecord("1", "in", "c", 10),
        TransferRecord("2", "in", "c", 21),
        TransferRecord("4", "in", "d", 7),
    ]
    r = reconcile(ours, theirs)
    assert r.matched == 1
    assert [t.transfer_id for t in r.only_theirs] == ["4"]
    assert [t.transfer_id for t in r.only_ours] == ["3"]
    assert [(o.partner_points, t.partner_points) for o, t in r.mismatched] == [(20, 21)]
    assert r.to_json()["unmatched"] == 3
