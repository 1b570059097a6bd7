"""Hot-path statements run on the driver's cursor, compiled once per dialect.

SQLAlchemy's ``Connection.execute`` costs about 80 µs of CPU per statement even
with a cached compilation (execution context, result set-up), three times what
the driver itself spends and more than a small INSERT costs the database. Order
intake's statements go through here: a Core statement is compiled once per
dialect (and per set of INSERT columns), its binds go through the columns' bind
processors as SQLAlchemy would (JSON, UTC datetimes), and it runs on the DBAPI
connection under the caller's transaction, so a unit of work still commits or
rolls it back with everything else.

On PostgreSQL, ``pipelined`` goes further: the statements sent inside travel in
one round trip, and the writes among them whose results nobody reads (``write``,
``executemany``) go as ONE statement, each a data-modifying CTE (``WITH w0 AS
(INSERT ...), w1 AS (UPDATE ...) SELECT 1``): one execution in the database and
one in the driver instead of one per table. They must not depend on each other's
effects (CTEs run on one snapshot); foreign keys are checked at the statement's
end, so a parent and its children may go together.

The rows that come back are the driver's own, with no result processing: select
only columns whose driver values are what the caller wants (strings, numbers).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, Insert, bindparam, literal_column, select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Executable

__all__ = ["BEGIN_PENDING", "MAX_ROWS", "Prepared", "pipelined"]

# Rows per multi-row INSERT: bounds the statements compiled per table (one per count)
# and stays far below SQLite's limit on bound variables.
MAX_ROWS = 64
# Set on the connection of a unit of work whose BEGIN waits for its first pipeline.
BEGIN_PENDING = "hubflow_begin_pending"
# The writes gathered by ``pipelined`` (a list on the connection's options).
_BATCH = "hubflow_write_batch"
_MAX_SHAPES = 512  # combined statements kept compiled (one per mix of tables and rows)


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, send the statements run inside in one round trip (psycopg's
    pipeline mode), the writes among them as one statement (see the module's
    docstring). Results are read after the block; an error surfaces when the block
    ends, still inside the transaction, which rolls back. The first block of a
    ``UnitOfWork(begin_in_pipeline=True)`` sends the transaction's BEGIN too."""
    if conn.dialect.name != "postgresql":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.pipeline():
        if conn.get_execution_options().get(BEGIN_PENDING):
            # The connection is in autocommit mode (psycopg would send its own BEGIN
            # with a sync, a round trip of its own): BEGIN goes with the statements.
            driver.cursor().execute("BEGIN")
            conn.execution_options(**{BEGIN_PENDING: False})
        batch: list[tuple[Prepared, list[Mapping[str, Any]]]] = []
        conn.execution_options(**{_BATCH: batch})
        try:
            yield
            _flush(conn)
        finally:
            conn.execution_options(**{_BATCH: None})


class Prepared:
    """A Core statement to run many times on the DBAPI cursor of a SQLAlchemy
    connection (see the module's docstring)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # A plain INSERT lists the columns it is given, as Connection.execute does.
        self._by_keys = isinstance(statement, Insert) and statement.select is None
        self._compiled: dict[tuple[str, tuple[str, ...]], SQLCompiler] = {}
        self._lock = threading.Lock()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run once; returns the DBAPI cursor (in a psycopg pipeline, its rows can be
        fetched once the pipeline has synced). Writes gathered before go first."""
        _flush(conn)
        compiled = self._compile(conn, tuple(params))
        cursor = _cursor(conn)
        _run(conn, cursor, compiled, params)
        return cursor

    def write(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run once, no results: inside ``pipelined``, with the other writes."""
        if (batch := _batch(conn)) is not None:
            batch.append((self, [params]))
        else:
            self.execute(conn, params)

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run for every row (all with the same keys); no results. A plain INSERT sends
        one statement with a VALUES row each (up to ``MAX_ROWS``): one execution in
        the database, not one per row (compiled once per number of rows)."""
        if not rows:
            return
        if (batch := _batch(conn)) is not None:
            batch.append((self, list(rows)))
            return
        keys = tuple(rows[0])
        if self._by_keys:
            for start in range(0, len(rows), MAX_ROWS):
                chunk = rows[start : start + MAX_ROWS]
                compiled = self._multi_row(conn, keys, len(chunk))
                _run(conn, _cursor(conn), compiled, _flat(chunk, keys, "r"))
            return
        compiled = self._compile(conn, keys)
        assert not compiled.post_compile_params, "executemany takes no expanding binds"
        args = [_args(compiled, r) for r in rows]
        _cursor(conn).executemany(args[0][0], [a[1] for a in args])

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> SQLCompiler:
        cache_key = (conn.dialect.name, keys if self._by_keys else ())
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            columns = list(keys) if self._by_keys else None
            built = self.statement.compile(dialect=_dialect(conn), column_keys=columns)  # type: ignore[attr-defined]
            assert isinstance(built, SQLCompiler)
            compiled = built
            with self._lock:
                self._compiled[cache_key] = compiled
        return compiled

    def _multi_row(self, conn: Connection, keys: tuple[str, ...], n: int) -> SQLCompiler:
        cache_key = (conn.dialect.name, (*keys, f"*{n}"))
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            built = self.rows_statement(keys, n, "r").compile(dialect=_dialect(conn))
            assert isinstance(built, SQLCompiler)
            compiled = built
            with self._lock:
                self._compiled[cache_key] = compiled
        return compiled

    def part(self, rows: Sequence[Mapping[str, Any]], prefix: str) -> Executable:
        """This statement as one part of a combined write (binds of an INSERT's rows
        prefixed with ``prefix``; another statement's binds as they are)."""
        if self._by_keys:
            return self.rows_statement(tuple(rows[0]), len(rows), prefix)
        return self.statement

    def rows_statement(self, keys: tuple[str, ...], n: int, prefix: str) -> Insert:
        """The INSERT for ``n`` rows, binds named ``{prefix}{row}_{key}``."""
        assert isinstance(self.statement, Insert)
        table = self.statement.table
        return self.statement.values(
            [
                {k: bindparam(f"{prefix}{i}_{k}", type_=table.c[k].type) for k in keys}
                for i in range(n)
            ]
        )


def _flat(rows: Sequence[Mapping[str, Any]], keys: tuple[str, ...], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{i}_{k}": row[k] for i, row in enumerate(rows) for k in keys}


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


def _run(conn: Connection, cursor: Any, compiled: SQLCompiler, params: Mapping[str, Any]) -> None:
    if conn.dialect.name == "postgresql":
        # Prepared at once, not after psycopg's default of five runs per connection:
        # these statements come back all the time, and a pool has many connections
        # (planning an order's combined INSERT costs more than running it).
        cursor.execute(*_args(compiled, params), prepare=True)
    else:
        cursor.execute(*_args(compiled, params))


def _cursor(conn: Connection) -> Any:
    """A cursor on the DBAPI connection; on PostgreSQL, a raw one: its queries come
    with PostgreSQL's own ``$n`` placeholders (see ``_dialect``), so psycopg runs them
    as they are. Its default cursor rewrites ``%(name)s`` placeholders with a pass of
    a regular expression at every run of a query over 4 KB or 50 parameters (it
    caches only the short ones); an order's combined INSERT is over both, and that
    rewrite cost about a fifth of the server's CPU per order."""
    driver = _driver(conn)
    return psycopg.RawCursor(driver) if conn.dialect.name == "postgresql" else driver.cursor()


def _dialect(conn: Connection) -> Dialect:
    """The dialect statements here are compiled for: on PostgreSQL the connection's,
    with numbered ``$n`` placeholders (what ``_cursor``'s raw cursor takes). The copy
    is kept on the engine's dialect, so it lives and dies with it."""
    dialect = conn.dialect
    if dialect.name != "postgresql":
        return dialect
    raw: Dialect | None = getattr(dialect, "_hubflow_numbered", None)
    if raw is None:  # two threads may both make one: they are alike
        raw = copy.copy(dialect)
        raw.paramstyle = "numeric_dollar"
        raw.positional = True
        dialect._hubflow_numbered = raw  # type: ignore[attr-defined]
    return raw


def _driver(conn: Connection) -> Any:
    if conn.get_execution_options().get(BEGIN_PENDING):
        # Outside the transaction (autocommit) otherwise: see UnitOfWork.
        raise RuntimeError("the unit of work's first statement must be in a pipelined() block")
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver


def _batch(conn: Connection) -> list[tuple[Prepared, list[Mapping[str, Any]]]] | None:
    batch: list[tuple[Prepared, list[Mapping[str, Any]]]] | None
    batch = conn.get_execution_options().get(_BATCH)
    return batch


_shapes: dict[tuple[Any, ...], SQLCompiler] = {}
_shapes_lock = threading.Lock()


def _flush(conn: Connection) -> None:
    """Send the writes gathered by ``pipelined``: one statement if they can be."""
    batch = _batch(conn)
    if not batch:
        return
    parts = list(batch)
    batch.clear()
    conn.execution_options(**{_BATCH: None})  # run them, not gather them again
    try:
        updates = [p for p, _ in parts if not p._by_keys]
        combinable = len(parts) > 1 and len(set(map(id, updates))) == len(updates)
        combinable = combinable and all(
            len(rows) <= MAX_ROWS and (p._by_keys or len(rows) == 1) for p, rows in parts
        )
        if not combinable:
            for p, rows in parts:
                p.executemany(conn, rows)
            return
        shape = tuple((id(p), tuple(rows[0]), len(rows)) for p, rows in parts)
        compiled = _shapes.get(shape)
        if compiled is None:
            ctes = [
                (
                    p.rows_statement(tuple(rows[0]), len(rows), f"w{j}_")
                    if p._by_keys
                    else p.statement
                ).cte(f"w{j}")  # type: ignore[attr-defined]
                for j, (p, rows) in enumerate(parts)
            ]
            built = select(literal_column("1")).add_cte(*ctes).compile(dialect=_dialect(conn))
            assert isinstance(built, SQLCompiler)
            compiled = built
            with _shapes_lock:
                if len(_shapes) >= _MAX_SHAPES:
                    _shapes.clear()
                _shapes[shape] = compiled
        params: dict[str, Any] = {}
        for j, (p, rows) in enumerate(parts):
            params.update(_flat(rows, tuple(rows[0]), f"w{j}_") if p._by_keys else rows[0])
        _run(conn, _cursor(conn), compiled, params)
    finally:
        conn.execution_options(**{_BATCH: batch})
