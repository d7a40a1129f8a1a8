"""Turning the reverse-ETL models into operations, and merging them with the ledger's open work."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from customer_sync.errors import UserError
from customer_sync.sync import ledger
from customer_sync.sync.model import Operation

log = logging.getLogger(__name__)


CHANGES_SCHEMA = "reverse_etl"
# records planned, then executed, at a time: what a target's sync holds in memory grows with this, not
# with the number of changes (CUSTOMER_SYNC_SYNC_CHUNK_RECORDS)
CHUNK_RECORDS = 10_000
# rows fetched at a time from the changes (a record has a row per field)
FETCH_ROWS = 5_000
NO_LONGER_WANTED = "no longer in the plan (target already current or golden changed)"


def chunk_records() -> int:
    """Records per chunk: CUSTOMER_SYNC_SYNC_CHUNK_RECORDS, or :data:`CHUNK_RECORDS`."""
    return max(1, int(os.environ.get("CUSTOMER_SYNC_SYNC_CHUNK_RECORDS", CHUNK_RECORDS)))


def read_changes(
    conn: psycopg2.extensions.connection,
    target: str,
    schema: str = CHANGES_SCHEMA,
    chunk: int | None = None,
) -> Iterator[list[Operation]]:
    """One operation per record of ``<schema>.<target>_changes`` (its field rows grouped), ``chunk``
    records at a time, streamed from a server-side cursor in (object_type, record_id) order."""
    size = chunk or chunk_records()
    sql = f"""
        select object_type, source_record_id, customer_id, native_field, old_value, new_value,
               floor(extract(epoch from landed_updated_at) * 1000)::bigint as landed_updated_ms,
               landed_load_id
        from {schema}.{target}_changes
        order by object_type, source_record_id, native_field
    """
    with ledger.held_cursor(conn, "changes") as cur:
        try:
            cur.execute(sql)
        except psycopg2.errors.UndefinedTable as exc:
            conn.rollback()
            raise UserError(
                f"{schema}.{target}_changes does not exist: run 'customer-sync build' before syncing"
            ) from exc
        records: list[Operation] = []
        op: Operation | None = None
        while rows := cur.fetchmany(FETCH_ROWS):
            for object_type, record_id, customer_id, native_field, old, new, landed_ms, load_id in rows:
                if op is None or op.key != (object_type, record_id):
                    if len(records) == size:  # the record before this one is whole
                        yield records
                        records = []
                    op = Operation(
                        target=target,
                        object_type=object_type,
                        record_id=record_id,
                        customer_id=customer_id,
                        new_values={},
                        old_values={},
                        landed_updated_ms=landed_ms,
                        landed_load_id=load_id,
                    )
                    records.append(op)
                op.new_values[native_field] = new
                op.old_values[native_field] = old
        if records:
            yield records


@dataclass
class Plan:
    """What one run of one target will do; its operations are in the ledger (:func:`operations`)."""

    run_id: str
    target: str
    chunk_records: int
    planned: int = 0
    adopted: int = 0
    new: int = 0
    superseded: int = 0
    dropped: int = 0
    held_parked: int = 0
    already_applied: int = 0
    by_field: dict[str, int] = field(default_factory=dict)


def plan_target(
    conn: psycopg2.extensions.connection,
    run_id: str,
    target: str,
    max_attempts: int,
    schema: str = CHANGES_SCHEMA,
    chunk: int | None = None,
) -> Plan:
    """Record this run's operations for ``target`` in the ledger, ``chunk`` records at a time.

    Open operations of earlier runs (killed midway, or failed with tries left) are taken over when the
    warehouse still wants the same values, keeping their idempotency keys; superseded when it now wants
    other values; closed as skipped when it wants nothing any more. A record whose operation is parked is
    not planned again with the same values, nor is a write already applied to the very landed copy the
    plan was made from (a sync run again before the next extract).
    """
    plan = Plan(run_id, target, chunk or chunk_records())
    ledger.park_exhausted(conn, run_id, target, max_attempts)
    for records in read_changes(conn, target, schema, plan.chunk_records):
        _plan_chunk(conn, plan, records, max_attempts)
    # an earlier write may have landed since, or the golden record changed: nothing left to do
    plan.dropped += ledger.close_unwanted(conn, run_id, target, max_attempts, NO_LONGER_WANTED)
    log.info("%s: %d operations (%d resumed, %d new)", target, plan.planned, plan.adopted, plan.new)
    return plan


def _plan_chunk(
    conn: psycopg2.extensions.connection, plan: Plan, records: list[Operation], max_attempts: int
) -> None:
    """Plan the operations of a chunk of records (each record in one chunk only) into the ledger."""
    wanted = {op.key: op for op in records}
    adopted: list[Operation] = []
    closed: list[tuple[Operation, str, str]] = []
    for op in ledger.open_operations(conn, plan.target, max_attempts, list(wanted)):
        fresh = wanted.get(op.key)
        if fresh is not None and fresh.new_values == op.new_values:
            adopted.append(op)
            del wanted[op.key]
        elif fresh is not None:
            closed.append((op, "skipped", "superseded by a newer plan for this record"))
            plan.superseded += 1
        else:  # a second open operation of a record whose first was taken over
            closed.append((op, "skipped", NO_LONGER_WANTED))
            plan.dropped += 1
    new_ops, held = _to_send(conn, plan.target, list(wanted.values()))
    ledger.finish(conn, closed)
    ledger.adopt(conn, plan.run_id, adopted)
    ledger.insert_operations(conn, plan.run_id, new_ops)
    plan.adopted += len(adopted)
    plan.new += len(new_ops)
    plan.planned += len(adopted) + len(new_ops)
    plan.held_parked += held["parked"]
    plan.already_applied += held["applied"]
    _count_fields(adopted + new_ops, plan.by_field)


def operations(conn: psycopg2.extensions.connection, plan: Plan) -> ledger.PlannedOperations:
    """The plan's operations still to do, read from the ledger a chunk at a time (oldest first: the ones
    taken over from earlier runs, then the new ones in the order of the changes)."""
    return ledger.PlannedOperations(conn, plan.run_id, plan.target, plan.chunk_records)


def _to_send(
    conn: psycopg2.extensions.connection, target: str, ops: list[Operation]
) -> tuple[list[Operation], dict[str, int]]:
    """The wanted operations to send, and how many are held back per reason (see _not_to_send)."""
    if not ops:
        return [], {"parked": 0, "applied": 0}
    parked = ledger.parked_keys(conn, target, [op.key for op in ops])
    applied = ledger.last_applied(conn, target, _landed_keys(ops))
    send: list[Operation] = []
    held = {"parked": 0, "applied": 0}
    for op in ops:
        reason = _not_to_send(op, parked, applied)
        if reason is None:
            send.append(op)
        else:
            held[reason] += 1
    return send, held


def _count_fields(ops: Iterable[Operation], counts: dict[str, int]) -> None:
    for op in ops:
        for name in op.new_values:
            counts[name] = counts.get(name, 0) + 1


def _landed_keys(ops: Iterable[Operation]) -> list[tuple[str, str]]:
    """The keys of the operations planned from a landed copy: the only ones _not_to_send looks up."""
    return [op.key for op in ops if op.landed_load_id is not None]


def _not_to_send(
    op: Operation,
    parked: dict[tuple[str, str], dict[str, str]],
    applied: dict[tuple[str, str], tuple[dict[str, str], str | None]],
) -> str | None:
    """Why a wanted operation is not sent: 'parked' (the same values wait for a person), 'applied' (already
    written to the very landed copy it was planned from), or None when it is to be sent."""
    if parked.get(op.key) == op.new_values:
        return "parked"
    if op.landed_load_id is not None and applied.get(op.key) == (op.new_values, op.landed_load_id):
        return "applied"
    return None


def preview(
    conn: psycopg2.extensions.connection, target: str, sample: int = 5, schema: str = CHANGES_SCHEMA
) -> dict[str, object]:
    """The dry-run view of a target: counts per field and a sample of operations; writes nothing.

    Like a real run, it leaves out what a run would not send: a record parked with the same values, and
    a write already applied to the very landed copy the changes were computed from.
    """
    planned = 0
    by_field: dict[str, int] = {}
    by_object: dict[str, int] = {}
    shown: list[Operation] = []
    for records in read_changes(conn, target, schema):
        ops, _ = _to_send(conn, target, records)
        planned += len(ops)
        shown += ops[: sample - len(shown)]
        for op in ops:
            by_object[op.object_type] = by_object.get(op.object_type, 0) + 1
        _count_fields(ops, by_field)
    return {
        "planned": planned,
        "by_object": by_object,
        "by_field": dict(sorted(by_field.items())),
        "sample": [
            {
                "object_type": op.object_type,
                "record_id": op.record_id,
                "customer_id": op.customer_id,
                "changes": {
                    k: {"old": op.old_values.get(k), "new": v} for k, v in sorted(op.new_values.items())
                },
            }
            for op in shown
        ],
    }
