"""The warehouse: an embedded Postgres (pgserver) or any Postgres given by URL.

Each step connects as its own login role (cs_loader, cs_transformer, cs_sync, bi_reader). The embedded
server trusts local socket connections; on a real Postgres the bootstrap gives each role a random
password kept in ``$CUSTOMER_SYNC_HOME/role_passwords.json`` (mode 600, never committed). ``SET ROLE``
would need no passwords, but dlt resets its connections (``SET SESSION AUTHORIZATION DEFAULT``), which
drops a session role, so real logins it is.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions

from customer_sync.config import Settings
from customer_sync.errors import UserError

DATABASE_NAME = "customer_sync"

ROLES = ("cs_loader", "cs_transformer", "cs_sync", "bi_reader")
RAW_SCHEMAS = ("raw_crm", "raw_billing", "raw_support", "raw_erp")
DBT_SCHEMAS = ("staging", "identity", "marts", "snapshots", "reverse_etl")
OPS_SCHEMA = "ops"


@dataclass(frozen=True)
class Database:
    """A reachable Postgres database and how to reach it."""

    url: str
    embedded: bool
    role_passwords: tuple[tuple[str, str], ...] = ()

    @property
    def parts(self) -> dict[str, str]:
        """host, port, user, password, dbname of the URL (host may be a socket directory)."""
        return url_parts(self.url)

    def role_url(self, role: str) -> str:
        """The URL that logs in as ``role``."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        password = dict(self.role_passwords).get(role, "trust")
        return with_user(self.url, role, password)

    def describe(self) -> str:
        p = self.parts
        where = f"socket {p['host']}" if p["host"].startswith("/") else f"{p['host']}:{p['port']}"
        kind = "embedded (pgserver)" if self.embedded else "external"
        return f"{kind} Postgres, database {p['dbname']} at {where} as {p['user']}"


def url_parts(url: str) -> dict[str, str]:
    split = urlsplit(url)
    query = dict(parse_qsl(split.query))
    host = query.get("host") or unquote(split.netloc.rsplit("@", 1)[-1].rsplit(":", 1)[0]) or "localhost"
    if not host.startswith("/"):
        host = split.hostname or host
    return {
        "host": host,
        "port": str(query.get("port") or (split.port if not host.startswith("/") else None) or 5432),
        "user": split.username or "postgres",
        "password": split.password or "",
        "dbname": (split.path or "/").lstrip("/") or "postgres",
    }


def with_query(url: str, **params: str) -> str:
    split = urlsplit(url)
    query = dict(parse_qsl(split.query))
    query.update(params)
    return urlunsplit(split._replace(query=urlencode(query, quote_via=quote)))


def socket_url(url: str) -> str:
    """Move a ``?host=/socket/dir`` query into the URL's host, percent-encoded (libpq and dlt read both)."""
    split = urlsplit(url)
    query = dict(parse_qsl(split.query))
    host = query.pop("host", None)
    if not host:
        return url
    user = split.username or "postgres"
    # the embedded server trusts local socket connections; dlt insists on a password, which trust ignores
    password = split.password or "trust"
    netloc = f"{user}:{password}@{quote(host, safe='')}"
    return urlunsplit(split._replace(netloc=netloc, query=urlencode(query, quote_via=quote)))


def with_user(url: str, user: str, password: str) -> str:
    split = urlsplit(url)
    hostport = split.netloc.rsplit("@", 1)[-1]
    return urlunsplit(split._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{hostport}"))


def with_database(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def _connect(url: str, timeout: int = 5) -> psycopg2.extensions.connection:
    try:
        return psycopg2.connect(url, connect_timeout=timeout)
    except psycopg2.OperationalError as exc:
        p = url_parts(url)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UserError(
            f"cannot reach Postgres at {p['host']}:{p['port']} (database {p['dbname']}): {first}"
        ) from exc


@contextmanager
def connect(db: Database, role: str | None = None, autocommit: bool = False) -> Iterator:
    """A psycopg2 connection as ``role`` (or the configured admin user), closed on exit."""
    conn = _connect(db.role_url(role) if role else db.url)
    conn.autocommit = autocommit
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


# --- embedded server -------------------------------------------------------------------------------


def _pg_bin(name: str) -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


# The embedded server is a single-user analytics warehouse; Postgres' defaults suit a shared OLTP server.
# - jit off: JIT compiles each large query for longer than the builds' queries then run.
# - wal_level minimal: a table a transaction creates (every dbt table build) is written without WAL;
#   there is no replica to feed. max_wal_senders must be 0 for it.
# - fewer checkpoints during a build, and buffers that hold the working tables.
# A real Postgres is configured by its owner; docs/architecture.md lists the same settings.
EMBEDDED_SERVER_SETTINGS = {
    "jit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "shared_buffers": "1GB",
}


def start_embedded(pgdata: Path) -> str:
    """Start (or find running) the embedded server; return its admin URL for the default database."""
    import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    url = server.get_uri()
    if _configure_embedded(socket_url(url)):
        # stop, then let pgserver start it its own way (pg_ctl restart would keep our output pipe open)
        _pg_ctl(pgdata, "stop")
        server.ensure_postgres_running()
        url = server.get_uri()
    return url


def _configure_embedded(admin_url: str) -> bool:
    """Apply EMBEDDED_SERVER_SETTINGS that differ; return whether the server must restart for them."""
    conn = _connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select name, current_setting(name), context = 'postmaster'"
                " from pg_settings where name = any(%s)",
                (list(EMBEDDED_SERVER_SETTINGS),),
            )
            differing = {
                name: needs_restart
                for name, running, needs_restart in cur.fetchall()
                if running != EMBEDDED_SERVER_SETTINGS[name]
            }
            for name in differing:
                cur.execute(f"alter system set {name} = %s", (EMBEDDED_SERVER_SETTINGS[name],))
            if differing:
                cur.execute("select pg_reload_conf()")
            # settings of context 'postmaster' take effect only at a start (a reload leaves them pending)
            return any(differing.values())
    finally:
        conn.close()


def embedded_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server if it runs. Returns whether it was running."""
    if not embedded_running(pgdata):
        return False
    _pg_ctl(pgdata, "stop")
    return True


def _pg_ctl(pgdata: Path, action: str) -> None:
    cmd = [str(_pg_bin("pg_ctl")), "-D", str(pgdata), "-m", "fast", "-w", action]
    user = "pgserver" if os.geteuid() == 0 else None
    subprocess.run(cmd, check=True, capture_output=True, user=user, timeout=60)


# --- resolving the database ------------------------------------------------------------------------


def get_database(settings: Settings, start: bool = True) -> Database:
    """The database to use: CUSTOMER_SYNC_DATABASE_URL, else the embedded server (started if asked)."""
    if settings.database_url:
        url = settings.database_url
        if not url.startswith(("postgresql://", "postgres://")):
            raise UserError("CUSTOMER_SYNC_DATABASE_URL must be a postgresql:// URL")
        _connect(url).close()
        return Database(url=url, embedded=False, role_passwords=_role_passwords(settings))
    if not start and not embedded_running(settings.pgdata):
        raise UserError(
            f"the embedded Postgres is not running (data in {settings.pgdata}); run 'customer-sync db start'"
        )
    admin_url = socket_url(start_embedded(settings.pgdata))
    conn = _connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,))
        if cur.fetchone() is None:
            cur.execute(f'create database "{DATABASE_NAME}"')
    conn.close()
    return Database(url=with_database(admin_url, DATABASE_NAME), embedded=True)


def _role_passwords(settings: Settings) -> tuple[tuple[str, str], ...]:
    """Random per-role passwords for a real Postgres, made once and kept in the home folder."""
    path = settings.home / "role_passwords.json"
    if path.exists():
        stored = json.loads(path.read_text())
    else:
        settings.home.mkdir(parents=True, exist_ok=True)
        stored = {role: secrets.token_urlsafe(24) for role in ROLES}
        path.touch(mode=0o600)
        path.write_text(json.dumps(stored))
    return tuple((role, stored[role]) for role in ROLES)


def bootstrap(db: Database) -> None:
    """Create the roles, the schemas by layer and their grants. Idempotent."""
    statements: list[str] = []
    passwords = dict(db.role_passwords)
    for role in ROLES:
        statements.append(
            f"do $$ begin if not exists (select 1 from pg_roles where rolname = '{role}') "
            f"then create role {role} login; end if; end $$"
        )
        if role in passwords:
            statements.append(f"alter role {role} login password '{passwords[role]}'")
    statements.append(f"grant {', '.join(ROLES)} to current_user")
    statements.append("grant create on database current_database_placeholder to cs_loader, cs_transformer")
    for schema in RAW_SCHEMAS:
        statements.append(f"create schema if not exists {schema} authorization cs_loader")
        statements.append(f"grant usage on schema {schema} to cs_transformer")
        statements.append(f"grant select on all tables in schema {schema} to cs_transformer")
    for schema in DBT_SCHEMAS:
        statements.append(f"create schema if not exists {schema} authorization cs_transformer")
    statements.append(f"create schema if not exists {OPS_SCHEMA} authorization cs_sync")
    statements += [
        # whatever the loader creates later (raw_file_<name> schemas, new tables) the transformer may read
        "alter default privileges for role cs_loader grant usage on schemas to cs_transformer",
        "alter default privileges for role cs_loader grant select on tables to cs_transformer",
        # marts are for BI and for the reverse-ETL; reverse_etl plans are for the sync only
        "grant usage on schema marts to bi_reader, cs_sync",
        "grant select on all tables in schema marts to bi_reader, cs_sync",
        "alter default privileges for role cs_transformer in schema marts "
        "grant select on tables to bi_reader, cs_sync",
        "grant usage on schema reverse_etl to cs_sync",
        "grant select on all tables in schema reverse_etl to cs_sync",
        "alter default privileges for role cs_transformer in schema reverse_etl "
        "grant select on tables to cs_sync",
        # the sync ledger feeds back into the models (what was pushed, what is parked)
        f"grant usage on schema {OPS_SCHEMA} to cs_transformer",
        f"grant select on all tables in schema {OPS_SCHEMA} to cs_transformer",
        f"alter default privileges for role cs_sync in schema {OPS_SCHEMA} "
        "grant select on tables to cs_transformer",
    ]
    dbname = db.parts["dbname"]
    with connect(db, autocommit=True) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql.replace("current_database_placeholder", f'"{dbname}"'))


def ensure_ready(settings: Settings) -> Database:
    """Resolve the database, starting the embedded one if needed, and bootstrap it."""
    db = get_database(settings, start=True)
    bootstrap(db)
    return db


def psql_command(db: Database) -> list[str]:
    """A psql command line for this database (the embedded wheel ships psql)."""
    psql = _pg_bin("psql")
    exe = str(psql) if psql.exists() else "psql"
    return [exe, db.url]
