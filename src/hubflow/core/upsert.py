"""Dialect-aware INSERT ... ON CONFLICT (both SQLite and PostgreSQL support it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_on_conflict"]


def insert_on_conflict(conn: Connection, table: Table) -> Any:
    """An INSERT for ``table`` that offers ``on_conflict_do_nothing/do_update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
