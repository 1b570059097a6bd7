from tests.conftest import Api


def test_order_round_trip(api: Api) -> None:
    hub = api.hub()
    mid, m = api.merchant()
    p = api.product(m)
    api.receive(m, hub, p, 5)
    r = api.client.post(
        "/v1/orders", json=api.order_body([(p, 2)]), headers={**m, "Idempotency-Key": "a"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "allocated"
    assert r.json()["merchant_id"] == mid
    stock = api.client.get("/v1/stock", headers=m).json()["data"]
    assert stock[0]["reserved"] == 2
