"""Delivery promise: quote latency and throughput on a 500-hub network.

A hand-run benchmark, not a test. It:

1. makes an empty database (SQLite: a file in a temporary folder, the default;
   PostgreSQL with ``--db postgresql``: a fresh schema in database ``test`` on
   127.0.0.1:5432, dropped afterwards) and migrates it;
2. builds a network of ``--hubs`` hubs (default 500) over five metros in three
   time zones (Seattle, Portland, San Francisco, Denver, Chicago): per metro a
   few fulfillment centers (always open, 60 km), dark stores (06:00-02:00, 8 km)
   and stores (07:00-22:00, 5-12 km, ship-from-store and pick-up), each with its
   own pick-pack lead and some with safety stock; one merchant with
   ``--products`` products (default 5,000; a few chilled or frozen, a few
   bulky) and stock spread over the hubs (fulfillment centers hold 70 % of the
   range each, dark stores the popular part, each store a few hundred popular
   products) -- hubs through the service, products and stock by bulk insert;
3. in process: ``--quotes`` quotes (default 10,000) through the promise service
   (``promise.service.create_quote``: the same call the API makes, two
   transactions, the quote stored) for random addresses around the metros (a
   few outside every service area) and carts of 1 to 8 lines drawn by
   popularity, 30 % members, on a simulated clock that starts on a Tuesday
   morning and moves 3 s per quote (so the day's cutoffs pass during the run);
4. over HTTP: ``hubflow serve --workers 2`` on the same database, then
   ``--http-quotes`` quotes from one client (latency) and from
   ``--http-clients`` concurrent keep-alive clients (throughput); the server
   uses the real clock.

Progress goes to stderr; the last line on stdout is one JSON object.

    python benchmarks/promise.py                   # SQLite, 500 hubs, 10,000 quotes
    python benchmarks/promise.py --db postgresql
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _shared import HOST, database, free_port, server
from sqlalchemy import Engine, insert, text

from hubflow.api.app import import_tables
from hubflow.catalog.service import create_merchant
from hubflow.catalog.store import products_table
from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.geo import LatLng
from hubflow.core.ids import new_id
from hubflow.core.migrate import upgrade
from hubflow.inventory.store import movements_table, stock_table
from hubflow.network.model import DAYS
from hubflow.network.service import create_hub
from hubflow.network.store import bump_revision
from hubflow.promise import service as promise
from hubflow.promise.model import PromiseConfig
from hubflow.promise.store import hub_promise_table

METROS = [
    ("Seattle", 47.61, -122.33, "America/Los_Angeles"),
    ("Portland", 45.52, -122.68, "America/Los_Angeles"),
    ("San Francisco", 37.77, -122.42, "America/Los_Angeles"),
    ("Denver", 39.74, -104.99, "America/Denver"),
    ("Chicago", 41.88, -87.63, "America/Chicago"),
]
ALWAYS = {d: [["00:00", "24:00"]] for d in DAYS}
STORE = {**{d: [["07:00", "22:00"]] for d in DAYS[:6]}, "sun": [["08:00", "20:00"]]}
DARK = {d: [["06:00", "02:00"]] for d in DAYS}
# A Tuesday morning: 09:00 in Los Angeles, 10:00 in Denver, 11:00 in Chicago.
SIM_START = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
SIM_STEP = timedelta(seconds=3)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))], 3)


def _point(rng: random.Random, lat: float, lng: float, spread_km: float) -> tuple[float, float]:
    dy, dx = rng.gauss(0, spread_km), rng.gauss(0, spread_km)
    return lat + dy / 111.2, lng + dx / (111.2 * math.cos(math.radians(lat)))


# -- the network --------------------------------------------------------------------------------


def build(engine: Engine, n_hubs: int, n_products: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    now = SIM_START - timedelta(days=1)
    t0 = time.perf_counter()
    with UnitOfWork(engine) as uow:
        merchant, key = create_merchant(uow, "Benchmark Retail", "retailer", now)
    merchant_id = merchant["id"]

    per_metro = n_hubs // len(METROS)
    hubs: list[tuple[str, str]] = []  # (hub id, kind)
    settings_rows = []
    for m_i, (name, lat, lng, tz) in enumerate(METROS):
        count = per_metro + (1 if m_i < n_hubs % len(METROS) else 0)
        n_fc = max(1, count * 3 // 100)
        n_dark = max(1, count * 12 // 100)
        for i in range(count):
            if i < n_fc:
                kind, hours, radius, caps = "fulfillment_center", ALWAYS, 60.0, []
                hlat, hlng = _point(rng, lat, lng, 20)
                lead, safety = 60, 0
            elif i < n_fc + n_dark:
                kind, hours, radius, caps = "dark_store", DARK, 8.0, []
                hlat, hlng = _point(rng, lat, lng, 8)
                lead, safety = 15, 0
            else:
                kind, hours, caps = "store", STORE, ["ship_from_store", "pick_up_in_store"]
                radius = rng.choice([5.0, 8.0, 12.0])
                hlat, hlng = _point(rng, lat, lng, 12)
                lead, safety = rng.choice([20, 30, 45]), rng.choice([0, 0, 1, 2])
            with UnitOfWork(engine) as uow:
                hub = create_hub(
                    uow,
                    now,
                    name=f"{name} {kind} {i}",
                    kind=kind,
                    lat=hlat,
                    lng=hlng,
                    timezone=tz,
                    region=name.lower(),
                    opening_hours=hours,
                    capabilities=caps,
                    service_radius_km=radius,
                )
            hubs.append((hub.id, kind))
            settings_rows.append(
                {
                    "hub_id": hub.id,
                    "settings": {"pick_pack_minutes": lead, "safety_stock": safety},
                    "updated_at": now,
                }
            )
    with UnitOfWork(engine) as uow:
        uow.conn.execute(insert(hub_promise_table), settings_rows)
        bump_revision(uow.conn, now)
    log(f"   {len(hubs)} hubs in {time.perf_counter() - t0:.1f} s")

    t1 = time.perf_counter()
    product_ids = [new_id("prd") for _ in range(n_products)]
    rows = []
    for i, pid in enumerate(product_ids):
        temp = rng.choices(["ambient", "chilled", "frozen"], weights=[85, 10, 5])[0]
        bulky = rng.random() < 0.03
        rows.append(
            {
                "id": pid,
                "merchant_id": merchant_id,
                "sku": f"SKU-{i:05d}",
                "name": f"Product {i}",
                "length_mm": rng.randint(700, 1400) if bulky else rng.randint(50, 450),
                "width_mm": rng.randint(50, 400),
                "height_mm": rng.randint(20, 300),
                "weight_g": rng.randint(8_000, 40_000) if bulky else rng.randint(50, 3_000),
                "value_amount": rng.randint(99, 9_999),
                "currency": "USD",
                "temperature": temp,
                "hazmat": False,
                "created_at": now,
            }
        )
    with UnitOfWork(engine) as uow:
        for k in range(0, len(rows), 2_000):
            uow.conn.execute(insert(products_table), rows[k : k + 2_000])

    # Popularity: product i has weight 1 / (i + 20) (a long tail).
    weights = [1.0 / (i + 20) for i in range(n_products)]
    popular = product_ids[: max(1, n_products * 2 // 5)]
    stock: list[dict[str, Any]] = []
    for hub_id, kind in hubs:
        if kind == "fulfillment_center":  # most of the range, not all: some carts split
            chosen = [pid for pid in product_ids if rng.random() < 0.7]
        elif kind == "dark_store":
            chosen = popular[: max(1, n_products // 5)]
        else:
            chosen = list(set(rng.choices(popular, weights=weights[: len(popular)], k=300)))
        for pid in chosen:
            qty = rng.randint(20, 200) if kind == "fulfillment_center" else rng.randint(1, 12)
            stock.append(
                {
                    "hub_id": hub_id,
                    "product_id": pid,
                    "merchant_id": merchant_id,
                    "on_hand": qty,
                    "reserved": 0,
                    "updated_at": now,
                }
            )
    ledger = [
        {
            "id": new_id("mov"),
            "hub_id": s["hub_id"],
            "product_id": s["product_id"],
            "merchant_id": merchant_id,
            "kind": "receipt",
            "on_hand_delta": s["on_hand"],
            "reserved_delta": 0,
            "reason": None,
            "note": "benchmark stock",
            "ref": None,
            "created_at": now,
        }
        for s in stock
    ]
    with UnitOfWork(engine) as uow:
        for k in range(0, len(stock), 5_000):
            uow.conn.execute(insert(stock_table), stock[k : k + 5_000])
            uow.conn.execute(insert(movements_table), ledger[k : k + 5_000])
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    log(
        f"   {n_products} products, {len(stock)} stock positions "
        f"in {time.perf_counter() - t1:.1f} s"
    )
    return {
        "merchant_id": merchant_id,
        "merchant_key": key.secret,
        "product_ids": product_ids,
        "weights": weights,
        "hubs": len(hubs),
        "stock_positions": len(stock),
    }


def requests(net: dict[str, Any], n: int, seed: int) -> list[promise.QuoteRequest]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.03:  # somewhere no hub serves
            lat, lng = rng.uniform(30, 48), rng.uniform(-115, -90)
        else:
            _, mlat, mlng, _ = rng.choice(METROS)
            lat, lng = _point(rng, mlat, mlng, 10)
        k = rng.randint(1, 8)
        chosen: list[str] = []
        while len(chosen) < k:
            pid = rng.choices(net["product_ids"], weights=net["weights"])[0]
            if pid not in chosen:
                chosen.append(pid)
        out.append(
            promise.QuoteRequest(
                lines=[(p, rng.choice([1, 1, 1, 2, 3])) for p in chosen],
                destination=LatLng(round(lat, 6), round(lng, 6)),
                member=rng.random() < 0.3,
            )
        )
    return out


def as_body(req: promise.QuoteRequest) -> dict[str, Any]:
    return {
        "address": {"lat": req.destination.lat, "lng": req.destination.lng},
        "lines": [{"product_id": p, "quantity": q} for p, q in req.lines],
        "customer": {"member": req.member},
    }


# -- runs -----------------------------------------------------------------------------------------


def in_process(
    engine: Engine, net: dict[str, Any], reqs: list[promise.QuoteRequest], warmup: int
) -> dict[str, Any]:
    config = PromiseConfig()
    mid = net["merchant_id"]
    now = SIM_START
    for r in reqs[:warmup]:
        promise.create_quote(engine, mid, r, now, config)
    lat: list[float] = []
    options = Counter[str]()
    reasons = Counter[str]()
    splits = 0
    t0 = time.perf_counter()
    for i, r in enumerate(reqs):
        now = SIM_START + SIM_STEP * i
        s = time.perf_counter()
        q = promise.create_quote(engine, mid, r, now, config)
        lat.append((time.perf_counter() - s) * 1000)
        options.update(o["code"] for o in q["options"])
        reasons.update(f"{u['code']}:{u['reason']}" for u in q["unavailable"])
        splits += sum(1 for o in q["options"] if o["split"])
    wall = time.perf_counter() - t0
    n = len(reqs)
    return {
        "quotes": n,
        "latency_ms": {
            "p50": pct(lat, 0.5),
            "p90": pct(lat, 0.9),
            "p99": pct(lat, 0.99),
            "max": round(max(lat), 3),
        },
        "quotes_per_s": round(n / wall, 1),
        "share_with_option": {k: round(v / n, 3) for k, v in sorted(options.items())},
        "split_options_per_quote": round(splits / n, 3),
        "top_unavailable": dict(reasons.most_common(8)),
        "simulated_time": [SIM_START.isoformat(), now.isoformat()],
    }


def over_http(
    port: int, key: str, reqs: list[promise.QuoteRequest], clients: int
) -> dict[str, Any]:
    bodies = [json.dumps(as_body(r)).encode() for r in reqs]
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    lat: list[float] = []
    errors = Counter[int]()
    lock = threading.Lock()
    cursor = [0]

    def worker() -> None:
        with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers, timeout=30) as c:
            while True:
                with lock:
                    i = cursor[0]
                    cursor[0] += 1
                if i >= len(bodies):
                    return
                s = time.perf_counter()
                r = c.post("/v1/quotes", content=bodies[i])
                ms = (time.perf_counter() - s) * 1000
                with lock:
                    if r.status_code == 201:
                        lat.append(ms)
                    else:
                        errors[r.status_code] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "quotes": len(bodies),
        "latency_ms": {"p50": pct(lat, 0.5), "p90": pct(lat, 0.9), "p99": pct(lat, 0.99)},
        "quotes_per_s": round(len(bodies) / wall, 1),
        "errors": dict(errors),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--hubs", type=int, default=500)
    ap.add_argument("--products", type=int, default=5_000)
    ap.add_argument("--quotes", type=int, default=10_000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--http-quotes", type=int, default=2_000, help="0 skips the HTTP run")
    ap.add_argument("--http-clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    import_tables()
    result: dict[str, Any] = {
        "benchmark": "promise",
        "db": args.db,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    with database(args.db, "hubflow-promise") as url:
        engine = make_engine(url, pool_size=4)
        upgrade(engine)
        log(f"== building the network on {args.db}")
        net = build(engine, args.hubs, args.products, args.seed)
        result["network"] = {
            "hubs": net["hubs"],
            "products": args.products,
            "stock_positions": net["stock_positions"],
            "metros": [m[0] for m in METROS],
        }
        reqs = requests(net, args.quotes + args.warmup, args.seed + 1)
        log(f"== {args.quotes} quotes in process")
        result["in_process"] = in_process(engine, net, reqs[args.warmup :], args.warmup)
        log(f"   {json.dumps(result['in_process']['latency_ms'])}")
        engine.dispose()
        if args.http_quotes:
            http_reqs = requests(net, args.http_quotes, args.seed + 2)
            port = free_port()
            logfile = Path(tempfile.mkdtemp(prefix="hubflow-promise-log-")) / "server.log"
            log(f"== over HTTP: hubflow serve --workers {args.workers}")
            env = {**os.environ, "HUBFLOW_DATABASE_URL": url, "HUBFLOW_RELAY_ENABLED": "false"}
            with server(env, port, args.workers, logfile):
                over_http(port, net["merchant_key"], http_reqs[:200], 2)  # warm both workers
                one = over_http(port, net["merchant_key"], http_reqs, 1)
                log(f"   1 client: {json.dumps(one['latency_ms'])}, {one['quotes_per_s']}/s")
                many = over_http(port, net["merchant_key"], http_reqs, args.http_clients)
                log(
                    f"   {args.http_clients} clients: {json.dumps(many['latency_ms'])}, "
                    f"{many['quotes_per_s']}/s"
                )
            result["http"] = {
                "server": f"hubflow serve --workers {args.workers} (real clock)",
                "one_client": one,
                "concurrent": many,
            }
    p99 = result["in_process"]["latency_ms"]["p99"]
    result["target_p99_ms"] = 10
    result["target_met"] = p99 < 10
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
