"""SQLite storage shared by the simulated services: connections, the write log, time helpers.

Each system has its own SQLite file in WAL mode (readers never block the one writer). A connection is
opened per request and closed after it; nothing holds a connection between requests.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Connection = sqlite3.Connection

WRITE_LOG_DDL = """
create table if not exists write_log (
    seq integer primary key autoincrement,
    logged_at text not null,
    system text not null,
    method text not null,
    path text not null,
    query text,
    body text,
    idempotency_key text,
    status integer,
    changed text not null default '[]',
    fault text
)
"""


def _open(directory: Path, system: str) -> Connection:
    conn = sqlite3.connect(
        directory / f"{system}.sqlite", timeout=30, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute("pragma busy_timeout = 30000")
    conn.execute("pragma synchronous = normal")
    return conn


@contextmanager
def _transaction(conn: Connection) -> Iterator[Connection]:
    conn.execute("begin")
    try:
        yield conn
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


@contextmanager
def connect(directory: Path, system: str) -> Iterator[Connection]:
    """A one-off connection to ``<directory>/<system>.sqlite`` in a transaction, closed on exit."""
    conn = _open(directory, system)
    try:
        with _transaction(conn):
            yield conn
    finally:
        conn.close()


class ConnectionPool:
    """Connections a service reuses across requests, one thread at a time each.

    Closing the last connection to a WAL database checkpoints it (an fsync, ~10 ms); a service that
    opened and closed a connection per request would pay that on every request.
    """

    def __init__(self, directory: Path, system: str) -> None:
        self._directory = directory
        self._system = system
        self._idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection in a transaction: committed on success, rolled back on error."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = _open(self._directory, self._system)
        try:
            with _transaction(conn):
                yield conn
        finally:
            self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def create(path: Path, ddl: list[str]) -> None:
    """Create a fresh database file with ``ddl`` and the write log, in WAL mode."""
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("pragma journal_mode = wal")
        conn.execute("begin")
        for statement in [*ddl, WRITE_LOG_DDL]:
            conn.execute(statement)
        conn.execute("commit")
    finally:
        conn.close()


def log_write(conn: Connection, entry: dict[str, Any]) -> None:
    conn.execute(
        "insert into write_log (logged_at, system, method, path, query, body, idempotency_key, status,"
        " changed, fault) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            datetime.now(UTC).isoformat(timespec="microseconds"),
            entry["system"],
            entry["method"],
            entry["path"],
            json.dumps(entry.get("query") or {}),
            entry.get("body"),
            entry.get("idempotency_key"),
            entry.get("status"),
            json.dumps(entry.get("changed") or []),
            entry.get("fault"),
        ),
    )


def read_writes(conn: Connection, system: str) -> list[dict[str, Any]]:
    rows = conn.execute("select * from write_log order by seq").fetchall()
    writes = []
    for row in rows:
        item = dict(row)
        item["query"] = json.loads(item["query"] or "{}")
        item["changed"] = json.loads(item["changed"] or "[]")
        item["system"] = item.get("system") or system
        writes.append(item)
    return writes


def next_id(conn: Connection, name: str, start: int) -> int:
    """A durable counter (ids for new records, jobs, events)."""
    conn.execute("create table if not exists counters (name text primary key, value integer not null)")
    row = conn.execute("select value from counters where name = ?", (name,)).fetchone()
    value = max(start, row["value"] + 1) if row else start
    conn.execute(
        "insert into counters (name, value) values (?, ?)"
        " on conflict (name) do update set value = excluded.value",
        (name, value),
    )
    return value


def seed_counter(conn: Connection, name: str, value: int) -> None:
    conn.execute("create table if not exists counters (name text primary key, value integer not null)")
    conn.execute("insert or replace into counters (name, value) values (?, ?)", (name, value))


# --- time -------------------------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    """HubSpot timestamps: ISO 8601 with milliseconds and Z."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_s(seconds: int) -> str:
    """Zendesk timestamps: ISO 8601 to the second with Z."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant_ms(value: Any) -> int | None:
    """Epoch milliseconds from epoch-ms (number or digits) or an ISO 8601 string; None if neither."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
