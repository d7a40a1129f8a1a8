"""Operations per second per target, against what each API's documented rate limit allows.

The ceiling of a target is its request rate limit times the operations one request can carry, with
the re-read that precedes every write counted: HubSpot batch/read + batch/update carry 100 operations
in 2 requests; Zendesk show_many + update_many + at least one job poll carry 100 in 3; Stripe has no
batch endpoint, so one GET + one POST carry 1. The ERP is SQL with no documented limit (no ceiling).
"""

from __future__ import annotations

from typing import Any

from customer_sync import db as database
from customer_sync.config import Settings
from customer_sync.sync.runner import run_sync

# documented request rates (APIS.md) and operations per request at best, re-read included
CEILINGS: dict[str, tuple[float, float]] = {
    "crm": (100 / 10, 100 / 2),
    "billing": (25.0, 1 / 2),
    "support": (700 / 60, 100 / 3),
}


def run_benchmark(
    settings: Settings, db: database.Database, targets: list[str] | None = None, progress: bool = False
) -> dict[str, Any]:
    """Run one sync and report, per target, operations/s, requests/s and the share of the ceiling.

    Run it when there is work to do (e.g. after the first build, when every record still lacks its
    golden id); with nothing planned the rates are zero.
    """
    result = run_sync(settings, db, targets=targets, progress=progress)
    report: dict[str, Any] = {"run_id": result.run_id, "status": result.status, "targets": {}}
    for target, stats in result.targets.items():
        done = stats.applied + stats.skipped + stats.deferred + stats.failed
        seconds = max(stats.seconds, 1e-9)
        row: dict[str, Any] = {
            "operations": done,
            "applied": stats.applied,
            "seconds": round(stats.seconds, 3),
            "ops_per_second": round(done / seconds, 2),
            "requests": stats.requests,
            "requests_per_second": round(stats.requests / seconds, 2),
        }
        if target in CEILINGS:
            rate, ops_per_request = CEILINGS[target]
            ceiling = rate * ops_per_request
            row["limit_requests_per_second"] = round(rate, 2)
            row["limit_ops_per_second"] = round(ceiling, 2)
            row["share_of_limit"] = round(done / seconds / ceiling, 3) if done else None
        report["targets"][target] = row
    return report
