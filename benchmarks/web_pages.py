"""How fast the pages' data comes back on a demo-sized network: the operator's live
dashboard JSON (polled every 5 s by every open dashboard), the dashboard page, and a
customer's tracking page, timed in-process (no network) against a SQLite file built by
``hubflow demo``.

    hubflow demo --orders 300 --no-serve --db /tmp/demo.db --twin-out /tmp/demo-twin
    python benchmarks/web_pages.py --db /tmp/demo.db --requests 50 --twin-dir /tmp/demo-twin

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from hubflow.api.app import create_app
from hubflow.core.db import UnitOfWork, make_engine
from hubflow.core.settings import Settings
from hubflow.orders.store import shipments_table
from hubflow.web.accounts import create_user
from hubflow.web.model import WebRole

PASSWORD = "benchmark password"


def _timed(n: int, call: Callable[[], Any]) -> dict[str, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
    }


def _gzip_cost(body: bytes, level: int, n: int = 50) -> dict[str, float]:
    t0 = time.process_time()
    for _ in range(n):
        out = gzip.compress(body, compresslevel=level)
    return {"bytes": len(out), "cpu_ms": round((time.process_time() - t0) / n * 1000, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, help="a SQLite file made by 'hubflow demo'")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--twin-dir", default=None, help="also time the replay of this twin run")
    args = ap.parse_args()
    engine = make_engine(f"sqlite:///{args.db}")
    app = create_app(Settings(twin_dir=args.twin_dir), engine=engine, run_relay=False)
    client = TestClient(app)
    email = f"bench-{time.time_ns()}@example.com"
    from hubflow.core.clock import SystemClock

    with UnitOfWork(engine) as uow:
        create_user(uow, email=email, name="Bench", password=PASSWORD, role=WebRole.OPERATOR,
                    now=SystemClock().now())  # fmt: skip
        token = uow.conn.execute(
            select(shipments_table.c.tracking_token).where(
                shipments_table.c.tracking_token.is_not(None)
            )
        ).scalar()
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf": csrf})
    plain = {"Accept-Encoding": "identity"}
    live = client.get("/ops/live.json", headers=plain)
    assert live.status_code == 200, live.text
    body = live.json()
    zipped = client.get("/ops/live.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers.get("content-encoding") == "gzip", zipped.headers
    out = {
        "benchmark": "web_pages",
        "open_orders": body["kpis"]["open_orders"],
        "routes": len(body["routes"]),
        "hubs": len(body["hubs"]),
        "live_json_bytes": len(live.content),
        # What goes over the wire to a browser (it always accepts gzip).
        "live_json_gzip_bytes": zipped.num_bytes_downloaded,
        # The CPU one compression costs, by level (the app uses 6).
        "gzip_levels": {level: _gzip_cost(live.content, level) for level in (1, 6, 9)},
        "live_json": _timed(args.requests, lambda: client.get("/ops/live.json")),
        "live_json_identity": _timed(
            args.requests, lambda: client.get("/ops/live.json", headers=plain)
        ),
        "dashboard_html": _timed(args.requests, lambda: client.get("/ops")),
        "tracking_html": _timed(args.requests, lambda: client.get(f"/track/{token}")),
        "tracking_json": _timed(args.requests, lambda: client.get(f"/v1/tracking/{token}")),
    }
    if args.twin_dir:
        replay = client.get("/ops/replay.json?source=twin", headers=plain)
        assert replay.status_code == 200, replay.text
        data = replay.json()
        out["twin_replay"] = {
            "events": len(data["events"]),
            "routes": len(data["routes"]),
            "bytes": len(replay.content),
            "gzip_bytes": client.get("/ops/replay.json?source=twin").num_bytes_downloaded,
            **_timed(
                max(1, args.requests // 10), lambda: client.get("/ops/replay.json?source=twin")
            ),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
