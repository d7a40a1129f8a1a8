"""The sync's guarantees on a fake target: re-read before write, no double writes, deferral, resume,
retries then parking, the per-target lock, pacing from headers.

The fake target is in memory and misbehaves on purpose (answers lost after the write, 5xx before it,
timeouts whose write lands later, writes it rejects), so each guarantee is checked without the
network. The ledger is the real one, in the session's warehouse; each test uses its own target name so
tests never see each other's operations.
"""

from __future__ import annotations

import gc
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
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
    # records whose writes the system refuses (a 422)
    rejected: set[str] = field(default_factory=set)
    # called with each batch re-read
    on_read: Callable[[list[Operation]], None] | None = None

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
        if self.on_read:
            self.on_read(ops)
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
            if op.record_id in self.rejected:
                outcomes[op.op_id or 0] = WriteOutcome("failed", "422 invalid phone")
            elif fault == "error":  # a 5xx before anything was written
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
    plan, stats = sync_in_chunks(conn, schema, target, fake, max_attempts)
    return plan.run_id, stats


def sync_in_chunks(
    conn: psycopg2.extensions.connection,
    schema: str,
    target: str,
    fake: FakeTarget,
    max_attempts: int = 5,
    chunk: int | None = None,
) -> tuple[planner.Plan, TargetStats]:
    """One run as the runner makes it: plan ``chunk`` records at a time, execute from the ledger."""
    run_id = new_run_id("test")
    ledger.start_run(conn, run_id, [target])
    plan = planner.plan_target(conn, run_id, target, max_attempts, schema=schema, chunk=chunk)
    stats = TargetStats(planned=plan.planned)
    operations = planner.operations(conn, plan)
    engine.execute(conn, fake, operations, stats, settle_seconds=0.2, settle_after=plan.chunk_records)
    fake.close()
    return plan, stats


def killed_after_sending(conn, schema, target, fake, sent, landed, chunk=None) -> str:  # type: ignore[no-untyped-def]
    """A run that planned, sent the writes of its first ``sent`` operations, of which the first ``landed``
    reached the target, and was killed."""
    run_id = new_run_id("test")
    ledger.start_run(conn, run_id, [target])
    plan = planner.plan_target(conn, run_id, target, 5, schema=schema, chunk=chunk)
    ops = list(planner.operations(conn, plan))
    ledger.mark_attempt(conn, ops[:sent])
    for op in ops[:landed]:
        fake._apply(op)
    return run_id


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
    # the first run sent writes for 6 records (4 landed, 2 lost before the server) and was killed
    killed_after_sending(ledger_conn, changes_schema, target, fake, sent=6, landed=4)
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


def live_operations(target: str) -> int:
    """The operations of ``target`` alive in this process: what its sync holds in memory at the moment."""
    return sum(1 for o in gc.get_objects() if isinstance(o, Operation) and o.target == target)


def chunked_scenario(
    warehouse: database.Database,
    conn: psycopg2.extensions.connection,
    schema: str,
    chunk: int,
    held: dict[str, int],
) -> tuple[str, list[tuple], list[tuple], FakeTarget]:
    """Every rule of a plan over 20 records, planned ``chunk`` records at a time: a killed run's
    operations taken over, one superseded, one no longer wanted, writes deferred, failed, then parked,
    and writes already applied. Returns each run's plan and counts, the ledger's rows (run ids as the
    runs' order, idempotency keys as their generation when they are the operation's own) and the
    target, with its name. ``held`` gets the most operations of the target alive at once, at each re-read."""
    target = f"fake{secrets.token_hex(3)}"
    rows = wanted_rows(20) + [(str(i), "phone", None, f"+61400000{i:03d}", 1000) for i in range(0, 20, 2)]
    write_changes(warehouse, schema, target, rows)
    fake = make_target(20, batch_size=4, rejected={"7", "8"})
    fake.on_read = lambda _ops: held.update({target: max(held.get(target, 0), live_operations(target))})
    fake.edit("5", name="typed by a person")
    # records in text order: the killed run sent 0, 1, 10, 11, 12, 13, of which 0, 1, 10, 11 landed
    runs = [killed_after_sending(conn, schema, target, fake, sent=6, landed=4, chunk=chunk)]
    # then the warehouse wants another name for record 3, and nothing any more for record 19
    rows = [("3", "name", "old 3", "newer 3", 1000) if row[:2] == ("3", "name") else row for row in rows]
    write_changes(warehouse, schema, target, [row for row in rows if row[0] != "19"])
    results = []
    for _ in range(3):
        plan, stats = sync_in_chunks(conn, schema, target, fake, max_attempts=2, chunk=chunk)
        runs.append(plan.run_id)
        counts = {k: v for k, v in vars(plan).items() if k not in ("run_id", "target", "chunk_records")}
        results.append((counts, {k: v for k, v in stats.as_dict().items() if k != "seconds"}))
    with conn.cursor() as cur:
        cur.execute(
            "select op_id, first_run_id, run_id, record_id, new_values, status, error, attempts, "
            "idempotency_key from ops.sync_operations where target = %s order by op_id",
            (target,),
        )
        ledger_rows = [
            (runs.index(first), runs.index(run), *rest, key.replace(f"customer-sync-{target}-op{op_id}-", ""))
            for op_id, first, run, *rest, key in cur.fetchall()
        ]
    return target, results, ledger_rows, fake


def test_planning_in_chunks_holds_a_chunk_and_ends_as_one_chunk(
    warehouse: database.Database,
    ledger_conn: psycopg2.extensions.connection,
    changes_schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held: dict[str, int] = {}
    insert = ledger.insert_operations

    def probed_insert(conn, run_id, ops):  # type: ignore[no-untyped-def]
        for target in {op.target for op in ops}:
            held[target] = max(held.get(target, 0), live_operations(target))
        insert(conn, run_id, ops)

    monkeypatch.setattr(ledger, "insert_operations", probed_insert)
    chunked = chunked_scenario(warehouse, ledger_conn, changes_schema, 3, held)
    whole = chunked_scenario(warehouse, ledger_conn, changes_schema, 1000, held)

    target, (second, third, fourth), ledger_rows, fake = chunked
    assert second[0] | {"by_field": None} == {
        "planned": 19, "adopted": 18, "new": 1, "superseded": 1, "dropped": 1,
        "held_parked": 0, "already_applied": 0, "by_field": None,
    }  # fmt: skip
    assert second[1] | {"requests": 0} == {
        "planned": 19, "applied": 16, "skipped": 0, "deferred": 1, "failed": 2, "parked": 0, "requests": 0,
    }  # fmt: skip
    assert (third[0]["adopted"], third[0]["new"], third[0]["already_applied"]) == (2, 1, 16)
    assert (third[1]["failed"], third[1]["deferred"]) == (2, 1)
    assert (fourth[0]["planned"], fourth[0]["held_parked"], fourth[0]["already_applied"]) == (1, 2, 16)
    assert [(row[1], row[2]) for row in ledger_rows if row[4] == "parked"] == [(3, "7"), (3, "8")]
    # the killed run's operations went on with their own keys; 3 and 5 were planned again
    assert len(ledger_rows) == 20 + 1 + 1 + 1
    assert [row[-1] for row in ledger_rows] == ["g0"] * len(ledger_rows)
    assert fake.records["3"]["name"] == "newer 3" and fake.records["19"]["name"] == "old 19"
    assert fake.records["5"]["name"] == "typed by a person" and fake.records["7"]["name"] == "old 7"
    assert set(fake.applied.values()) == {1} and len(fake.applied) == 20 - 4  # not 5, 7, 8 nor 19

    assert chunked[1] == whole[1], "runs planned in chunks of 3 count what one chunk counts"
    assert chunked[2] == whole[2], "the ledger ends the same"
    one_chunk = whole[3]
    assert (fake.records, fake.applied, fake.writes_sent) == (
        one_chunk.records,
        one_chunk.applied,
        one_chunk.writes_sent,
    )
    # at most a chunk's records as wanted plus their open operations of earlier runs, or a batch
    assert held[target] <= 2 * 3, held
    assert held[whole[0]] >= 19, f"one chunk holds every record at once: the probe must see it ({held})"


def test_dry_run_in_chunks_leaves_out_parked_and_applied_records(
    warehouse: database.Database, ledger_conn, changes_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = f"fake{secrets.token_hex(3)}"
    rows = wanted_rows(8) + [(str(i), "phone", None, f"+61400000{i:03d}", 1000) for i in range(0, 8, 2)]
    write_changes(warehouse, changes_schema, target, rows)
    fake = make_target(8, rejected={"1"})
    for _ in range(2):  # record 1 fails, then is parked; the others are applied
        plan_and_execute(ledger_conn, changes_schema, target, fake, max_attempts=1)
    # the warehouse now wants other names for records 6 and 7
    rows = [
        (r, n, old, f"newer {r}" if r in ("6", "7") and n == "name" else new, v) for r, n, old, new, v in rows
    ]
    write_changes(warehouse, changes_schema, target, rows)

    monkeypatch.setenv("CUSTOMER_SYNC_SYNC_CHUNK_RECORDS", "2")
    preview = planner.preview(ledger_conn, target, sample=1, schema=changes_schema)
    monkeypatch.delenv("CUSTOMER_SYNC_SYNC_CHUNK_RECORDS")
    assert preview == planner.preview(ledger_conn, target, sample=1, schema=changes_schema)
    assert preview == {
        "planned": 2,
        "by_object": {"obj": 2},
        "by_field": {"name": 2, "phone": 1},
        "sample": [
            {
                "object_type": "obj",
                "record_id": "6",
                "customer_id": "G0000000006",
                "changes": {
                    "name": {"old": "old 6", "new": "newer 6"},
                    "phone": {"old": None, "new": "+61400000006"},
                },
            }
        ],
    }


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
