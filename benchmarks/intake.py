"""Order intake under load: throughput, latency and the no-oversell check.

A hand-run benchmark, not a test. For each database it:

1. makes an empty database (PostgreSQL: a fresh schema in database ``test`` on
   127.0.0.1:5432, dropped afterwards; SQLite: a file in a temporary folder),
   migrates it and creates an operator key with the ``hubflow`` CLI;
2. starts the server the way a user would: ``hubflow serve --workers 2`` as a
   subprocess with ``HUBFLOW_DATABASE_URL`` set;
3. over HTTP, creates one merchant, a fulfillment center and three stores, and
   products whose stock is sized so that only about 85 % of the planned orders
   can be filled (a quarter of the products are scarce and run out mid-run);
4. drives ``POST /v1/orders`` with ``--clients`` concurrent keep-alive
   connections until ``--orders`` orders were sent or ``--duration`` seconds
   passed, then, in a phase of its own, ``GET /healthz`` with ``--health-clients``
   for ``--health-duration`` seconds: the framework's floor on the same server, so
   the ratio says how close order intake is to it (``--simultaneous`` drives both
   at once instead, as earlier versions did; /healthz then starves the orders);
5. stops the server and computes from the database the units oversold (sum over
   stock rows of max(0, reserved - on_hand), and as a cross-check, per position,
   units in active or shipped reservations beyond the units received); both
   must be 0.

The load generator is deliberately cheap: asyncio (uvloop when installed) with a
minimal HTTP/1.1 keep-alive client over asyncio streams, because the machine's
few cores are shared with the server and the database. ``--client httpx`` uses
httpx.AsyncClient instead, for comparison; the JSON reports which one ran and
its CPU cost per request.

Progress goes to stderr; the last line on stdout is one JSON object:
``{"postgresql": {...}, "sqlite": {...}, "machine": {...}}``.

    python benchmarks/intake.py --db both --duration 20 --clients 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from _shared import HOST, PG_ADMIN_URL, database, free_port, server
from sqlalchemy import create_engine, text

PG_APP = f"hubflow_bench_{os.getpid()}"
HUBS = [
    # (name, kind, lat, lng, share of stock)
    ("Bench FC", "fulfillment_center", 47.39, -122.26, 0.55),
    ("Bench Store North", "store", 47.69, -122.33, 0.15),
    ("Bench Store Central", "store", 47.61, -122.33, 0.15),
    ("Bench Store East", "store", 47.62, -122.20, 0.15),
]
N_PRODUCTS = 40
TARGET_FILL = 0.85


def log(msg: str) -> None:
    print(f"[intake {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# CPU accounting from /proc (no psutil needed).
# --------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_busy_s() -> float:
    """CPU seconds all cores spent busy so far (from /proc/stat)."""
    try:
        parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    v = [int(x) for x in parts]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / _TICK


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _tree_cpu_s(pid: int) -> float:
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        total += _proc_cpu_s(p)
        stack += _children(p)
    return total


def _postgres_cpu_s(app_name: str) -> float:
    """CPU seconds of the PostgreSQL backends serving our server (by application_name)."""
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                {"a": app_name},
            ).scalars()
            return sum(_proc_cpu_s(int(p)) for p in pids)
    except Exception:
        return 0.0
    finally:
        engine.dispose()


# --------------------------------------------------------------------------
# The load generator: a minimal keep-alive HTTP/1.1 client over asyncio streams.
# --------------------------------------------------------------------------


class RawConn:
    """One keep-alive connection; requests are pre-encoded bytes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            raise
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        body = await self.reader.readexactly(int(m.group(1))) if m else b""
        if re.search(rb"(?i)\r\nconnection:\s*close", head):
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _raw_request(method: str, path: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class HttpxConn:
    """The same interface on httpx.AsyncClient (for comparing generator cost)."""

    def __init__(self, port: int) -> None:
        self.client = httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}",
            timeout=60,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def request(self, req: tuple[str, str, dict[str, str], bytes]) -> tuple[int, bytes]:
        method, path, headers, body = req
        r = await self.client.request(method, path, headers=headers, content=body or None)
        return r.status_code, r.content

    def close(self) -> None:
        pass


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def add(self, status: int, ms: float) -> None:
        self.latencies_ms.append(ms)
        self.codes[status] = self.codes.get(status, 0) + 1

    def error(self, kind: str, sample: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.samples) < 5:
            self.samples.append(sample[:300])


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))], 2)


async def drive(
    port: int,
    order_reqs: list[Any],
    health_req: Any,
    clients: int,
    health_clients: int,
    duration_s: float,
    client_kind: str,
) -> dict[str, Any]:
    orders, health = Stats(), Stats()
    next_order = 0
    stop_at = time.monotonic() + duration_s
    done = asyncio.Event()
    make = RawConn if client_kind == "raw" else HttpxConn

    async def order_worker() -> None:
        nonlocal next_order
        conn = make(port)
        while not done.is_set():
            if next_order >= len(order_reqs) or time.monotonic() >= stop_at:
                done.set()
                break
            req = order_reqs[next_order]
            next_order += 1
            t0 = time.perf_counter()
            try:
                status, body = await conn.request(req)
            except Exception as exc:
                orders.error(type(exc).__name__, repr(exc))
                continue
            orders.add(status, (time.perf_counter() - t0) * 1000)
            if status not in (201, 409):
                orders.error(f"http_{status}", body.decode(errors="replace"))
            elif status == 409 and b"insufficient_stock" not in body:
                orders.error("409_other", body.decode(errors="replace"))
        conn.close()

    async def health_worker() -> None:
        conn = make(port)
        while not done.is_set():
            if time.monotonic() >= stop_at:  # a /healthz-only phase ends on time
                done.set()
                break
            t0 = time.perf_counter()
            try:
                status, _ = await conn.request(health_req)
            except Exception as exc:
                health.error(type(exc).__name__, repr(exc))
                continue
            health.add(status, (time.perf_counter() - t0) * 1000)
        conn.close()

    async def reporter() -> None:
        last_n, last_t = 0, time.monotonic()
        while not done.is_set():
            await asyncio.sleep(2.0)
            n, now = len(orders.latencies_ms), time.monotonic()
            log(
                f"  {n:>6} orders ({(n - last_n) / (now - last_t):6.0f}/s), "
                f"201={orders.codes.get(201, 0)} 409={orders.codes.get(409, 0)} "
                f"healthz={len(health.latencies_ms)}"
            )
            last_n, last_t = n, now

    cpu0, t0 = time.process_time(), time.perf_counter()
    tasks = [asyncio.create_task(order_worker()) for _ in range(clients)]
    tasks += [asyncio.create_task(health_worker()) for _ in range(health_clients)]
    rep = asyncio.create_task(reporter())
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rep.cancel()
    return {"orders": orders, "health": health, "wall_s": wall, "generator_cpu_s": cpu}


# --------------------------------------------------------------------------
# Planning: products, stock and orders (seeded).
# --------------------------------------------------------------------------


@dataclass
class Plan:
    orders: list[list[tuple[int, int]]]  # product index, quantity
    points: list[tuple[float, float]]
    stock: list[int]  # per product, total units
    scarce: list[bool]
    planned_fill: float


def make_plan(n_orders: int, seed: int, *, calibrate: bool = True) -> Plan:
    rng = random.Random(seed)
    weights = [1 / (i + 1) ** 0.6 for i in range(N_PRODUCTS)]
    rng.shuffle(weights)
    orders, points = [], []
    demand = [0] * N_PRODUCTS
    for _ in range(n_orders):
        k = rng.choices((1, 2, 3), weights=(50, 30, 20))[0]
        chosen: list[int] = []
        while len(chosen) < k:
            p = rng.choices(range(N_PRODUCTS), weights=weights)[0]
            if p not in chosen:
                chosen.append(p)
        lines = [(p, rng.choices((1, 2, 3), weights=(70, 20, 10))[0]) for p in chosen]
        for p, q in lines:
            demand[p] += q
        orders.append(lines)
        points.append((47.61 + rng.uniform(-0.08, 0.08), -122.30 + rng.uniform(-0.10, 0.10)))
    scarce = [i % 4 == 0 for i in range(N_PRODUCTS)]

    def fill_for(factor: float) -> tuple[float, list[int]]:
        stock = [
            max(1, int(d * (factor if s else 1.0))) for d, s in zip(demand, scarce, strict=True)
        ]
        left = list(stock)
        filled = 0
        for lines in orders:
            if all(left[p] >= q for p, q in lines):
                filled += 1
                for p, q in lines:
                    left[p] -= q
        return filled / max(1, n_orders), stock

    if not calibrate:
        return Plan(orders, points, demand, scarce, 1.0)
    lo, hi = 0.0, 1.0
    for _ in range(20):  # the scarce products' share of their demand that gives ~85 % fill
        mid = (lo + hi) / 2
        fill, _ = fill_for(mid)
        lo, hi = (mid, hi) if fill < TARGET_FILL else (lo, mid)
    fill, stock = fill_for(hi)
    return Plan(orders, points, stock, scarce, fill)


# --------------------------------------------------------------------------
# Databases and the server process.
# --------------------------------------------------------------------------


def hubflow_cli(env: dict[str, str], *args: str) -> str:
    exe = shutil.which("hubflow")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "hubflow.cli", *args]
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


@dataclass
class Network:
    merchant_key: str
    hub_ids: list[str]
    product_ids: list[str]  # the measured products
    warmup_product_ids: list[str]  # the same catalogue again, plentiful: warm-up only


def _created(c: httpx.Client, path: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
    r = c.post(path, json=body, headers=headers)
    if r.status_code != 201:
        raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:300]}")
    out: dict[str, Any] = r.json()
    return out


def setup_network(port: int, operator_key: str) -> Network:
    """Hubs, one merchant and its products over HTTP (stock comes later, once the
    warm-up has told how many orders the run will place)."""
    op = {"Authorization": f"Bearer {operator_key}"}
    week = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as c:
        hub_ids = [
            _created(
                c,
                "/v1/hubs",
                op,
                {
                    "name": name,
                    "kind": kind,
                    "location": {"lat": lat, "lng": lng},
                    "timezone": "America/Los_Angeles",
                    "capabilities": ["ship_from_store", "pick_up_in_store"],
                    "opening_hours": {d: [["00:00", "24:00"]] for d in week},
                    "service_radius_km": 60,
                },
            )["id"]
            for name, kind, lat, lng, _ in HUBS
        ]
        merchant = _created(c, "/v1/merchants", op, {"name": "Bench Retail", "kind": "retailer"})
        mk = {"Authorization": f"Bearer {merchant['api_key']}"}

        def product(sku: str, name: str) -> str:
            body = {
                "sku": sku,
                "name": name,
                "dimensions_mm": {"length": 200, "width": 150, "height": 80},
                "weight_g": 500,
                "value": {"amount": 1999, "currency": "USD"},
            }
            return str(_created(c, "/v1/products", mk, body)["id"])

        product_ids = [product(f"BENCH-{i:03d}", f"Bench product {i}") for i in range(N_PRODUCTS)]
        warmup = [product(f"WARM-{i:03d}", f"Warm-up product {i}") for i in range(N_PRODUCTS)]
        for p in warmup:
            for hub in hub_ids:
                body = {"hub_id": hub, "product_id": p, "quantity": 1_000_000}
                _created(c, "/v1/stock/receipts", mk, body)
    return Network(str(merchant["api_key"]), hub_ids, product_ids, warmup)


def receive_stock(port: int, net: Network, plan: Plan) -> None:
    """Spread each product's units over the hubs (the fulfillment center holds most)."""
    mk = {"Authorization": f"Bearer {net.merchant_key}"}
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as c:
        for i, units in enumerate(plan.stock):
            left = units
            for j, (_, _, _, _, share) in enumerate(HUBS):
                qty = left if j == len(HUBS) - 1 else int(units * share)
                left -= qty
                if qty > 0:
                    body = {"hub_id": net.hub_ids[j], "product_id": net.product_ids[i]}
                    _created(c, "/v1/stock/receipts", mk, {**body, "quantity": qty})


def order_requests(
    plan: Plan, product_ids: list[str], net: Network, port: int, client_kind: str, tag: str
) -> list[Any]:
    key = net.merchant_key
    out: list[Any] = []
    for n, (lines, (lat, lng)) in enumerate(zip(plan.orders, plan.points, strict=True)):
        body = orjson.dumps(
            {
                "lines": [{"product_id": product_ids[p], "quantity": q} for p, q in lines],
                "customer": {"name": f"Customer {n}", "email": f"c{n}@example.com"},
                "address": {
                    "line1": f"{100 + n % 9000} Pine St",
                    "city": "Seattle",
                    "postcode": "98101",
                    "country": "US",
                    "lat": round(lat, 6),
                    "lng": round(lng, 6),
                },
                "external_ref": f"bench-{n}",
            }
        )
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": f"{tag}-{n}"}
        if client_kind == "raw":
            out.append(_raw_request("POST", "/v1/orders", port, headers, body))
        else:
            out.append(
                ("POST", "/v1/orders", {**headers, "Content-Type": "application/json"}, body)
            )
    return out


def oversold(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            by_column = conn.execute(
                text(
                    "SELECT COALESCE(SUM(CASE WHEN reserved > on_hand"
                    " THEN reserved - on_hand ELSE 0 END), 0) FROM stock"
                )
            ).scalar_one()
            cross = conn.execute(
                text(
                    """
                    SELECT COALESCE(SUM(CASE WHEN r.units > m.received
                                        THEN r.units - m.received ELSE 0 END), 0)
                    FROM (SELECT hub_id, product_id, SUM(quantity) AS units
                          FROM reservations WHERE status IN ('active', 'shipped')
                          GROUP BY hub_id, product_id) r
                    JOIN (SELECT hub_id, product_id, SUM(on_hand_delta) AS received
                          FROM stock_movements WHERE kind = 'receipt'
                          GROUP BY hub_id, product_id) m
                      ON m.hub_id = r.hub_id AND m.product_id = r.product_id
                    """
                )
            ).scalar_one()
            unreceived = conn.execute(
                text(
                    """
                    SELECT COALESCE(SUM(quantity), 0) FROM reservations r
                    WHERE status IN ('active', 'shipped') AND NOT EXISTS (
                      SELECT 1 FROM stock_movements m WHERE m.kind = 'receipt'
                        AND m.hub_id = r.hub_id AND m.product_id = r.product_id)
                    """
                )
            ).scalar_one()
            ledger_mismatch = conn.execute(
                text(
                    """
                    SELECT COUNT(*) FROM stock s LEFT JOIN (
                      SELECT hub_id, product_id, SUM(quantity) AS units FROM reservations
                      WHERE status = 'active' GROUP BY hub_id, product_id) r
                      ON r.hub_id = s.hub_id AND r.product_id = s.product_id
                    WHERE s.reserved <> COALESCE(r.units, 0)
                    """
                )
            ).scalar_one()
            orders_in_db = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar_one()
            units_reserved = conn.execute(
                text("SELECT COALESCE(SUM(reserved), 0) FROM stock")
            ).scalar_one()
            units_on_hand = conn.execute(
                text("SELECT COALESCE(SUM(on_hand), 0) FROM stock")
            ).scalar_one()
            exhausted = conn.execute(
                text("SELECT COUNT(*) FROM stock WHERE reserved = on_hand")
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "units_oversold": int(by_column),
        "units_oversold_vs_receipts": int(cross) + int(unreceived),
        "positions_reserved_mismatch": int(ledger_mismatch),
        "orders_in_db": int(orders_in_db),
        "units_on_hand": int(units_on_hand),
        "units_reserved": int(units_reserved),
        "positions_sold_out": int(exhausted),
    }


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    log(f"== {kind}: preparing")
    simultaneous = args.simultaneous
    tag = uuid.uuid4().hex[:8]
    with database(kind, "hubflow-bench", PG_APP) as url, tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "HUBFLOW_DATABASE_URL": url,
            "HUBFLOW_LOG_LEVEL": "WARNING",
            "HUBFLOW_LOG_JSON": "false",
        }
        hubflow_cli(env, "db", "upgrade")
        printed = hubflow_cli(env, "keys", "create", "--operator", "--label", "bench")
        operator_key = printed.strip().rsplit(" ", 1)[-1]
        port = free_port()
        logfile = Path(tmp) / "server.log"
        with server(env, port, args.workers, logfile) as pid:
            net = setup_network(port, operator_key)
            health_req: Any = (
                _raw_request("GET", "/healthz", port, {}, b"")
                if args.client == "raw"
                else ("GET", "/healthz", {}, b"")
            )
            background = _wait_idle(args.wait_idle)
            # Warm-up (pools, caches) under the same load, on a plentiful product; its
            # rate sizes the measured run so that stock really runs out during it.
            # The same mix of orders as the measured run, on products that cannot run out.
            warm_plan = make_plan(20_000, args.seed + 1, calibrate=False)
            warm_reqs = order_requests(
                warm_plan, net.warmup_product_ids, net, port, args.client, f"{tag}w"
            )
            warm_health = args.health_clients if simultaneous else 0
            warm = _run_loop(
                drive(
                    port,
                    warm_reqs,
                    health_req,
                    args.clients,
                    warm_health,
                    args.warmup,
                    args.client,
                )
            )
            warm_n = len(warm["orders"].latencies_ms)
            warm_rate = warm_n / warm["wall_s"]
            n_plan = max(100, min(args.orders, math.ceil(warm_rate * args.duration)))
            plan = make_plan(n_plan, args.seed)
            t = time.perf_counter()
            receive_stock(port, net, plan)
            log(
                f"   warm-up: {warm_n} orders ({warm_rate:.0f}/s); stock for {n_plan} orders: "
                f"{sum(plan.stock)} units in {N_PRODUCTS} products x {len(HUBS)} hubs "
                f"({time.perf_counter() - t:.1f} s), planned fill {plan.planned_fill:.0%}"
            )
            reqs = order_requests(plan, net.product_ids, net, port, args.client, tag)
            log(
                f"   driving: {args.clients} order clients"
                + (f" + {args.health_clients} /healthz clients" if simultaneous else "")
                + f", {n_plan} orders or {args.duration:.0f} s"
            )
            spy = _start_py_spy(pid, args.py_spy, kind)
            pg0 = _postgres_cpu_s(PG_APP) if kind == "postgresql" else 0.0
            srv0 = _tree_cpu_s(pid)
            busy0 = _machine_busy_s()
            res = _run_loop(
                drive(
                    port,
                    reqs,
                    health_req,
                    args.clients,
                    args.health_clients if simultaneous else 0,
                    args.duration,
                    args.client,
                )
            )
            busy = _machine_busy_s() - busy0
            srv_cpu = _tree_cpu_s(pid) - srv0
            pg_cpu = (_postgres_cpu_s(PG_APP) - pg0) if kind == "postgresql" else 0.0
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            health_res, h_srv_cpu = res, 0.0
            if not simultaneous:
                # The framework's floor, by itself: the same server, the same number of
                # clients, nothing but GET /healthz.
                log(
                    f"   driving: {args.health_clients} /healthz clients"
                    f" for {args.health_duration:.0f} s"
                )
                h_srv0 = _tree_cpu_s(pid)
                health_res = _run_loop(
                    drive(
                        port,
                        [],
                        health_req,
                        0,
                        args.health_clients,
                        args.health_duration,
                        args.client,
                    )
                )
                h_srv_cpu = _tree_cpu_s(pid) - h_srv0
        server_log_tail = logfile.read_text(errors="replace")[-1500:]
        check = oversold(url)
    o: Stats = res["orders"]
    h: Stats = health_res["health"]
    wall = res["wall_s"]
    h_wall = health_res["wall_s"]
    n = len(o.latencies_ms)
    codes = o.codes
    p50, p99 = pct(o.latencies_ms, 0.50), pct(o.latencies_ms, 0.99)
    hp50, hp99 = pct(h.latencies_ms, 0.50), pct(h.latencies_ms, 0.99)
    out: dict[str, Any] = {
        "orders_sent": n,
        "duration_s": round(wall, 2),
        "orders_per_s": round(n / wall, 1),
        "orders_201_per_s": round(codes.get(201, 0) / wall, 1),
        "orders_latency_ms": {"p50": p50, "p99": p99, "max": round(max(o.latencies_ms or [0]), 1)},
        "healthz_mode": "simultaneous" if simultaneous else "separate phase",
        "healthz_requests": len(h.latencies_ms),
        "healthz_per_s": round(len(h.latencies_ms) / h_wall, 1),
        "healthz_latency_ms": {"p50": hp50, "p99": hp99},
        "ratio_healthz_to_orders": {
            "p50": round(hp50 / p50, 3) if p50 else None,
            "p99": round(hp99 / p99, 3) if p99 else None,
            "per_s": round(len(h.latencies_ms) / h_wall / (n / wall), 2) if n else None,
        },
        "status": {
            "201": codes.get(201, 0),
            "409": codes.get(409, 0),
            "other": sum(v for k, v in codes.items() if k not in (201, 409)),
        },
        "fill_rate": round(codes.get(201, 0) / max(1, n), 3),
        "errors": o.errors,
        "error_samples": o.samples,
        "healthz_errors": h.errors,
        **check,
        "warmup_orders_201": warm["orders"].codes.get(201, 0),
        "orders_match_201": check["orders_in_db"]
        == codes.get(201, 0) + warm["orders"].codes.get(201, 0),
        "cpu_s": {
            "server": round(srv_cpu, 1),
            "postgres": round(pg_cpu, 1) if kind == "postgresql" else None,
            "generator": round(res["generator_cpu_s"], 1),
            "machine_busy": round(busy, 1),
            "machine_busy_share_before_run": background,
            # CPU that neither the server, PostgreSQL nor the generator used: other work
            # on the machine competing with the benchmark (should be near 0).
            "other_processes": round(max(0.0, busy - srv_cpu - pg_cpu - res["generator_cpu_s"]), 1),
            "server_ms_per_order": round(srv_cpu / max(1, n) * 1000, 2),
            "server_ms_per_healthz": (
                None if simultaneous else round(h_srv_cpu / max(1, len(h.latencies_ms)) * 1000, 3)
            ),
            "generator_us_per_request": round(
                res["generator_cpu_s"] / max(1, n + len(h.latencies_ms)) * 1e6, 1
            ),
        },
        "config": {
            "server": f"hubflow serve --workers {args.workers}",
            "clients": args.clients,
            "health_clients": args.health_clients,
            "healthz_phase_s": None if simultaneous else args.health_duration,
            "orders_planned": n_plan,
            "orders_cap": args.orders,
            "warmup_s": args.warmup,
            "duration_cap_s": args.duration,
            "planned_fill": round(plan.planned_fill, 3),
            "products": N_PRODUCTS,
            "hubs": len(HUBS),
            "units_stocked": sum(plan.stock),
        },
    }
    if out["status"]["other"] or out["errors"]:
        out["server_log_tail"] = server_log_tail
    log(
        f"   {kind}: {out['orders_per_s']} orders/s, p50 {p50} ms, p99 {p99} ms; healthz p50 "
        f"{hp50} ms p99 {hp99} ms; 201={codes.get(201, 0)} 409={codes.get(409, 0)}; "
        f"oversold {check['units_oversold']}/{check['units_oversold_vs_receipts']}"
    )
    return out


def _wait_idle(max_wait_s: float) -> float:
    """Wait (up to ``max_wait_s``) for the machine to be quiet; return the busy share seen
    in the last second before the run (other work competing for the cores)."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait_s
    while True:
        b0 = _machine_busy_s()
        time.sleep(1.0)
        share = (_machine_busy_s() - b0) / cores
        if share < 0.15 or time.monotonic() >= deadline:
            if share >= 0.15:
                log(f"   machine still {share:.0%} busy with other work; running anyway")
            return round(share, 3)
        log(f"   machine {share:.0%} busy with other work; waiting for it to settle")


def _start_py_spy(pid: int, folder: str | None, kind: str) -> subprocess.Popen[bytes] | None:
    """Sample the server's workers with py-spy (raw collapsed stacks) while driving."""
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    out = Path(folder) / f"{kind}.txt"
    cmd = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
    cmd += ["--rate", "100", "--nonblocking", "--output", str(out)]
    cmd += os.environ.get("HUBFLOW_BENCH_PY_SPY_ARGS", "").split()  # e.g. "--gil" or "--idle"
    log(f"   py-spy sampling the server into {out}")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def machine(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "generator": (
            "asyncio+uvloop, minimal keep-alive HTTP/1.1 client over asyncio streams"
            if args.client == "raw"
            else "asyncio+uvloop, httpx.AsyncClient (one connection per client)"
        ),
    }
    with contextlib.suppress(Exception):
        import sqlite3

        out["sqlite"] = sqlite3.sqlite_version
    if args.db in ("postgresql", "both"):
        with contextlib.suppress(Exception):
            eng = create_engine(PG_ADMIN_URL)
            with eng.connect() as conn:
                out["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
            eng.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds, at most, per database")
    ap.add_argument("--orders", type=int, default=6000, help="orders, at most, per database")
    ap.add_argument("--clients", type=int, default=32, help="concurrent order clients")
    ap.add_argument("--health-clients", type=int, default=None, help="default: --clients")
    ap.add_argument(
        "--health-duration", type=float, default=5.0, help="seconds of the /healthz phase"
    )
    ap.add_argument(
        "--simultaneous",
        action="store_true",
        help="drive /healthz during the order phase instead of in a phase of its own",
    )
    ap.add_argument("--workers", type=int, default=2, help="hubflow serve --workers")
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per database")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=60.0,
        metavar="S",
        help="wait up to S seconds for other work on the machine to settle before driving",
    )
    ap.add_argument("--py-spy", metavar="DIR", default=None, help="profile the server with py-spy")
    args = ap.parse_args()
    if args.health_clients is None:
        args.health_clients = args.clients
    kinds = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    result: dict[str, Any] = {}
    for kind in kinds:
        try:
            result[kind] = run_one(kind, args)
        except Exception as exc:
            log(f"{kind} failed: {exc!r}")
            result[kind] = {"error": repr(exc)[:2000]}
    result["machine"] = machine(args)
    sys.stderr.flush()
    print(json.dumps(result), flush=True)
    ok = all(
        "error" not in r and r["units_oversold"] == 0 and r["units_oversold_vs_receipts"] == 0
        for k, r in result.items()
        if k != "machine"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
