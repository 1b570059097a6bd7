"""Hot-path statements run on the driver's cursor, compiled once per dialect.

SQLAlchemy's ``Connection.execute`` costs about 80 µs of CPU per statement even
with a cached compilation (execution context, result set-up), three times what
the driver itself spends and more than a small INSERT costs the database. Order
intake runs a dozen statements per order, so its statements go through here: a
Core statement is compiled once per dialect (and per set of INSERT columns), its
binds go through the columns' bind processors as SQLAlchemy would (JSON, UTC
datetimes), and it runs on the DBAPI connection under the caller's transaction,
so a unit of work still commits or rolls it back with everything else.

The rows that come back are the driver's own, with no result processing: select
only columns whose driver values are what the caller wants (strings, numbers).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, bindparam
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

from hubflow.core.db import BEGIN_PENDING

__all__ = ["MAX_ROWS", "Prepared"]

# Rows per multi-row INSERT: bounds the statements compiled per table (one per count)
# and stays far below SQLite's limit on bound variables.
MAX_ROWS = 64


class Prepared:
    """A Core statement to run many times on the DBAPI cursor of a SQLAlchemy
    connection (see the module's docstring)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # A plain INSERT lists the columns it is given, as Connection.execute does.
        self._by_keys = isinstance(statement, Insert) and statement.select is None
        self._compiled: dict[tuple[str, tuple[str, ...]], SQLCompiler] = {}
        self._lock = threading.Lock()

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> SQLCompiler:
        cache_key = (conn.dialect.name, keys if self._by_keys else ())
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            columns = list(keys) if self._by_keys else None
            built = self.statement.compile(dialect=conn.dialect, column_keys=columns)  # type: ignore[attr-defined]
            assert isinstance(built, SQLCompiler)
            compiled = built
            with self._lock:
                self._compiled[cache_key] = compiled
        return compiled

    @staticmethod
    def _args(compiled: SQLCompiler, params: Mapping[str, Any]) -> tuple[str, Any]:
        values: dict[str, Any]
        if compiled.post_compile_params:  # expanding IN (...): rendered per call
            state = compiled.construct_expanded_state(params)
            sql, values = state.statement, dict(state.parameters)
            procs: Mapping[str, Any] = {**compiled._bind_processors, **state.processors}
            order = state.positiontup
        else:
            sql, values = compiled.string, dict(compiled.construct_params(params))
            procs, order = compiled._bind_processors, compiled.positiontup
        for name, proc in procs.items():
            if name in values and callable(proc):  # (a sequence of them: tuple types)
                values[name] = proc(values[name])
        if compiled.positional:
            assert order is not None
            return sql, tuple(values[name] for name in order)
        return sql, values

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run once; returns the DBAPI cursor (in a psycopg pipeline, its rows can be
        fetched once the pipeline has synced)."""
        compiled = self._compile(conn, tuple(params))
        driver = _driver(conn)
        cursor = driver.cursor()
        cursor.execute(*self._args(compiled, params))
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run for every row (all with the same keys); no results. A plain INSERT sends
        one statement with a VALUES row each (up to ``MAX_ROWS``): one execution in the
        database, not one per row (compiled once per number of rows)."""
        if not rows:
            return
        keys = tuple(rows[0])
        driver = _driver(conn)
        if self._by_keys:
            for start in range(0, len(rows), MAX_ROWS):
                chunk = rows[start : start + MAX_ROWS]
                compiled = self._multi_row(conn, keys, len(chunk))
                flat = {f"r{i}_{k}": row[k] for i, row in enumerate(chunk) for k in keys}
                driver.cursor().execute(*self._args(compiled, flat))
            return
        compiled = self._compile(conn, keys)
        assert not compiled.post_compile_params, "executemany takes no expanding binds"
        args = [self._args(compiled, r) for r in rows]
        driver.cursor().executemany(args[0][0], [a[1] for a in args])

    def _multi_row(self, conn: Connection, keys: tuple[str, ...], n: int) -> SQLCompiler:
        cache_key = (conn.dialect.name, (*keys, f"*{n}"))
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            assert isinstance(self.statement, Insert)
            table = self.statement.table
            values = [
                {k: bindparam(f"r{i}_{k}", type_=table.c[k].type) for k in keys} for i in range(n)
            ]
            built = self.statement.values(values).compile(dialect=conn.dialect)
            assert isinstance(built, SQLCompiler)
            compiled = built
            with self._lock:
                self._compiled[cache_key] = compiled
        return compiled


def _driver(conn: Connection) -> Any:
    if conn.get_execution_options().get(BEGIN_PENDING):
        # Outside the transaction (autocommit) otherwise: see UnitOfWork.
        raise RuntimeError("the unit of work's first statement must be in a pipelined() block")
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver
