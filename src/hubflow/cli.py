"""The ``hubflow`` command."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, BinaryIO

import click

from hubflow.core.settings import Settings

__all__ = ["main"]


def _engine(settings: Settings):  # type: ignore[no-untyped-def]
    from hubflow.api.app import import_tables
    from hubflow.core.db import make_engine

    import_tables()
    return make_engine(settings.database_url, pool_size=settings.db_pool_size)


@click.group()
@click.version_option(package_name="hubflow")
def main() -> None:
    """Hubflow: fulfillment and same-day delivery for retail networks."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the API (and the webhook relay) with uvicorn."""
    import uvicorn

    from hubflow.core.errors import SchemaOutOfDate
    from hubflow.core.migrate import check_schema, upgrade

    settings = Settings()
    engine = _engine(settings)
    try:
        if settings.auto_migrate:
            upgrade(engine)
        check_schema(engine)
    except SchemaOutOfDate as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
    from hubflow.api import workers as per_worker

    app = "hubflow.api.app:app_from_env"
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": False,
        "log_level": "warning",
    }
    config = uvicorn.Config(app, **options)
    if per_worker.supported(config):
        # A listening socket per worker: see hubflow.api.workers.
        with contextlib.suppress(KeyboardInterrupt):
            per_worker.SocketPerWorker(config).run()
    else:
        uvicorn.run(app, **options)


@main.command()
def relay() -> None:
    """Run only the webhook relay (for a separate process)."""
    import logging
    import threading

    from hubflow.api.observability import configure_logging
    from hubflow.core.clock import SystemClock
    from hubflow.core.migrate import check_schema
    from hubflow.webhooks.relay import HttpSender, Relay, RelayPolicy

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = _engine(settings)
    check_schema(engine)
    r = Relay(
        engine,
        SystemClock(),
        HttpSender(settings.webhook_timeout_s),
        RelayPolicy(
            max_attempts=settings.webhook_max_attempts,
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_max_s=settings.webhook_backoff_max_s,
        ),
    )
    log = logging.getLogger("hubflow.relay")
    click.echo("relay running; Ctrl-C to stop", err=True)
    stop = threading.Event()
    try:
        r.run_forever(stop, settings.relay_interval_s, lambda e: log.warning("relay: %s", e))
    except KeyboardInterrupt:
        stop.set()
    finally:
        r.close()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the schema to this version of Hubflow."""
    from hubflow.core.migrate import current_revision, upgrade

    engine = _engine(Settings())
    upgrade(engine)
    click.echo(f"schema at {current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision and the one this Hubflow needs."""
    from hubflow.core.migrate import current_revision, head_revision

    engine = _engine(Settings())
    click.echo(f"database: {current_revision(engine) or 'empty'}; code: {head_revision()}")


@main.group()
def merchants() -> None:
    """Merchants (tenants)."""


@merchants.command("create")
@click.argument("name")
@click.option("--kind", default="retailer", show_default=True)
def merchants_create(name: str, kind: str) -> None:
    """Create a merchant and print its first API key (shown once)."""
    from hubflow.catalog.service import create_merchant
    from hubflow.core.clock import SystemClock
    from hubflow.core.db import UnitOfWork

    engine = _engine(Settings())
    with UnitOfWork(engine) as uow:
        merchant, key = create_merchant(uow, name, kind, SystemClock().now())
    click.echo(f"merchant {merchant['id']} ({name})")
    click.echo(f"api key (shown once, store it now): {key.secret}")


@merchants.command("list")
def merchants_list() -> None:
    from sqlalchemy import select

    from hubflow.catalog.store import merchants_table

    engine = _engine(Settings())
    with engine.connect() as conn:
        for row in conn.execute(select(merchants_table).order_by(merchants_table.c.id)):
            click.echo(f"{row.id}  {row.kind:<12}  {row.name}")


@main.group()
def users() -> None:
    """People who log in to the pages: operators, merchants' staff, hub staff, couriers."""


@users.command("create")
@click.option("--email", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["operator", "merchant", "hub_staff", "courier"]),
)
@click.option("--name", default="", help="shown in the pages (default: the e-mail)")
@click.option("--merchant", "merchant_id", default=None, help="merchant accounts: mer_...")
@click.option("--hub", "hub_id", default=None, help="hub staff: the hub they work at")
@click.option("--courier", "courier_id", default=None, help="courier accounts: cou_...")
@click.option(
    "--password-stdin", is_flag=True, help="read the password from standard input (scripts)"
)
def users_create(
    email: str,
    role: str,
    name: str,
    merchant_id: str | None,
    hub_id: str | None,
    courier_id: str | None,
    password_stdin: bool,
) -> None:
    """Create a login (the password is asked for, or read from stdin)."""
    from hubflow.core.clock import SystemClock
    from hubflow.core.db import UnitOfWork
    from hubflow.core.errors import HubflowError
    from hubflow.web.accounts import create_user
    from hubflow.web.model import WebRole

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    engine = _engine(Settings())
    try:
        with UnitOfWork(engine) as uow:
            user = create_user(
                uow, email=email, name=name, password=password, role=WebRole(role),
                now=SystemClock().now(), merchant_id=merchant_id, hub_id=hub_id,
                courier_id=courier_id,
            )  # fmt: skip
    except HubflowError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
    click.echo(f"user {user.id} ({user.email}, {user.role.value})")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--operator", "as_operator", is_flag=True, help="a network operator key")
@click.option("--merchant", "merchant_id", default=None, help="a key for this merchant id")
@click.option("--label", default="cli", show_default=True)
def keys_create(as_operator: bool, merchant_id: str | None, label: str) -> None:
    """Create an operator or merchant key and print it once."""
    from hubflow.catalog.model import Role
    from hubflow.catalog.service import create_key, get_merchant
    from hubflow.core.clock import SystemClock
    from hubflow.core.db import UnitOfWork

    if as_operator == (merchant_id is not None):
        raise click.UsageError("give exactly one of --operator or --merchant ID")
    engine = _engine(Settings())
    with UnitOfWork(engine) as uow:
        if merchant_id is not None and get_merchant(uow.conn, merchant_id) is None:
            raise click.ClickException(f"no merchant {merchant_id}")
        role = Role.OPERATOR if as_operator else Role.MERCHANT
        key, key_id = create_key(uow, role, merchant_id, label, SystemClock().now())
    click.echo(f"key {key_id} prefix {key.prefix}")
    click.echo(f"api key (shown once, store it now): {key.secret}")


@keys.command("revoke")
@click.argument("key_id_or_prefix")
def keys_revoke(key_id_or_prefix: str) -> None:
    """Revoke a key by its id or visible prefix."""
    from hubflow.catalog.service import revoke_key
    from hubflow.core.clock import SystemClock
    from hubflow.core.db import UnitOfWork
    from hubflow.core.errors import NotFound

    engine = _engine(Settings())
    try:
        with UnitOfWork(engine) as uow:
            n = revoke_key(uow, key_id_or_prefix, SystemClock().now())
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"revoked {n} key(s)")


@keys.command("list")
def keys_list() -> None:
    from hubflow.catalog.service import list_keys

    engine = _engine(Settings())
    with engine.connect() as conn:
        for k in list_keys(conn, None):
            state = "revoked" if k["revoked_at"] else "active"
            click.echo(
                f"{k['id']}  {k['prefix']}…  {k['role']:<8}  {k['merchant_id'] or '-':<30}"
                f"  {state}  {k['label']}"
            )


@main.command()
@click.option("--orders", "n_orders", default=300, show_default=True, type=int)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--db",
    "db_path",
    default="hubflow-demo.db",
    show_default=True,
    help="SQLite file for the demo (recreated each run)",
)
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="keep serving the API after the summary",
)
@click.option(
    "--twin/--no-twin",
    default=True,
    show_default=True,
    help="first simulate a short day with the digital twin and serve its report",
)
@click.option("--twin-out", default="hubflow-twin", show_default=True, type=click.Path())
@click.option(
    "--password",
    envvar="HUBFLOW_DEMO_PASSWORD",
    default=None,
    help="password of the demo's logins (ops@example.com, shop@example.com); "
    "random and printed when not given",
)
def demo(
    n_orders: int, port: int, db_path: str, seed: int, serve: bool, twin: bool, twin_out: str,
    password: str | None,
) -> None:  # fmt: skip
    """Simulate a short day (the twin), build a demo metro network, place orders through
    the HTTP API, and keep serving with the twin's report at /twin/report."""
    from hubflow.sim.demo import run_demo
    from hubflow.web.model import MIN_PASSWORD

    if password is not None and len(password) < MIN_PASSWORD:
        raise click.BadParameter(f"at least {MIN_PASSWORD} characters", param_hint="--password")
    sys.exit(
        run_demo(
            n_orders=n_orders,
            port=port,
            db_path=db_path,
            seed=seed,
            serve=serve,
            twin_dir=twin_out if twin else None,
            password=password,
        )
    )


@main.command()
@click.argument("scenario", required=False, default="seattle")
@click.option("--seed", default=None, type=int, help="overrides the scenario's seed")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="override a scenario value (dotted)"
)
@click.option("--out", "out", default="twin-out", show_default=True, type=click.Path())
@click.option(
    "--compare",
    "compare_with",
    nargs=2,
    default=None,
    metavar="A B",
    help="two result folders or two scenarios, side by side",
)
def simulate(
    scenario: str, seed: int | None, sets: tuple[str, ...], out: str,
    compare_with: tuple[str, str] | None,
) -> None:  # fmt: skip
    """Run a scenario's day through the real services; write results.json and report.html.

    SCENARIO is a TOML file or the name of a built-in scenario (seattle)."""
    from pathlib import Path

    from rich.console import Console

    from hubflow.sim import commands
    from hubflow.sim.scenario import ScenarioError

    console = Console()
    try:
        if compare_with is None:
            commands.run_one(console, scenario, seed, list(sets), Path(out))
            return
        runs = []
        for i, item in enumerate(compare_with):
            loaded = commands.load_results(Path(item))
            if loaded is None:
                loaded = commands.run_one(
                    console, item, seed, list(sets), Path(out) / ("a", "b")[i]
                )
            runs.append(loaded)
        commands.compare(console, runs[0], runs[1], compare_with)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command("scenario")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--hubs", type=click.IntRange(1, 1000), default=None)
@click.option("--vehicles", type=click.IntRange(0, 100_000), default=None)
@click.option("--orders", type=click.IntRange(0, 10_000_000), default=None)
def scenario_cmd(file: str, hubs: int | None, vehicles: int | None, orders: int | None) -> None:
    """Write the default Seattle scenario (or one grown to these sizes) to FILE."""
    from pathlib import Path

    from hubflow.sim.commands import write_scenario

    write_scenario(Path(file), hubs, vehicles, orders)
    click.echo(f"wrote {file}")


@main.command("dispatch-agent")
@click.option(
    "--policy",
    default="sampling",
    show_default=True,
    type=click.Choice(["sampling", "greedy", "lazy"]),
    help="which requests leave each epoch",
)
@click.option("--seed", default=0, show_default=True, type=int, help="the agent's random seed")
def dispatch_agent(policy: str, seed: int) -> None:
    """Play the EURO-NeurIPS 2022 dynamic VRPTW over stdin/stdout (the controller's protocol)."""
    from hubflow.delivery.euro.agent import main as agent_main

    sys.exit(agent_main(sys.stdin.buffer, sys.stdout.buffer, policy=policy, seed=seed))


class _BadInput(click.ClickException):
    exit_code = 2  # bad input, like a usage error


@main.command("pack")
@click.argument("file", type=click.File("rb"))
@click.option("--time-limit", default=2.0, show_default=True, type=click.FloatRange(0.01, 600))
@click.option("--seed", default=0, show_default=True, type=int)
def pack_cmd(file: BinaryIO, time_limit: float, seed: int) -> None:
    """Choose cartons for the items in FILE (JSON, "-" for stdin) and print where each goes."""
    import json

    from hubflow.fulfillment.cartonize import pack, packing_to_json, request_from_json

    try:
        try:
            data = json.load(file)
        except ValueError as exc:  # bad JSON or bad UTF-8
            raise ValueError(f"not JSON: {exc}") from None
        boxes, items = request_from_json(data)
    except ValueError as exc:
        raise _BadInput(f"{file.name}: {exc}") from None
    packing = pack(boxes, items, time_limit_s=time_limit, seed=seed)
    click.echo(json.dumps(packing_to_json(boxes, packing), indent=2))


if __name__ == "__main__":
    main()
