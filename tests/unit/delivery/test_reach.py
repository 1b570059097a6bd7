"""Which parcels an epoch plans: only those some shift known could still deliver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hubflow.core.geo import LatLng
from hubflow.delivery.dispatch import _in_reach
from hubflow.delivery.fleet import Mode, spec_for
from hubflow.delivery.snapshot import Free, Parcel, Snapshot

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def _parcel(pid: str, opens_in_h: float) -> Parcel:
    opens = NOW + timedelta(hours=opens_in_h)
    return Parcel(
        pid, "ord", "mer", "hub", "ready", 1, None, LatLng(47.6, -122.3), 1000, 1000,
        (100, 100, 100), NOW, True, (opens, opens + timedelta(hours=4)), 0,
    )  # fmt: skip


def _free(ends_in_h: float) -> Free:
    return Free(
        "v1", "hub", spec_for(Mode.VAN), "van", NOW, NOW + timedelta(hours=ends_in_h),
        "veh", None, None,
    )  # fmt: skip


def _snap(free: list[Free], gig: list[Free]) -> Snapshot:
    parcels = [_parcel("tonight", -1), _parcel("soon", 1), _parcel("tomorrow", 13)]
    return Snapshot("r", NOW, {}, parcels, [], free, [], gig, [])


def test_parcels_for_after_every_shift_wait_unplanned() -> None:
    assert [p.id for p in _in_reach(_snap([_free(2)], []))] == ["tonight", "soon"]
    # A gig courier online later counts as a shift too.
    assert len(_in_reach(_snap([_free(2)], [_free(14)]))) == 3


def test_with_no_shift_known_every_parcel_is_planned() -> None:
    assert len(_in_reach(_snap([], []))) == 3
