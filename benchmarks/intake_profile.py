"""Where one order's CPU goes: the server in-process, counted and (optionally) profiled.

A companion to ``intake.py`` for development, not a replacement: it runs the same app
under uvicorn (httptools, uvloop, one worker) in a thread of this process, drives it
from a separate process with ``intake.py``'s raw keep-alive HTTP/1.1 client, and
reports per order, over the measured phase only:

- the server's CPU (this process: the event loop, the thread pool, the relay thread);
- the PostgreSQL backends' CPU (by ``application_name``);
- SQL statements sent by the server (every ``execute``; an ``executemany`` counts its
  rows) and, on PostgreSQL, round trips to the database and transactions committed;
- with ``--profile FILE``, a yappi CPU profile of all the server's threads.

    python benchmarks/intake_profile.py --db postgresql --orders 2000 --clients 8
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _shared import database, free_port
from intake import (
    _postgres_cpu_s,
    _raw_request,
    _run_loop,
    drive,
    hubflow_cli,
    make_plan,
    order_requests,
    receive_stock,
    setup_network,
)
from sqlalchemy import event

APP_NAME = f"hubflow_profile_{os.getpid()}"


class Counts:
    """Statements and round trips seen by the server's database drivers."""

    def __init__(self) -> None:
        self.statements = 0
        self.round_trips = 0
        self.lock = threading.Lock()

    def add(self, statements: int, trips: int) -> None:
        with self.lock:
            self.statements += statements
            self.round_trips += trips


def _count_psycopg(counts: Counts) -> None:
    """Wrap psycopg: every execute is a statement (an executemany counts its rows);
    a round trip is a wait on the socket outside pipeline mode, or a pipeline sync."""
    import psycopg
    from psycopg._pipeline_base import BasePipeline

    execute, executemany, wait = (
        psycopg.Cursor.execute,
        psycopg.Cursor.executemany,
        psycopg.Connection.wait,
    )
    sync_gen, exit_gen = BasePipeline._sync_gen, BasePipeline._exit_gen

    def counted_execute(self: Any, *a: Any, **k: Any) -> Any:
        counts.add(1, 0)
        return execute(self, *a, **k)

    def counted_executemany(self: Any, query: Any, params_seq: Any, **k: Any) -> Any:
        params_seq = list(params_seq)
        counts.add(len(params_seq), 0)
        return executemany(self, query, params_seq, **k)

    def counted_wait(self: Any, gen: Any, *a: Any, **k: Any) -> Any:
        if self._pipeline is not None:  # counted at the pipeline's syncs
            return wait(self, gen, *a, **k)

        def waits_for_server() -> Any:  # a round trip if the generator waits for I/O
            try:
                state = next(gen)
                counts.add(0, 1)
                while True:
                    state = gen.send((yield state))
            except StopIteration as stop:
                return stop.value

        return wait(self, waits_for_server(), *a, **k)

    def counted_sync(self: Any) -> Any:
        counts.add(0, 1)
        return sync_gen(self)

    def counted_exit(self: Any) -> Any:
        counts.add(0, 1)
        return exit_gen(self)

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign]
    psycopg.Connection.wait = counted_wait  # type: ignore[method-assign]
    BasePipeline._sync_gen = counted_sync  # type: ignore[method-assign]
    BasePipeline._exit_gen = counted_exit  # type: ignore[method-assign]


def _count_sqlite(engine: Any, counts: Counts) -> None:
    """Every statement SQLite runs (BEGIN and COMMIT too), on every connection."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(lambda _sql: counts.add(1, 0))


def _generator(port: int, reqs: list[bytes], clients: int, duration: float, q: Any) -> None:
    health = _raw_request("GET", "/healthz", port, {}, b"")
    res = _run_loop(drive(port, reqs, health, clients, 0, duration, "raw"))
    o = res["orders"]
    q.put({"n": len(o.latencies_ms), "codes": o.codes, "errors": o.errors, "wall": res["wall_s"]})


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    import uvicorn

    with database(kind, "hubflow-profile", APP_NAME) as url, tempfile.TemporaryDirectory():
        env = {**os.environ, "HUBFLOW_DATABASE_URL": url, "HUBFLOW_LOG_LEVEL": "WARNING"}
        hubflow_cli(env, "db", "upgrade")
        printed = hubflow_cli(env, "keys", "create", "--operator", "--label", "profile")
        operator_key = printed.strip().rsplit(" ", 1)[-1]
        os.environ["HUBFLOW_DATABASE_URL"] = url
        from hubflow.api.app import create_app
        from hubflow.core.settings import Settings

        counts = Counts()
        if kind == "postgresql":
            _count_psycopg(counts)
        app = create_app(Settings())
        if kind == "sqlite":
            _count_sqlite(app.state.hubflow.engine, counts)
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, access_log=False, log_level="warning"
        )
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        while not srv.started:
            time.sleep(0.05)
        net = setup_network(port, operator_key)
        ctx = mp.get_context("spawn")

        def phase(reqs: list[bytes], duration: float) -> dict[str, Any]:
            q = ctx.Queue()
            p = ctx.Process(target=_generator, args=(port, reqs, args.clients, duration, q))
            p.start()
            out: dict[str, Any] = q.get()
            p.join()
            return out

        warm = make_plan(5000, args.seed + 1, calibrate=False)
        phase(order_requests(warm, net.warmup_product_ids, net, port, "raw", "w"), args.warmup)
        plan = make_plan(args.orders, args.seed)
        receive_stock(port, net, plan)
        reqs = order_requests(plan, net.product_ids, net, port, "raw", "m")
        if args.profile:
            import yappi

            yappi.set_clock_type("cpu")
            yappi.start(builtins=False)
        pg0 = _postgres_cpu_s(APP_NAME) if kind == "postgresql" else 0.0
        s0, r0 = counts.statements, counts.round_trips
        cpu0 = time.process_time()
        res = phase(reqs, args.duration)
        cpu = time.process_time() - cpu0
        time.sleep(0.3)  # the relay's last pass over the events of the last orders
        statements, trips = counts.statements - s0, counts.round_trips - r0
        pg = (_postgres_cpu_s(APP_NAME) - pg0) if kind == "postgresql" else 0.0
        if args.profile:
            yappi.stop()
            stats = yappi.get_func_stats()
            stats.save(args.profile + f".{kind}.pstat", type="pstat")
            with Path(args.profile + f".{kind}.txt").open("w") as fh:
                stats.sort("ttot").print_all(
                    out=fh,
                    columns={0: ("name", 100), 1: ("ncall", 10), 3: ("ttot", 8), 4: ("tsub", 8)},
                )
        srv.should_exit = True
        thread.join(timeout=30)
    n = res["n"]
    return {
        "orders": n,
        "orders_per_s": round(n / res["wall"], 1),
        "codes": res["codes"],
        "errors": res["errors"],
        "server_cpu_ms_per_order": round(cpu / n * 1000, 3),
        "postgres_cpu_ms_per_order": round(pg / n * 1000, 3) if kind == "postgresql" else None,
        "statements_per_order": round(statements / n, 2),
        "round_trips_per_order": round(trips / n, 2) if kind == "postgresql" else None,
        "profiled": bool(args.profile),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", metavar="FILE", help="yappi CPU profile into FILE.<db>.txt")
    args = ap.parse_args()
    out = run(args.db, args)
    print(json.dumps({args.db: out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
