"""Webhook signatures: sign, verify, tolerance and tampering."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from hubflow.webhooks import SIGNATURE_HEADER, SignatureError, sign, verify

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"order.accepted"}'
TS = 1_772_463_600


def test_header_format_and_mac() -> None:
    header = sign(SECRET, TS, BODY)
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={TS},v1={expected}"
    assert SIGNATURE_HEADER == "Hubflow-Signature"


def test_round_trip() -> None:
    verify(SECRET, sign(SECRET, TS, BODY), BODY, TS)
    verify(SECRET, sign(SECRET, TS, b""), b"", TS + 10)


def test_tolerance_both_ways() -> None:
    header = sign(SECRET, TS, BODY)
    verify(SECRET, header, BODY, TS + 300)
    verify(SECRET, header, BODY, TS - 300)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, header, BODY, TS + 301)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, header, BODY, TS - 301)
    verify(SECRET, header, BODY, TS + 3000, tolerance_s=3600)
    with pytest.raises(SignatureError):
        verify(SECRET, header, BODY, TS + 1, tolerance_s=0)


def test_tampered_body_is_rejected() -> None:
    header = sign(SECRET, TS, BODY)
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, header, BODY.replace(b"accepted", b"cancelled"), TS)
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, header, BODY + b" ", TS)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureError, match="mismatch"):
        verify("whsec_other", sign(SECRET, TS, BODY), BODY, TS)


def test_tampered_timestamp_is_rejected() -> None:
    # Moving the timestamp (to pass a replay window) breaks the MAC.
    mac = sign(SECRET, TS, BODY).split("v1=")[1]
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, f"t={TS + 100},v1={mac}", BODY, TS + 100)


def test_tampered_signature_is_rejected() -> None:
    header = sign(SECRET, TS, BODY)
    flipped = header[:-1] + ("0" if header[-1] != "0" else "1")
    with pytest.raises(SignatureError):
        verify(SECRET, flipped, BODY, TS)
    with pytest.raises(SignatureError):
        verify(SECRET, f"t={TS}", BODY, TS)  # no v1 at all
    with pytest.raises(SignatureError):
        verify(SECRET, f"t={TS},v0={header.split('v1=')[1]}", BODY, TS)  # wrong scheme


@pytest.mark.parametrize("header", ["", "v1=abc", "t=,v1=abc", "t=soon,v1=abc", "garbage"])
def test_malformed_header(header: str) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, header, BODY, TS)


def test_several_signatures_any_may_match_for_secret_rotation() -> None:
    good = sign(SECRET, TS, BODY).split("v1=")[1]
    old = sign("whsec_old", TS, BODY).split("v1=")[1]
    verify(SECRET, f"t={TS},v1={old},v1={good}", BODY, TS)
    verify("whsec_old", f"t={TS}, v1={old}, v1={good}", BODY, TS)
