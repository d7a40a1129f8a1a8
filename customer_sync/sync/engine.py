"""Executing one target's operations: re-read, decide, write, record — batch by batch.

For every batch: re-read the records; an operation whose record already holds the wanted values is done
(applied if an earlier try of ours was sent, else skipped); one whose record changed since it was landed
is deferred (never overwrite an edit we have not seen); the rest are written. Writes that end ambiguous
(timeout, dropped response, 5xx) go round again: re-read first, so a write that did land is not repeated.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import psycopg2.extensions

from customer_sync.sync import ledger
from customer_sync.sync.http import ApiError, Unreachable
from customer_sync.sync.model import (
    CurrentRecord,
    Operation,
    TargetClient,
    TargetStats,
    WriteOutcome,
    same_value,
)
from customer_sync.sync.pacing import backoff_seconds

log = logging.getLogger(__name__)

ROUNDS_PER_RUN = 6
# how long a server may still apply a write whose answer never came (a slow request the client gave up on)
SETTLE_SECONDS = float(os.environ.get("CUSTOMER_SYNC_SYNC_SETTLE_SECONDS", "30"))


def chunks(items: Iterable[Operation], size: int) -> Iterator[list[Operation]]:
    """``items`` in lists of ``size`` (the last one shorter), taken as they come."""
    stream = iter(items)
    while batch := list(islice(stream, size)):
        yield batch


def decide(op: Operation, current: CurrentRecord | None) -> tuple[str, str] | None:
    """Final (status, reason) for ``op`` given its record as re-read, or None when it must be written."""
    if current is None or not current.exists:
        return "skipped", "record no longer exists in the target (deleted or archived)"
    if all(same_value(current.values.get(name), value) for name, value in op.new_values.items()):
        if op.attempts > 0:
            return "applied", ""
        return "skipped", "target already holds the values"
    if op.landed_updated_ms is not None and current.updated_ms is not None:
        if current.updated_ms != op.landed_updated_ms:
            return "deferred", (
                f"record changed in the target since it was landed (updated {current.updated_ms} ms, "
                f"landed {op.landed_updated_ms} ms); the next cycle lands the change first"
            )
        return None
    changed = [
        name for name in op.new_values if not same_value(current.values.get(name), op.old_values.get(name))
    ]
    if changed:
        return (
            "deferred",
            f"{', '.join(changed)} changed in the target since landed; next cycle lands it first",
        )
    return None


def execute(
    conn: psycopg2.extensions.connection,
    client: TargetClient,
    ops: Iterable[Operation],
    stats: TargetStats,
    settle_seconds: float = SETTLE_SECONDS,
    progress: Callable[[int], None] | None = None,
    settle_after: int | None = None,
) -> None:
    """Run ``ops`` against ``client``, recording every step in the ledger and the final counts in stats.

    ``ops`` is iterated twice, once by the client's prepare and once batch by batch: it may stream them
    (e.g. from the ledger, :class:`ledger.PlannedOperations`), so that they are never all in memory.
    A write that timed out may still be applied by the server later, so its operation waits until
    ``settle_seconds`` after the timeout before it is re-read (and written again only if still needed):
    after the last batch, or as soon as ``settle_after`` operations wait.
    """
    client.prepare(ops)
    unsettled: list[Operation] = []
    for batch in chunks(ops, client.batch_size):
        unsettled += _execute_batch(conn, client, batch, stats)
        if progress:
            progress(len(batch))
        if settle_after is not None and len(unsettled) >= settle_after:
            _settle(conn, client, unsettled, stats, settle_seconds)
            unsettled = []
    _settle(conn, client, unsettled, stats, settle_seconds)


def _settle(
    conn: psycopg2.extensions.connection,
    client: TargetClient,
    unsettled: list[Operation],
    stats: TargetStats,
    settle_seconds: float,
) -> None:
    """Re-read (and write again if still needed) the operations whose write timed out, once the server
    had ``settle_seconds`` to apply it; the ones still timing out after ROUNDS_PER_RUN rounds end failed."""
    for _ in range(ROUNDS_PER_RUN):
        if not unsettled:
            return
        log.info(
            "%s: %d writes timed out; re-reading them in %.1fs", client.name, len(unsettled), settle_seconds
        )
        time.sleep(settle_seconds)
        waiting, unsettled = unsettled, []
        for batch in chunks(waiting, client.batch_size):
            unsettled += _execute_batch(conn, client, batch, stats)
    _close(
        conn,
        stats,
        [(op, "failed", "write timed out repeatedly; outcome re-read next run") for op in unsettled],
    )


def _execute_batch(
    conn: psycopg2.extensions.connection, client: TargetClient, batch: list[Operation], stats: TargetStats
) -> list[Operation]:
    """Settle one batch; returns the operations whose write timed out (to re-read after settling)."""
    pending = batch
    timed_out: list[Operation] = []
    for round_no in range(1, ROUNDS_PER_RUN + 1):
        try:
            current = client.read(pending)
        except (Unreachable, ApiError) as exc:
            # counts as a try: a target that stays unreachable (or refuses the read, e.g. a revoked
            # token) parks its operations after the limit; the other batches still go
            ledger.mark_attempt(conn, pending)
            _close(conn, stats, [(op, "failed", f"re-read failed: {exc}") for op in pending])
            return timed_out
        decided: list[tuple[Operation, str, str]] = []
        to_write: list[Operation] = []
        for op in pending:
            outcome = decide(op, current.get(op.key))
            if outcome is None:
                to_write.append(op)
            else:
                decided.append((op, *outcome))
        _close(conn, stats, decided)
        if not to_write:
            return timed_out
        ledger.mark_attempt(conn, to_write)
        try:
            outcomes = client.write(to_write, current)
        except Unreachable as exc:
            outcomes = {op.op_id or 0: WriteOutcome("ambiguous", str(exc)) for op in to_write}
        again: list[Operation] = []
        finished: list[tuple[Operation, str, str]] = []
        for op in to_write:
            result = outcomes[op.op_id or 0]
            if result.status == "applied":
                finished.append((op, "applied", ""))
            elif result.status == "conflict":
                finished.append(
                    (op, "deferred", result.error or "record changed in the target while writing")
                )
            elif result.status == "failed":
                finished.append((op, "failed", result.error))
            elif result.timed_out:
                timed_out.append(op)
            else:
                if result.rotate_key:
                    ledger.rotate_key(conn, op)
                again.append(op)
        _close(conn, stats, finished)
        if not again:
            return timed_out
        pending = again
        log.info("%s: %d writes ambiguous, re-reading (round %d)", client.name, len(again), round_no)
        time.sleep(backoff_seconds(round_no))
    _close(
        conn,
        stats,
        [
            (op, "failed", f"outcome still unknown after {ROUNDS_PER_RUN} rounds; re-read next run")
            for op in pending
        ],
    )
    return timed_out


def _close(
    conn: psycopg2.extensions.connection, stats: TargetStats, results: list[tuple[Operation, str, str]]
) -> None:
    ledger.finish(conn, results)
    for _, status, _ in results:
        setattr(stats, status, getattr(stats, status) + 1)
