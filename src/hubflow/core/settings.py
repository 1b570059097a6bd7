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

    # order intake
    intake_concurrency: int = Field(
        default=4,
        ge=0,
        le=200,
        description="orders placed at once per process on the lean path (0: no limit); "
        "the rest wait their turn on the event loop instead of in the GIL and on row locks",
    )

    # inventory
    hold_ttl_default_s: int = Field(default=900, ge=1)
    sourcing_retries: int = Field(default=3, ge=1, le=10)

    # delivery promise
    promise_strategy: str = Field(
        default="lowest_cost", description="order sourcing strategy: lowest_cost, nearest_first"
    )
    promise_split_penalty: float = Field(
        default=500.0, ge=0, description="cost (minor units) of each extra hub in a split"
    )
    promise_exact_split_max: int = Field(
        default=3, ge=1, le=6, description="largest split searched exactly (greedy beyond)"
    )
    promise_exact_search_hubs: int = Field(
        default=16, ge=2, le=40, description="cheapest candidate hubs in the exact split search"
    )
    promise_quote_ttl_s: int = Field(default=600, ge=10, le=86_400)
    promise_pickup_locations_max: int = Field(default=5, ge=1, le=50)
    promise_locker_radius_km: float = Field(default=3.0, gt=0, le=50)
    promise_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    promise_default_capacity: dict[str, int] = Field(
        default_factory=dict,
        description='per-slot capacity by option where a hub sets none, e.g. {"express_2h": 20}',
    )
    promise_fees: dict[str, int] = Field(
        default_factory=dict, description="default fee table (minor units) by option"
    )
    promise_member_free_threshold: dict[str, int] = Field(
        default_factory=dict,
        description="default cart value from which members deliver free, by option",
    )

    # last-mile dispatch
    dispatch_enabled: bool = Field(
        default=False, description="run the dispatch loop (every region, every epoch) in serve"
    )
    dispatch_epoch_s: int = Field(default=600, ge=10, le=7200, description="planning epoch")
    dispatch_time_limit_s: float = Field(
        default=2.0, gt=0, le=600, description="solver time per planning pass"
    )
    dispatch_policy: str = Field(
        default="greedy",
        description="what leaves each epoch: greedy, lazy, window_aware or sampling",
    )
    dispatch_handling_s: int = Field(
        default=1800, ge=0, description="pick and pack time assumed when an order has no promise"
    )
    dispatch_window_s: int = Field(
        default=8 * 3600, ge=600, description="delivery window of orders without a promise"
    )
    dispatch_offer_ttl_s: int = Field(default=120, ge=10, le=3600)
    dispatch_max_attempts: int = Field(default=2, ge=1, le=5)
    dispatch_seed: int = Field(default=0, ge=0)
    twin_dir: str | None = Field(
        default=None, description="folder of the twin run served at /twin/report and /twin/results"
    )
    dispatch_max_iterations: int | None = Field(
        default=None, ge=1, description="also stop each solve after this many PyVRP iterations"
    )
    dispatch_planner_workers: int = Field(
        default=1, ge=1, le=64, description="hubs planned at once, in processes (same plans)"
    )
    dispatch_horizon_s: int = Field(
        default=12 * 3600,
        ge=60,
        le=48 * 3600,
        description="parcels whose delivery window opens later than this wait out of the plan",
    )
