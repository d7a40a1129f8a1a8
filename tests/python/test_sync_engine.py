"""The sync's guarantees on a fake target: re-read before write, no double writes, deferral, resume,
retries then parking, the per-target lock, pacing from headers.

The fake target is in memory and misbehaves on purpose (answers lost after the write, 5xx before it,
timeouts whose write lands later), so each guarantee is checked without the network. The ledger is the
real one, in the session's warehouse; each test uses its own target name so tests never see each
other's operations.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg2.extensions
import pytest

from customer_sync import db as database
from customer_sync.commands.run import parse_duration
from customer_sync.errors import UserError
from customer_sync.sync import engine, ledger, planner
from customer_sync.sync.locks import TargetBusy, target_lock
from customer_sync.sync.model import CurrentRecord, Operation, TargetStats, WriteOutcome, time_ms
from customer_sync.sync.pacing import Pacer, retry_after_seconds
from customer_sync.sync.runner import new_run_id


@dataclass
class FakeTarget:
    """An in-memory system: records with a version clock, a write counter, and injected faults."""

    records: dict[str, dict[str, str | None]]
    faults: float = 0.0
    seed: int = 1
    batch_size: int = 10
    name: str = "fake"
    versions: dict[str, int] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)
    late_writes: list[threading.Timer] = field(default_factory=list)
    writes_sent: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()
        for key in self.records:
            self.versions.setdefault(key, 1000)

    def prepare(self, ops: list[Operation]) -> None:
        pass

    def edit(self, record_id: str, **values: str) -> None:
        """A person edits the record in the system's UI."""
        with self.lock:
            self.records[record_id].update(values)
            self.versions[record_id] += 1

    def _apply(self, op: Operation) -> None:
        with self.lock:
            self.records[op.record_id].update(op.new_values)
            self.versions[op.record_id] += 1
            self.applied[op.record_id] = self.applied.get(op.record_id, 0) + 1

    def read(self, ops: list[Operation]) -> dict[tuple[str, str], CurrentRecord]:
        with self.lock:
            return {
                op.key: CurrentRecord(dict(self.records[op.record_id]), self.versions[op.record_id])
                for op in ops
                if op.record_id in self.records
            }

    def write(
        self, ops: list[Operation], current: dict[tuple[str, str], CurrentRecord]
    ) -> dict[int, WriteOutcome]:
        outcomes = {}
        for op in ops:
            self.writes_sent += 1
            fault = self.rng.choice(["lost", "error", "slow"]) if self.rng.random() < self.faults else None
            if fault == "error":  # a 5xx before anything was written
                outcomes[op.op_id or 0] = WriteOutcome("ambiguous", "HTTP 500", rotate_key=True)
            elif fault == "lost":  # written, but the answer never arrived
                self._apply(op)
                outcomes[op.op_id or 0] = WriteOutcome("ambiguous", "connection dropped")
            elif fault == "slow":  # the client gave up; the server writes a little later
                timer = threading.Timer(0.05, self._apply, args=(op,))
                timer.start()
                self.late_writes.append(timer)
                outcomes[op.op_id or 0] = WriteOutcome("ambiguous", "timeout", timed_out=True)
            else:
                self._apply(op)
                outcomes[op.op_id or 0] = WriteOutcome("applied")
        return outcomes

    def requests_sent(self) -> int:
        return self.writes_sent

    def close(self) -> None:
        for timer in self.late_writes:
            timer.join()


@pytest.fixture()
def ledger_conn(warehouse: database.Database) -> Iterator[psycopg2.extensions.connection]:
    with database.connect(warehouse, role="cs_sync", autocommit=True) as conn:
        ledger.ensure_schema(conn)
        yield conn


@pytest.fixture()
def changes_schema(warehouse: database.Database) -> Iterator[str]:
    """A schema of hand-made ``<target>_changes`` tables readable by cs_sync, dropped afterwards."""
    schema = f"sync_test_{secrets.token_hex(4)}"
    with database.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"create schema {schema}")
        cur.execute(f"grant usage on schema {schema} to cs_sync")
        cur.execute(f"alter default privileges in schema {schema} grant select on tables to cs_sync")
    yield schema
    with database.connect(warehouse, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"drop schema {schema} cascade")


def write_changes(warehouse: database.Database, schema: str, target: str, rows: list[tuple]) -> None:
    """(record, field, old, new, landed version ms) rows as the reverse-ETL models shape them."""
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(
            f"create table if not exists {schema}.{target}_changes (object_type text, "
            "source_record_id text, customer_id text, native_field text, old_value text, new_value text, "
            "landed_updated_at timestamptz, landed_load_id text)"
        )
        cur.execute(f"truncate {schema}.{target}_changes")
        for record_id, name, old, new, version in rows:
            cur.execute(
                f"insert into {schema}.{target}_changes values "
                "('obj', %s, %s, %s, %s, %s, to_timestamp(%s / 1000.0), 'load1')",
                (record_id, f"G{int(record_id):010d}", name, old, new, version),
            )


def make_target(n: int, **kwargs) -> FakeTarget:  # type: ignore[no-untyped-def]
    return FakeTarget({str(i): {"name": f"old {i}", "phone": None} for i in range(n)}, **kwargs)


def wanted_rows(n: int) -> list[tuple]:
    return [(str(i), "name", f"old {i}", f"new {i}", 1000) for i in range(n)]


def statuses(conn: psycopg2.extensions.connection, run_id: str, target: str) -> dict[str, int]:
    return ledger.run_counts(conn, run_id).get(target, {})


def plan_and_execute(conn, schema, target, fake, max_attempts=5) -> tuple[str, TargetStats]:  # type: ignore[no-untyped-def]
    run_id = new_run_id("test")
    ledger.start_run(conn, run_id, [target])
    plan = planner.plan_target(conn, run_id, target, max_attempts, schema=schema)
    stats = TargetStats(planned=len(plan.operations))
    engine.execute(conn, fake, plan.operations, stats, settle_seconds=0.2)
    fake.close()
    return run_id, stats


def test_decide_rules() -> None:
    op = Operation("t", "obj", "1", "G1", {"name": "new"}, {"name": "old"}, landed_updated_ms=1000)
    assert engine.decide(op, None)[0] == "skipped"
    assert engine.decide(op, CurrentRecord({"name": "new"}, 1000))[0] == "skipped"
    op.attempts = 1
    assert engine.decide(op, CurrentRecord({"name": "new"}, 2000)) == ("applied", "")
    assert engine.decide(op, CurrentRecord({"name": "old"}, 2000))[0] == "deferred"
    assert engine.decide(op, CurrentRecord({"name": "old"}, 1000)) is None
    # no version clock (Stripe): compare the landed values instead
    op.landed_updated_ms = None
    assert engine.decide(op, CurrentRecord({"name": "edited"}, None))[0] == "deferred"
    assert engine.decide(op, CurrentRecord({"name": "old"}, None)) is None
    assert engine.decide(op, CurrentRecord({"name": "old"}, None, exists=False))[0] == "skipped"


def test_faulty_target_ends_current_with_every_record_written_once(
    warehouse: database.Database, ledger_conn, changes_schema: str
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    write_changes(warehouse, changes_schema, target, wanted_rows(120))
    fake = make_target(120, faults=0.35, seed=3)
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake)
    assert stats.planned == 120
    assert statuses(ledger_conn, run_id, target) == {"applied": 120}
    assert all(fake.records[str(i)]["name"] == f"new {i}" for i in range(120))
    assert set(fake.applied.values()) == {1}, "a record was written twice"
    assert fake.writes_sent > 120, "the faults should have forced retries"


def test_edit_after_landing_is_deferred_and_kept(
    warehouse: database.Database, ledger_conn, changes_schema: str
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    write_changes(warehouse, changes_schema, target, wanted_rows(5))
    fake = make_target(5)
    fake.edit("2", name="typed by a person")
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake)
    assert statuses(ledger_conn, run_id, target) == {"applied": 4, "deferred": 1}
    assert fake.records["2"]["name"] == "typed by a person"
    assert "2" not in fake.applied


def test_killed_run_resumes_without_writing_twice(
    warehouse: database.Database, ledger_conn, changes_schema: str
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    write_changes(warehouse, changes_schema, target, wanted_rows(10))
    fake = make_target(10)
    first = new_run_id("test")
    ledger.start_run(ledger_conn, first, [target])
    plan = planner.plan_target(ledger_conn, first, target, 5, schema=changes_schema)
    # the first run sent writes for 6 records (4 landed, 2 lost before the server) and was killed
    ledger.mark_attempt(ledger_conn, plan.operations[:6])
    for op in plan.operations[:4]:
        fake._apply(op)
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake)
    assert stats.planned == 10
    assert statuses(ledger_conn, run_id, target) == {"applied": 10}
    assert set(fake.applied.values()) == {1}
    # the 4 that had landed were recognised on re-read, not written again
    assert fake.writes_sent == 6
    with ledger_conn.cursor() as cur:
        cur.execute(
            "select count(distinct idempotency_key), count(*) from ops.sync_operations where target = %s",
            (target,),
        )
        keys, ops = cur.fetchone()
    assert keys == ops == 10, "resumed operations keep their own idempotency keys"


def test_failures_are_retried_then_parked(
    warehouse: database.Database, ledger_conn, changes_schema: str
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    write_changes(warehouse, changes_schema, target, wanted_rows(3))

    class Rejecting(FakeTarget):
        def write(self, ops, current):  # type: ignore[no-untyped-def]
            self.writes_sent += len(ops)
            return {op.op_id or 0: WriteOutcome("failed", "422 invalid phone") for op in ops}

    for _ in range(2):
        fake = Rejecting({str(i): {"name": f"old {i}"} for i in range(3)})
        run_id, _ = plan_and_execute(ledger_conn, changes_schema, target, fake, max_attempts=2)
        assert statuses(ledger_conn, run_id, target) == {"failed": 3}
    fake = Rejecting({str(i): {"name": f"old {i}"} for i in range(3)})
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake, max_attempts=2)
    assert stats.planned == 0 and fake.writes_sent == 0
    assert statuses(ledger_conn, run_id, target) == {"parked": 3}
    # parked work is not planned again while the wanted values stay the same
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake, max_attempts=2)
    assert stats.planned == 0


def test_applied_write_is_not_planned_again_from_the_same_landing(
    warehouse: database.Database, ledger_conn, changes_schema: str
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    write_changes(warehouse, changes_schema, target, wanted_rows(4))
    fake = make_target(4)
    plan_and_execute(ledger_conn, changes_schema, target, fake)
    # a second sync before the next extract: the plan is the same, the records were written from it
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake)
    assert stats.planned == 0 and fake.writes_sent == 4
    # a new landing of the records (new load id) is planned again, and found current on re-read
    with database.connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"update {changes_schema}.{target}_changes set landed_load_id = 'load2'")
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake)
    assert stats.planned == 4 and statuses(ledger_conn, run_id, target) == {"skipped": 4}
    assert fake.writes_sent == 4


def test_changed_plan_supersedes_open_operation(
    warehouse: database.Database, ledger_conn, changes_schema: str
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    write_changes(warehouse, changes_schema, target, wanted_rows(2))
    first = new_run_id("test")
    ledger.start_run(ledger_conn, first, [target])
    planner.plan_target(ledger_conn, first, target, 5, schema=changes_schema)  # killed before writing
    write_changes(warehouse, changes_schema, target, [("0", "name", "old 0", "newer 0", 1000)])
    fake = make_target(2)
    run_id, stats = plan_and_execute(ledger_conn, changes_schema, target, fake)
    assert stats.planned == 1 and fake.records["0"]["name"] == "newer 0"
    with ledger_conn.cursor() as cur:
        cur.execute("select status, count(*) from ops.sync_operations where run_id = %s group by 1", (first,))
        assert dict(cur.fetchall()) == {"skipped": 2}


def test_second_sync_of_a_target_is_refused(warehouse: database.Database) -> None:
    target = f"fake{secrets.token_hex(3)}"
    with target_lock(warehouse, target):
        with pytest.raises(TargetBusy, match="another sync"), target_lock(warehouse, target):
            pass
        with target_lock(warehouse, target + "other"):
            pass  # other targets are not blocked
    with target_lock(warehouse, target):
        pass  # released when the holder finished


def test_pacer_follows_rate_limit_headers() -> None:
    pacer = Pacer(rate=1.0)
    pacer.observe(
        {"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
         "X-HubSpot-RateLimit-Remaining": "50"}
    )  # fmt: skip
    assert pacer.rate == pytest.approx(9.5)
    pacer.observe({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "0", "ratelimit-reset": "0.3"})
    assert pacer.rate == pytest.approx(0.95 * 700 / 60)
    started = time.monotonic()
    pacer.acquire()
    assert time.monotonic() - started >= 0.25, "an exhausted window pauses until it resets"
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({}) is None


def test_timestamps_and_durations() -> None:
    assert time_ms("2024-01-02T03:04:05.678Z") == 1704164645678
    assert time_ms("2024-01-02 03:04:05") == 1704164645000
    assert time_ms("1704164645678") == 1704164645678
    assert time_ms(None) is None and time_ms(False) is None
    assert parse_duration("15m") == 900 and parse_duration("90") == 90 and parse_duration("1h") == 3600
    with pytest.raises(UserError):
        parse_duration("soon")
