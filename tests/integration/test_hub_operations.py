"""Inside the hub through HTTP, on both databases: a layout, a notice received and stowed
(stock promisable only once stowed), a wave picked in walking order with wrong scans
refused, a short pick sent to another bin, and the parcel packed with a label."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api


def _hub(api: Api) -> dict[str, Any]:
    hub = api.hub()
    _, mh = api.merchant("Grocer")
    tea = api.product(
        mh, sku="TEA", weight_g=300, dimensions_mm={"length": 150, "width": 100, "height": 80}
    )
    jar = api.product(
        mh, sku="JAR", weight_g=900, dimensions_mm={"length": 100, "width": 100, "height": 150}
    )
    r = api.client.put(
        f"/v1/hubs/{hub}/layout",
        headers=api.op,
        json={"generate": {"aisles": 3, "bins_per_side": 4, "levels": 2, "zones": ["a", "b"]}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["bins"] == 3 * 2 * 4 * 2
    r = api.client.put(
        f"/v1/hubs/{hub}/boxes",
        headers=api.op,
        json={
            "boxes": [
                {"code": "S", "dims_mm": [200, 150, 100], "max_weight_g": 5000, "cost": 40},
                {"code": "M", "dims_mm": [400, 300, 200], "max_weight_g": 15000, "cost": 90},
            ]
        },
    )
    assert r.status_code == 200, r.text
    return {"hub": hub, "mh": mh, "tea": tea, "jar": jar}


def _stock(api: Api, h: dict[str, Any], product: str) -> int:
    r = api.client.get(
        "/v1/stock", params={"hub_id": h["hub"], "product_id": product}, headers=h["mh"]
    )
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    return int(rows[0]["on_hand"]) if rows else 0


def _receive_and_stow(api: Api, h: dict[str, Any], product: str, qty: int) -> dict[str, Any]:
    asn = api.client.post(
        "/v1/asns",
        headers=h["mh"],
        json={"hub_id": h["hub"], "lines": [{"product_id": product, "quantity": qty}]},
    ).json()
    r = api.client.post(
        f"/v1/asns/{asn['id']}/receipts",
        headers=api.op,
        json={"product_id": product, "quantity": qty},
    )
    assert r.status_code == 200, r.text
    sug = api.client.post(
        f"/v1/asns/{asn['id']}/stow-suggestion",
        headers=api.op,
        json={"product_id": product, "quantity": qty},
    ).json()
    r = api.client.post(
        f"/v1/asns/{asn['id']}/stows",
        headers=api.op,
        json={"product_id": product, "quantity": qty, "bin_code": sug["bin_code"]},
    )
    assert r.status_code == 200, r.text
    return {"asn": asn, "bin_code": sug["bin_code"]}


def test_receive_and_stow_against_a_notice(api: Api) -> None:
    h = _hub(api)
    r = api.client.post(
        "/v1/asns",
        headers=h["mh"],
        json={
            "hub_id": h["hub"],
            "lines": [
                {"product_id": h["tea"], "quantity": 10},
                {"product_id": h["jar"], "quantity": 4},
            ],
            "reference": "PO-77",
        },
    )
    assert r.status_code == 201, r.text
    asn = r.json()["id"]
    scans = [(h["tea"], 8, False), (h["tea"], 1, True), (h["jar"], 5, False)]
    for product, qty, damaged in scans:
        r = api.client.post(
            f"/v1/asns/{asn}/receipts",
            headers={**api.op, "Idempotency-Key": f"{product}{qty}"},
            json={"product_id": product, "quantity": qty, "damaged": damaged},
        )
        assert r.status_code == 200, r.text
    again = api.client.post(
        f"/v1/asns/{asn}/receipts",
        headers={**api.op, "Idempotency-Key": f"{h['jar']}5"},
        json={"product_id": h["jar"], "quantity": 5, "damaged": False},
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = api.product(h["mh"], sku="NOT-ON-ASN")
    r = api.client.post(f"/v1/asns/{asn}/receipts", headers=api.op, json={"product_id": other})
    assert r.status_code == 409 and r.json()["error"]["code"] == "product_not_on_asn"
    # At the dock, not yet promisable.
    assert _stock(api, h, h["tea"]) == 0
    sug = api.client.post(
        f"/v1/asns/{asn}/stow-suggestion",
        headers=api.op,
        json={"product_id": h["tea"], "quantity": 8},
    ).json()
    bad = api.client.post(
        f"/v1/asns/{asn}/stows",
        headers=api.op,
        json={"product_id": h["tea"], "quantity": 9, "bin_code": sug["bin_code"]},
    )
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "not_at_dock"
    bad = api.client.post(
        f"/v1/asns/{asn}/stows",
        headers=api.op,
        json={"product_id": h["tea"], "quantity": 8, "bin_code": "NOPE"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_bin"
    r = api.client.post(
        f"/v1/asns/{asn}/stows",
        headers=api.op,
        json={"product_id": h["tea"], "quantity": 8, "bin_code": sug["bin_code"]},
    )
    assert r.status_code == 200, r.text
    assert _stock(api, h, h["tea"]) == 8
    closed = api.client.post(f"/v1/asns/{asn}/close", headers=api.op).json()
    lines = {x["product_id"]: x for x in closed["lines"]}
    assert lines[h["tea"]]["short"] == 1 and lines[h["tea"]]["damaged"] == 1
    assert lines[h["jar"]]["over"] == 1 and lines[h["jar"]]["at_dock"] == 5


def test_wave_pick_pack_and_label(api: Api) -> None:
    h = _hub(api)
    _receive_and_stow(api, h, h["tea"], 6)
    _receive_and_stow(api, h, h["jar"], 6)
    orders = []
    for qty in (1, 2):
        body = api.order_body([(h["tea"], qty), (h["jar"], 1)])
        r = api.client.post(
            "/v1/orders", json=body, headers={**h["mh"], "Idempotency-Key": f"o{qty}"}
        )
        assert r.status_code == 201, r.text
        orders.append(r.json())
    cutoff = (api.clock.now() + timedelta(hours=4)).isoformat()
    r = api.client.post(f"/v1/hubs/{h['hub']}/waves", headers=api.op, json={"cutoff": cutoff})
    assert r.status_code == 201, r.text
    wave = r.json()
    # The answer is built from what was written: it reads back the same.
    assert api.client.get(f"/v1/waves/{wave['id']}", headers=api.op).json() == wave
    picks = [p for b in wave["batches"] for p in b["picks"]]
    assert len(picks) == 4 and all(p["bin_code"] for p in picks)
    assert len(wave["batches"]) == 1  # both orders fit on one cart
    first = picks[0]
    r = api.client.post(
        f"/v1/picks/{first['task_id']}/scan",
        headers=api.op,
        json={"bin_code": "WRONG", "product_id": first["product_id"]},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_bin"
    other = h["jar"] if first["product_id"] == h["tea"] else h["tea"]
    r = api.client.post(
        f"/v1/picks/{first['task_id']}/scan",
        headers=api.op,
        json={"bin_code": first["bin_code"], "product_id": other},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_product"
    ship = orders[0]["shipments"][0]["id"]
    r = api.client.post(f"/v1/shipments/{ship}/pack", headers=api.op)
    assert r.status_code == 409 and r.json()["error"]["code"] == "picks_open"
    for p in picks:
        r = api.client.post(
            f"/v1/picks/{p['task_id']}/scan",
            headers=api.op,
            json={
                "bin_code": p["bin_code"],
                "product_id": p["product_id"],
                "quantity": p["quantity"],
            },
        )
        assert r.status_code == 200, r.text
    r = api.client.post(f"/v1/shipments/{ship}/pack", headers=api.op)
    assert r.status_code == 200, r.text
    packed = r.json()
    assert packed["status"] == "ready" and packed["weight_g"] == 300 + 900
    assert packed["cartons"][0]["box"] in ("S", "M")
    pdf = api.client.get(f"/v1/shipments/{ship}/label.pdf", headers=api.op)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    order = api.client.get(f"/v1/orders/{orders[0]['id']}", headers=h["mh"]).json()
    assert order["status"] == "packed"


def test_short_pick_goes_to_another_bin(api: Api) -> None:
    h = _hub(api)
    first = _receive_and_stow(api, h, h["tea"], 3)
    second = _receive_and_stow(api, h, h["tea"], 3)
    assert first["bin_code"] != second["bin_code"]  # the spread policy uses another zone
    body = api.order_body([(h["tea"], 2)])
    r = api.client.post("/v1/orders", json=body, headers={**h["mh"], "Idempotency-Key": "s1"})
    assert r.status_code == 201, r.text
    cutoff = (api.clock.now() + timedelta(hours=4)).isoformat()
    wave = api.client.post(
        f"/v1/hubs/{h['hub']}/waves", headers=api.op, json={"cutoff": cutoff}
    ).json()
    task = wave["batches"][0]["picks"][0]
    r = api.client.post(f"/v1/picks/{task['task_id']}/short", headers=api.op, json={"found": 0})
    assert r.status_code == 200, r.text
    nxt = r.json()["next_task"]
    assert nxt is not None and nxt["quantity"] == 2
    wave = api.client.get(f"/v1/waves/{wave['id']}", headers=api.op).json()
    bins = {p["bin_code"] for p in wave["batches"][0]["picks"] if p["status"] == "open"}
    assert bins and task["bin_code"] not in bins
    # The missing units left the hub's count; the order's two are still held.
    assert _stock(api, h, h["tea"]) == 3


def test_cycle_count_corrects_the_bin_and_the_stock(api: Api) -> None:
    h = _hub(api)
    placed = _receive_and_stow(api, h, h["tea"], 5)
    r = api.client.post(
        f"/v1/hubs/{h['hub']}/cycle-counts",
        headers=api.op,
        json={"bin_code": placed["bin_code"], "product_id": h["tea"]},
    )
    assert r.status_code == 201, r.text
    count = r.json()["id"]
    r = api.client.post(f"/v1/cycle-counts/{count}", headers=api.op, json={"counted": 3})
    assert r.status_code == 200, r.text
    assert r.json()["expected"] == 5 and r.json()["counted"] == 3
    assert _stock(api, h, h["tea"]) == 3
    again = api.client.post(f"/v1/cycle-counts/{count}", headers=api.op, json={"counted": 3})
    assert again.status_code == 409 and again.json()["error"]["code"] == "count_done"
    done = api.client.get(
        f"/v1/hubs/{h['hub']}/cycle-counts", headers=api.op, params={"status": "done"}
    ).json()["data"]
    assert [c["id"] for c in done] == [count]


def test_the_system_knows_every_bin(api: Api) -> None:
    h = _hub(api)
    placed = _receive_and_stow(api, h, h["jar"], 4)
    r = api.client.get(f"/v1/hubs/{h['hub']}/bins", headers=api.op, params={"product_id": h["jar"]})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [
        {
            **r.json()["data"][0],
            "bin_code": placed["bin_code"],
            "contents": [{"product_id": h["jar"], "quantity": 4}],
        }
    ]
    every = api.client.get(f"/v1/hubs/{h['hub']}/bins", headers=api.op).json()["data"]
    assert len(every) == 48 and sum(len(b["contents"]) for b in every) == 1


def test_unfillable_short_pick_moves_the_order_to_another_hub(api: Api) -> None:
    h = _hub(api)
    _receive_and_stow(api, h, h["tea"], 2)
    store = api.hub(name="Tacoma store", location={"lat": 47.25, "lng": -122.44})
    api.receive(h["mh"], store, h["tea"], 5)
    body = api.order_body([(h["tea"], 2)])
    r = api.client.post("/v1/orders", json=body, headers={**h["mh"], "Idempotency-Key": "re1"})
    assert r.status_code == 201, r.text
    order = r.json()
    assert [s["hub_id"] for s in order["shipments"]] == [h["hub"]]
    cutoff = (api.clock.now() + timedelta(hours=4)).isoformat()
    wave = api.client.post(
        f"/v1/hubs/{h['hub']}/waves", headers=api.op, json={"cutoff": cutoff}
    ).json()
    task = wave["batches"][0]["picks"][0]
    r = api.client.post(f"/v1/picks/{task['task_id']}/short", headers=api.op, json={"found": 0})
    assert r.status_code == 200, r.text
    moved = r.json()["reallocated"]
    assert moved["to_hub"] == store and moved["quantity"] == 2
    after = api.client.get(f"/v1/orders/{order['id']}", headers=h["mh"]).json()
    hubs = {s["hub_id"]: s["status"] for s in after["shipments"]}
    assert hubs == {h["hub"]: "cancelled", store: "pending"}
    held = {(a["hub_id"], a["status"]): a["quantity"] for a in after["allocations"]}
    assert held[(store, "active")] == 2
    # The empty bin's two units left the count once the order stopped holding them.
    assert _stock(api, h, h["tea"]) == 0


def test_put_away_list_stows_a_whole_notice_across_bins(api: Api) -> None:
    h = _hub(api)
    # 450 jars of 1.5 litres fill more than the largest bin (720 litres, 85 % usable).
    asn = api.client.post(
        "/v1/asns",
        headers=h["mh"],
        json={
            "hub_id": h["hub"],
            "lines": [
                {"product_id": h["jar"], "quantity": 450},
                {"product_id": h["tea"], "quantity": 12},
            ],
        },
    ).json()
    for product, qty in ((h["jar"], 450), (h["tea"], 5)):
        r = api.client.post(
            f"/v1/asns/{asn['id']}/receipts",
            headers=api.op,
            json={"product_id": product, "quantity": qty},
        )
        assert r.status_code == 200, r.text
    key = {**api.op, "Idempotency-Key": "put-away-1"}
    r = api.client.post(f"/v1/asns/{asn['id']}/put-away", headers=key, json={})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["left_at_dock"] == {}
    stowed: dict[str, int] = {}
    for x in out["stows"]:
        stowed[x["product_id"]] = stowed.get(x["product_id"], 0) + x["quantity"]
    assert stowed == {h["jar"]: 450, h["tea"]: 5}  # only what was scanned in
    assert len({x["bin_code"] for x in out["stows"] if x["product_id"] == h["jar"]}) > 1
    assert _stock(api, h, h["jar"]) == 450 and _stock(api, h, h["tea"]) == 5
    again = api.client.post(f"/v1/asns/{asn['id']}/put-away", headers=key, json={})
    assert again.json() == out and _stock(api, h, h["jar"]) == 450
    # Nothing is left at the dock now; the bins say where everything went.
    r = api.client.post(f"/v1/asns/{asn['id']}/put-away", headers=api.op, json={})
    assert r.status_code == 200 and r.json()["stows"] == []
    bins = api.client.get(
        f"/v1/hubs/{h['hub']}/bins", params={"product_id": h["jar"]}, headers=api.op
    ).json()
    assert sum(c["quantity"] for b in bins["data"] for c in b["contents"]) == 450
    bad = api.client.post(
        f"/v1/asns/{asn['id']}/put-away", headers=api.op, json={"policy": "anywhere"}
    )
    assert bad.status_code == 422
