"""The real server over real sockets: body limits with and without Content-Length."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

from tests.e2e.conftest import LiveServer
from tests.integration.test_api_input import MiB, assert_error, snapshot


def _setup(live: LiveServer) -> tuple[dict[str, str], str]:
    api = live.api
    hub = api.hub()
    _, m = api.merchant()
    product = api.product(m)
    api.receive(m, hub, product, 5)
    return m, product


def test_order_round_trip_over_http(live: LiveServer) -> None:
    m, product = _setup(live)
    body = live.api.order_body([(product, 2)])
    with live.client() as client:
        first = client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "live"})
        again = client.post("/v1/orders", json=body, headers={**m, "Idempotency-Key": "live"})
        health = client.get("/healthz")
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert health.status_code == 200 and health.headers["X-Request-Id"]
    assert first.headers["X-Request-Id"] != again.headers["X-Request-Id"]


def test_chunked_body_over_limit_is_413(live: LiveServer) -> None:
    m, product = _setup(live)
    raw = json.dumps(live.api.order_body([(product, 1)], external_ref="x" * (2 * MiB))).encode()
    before = snapshot(live.api.engine)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 32 * 1024):
            yield raw[i : i + 32 * 1024]

    with live.client() as client:
        r = client.post(
            "/v1/orders",
            content=chunks(),
            headers={**m, "Idempotency-Key": "big", "Content-Type": "application/json"},
        )
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.request.headers["transfer-encoding"] == "chunked"
        err = assert_error(r, 413, "payload_too_large")
        assert err["details"] == {"limit": MiB}
        assert r.headers["X-Request-Id"]
        # The server is still fine afterwards.
        assert client.get("/healthz").status_code == 200
    assert snapshot(live.api.engine) == before


def test_declared_length_over_limit_is_refused_before_the_body(live: LiveServer) -> None:
    """A client announcing 50 MiB gets its 413 without having to send any of it."""
    m, _ = _setup(live)
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            "POST /v1/orders HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            f"Authorization: {m['Authorization']}\r\n"
            "Idempotency-Key: huge\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {50 * MiB}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), data[:200]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"x-request-id" in headers.lower()
    assert json.loads(body)["error"]["code"] == "payload_too_large"
