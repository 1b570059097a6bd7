"""The demo's last mile, over the real HTTP API: a mixed fleet at every hub, the day's
parcels packed, one dispatch epoch planned by PyVRP, and one route driven to the door."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hubflow.network.model import HubKind
from hubflow.sim.metro import HubSpec

__all__ = ["FLEET", "LastMile", "build_fleet", "deliver_one", "fleet_for", "run_dispatch"]


class _Api(Protocol):
    def post(self, path: str, key: str, body: Any, **headers: str) -> Any: ...
    def created(self, path: str, key: str, body: Any) -> dict[str, Any]: ...


# The mix per kind of hub: (mode, how many); employees drive the vehicles that need one.
FLEET: dict[HubKind, list[tuple[str, int]]] = {
    HubKind.FULFILLMENT_CENTER: [("van", 6), ("autonomous_van", 2)],
    HubKind.DARK_STORE: [("cargo_bike", 3), ("robot", 2), ("drone", 2)],
    HubKind.STORE: [("car", 1), ("drone", 1)],
}
GIG_COURIERS = 8


def fleet_for(hub: HubSpec) -> list[tuple[str, int]]:
    return FLEET.get(hub.kind, [])


@dataclass
class LastMile:
    vehicles: Counter[str] = field(default_factory=Counter)
    couriers: dict[str, str] = field(default_factory=dict)  # courier id -> api key
    employees: int = 0
    gig: int = 0
    packed: int = 0
    run: dict[str, Any] = field(default_factory=dict)
    routes: list[dict[str, Any]] = field(default_factory=list)
    delivered: dict[str, Any] = field(default_factory=dict)


def build_fleet(
    api: _Api, key: str, hubs: dict[str, dict[str, Any]], specs: list[HubSpec], seed: int
) -> LastMile:
    """Vehicle types, vehicles, couriers with shifts from now, gig couriers, a carrier."""
    out = LastMile()
    now = datetime.now(UTC)
    shift = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=9)).isoformat()}
    types = {
        mode: api.created("/v1/vehicle-types", key, {"name": mode.replace("_", " "), "mode": mode})
        for mode in sorted({m for kind in FLEET.values() for m, _ in kind})
    }
    for spec in specs:
        hub = hubs[spec.key]
        for mode, n in fleet_for(spec):
            for i in range(n):
                v = api.created(
                    "/v1/vehicles",
                    key,
                    {
                        "name": f"{spec.name} {mode} {i + 1}",
                        "type_id": types[mode]["id"],
                        "hub_id": hub["id"],
                    },
                )
                out.vehicles[mode] += 1
                if mode in ("van", "car", "cargo_bike"):
                    c = api.created(
                        "/v1/couriers",
                        key,
                        {
                            "name": f"Driver {out.employees + 1}",
                            "kind": "employee",
                            "hub_id": hub["id"],
                            "vehicle_id": v["id"],
                        },
                    )
                    out.employees += 1
                    cid = c["courier"]["id"]
                    out.couriers[cid] = c["api_key"]
                    api.created(f"/v1/couriers/{cid}/shifts", key, shift)
                    api.post(f"/v1/couriers/{cid}/shift/start", c["api_key"], None)
    rng = random.Random(seed)
    shipping = [s for s in specs if s.kind is not HubKind.STORE]
    for i in range(GIG_COURIERS):
        hub = hubs[rng.choice(shipping).key]
        c = api.created(
            "/v1/couriers",
            key,
            {
                "name": f"Gig {i + 1}",
                "kind": "gig",
                "hub_id": hub["id"],
                "mode": rng.choice(["car", "cargo_bike"]),
            },
        )
        cid = c["courier"]["id"]
        out.couriers[cid] = c["api_key"]
        api.post(f"/v1/couriers/{cid}/shift/start", c["api_key"], None)
        out.gig += 1
    api.created(
        "/v1/carriers",
        key,
        {
            "name": "Cascade Parcel",
            "rate_card": {"base": 650, "per_kg": 95, "per_km": 14},
            "handoff_cutoff": "18:00",
        },
    )
    return out


def run_dispatch(api: _Api, key: str, region: str, out: LastMile) -> None:
    r = api.post(f"/v1/dispatch/{region}/runs", key, None)
    if r.status_code != 201:
        raise RuntimeError(f"dispatch answered {r.status_code}: {r.text[:300]}")
    out.run = r.json()
    routes = api.client().get(  # type: ignore[attr-defined]
        f"/v1/dispatch/{region}/routes",
        params={"status": "planned", "limit": 500},
        headers={"Authorization": f"Bearer {key}"},
    )
    out.routes = routes.json()["data"]


def deliver_one(api: _Api, key: str, out: LastMile) -> None:
    """Drive one route to its first door: load, go, arrive, deliver.

    An employee's route when there is one, with the courier's key; otherwise (at night
    only the fulfillment center ships, and its self-driving vans are the cheaper choice)
    a self-driving vehicle's route, with the operator key its integration would use.
    """
    client = api.client()  # type: ignore[attr-defined]
    for cid, ckey in out.couriers.items():
        auth = {"Authorization": f"Bearer {ckey}"}
        routes = client.get(f"/v1/couriers/{cid}/routes", headers=auth).json().get("data", [])
        if routes:
            _drive(api, ckey, routes[0], f"/v1/couriers/{cid}/location", out, cid)
            return
    for listed in out.routes:
        if listed["courier_id"] is None:
            auth = {"Authorization": f"Bearer {key}"}
            route = client.get(f"/v1/routes/{listed['id']}", headers=auth).json()
            _drive(api, key, route, f"/v1/vehicles/{listed['vehicle_id']}/location", out, None)
            return


def _drive(
    api: _Api, key: str, route: dict[str, Any], locate: str, out: LastMile, courier: str | None
) -> None:
    stop = route["stops"][0]
    steps = [
        (f"/v1/routes/{route['id']}/pickup", None),
        (locate, stop["location"]),
        (f"/v1/routes/{route['id']}/stops/{stop['id']}/arrive", None),
        (f"/v1/routes/{route['id']}/stops/{stop['id']}/deliver", {"received_by": "Resident"}),
    ]
    for path, body in steps:
        r = api.post(path, key, body, **{"Idempotency-Key": f"demo-{path}"})
        if r.status_code != 200:
            raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:300]}")
    client = api.client()  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {key}"}
    driven = client.get(f"/v1/routes/{route['id']}", headers=auth).json()
    out.delivered = {"route": driven, "shipment_id": stop["shipment_id"], "courier": courier}
