"""The JSON behind the hub screens and the operator's dashboard, on both databases:
hub staff act only at their hub (whatever ids they send), scans replay by key, and the
dashboard counts open orders and flags the late ones."""

from __future__ import annotations

from datetime import timedelta

from hubflow.web.model import WebRole
from tests import fleet
from tests.conftest import Api
from tests.integration.test_hub_operations import _hub
from tests.integration.test_web_accounts import _login, _user


def test_hub_staff_act_only_at_their_hub(api: Api) -> None:
    h = _hub(api)
    other = api.hub(name="Tacoma", location={"lat": 47.25, "lng": -122.44})
    asn_here = api.client.post(
        "/v1/asns", headers=h["mh"],
        json={"hub_id": h["hub"], "lines": [{"product_id": h["tea"], "quantity": 4}]},
    ).json()["id"]  # fmt: skip
    asn_there = api.client.post(
        "/v1/asns", headers=h["mh"],
        json={"hub_id": other, "lines": [{"product_id": h["tea"], "quantity": 4}]},
    ).json()["id"]  # fmt: skip
    csrf = _login(api, _user(api, WebRole.HUB_STAFF, "kim@example.com", hub_id=h["hub"]))
    here = f"/hub/{h['hub']}"
    headers = {"X-CSRF-Token": csrf}
    # Another hub's notice through this hub's address: as if it did not exist.
    r = api.client.post(f"{here}/receive", json={"asn_id": asn_there, "code": "TEA"},
                        headers=headers)  # fmt: skip
    assert r.status_code == 404 and r.json()["error"]["code"] == "notice_not_found"
    r = api.client.post(f"/hub/{other}/receive", json={"asn_id": asn_there, "code": "TEA"},
                        headers=headers)  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "other_hub"
    assert api.client.get(f"/hub/{other}/work.json").status_code == 403
    r = api.client.post(f"{here}/receive", json={"asn_id": asn_here, "code": "TEA"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    # A scan retried with its key counts once.
    for _ in range(2):
        r = api.client.post(
            f"{here}/receive", json={"asn_id": asn_here, "code": "TEA", "quantity": 2},
            headers={**headers, "Idempotency-Key": "scan-1"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
    assert r.headers.get("Idempotent-Replayed") == "true"
    work = api.client.get(f"{here}/work.json").json()
    (line,) = work["asns"][0]["lines"]
    assert line["received"] == 2 and work["skus"][h["tea"]] == "TEA"
    r = api.client.post(f"{here}/receive", json={"asn_id": asn_here, "code": "NOPE"},
                        headers=headers)  # fmt: skip
    assert r.status_code == 404 and r.json()["error"]["code"] == "product_not_found"
    r = api.client.post(f"{here}/pack", json={"code": "shp_01JAAAAAAAAAAAAAAAAAAAAAAA"},
                        headers=headers)  # fmt: skip
    assert r.status_code == 404 and r.json()["error"]["code"] == "parcel_not_found"


def test_dashboard_counts_and_flags_late_orders(api: Api) -> None:
    net = fleet.network(api)
    fleet.vehicle(api, net, "van")
    first = fleet.order(api, net, packed=False)
    _login(api, _user(api, WebRole.OPERATOR, "o@example.com"))
    live = api.client.get("/ops/live.json").json()
    assert live["kpis"]["open_orders"] == 1 and live["kpis"]["late"] == 0
    (row,) = live["orders"]
    assert row["order_id"] == first["id"] and row["risk"] == "on_time"
    assert [v["mode"] for v in live["vehicles"]] == ["van"]
    assert live["hubs"][0]["id"] == net.hub
    assert sum(live["series"]["orders_per_hour"]) == 1
    # Polling an unchanged network costs a 304.
    etag = api.client.get("/ops/live.json").headers["etag"]
    again = api.client.get("/ops/live.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # Past its window (eight hours by default) and still not delivered: late.
    api.clock.advance(timedelta(hours=9))
    live = api.client.get("/ops/live.json").json()
    assert live["kpis"]["late"] == 1 and live["orders"][0]["risk"] == "late"
    replay = api.client.get(
        "/ops/replay.json", params={"from": (api.clock.now() - timedelta(hours=10)).isoformat()}
    ).json()
    assert [e["kind"] for e in replay["events"]][:1] == ["created"]


def test_the_dashboard_poll_goes_gzipped_and_still_revalidates(api: Api) -> None:
    net = fleet.network(api)
    fleet.vehicle(api, net, "van")
    for _ in range(6):
        fleet.order(api, net, packed=False)
    _login(api, _user(api, WebRole.OPERATOR, "gz@example.com"))
    plain = api.client.get("/ops/live.json", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    r = api.client.get("/ops/live.json", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.json() == plain.json()  # the same data, decoded
    assert r.num_bytes_downloaded < plain.num_bytes_downloaded / 3, (
        r.num_bytes_downloaded, plain.num_bytes_downloaded)  # fmt: skip
    assert "Accept-Encoding" in r.headers["vary"]
    # The page's headers survive compression; the ETag is weak (the bytes differ by
    # encoding) and revalidates whichever encoding the browser got.
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["etag"].startswith('W/"') and r.headers["etag"] == plain.headers["etag"]
    again = api.client.get(
        "/ops/live.json", headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert "content-encoding" not in again.headers
    # Pages (they carry the CSRF token) and small answers go as they are.
    page = api.client.get("/ops", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and "content-encoding" not in page.headers
    small = api.client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
