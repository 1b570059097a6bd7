"""Alembic environment: runs on the connection Hubflow hands it."""

from alembic import context

from hubflow.api.app import import_tables
from hubflow.core.db import metadata

import_tables()
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'hubflow db upgrade'")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
