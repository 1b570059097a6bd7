"""What the benchmarks share: a throw-away database, a free port, the server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "HUBFLOW_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HOST = "127.0.0.1"


@contextlib.contextmanager
def database(kind: str, prefix: str, application_name: str | None = None) -> Iterator[str]:
    """A URL for an empty database: a temp SQLite file, or a PostgreSQL schema of its own
    (dropped afterwards)."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"{prefix.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in PG_ADMIN_URL else "?"
        url = f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}"
        yield url + (f"&application_name={application_name}" if application_name else "")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(env: dict[str, str], port: int, workers: int, logfile: Path) -> Iterator[int]:
    """``hubflow serve`` as a user runs it, until it answers /readyz; stopped with SIGINT."""
    exe = shutil.which("hubflow")
    base = [exe] if exe else [sys.executable, "-m", "hubflow.cli"]
    cmd = [*base, "serve", "--workers", str(workers), "--port", str(port), "--host", HOST]
    with logfile.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {logfile.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become ready in 60 s")
                time.sleep(0.2)
            yield proc.pid
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
