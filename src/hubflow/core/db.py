"""Engine, metadata and the unit of work.

SQLite runs in WAL mode with foreign keys on, and every write transaction starts
with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock.
PostgreSQL runs at READ COMMITTED; correctness under concurrency comes from
conditional updates, never from reading first and writing after.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, MetaData, create_engine, event

from hubflow.core.prepared import BEGIN_PENDING, pipelined

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: threads still queue, processes do not
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "BEGIN_PENDING",
    "UnitOfWork",
    "is_postgres",
    "make_engine",
    "metadata",
    "pipelined",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def make_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_size=pool_size, echo=echo)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        echo=echo,
        # orjson, not the json module: serializing the order's JSON columns was ~4 % of
        # the server's CPU per order. psycopg takes the bytes as they are.
        json_serializer=_orjson_bytes,
        json_deserializer=orjson.loads,
    )


def _orjson_bytes(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _orjson_str(value: Any) -> str:
    return _orjson_bytes(value).decode()


SQLITE_BUSY_S = 60


class _WriterGate:
    """SQLite has one writer at a time. Write units of work queue here instead of in
    SQLite's busy handler, which polls with sleeps of up to 100 ms (seconds of tail
    latency under concurrent writes): threads of a process on a lock, processes
    (``serve --workers N``) on an flock of a file beside the database, polled every
    millisecond or two. Read-only units of work never take it; writes outside a
    unit of work (migrations) still meet the busy handler.
    """

    def __init__(self, lock_path: str | None) -> None:
        self._local = threading.Lock()
        self._fd: int | None = None
        if lock_path is not None and fcntl is not None:
            try:
                self._fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:  # a read-only folder: processes fall back to the busy handler
                return
            weakref.finalize(self, os.close, self._fd)

    def acquire(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        if not self._local.acquire(timeout=timeout_s):
            return False
        if self._fd is None or fcntl is None:
            return True
        delay = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._local.release()
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 0.002)

    def release(self) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._local.release()


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterGate] = weakref.WeakKeyDictionary()


def _sqlite_engine(url: str, *, pool_size: int, echo: bool) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    # File databases keep their connections in a pool: opening one per transaction
    # costs the PRAGMAs below and, when the last one closes, a WAL checkpoint (4x
    # slower order intake). Pooled connections hold no lock between transactions.
    pool: dict[str, Any] = {} if memory else {"pool_size": pool_size, "max_overflow": pool_size}
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S},
        json_serializer=_orjson_str,  # SQLite stores text (bytes would become a BLOB)
        json_deserializer=orjson.loads,
        **pool,
    )

    database = engine.url.database
    _SQLITE_WRITERS[engine] = _WriterGate(None if memory or not database else database + ".lock")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite would otherwise BEGIN DEFERRED lazily).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_S * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("hubflow_readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class UnitOfWork:
    """One transaction: commit on success, roll back on any exception.

    Side effects (waking the relay, metrics) run only after commit, through
    ``after_commit`` callbacks. ``begin_in_pipeline``: on PostgreSQL, the BEGIN is
    sent with the first ``pipelined`` block (one round trip less), which must hold
    the transaction's first statement.
    """

    def __init__(
        self, engine: Engine, *, readonly: bool = False, begin_in_pipeline: bool = False
    ) -> None:
        self.engine = engine
        self.readonly = readonly
        self.begin_in_pipeline = begin_in_pipeline
        self._after: list[Callable[[], None]] = []
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        return self._conn

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after.append(fn)

    @contextmanager
    def _open(self) -> Iterator[UnitOfWork]:
        lock = None if self.readonly else _SQLITE_WRITERS.get(self.engine)
        if lock is not None and not lock.acquire(SQLITE_BUSY_S):
            raise TimeoutError("another transaction held the SQLite database for too long")
        try:
            with self._transaction():
                yield self
        finally:
            if lock is not None:
                lock.release()
        for fn in self._after:
            fn()
        self._after.clear()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(hubflow_readonly=True)
            if is_postgres(conn):
                # At READ COMMITTED every statement takes its own snapshot anyway, so a
                # read-only transaction adds nothing but the BEGIN and COMMIT round trips.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        elif self.begin_in_pipeline and is_postgres(conn):
            # BEGIN goes with the first ``pipelined`` block's statements, which must come
            # before any other (psycopg, in autocommit mode, sends no BEGIN of its own;
            # COMMIT and ROLLBACK still go when the server says a transaction is open).
            conn = conn.execution_options(isolation_level="AUTOCOMMIT", **{BEGIN_PENDING: True})
        try:
            with conn.begin():
                self._conn = conn
                yield
        finally:
            self._conn = None
            conn.close()

    def __enter__(self) -> UnitOfWork:
        self._cm = self._open()
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        return self._cm.__exit__(*exc)
