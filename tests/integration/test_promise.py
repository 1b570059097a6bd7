"""The delivery promise end to end through the API, on SQLite and PostgreSQL: quotes,
orders on a quote, expiry, capacity, cancellation, safety stock, settings and the edge
cases of the issue (empty cart, unknown product, outside every service area, too heavy,
closed hubs, every slot full, a quote used twice, another merchant's quote)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.geo import LatLng
from hubflow.core.idempotency import body_fingerprint
from hubflow.network.model import DAYS
from hubflow.orders import service as orders
from hubflow.promise import service as promise
from hubflow.promise.model import OptionCode, PromiseConfig
from hubflow.promise.store import capacity_slots_table, slot_bookings_table
from tests.builders import make_hub, make_merchant, make_product, order_request, position, receive
from tests.conftest import T0, Api

STORE_HOURS = {d: [["07:00", "22:00"]] for d in DAYS}
DEST = {"lat": 47.61, "lng": -122.33}
# Every option this world can offer: it has no lockers (test_lockers covers that option).
ALL = [o.value for o in OptionCode if o is not OptionCode.LOCKER]


@dataclass
class World:
    api: Api
    mh: dict[str, str]
    merchant_id: str
    fc: str
    store: str
    p: str
    q: str

    def quote(self, lines: list[tuple[str, int]], *, member: bool = False,
              headers: dict[str, str] | None = None, **address: float) -> Any:  # fmt: skip
        r = self.api.client.post(
            "/v1/quotes",
            json={
                "address": {**DEST, **address},
                "lines": [{"product_id": p, "quantity": n} for p, n in lines],
                "customer": {"id": "cus_42", "member": member},
            },
            headers=headers or self.mh,
        )
        return r

    def order(self, lines: list[tuple[str, int]], key: str, **extra: Any) -> Any:
        return self.api.client.post(
            "/v1/orders",
            json=self.api.order_body(lines, **extra),
            headers={**self.mh, "Idempotency-Key": key},
        )

    def options(self, quote: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {o["code"]: o for o in quote["options"]}

    def reasons(self, quote: dict[str, Any]) -> dict[str, str]:
        """Why each option is not offered (but the locker option: this world has none)."""
        out = {u["code"]: u["reason"] for u in quote["unavailable"]}
        assert out.pop("locker") in ("no_locker_nearby", "not_offered")
        return out

    def set_hub(self, hub_id: str, **settings: Any) -> None:
        r = self.api.client.put(f"/v1/hubs/{hub_id}/promise", json=settings, headers=self.api.op)
        assert r.status_code == 200, r.text

    def slots(self, hub_id: str) -> list[dict[str, Any]]:
        r = self.api.client.get(f"/v1/hubs/{hub_id}/capacity", headers=self.api.op)
        assert r.status_code == 200, r.text
        return list(r.json()["slots"])


@pytest.fixture
def w(api: Api) -> World:
    mid, mh = api.merchant("Corner Grocer")
    fc = api.hub(name="Kent FC", location={"lat": 47.39, "lng": -122.26}, service_radius_km=60)
    store = api.hub(
        name="Pike Store",
        kind="store",
        location={"lat": 47.615, "lng": -122.335},
        service_radius_km=8,
        capabilities=["ship_from_store", "pick_up_in_store"],
        opening_hours=STORE_HOURS,
    )
    p = api.product(mh, "LOAF")
    q = api.product(mh, "JAM", weight_g=400)
    return World(api, mh, mid, fc, store, p, q)


# -- quote and order -----------------------------------------------------------------------


def test_quote_offers_every_option_and_an_order_keeps_it(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    r = w.quote([(w.p, 2)])
    assert r.status_code == 201, r.text
    quote = r.json()
    assert quote["id"].startswith("quo_")
    assert quote["expires_at"] == "2026-03-02T15:10:00Z"  # 10 minutes
    opts = w.options(quote)
    assert list(opts) == ALL, quote["unavailable"]
    same_day = opts["same_day"]
    assert same_day["window"]["from_local"] == "2026-03-02T17:00:00-08:00"
    assert same_day["window"]["from"] == "2026-03-03T01:00:00Z"
    assert same_day["cutoff"] == "2026-03-02T22:00:00Z"
    assert same_day["fee"] == {"amount": 699, "currency": "USD"}
    assert same_day["shipments"] == [{"hub_id": w.store, "mode": "bike"}]
    pickup = opts["pickup_in_store"]["pickup_locations"]
    assert [p["hub_id"] for p in pickup] == [w.store]
    assert pickup[0]["ready_by"] == "2026-03-02T15:30:00Z"  # opens 07:00, 30 min pick-pack
    assert w.api.client.get(f"/v1/quotes/{quote['id']}", headers=w.mh).json() == quote

    r = w.order([(w.p, 2)], "k1", quote_id=quote["id"], option="same_day")
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["promise"]["window"] == same_day["window"]
    assert order["promise"]["fee"] == same_day["fee"]
    assert order["promise"]["quote_id"] == quote["id"]
    assert [a["hub_id"] for a in order["allocations"]] == [w.store]
    assert position(w.api.engine, w.store, w.p).reserved == 2
    slots = w.slots(w.store)
    assert [(s["option"], s["used"], s["capacity"]) for s in slots] == [("same_day", 1, 200)]
    # The same key and body replay the same order.
    again = w.order([(w.p, 2)], "k1", quote_id=quote["id"], option="same_day")
    assert again.status_code == 201 and again.json() == order
    assert again.headers["Idempotent-Replayed"] == "true"
    assert w.slots(w.store)[0]["used"] == 1


def test_pickup_order_at_a_chosen_location(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    quote = w.quote([(w.p, 1)]).json()
    r = w.order(
        [(w.p, 1)], "k", quote_id=quote["id"], option="pickup_in_store", pickup_hub_id=w.store
    )
    assert r.status_code == 201, r.text
    assert r.json()["promise"]["pickup_hub_id"] == w.store
    assert r.json()["promise"]["window"]["from"] == "2026-03-02T15:30:00Z"
    other = w.order(
        [(w.p, 1)], "k2", quote_id=quote["id"], option="pickup_in_store", pickup_hub_id=w.fc
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "unknown_pickup_location"


def test_split_across_hubs_when_no_hub_has_everything(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    w.api.receive(w.mh, w.fc, w.q, 5)
    quote = w.quote([(w.p, 1), (w.q, 1)]).json()
    nd = w.options(quote)["next_day"]
    assert nd["split"] is True
    assert {s["hub_id"] for s in nd["shipments"]} == {w.store, w.fc}
    assert "pickup_in_store" in w.reasons(quote)  # a pick-up is never split
    r = w.order([(w.p, 1), (w.q, 1)], "k", quote_id=quote["id"], option="next_day")
    assert r.status_code == 201, r.text
    assert r.json()["split"] is True
    assert {s["hub_id"] for s in w.slots(w.store) + w.slots(w.fc)} == {w.store, w.fc}


# -- expiry, cutoffs, capacity -------------------------------------------------------------


def test_an_expired_quote_answers_409_with_what_is_available_now(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    quote = w.quote([(w.p, 1)]).json()
    assert isinstance(w.api.clock, ManualClock)
    w.api.clock.advance(timedelta(minutes=10))
    r = w.order([(w.p, 1)], "k", quote_id=quote["id"], option="same_day")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "quote_expired"
    assert {o["code"] for o in err["details"]["options"]} == set(ALL)
    fresh = err["details"]["quote_id"]
    assert fresh != quote["id"]
    ok = w.order([(w.p, 1)], "k", quote_id=fresh, option="same_day")
    assert ok.status_code == 201, ok.text


def test_the_cutoff_passing_between_quote_and_order(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    w.api.clock.set(T0.replace(hour=21, minute=55))  # 13:55 PST
    quote = w.quote([(w.p, 1)]).json()
    assert w.options(quote)["same_day"]["cutoff"] == "2026-03-02T22:00:00Z"
    w.api.clock.advance(timedelta(minutes=5))
    r = w.order([(w.p, 1)], "k", quote_id=quote["id"], option="same_day")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "option_unavailable"
    assert err["details"]["reason"] == "cutoff_passed"
    assert "same_day" not in {o["code"] for o in err["details"]["options"]}
    assert {u["code"]: u["reason"] for u in err["details"]["unavailable"]}["same_day"] == (
        "cutoff_passed"
    )
    # Other options of the same quote are still good.
    assert w.order([(w.p, 1)], "k2", quote_id=quote["id"], option="next_day").status_code == 201


def test_a_quote_used_twice_when_capacity_is_one(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    r = w.api.client.put(
        f"/v1/hubs/{w.store}/capacity",
        json={"slots": [{"option": "same_day", "at": "2026-03-02T18:00:00-08:00", "capacity": 1}]},
        headers=w.api.op,
    )
    assert r.status_code == 200, r.text
    assert r.json()["slots"][0]["slot_start"] == "2026-03-03T01:00:00Z"
    quote = w.quote([(w.p, 1)]).json()
    assert "same_day" in w.options(quote)
    first = w.order([(w.p, 1)], "k1", quote_id=quote["id"], option="same_day")
    assert first.status_code == 201, first.text
    second = w.order([(w.p, 1)], "k2", quote_id=quote["id"], option="same_day")
    assert second.status_code == 409
    err = second.json()["error"]
    assert err["code"] == "option_unavailable"
    assert err["details"]["reason"] == "no_capacity"
    assert "same_day" not in {o["code"] for o in err["details"]["options"]}
    assert position(w.api.engine, w.store, w.p).reserved == 1  # nothing half-written
    # The capacity cannot go below what is booked.
    r = w.api.client.put(
        f"/v1/hubs/{w.store}/capacity",
        json={"slots": [{"option": "same_day", "at": "2026-03-03T01:00:00Z", "capacity": 0}]},
        headers=w.api.op,
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "capacity_below_used"


def test_every_slot_full(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    w.api.receive(w.mh, w.fc, w.p, 5)
    for hub in (w.store, w.fc):
        w.set_hub(hub, capacity={o: 0 for o in ALL})
    quote = w.quote([(w.p, 1)]).json()
    assert quote["options"] == []
    assert w.reasons(quote) == dict.fromkeys(ALL, "no_capacity")


def test_cancel_releases_the_slot_and_the_stock_once(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    quote = w.quote([(w.p, 2)]).json()
    order = w.order([(w.p, 2)], "k", quote_id=quote["id"], option="express_2h").json()
    assert w.slots(w.store)[0]["used"] == 1
    assert w.slots(w.store)[0]["option"] == "express_2h"
    r = w.api.client.post(f"/v1/orders/{order['id']}/cancel", headers=w.mh)
    assert r.status_code == 200, r.text
    assert w.slots(w.store)[0]["used"] == 0
    assert position(w.api.engine, w.store, w.p).reserved == 0
    again = w.api.client.post(f"/v1/orders/{order['id']}/cancel", headers=w.mh)
    assert again.status_code == 409
    assert w.slots(w.store)[0]["used"] == 0
    b = slot_bookings_table.c
    with UnitOfWork(w.api.engine, readonly=True) as uow:
        statuses = uow.conn.execute(select(b.status).where(b.order_id == order["id"])).all()
    assert [s.status for s in statuses] == ["released"]


def test_safety_stock_is_kept_for_walk_ins(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 3)
    w.set_hub(w.store, safety_stock=2)
    quote = w.quote([(w.p, 2)]).json()
    assert quote["options"] == []
    assert set(w.reasons(quote).values()) == {"no_stock"}
    quote = w.quote([(w.p, 1)]).json()
    assert "same_day" in w.options(quote)
    assert w.order([(w.p, 1)], "k", quote_id=quote["id"], option="same_day").status_code == 201
    # Orders without a quote and holds keep the safety stock too.
    plain = w.order([(w.p, 1)], "plain")
    assert plain.status_code == 409
    assert plain.json()["error"]["code"] == "insufficient_stock"
    assert plain.json()["error"]["details"]["short_lines"][0]["available"] == 0
    assert position(w.api.engine, w.store, w.p).reserved == 1


# -- edge cases ----------------------------------------------------------------------------


def test_outside_every_service_area_is_an_empty_list_not_an_error(w: World) -> None:
    r = w.quote([(w.p, 1)], lat=40.71, lng=-74.0)  # New York
    assert r.status_code == 201
    assert r.json()["options"] == []
    assert w.reasons(r.json()) == dict.fromkeys(ALL, "outside_service_area")


def test_empty_cart_unknown_product_and_duplicate_lines(w: World) -> None:
    r = w.quote([])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "empty_cart"
    _, other_headers = w.api.merchant("Other")
    foreign = w.api.product(other_headers, "THEIRS")
    r = w.quote([(foreign, 1)])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_product"
    r = w.quote([(w.p, 1), (w.p, 2)])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "duplicate_line"


def test_a_cart_too_heavy_or_too_large_for_every_mode(w: World) -> None:
    piano = w.api.product(w.mh, "PIANO", weight_g=900_000)
    sofa = w.api.product(
        w.mh, "SOFA", weight_g=60_000, dimensions_mm={"length": 3000, "width": 900, "height": 800}
    )
    frozen = w.api.product(w.mh, "PEAS", temperature="frozen")
    for p in (piano, sofa, frozen):
        w.api.receive(w.mh, w.store, p, 2)
    reasons = w.reasons(w.quote([(piano, 1)]).json())
    assert {reasons[o] for o in ("express_2h", "same_day", "next_day", "standard_2d")} == {
        "cart_too_heavy"
    }
    assert "pickup_in_store" not in reasons  # a customer may still collect it
    reasons = w.reasons(w.quote([(sofa, 1)]).json())
    assert reasons["next_day"] == "cart_too_large"
    assert reasons["express_2h"] == "cart_too_large"
    quote = w.quote([(frozen, 1)]).json()
    assert w.reasons(quote)["express_2h"] == "temperature_not_supported"
    assert w.options(quote)["same_day"]["shipments"][0]["mode"] == "van"


def test_closed_hubs(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    w.api.clock.set(T0.replace(hour=12))  # 04:00 PST: the store opens at 07:00
    quote = w.quote([(w.p, 1)]).json()
    assert w.reasons(quote)["express_2h"] == "hub_closed"
    assert w.options(quote)["pickup_in_store"]["pickup_locations"][0]["ready_by"] == (
        "2026-03-02T15:30:00Z"
    )
    w.api.clock.set(T0.replace(hour=23))  # 15:00 PST
    assert w.reasons(w.quote([(w.p, 1)]).json())["same_day"] == "cutoff_passed"


def test_another_merchants_quote_is_404(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    quote = w.quote([(w.p, 1)]).json()
    _, other = w.api.merchant("Other")
    assert w.api.client.get(f"/v1/quotes/{quote['id']}", headers=other).status_code == 404
    r = w.api.client.post(
        "/v1/orders",
        json=w.api.order_body([(w.p, 1)], quote_id=quote["id"], option="same_day"),
        headers={**other, "Idempotency-Key": "x"},
    )
    assert r.status_code in (404, 422)  # the product is not theirs either
    own = w.api.product(other, "OWN")
    r = w.api.client.post(
        "/v1/orders",
        json=w.api.order_body([(own, 1)], quote_id=quote["id"], option="same_day"),
        headers={**other, "Idempotency-Key": "y"},
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "quote_not_found"


def test_order_must_match_the_quote(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    quote = w.quote([(w.p, 1)]).json()
    r = w.order([(w.p, 2)], "k", quote_id=quote["id"], option="same_day")
    assert r.status_code == 422 and r.json()["error"]["code"] == "quote_mismatch"
    r = w.order([(w.p, 1)], "k", quote_id=quote["id"], option="same_day", lat=47.62)
    assert r.status_code == 422 and r.json()["error"]["code"] == "quote_mismatch"
    r = w.order([(w.p, 1)], "k", quote_id=quote["id"])
    assert r.status_code == 422  # option missing


def test_option_not_in_the_quote(w: World) -> None:
    w.api.receive(w.mh, w.fc, w.p, 5)  # only the FC, which has no pick-up
    quote = w.quote([(w.p, 1)]).json()
    assert w.reasons(quote)["pickup_in_store"] == "no_stock"
    r = w.order([(w.p, 1)], "k", quote_id=quote["id"], option="pickup_in_store")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "option_unavailable"
    assert r.json()["error"]["details"]["reason"] == "no_stock"


# -- settings ------------------------------------------------------------------------------


def test_merchant_settings_fees_members_and_offered_options(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    r = w.api.client.put(
        "/v1/merchants/me/promise-settings",
        json={
            "offered": ["express_2h", "same_day", "pickup_in_store"],
            "fees": {"same_day": 500},
            "member_free_threshold": {"same_day": 1000},
            "members_only": ["express_2h"],
        },
        headers=w.mh,
    )
    assert r.status_code == 200, r.text
    got = w.api.client.get("/v1/merchants/me/promise-settings", headers=w.mh).json()
    assert got == r.json()
    assert got["fees"]["same_day"] == 500
    guest = w.quote([(w.p, 1)]).json()
    assert w.reasons(guest) == {
        "express_2h": "members_only",
        "next_day": "not_offered",
        "standard_2d": "not_offered",
    }
    assert w.options(guest)["same_day"]["fee"]["amount"] == 500
    small = w.quote([(w.p, 1)], member=True).json()  # 650 < 1000
    assert w.options(small)["same_day"]["fee"]["amount"] == 500
    assert "express_2h" in w.options(small)
    big = w.quote([(w.p, 2)], member=True).json()  # 1300 >= 1000
    assert w.options(big)["same_day"]["fee"] == {"amount": 0, "currency": "USD"}
    assert w.options(big)["same_day"]["fee_waived"] is True
    # The member's fee is the one the order keeps.
    r = w.order([(w.p, 2)], "k", quote_id=big["id"], option="same_day")
    assert r.json()["promise"]["fee"]["amount"] == 0


def test_hub_settings_change_the_promise_at_once(w: World) -> None:
    w.api.receive(w.mh, w.store, w.p, 5)
    w.set_hub(w.store, pick_pack_minutes=90, same_day_cutoff="06:00")
    got = w.api.client.get(f"/v1/hubs/{w.store}/promise", headers=w.mh).json()
    assert got["pick_pack_minutes"] == 90
    assert got["capacity"]["express_2h"] == 20
    quote = w.quote([(w.p, 1)]).json()
    assert w.options(quote)["pickup_in_store"]["pickup_locations"][0]["ready_by"] == (
        "2026-03-02T16:30:00Z"
    )
    assert w.reasons(quote)["same_day"] == "cutoff_passed"
    bad = w.api.client.put(
        f"/v1/hubs/{w.store}/promise",
        json={"same_day_window": ["21:00", "17:00"]},
        headers=w.api.op,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_promise_settings"
    forbidden = w.api.client.put(f"/v1/hubs/{w.store}/promise", json={}, headers=w.mh)
    assert forbidden.status_code == 403
    missing = w.api.client.put(
        "/v1/hubs/hub_01JD0000000000000000000000/promise", json={}, headers=w.api.op
    )
    assert missing.status_code == 404


def test_a_new_hub_is_seen_by_the_next_quote(w: World) -> None:
    far = {"lat": 45.52, "lng": -122.68}  # Portland
    assert w.quote([(w.p, 1)], **far).json()["options"] == []
    hub = w.api.hub(name="Portland FC", location=far, service_radius_km=30)
    w.api.receive(w.mh, hub, w.p, 3)
    assert w.quote([(w.p, 1)], **far).json()["options"] != []
    w.api.client.post(f"/v1/hubs/{hub}/deactivate", headers=w.api.op)
    assert w.quote([(w.p, 1)], **far).json()["options"] == []


# -- concurrency: capacity is consumed atomically ------------------------------------------


def test_concurrent_orders_never_overbook_a_slot(engine: Engine) -> None:
    now = T0
    m = make_merchant(engine, now)
    hub = make_hub(engine, now)
    p = make_product(engine, now, m)
    receive(engine, now, m, hub, p, 100)
    with UnitOfWork(engine) as uow:
        promise.set_hub_promise(uow, hub, {"capacity": {"next_day": 3}}, now, PromiseConfig())
    dest = LatLng(47.61, -122.33)
    req = promise.QuoteRequest(lines=[(p, 1)], destination=dest)
    quote = promise.create_quote(engine, m, req, now, PromiseConfig())
    assert "next_day" in {o["code"] for o in quote["options"]}
    results: list[int | str] = []

    def place(i: int) -> None:
        order = order_request([(p, 1)], dest, quote_id=quote["id"], option=OptionCode.NEXT_DAY)
        try:
            placed = orders.place_order(
                engine, m, m, f"key-{i}", body_fingerprint("POST", "/o", i), order, now
            )
            results.append(placed.status_code)
        except promise.PromiseConflict as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == ["201"] * 3 + ["option_unavailable"] * 5
    cs = capacity_slots_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.conn.execute(select(cs.capacity, cs.used)).all()
    assert [(r.capacity, r.used) for r in rows] == [(3, 3)]
    assert position(engine, hub, p).reserved == 3
