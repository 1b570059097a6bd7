"""Membership rules (pure): calendar-month periods without drift, pro-rata refunds in
integer minor units, the household address rule, and plan benefits in the promise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hubflow.membership.model import (
    Benefits,
    Billing,
    SubStatus,
    add_months,
    address_key,
    period_end,
    prorata_refund,
)
from hubflow.promise.model import MemberTerms, MerchantPromise, OptionCode, PromiseConfig, Reason

OC = OptionCode
JAN31 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def test_months_clamp_to_the_last_day_and_do_not_drift() -> None:
    assert add_months(JAN31, 1) == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(JAN31, 2) == datetime(2026, 3, 31, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2027, 12, 31, tzinfo=UTC), 2) == datetime(2028, 2, 29, tzinfo=UTC)
    assert [period_end(JAN31, Billing.MONTHLY, c).day for c in (1, 2, 3, 4)] == [28, 31, 30, 31]
    assert period_end(JAN31, Billing.ANNUAL, 1) == datetime(2027, 1, 31, 9, 30, tzinfo=UTC)


def test_pro_rata_refund() -> None:
    start, end = JAN31, add_months(JAN31, 1)  # 28 days
    assert prorata_refund(2800, start, end, start) == 2800
    assert prorata_refund(2800, start, end, start + timedelta(days=7)) == 2100
    assert prorata_refund(1000, start, end, start + timedelta(days=1)) == 964  # rounded down
    assert prorata_refund(2800, start, end, end) == 0
    assert prorata_refund(2800, start, end, end + timedelta(days=3)) == 0


@given(
    price=st.integers(0, 10**7),
    a=st.integers(0, 40 * 86400),
    b=st.integers(0, 40 * 86400),
)
def test_refunds_never_exceed_the_price_and_shrink_with_time(price: int, a: int, b: int) -> None:
    start, end = JAN31, add_months(JAN31, 1)
    early, late = sorted((a, b))
    r_early = prorata_refund(price, start, end, start + timedelta(seconds=early))
    r_late = prorata_refund(price, start, end, start + timedelta(seconds=late))
    assert 0 <= r_late <= r_early <= price


def test_household_address_ignores_spelling_but_not_the_place() -> None:
    home = {"line1": "400 Pine St", "city": "Seattle", "postcode": "98101", "country": "US"}
    assert address_key(home) == address_key({**home, "line1": " 400  PINE st. "})
    assert address_key(home) != address_key({**home, "line1": "402 Pine St"})
    assert address_key(home) != address_key({**home, "line2": "Apt 4"})


def test_statuses() -> None:
    assert SubStatus.TRIALING.live and SubStatus.ACTIVE.live
    assert not SubStatus.LAPSED.live and not SubStatus.CANCELLED.live


def test_benefits_round_trip() -> None:
    b = Benefits({OC.SAME_DAY: 2500}, frozenset({OC.EXPRESS_2H}), 30, 200)
    assert Benefits.from_json(b.to_json()) == b
    assert Benefits.from_json({}) == Benefits({})


def test_plan_terms_in_the_promise() -> None:
    m = MerchantPromise.from_json(
        {"members_only": ["express_2h", "same_day"], "member_free_threshold": {"same_day": 1000}},
        PromiseConfig(),
    )
    basic = MemberTerms("mpl_b", "sub_1", {OC.SAME_DAY: 5000}, frozenset({OC.SAME_DAY}))
    assert m.refusal(OC.EXPRESS_2H, True, basic) is Reason.MEMBERS_ONLY  # not in this plan
    assert m.refusal(OC.SAME_DAY, True, basic) is None
    assert m.refusal(OC.EXPRESS_2H, True, None) is None  # the merchant's own flag opens all
    # The plan's threshold replaces the merchant's for the options it names.
    assert m.fee(OC.SAME_DAY, 3000, True, basic) == (699, False)
    assert m.fee(OC.SAME_DAY, 3000, True, None) == (0, True)
    assert m.benefits(OC.SAME_DAY, 5000, True, basic) == [
        {"kind": "members_only_option", "plan_id": "mpl_b"},
        {"kind": "free_delivery", "threshold": 5000, "plan_id": "mpl_b"},
    ]
    assert m.benefits(OC.SAME_DAY, 5000, False, None) == []
