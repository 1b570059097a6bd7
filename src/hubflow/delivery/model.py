"""Last-mile rules as a pure model: shipment, route and stop state machines, failure
reasons and proof-of-delivery policies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hubflow.core.errors import IllegalTransition, InvalidInput

__all__ = [
    "FailReason",
    "ProofPolicy",
    "RouteStatus",
    "ShipmentStatus",
    "StopStatus",
    "check_route",
    "check_shipment",
    "check_stop",
]


class ShipmentStatus(StrEnum):
    PENDING = "pending"  # allocated at a hub, not packed yet
    READY = "ready"  # packed, waiting at the hub
    OFFERED = "offered"  # on a route offered to gig couriers
    ASSIGNED = "assigned"  # on a route of the own fleet or an accepted gig courier
    CARRIER_PENDING = "carrier_pending"  # quoted to a carrier, waiting for its handoff
    HANDED_TO_CARRIER = "handed_to_carrier"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"  # the attempt failed; the parcel is still on the vehicle
    REDIRECTED = "redirected"  # waiting for the customer at a store
    IN_LOCKER = "in_locker"  # deposited in a locker, waiting for its pickup code
    AWAITING_PICKUP = "awaiting_pickup"  # a pick-up-in-store order, ready at the counter
    RETURNED_TO_HUB = "returned_to_hub"
    COLLECTED = "collected"  # a return taken from the customer, on its way to the hub
    CANCELLED = "cancelled"


class RouteStatus(StrEnum):
    PLANNED = "planned"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    STARTED = "started"  # parcels loaded, the vehicle has left
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # re-planned before it left


class StopStatus(StrEnum):
    PLANNED = "planned"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class FailReason(StrEnum):
    NOT_AT_HOME = "not_at_home"
    ACCESS_DENIED = "access_denied"
    ADDRESS_NOT_FOUND = "address_not_found"
    REFUSED = "refused"
    DAMAGED = "damaged"
    UNSAFE = "unsafe"
    AGE_CHECK_FAILED = "age_check_failed"
    PIN_NOT_GIVEN = "pin_not_given"


Sh, Ro, St = ShipmentStatus, RouteStatus, StopStatus
SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    # Parcels are planned before they are packed ("ready or will be ready"); a re-plan
    # puts them back to waiting, packed (ready) or not (pending).
    Sh.PENDING: frozenset({Sh.READY, Sh.OFFERED, Sh.ASSIGNED, Sh.CARRIER_PENDING, Sh.CANCELLED}),
    Sh.READY: frozenset(
        {Sh.OFFERED, Sh.ASSIGNED, Sh.CARRIER_PENDING, Sh.AWAITING_PICKUP, Sh.CANCELLED}
    ),
    # Collected at the counter, or not collected in time (the goods go back on the shelf).
    Sh.AWAITING_PICKUP: frozenset({Sh.DELIVERED, Sh.CANCELLED}),
    Sh.OFFERED: frozenset({Sh.ASSIGNED, Sh.READY, Sh.PENDING, Sh.CARRIER_PENDING}),
    Sh.ASSIGNED: frozenset({Sh.READY, Sh.PENDING, Sh.OUT_FOR_DELIVERY}),
    Sh.CARRIER_PENDING: frozenset({Sh.HANDED_TO_CARRIER, Sh.READY, Sh.PENDING}),
    Sh.HANDED_TO_CARRIER: frozenset({Sh.DELIVERED}),
    Sh.OUT_FOR_DELIVERY: frozenset({Sh.DELIVERED, Sh.FAILED, Sh.IN_LOCKER, Sh.COLLECTED}),
    # A collected return is delivered to the hub when its vehicle gets back.
    Sh.COLLECTED: frozenset({Sh.DELIVERED}),
    Sh.IN_LOCKER: frozenset({Sh.DELIVERED, Sh.RETURNED_TO_HUB}),
    # A failed parcel comes back with the vehicle: tried again, sent to a store for
    # the customer to collect, or kept at the hub for the return flow.
    # A return nobody could hand over is called off (the customer may still drop it off).
    Sh.FAILED: frozenset({Sh.READY, Sh.REDIRECTED, Sh.RETURNED_TO_HUB, Sh.CANCELLED}),
    Sh.REDIRECTED: frozenset({Sh.DELIVERED, Sh.RETURNED_TO_HUB}),
    Sh.DELIVERED: frozenset(),
    Sh.RETURNED_TO_HUB: frozenset(),
    Sh.CANCELLED: frozenset(),
}
ROUTE_TRANSITIONS: dict[RouteStatus, frozenset[RouteStatus]] = {
    Ro.PLANNED: frozenset({Ro.OFFERED, Ro.ACCEPTED, Ro.STARTED, Ro.CANCELLED}),
    Ro.OFFERED: frozenset({Ro.ACCEPTED, Ro.CANCELLED}),
    Ro.ACCEPTED: frozenset({Ro.STARTED, Ro.CANCELLED}),
    Ro.STARTED: frozenset({Ro.COMPLETED}),
    Ro.COMPLETED: frozenset(),
    Ro.CANCELLED: frozenset(),
}
STOP_TRANSITIONS: dict[StopStatus, frozenset[StopStatus]] = {
    St.PLANNED: frozenset({St.ARRIVED, St.SKIPPED}),
    St.ARRIVED: frozenset({St.DELIVERED, St.FAILED}),
    St.DELIVERED: frozenset(),
    St.FAILED: frozenset(),
    St.SKIPPED: frozenset(),
}


def _check(kind: str, table: dict[Any, frozenset[Any]], current: StrEnum, target: StrEnum) -> None:
    if target not in table[current]:
        raise IllegalTransition(
            f"a {kind} that is {current.value} cannot become {target.value}",
            code=f"{kind}_out_of_order",
            details={
                "from": current.value,
                "to": target.value,
                "allowed": sorted(s.value for s in table[current]),
            },
        )


def check_shipment(current: ShipmentStatus, target: ShipmentStatus) -> None:
    _check("shipment", SHIPMENT_TRANSITIONS, current, target)


def check_route(current: RouteStatus, target: RouteStatus) -> None:
    _check("route", ROUTE_TRANSITIONS, current, target)


def check_stop(current: StopStatus, target: StopStatus) -> None:
    _check("stop", STOP_TRANSITIONS, current, target)


@dataclass(frozen=True)
class ProofPolicy:
    """What the courier must collect at the door. A PIN proves the customer was there,
    so it cannot go with leaving the parcel at the door."""

    pin: bool = False
    photo: bool = False
    signature: bool = False
    min_age: int | None = None
    leave_at_door: bool = False

    def __post_init__(self) -> None:
        if self.pin and self.leave_at_door:
            raise InvalidInput(
                "a delivery PIN needs the customer at the door; it cannot go with leave_at_door",
                code="pin_with_leave_at_door",
            )
        if self.min_age is not None and not 16 <= self.min_age <= 25:
            raise InvalidInput("min_age must be between 16 and 25", code="invalid_min_age")
        if self.min_age is not None and self.leave_at_door:
            raise InvalidInput(
                "an age check needs the customer at the door", code="age_check_with_leave_at_door"
            )

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ProofPolicy:
        return cls(**(data or {}))

    def as_json(self) -> dict[str, Any]:
        return {
            "pin": self.pin,
            "photo": self.photo,
            "signature": self.signature,
            "min_age": self.min_age,
            "leave_at_door": self.leave_at_door,
        }

    def missing(self, proof: dict[str, Any]) -> list[str]:
        """The proofs the policy asks for that ``proof`` lacks."""
        need = []
        if self.pin and not proof.get("pin"):
            need.append("pin")
        if self.photo and not proof.get("photo_base64"):
            need.append("photo")
        if self.signature and not proof.get("signature_base64"):
            need.append("signature")
        if self.min_age is not None and not proof.get("age_verified"):
            need.append("age_check")
        return need
