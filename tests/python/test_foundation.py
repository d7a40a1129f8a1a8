"""Foundation: the warehouse, its roles and the CLI's error contract."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg2
import pytest

from customer_sync import db as database


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "customer_sync.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_unreachable_database_url_is_one_line_naming_the_host_exit_2() -> None:
    result = run_cli("build", env={"CUSTOMER_SYNC_DATABASE_URL": "postgresql://u:p@127.0.0.9:1/x"})
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "127.0.0.9" in lines[0]


def test_non_postgres_url_is_a_configuration_error() -> None:
    result = run_cli("db", "status", env={"CUSTOMER_SYNC_DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert "postgresql://" in result.stderr


def test_db_status_reports_embedded(warehouse: database.Database, settings) -> None:  # type: ignore[no-untyped-def]
    if not warehouse.embedded:
        pytest.skip("the session uses an external CUSTOMER_SYNC_DATABASE_URL")
    result = run_cli("db", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert '"embedded": true' in result.stdout.splitlines()[-1]
    assert '"running": true' in result.stdout.splitlines()[-1]


def test_embedded_server_runs_with_warehouse_settings(warehouse: database.Database) -> None:
    if not warehouse.embedded:
        pytest.skip("the session uses an external CUSTOMER_SYNC_DATABASE_URL")
    with psycopg2.connect(warehouse.url) as conn, conn.cursor() as cur:
        cur.execute(
            "select name, current_setting(name) from pg_settings where name = any(%s)",
            (list(database.EMBEDDED_SERVER_SETTINGS),),
        )
        running = dict(cur.fetchall())
    assert running == database.EMBEDDED_SERVER_SETTINGS


def test_roles_own_their_layers(warehouse: database.Database) -> None:
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace "
            "where nspname in ('raw_crm', 'staging', 'marts', 'ops')"
        )
        owners = dict(cur.fetchall())
    assert owners == {
        "raw_crm": "cs_loader",
        "staging": "cs_transformer",
        "marts": "cs_transformer",
        "ops": "cs_sync",
    }


def test_bi_reader_reads_marts_but_not_raw_or_staging(warehouse: database.Database) -> None:
    with database.connect(warehouse, "cs_loader") as conn, conn.cursor() as cur:
        cur.execute("create table if not exists raw_crm.role_probe (x int)")
    with database.connect(warehouse, "cs_transformer") as conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw_crm.role_probe")  # the transformer reads raw
        cur.execute("create table if not exists staging.role_probe (x int)")
        cur.execute("create table if not exists marts.role_probe as select 1 as x")
    with database.connect(warehouse, "bi_reader") as conn, conn.cursor() as cur:
        cur.execute("select x from marts.role_probe")
        assert cur.fetchall() == [(1,)]
    for relation in ("raw_crm.role_probe", "staging.role_probe"):
        with (
            pytest.raises(psycopg2.errors.InsufficientPrivilege),
            database.connect(warehouse, "bi_reader") as conn,
            conn.cursor() as cur,
        ):
            cur.execute(f"select * from {relation}")
    with database.connect(warehouse, "cs_transformer") as conn, conn.cursor() as cur:
        cur.execute("drop table staging.role_probe; drop table marts.role_probe")
    with database.connect(warehouse, "cs_loader") as conn, conn.cursor() as cur:
        cur.execute("drop table raw_crm.role_probe")
