"""One sync run: plan every target from the reverse-ETL models, then write each under its lock.

Targets run side by side (one thread each, each with its own connections and lock); within a target,
the plan is made a chunk of records at a time into the ledger, and the operations, read back from it,
go batch by batch through the engine. The run and every operation are in the ledger.
"""

from __future__ import annotations

import logging
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.errors import UserError
from customer_sync.sync import engine, ledger, planner
from customer_sync.sync.locks import TargetBusy, target_lock
from customer_sync.sync.model import TARGETS, TargetStats
from customer_sync.sync.targets import make_client

log = logging.getLogger(__name__)

# a failed operation is parked for a person after this many attempts in all (each send, and each re-read
# that could not reach the target, counts as one; one run may make several)
MAX_ATTEMPTS = 5


@dataclass
class SyncResult:
    """What a sync run did, per target."""

    run_id: str | None
    dry_run: bool
    status: str
    targets: dict[str, TargetStats] = field(default_factory=dict)
    previews: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def refused(self) -> dict[str, str]:
        return {name: stats.refused for name, stats in self.targets.items() if stats.refused}

    def as_dict(self) -> dict[str, Any]:
        if self.dry_run:
            sync = {
                name: {"planned": p["planned"], "applied": 0, "skipped": 0, "failed": 0}
                for name, p in self.previews.items()
            }
        else:
            sync = {name: stats.as_dict() for name, stats in self.targets.items()}
        result: dict[str, Any] = {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "sync": sync,
        }
        if self.dry_run:
            result["plan"] = self.previews
        if self.errors:
            result["errors"] = self.errors
        return result


def resolve_targets(targets: list[str] | tuple[str, ...] | None) -> list[str]:
    chosen = list(dict.fromkeys(targets or TARGETS))
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown:
        raise UserError(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    return chosen


def new_run_id(prefix: str = "sync") -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def run_sync(
    settings: Settings,
    db: database.Database,
    targets: list[str] | tuple[str, ...] | None = None,
    dry_run: bool = False,
    progress: bool = True,
    cycle_id: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    settle_seconds: float | None = None,
) -> SyncResult:
    """Plan and (unless ``dry_run``) apply the reverse-ETL changes of ``targets`` (default: all)."""
    chosen = resolve_targets(targets)
    started = time.monotonic()
    with database.connect(db, role="cs_sync") as conn:
        ledger.ensure_schema(conn)
        if dry_run:
            previews = {target: planner.preview(conn, target) for target in chosen}
            return SyncResult(None, True, "planned", previews=previews, seconds=time.monotonic() - started)
        close_abandoned_runs(conn)
        run_id = new_run_id()
        ledger.start_run(conn, run_id, chosen, cycle_id)
    result = SyncResult(run_id, False, "running", targets={t: TargetStats() for t in chosen})
    settle = engine.SETTLE_SECONDS if settle_seconds is None else settle_seconds
    config_errors: list[str] = []
    with ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="sync") as pool:
        futures = {
            target: pool.submit(
                _sync_target,
                settings,
                db,
                run_id,
                target,
                result.targets[target],
                max_attempts,
                settle,
                progress,
            )
            for target in chosen
        }
        for target, future in futures.items():
            try:
                future.result()
            except TargetBusy as exc:
                result.targets[target].refused = str(exc)
            except UserError as exc:  # bad configuration: the run is recorded, then the error is raised
                result.errors[target] = str(exc)
                config_errors.append(f"{target}: {exc}")
            except Exception as exc:  # one target failing must not hide what the others did
                log.exception("sync of %s failed", target)
                result.errors[target] = f"{exc.__class__.__name__}: {exc}"
    result.seconds = time.monotonic() - started
    result.status = _status(result)
    with database.connect(db, role="cs_sync") as conn:
        ledger.finish_run(
            conn,
            run_id,
            "refused" if result.status == "refused" else result.status,
            result.as_dict()["sync"],
            "; ".join(f"{t}: {e}" for t, e in {**result.errors, **result.refused}.items()) or None,
        )
    if config_errors:
        raise UserError("; ".join(config_errors))
    return result


def _status(result: SyncResult) -> str:
    if result.refused and len(result.refused) == len(result.targets):
        return "refused"
    if result.errors or result.refused:
        return "failed"
    if any(stats.failed or stats.parked for stats in result.targets.values()):
        return "partial"
    return "succeeded"


def _sync_target(
    settings: Settings,
    db: database.Database,
    run_id: str,
    target: str,
    stats: TargetStats,
    max_attempts: int,
    settle_seconds: float,
    progress: bool,
) -> None:
    started = time.monotonic()
    with target_lock(db, target), database.connect(db, role="cs_sync", autocommit=True) as conn:
        plan = planner.plan_target(conn, run_id, target, max_attempts)
        stats.planned = plan.planned
        stats.by_field = plan.by_field
        if plan.planned:
            client = make_client(settings, target)
            try:
                with _progress_bar(target, plan.planned, progress) as advance:
                    engine.execute(
                        conn,
                        client,
                        planner.operations(conn, plan),
                        stats,
                        settle_seconds,
                        advance,
                        settle_after=plan.chunk_records,
                    )
            finally:
                stats.requests = client.requests_sent()
                client.close()
        stats.parked = _parked_in_run(conn, run_id, target)
    stats.seconds = time.monotonic() - started


def _parked_in_run(conn: Any, run_id: str, target: str) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from ops.sync_operations "
            "where run_id = %s and target = %s and status = 'parked'",
            (run_id, target),
        )
        return int(cur.fetchone()[0])


class _progress_bar:  # noqa: N801 - used as a context manager like a function
    """A tqdm bar on stderr while a target syncs (or nothing when progress is off)."""

    def __init__(self, target: str, total: int, enabled: bool) -> None:
        self.target, self.total, self.enabled = target, total, enabled
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if self.enabled:
            from tqdm import tqdm

            # a live bar on a terminal; in a log (CI, cron) a line every 30 s instead of every redraw
            interval = 0.1 if sys.stderr.isatty() else 30.0
            self.bar = tqdm(
                total=self.total, desc=f"sync {self.target}", unit="op", leave=False, mininterval=interval
            )
            return self.bar.update
        return lambda _n: None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def close_abandoned_runs(conn: Any) -> int:
    """Runs still 'running' whose process is gone were killed: mark them failed (their ops resume)."""
    with conn.cursor() as cur:
        cur.execute("select run_id, pid from ops.sync_runs where status = 'running'")
        dead = [run_id for run_id, pid in cur.fetchall() if pid is None or not psutil.pid_exists(pid)]
        for run_id in dead:
            cur.execute(
                "update ops.sync_runs set status = 'failed', finished_at = now(), "
                "error = 'the run stopped before it finished (process gone); its operations resume' "
                "where run_id = %s",
                (run_id,),
            )
    conn.commit()
    return len(dead)
