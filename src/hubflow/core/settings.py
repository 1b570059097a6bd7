"""Settings from the environment (``HUBFLOW_*``), validated once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUBFLOW_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///hubflow.db",
        description="SQLAlchemy URL; sqlite:///FILE (default) or postgresql+psycopg://...",
    )
    db_pool_size: int = Field(default=20, ge=1, le=200)
    auto_migrate: bool = Field(
        default=True, description="upgrade the schema on start; if false, refuse when behind"
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = "INFO"
    log_json: bool = True

    # webhooks
    relay_enabled: bool = Field(default=True, description="run the webhook relay inside serve")
    relay_interval_s: float = Field(default=0.5, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_backoff_base_s: float = Field(default=2.0, gt=0)
    webhook_backoff_max_s: float = Field(default=3600.0, gt=0)

    # inventory
    hold_ttl_default_s: int = Field(default=900, ge=1)
    sourcing_retries: int = Field(default=3, ge=1, le=10)
