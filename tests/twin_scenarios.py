"""A tiny twin scenario for the test suite: two hubs, one locker bank, two merchants, a
few dozen orders; runs in seconds."""

from __future__ import annotations

from typing import Any


def tiny(orders: int = 30, **delivery: Any) -> dict[str, Any]:
    return {
        "name": "tiny",
        "seed": 3,
        "date": "2026-11-24",
        "start_hour": 8,
        "end_hour": 13,
        "timezone": "America/Los_Angeles",
        "region": "tiny",
        "stock_days": 3.0,
        "demand": {
            "orders_per_day": orders,
            "customers": 200,
            "member_share": 0.5,
            "conversion": 0.95,
            "option_mix": {"express_2h": 0.5, "same_day": 0.4, "pickup_in_store": 0.1},
        },
        "delivery": {
            "epoch_minutes": 30,
            "planner_iterations": 20,
            "not_at_home": 0.3,
            "locker_radius_km": 3.0,
            "locker_collect_hours": [0.2, 2.0],
            "store_collect_hours": [0.2, 2.0],
            **delivery,
        },
        "returns": {
            "rate": {"grocer": 0.5, "electronics": 0.5},
            "drop_off_hours": [0.5, 1.0],
            "inspect_hours": 0.5,
        },
        "gig": {"car": 1},
        "carrier": {
            "name": "Tiny Parcel",
            "base": 600,
            "per_kg": 90,
            "per_km": 12,
            "cutoff": "16:00",
        },
        "hubs": [
            {
                "key": "dark",
                "name": "SoDo Dark Store",
                "kind": "dark_store",
                "lat": 47.5801,
                "lng": -122.3344,
                "radius_km": 12.0,
                "hours": "dark_store",
                "fleet": {"cargo_bike": 2, "drone": 1},
                "staff": {
                    "pickers": 2,
                    "pick_lines_per_hour": 120,
                    "pack_seconds": 45,
                    "shift": ["06:00", "24:00"],
                    "receive_at": "11:00",
                },
            },
            {
                "key": "store",
                "name": "Capitol Hill",
                "kind": "store",
                "lat": 47.6231,
                "lng": -122.3208,
                "radius_km": 6.0,
                "hours": "store",
                "fleet": {"car": 1},
                "staff": {"pickers": 1},
            },
        ],
        "lockers": [
            {
                "key": "westlake",
                "name": "Westlake lockers",
                "hub": "store",
                "lat": 47.6115,
                "lng": -122.3370,
                "compartments": {"S": 4, "M": 4, "L": 2},
            },
        ],
        "merchants": [
            {
                "key": "grocer",
                "kind": "grocer",
                "name": "Cascade Fresh",
                "share": 0.6,
                "fc_coverage": 1.0,
                "store_coverage": 0.6,
            },
            {
                "key": "electronics",
                "kind": "electronics",
                "name": "Sound Electronics",
                "share": 0.4,
                "fc_coverage": 1.0,
                "store_coverage": 0.5,
            },
        ],
        "areas": [
            {
                "name": "Capitol Hill",
                "lat": 47.625,
                "lng": -122.318,
                "spread_km": 1.0,
                "population": 35,
                "postcode": "98102",
            },
            {
                "name": "Downtown",
                "lat": 47.608,
                "lng": -122.335,
                "spread_km": 1.0,
                "population": 30,
                "postcode": "98101",
            },
        ],
    }
