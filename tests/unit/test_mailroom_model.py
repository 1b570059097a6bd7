"""Mailroom rules: units read from addresses and typed at keypads, standing codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubflow.lockers.mailroom_model import (
    RESIDENT_CODE_DIGITS,
    new_resident_code,
    normalize_unit,
    unit_from_address,
)
from hubflow.lockers.model import code_hash, codes_match


@pytest.mark.parametrize(
    ("raw", "unit"),
    [
        ("4B", "4B"),
        ("4b", "4B"),
        ("Apt 4B", "4B"),
        ("apt. 4-b", "4B"),
        ("#12", "12"),
        ("Unit 12 C", "12C"),
        ("Suite 300", "300"),
        ("Apartment 7", "7"),
        ("", None),
        ("   ", None),
        ("Apt", None),
        ("far too long a unit", None),
        ("4/B", None),
    ],
)
def test_units_are_normalised(raw: str, unit: str | None) -> None:
    assert normalize_unit(raw) == unit


@pytest.mark.parametrize(
    ("address", "unit"),
    [
        ({"line1": "400 Pine St", "line2": "Apt 4B"}, "4B"),
        ({"line1": "400 Pine St", "line2": "4b"}, "4B"),
        ({"line1": "400 Pine St #12"}, "12"),
        ({"line1": "5 Elm Rd, Unit 12-C"}, "12C"),
        ({"line1": "400 Pine St APT 7"}, "7"),
        ({"line1": "400 Pine St"}, None),
        ({"line1": "1 Unity Plaza"}, None),  # "Unity" is not "Unit y"
        ({"line1": "400 Pine St", "line2": "c/o Ada Lovelace"}, None),
        ({}, None),
    ],
)
def test_the_unit_in_an_address(address: dict[str, str], unit: str | None) -> None:
    assert unit_from_address(address) == unit


@given(st.text(max_size=40))
def test_a_unit_is_canonical_or_nothing(raw: str) -> None:
    unit = normalize_unit(raw)
    if unit is not None:
        assert unit.isalnum() and unit.isascii() and unit == unit.upper()
        assert 1 <= len(unit) <= 10
        assert normalize_unit(unit) == unit  # idempotent


def test_standing_codes_are_long_and_salted_per_resident() -> None:
    codes = {new_resident_code() for _ in range(200)}
    assert all(len(c) == RESIDENT_CODE_DIGITS and c.isdigit() for c in codes)
    assert len(codes) > 190
    code = "12345678"
    a, b = code_hash("rsd_a", code), code_hash("rsd_b", code)
    assert a != b  # equal codes of two residents do not look equal at rest
    assert codes_match("rsd_a", code, a)
    assert not codes_match("rsd_b", code, a)
    assert not codes_match("rsd_a", code, None)  # revoked: no code opens anything
