"""``customer-sync db start|stop|status|url|psql|env`` and ``customer-sync down``."""

from __future__ import annotations

import os
import shlex

import click

from customer_sync import db as database
from customer_sync.config import load_settings
from customer_sync.output import emit


@click.group()
def db() -> None:
    """The warehouse: embedded Postgres (pgserver) unless CUSTOMER_SYNC_DATABASE_URL is set."""


@db.command()
def start() -> None:
    """Start the embedded Postgres (if used) and create roles and schemas."""
    settings = load_settings()
    handle = database.ensure_ready(settings)
    click.echo(f"ready: {handle.describe()}")


@db.command()
def stop() -> None:
    """Stop the embedded Postgres (a configured external database is left alone)."""
    settings = load_settings()
    if not settings.uses_embedded_database:
        click.echo("CUSTOMER_SYNC_DATABASE_URL is set: external database, nothing to stop")
        return
    was_running = database.stop_embedded(settings.pgdata)
    click.echo("stopped embedded Postgres" if was_running else "embedded Postgres was not running")


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(as_json: bool) -> None:
    """Which database is in use, whether it is embedded, and whether it is up."""
    settings = load_settings()
    if settings.uses_embedded_database:
        running = database.embedded_running(settings.pgdata)
        result = {"embedded": True, "running": running, "pgdata": str(settings.pgdata)}
        state = "running" if running else "stopped"
        human = f"embedded Postgres (pgserver), data in {settings.pgdata}: {state}"
        if running:
            handle = database.get_database(settings, start=False)
            result["database"] = handle.parts["dbname"]
            human += f"\n{handle.describe()}"
    else:
        parts = database.url_parts(settings.database_url or "")
        handle = database.get_database(settings)
        result = {
            "embedded": False,
            "running": True,
            "host": parts["host"],
            "port": parts["port"],
            "database": parts["dbname"],
        }
        human = f"external Postgres from CUSTOMER_SYNC_DATABASE_URL: {handle.describe()}"
    emit(result, as_json, human)


@db.command()
@click.option("--role", type=click.Choice(database.ROLES), default=None, help="Connect as this role.")
def url(role: str | None) -> None:
    """Print the connection URL (as the admin user, or as --role)."""
    handle = database.ensure_ready(load_settings())
    click.echo(handle.role_url(role) if role else handle.url)


@db.command()
@click.option("--role", type=click.Choice(database.ROLES), default="cs_transformer", show_default=True)
def env(role: str) -> None:
    """Print shell exports for running dbt by hand: eval "$(customer-sync db env)"."""
    handle = database.ensure_ready(load_settings())
    for key, value in dbt_env(handle, role).items():
        click.echo(f"export {key}={shlex.quote(value)}")


def dbt_env(handle: database.Database, role: str = "cs_transformer") -> dict[str, str]:
    """Environment variables read by profiles.yml."""
    parts = database.url_parts(handle.role_url(role))
    return {
        "CUSTOMER_SYNC_PG_HOST": parts["host"],
        "CUSTOMER_SYNC_PG_PORT": parts["port"],
        "CUSTOMER_SYNC_PG_USER": parts["user"],
        "CUSTOMER_SYNC_PG_PASSWORD": parts["password"],
        "CUSTOMER_SYNC_PG_DBNAME": parts["dbname"],
    }


@db.command()
@click.option("--role", type=click.Choice(database.ROLES), default=None, help="Connect as this role.")
def psql(role: str | None) -> None:
    """Open psql on the warehouse."""
    handle = database.ensure_ready(load_settings())
    cmd = database.psql_command(handle)
    if role:
        cmd[-1] = handle.role_url(role)
    os.execvp(cmd[0], cmd)


@click.command()
def down() -> None:
    """Stop everything the project started: schedulers, simulators, embedded Postgres."""
    from customer_sync import processes

    settings = load_settings()
    for line in processes.stop_all(settings):
        click.echo(line)
    if settings.uses_embedded_database and database.stop_embedded(settings.pgdata):
        click.echo("stopped embedded Postgres")
    click.echo("down: nothing of customer-sync is running")
