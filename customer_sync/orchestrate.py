"""One full cycle — extract, build (with snapshots), sync — recorded in ``ops.cycle_runs``.

The steps run in order and a failed step stops the cycle: syncing from a half-built golden record
would push stale values. Each cycle is one ledger row with every step's result and the step that
failed, so cron (or ``customer-sync run --every``) and a person can both see what happened.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.errors import CustomerSyncError, RunFailure
from customer_sync.sync import ledger
from customer_sync.sync.runner import new_run_id, run_sync

log = logging.getLogger(__name__)

STEPS = ("extract", "build", "sync")


class StepFailed(RunFailure):
    """A step that ran, failed, and still has a result worth recording."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class CycleResult:
    """The steps of one cycle, their results and the step that failed (if any)."""

    cycle_id: str
    status: str = "running"
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_step: str | None = None
    error: str | None = None
    exit_code: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "cycle_id": self.cycle_id,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "extract": self.steps.get("extract"),
            "build": self.steps.get("build"),
            "sync": (self.steps.get("sync") or {}).get("sync"),
            "sync_run": {k: v for k, v in (self.steps.get("sync") or {}).items() if k != "sync"} or None,
        }
        if self.failed_step:
            result["failed_step"] = self.failed_step
            result["error"] = self.error
        return result


def run_cycle(
    settings: Settings,
    db: database.Database,
    progress: bool = True,
    say: Callable[[str], None] = lambda _msg: None,
    full_refresh: bool = False,
) -> CycleResult:
    """Run extract -> build -> sync once; never raises for a failed step (see ``exit_code``).

    ``full_refresh`` re-lands every source from scratch (the systems' data was replaced).
    """
    cycle = CycleResult(cycle_id=new_run_id("cycle"))
    started = time.monotonic()
    with database.connect(db, role="cs_sync") as conn:
        ledger.ensure_schema(conn)
        ledger.start_cycle(conn, cycle.cycle_id)
    for step in STEPS:
        say(f"{step}...")
        step_started = time.monotonic()
        try:
            cycle.steps[step] = _run_step(step, settings, db, progress, cycle.cycle_id, full_refresh)
        except CustomerSyncError as exc:
            if isinstance(exc, StepFailed):
                cycle.steps[step] = exc.result
            cycle.failed_step, cycle.error, cycle.exit_code = step, str(exc), exc.exit_code
        except Exception as exc:  # a bug in a step: recorded like a failure, traceback in the log
            log.exception("step %s of %s failed", step, cycle.cycle_id)
            cycle.failed_step, cycle.error, cycle.exit_code = step, f"{exc.__class__.__name__}: {exc}", 1
        if cycle.failed_step:
            say(f"{step} failed: {cycle.error}")
            break
        say(f"{step} done in {time.monotonic() - step_started:.1f}s")
    cycle.status = "failed" if cycle.failed_step else "succeeded"
    cycle.seconds = time.monotonic() - started
    with database.connect(db, role="cs_sync") as conn:
        ledger.finish_cycle(conn, cycle.cycle_id, cycle.status, cycle.steps, cycle.failed_step, cycle.error)
    return cycle


def _run_step(
    step: str, settings: Settings, db: database.Database, progress: bool, cycle_id: str, full_refresh: bool
) -> dict[str, Any]:
    if step == "extract":
        from customer_sync.extract import run_extract

        return run_extract(settings, db, full_refresh=full_refresh, progress=progress).as_dict()
    if step == "build":
        # dbt seed + build (models, data tests, the reverse-ETL plans) + snapshot
        from customer_sync.build import run_scheduled_build

        return run_scheduled_build(settings, db, progress=progress).as_dict()
    result = run_sync(settings, db, progress=progress, cycle_id=cycle_id)
    summary = result.as_dict()
    if result.status in ("refused", "failed"):
        problems = {**result.errors, **result.refused}
        raise StepFailed("sync: " + "; ".join(f"{t}: {e}" for t, e in problems.items()), summary)
    return summary
