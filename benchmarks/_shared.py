"""What the benchmarks share: a throw-away database and a free port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

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
