"""The sync ledger in schema ``ops`` (role cs_sync): runs, operations and run cycles.

Every state change of an operation is committed before the next step, so a run killed at any point
leaves a ledger a later run can resume from: an operation still ``planned`` with attempts > 0 may have
been written, and is re-read before anything is written again.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from customer_sync.sync.model import Operation

log = logging.getLogger(__name__)

DDL = """
create table if not exists ops.sync_runs (
    run_id text primary key,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null check (status in ('running', 'succeeded', 'partial', 'failed', 'refused')),
    targets text[] not null,
    counts jsonb not null default '{}'::jsonb,
    pid integer,
    cycle_id text,
    error text
);
create table if not exists ops.sync_operations (
    op_id bigserial primary key,
    run_id text not null references ops.sync_runs (run_id),
    first_run_id text not null references ops.sync_runs (run_id),
    target text not null,
    object_type text not null,
    record_id text not null,
    customer_id text,
    fields text[] not null,
    old_values jsonb not null,
    new_values jsonb not null,
    landed_updated_ms bigint,
    landed_load_id text,
    idempotency_key text not null,
    status text not null
        check (status in ('planned', 'applied', 'skipped', 'deferred', 'failed', 'parked')),
    attempts integer not null default 0,
    error text,
    planned_at timestamptz not null default now(),
    attempted_at timestamptz,
    finished_at timestamptz
);
-- ledgers made before the column existed
alter table ops.sync_operations add column if not exists landed_load_id text;
create index if not exists sync_operations_open on ops.sync_operations (target, status);
create index if not exists sync_operations_run on ops.sync_operations (run_id);
-- a plan looks up the last applied write of the records it wants to write, not the whole history
create index if not exists sync_operations_record on ops.sync_operations (target, record_id);
create table if not exists ops.cycle_runs (
    cycle_id text primary key,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null check (status in ('running', 'succeeded', 'failed')),
    failed_step text,
    steps jsonb not null default '{}'::jsonb,
    error text,
    pid integer
);
"""

Conn = psycopg2.extensions.connection


def ensure_schema(conn: Conn) -> None:
    """Create the ledger tables if missing (serialised, so concurrent first runs do not race)."""
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('customer_sync.ledger.ddl'))")
        cur.execute(DDL)
    conn.commit()


def start_run(conn: Conn, run_id: str, targets: Iterable[str], cycle_id: str | None = None) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "insert into ops.sync_runs (run_id, status, targets, pid, cycle_id) "
            "values (%s, 'running', %s, %s, %s)",
            (run_id, list(targets), os.getpid(), cycle_id),
        )
    conn.commit()


def finish_run(
    conn: Conn, run_id: str, status: str, counts: dict[str, Any], error: str | None = None
) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "update ops.sync_runs set finished_at = now(), status = %s, counts = %s, error = %s "
            "where run_id = %s",
            (status, json.dumps(counts), error, run_id),
        )
    conn.commit()


# the columns of an operation's row (aliased ops), in the order _row_to_op takes them
_OPERATION_COLUMNS = """
    ops.target, ops.object_type, ops.record_id, ops.customer_id, ops.new_values, ops.old_values,
    ops.landed_updated_ms, ops.landed_load_id, ops.op_id, ops.idempotency_key, ops.attempts
"""


def _row_to_op(row: tuple[Any, ...]) -> Operation:
    target, object_type, record_id, customer_id, new, old, landed_ms, load_id, op_id, key, attempts = row
    return Operation(
        target=target,
        object_type=object_type,
        record_id=record_id,
        customer_id=customer_id,
        new_values=new,
        old_values=old,
        landed_updated_ms=landed_ms,
        landed_load_id=load_id,
        op_id=op_id,
        idempotency_key=key,
        attempts=attempts,
    )


# the ledger rows of given records, read by the records' index: a plan asks about the records of one
# chunk, and the ledger keeps every operation of every earlier run
_OF_RECORDS = """
    from unnest(%s::text[], %s::text[]) as wanted (object_type, record_id)
    inner join ops.sync_operations as ops
        on ops.record_id = wanted.record_id and ops.object_type = wanted.object_type
"""


# an operation still to do (aliased ops; the parameter is the tries an operation gets)
_OPEN = "(ops.status = 'planned' or (ops.status = 'failed' and ops.attempts < %s))"


def _key_arrays(keys: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(object types, record ids) of (object_type, record_id) keys, as two arrays for unnest."""
    object_types: list[str] = []
    record_ids: list[str] = []
    for object_type, record_id in keys:
        object_types.append(object_type)
        record_ids.append(record_id)
    return object_types, record_ids


def open_operations(
    conn: Conn, target: str, max_attempts: int, keys: Iterable[tuple[str, str]]
) -> list[Operation]:
    """Operations of earlier runs still to do for the given records (object_type, record_id): planned (a
    run stopped midway) or failed with tries left, oldest first."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            select {_OPERATION_COLUMNS} {_OF_RECORDS}
            where ops.target = %s and {_OPEN}
            order by ops.op_id
            """,
            (*_key_arrays(keys), target, max_attempts),
        )
        return [_row_to_op(row) for row in cur.fetchall()]


def close_unwanted(conn: Conn, run_id: str, target: str, max_attempts: int, reason: str) -> int:
    """Close as skipped the open operations of earlier runs that ``run_id`` did not take over or supersede
    (the plan wants nothing of their records any more); returns how many."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            update ops.sync_operations as ops
            set status = 'skipped', error = %s, finished_at = now()
            where ops.target = %s and ops.run_id <> %s and {_OPEN}
            """,
            (reason, target, run_id, max_attempts),
        )
        closed = cur.rowcount
    conn.commit()
    return closed


@dataclass
class PlannedOperations:
    """The operations of one run and target still planned, oldest first, read from the ledger
    ``chunk_records`` rows at a time; each iteration reads them afresh."""

    conn: Conn
    run_id: str
    target: str
    chunk_records: int

    def __iter__(self) -> Iterator[Operation]:
        with held_cursor(self.conn, "planned") as cur:
            cur.execute(
                f"""
                select {_OPERATION_COLUMNS} from ops.sync_operations as ops
                where ops.run_id = %s and ops.target = %s and ops.status = 'planned'
                order by ops.op_id
                """,
                (self.run_id, self.target),
            )
            while rows := cur.fetchmany(self.chunk_records):
                yield from map(_row_to_op, rows)


@contextmanager
def held_cursor(conn: Conn, purpose: str) -> Iterator[Any]:
    """A server-side cursor that rows are fetched from a few at a time. Declared WITH HOLD, so it lives on
    through the commits of the work done between fetches (and works on an autocommit connection, where
    the server keeps the result from the moment it is declared)."""
    cur = conn.cursor(f"customer_sync_{purpose}_{secrets.token_hex(4)}", withhold=True)
    try:
        yield cur
    finally:
        with suppress(psycopg2.errors.InvalidCursorName):  # its declare failed: there is nothing to close
            cur.close()


def park_exhausted(conn: Conn, run_id: str, target: str, max_attempts: int) -> int:
    """Failed operations out of tries become parked (by this run): a person has to look at them."""
    with conn.cursor() as cur:
        cur.execute(
            """
            update ops.sync_operations
            set status = 'parked', finished_at = now(), run_id = %s,
                error = coalesce(error, '') || ' (parked after ' || attempts || ' attempts)'
            where target = %s and status = 'failed' and attempts >= %s
            """,
            (run_id, target, max_attempts),
        )
        parked = cur.rowcount
    conn.commit()
    return parked


def parked_keys(
    conn: Conn, target: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, str]]:
    """(object_type, record_id) -> new values of the last parked operation of each of the given records
    that has one (not planned again while unchanged)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            select distinct on (ops.object_type, ops.record_id) ops.object_type, ops.record_id, ops.new_values
            {_OF_RECORDS}
            where ops.target = %s and ops.status = 'parked'
            order by ops.object_type, ops.record_id, ops.op_id desc
            """,
            (*_key_arrays(keys), target),
        )
        return {(row[0], row[1]): dict(row[2]) for row in cur.fetchall()}


def last_applied(
    conn: Conn, target: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[dict[str, str], str | None]]:
    """(object_type, record_id) -> (new values, landed load id) of the last applied operation of each of
    the given records that has one."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            select distinct on (ops.object_type, ops.record_id)
                ops.object_type, ops.record_id, ops.new_values, ops.landed_load_id
            {_OF_RECORDS}
            where ops.target = %s and ops.status = 'applied'
            order by ops.object_type, ops.record_id, ops.finished_at desc
            """,
            (*_key_arrays(keys), target),
        )
        return {(row[0], row[1]): (dict(row[2]), row[3]) for row in cur.fetchall()}


def insert_operations(conn: Conn, run_id: str, ops: list[Operation]) -> None:
    """Insert new planned operations; gives each its op_id and a deterministic idempotency key."""
    if not ops:
        return
    with conn.cursor() as cur:
        rows = psycopg2.extras.execute_values(
            cur,
            """
            insert into ops.sync_operations (run_id, first_run_id, target, object_type, record_id,
                customer_id, fields, old_values, new_values, landed_updated_ms, landed_load_id,
                idempotency_key, status)
            values %s
            returning op_id
            """,
            [
                (
                    run_id,
                    run_id,
                    op.target,
                    op.object_type,
                    op.record_id,
                    op.customer_id,
                    op.fields,
                    json.dumps(op.old_values),
                    json.dumps(op.new_values),
                    op.landed_updated_ms,
                    op.landed_load_id,
                    "",
                    "planned",
                )
                for op in ops
            ],
            fetch=True,
            page_size=1000,
        )
        for op, (op_id,) in zip(ops, rows, strict=True):
            op.op_id = op_id
            op.idempotency_key = idempotency_key(op.target, op_id, 0)
        psycopg2.extras.execute_batch(
            cur,
            "update ops.sync_operations set idempotency_key = %s where op_id = %s",
            [(op.idempotency_key, op.op_id) for op in ops],
            page_size=1000,
        )
    conn.commit()


def idempotency_key(target: str, op_id: int, generation: int) -> str:
    """Deterministic key of an operation's write: the same op resumed by a later run sends the same key."""
    return f"customer-sync-{target}-op{op_id}-g{generation}"


def adopt(conn: Conn, run_id: str, ops: list[Operation]) -> None:
    """Operations of an earlier run taken over by this run (kept with their keys and attempt counts)."""
    _update(conn, "run_id = %s, status = 'planned', finished_at = null", [(run_id, op.op_id) for op in ops])


def mark_attempt(conn: Conn, ops: list[Operation]) -> None:
    """Record that a write is about to be sent (committed first: a kill after this is ambiguous)."""
    for op in ops:
        op.attempts += 1
    _update(
        conn,
        "attempts = %s, attempted_at = now(), idempotency_key = %s",
        [(op.attempts, op.idempotency_key, op.op_id) for op in ops],
    )


def rotate_key(conn: Conn, op: Operation) -> None:
    """A new idempotency key for the next try (after a 5xx whose answer the API saved under the old key)."""
    generation = int(op.idempotency_key.rsplit("-g", 1)[-1]) + 1 if "-g" in op.idempotency_key else 1
    op.idempotency_key = idempotency_key(op.target, op.op_id or 0, generation)
    _update(conn, "idempotency_key = %s", [(op.idempotency_key, op.op_id)])


def finish(conn: Conn, results: list[tuple[Operation, str, str]]) -> None:
    """Final status (and reason or error) of operations."""
    _update(
        conn,
        "status = %s, error = nullif(%s, ''), finished_at = now()",
        [(status, reason, op.op_id) for op, status, reason in results],
    )


def _update(conn: Conn, assignments: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    with conn.cursor() as cur:
        psycopg2.extras.execute_batch(
            cur, f"update ops.sync_operations set {assignments} where op_id = %s", rows, page_size=500
        )
    conn.commit()


def run_counts(conn: Conn, run_id: str) -> dict[str, dict[str, int]]:
    """Operations of a run by target and status."""
    with conn.cursor() as cur:
        cur.execute(
            "select target, status, count(*) from ops.sync_operations where run_id = %s group by 1, 2",
            (run_id,),
        )
        counts: dict[str, dict[str, int]] = {}
        for target, status, n in cur.fetchall():
            counts.setdefault(target, {})[status] = n
        return counts


def start_cycle(conn: Conn, cycle_id: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "insert into ops.cycle_runs (cycle_id, status, pid) values (%s, 'running', %s)",
            (cycle_id, os.getpid()),
        )
    conn.commit()


def finish_cycle(
    conn: Conn, cycle_id: str, status: str, steps: dict[str, Any], failed_step: str | None, error: str | None
) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "update ops.cycle_runs set finished_at = now(), status = %s, steps = %s, failed_step = %s, "
            "error = %s where cycle_id = %s",
            (status, json.dumps(steps, default=str), failed_step, error, cycle_id),
        )
    conn.commit()
