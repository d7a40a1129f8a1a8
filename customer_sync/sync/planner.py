"""Turning the reverse-ETL models into operations, and merging them with the ledger's open work."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from customer_sync.errors import UserError
from customer_sync.sync import ledger
from customer_sync.sync.model import Operation

log = logging.getLogger(__name__)


CHANGES_SCHEMA = "reverse_etl"


def read_changes(
    conn: psycopg2.extensions.connection, target: str, schema: str = CHANGES_SCHEMA
) -> list[Operation]:
    """One operation per record of ``<schema>.<target>_changes`` (its field rows grouped)."""
    sql = f"""
        select object_type, source_record_id, customer_id, native_field, old_value, new_value,
               floor(extract(epoch from landed_updated_at) * 1000)::bigint as landed_updated_ms,
               landed_load_id
        from {schema}.{target}_changes
        order by object_type, source_record_id, native_field
    """
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
    except psycopg2.errors.UndefinedTable as exc:
        conn.rollback()
        raise UserError(
            f"{schema}.{target}_changes does not exist: run 'customer-sync build' before syncing"
        ) from exc
    ops: dict[tuple[str, str], Operation] = {}
    for object_type, record_id, customer_id, native_field, old, new, landed_ms, load_id in rows:
        op = ops.get((object_type, record_id))
        if op is None:
            op = ops[(object_type, record_id)] = Operation(
                target=target,
                object_type=object_type,
                record_id=record_id,
                customer_id=customer_id,
                new_values={},
                old_values={},
                landed_updated_ms=landed_ms,
                landed_load_id=load_id,
            )
        op.new_values[native_field] = new
        op.old_values[native_field] = old
    return list(ops.values())


@dataclass
class Plan:
    """What one run of one target will do."""

    operations: list[Operation]
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
) -> Plan:
    """Record this run's operations for ``target`` in the ledger and return them.

    Open operations of earlier runs (killed midway, or failed with tries left) are taken over when the
    warehouse still wants the same values, keeping their idempotency keys; superseded when it now wants
    other values; closed as skipped when it wants nothing any more. A record whose operation is parked is
    not planned again with the same values, nor is a write already applied to the very landed copy the
    plan was made from (a sync run again before the next extract).
    """
    ledger.park_exhausted(conn, run_id, target, max_attempts)
    wanted = {op.key: op for op in read_changes(conn, target, schema)}
    open_ops = ledger.open_operations(conn, target, max_attempts)
    parked = ledger.parked_keys(conn, target)
    applied = ledger.last_applied(conn, target, _landed_keys(wanted.values()))

    plan = Plan(operations=[])
    adopted: list[Operation] = []
    closed: list[tuple[Operation, str, str]] = []
    for op in open_ops:
        fresh = wanted.get(op.key)
        if fresh is not None and fresh.new_values == op.new_values:
            adopted.append(op)
            del wanted[op.key]
        elif fresh is not None:
            closed.append((op, "skipped", "superseded by a newer plan for this record"))
        else:
            # an earlier write may have landed since, or the golden record changed: nothing left to do
            closed.append((op, "skipped", "no longer in the plan (target already current or golden changed)"))
    new_ops = []
    for op in wanted.values():
        reason = _not_to_send(op, parked, applied)
        if reason == "parked":
            plan.held_parked += 1
        elif reason == "applied":
            plan.already_applied += 1
        else:
            new_ops.append(op)
    ledger.finish(conn, closed)
    ledger.adopt(conn, run_id, adopted)
    ledger.insert_operations(conn, run_id, new_ops)
    plan.operations = adopted + new_ops
    plan.adopted = len(adopted)
    plan.new = len(new_ops)
    plan.superseded = sum(1 for _, _, reason in closed if reason.startswith("superseded"))
    plan.dropped = len(closed) - plan.superseded
    for op in plan.operations:
        for name in op.new_values:
            plan.by_field[name] = plan.by_field.get(name, 0) + 1
    log.info("%s: %d operations (%d resumed, %d new)", target, len(plan.operations), plan.adopted, plan.new)
    return plan


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


def preview(conn: psycopg2.extensions.connection, target: str, sample: int = 5) -> dict[str, object]:
    """The dry-run view of a target: counts per field and a sample of operations; writes nothing.

    Like a real run, it leaves out what a run would not send: a record parked with the same values, and
    a write already applied to the very landed copy the changes were computed from.
    """
    parked = ledger.parked_keys(conn, target)
    wanted = read_changes(conn, target)
    applied = ledger.last_applied(conn, target, _landed_keys(wanted))
    ops = [op for op in wanted if _not_to_send(op, parked, applied) is None]
    by_field: dict[str, int] = {}
    by_object: dict[str, int] = {}
    for op in ops:
        by_object[op.object_type] = by_object.get(op.object_type, 0) + 1
        for name in op.new_values:
            by_field[name] = by_field.get(name, 0) + 1
    return {
        "planned": len(ops),
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
            for op in ops[:sample]
        ],
    }
