"""Engine, metadata and the unit of work.

SQLite runs in WAL mode with foreign keys on, and every write transaction starts
with ``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock.
PostgreSQL runs at READ COMMITTED; correctness under concurrency comes from
conditional updates, never from reading first and writing after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.pool import NullPool

__all__ = ["UnitOfWork", "is_postgres", "make_engine", "metadata"]

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
        return _sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        echo=echo,
    )


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": 60},
        poolclass=None if memory else NullPool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite would otherwise BEGIN DEFERRED lazily).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("hubflow_readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class UnitOfWork:
    """One transaction: commit on success, roll back on any exception.

    Side effects (waking the relay, metrics) run only after commit, through
    ``after_commit`` callbacks.
    """

    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
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
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(hubflow_readonly=True)
        try:
            with conn.begin():
                self._conn = conn
                yield self
        finally:
            self._conn = None
            conn.close()
        for fn in self._after:
            fn()
        self._after.clear()

    def __enter__(self) -> UnitOfWork:
        self._cm = self._open()
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        return self._cm.__exit__(*exc)
