"""Schema migrations with Alembic: one set of scripts for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from hubflow.core.errors import SchemaOutOfDate

__all__ = ["check_schema", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def check_schema(engine: Engine) -> None:
    """Refuse to run against a schema that is behind (or ahead of) this code."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current is not None and current not in known:
        raise SchemaOutOfDate(
            f"the database schema ({current}) is newer than this Hubflow ({head}); upgrade Hubflow"
        )
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'nothing'}, this Hubflow needs {head}; "
        "run 'hubflow db upgrade' (or start with HUBFLOW_AUTO_MIGRATE=true)"
    )
