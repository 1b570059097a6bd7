"""``hubflow demo``: a Seattle metro network built and driven through the real HTTP API.

The demo recreates a SQLite file, migrates it, creates an operator key through
the services (the only step that does not go over HTTP: someone has to hold the
first key), starts the real app with uvicorn in a background thread, and then
does everything else as a client would: hubs, merchants, products, stock
receipts, one webhook endpoint per merchant pointing at a small receiver that
checks every signature, and a burst of concurrent orders. It prints a summary
and, unless told not to, keeps serving so the API can be explored with curl or
at ``/docs``.

Everything a seed decides (network, catalog, stock, customers, order lines) is
the same on every run. Outcomes depend on the seed and on the local time in
Seattle, because sourcing prefers hubs that are open now (stores open 07:00 to
22:00); ids, timestamps and latencies differ from run to run.
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hubflow.core.geo import LatLng, haversine_km
from hubflow.network.model import Capability, HubKind
from hubflow.sim.catalog import MERCHANTS, MerchantSpec, ProductSpec, generate_catalog
from hubflow.sim.lastmile import LastMile, build_fleet, deliver_one, run_dispatch
from hubflow.sim.metro import METRO, Area, HubSpec, Metro
from hubflow.sim.run import fresh_database
from hubflow.webhooks.relay import matches
from hubflow.webhooks.signing import SIGNATURE_HEADER, SignatureError, verify

__all__ = ["DemoError", "OrderPlan", "StockPlan", "plan_orders", "plan_stock", "run_demo"]

T = TypeVar("T")

WORKERS = 8
# Stock receipts (stock.*) are left out: a thousand of them during set-up would only
# keep the relay, and SQLite's single writer, busy before the orders start.
WEBHOOK_EVENTS = ["order.*", "product.*"]
HOST = "127.0.0.1"
# The demo's short twin day: the default Seattle scenario, fewer orders and a lighter
# planner so that it runs in about a minute (see the README for the measured time).
TWIN_DEMO_SETS = ("demand.orders_per_day=400", "delivery.planner_iterations=100")


class DemoError(RuntimeError):
    """The demo could not go on (a call failed that should not have)."""


# --------------------------------------------------------------------------
# The plan: everything the seed decides, computed before any request.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class StockPlan:
    merchant: str
    sku: str
    hub: str
    quantity: int


@dataclass(frozen=True)
class OrderPlan:
    index: int
    merchant: str
    lines: tuple[tuple[str, int], ...]  # (sku, quantity)
    area: Area
    lat: float
    lng: float
    customer: str
    street: str
    oversized: bool = False  # asks for more than the whole network holds

    def body(self, product_ids: dict[tuple[str, str], str], country: str) -> dict[str, Any]:
        email_name = self.customer.lower().replace(" ", ".").replace("'", "")
        return {
            "lines": [
                {"product_id": product_ids[(self.merchant, sku)], "quantity": q}
                for sku, q in self.lines
            ],
            "customer": {"name": self.customer, "email": f"{email_name}@example.com"},
            "address": {
                "line1": self.street,
                "city": _city(self.area),
                "postcode": self.area.postcode,
                "country": country,
                "lat": self.lat,
                "lng": self.lng,
            },
            "external_ref": f"demo-{self.index + 1:05d}",
        }


_FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Diego",
    "Emma",
    "Farah",
    "Grace",
    "Hiro",
    "Isla",
    "Jamal",
    "Kai",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
]
_LAST = [
    "Anderson",
    "Baker",
    "Chen",
    "Dubois",
    "Evans",
    "Garcia",
    "Hansen",
    "Ito",
    "Johnson",
    "Kim",
    "Larsen",
    "Martinez",
    "Nguyen",
    "O'Brien",
    "Patel",
    "Rossi",
    "Singh",
    "Tanaka",
    "Walker",
    "Young",
]
_STREETS = [
    "Pine St",
    "Pike St",
    "Broadway E",
    "NW Market St",
    "Fremont Ave N",
    "University Way NE",
    "California Ave SW",
    "Roosevelt Way NE",
    "Bellevue Way NE",
    "Lake St S",
    "Redmond Way",
    "Rainier Ave S",
    "Aurora Ave N",
    "15th Ave NW",
    "Beacon Ave S",
    "Main St",
]
_CITIES = {
    "Bellevue": "Bellevue",
    "Kirkland": "Kirkland",
    "Redmond": "Redmond",
    "Renton": "Renton",
    "Kent": "Kent",
    "Lynnwood": "Lynnwood",
    "Burien": "Burien",
}


def _city(area: Area) -> str:
    return _CITIES.get(area.name, "Seattle")


def _expected_units(
    n_orders: int, merchant: MerchantSpec, products: list[ProductSpec], p: ProductSpec
) -> float:
    """Units of ``p`` the ordinary orders of a run are expected to ask for."""
    total = sum(x.popularity for x in products)
    lines_per_order = 2.0
    qty_per_line = (1 + p.max_per_order) / 2 * 0.8
    return (
        n_orders
        * merchant.share_of_orders
        * lines_per_order
        * p.popularity
        / total
        * (qty_per_line)
    )


def plan_stock(
    metro: Metro, catalog: dict[str, list[ProductSpec]], n_orders: int, seed: int
) -> list[StockPlan]:
    """Where each product is stocked and how much: the fulfillment center holds most of
    the catalog in depth; stores and the dark store hold the best sellers and a slice
    of the long tail, enough for their neighbourhood."""
    rng = random.Random(f"hubflow-stock-{seed}")
    out: list[StockPlan] = []
    scale = max(1.0, n_orders / 300)
    for m in MERCHANTS:
        products = catalog[m.key]
        ranked = sorted(products, key=lambda p: -p.popularity)
        best = {p.sku for p in ranked[: max(1, len(ranked) // 4)]}
        for hub in metro.hubs:
            for p in products:
                expected = _expected_units(max(n_orders, 300), m, products, p)
                if hub.kind is HubKind.FULFILLMENT_CENTER:
                    if p.sku not in best and rng.random() >= m.fc_coverage:
                        continue
                    qty = math.ceil(expected * 2.0) + rng.randint(20, 80)
                elif hub.kind is HubKind.DARK_STORE:
                    if m.key == "electronics" and p.value_cents > 20000:
                        continue  # no big-ticket electronics in a dark store
                    if rng.random() >= (0.9 if p.sku in best else 0.2):
                        continue
                    qty = math.ceil(expected * 0.4) + rng.randint(8, 25)
                else:
                    if m.stores is not None and hub.key not in m.stores:
                        continue
                    if m.key == "electronics" and p.dims_mm[0] > 900:
                        continue  # TVs ship from the fulfillment center
                    p_carry = 0.85 if p.sku in best else m.store_coverage
                    if rng.random() >= p_carry:
                        continue
                    qty = math.ceil(expected * 0.3) + rng.randint(5, 20)
                out.append(StockPlan(m.key, p.sku, hub.key, math.ceil(qty * scale)))
    return out


def _ships(hub: HubSpec) -> bool:
    return hub.kind is not HubKind.STORE or Capability.SHIP_FROM_STORE in hub.capabilities


def _quantity(rng: random.Random, most: int) -> int:
    """Mostly one, sometimes a few."""
    return rng.choices(range(1, most + 1), weights=[1 / q**2 for q in range(1, most + 1)])[0]


def plan_orders(
    metro: Metro,
    catalog: dict[str, list[ProductSpec]],
    stock: list[StockPlan],
    n_orders: int,
    seed: int,
) -> list[OrderPlan]:
    """Customer orders at seeded random points around the metro, 1-4 lines each.

    Like a storefront that shows what can be delivered to the shopper's address,
    customers pick among the products stocked at some hub that ships to them.
    About one order in forty (at least one) is a bulk request for more units than
    the whole network holds: it must come back 409 insufficient_stock.
    """
    rng = random.Random(f"hubflow-orders-{seed}")
    totals: Counter[tuple[str, str]] = Counter()
    stocked_at: dict[str, set[tuple[str, str]]] = {}
    for s in stock:
        totals[(s.merchant, s.sku)] += s.quantity
        stocked_at.setdefault(s.hub, set()).add((s.merchant, s.sku))
    shipping = [h for h in metro.hubs if _ships(h)]
    n_bulk = max(1, n_orders // 40) if n_orders > 0 else 0
    bulk = set(rng.sample(range(n_orders), n_bulk)) if n_orders else set()
    merchants = list(MERCHANTS)
    out = []
    for i in range(n_orders):
        area, lat, lng = metro.customer_point(rng)
        here = LatLng(lat, lng)
        reachable = set().union(
            *(
                stocked_at.get(h.key, set())
                for h in shipping
                if haversine_km(LatLng(h.lat, h.lng), here) <= h.service_radius_km
            )
        )
        m = rng.choices(merchants, weights=[x.share_of_orders for x in merchants])[0]
        products = [p for p in catalog[m.key] if (m.key, p.sku) in reachable]
        n_lines = rng.choices((1, 2, 3, 4), weights=(35, 30, 20, 15))[0]
        chosen: list[ProductSpec] = []
        while len(chosen) < min(n_lines, len(products)):
            p = rng.choices(products, weights=[x.popularity for x in products])[0]
            if p not in chosen:
                chosen.append(p)
        lines = [(p.sku, _quantity(rng, p.max_per_order)) for p in chosen]
        if i in bulk:
            sku, _ = lines[0]
            lines[0] = (sku, totals[(m.key, sku)] + rng.randint(1, 12))
        out.append(
            OrderPlan(
                index=i,
                merchant=m.key,
                lines=tuple(lines),
                area=area,
                lat=lat,
                lng=lng,
                customer=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                street=f"{rng.randint(100, 9999)} {rng.choice(_STREETS)}",
                oversized=i in bulk,
            )
        )
    return out


# --------------------------------------------------------------------------
# The webhook receiver: verifies every signature, de-duplicates by event id.
# --------------------------------------------------------------------------


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # path -> endpoint secret
    deliveries: int = 0
    verified: int = 0
    rejected: int = 0
    event_ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def handle(self, path: str, headers: Any, body: bytes) -> int:
        secret = self.secrets.get(path)
        ok = False
        if secret is not None:
            try:
                verify(secret, headers.get(SIGNATURE_HEADER, ""), body, int(time.time()))
                ok = True
            except SignatureError:
                ok = False
        with self.lock:
            self.deliveries += 1
            if ok:
                self.verified += 1
                self.event_ids.add(headers.get("Hubflow-Event-Id", ""))
            else:
                self.rejected += 1
        return 204 if ok else 401

    def unique(self) -> int:
        with self.lock:
            return len(self.event_ids)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                self.send_response(receiver.handle(self.path, self.headers, body))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, name="demo-webhooks", daemon=True
        ).start()
        return f"http://{HOST}:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# --------------------------------------------------------------------------
# The HTTP client side.
# --------------------------------------------------------------------------


class Api:
    """One keep-alive httpx client per thread against the demo server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        c: httpx.Client | None = getattr(self._local, "client", None)
        if c is None:
            c = httpx.Client(base_url=self.base_url, timeout=30.0)
            self._local.client = c
            with self._lock:
                self._clients.append(c)
        return c

    def post(self, path: str, key: str, body: Any, **headers: str) -> httpx.Response:
        return self.client().post(
            path, json=body, headers={"Authorization": f"Bearer {key}", **headers}
        )

    def created(self, path: str, key: str, body: Any) -> dict[str, Any]:
        r = self.post(path, key, body)
        if r.status_code != 201:
            raise DemoError(f"POST {path} answered {r.status_code}: {r.text[:300]}")
        out: dict[str, Any] = r.json()
        return out

    def close(self) -> None:
        with self._lock:
            for c in self._clients:
                c.close()
            self._clients.clear()


def _parallel(
    items: list[T], fn: Callable[[T], Any], progress: Progress | None, label: str
) -> list[Any]:
    task = progress.add_task(label, total=len(items)) if progress else None
    results: list[Any] = [None] * len(items)
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="demo")
    try:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        # On Ctrl-C or a failed call, drop the requests not yet sent instead of waiting.
        pool.shutdown(wait=True, cancel_futures=True)
    return results


# --------------------------------------------------------------------------
# The server in a background thread.
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _serving(db_url: str, port: int, twin_dir: Path | None = None) -> Iterator[Any]:
    import uvicorn

    from hubflow.api.app import create_app
    from hubflow.core.settings import Settings

    settings = Settings(
        database_url=db_url,
        relay_interval_s=0.2,
        # The demo shows a day's parcels planned in one epoch, whatever the hour it runs
        # at; a live network plans only the next 12 hours (the default horizon).
        dispatch_horizon_s=24 * 3600,
        log_json=False,
        twin_dir=str(twin_dir) if twin_dir else None,
    )
    app = create_app(settings, run_relay=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=HOST, port=port, log_level="warning", access_log=False, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="demo-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise DemoError(f"the API did not start on {HOST}:{port} (is the port in use?)")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.state.hubflow.engine.dispose()


def _operator_key(db_url: str) -> str:
    from hubflow.catalog.model import Role
    from hubflow.catalog.service import create_key
    from hubflow.core.db import UnitOfWork, make_engine

    engine = make_engine(db_url)
    try:
        with UnitOfWork(engine) as uow:
            key, _ = create_key(uow, Role.OPERATOR, None, "demo operator", datetime.now(UTC))
    finally:
        engine.dispose()
    return key.secret


DEMO_LOGINS = (("ops@example.com", "operator"), ("shop@example.com", "merchant"))


def _logins(db_url: str, merchant_id: str, password: str) -> None:
    """The demo's two logins for the pages: an operator, and the first merchant's staff."""
    from hubflow.core.db import UnitOfWork, make_engine
    from hubflow.web.accounts import create_user
    from hubflow.web.model import WebRole

    engine = make_engine(db_url)
    try:
        with UnitOfWork(engine) as uow:
            for email, role in DEMO_LOGINS:
                create_user(
                    uow, email=email, name=email.split("@")[0].title(), password=password,
                    role=WebRole(role), now=datetime.now(UTC),
                    merchant_id=merchant_id if role == "merchant" else None,
                )  # fmt: skip
    finally:
        engine.dispose()


def _logins_summary(
    console: Console, base_url: str, password: str, merchant: str, twin: bool
) -> None:
    # Plain lines, not a table: a URL folded over two lines can no longer be clicked.
    lines = [
        f"\n[bold]Log in to the pages[/] at {base_url}/login with the password {password}",
        f"  operator  {DEMO_LOGINS[0][0]}  → {base_url}/ops",
        f"  merchant  {DEMO_LOGINS[1][0]} ({merchant})  → {base_url}/merchant",
    ]
    if twin:
        lines.append(f"  the twin's day, replayed on the map  → {base_url}/ops/replay?source=twin")
    console.print("\n".join(lines), soft_wrap=True)


# --------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------


@dataclass
class Outcome:
    plan: OrderPlan
    status: int
    latency_s: float
    body: dict[str, Any]


@dataclass
class Built:
    hubs: dict[str, dict[str, Any]]  # hub key -> hub json
    merchants: dict[str, dict[str, Any]]  # merchant key -> {id, name, api_key}
    product_ids: dict[tuple[str, str], str]  # (merchant key, sku) -> product id
    units: int
    receipts: int


def _build(
    api: Api,
    operator_key: str,
    metro: Metro,
    catalog: dict[str, list[ProductSpec]],
    stock: list[StockPlan],
    receiver: Receiver,
    receiver_url: str,
    progress: Progress,
) -> Built:
    hubs: dict[str, dict[str, Any]] = {}

    def make_hub(spec: HubSpec) -> dict[str, Any]:
        return api.created("/v1/hubs", operator_key, spec.as_json(metro.timezone, metro.region))

    for spec, hub in zip(
        metro.hubs, _parallel(list(metro.hubs), make_hub, progress, "hubs"), strict=True
    ):
        hubs[spec.key] = hub

    merchants: dict[str, dict[str, Any]] = {}
    task = progress.add_task("merchants + webhook endpoints", total=len(MERCHANTS))
    for m in MERCHANTS:
        created = api.created("/v1/merchants", operator_key, {"name": m.name, "kind": m.kind})
        path = f"/hooks/{m.key}"
        endpoint = api.created(
            "/v1/webhooks/endpoints",
            created["api_key"],
            {
                "url": receiver_url + path,
                "event_types": WEBHOOK_EVENTS,
                "description": f"demo receiver for {m.name}",
            },
        )
        receiver.secrets[path] = endpoint["secret"]
        merchants[m.key] = created
        progress.advance(task)

    items = [(m.key, p) for m in MERCHANTS for p in catalog[m.key]]

    def make_product(item: tuple[str, ProductSpec]) -> str:
        key, p = item
        return str(api.created("/v1/products", merchants[key]["api_key"], p.as_json())["id"])

    ids = _parallel(items, make_product, progress, "products")
    product_ids = {(k, p.sku): pid for (k, p), pid in zip(items, ids, strict=True)}

    def receive(s: StockPlan) -> int:
        api.created(
            "/v1/stock/receipts",
            merchants[s.merchant]["api_key"],
            {
                "hub_id": hubs[s.hub]["id"],
                "product_id": product_ids[(s.merchant, s.sku)],
                "quantity": s.quantity,
                "note": "demo opening stock",
            },
        )
        return s.quantity

    units = sum(_parallel(stock, receive, progress, "stock receipts"))
    return Built(hubs, merchants, product_ids, units, len(stock))


def _place(
    api: Api, built: Built, metro: Metro, seed: int, orders: list[OrderPlan], progress: Progress
) -> list[Outcome]:
    def place(o: OrderPlan) -> Outcome:
        body = o.body(built.product_ids, metro.country)
        key = built.merchants[o.merchant]["api_key"]
        t0 = time.perf_counter()
        r = api.post("/v1/orders", key, body, **{"Idempotency-Key": f"demo-{seed}-{o.index:05d}"})
        elapsed = time.perf_counter() - t0
        return Outcome(o, r.status_code, elapsed, r.json())

    outcomes: list[Outcome] = _parallel(orders, place, progress, f"orders ({WORKERS} clients)")
    return outcomes


def _check_replay(api: Api, built: Built, metro: Metro, seed: int, first: Outcome) -> bool:
    """Send an accepted order again with its key: the same order must come back."""
    o = first.plan
    r = api.post(
        "/v1/orders",
        built.merchants[o.merchant]["api_key"],
        o.body(built.product_ids, metro.country),
        **{"Idempotency-Key": f"demo-{seed}-{o.index:05d}"},
    )
    return (
        r.status_code == first.status
        and r.headers.get("Idempotent-Replayed") == "true"
        and r.json().get("id") == first.body.get("id")
    )


def _expected_webhooks(products: int, receipts: int, orders: int) -> int:
    """Events the receiver must get: one per product created and per stock receipt, two
    per accepted order (order.accepted, order.allocated), as far as subscribed."""
    counts = {
        "product.created": products,
        "stock.received": receipts,
        "order.accepted": orders,
        "order.allocated": orders,
    }
    return sum(n for kind, n in counts.items() if matches(WEBHOOK_EVENTS, kind))


def _wait_webhooks(receiver: Receiver, expected: int, progress: Progress, timeout_s: float) -> None:
    task = progress.add_task("webhooks delivered", total=expected)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = receiver.unique()
        progress.update(task, completed=min(got, expected))
        if got >= expected:
            return
        time.sleep(0.1)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def run_demo(
    n_orders: int = 300,
    port: int = 8000,
    db_path: str = "hubflow-demo.db",
    seed: int = 7,
    serve: bool = True,
    twin_dir: str | None = None,
    twin_sets: tuple[str, ...] = TWIN_DEMO_SETS,
    password: str | None = None,
) -> int:
    """Build the demo metro, place ``n_orders`` orders over HTTP, print a summary.

    With ``twin_dir``, first runs a short default day of the digital twin into that
    folder (its own database), prints its headline KPIs, and serves its report at
    ``/twin/report`` and its KPIs at ``/twin/results``. Returns 0 when every call behaved
    as expected, 1 otherwise. With ``serve``, keeps the API up until Ctrl-C. It creates
    an operator's and a merchant's login for the pages, with ``password`` (random when
    not given), and prints them.
    """
    console = Console()
    started = time.perf_counter()
    twin_path = Path(twin_dir).resolve() if twin_dir else None
    if twin_path is not None:
        from hubflow.sim.commands import run_one

        run_one(console, "seattle", seed, list(twin_sets), twin_path)
    metro = METRO
    catalog = generate_catalog(seed)
    stock = plan_stock(metro, catalog, n_orders, seed)
    orders = plan_orders(metro, catalog, stock, n_orders, seed)

    path = Path(db_path).resolve()
    console.print(f"[bold]Hubflow demo[/] — {metro.name}, seed {seed}, database {path}")
    db_url = fresh_database(path)
    operator_key = _operator_key(db_url)
    receiver = Receiver()
    receiver_url = receiver.start()
    base_url = f"http://{HOST}:{port}"
    api = Api(base_url)
    try:
        with _serving(db_url, port, twin_path) as server:
            console.print(f"API up at {base_url}; webhooks go to {receiver_url}")
            progress = Progress(
                TextColumn("[progress.description]{task.description:<32}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            with progress:
                built = _build(
                    api, operator_key, metro, catalog, stock, receiver, receiver_url, progress
                )
                t0 = time.perf_counter()
                outcomes = _place(api, built, metro, seed, orders, progress)
                wall = time.perf_counter() - t0
                accepted = [o for o in outcomes if o.status == 201]
                replay_ok = (
                    _check_replay(api, built, metro, seed, accepted[0]) if accepted else True
                )
                expected_webhooks = _expected_webhooks(
                    sum(len(v) for v in catalog.values()), built.receipts, len(accepted)
                )
                _wait_webhooks(receiver, expected_webhooks, progress, timeout_s=60)
                last_mile = _last_mile(api, operator_key, built, metro, seed, accepted, progress)
            first = next(iter(built.merchants.values()))
            password = password or secrets.token_urlsafe(12)
            _logins(db_url, str(first["id"]), password)
            ok = _summary(
                console,
                metro,
                built,
                outcomes,
                wall,
                receiver,
                expected_webhooks,
                replay_ok,
                operator_key,
                base_url,
                time.perf_counter() - started,
            )
            _last_mile_summary(console, last_mile, accepted, base_url)
            if twin_path is not None:
                console.print(
                    f"Twin day: report at {base_url}/twin/report, KPIs at {base_url}/twin/results"
                )
            _logins_summary(console, base_url, password, str(first["name"]), twin_path is not None)
            if serve:
                console.print(
                    f"\n[bold green]Serving[/] on {base_url} (docs at {base_url}/docs); "
                    "press Ctrl-C to stop."
                )
                try:
                    while not server.should_exit:
                        time.sleep(0.5)
                except KeyboardInterrupt:
                    console.print("stopping…")
    except DemoError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        return 1
    finally:
        api.close()
        receiver.stop()
    return 0 if ok else 1


def _last_mile(
    api: Api,
    key: str,
    built: Built,
    metro: Metro,
    seed: int,
    accepted: list[Outcome],
    progress: Progress,
) -> LastMile:
    task = progress.add_task("fleet: vehicles, couriers, shifts", total=1)
    lm = build_fleet(api, key, built.hubs, list(metro.hubs), seed)
    progress.advance(task)
    shipments = [s["id"] for o in accepted for s in o.body.get("shipments", [])]

    def pack(shipment_id: str) -> None:
        r = api.post(f"/v1/shipments/{shipment_id}/packed", key, {})
        if r.status_code != 200:
            raise DemoError(f"packing {shipment_id} answered {r.status_code}: {r.text[:200]}")

    _parallel(shipments, pack, progress, "parcels packed at hubs")
    lm.packed = len(shipments)
    task = progress.add_task("dispatch epoch (PyVRP)", total=1)
    run_dispatch(api, key, metro.region, lm)
    progress.advance(task)
    task = progress.add_task("one route driven to a door", total=1)
    deliver_one(api, key, lm)
    progress.advance(task)
    return lm


def _last_mile_summary(
    console: Console, lm: LastMile, accepted: list[Outcome], base_url: str
) -> None:
    run = lm.run
    t = Table(title="Last mile — one dispatch epoch", show_header=False, title_justify="left")
    t.add_column("what", style="bold")
    t.add_column("value", overflow="fold")
    t.add_row(
        "fleet", ", ".join(f"{n} {m.replace('_', ' ')}" for m, n in sorted(lm.vehicles.items()))
    )
    t.add_row("couriers", f"{lm.employees} employees on shift, {lm.gig} gig couriers online")
    t.add_row("parcels packed", str(lm.packed))
    modes = Counter(r["mode"] for r in lm.routes)
    t.add_row(
        "routes planned (own fleet)",
        f"{run['routes']} ({', '.join(f'{n} {m}' for m, n in sorted(modes.items()))}), "
        f"{sum(r['distance_m'] for r in lm.routes) / 1000:.0f} km",
    )
    t.add_row("offered to gig couriers", f"{run['offered']} route(s)")
    t.add_row("handed to a carrier", str(run["to_carrier"]))
    reasons = Counter(run["unplaced"].values())
    t.add_row("not placed (reason)", ", ".join(f"{n} {r}" for r, n in reasons.items()) or "0")
    t.add_row("waiting for the next epoch", str(run["postponed"]))
    t.add_row("planning took", f"{run['runtime_ms'] / 1000:.1f} s")
    if lm.delivered:
        shipment = lm.delivered["shipment_id"]
        token = next(
            (
                s.get("tracking_token")
                for o in accepted
                for s in o.body.get("shipments", [])
                if s["id"] == shipment
            ),
            None,
        )
        t.add_row("delivered", f"{shipment} — track it: {base_url}/v1/tracking/{token}")
    console.print(t)


def _summary(
    console: Console,
    metro: Metro,
    built: Built,
    outcomes: list[Outcome],
    wall_s: float,
    receiver: Receiver,
    expected_webhooks: int,
    replay_ok: bool,
    operator_key: str,
    base_url: str,
    total_s: float,
) -> bool:
    accepted = [o for o in outcomes if o.status == 201]
    refused = [
        o
        for o in outcomes
        if o.status == 409 and o.body.get("error", {}).get("code") == "insufficient_stock"
    ]
    other = [o for o in outcomes if o not in accepted and o not in refused]
    bulk_refused = sum(o.plan.oversized for o in refused)
    bulk = sum(o.plan.oversized for o in outcomes)
    split = sum(bool(o.body.get("split")) for o in accepted)
    latencies = [o.latency_s * 1000 for o in outcomes]
    n_products = len(built.product_ids)
    local = datetime.now(ZoneInfo(metro.timezone))

    t = Table(title=f"Hubflow demo — {metro.name}", show_header=False, title_justify="left")
    t.add_column("what", style="bold")
    t.add_column("value", overflow="fold")  # keys must print whole, never with an ellipsis
    kinds = Counter(h["kind"] for h in built.hubs.values())
    t.add_row(
        "hubs",
        f"{len(built.hubs)} ({kinds[HubKind.FULFILLMENT_CENTER.value]} fulfillment center, "
        f"{kinds[HubKind.DARK_STORE.value]} dark store, {kinds[HubKind.STORE.value]} stores)",
    )
    t.add_row("local time in Seattle", f"{local:%a %H:%M} (stores open 07:00-22:00)")
    t.add_row("merchants", ", ".join(m["name"] for m in built.merchants.values()))
    t.add_row("products", str(n_products))
    t.add_row("units stocked", f"{built.units:,} in {built.receipts:,} stock positions")
    t.add_row("orders placed", f"{len(accepted)} of {len(outcomes)}")
    t.add_row(
        "refused for stock (409)",
        f"{len(refused)} ({bulk_refused} of {bulk} bulk orders beyond network stock)",
    )
    t.add_row("other responses", str(len(other)) if not other else f"[red]{len(other)}[/]")
    t.add_row("split orders", f"{split} ({split / max(1, len(accepted)):.0%} of placed)")
    t.add_row(
        "order latency",
        f"p50 {_percentile(latencies, 0.5):.1f} ms, p99 {_percentile(latencies, 0.99):.1f} ms "
        f"({len(outcomes) / max(wall_s, 1e-9):.0f} orders/s with {WORKERS} clients)",
    )
    t.add_row("idempotent replay", "same order returned" if replay_ok else "[red]FAILED[/]")
    t.add_row(
        "webhooks",
        # Expected counts only the product, stock and order events the demo waits for;
        # the last mile adds shipment events after that wait.
        f"{receiver.unique():,} events delivered ({expected_webhooks:,} product, stock and "
        f"order events awaited), {receiver.verified:,} signatures verified, "
        f"{receiver.rejected} rejected",
    )
    t.add_row("docs", f"{base_url}/docs")
    t.add_row("operator key", operator_key)
    first = next(iter(built.merchants.values()))
    t.add_row(f"merchant key ({first['name']})", str(first["api_key"]))
    t.add_row("took", f"{total_s:.1f} s")
    console.print(t)

    per_hub: Counter[str] = Counter()
    for o in accepted:
        for s in o.body.get("shipments", []):
            per_hub[s["hub_id"]] += 1
    h = Table(title="Shipments per hub", title_justify="left")
    h.add_column("hub")
    h.add_column("kind")
    h.add_column("ships", justify="center")
    h.add_column("open now", justify="center")
    h.add_column("shipments", justify="right")
    for hub in built.hubs.values():
        ships = hub["kind"] != HubKind.STORE.value or (
            Capability.SHIP_FROM_STORE.value in hub["capabilities"]
        )
        h.add_row(
            hub["name"],
            hub["kind"].replace("_", " "),
            "yes" if ships else "pick-up only",
            "yes" if hub.get("open_now") else "no",
            str(per_hub.get(hub["id"], 0)),
        )
    console.print(h)

    mkey = str(first["api_key"])
    console.print(
        "\nTry it:\n"
        f"  curl -s {base_url}/v1/hubs -H 'Authorization: Bearer {operator_key}'\n"
        f"  curl -s '{base_url}/v1/orders?limit=2' -H 'Authorization: Bearer {mkey}'",
        soft_wrap=True,
    )
    if other:
        for o in other[:5]:
            console.print(f"[red]order {o.plan.index}: HTTP {o.status}[/] {o.body}")
    return (
        not other
        and replay_ok
        and receiver.rejected == 0
        and receiver.unique() >= expected_webhooks
        and bulk_refused == bulk
    )
