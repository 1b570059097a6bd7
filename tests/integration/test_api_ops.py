"""Operational endpoints and the request id every response carries."""

from __future__ import annotations

import httpx

from tests.conftest import Api


def _has_request_id(r: httpx.Response) -> str:
    rid: str | None = r.headers.get("X-Request-Id")
    assert rid, f"{r.request.method} {r.request.url} has no X-Request-Id"
    return rid


def test_health_and_readiness(api: Api) -> None:
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = api.client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_metrics_are_prometheus_text(api: Api) -> None:
    api.client.get("/healthz")
    api.client.get("/v1/orders")  # a 401, counted too
    r = api.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE hubflow_http_requests_total counter" in text
    assert 'hubflow_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="/v1/orders",status="401"' in text
    assert "hubflow_http_request_duration_seconds_bucket" in text


def test_openapi_and_docs(api: Api) -> None:
    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "Hubflow"
    for path in ["/v1/orders", "/v1/products", "/v1/stock/receipts", "/v1/webhooks/endpoints"]:
        assert path in spec["paths"], path
    post_order = spec["paths"]["/v1/orders"]["post"]
    headers = {p["name"] for p in post_order["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers
    assert "ErrorOut" in spec["components"]["schemas"]
    r = api.client.get("/docs")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "/openapi.json" in r.text


def test_every_response_carries_a_request_id(api: Api) -> None:
    _, m = api.merchant()
    responses = [
        api.client.get("/healthz"),
        api.client.get("/metrics"),
        api.client.get("/openapi.json"),
        api.client.get("/v1/orders"),  # 401
        api.client.post("/v1/hubs", json={}, headers=m),  # 403
        api.client.get("/v1/orders/ord_01JD0000000000000000000000", headers=m),  # 404
        api.client.get("/no/such/route"),  # 404 from routing
        api.client.delete("/healthz"),  # 405
        api.client.post("/v1/orders", json={}, headers=m),  # 400 no Idempotency-Key
        api.client.post("/v1/products", json={}, headers=m),  # 422
        api.client.post(
            "/v1/orders",
            content=b"x" * (1024 * 1024 + 1),
            headers={**m, "Content-Type": "application/json"},
        ),  # 413
    ]
    ids = [_has_request_id(r) for r in responses]
    assert len(set(ids)) == len(ids), "request ids must be unique"
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 401, 403, 404, 404, 405, 400, 422, 413]
    for r in responses[3:]:
        assert set(r.json()) == {"error"}, r.text


def test_incoming_request_id_is_echoed_if_sane(api: Api) -> None:
    r = api.client.get("/healthz", headers={"X-Request-Id": "trace-abc-123"})
    assert r.headers["X-Request-Id"] == "trace-abc-123"
    for bad in ["x" * 65, "has\tcontrol"]:
        r = api.client.get("/healthz", headers={"X-Request-Id": bad})
        rid = _has_request_id(r)
        assert rid != bad and len(rid) == 32
